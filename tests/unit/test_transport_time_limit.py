"""The retry policy's overall time limit (``_transport``), measured on the event loop's clock.

The tries of one request are timed with anyio's clock, the clock their waits
sleep on, so these tests run on the suite's virtual clocks (asyncio and trio):
the mocked server takes exactly as long as a test says, in no real time.
"""

from __future__ import annotations

import anyio
import httpx
import pytest
import respx

import aioflowserv as afs
from tests.support.documents import BASE, TOKEN

pytestmark = pytest.mark.anyio

NO_WAIT = afs.RetryPolicy(initial_wait=0, max_wait=0, jitter=0)


async def test_retries_stop_at_the_policys_time_limit(
    api: respx.MockRouter, transport: httpx.MockTransport
) -> None:
    timeouts: list[float | None] = []

    async def hang(request: httpx.Request) -> httpx.Response:
        timeout = request.extensions["timeout"]["read"]
        timeouts.append(timeout)
        await anyio.sleep(timeout)  # the server never answers: each try takes its whole timeout
        raise httpx.ReadTimeout("no answer", request=request)

    route = api.get("/runs/r1").mock(side_effect=hang)
    policy = afs.RetryPolicy(attempts=4, initial_wait=0, jitter=0, timeout=45)
    async with afs.AsyncFlowserv(BASE, token=TOKEN, transport=transport, retries=policy,
                                 timeout=30) as fs:
        with pytest.raises(afs.APITimeoutError) as caught:
            await fs.get_run("r1")
    assert route.call_count == 2
    assert timeouts == [30, 15]  # the second try only gets what the limit leaves
    assert "2 attempts in 45.0 s" in str(caught.value)
    assert "the retry policy's time limit of 45 s was reached" in str(caught.value)
    assert (caught.value.attempts, caught.value.elapsed) == (2, 45.0)


async def test_a_retry_waits_within_the_time_limit_too(
    api: respx.MockRouter, transport: httpx.MockTransport
) -> None:
    api.get("/runs/r1").respond(503, json={"message": "busy"})
    policy = afs.RetryPolicy(attempts=10, initial_wait=4, max_wait=4, jitter=0, timeout=10)
    async with afs.AsyncFlowserv(BASE, token=TOKEN, transport=transport, retries=policy) as fs:
        started = anyio.current_time()
        with pytest.raises(afs.ServerError) as caught:
            await fs.get_run("r1")
    assert anyio.current_time() - started == 8.0  # a third wait would pass the limit
    assert (caught.value.attempts, caught.value.elapsed) == (3, 8.0)
    assert "the retry policy's time limit of 10 s was reached" in str(caught.value)


async def test_connection_errors_say_how_many_attempts_took_how_long(
    api: respx.MockRouter, transport: httpx.MockTransport
) -> None:
    api.get("/runs/r1").mock(side_effect=httpx.ConnectError("refused"))
    async with afs.AsyncFlowserv(BASE, token=TOKEN, transport=transport, retries=NO_WAIT) as fs:
        with pytest.raises(afs.APIConnectionError, match=r"\(4 attempts in 0\.0 s\)"):
            await fs.get_run("r1")
