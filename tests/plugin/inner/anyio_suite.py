"""Run inside an inner pytest session without pytest-asyncio (copied there as test_anyio.py)."""

import importlib

import pytest

import aioflowserv as afs


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_async_client_works_in_anyio_tests(
    flowserv_client: afs.AsyncFlowserv, flowserv_user: dict[str, str]
) -> None:
    assert (await flowserv_client.whoami()).username == flowserv_user["username"]


def test_pytest_asyncio_is_not_importable_here() -> None:
    with pytest.raises(ImportError):
        importlib.import_module("pytest_asyncio")
