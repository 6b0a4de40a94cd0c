"""Fixtures of the unit tests: a mocked flowServ API (respx) and clients talking to it.

Nothing here starts a server: every request goes to respx, and a request that
no route expects fails the test (``assert_all_mocked``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
import respx

import aioflowserv as afs

from ._support import BASE, SLEEPER_PARAMETERS, TOKEN, TYPES_PARAMETERS, load_workflow

NO_WAIT = afs.RetryPolicy(initial_wait=0, max_wait=0, jitter=0)
"""Retries as the client does them by default, but without sleeping between tries."""


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """The mocked API: routes are relative to :data:`BASE`; unrouted requests fail."""
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


@pytest.fixture
def transport(api: respx.MockRouter) -> httpx.MockTransport:
    """A transport into the mocked API, for clients made by a test.

    Passing it (rather than relying on respx's patching alone) also spares
    each client the cost of building a TLS context.
    """
    return httpx.MockTransport(api.async_handler)


@pytest_asyncio.fixture
async def fs(transport: httpx.MockTransport) -> AsyncIterator[afs.AsyncFlowserv]:
    """A client with a token, talking to the mocked API, retrying without waits."""
    async with afs.AsyncFlowserv(
        BASE, token=TOKEN, retries=NO_WAIT, transport=transport
    ) as client:
        yield client


@pytest_asyncio.fixture
async def anonymous(transport: httpx.MockTransport) -> AsyncIterator[afs.AsyncFlowserv]:
    """A client without a token, talking to the mocked API."""
    async with afs.AsyncFlowserv(BASE, retries=NO_WAIT, transport=transport) as client:
        yield client


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No flowServ variables in the environment (the developer's own must not leak in)."""
    for name in (
        "FLOWSERV_URL", "FLOWSERV_ACCESS_TOKEN", "FLOWSERV_API_PROTOCOL",
        "FLOWSERV_API_HOST", "FLOWSERV_API_PORT", "FLOWSERV_API_PATH",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest_asyncio.fixture
async def sleeper(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> afs.AsyncWorkflow:
    """The sleeper workflow (group ``g1``) on the mocked API; loading calls are cleared."""
    return await load_workflow(api, fs, "sleeper", SLEEPER_PARAMETERS)


@pytest_asyncio.fixture
async def types_workflow(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> afs.AsyncWorkflow:
    """The types workflow (list and record parameters, group ``g1``) on the mocked API."""
    return await load_workflow(api, fs, "types", TYPES_PARAMETERS)
