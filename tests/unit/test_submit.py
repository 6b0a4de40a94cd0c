"""Submitting (``_submit``): uploads and run starts, each sent at most once, and batches.

A run start or an upload that may have reached the server is never sent again:
the group is searched for what it may have created, and anything but exactly
one match raises :class:`SubmissionUncertainError`. A file argument is uploaded
before the run starts, and deleted again when the run was certainly not
created. No test here really sleeps (the ``sleeps`` fixture records the waits).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx

import aioflowserv as afs
from tests.support.documents import run_doc
from tests.support.mocked import body, multipart_parts, upload_route

pytestmark = pytest.mark.asyncio

ARGS = [{"name": "sleep", "value": 1.0}]

OTHER_ARGS = [{"name": "sleep", "value": 2.0}]


def now(offset: float = 0.0) -> str:
    """A server timestamp ``offset`` seconds from now."""
    return (datetime.now(timezone.utc) + timedelta(seconds=offset)).isoformat()


def listing(*runs: tuple[str, str]) -> dict[str, Any]:
    """A ``GET /groups/g1/runs`` answer: (run id, createdAt) pairs, all RUNNING."""
    return {"runs": [{"id": i, "state": "RUNNING", "createdAt": c} for i, c in runs]}


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("no answer"), httpx.ReadError("connection reset"),
     httpx.RemoteProtocolError("server disconnected without sending a response"),
     httpx.WriteTimeout("stalled while sending")],
    ids=lambda exc: type(exc).__name__,
)
async def test_run_start_is_not_resent_after_it_may_have_arrived(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, sleeps: list[float], failure: Exception
) -> None:
    start = api.post("/groups/g1/runs").mock(side_effect=failure)
    api.get("/groups/g1/runs").respond(200, json=listing())
    with pytest.raises(afs.SubmissionUncertainError) as caught:
        await fs.start_run("g1", ARGS)
    assert start.call_count == 1
    error = caught.value
    assert error.group_id == "g1"
    assert error.arguments == ARGS
    assert error.candidates == []
    assert error.sent_at is not None
    assert "may or may not" in str(error)


async def test_unanswered_run_start_resolves_to_the_single_matching_run(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    start = api.post("/groups/g1/runs").mock(side_effect=httpx.ReadTimeout("no answer"))
    api.get("/groups/g1/runs").respond(
        200, json=listing(("old", now(-3600)), ("other", now()), ("mine", now()))
    )
    old = api.get("/runs/old").respond(200, json=run_doc("old", arguments=ARGS))
    api.get("/runs/other").respond(200, json=run_doc("other", arguments=OTHER_ARGS))
    api.get("/runs/mine").respond(200, json=run_doc("mine", arguments=ARGS))
    run = await fs.start_run("g1", ARGS)
    assert run.run_id == "mine"
    assert start.call_count == 1
    assert old.call_count == 0  # created long before the request was sent


async def test_arguments_must_match_exactly_to_resolve_a_run_start(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, sleeps: list[float]
) -> None:
    api.post("/groups/g1/runs").mock(side_effect=httpx.ReadTimeout("no answer"))
    api.get("/groups/g1/runs").respond(200, json=listing(("near", now())))
    api.get("/runs/near").respond(
        200, json=run_doc("near", arguments=[{"name": "sleep", "value": 1}, *OTHER_ARGS])
    )
    with pytest.raises(afs.SubmissionUncertainError) as caught:
        await fs.start_run("g1", ARGS)
    assert caught.value.candidates == []


async def test_run_start_with_several_matching_runs_stays_uncertain(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.post("/groups/g1/runs").mock(side_effect=httpx.ReadError("reset"))
    listed = api.get("/groups/g1/runs").respond(200, json=listing(("a", now()), ("b", now())))
    api.get("/runs/a").respond(200, json=run_doc("a", arguments=ARGS))
    api.get("/runs/b").respond(200, json=run_doc("b", arguments=ARGS))
    with pytest.raises(afs.SubmissionUncertainError) as caught:
        await fs.start_run("g1", ARGS)
    assert caught.value.candidates == ["a", "b"]
    assert "a, b" in str(caught.value)
    assert listed.call_count == 1


async def test_runs_this_client_started_are_not_taken_for_the_lost_one(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, sleeps: list[float]
) -> None:
    api.post("/groups/g1/runs").mock(
        side_effect=[httpx.Response(201, json=run_doc("first", arguments=ARGS)),
                     httpx.ReadTimeout("no answer")]
    )
    api.get("/groups/g1/runs").respond(200, json=listing(("first", now())))
    api.get("/runs/first").respond(200, json=run_doc("first", arguments=ARGS))
    assert (await fs.start_run("g1", ARGS)).run_id == "first"
    with pytest.raises(afs.SubmissionUncertainError) as caught:
        await fs.start_run("g1", ARGS)
    assert caught.value.candidates == []


async def test_lost_run_start_that_appears_late_is_still_found(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, sleeps: list[float]
) -> None:
    api.post("/groups/g1/runs").mock(side_effect=httpx.ReadTimeout("no answer"))
    listed = api.get("/groups/g1/runs").mock(
        side_effect=[httpx.Response(200, json=listing()),
                     httpx.Response(200, json=listing(("late", now())))]
    )
    api.get("/runs/late").respond(200, json=run_doc("late", arguments=ARGS))
    assert (await fs.start_run("g1", ARGS)).run_id == "late"
    assert listed.call_count == 2
    assert len(sleeps) == 1


async def test_run_start_stays_uncertain_when_the_runs_cannot_be_listed(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, sleeps: list[float]
) -> None:
    start = api.post("/groups/g1/runs").mock(side_effect=httpx.ReadTimeout("no answer"))
    api.get("/groups/g1/runs").respond(403, json={"message": "not authorized"})
    api.get("/users/whoami").respond(200, json={"id": "u1", "username": "alice"})
    with pytest.raises(afs.SubmissionUncertainError) as caught:
        await fs.start_run("g1", ARGS)
    assert isinstance(caught.value.__cause__, afs.APITimeoutError)
    assert start.call_count == 1


@pytest.mark.parametrize("status", [502, 504])
async def test_gateway_error_on_run_start_goes_to_the_resolution_path(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, status: int
) -> None:
    start = api.post("/groups/g1/runs").respond(status, json={"message": "gateway"})
    api.get("/groups/g1/runs").respond(200, json=listing(("mine", now())))
    api.get("/runs/mine").respond(200, json=run_doc("mine", arguments=ARGS))
    assert (await fs.start_run("g1", ARGS)).run_id == "mine"
    assert start.call_count == 1


@pytest.mark.parametrize("status", [429, 503])
async def test_run_start_refused_unprocessed_is_sent_again(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, status: int
) -> None:
    start = api.post("/groups/g1/runs").mock(
        side_effect=[httpx.Response(status), httpx.Response(201, json=run_doc())]
    )
    assert (await fs.start_run("g1", ARGS)).run_id == "r1"
    assert start.call_count == 2


async def test_run_start_that_could_not_connect_is_sent_again(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    start = api.post("/groups/g1/runs").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.ConnectTimeout("slow connect"),
                     httpx.Response(201, json=run_doc())]
    )
    assert (await fs.start_run("g1", ARGS)).run_id == "r1"
    assert start.call_count == 3
    assert [body(call.request) for call in start.calls] == [{"arguments": ARGS}] * 3


async def test_run_start_that_never_connects_is_a_connection_error(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    start = api.post("/groups/g1/runs").mock(side_effect=httpx.ConnectError("refused"))
    listed = api.get("/groups/g1/runs").respond(200, json=listing())
    with pytest.raises(afs.APIConnectionError) as caught:
        await fs.start_run("g1", ARGS)
    assert not isinstance(caught.value, afs.SubmissionUncertainError)
    assert start.call_count == 4
    assert listed.call_count == 0


async def test_server_error_on_run_start_is_raised_without_resolution(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    start = api.post("/groups/g1/runs").respond(500, json={"error": "500 Internal Server Error"})
    listed = api.get("/groups/g1/runs").respond(200, json=listing())
    with pytest.raises(afs.ServerError):
        await fs.start_run("g1", ARGS)
    assert start.call_count == 1
    assert listed.call_count == 0


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("no answer"), httpx.ReadError("reset"), httpx.WriteError("broken pipe"),
     httpx.Response(502), httpx.Response(504)],
    ids=["ReadTimeout", "ReadError", "WriteError", "502", "504"],
)
async def test_upload_is_not_resent_after_it_may_have_arrived(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, sleeps: list[float], failure: Any
) -> None:
    route = api.post("/uploads/g1/files").mock(side_effect=[failure])
    api.get("/uploads/g1/files").respond(200, json={"files": []})
    with pytest.raises(afs.SubmissionUncertainError) as caught:
        await fs.upload_file("g1", b"data", filename="a.txt")
    assert route.call_count == 1
    assert caught.value.group_id == "g1"
    assert caught.value.arguments is None
    assert "a.txt" in str(caught.value)


async def test_unanswered_upload_resolves_to_the_file_with_its_name_and_content(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.post("/uploads/g1/files").mock(side_effect=httpx.ReadTimeout("no answer"))
    api.get("/uploads/g1/files").respond(
        200,
        json={"files": [{"id": "other", "name": "a.txt", "createdAt": now()},
                        {"id": "mine", "name": "a.txt", "createdAt": now()}]},
    )
    api.get("/uploads/g1/files/other").respond(200, content=b"different")
    api.get("/uploads/g1/files/mine").respond(200, content=b"data")
    uploaded = await fs.upload_file("g1", b"data", filename="a.txt")
    assert uploaded.id == "mine"
    assert route.call_count == 1


async def test_upload_that_could_not_connect_is_sent_again_whole(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, tmp_path: Any
) -> None:
    path = tmp_path / "names.txt"
    path.write_bytes(b"Alice\n")
    route = api.post("/uploads/g1/files").mock(
        side_effect=[httpx.ConnectError("refused"),
                     httpx.Response(201, json={"id": "f1", "name": "names.txt"})]
    )
    assert (await fs.upload_file("g1", path)).id == "f1"
    assert route.call_count == 2
    assert b"Alice\n" in route.calls.last.request.content


async def test_workflow_start_keeps_its_uploads_when_the_run_may_exist(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow, sleeps: list[float]
) -> None:
    api.post("/uploads/g1/files").respond(201, json={"id": "f1", "name": "names"})
    start = api.post("/groups/g1/runs").mock(side_effect=httpx.ReadTimeout("no answer"))
    api.get("/groups/g1/runs").respond(200, json=listing())
    delete = api.delete("/uploads/g1/files/f1").respond(204)
    with pytest.raises(afs.SubmissionUncertainError):
        await sleeper.start_run({"names": b"Alice\n"})
    assert start.call_count == 1
    assert delete.call_count == 0


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
