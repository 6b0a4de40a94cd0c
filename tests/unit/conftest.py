"""Fixtures of the unit tests: a mocked flowServ API (respx), the fake flowServ, clients of both.

Nothing here starts a server. On the mocked API every request goes to respx,
and a request that no route expects fails the test (``assert_all_mocked``).
The fake flowServ (:class:`aioflowserv.testing.FakeFlowserv`) serves the
watching tests: every anyio test here runs under asyncio and trio on a virtual
clock (``anyio_backend``), unless its module chooses other backends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import anyio
import anyio.lowlevel
import httpx
import pytest
import pytest_asyncio
import respx

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv
from tests.support.clock import virtual_clock_backends
from tests.support.documents import BASE, SLEEPER_PARAMETERS, TOKEN, TYPES_PARAMETERS
from tests.support.fake import client_for
from tests.support.mocked import load_workflow

NO_WAIT = afs.RetryPolicy(initial_wait=0, max_wait=0, jitter=0)
"""Retries as the client does them by default, but without sleeping between tries."""


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """The mocked API: routes are relative to :data:`BASE`; unrouted requests fail.

    ``whoami`` takes the token (a test may route it otherwise): the client checks
    its token once before the reads the server answers whatever the token.
    """
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as router:
        router.get("/users/whoami").respond(200, json={"id": "u1", "username": "alice"})
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


@pytest_asyncio.fixture
async def once(transport: httpx.MockTransport) -> AsyncIterator[afs.AsyncFlowserv]:
    """A client that never retries, so each failure is seen after exactly one request."""
    async with afs.AsyncFlowserv(BASE, token=TOKEN, retries=0, transport=transport) as client:
        yield client


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every ``anyio.sleep`` instead of sleeping; the list of delays asked for."""
    recorded: list[float] = []

    async def record(delay: float) -> None:
        recorded.append(delay)
        await anyio.lowlevel.checkpoint()

    monkeypatch.setattr(anyio, "sleep", record)
    return recorded


anyio_backend = virtual_clock_backends()


@pytest.fixture
def fake() -> FakeFlowserv:
    """A fresh fake flowServ on anyio's (virtual) clock."""
    return FakeFlowserv()


@pytest.fixture
async def sdk(fake: FakeFlowserv) -> AsyncIterator[afs.AsyncFlowserv]:
    """An AsyncFlowserv on ``fake``, without HTTP-level retries: the watcher sees every fault."""
    async with client_for(fake) as client:
        yield client


@pytest.fixture
async def workflow(fake: FakeFlowserv, sdk: afs.AsyncFlowserv) -> afs.AsyncWorkflow:
    """The sleeper workflow of a fresh group of ``fake``; the loading requests are not counted."""
    loaded = await sdk.workflow("sleeper", fake.add_group())
    fake.reset_counts()
    return loaded
