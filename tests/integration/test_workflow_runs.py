"""AsyncWorkflow runs against the real server: start, wait, files, archive, post-processing,
failure, cancel, delete and poll."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import aioflowserv as afs
from tests.support.realserver import DEADLINE, POLL, QUICK, settle_postproc, unique


async def final(workflow: afs.AsyncWorkflow, arguments: dict[str, object]) -> afs.Run:
    """Start a run and wait (with a deadline) until it and post-processing ended."""
    return await workflow.start_run(arguments, poll_interval=POLL, timeout=DEADLINE)


@pytest.mark.asyncio
async def test_start_run_without_poll_interval_returns_at_once(
    workflow: afs.AsyncWorkflow, group_id: str
) -> None:
    run = await workflow.start_run({"sleep": 0.5})
    assert run.state in {afs.RunState.PENDING, afs.RunState.RUNNING}
    assert run.is_active()
    assert run.group_id == group_id
    assert run.workflow_id == "sleeper"
    assert [info.run_id for info in await workflow.list_runs()] == [run.run_id]
    await workflow.wait(run, timeout=DEADLINE, poll_interval=POLL)


@pytest.mark.asyncio
async def test_start_run_with_poll_interval_returns_the_final_run(
    workflow: afs.AsyncWorkflow,
) -> None:
    run = await final(workflow, {"sleep": QUICK})
    assert run.state is afs.RunState.SUCCESS
    assert run.is_success()
    assert not run.is_active()
    assert run.finished_at is not None
    assert run.started_at is not None
    assert run.arguments["sleep"] == QUICK


@pytest.mark.asyncio
async def test_successful_run_lists_its_output_files(workflow: afs.AsyncWorkflow) -> None:
    run = await final(workflow, {"sleep": QUICK})
    assert [f.name for f in run.files()] == ["greetings", "result"]
    greetings = run.get_file("greetings")
    assert greetings is not None
    assert greetings.title == "Greetings"
    assert greetings.format == {"type": "plaintext"}
    assert run.get_file(greetings.id) == greetings
    assert run.get_file("no-such-file") is None


@pytest.mark.asyncio
async def test_get_file_by_id_downloads_a_result_file(workflow: afs.AsyncWorkflow) -> None:
    run = await final(workflow, {"sleep": QUICK, "greeting": "Hi"})
    result = run.get_file("result")
    assert result is not None
    handle = await workflow.get_file(run.run_id, result.id)
    assert handle.name == "results/result.json"
    assert handle.mime_type == "application/json"
    assert json.loads(await handle.read()) == {
        "sleep": QUICK, "count": 2, "mode": "plain", "exitcode": 0,
    }


@pytest.mark.asyncio
async def test_get_file_by_name_via_run_get_file(workflow: afs.AsyncWorkflow) -> None:
    run = await final(workflow, {"sleep": QUICK, "greeting": "Hi", "mode": "upper"})
    greetings = run.get_file("greetings")
    assert greetings is not None
    handle = await workflow.get_file(run.run_id, greetings.file_id)
    assert (await handle.read()).decode().splitlines() == ["HI ALICE!", "HI BOB!"]


@pytest.mark.asyncio
async def test_get_file_without_file_id_returns_the_run_archive(
    workflow: afs.AsyncWorkflow, tmp_path: Path
) -> None:
    run = await final(workflow, {"sleep": QUICK, "shout": True})
    archive = await workflow.get_file(run.run_id)
    assert archive.mime_type == "application/gzip"
    written = await archive.extract(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "results/greetings.txt",
        "results/result.json",
    ]
    assert (tmp_path / "results/greetings.txt").read_text().splitlines() == [
        "HELLO ALICE!", "HELLO BOB!",
    ]
    assert json.loads((tmp_path / "results/result.json").read_text())["count"] == 2


@pytest.mark.asyncio
async def test_get_postproc_results_after_a_successful_run(workflow: afs.AsyncWorkflow) -> None:
    await settle_postproc(workflow)
    run = await final(workflow, {"sleep": QUICK})
    postproc = await workflow.get_postproc_results()
    assert postproc is not None
    # start_run(poll_interval=...) waited for post-processing too.
    assert postproc.is_success()
    assert postproc.group_id is None
    summary = postproc.get_file("results/summary.json")
    assert summary is not None
    assert summary.title == "Summary"
    handle = await workflow.get_file(postproc.run_id, summary.id)
    entries = json.loads(await handle.read())
    group = await workflow.service.get_group(workflow.group_id)
    assert {"run": run.run_id, "group": group.name, "sleep": QUICK} in entries


@pytest.mark.asyncio
async def test_failing_run_ends_in_error_with_messages(workflow: afs.AsyncWorkflow) -> None:
    run = await final(workflow, {"sleep": QUICK, "exitcode": 1})
    assert run.state is afs.RunState.ERROR
    assert run.is_error()
    assert not run.is_success()
    text = "".join(run.messages())
    assert "failing on purpose with exit code 1" in text
    assert run.files() == []


@pytest.mark.asyncio
async def test_failed_run_has_no_archive(workflow: afs.AsyncWorkflow) -> None:
    run = await final(workflow, {"sleep": QUICK, "exitcode": 1})
    with pytest.raises(afs.NotFoundError):
        await workflow.get_file(run.run_id)


@pytest.mark.asyncio
async def test_cancel_run_forwards_the_reason(workflow: afs.AsyncWorkflow) -> None:
    run = await workflow.start_run({"sleep": 2})
    canceled = await workflow.cancel_run(run.run_id, reason="no longer needed")
    assert canceled.state is afs.RunState.CANCELED
    assert canceled.is_canceled()
    assert canceled.messages() == ["no longer needed"]
    polled = await workflow.poll_run(run.run_id)
    assert polled.is_canceled()
    assert polled.messages() == ["no longer needed"]


@pytest.mark.asyncio
async def test_cancel_run_without_reason_still_cancels(workflow: afs.AsyncWorkflow) -> None:
    run = await workflow.start_run({"sleep": 2})
    canceled = await workflow.cancel_run(run.run_id)
    assert canceled.is_canceled()
    assert (await workflow.poll_run(run.run_id)).is_canceled()


@pytest.mark.asyncio
async def test_cancel_run_of_a_finished_run_is_rejected(workflow: afs.AsyncWorkflow) -> None:
    run = await final(workflow, {"sleep": QUICK})
    with pytest.raises(afs.InvalidRequestError):
        await workflow.cancel_run(run.run_id, reason="too late")
    assert (await workflow.poll_run(run.run_id)).is_success()


@pytest.mark.asyncio
async def test_delete_run_removes_it(workflow: afs.AsyncWorkflow) -> None:
    run = await final(workflow, {"sleep": QUICK, "exitcode": 1})
    await workflow.delete_run(run.run_id)
    with pytest.raises(afs.NotFoundError):
        await workflow.poll_run(run.run_id)
    assert await workflow.list_runs() == []


@pytest.mark.asyncio
async def test_delete_run_of_an_active_run_is_rejected(workflow: afs.AsyncWorkflow) -> None:
    run = await workflow.start_run({"sleep": 2})
    try:
        with pytest.raises(afs.InvalidRequestError):
            await workflow.delete_run(run.run_id)
        assert (await workflow.poll_run(run.run_id)).is_active()
    finally:
        await workflow.cancel_run(run.run_id)


@pytest.mark.asyncio
async def test_poll_run_returns_the_current_snapshot(workflow: afs.AsyncWorkflow) -> None:
    started = await workflow.start_run({"sleep": QUICK, "greeting": "Hey"})
    done = await workflow.wait(started, timeout=DEADLINE, poll_interval=POLL)
    polled = await workflow.poll_run(started.run_id)
    assert polled.run_id == started.run_id
    assert polled.state is done.state is afs.RunState.SUCCESS
    assert polled.arguments["greeting"] == "Hey"
    assert [f.id for f in polled.files()] == [f.id for f in done.files()]


@pytest.mark.asyncio
async def test_poll_run_of_an_unknown_run_raises_not_found(workflow: afs.AsyncWorkflow) -> None:
    with pytest.raises(afs.NotFoundError):
        await workflow.poll_run("0" * 32)


@pytest.mark.asyncio
async def test_start_run_waits_for_the_postproc_run_that_its_success_triggered(
    client: afs.AsyncFlowserv,
) -> None:
    # The server shows the new post-processing run only a moment after the run's
    # success; several runs in a row show that start_run never returns before it.
    for _ in range(4):
        group = await client.create_group("sleeper", unique("pp"))
        workflow = await client.workflow("sleeper", group.id)
        run = await final(workflow, {"sleep": QUICK})
        postproc = await workflow.get_postproc_results()
        assert postproc is not None
        assert run.finished_at is not None
        assert postproc.created_at is not None
        assert postproc.created_at >= run.finished_at
        assert postproc.is_success()
        summary = postproc.get_file("results/summary.json")
        assert summary is not None
        entries = json.loads(await (await workflow.get_file(postproc.run_id, summary.id)).read())
        assert run.run_id in {entry["run"] for entry in entries}


@pytest.mark.asyncio
async def test_workflow_without_post_processing_has_no_postproc_results(
    client: afs.AsyncFlowserv, types_group_id: str
) -> None:
    types = await client.workflow("types", types_group_id)
    run = await final(types, {"point": {"x": 0}})
    assert run.is_success()
    assert await types.get_postproc_results() is None
