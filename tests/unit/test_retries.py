"""Retries: idempotent requests are retried with capped backoff; run starts and uploads never twice.

No test here really sleeps: waits are recorded instead (the ``sleeps`` fixture),
so their lengths can be checked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
import pytest_asyncio
import respx

import aioflowserv as afs

from ._support import BASE, TOKEN, body, run_doc

pytestmark = pytest.mark.asyncio

ARGS = [{"name": "sleep", "value": 1.0}]
OTHER_ARGS = [{"name": "sleep", "value": 2.0}]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record every ``anyio.sleep`` instead of sleeping; the list of delays asked for."""
    recorded: list[float] = []

    async def record(delay: float) -> None:
        recorded.append(delay)
        await anyio.lowlevel.checkpoint()

    monkeypatch.setattr(anyio, "sleep", record)
    return recorded


@pytest_asyncio.fixture
async def slow(transport: httpx.MockTransport) -> AsyncIterator[afs.AsyncFlowserv]:
    """A client with a real backoff (0.1 s doubling up to 1 s, no jitter), 5 attempts."""
    policy = afs.RetryPolicy(attempts=5, initial_wait=0.1, max_wait=1.0, jitter=0)
    async with afs.AsyncFlowserv(BASE, token=TOKEN, retries=policy, transport=transport) as fs:
        yield fs


def now(offset: float = 0.0) -> str:
    """A server timestamp ``offset`` seconds from now."""
    return (datetime.now(timezone.utc) + timedelta(seconds=offset)).isoformat()


def listing(*runs: tuple[str, str]) -> dict[str, Any]:
    """A ``GET /groups/g1/runs`` answer: (run id, createdAt) pairs, all RUNNING."""
    return {"runs": [{"id": i, "state": "RUNNING", "createdAt": c} for i, c in runs]}


# -- idempotent requests ---------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_get_is_retried_on_a_retryable_status(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, status: int
) -> None:
    route = api.get("/runs/r1").mock(
        side_effect=[httpx.Response(status), httpx.Response(200, json=run_doc())]
    )
    run = await fs.get_run("r1")
    assert run.run_id == "r1"
    assert route.call_count == 2


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ReadError("reset"), httpx.ReadTimeout("slow"),
     httpx.RemoteProtocolError("server disconnected without sending a response")],
    ids=lambda exc: type(exc).__name__,
)
async def test_get_is_retried_on_a_connection_failure(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, failure: Exception
) -> None:
    route = api.get("/runs/r1").mock(side_effect=[failure, httpx.Response(200, json=run_doc())])
    assert (await fs.get_run("r1")).run_id == "r1"
    assert route.call_count == 2


async def test_cancel_is_retried_with_the_same_body(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.put("/runs/r1").mock(
        side_effect=[httpx.ReadError("reset"), httpx.Response(503),
                     httpx.Response(200, json=run_doc(state="CANCELED", messages=["why"]))]
    )
    run = await fs.cancel_run("r1", "why")
    assert run.is_canceled()
    assert [body(call.request) for call in route.calls] == [{"reason": "why"}] * 3


async def test_delete_is_retried(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> None:
    route = api.delete("/runs/r1").mock(
        side_effect=[httpx.Response(502), httpx.ConnectError("refused"), httpx.Response(204)]
    )
    await fs.delete_run("r1")
    assert route.call_count == 3


async def test_download_is_retried(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> None:
    route = api.get("/runs/r1/downloads/archive").mock(
        side_effect=[httpx.Response(503), httpx.Response(200, content=b"archive")]
    )
    handle = await fs.download_run_archive("r1")
    assert await handle.read() == b"archive"
    assert route.call_count == 2


@pytest.mark.parametrize("status", [400, 403, 404, 500])
async def test_get_is_not_retried_on_other_errors(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, status: int
) -> None:
    route = api.get("/runs/r1").respond(status, json={"message": "no"})
    with pytest.raises(afs.APIStatusError):
        await fs.get_run("r1")
    assert route.call_count == 1


async def test_attempts_are_bounded_by_the_policy(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.get("/runs/r1").respond(503, json={"message": "busy"})
    with pytest.raises(afs.ServerError) as caught:
        await fs.get_run("r1")
    assert caught.value.status_code == 503
    assert route.call_count == fs.settings.retry.attempts == 4


@pytest.mark.parametrize(("retries", "attempts"), [(0, 1), (1, 2), (5, 6)])
async def test_retries_count_is_the_number_of_extra_attempts(
    api: respx.MockRouter, transport: httpx.MockTransport, sleeps: list[float],
    retries: int, attempts: int,
) -> None:
    route = api.get("/runs/r1").mock(side_effect=httpx.ConnectError("refused"))
    async with afs.AsyncFlowserv(BASE, token=TOKEN, retries=retries, transport=transport) as fs:
        with pytest.raises(afs.APIConnectionError):
            await fs.get_run("r1")
    assert route.call_count == attempts
    assert len(sleeps) == attempts - 1


async def test_waits_between_attempts_grow_and_are_capped(
    api: respx.MockRouter, slow: afs.AsyncFlowserv, sleeps: list[float]
) -> None:
    api.get("/runs/r1").respond(502)
    with pytest.raises(afs.ServerError):
        await slow.get_run("r1")
    assert sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8])


async def test_retry_after_seconds_is_honoured(
    api: respx.MockRouter, slow: afs.AsyncFlowserv, sleeps: list[float]
) -> None:
    api.get("/runs/r1").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "0.7"}),
                     httpx.Response(200, json=run_doc())]
    )
    await slow.get_run("r1")
    assert sleeps == [0.7]


async def test_retry_after_is_capped_by_max_wait(
    api: respx.MockRouter, slow: afs.AsyncFlowserv, sleeps: list[float]
) -> None:
    api.get("/runs/r1").mock(
        side_effect=[httpx.Response(503, headers={"Retry-After": "120"}),
                     httpx.Response(200, json=run_doc())]
    )
    await slow.get_run("r1")
    assert sleeps == [1.0]


async def test_retry_after_http_date_is_honoured(
    api: respx.MockRouter, slow: afs.AsyncFlowserv, sleeps: list[float]
) -> None:
    soon = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    api.get("/runs/r1").mock(
        side_effect=[httpx.Response(503, headers={"Retry-After": soon}),
                     httpx.Response(200, json=run_doc())]
    )
    await slow.get_run("r1")
    assert sleeps == [1.0]  # 30 s away, capped at max_wait


async def test_unparsable_retry_after_falls_back_to_backoff(
    api: respx.MockRouter, slow: afs.AsyncFlowserv, sleeps: list[float]
) -> None:
    api.get("/runs/r1").mock(
        side_effect=[httpx.Response(503, headers={"Retry-After": "soon-ish"}),
                     httpx.Response(200, json=run_doc())]
    )
    await slow.get_run("r1")
    assert sleeps == pytest.approx([0.1])


async def test_status_codes_of_the_policy_choose_what_is_retried(
    api: respx.MockRouter, transport: httpx.MockTransport
) -> None:
    policy = afs.RetryPolicy(initial_wait=0, jitter=0, status_codes={500})
    route = api.get("/runs/r1").mock(
        side_effect=[httpx.Response(500), httpx.Response(200, json=run_doc())]
    )
    async with afs.AsyncFlowserv(BASE, token=TOKEN, retries=policy, transport=transport) as fs:
        await fs.get_run("r1")
    assert route.call_count == 2


async def test_logout_is_retried_although_it_is_a_post(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.post("/users/logout").mock(
        side_effect=[httpx.ReadTimeout("slow"),
                     httpx.Response(200, json={"id": "u1", "username": "alice"})]
    )
    await fs.logout()
    assert route.call_count == 2


# -- run starts: never sent twice -------------------------------------------------------


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


# -- uploads: never sent twice ----------------------------------------------------------


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
