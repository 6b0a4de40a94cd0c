"""AsyncFlowserv (``_client``): its lifecycle. Once closed it refuses to work, and its waits end."""

from __future__ import annotations

import anyio
import httpx
import pytest
import respx

import aioflowserv as afs
from tests.support.documents import BASE, TOKEN, run_doc


@pytest.mark.asyncio
async def test_closed_client_refuses_to_send(
    api: respx.MockRouter, transport: httpx.MockTransport
) -> None:
    route = api.get("/runs/r1").respond(200, json=run_doc())
    client = afs.AsyncFlowserv(BASE, token=TOKEN, transport=transport)
    await client.aclose()
    assert client.is_closed
    assert "closed" in repr(client)
    with pytest.raises(afs.ClientClosedError):
        await client.get_run("r1")
    assert route.call_count == 0


@pytest.mark.asyncio
async def test_context_manager_closes_the_client(
    api: respx.MockRouter, transport: httpx.MockTransport
) -> None:
    route = api.get("/workflows").respond(200, json={"workflows": []})
    async with afs.AsyncFlowserv(BASE, transport=transport) as client:
        await client.list_workflows()
    with pytest.raises(afs.ClientClosedError):
        await client.list_workflows()
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_closing_twice_is_harmless(transport: httpx.MockTransport) -> None:
    client = afs.AsyncFlowserv(BASE, transport=transport)
    await client.aclose()
    await client.aclose()
    assert client.is_closed


@pytest.mark.asyncio
async def test_closed_client_refuses_before_checking_the_token(
    transport: httpx.MockTransport,
) -> None:
    client = afs.AsyncFlowserv(BASE, transport=transport)
    await client.aclose()
    with pytest.raises(afs.ClientClosedError):
        await client.workflow("sleeper", "g1")


@pytest.mark.asyncio
async def test_closing_the_client_ends_waits_at_once_with_client_closed(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/groups/g1/runs").mock(
        return_value=httpx.Response(
            200, json={"runs": [{"id": "r1", "state": "RUNNING", "createdAt": None}]}
        )
    )
    running = afs.Run.from_json(run_doc("r1", state="RUNNING"))
    outcome: list[BaseException] = []

    async def wait() -> None:
        try:
            await fs.wait(running, poll_interval=3600)
        except afs.FlowservError as exc:
            outcome.append(exc)

    with anyio.fail_after(10):  # the poll interval is an hour: only the close can end it
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await anyio.sleep(0.05)
            await fs.aclose()
    assert len(outcome) == 1
    assert isinstance(outcome[0], afs.ClientClosedError)
    assert fs._session.watcher.idle
