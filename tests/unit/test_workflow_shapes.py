"""What every AsyncWorkflow method sends: run starts with defaults, uploads, polls, results."""

from __future__ import annotations

import anyio
import httpx
import pytest
import respx

import aioflowserv as afs

from ._support import SLEEPER_DEFAULTS, body, multipart_parts, run_doc, workflow_doc

pytestmark = pytest.mark.asyncio


def upload_route(api: respx.MockRouter, *ids: str) -> respx.Route:
    """Uploads to group g1, answering with the given file ids in turn."""
    return api.post("/uploads/g1/files").mock(
        side_effect=[httpx.Response(201, json={"id": i, "name": "upload"}) for i in ids]
    )


async def test_start_run_without_arguments_sends_every_default_except_the_file(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    route = api.post("/groups/g1/runs").respond(201, json=run_doc())
    run = await sleeper.start_run({})
    assert body(route.calls.last.request) == {"arguments": SLEEPER_DEFAULTS}
    assert run.run_id == "r1"
    assert api.calls.call_count == 1  # the file parameter's default was not uploaded


async def test_start_run_sends_given_values_cast_and_in_declaration_order(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    route = api.post("/groups/g1/runs").respond(201, json=run_doc())
    await sleeper.start_run(
        {"shout": "true", "mode": "upper", "exitcode": "3", "greeting": "Hi", "sleep": 2}
    )
    assert body(route.calls.last.request) == {
        "arguments": [
            {"name": "sleep", "value": 2.0},
            {"name": "greeting", "value": "Hi"},
            {"name": "exitcode", "value": 3},
            {"name": "mode", "value": "upper"},
            {"name": "shout", "value": True},
        ]
    }


async def test_start_run_uploads_a_file_argument_then_refers_to_it_by_id(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    uploads = upload_route(api, "f1")
    start = api.post("/groups/g1/runs").respond(201, json=run_doc())
    await sleeper.start_run({"names": b"Alice\nBob\n"})
    assert multipart_parts(uploads.calls.last.request) == [("file", "names", b"Alice\nBob\n")]
    arguments = body(start.calls.last.request)["arguments"]
    assert {"name": "names", "value": {"type": "$file", "value": {"fileId": "f1"}}} in arguments
    assert [call.request.url.path for call in api.calls] == [
        "/flowserv/api/v1/uploads/g1/files",
        "/flowserv/api/v1/groups/g1/runs",
    ]


async def test_start_run_sends_the_target_path_of_a_file_argument(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    upload_route(api, "f1")
    start = api.post("/groups/g1/runs").respond(201, json=run_doc())
    await sleeper.start_run({"names": afs.FileArgument(b"x", target="data/other.txt")})
    arguments = body(start.calls.last.request)["arguments"]
    assert {
        "name": "names",
        "value": {"type": "$file", "value": {"fileId": "f1", "targetPath": "data/other.txt"}},
    } in arguments


async def test_start_run_reuses_an_uploaded_file_without_uploading(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    uploads = upload_route(api, "unused")
    start = api.post("/groups/g1/runs").respond(201, json=run_doc())
    await sleeper.start_run({"names": afs.FileArgument(upload_id="f9")})
    assert uploads.call_count == 0
    arguments = body(start.calls.last.request)["arguments"]
    assert {"name": "names", "value": {"type": "$file", "value": {"fileId": "f9"}}} in arguments


async def test_start_run_deletes_its_uploads_when_the_start_is_rejected(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    upload_route(api, "f1")
    api.post("/groups/g1/runs").respond(400, json={"message": "unknown parameter 'x'"})
    delete = api.delete("/uploads/g1/files/f1").respond(204)
    with pytest.raises(afs.InvalidRequestError):
        await sleeper.start_run({"names": b"x"})
    assert delete.call_count == 1


AFTER_RUN = "2026-11-26T15:19:07.301202+00:00"
"""When the post-processing run that r1 (finished at ``FINISHED``) triggered was created."""


async def test_start_run_with_poll_interval_waits_for_the_run_and_post_processing(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    api.post("/groups/g1/runs").respond(201, json=run_doc())
    api.get("/groups/g1/runs").respond(
        200, json={"runs": [{"id": "r1", "state": "SUCCESS"}]}
    )
    api.get("/runs/r1").respond(200, json=run_doc(state="SUCCESS", files=[]))
    api.get("/workflows/sleeper").mock(
        side_effect=[
            httpx.Response(
                200,
                json=workflow_doc(
                    postproc=run_doc("pp", state="RUNNING", group_id=None, createdAt=AFTER_RUN)
                ),
            )
        ]
    )
    postproc = api.get("/runs/pp").respond(
        200, json=run_doc("pp", state="SUCCESS", group_id=None, createdAt=AFTER_RUN)
    )
    with anyio.fail_after(5):
        run = await sleeper.start_run({"sleep": 0}, poll_interval=0.01)
    assert run.is_success()
    assert postproc.call_count >= 1


async def test_poll_run_gets_the_run(api: respx.MockRouter, sleeper: afs.AsyncWorkflow) -> None:
    route = api.get("/runs/r1").respond(200, json=run_doc(state="ERROR", messages=["boom\n"]))
    run = await sleeper.poll_run("r1")
    assert route.call_count == 1
    assert run.is_error()
    assert run.messages() == ["boom\n"]


async def test_cancel_run_forwards_the_reason(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    route = api.put("/runs/r1").respond(
        200, json=run_doc(state="CANCELED", messages=["enough"])
    )
    run = await sleeper.cancel_run("r1", reason="enough")
    assert body(route.calls.last.request) == {"reason": "enough"}
    assert run.messages() == ["enough"]


async def test_cancel_run_without_reason_sends_an_empty_object(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    route = api.put("/runs/r1").respond(200, json=run_doc(state="CANCELED"))
    await sleeper.cancel_run("r1")
    assert body(route.calls.last.request) == {}


async def test_delete_run_sends_delete(api: respx.MockRouter, sleeper: afs.AsyncWorkflow) -> None:
    route = api.delete("/runs/r1").respond(204)
    assert await sleeper.delete_run("r1") is None
    assert route.call_count == 1


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


async def test_get_file_without_an_id_downloads_the_archive(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    route = api.get("/runs/r1/downloads/archive").respond(
        200, content=b"\x1f\x8b", headers={"Content-Type": "application/gzip"}
    )
    handle = await sleeper.get_file("r1")
    assert route.call_count == 1
    assert handle.mime_type == "application/gzip"


async def test_get_postproc_results_is_none_before_any_post_processing(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    route = api.get("/workflows/sleeper").respond(200, json=workflow_doc())
    assert await sleeper.get_postproc_results() is None
    assert route.call_count == 1


async def test_get_postproc_results_returns_the_post_processing_run(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    postproc = run_doc(
        "pp", state="SUCCESS", group_id=None,
        files=[{"id": "s1", "name": "results/summary.json", "title": "Summary",
                "format": {"type": "json"}}],
    )
    del postproc["groupId"]
    api.get("/workflows/sleeper").respond(200, json=workflow_doc(postproc=postproc))
    run = await sleeper.get_postproc_results()
    assert run is not None
    assert run.run_id == "pp"
    assert run.group_id is None
    assert [f.title for f in run.files()] == ["Summary"]


async def test_list_runs_lists_the_group(api: respx.MockRouter, sleeper: afs.AsyncWorkflow) -> None:
    route = api.get("/groups/g1/runs").respond(200, json={"runs": []})
    assert await sleeper.list_runs() == []
    assert route.call_count == 1


async def test_start_runs_submits_each_argument_set_and_keeps_input_order(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        sleep = body(request)["arguments"][0]["value"]
        return httpx.Response(201, json=run_doc(f"r{int(sleep)}"))

    route = api.post("/groups/g1/runs").mock(side_effect=answer)
    runs = await sleeper.start_runs([{"sleep": n} for n in range(5)], concurrency=2)
    assert [run.run_id for run in runs] == ["r0", "r1", "r2", "r3", "r4"]
    assert route.call_count == 5


async def test_start_runs_checks_every_argument_set_before_the_first_request(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    route = api.post("/groups/g1/runs").respond(201, json=run_doc())
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await sleeper.start_runs([{"sleep": 1}, {"sleep": 2}, {"sleep": -1}])
    assert caught.value.parameter == "sleep"
    assert route.call_count == 0
