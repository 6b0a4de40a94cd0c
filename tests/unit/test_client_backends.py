"""AsyncFlowserv under asyncio and trio (on real clocks): the same client paths work on both.

These cover the code that uses task groups, cancel scopes, threads and sleeps:
loading a workflow, uploading and starting a run, retrying with waits,
resolving an unanswered run start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timezone

import httpx
import pytest
import respx

import aioflowserv as afs
from tests.support.documents import BASE, TOKEN, group_doc, run_doc, workflow_doc
from tests.support.mocked import body, multipart_parts

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each test under asyncio and under trio."""
    backend: str = request.param
    return backend


@pytest.fixture
async def client(
    anyio_backend: str, transport: httpx.MockTransport
) -> AsyncIterator[afs.AsyncFlowserv]:
    """A client on the mocked API, made inside the backend's event loop."""
    policy = afs.RetryPolicy(attempts=3, initial_wait=0.001, max_wait=0.001, jitter=0.001)
    async with afs.AsyncFlowserv(BASE, token=TOKEN, retries=policy, transport=transport) as fs:
        yield fs


async def test_workflow_loads_and_starts_a_run_with_a_file(
    api: respx.MockRouter, client: afs.AsyncFlowserv
) -> None:
    api.get("/workflows/sleeper").respond(200, json=workflow_doc())
    api.get("/groups/g1").respond(200, json=group_doc())
    upload = api.post("/uploads/g1/files").respond(201, json={"id": "f1", "name": "names"})
    start = api.post("/groups/g1/runs").respond(201, json=run_doc())
    workflow = await client.workflow("sleeper", "g1")
    run = await workflow.start_run({"names": b"Alice\n", "sleep": 1})
    assert run.run_id == "r1"
    assert multipart_parts(upload.calls.last.request) == [("file", "names", b"Alice\n")]
    assert {"name": "sleep", "value": 1.0} in body(start.calls.last.request)["arguments"]


async def test_failing_workflow_load_raises_the_error_itself(
    api: respx.MockRouter, client: afs.AsyncFlowserv
) -> None:
    api.get("/workflows/sleeper").respond(200, json=workflow_doc())
    api.get("/groups/g1").respond(403, json={"message": "not authorized"})
    api.get("/users/whoami").respond(200, json={"id": "u1", "username": "alice"})
    with pytest.raises(afs.UnauthorizedError):
        await client.workflow("sleeper", "g1")


async def test_retries_wait_and_then_succeed(
    api: respx.MockRouter, client: afs.AsyncFlowserv
) -> None:
    route = api.get("/runs/r1").mock(
        side_effect=[httpx.ReadError("reset"), httpx.Response(503),
                     httpx.Response(200, json=run_doc())]
    )
    assert (await client.get_run("r1")).run_id == "r1"
    assert route.call_count == 3


async def test_unanswered_run_start_is_resolved(
    api: respx.MockRouter, client: afs.AsyncFlowserv
) -> None:
    arguments = [{"name": "sleep", "value": 1.0}]
    start = api.post("/groups/g1/runs").mock(side_effect=httpx.ReadTimeout("no answer"))
    api.get("/groups/g1/runs").respond(
        200, json={"runs": [{"id": "mine", "state": "RUNNING",
                             "createdAt": datetime.now(timezone.utc).isoformat()}]}
    )
    api.get("/runs/mine").respond(200, json=run_doc("mine", arguments=arguments))
    assert (await client.start_run("g1", arguments)).run_id == "mine"
    assert start.call_count == 1


async def test_batch_start_keeps_input_order(
    api: respx.MockRouter, client: afs.AsyncFlowserv
) -> None:
    api.get("/workflows/sleeper").respond(200, json=workflow_doc())
    api.get("/groups/g1").respond(200, json=group_doc())
    api.post("/groups/g1/runs").mock(
        side_effect=lambda request: httpx.Response(
            201, json=run_doc(f"r{int(body(request)['arguments'][0]['value'])}")
        )
    )
    workflow = await client.workflow("sleeper", "g1")
    runs = await workflow.start_runs([{"sleep": n} for n in range(6)], concurrency=3)
    assert [run.run_id for run in runs] == [f"r{n}" for n in range(6)]
