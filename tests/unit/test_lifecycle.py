"""Reruns and group-wide cancels (``_lifecycle``).

Reruns on the mocked API: the new run is started with exactly the arguments
the server kept, after the uploaded files it refers to were found in the
group. Group-wide cancels on the fake flowServ (virtual clock): which runs,
the reason, and how many cancels are in flight at once.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
import respx

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv
from tests.support.documents import run_doc
from tests.support.mocked import body

FILE_ARG = {"type": "$file", "value": {"fileId": "f1", "targetPath": "data/names.txt"}}
ARGUMENTS = [
    {"name": "sleep", "value": 0.5}, {"name": "names", "value": FILE_ARG},
    {"name": "point", "value": [{"name": "x", "value": 1.5}]},
]


def old_run(api: respx.MockRouter, **extra: Any) -> respx.Route:
    doc = run_doc("r1", "ERROR", arguments=ARGUMENTS, **extra)
    return api.get("/runs/r1").mock(return_value=httpx.Response(200, json=doc))


def uploads(api: respx.MockRouter, *ids: str) -> respx.Route:
    files = [{"id": i, "name": "names.txt", "createdAt": "2026-11-26T15:19:06+00:00"} for i in ids]
    answer = httpx.Response(200, json={"files": files})
    return api.get("/uploads/g1/files").mock(return_value=answer)


def start(api: respx.MockRouter) -> respx.Route:
    return api.post("/groups/g1/runs").mock(
        return_value=httpx.Response(201, json=run_doc("r2", arguments=ARGUMENTS))
    )


@pytest.mark.asyncio
async def test_a_rerun_sends_the_arguments_the_server_kept(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    old_run(api)
    uploads(api, "f0", "f1")
    started = start(api)
    new = await fs.rerun("r1")
    assert new.run_id == "r2"
    assert started.call_count == 1
    assert body(started.calls.last.request) == {"arguments": ARGUMENTS}


@pytest.mark.asyncio
async def test_a_full_snapshot_is_rerun_without_fetching_it_again(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    fetched = old_run(api)
    uploads(api, "f1")
    started = start(api)
    snapshot = afs.Run.from_json(run_doc("r1", "SUCCESS", arguments=ARGUMENTS))
    await fs.rerun(snapshot)
    assert fetched.call_count == 0
    assert body(started.calls.last.request) == {"arguments": ARGUMENTS}


@pytest.mark.asyncio
async def test_a_rerun_whose_file_was_deleted_is_refused_before_it_is_started(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    old_run(api)
    uploads(api, "f0")
    started = start(api)
    with pytest.raises(afs.InvalidArgumentError) as raised:
        await fs.rerun("r1")
    assert raised.value.parameter == "names"
    assert "f1" in str(raised.value)
    assert "no longer in group g1" in str(raised.value)
    assert started.call_count == 0


@pytest.mark.asyncio
async def test_a_file_deleted_while_rerunning_gets_the_same_clear_error(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    old_run(api)
    uploads(api, "f1")
    api.post("/groups/g1/runs").mock(
        return_value=httpx.Response(404, json={"message": "unknown file 'f1'"})
    )
    with pytest.raises(afs.InvalidArgumentError, match="names"):
        await fs.rerun("r1")


@pytest.mark.asyncio
async def test_a_run_without_file_arguments_does_not_list_the_uploads(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    plain = [{"name": "sleep", "value": 1.0}]
    api.get("/runs/r1").mock(
        return_value=httpx.Response(200, json=run_doc("r1", "SUCCESS", arguments=plain))
    )
    listed = uploads(api, "f1")
    started = api.post("/groups/g1/runs").mock(
        return_value=httpx.Response(201, json=run_doc("r2", arguments=plain))
    )
    await fs.rerun("r1")
    assert listed.call_count == 0
    assert body(started.calls.last.request) == {"arguments": plain}


@pytest.mark.asyncio
async def test_a_post_processing_run_cannot_be_rerun(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    doc = run_doc("r1", "SUCCESS", arguments=ARGUMENTS)
    del doc["groupId"]
    api.get("/runs/r1").mock(return_value=httpx.Response(200, json=doc))
    with pytest.raises(afs.InvalidArgumentError, match="post-processing run"):
        await fs.rerun("r1")


@pytest.mark.asyncio
async def test_a_workflow_reruns_only_runs_of_its_group(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    api.get("/runs/r1").mock(
        return_value=httpx.Response(200, json=run_doc("r1", "SUCCESS", group_id="g9"))
    )
    with pytest.raises(afs.InvalidArgumentError, match="belongs to group g9, not g1"):
        await sleeper.rerun("r1")


@pytest.mark.asyncio
async def test_a_bad_run_id_is_refused_before_any_request(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    with pytest.raises(afs.InvalidArgumentError):
        await fs.rerun("../users")


# -- group-wide cancel (fake flowServ, virtual clock) ---------------------------------


@pytest.mark.anyio
async def test_cancel_runs_cancels_the_active_runs_with_the_reason(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    done = fake.add_run(workflow.group_id, state="SUCCESS")
    active = [fake.add_run(workflow.group_id) for _ in range(3)]
    pending = fake.add_run(workflow.group_id, state="PENDING")
    canceled = await workflow.cancel_runs(reason="nightly stop")
    assert [run.run_id for run in canceled] == [*active, pending]
    assert all(run.messages() == ["nightly stop"] for run in canceled)
    assert fake.cancel_reasons == dict.fromkeys([*active, pending], "nightly stop")
    assert fake.state(done) == "SUCCESS"
    assert fake.count("list_runs") == 1


@pytest.mark.anyio
async def test_cancel_runs_can_choose_the_states(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    running = fake.add_run(workflow.group_id)
    pending = fake.add_run(workflow.group_id, state="PENDING")
    canceled = await workflow.cancel_runs(states=["pending"])
    assert [run.run_id for run in canceled] == [pending]
    assert fake.state(running) == "RUNNING"
    assert canceled[0].messages() == ["canceled at user request"]  # no reason: the default


@pytest.mark.anyio
async def test_a_run_that_ended_before_its_cancel_is_left_out(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    quick = fake.add_run(workflow.group_id, end_after_listings=1)  # listed active, then ends
    slow = fake.add_run(workflow.group_id)
    canceled = await workflow.cancel_runs(reason="stop")
    assert [run.run_id for run in canceled] == [slow]
    assert fake.count("cancel_run", target=quick) == 1  # the server refused it: already ended
    assert fake.state(quick) == "SUCCESS"


@pytest.mark.anyio
async def test_cancels_run_concurrently_within_the_bound() -> None:
    fake = FakeFlowserv(latency={"cancel_run": 0.5})
    group_id = fake.add_group()
    for _ in range(10):
        fake.add_run(group_id)
    async with afs.AsyncFlowserv(fake.url, token=fake.token, transport=fake, retries=0) as fs:
        with anyio.fail_after(600):
            canceled = await fs.cancel_runs(group_id, concurrency=3)
    assert len(canceled) == 10
    assert fake.max_in_flight["cancel_run"] == 3


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("states", "reason", "concurrency"),
    [(["SUCCESS"], None, 8), ("DONE", None, 8), ([], None, 8), (None, 3, 8), (None, None, 0)],
)
async def test_bad_options_are_refused_before_any_request(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow, states: Any, reason: Any, concurrency: int
) -> None:
    with pytest.raises(afs.InvalidArgumentError):
        await workflow.cancel_runs(states, reason, concurrency=concurrency)
    assert fake.count() == 0


@pytest.mark.anyio
async def test_cancelling_a_run_that_ended_names_its_state(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    done = fake.add_run(workflow.group_id, state="SUCCESS")
    with pytest.raises(afs.RunNotActiveError) as caught:
        await workflow.cancel_run(done, reason="too late")
    error = caught.value
    assert isinstance(error, afs.InvalidRequestError)
    assert error.state is afs.RunState.SUCCESS
    assert error.run.run_id == done
    assert error.status_code == 400
    assert str(error) == (
        f"PUT runs/{done}: 400 invalid operation for the run in its current state: "
        f"run {done} already ended (SUCCESS): nothing to cancel"
    )
    assert "bound method" not in str(error)
    assert fake.count("get_run", target=done) == 1  # read once, after the refusal


@pytest.mark.anyio
async def test_the_client_cancel_of_an_ended_run_raises_the_same(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    done = fake.add_run(fake.add_group(), state="ERROR")
    with pytest.raises(afs.RunNotActiveError) as caught:
        await sdk.cancel_run(done)
    assert caught.value.state is afs.RunState.ERROR


@pytest.mark.anyio
async def test_a_cancel_refused_for_an_active_run_is_raised_as_it_is(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    active = fake.add_run(workflow.group_id)
    fake.fail("cancel_run", status=400, message="missing element 'reason'", times=1)
    with pytest.raises(afs.InvalidRequestError) as caught:
        await workflow.cancel_run(active)
    assert not isinstance(caught.value, afs.RunNotActiveError)
    assert fake.count("get_run") == 0  # a refusal for another reason: nothing to read


@pytest.mark.anyio
async def test_deleting_an_active_run_says_to_cancel_it_first(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    active = fake.add_run(workflow.group_id)
    with pytest.raises(afs.InvalidRequestError) as caught:
        await workflow.delete_run(active)
    assert str(caught.value) == (
        f"DELETE runs/{active}: 400 invalid operation for the run in its current state: "
        f"run {active} is still RUNNING: cancel it first"
    )


@pytest.mark.anyio
async def test_create_group_with_exist_ok_returns_the_callers_existing_group(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    first = await sdk.create_group("sleeper", "quickstart", exist_ok=True)
    fake.reset_counts()
    again = await sdk.create_group("sleeper", "quickstart", exist_ok=True)
    assert again.id == first.id
    assert again.parameters == first.parameters  # the full group, as a create returns it
    assert fake.count("list_groups") == 1


@pytest.mark.anyio
async def test_create_group_without_exist_ok_refuses_an_existing_name_saying_what_to_do(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    await sdk.create_group("sleeper", "quickstart")
    with pytest.raises(afs.InvalidRequestError) as caught:
        await sdk.create_group("sleeper", "quickstart")
    assert caught.value.message == "group 'quickstart' exists"
    assert "exist_ok=True" in str(caught.value)
    assert "list_groups('sleeper')" in str(caught.value)


@pytest.mark.asyncio
async def test_create_group_with_exist_ok_refuses_someone_elses_group(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.post("/workflows/sleeper/groups").respond(400, json={"message": "group 'taken' exists"})
    api.get("/workflows/sleeper/groups").respond(200, json={"groups": []})  # not among mine
    with pytest.raises(afs.InvalidRequestError, match="not one of your groups"):
        await fs.create_group("sleeper", "taken", exist_ok=True)
