"""AsyncFlowserv (``_client``): its lifecycle. Once closed it refuses to work, and its waits end."""

from __future__ import annotations

import anyio
import httpx
import pytest
import respx

import aioflowserv as afs
from tests.support.documents import BASE, TOKEN, group_doc, run_doc
from tests.support.mocked import body


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
    assert fs.watching.idle


@pytest.fixture
def start(api: respx.MockRouter) -> respx.Route:
    """Group g1 of the sleeper workflow, and its run start route."""
    api.get("/groups/g1").respond(200, json=group_doc())
    return api.post("/groups/g1/runs").respond(201, json=run_doc())


@pytest.mark.asyncio
async def test_client_level_start_checks_a_mapping_against_the_groups_parameters(
    start: respx.Route, fs: afs.AsyncFlowserv
) -> None:
    with pytest.raises(afs.InvalidArgumentError, match="'sleep'"):
        await fs.start_run("g1", {"sleep": -1})
    with pytest.raises(afs.UnknownParameterError, match="'slep'"):
        await fs.start_run("g1", {"slep": 1})
    assert start.call_count == 0  # nothing was started


@pytest.mark.asyncio
async def test_client_level_start_of_a_mapping_sends_checked_wire_arguments(
    start: respx.Route, fs: afs.AsyncFlowserv
) -> None:
    run = await fs.start_run("g1", {"sleep": 1, "mode": "upper"})
    assert run.run_id == "r1"
    sent = {arg["name"]: arg["value"] for arg in body(start.calls[0].request)["arguments"]}
    assert sent["sleep"] == 1.0
    assert sent["mode"] == "upper"
    assert sent["greeting"] == "Hello"  # defaults are filled in, as by the workflow's start


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "arguments",
    [
        "sleep=1",
        [{"name": "sleep"}],
        [{"name": "sleep", "value": 1, "extra": 2}],
        [{"name": "sleep", "value": 1}, {"name": "sleep", "value": 2}],
        [("sleep", 1)],
    ],
)
async def test_client_level_start_refuses_malformed_wire_arguments(
    start: respx.Route, fs: afs.AsyncFlowserv, arguments: object
) -> None:
    with pytest.raises(afs.InvalidArgumentError):
        await fs.start_run("g1", arguments)  # type: ignore[arg-type]
    assert start.call_count == 0
