"""The wait methods of the workflow and client objects, one light test each, on the real server.

(Watching many runs at once, request economy and completion order are
covered in depth by ``test_watch_real.py`` and the unit watcher tests.)
Runs are started one after another and sleep 0.5 s.
"""

from __future__ import annotations

from typing import Any

import pytest

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.realserver import DEADLINE, POLL, QUICK, settle_postproc

HALF = {"sleep": 0.5}



@pytest.mark.asyncio
async def test_wait_returns_the_final_run(workflow: afs.AsyncWorkflow) -> None:
    run = await workflow.start_run(HALF)
    changes: list[afs.RunState] = []
    final = await workflow.wait(
        run, DEADLINE, poll_interval=POLL, on_change=lambda r: changes.append(r.state)
    )
    assert final.is_success()
    assert final.run_id == run.run_id
    assert changes[-1] is afs.RunState.SUCCESS


@pytest.mark.asyncio
async def test_wait_with_postproc_also_waits_for_post_processing(
    workflow: afs.AsyncWorkflow,
) -> None:
    # Let the post-processing that earlier tests' runs triggered finish first:
    # the server can drop one of two post-processing runs made at once.
    await settle_postproc(workflow)
    run = await workflow.start_run({"sleep": QUICK})
    final = await workflow.wait(run.run_id, DEADLINE, poll_interval=POLL, postproc=True)
    postproc = await workflow.get_postproc_results()
    assert postproc is not None
    assert final.finished_at is not None
    assert postproc.created_at is not None
    assert postproc.created_at >= final.finished_at
    assert not postproc.is_active()


@pytest.mark.asyncio
async def test_workflow_wait_all_returns_final_runs_in_input_order(
    workflow: afs.AsyncWorkflow,
) -> None:
    first = await workflow.start_run(HALF)
    second = await workflow.start_run({"sleep": QUICK})
    finals = await workflow.wait_all([first, second.run_id], DEADLINE, poll_interval=POLL)
    assert [run.run_id for run in finals] == [first.run_id, second.run_id]
    assert all(run.is_success() for run in finals)


@pytest.mark.asyncio
async def test_workflow_as_completed_yields_each_run_once(workflow: afs.AsyncWorkflow) -> None:
    runs = [
        await workflow.start_run(HALF), await workflow.start_run({"sleep": QUICK, "exitcode": 1})
    ]
    seen = [run async for run in workflow.as_completed(runs, DEADLINE, poll_interval=POLL)]
    assert sorted(run.run_id for run in seen) == sorted(run.run_id for run in runs)
    assert {run.state for run in seen} == {afs.RunState.SUCCESS, afs.RunState.ERROR}


@pytest.mark.asyncio
async def test_workflow_start_runs_returns_runs_in_input_order(
    workflow: afs.AsyncWorkflow,
) -> None:
    runs = await workflow.start_runs(
        [{"greeting": "One", "sleep": 1}, {"greeting": "Two", "sleep": 1}],
        concurrency=2, poll_interval=POLL, timeout=DEADLINE,
    )
    assert [run.arguments["greeting"] for run in runs] == ["One", "Two"]
    assert all(run.is_success() for run in runs)


@pytest.mark.asyncio
async def test_client_wait_with_a_bare_run_id(
    client: afs.AsyncFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    run = await workflow.start_run(HALF)
    final = await client.wait(run.run_id, DEADLINE, poll_interval=POLL)
    assert final.is_success()
    assert final.group_id == workflow.group_id


@pytest.mark.asyncio
async def test_client_wait_all_and_as_completed(
    client: afs.AsyncFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    runs = [await workflow.start_run(HALF), await workflow.start_run({"sleep": QUICK})]
    finals = await client.wait_all(runs, DEADLINE, poll_interval=POLL)
    assert [run.run_id for run in finals] == [run.run_id for run in runs]
    ids = [run.run_id for run in runs]
    seen = [run async for run in client.as_completed(ids, DEADLINE, poll_interval=POLL)]
    assert sorted(run.run_id for run in seen) == sorted(ids)
    assert all(run.is_success() for run in seen)


@pytest.mark.asyncio
async def test_client_wait_past_its_deadline_raises_run_wait_timeout(
    client: afs.AsyncFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    run = await workflow.start_run({"sleep": 2})
    with pytest.raises(afs.RunWaitTimeout) as caught:
        await client.wait(run, 0.3, poll_interval=POLL)
    assert caught.value.run.run_id == run.run_id
    assert caught.value.run.is_active()
    await client.cancel_run(run.run_id, "cleanup")


def test_sync_workflow_wait_all_and_as_completed(sync_workflow: afs.Workflow) -> None:
    runs = [sync_workflow.start_run(HALF), sync_workflow.start_run({"sleep": QUICK})]
    finals = sync_workflow.wait_all(runs, DEADLINE, poll_interval=POLL)
    assert [run.run_id for run in finals] == [run.run_id for run in runs]
    seen = list(sync_workflow.as_completed(runs, DEADLINE, poll_interval=POLL))
    assert sorted(run.run_id for run in seen) == sorted(run.run_id for run in runs)


def test_sync_workflow_start_runs(sync_workflow: afs.Workflow) -> None:
    runs = sync_workflow.start_runs(
        [{"sleep": 1, "mode": "upper"}, {"sleep": 1}], poll_interval=POLL, timeout=DEADLINE
    )
    assert [run.arguments["mode"] for run in runs] == ["upper", "plain"]
    assert all(run.is_success() for run in runs)


def test_sync_client_wait_wait_all_and_as_completed(
    sync_client: afs.Flowserv, sync_workflow: afs.Workflow
) -> None:
    runs = [sync_workflow.start_run(HALF), sync_workflow.start_run({"sleep": QUICK})]
    assert sync_client.wait(runs[0].run_id, DEADLINE, poll_interval=POLL).is_success()
    finals = sync_client.wait_all(runs, DEADLINE, poll_interval=POLL)
    assert [run.run_id for run in finals] == [run.run_id for run in runs]
    seen = list(sync_client.as_completed([r.run_id for r in runs], DEADLINE, poll_interval=POLL))
    assert len(seen) == 2


def test_client_properties(server: FlowservServer, user: dict[str, Any]) -> None:
    with afs.Flowserv(server.url, token=user["token"]) as fs:
        assert fs.url == server.url
        assert fs.token == user["token"]
        assert isinstance(fs.async_client, afs.AsyncFlowserv)
        assert fs.async_client.url == server.url
        assert fs.async_client.settings.url == server.url
        assert not fs.is_closed
        assert user["token"] not in repr(fs.async_client)
    assert fs.is_closed
