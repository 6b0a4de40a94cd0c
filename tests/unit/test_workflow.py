"""AsyncWorkflow (``_workflow``): loading a workflow, and what each of its run methods sends."""

from __future__ import annotations

import httpx
import pytest
import respx

import aioflowserv as afs
from tests.support.documents import group_doc, run_doc, workflow_doc
from tests.support.mocked import body


@pytest.mark.asyncio
async def test_workflow_loads_workflow_and_group_once(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    wf_route = api.get("/workflows/sleeper").mock(
        return_value=httpx.Response(200, json=workflow_doc())
    )
    group_route = api.get("/groups/g1").mock(return_value=httpx.Response(200, json=group_doc()))
    workflow = await fs.workflow("sleeper", "g1")
    assert await workflow.name() == "Sleeper"
    assert await workflow.description() == "The sleeper workflow"
    assert await workflow.instructions() == "# Run it"
    assert list(await workflow.parameters()) == [
        "sleep", "greeting", "names", "exitcode", "mode", "shout"
    ]
    assert workflow.identifier == "sleeper"
    assert workflow.group_id == "g1"
    assert wf_route.call_count == 1
    assert group_route.call_count == 1


@pytest.mark.asyncio
async def test_failing_group_load_raises_the_error_itself(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/workflows/sleeper").respond(200, json=workflow_doc())
    api.get("/groups/nope").respond(404, json={"message": "unknown group 'nope'"})
    with pytest.raises(afs.NotFoundError) as caught:
        await fs.workflow("sleeper", "nope")
    assert caught.value.message == "unknown group 'nope'"


@pytest.mark.asyncio
async def test_failing_workflow_load_raises_the_error_itself(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/workflows/nope").respond(404, json={"message": "unknown workflow 'nope'"})
    api.get("/groups/g1").respond(200, json=group_doc())
    with pytest.raises(afs.NotFoundError) as caught:
        await fs.workflow("nope", "g1")
    assert caught.value.message == "unknown workflow 'nope'"


@pytest.mark.asyncio
async def test_poll_run_gets_the_run(api: respx.MockRouter, sleeper: afs.AsyncWorkflow) -> None:
    route = api.get("/runs/r1").respond(200, json=run_doc(state="ERROR", messages=["boom\n"]))
    run = await sleeper.poll_run("r1")
    assert route.call_count == 1
    assert run.is_error()
    assert run.messages() == ["boom\n"]


@pytest.mark.asyncio
async def test_cancel_run_forwards_the_reason(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    route = api.put("/runs/r1").respond(
        200, json=run_doc(state="CANCELED", messages=["enough"])
    )
    run = await sleeper.cancel_run("r1", reason="enough")
    assert body(route.calls.last.request) == {"reason": "enough"}
    assert run.messages() == ["enough"]


@pytest.mark.asyncio
async def test_cancel_run_without_reason_sends_an_empty_object(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    route = api.put("/runs/r1").respond(200, json=run_doc(state="CANCELED"))
    await sleeper.cancel_run("r1")
    assert body(route.calls.last.request) == {}


@pytest.mark.asyncio
async def test_delete_run_sends_delete(api: respx.MockRouter, sleeper: afs.AsyncWorkflow) -> None:
    route = api.delete("/runs/r1").respond(204)
    assert await sleeper.delete_run("r1") is None
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_get_file_with_an_id_downloads_that_file(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    route = api.get("/runs/r1/downloads/files/f1").respond(
        200, content=b"Hello Alice\n",
        headers={"Content-Disposition": 'attachment; filename="results/greetings.txt"'},
    )
    handle = await sleeper.get_file("r1", "f1")
    assert route.call_count == 1
    assert handle.name == "results/greetings.txt"
    assert await handle.read() == b"Hello Alice\n"


@pytest.mark.asyncio
async def test_get_file_without_an_id_downloads_the_archive(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    route = api.get("/runs/r1/downloads/archive").respond(
        200, content=b"\x1f\x8b", headers={"Content-Type": "application/gzip"}
    )
    handle = await sleeper.get_file("r1")
    assert route.call_count == 1
    assert handle.mime_type == "application/gzip"


@pytest.mark.asyncio
async def test_list_runs_lists_the_group(api: respx.MockRouter, sleeper: afs.AsyncWorkflow) -> None:
    route = api.get("/groups/g1/runs").respond(200, json={"runs": []})
    assert await sleeper.list_runs() == []
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_workflow_methods_check_run_ids_too(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    for call in (
        sleeper.poll_run("../x"),
        sleeper.cancel_run("a/b"),
        sleeper.delete_run(".."),
        sleeper.get_file("r1", "f/1"),
        sleeper.get_file("?"),
    ):
        with pytest.raises(afs.InvalidArgumentError):
            await call
    assert api.calls.call_count == 0


@pytest.mark.asyncio
async def test_a_group_of_another_workflow_is_refused_naming_both(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/workflows/types").respond(200, json=workflow_doc("types"))
    api.get("/groups/g1").respond(200, json=group_doc("g1", workflow_id="sleeper"))
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await fs.workflow("types", "g1")
    message = str(caught.value)
    assert caught.value.parameter == "group_id"
    assert "belongs to workflow 'sleeper', not to 'types'" in message
    assert "workflow('sleeper', 'g1')" in message
