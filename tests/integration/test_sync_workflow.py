"""The sync Workflow against the real server: every method, plain return values.

Also the sync facade called from code that already runs an event loop.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.realserver import DEADLINE, LONG, POLL, QUICK, settle_postproc_sync


def finish(workflow: afs.Workflow, arguments: dict[str, Any]) -> afs.Run:
    """Start a run (of QUICK seconds unless told) and wait until it and post-processing ended."""
    return workflow.start_run({"sleep": QUICK, **arguments}, poll_interval=POLL, timeout=DEADLINE)


def greetings(workflow: afs.Workflow, run: afs.Run) -> list[str]:
    """The lines of a finished run's greetings file."""
    info = run.get_file("greetings")
    assert info is not None
    return workflow.get_file(run.run_id, info.id).read().decode().splitlines()


# -- construction and metadata ---------------------------------------------------------


def test_workflow_constructed_as_in_flowserv(sync_client: afs.Flowserv, group_id: str) -> None:
    workflow = afs.Workflow("sleeper", group_id, service=sync_client)
    assert workflow.identifier == "sleeper"
    assert workflow.group_id == group_id
    assert workflow.service is sync_client
    assert workflow.name() == "Sleeper"


def test_flowserv_workflow_returns_a_sync_workflow(
    sync_client: afs.Flowserv, group_id: str
) -> None:
    workflow = sync_client.workflow("sleeper", group_id)
    assert isinstance(workflow, afs.Workflow)
    assert workflow.identifier == "sleeper"
    assert workflow.info.id == "sleeper"
    assert workflow.info.name == workflow.name() == "Sleeper"


def test_workflow_needs_a_sync_service(client: afs.AsyncFlowserv, group_id: str) -> None:
    with pytest.raises(TypeError):
        afs.Workflow("sleeper", group_id, service=client)  # type: ignore[arg-type]


def test_workflow_of_an_unknown_workflow_raises_not_found(
    sync_client: afs.Flowserv, group_id: str
) -> None:
    with pytest.raises(afs.NotFoundError):
        afs.Workflow("nope", group_id, service=sync_client)


def test_sync_name_description_instructions(sync_workflow: afs.Workflow) -> None:
    assert sync_workflow.name() == "Sleeper"
    description = sync_workflow.description()
    assert description is not None
    assert description.startswith("Test workflow")
    instructions = sync_workflow.instructions()
    assert instructions is not None
    assert instructions.startswith("# Sleeper")


def test_sync_parameters(sync_workflow: afs.Workflow) -> None:
    parameters = sync_workflow.parameters()
    assert list(parameters) == ["sleep", "greeting", "names", "exitcode", "mode", "shout"]
    assert parameters["sleep"].dtype == "float"
    assert parameters["sleep"].default == 0.0
    assert parameters["names"].default == "data/names.txt"


# -- runs ---------------------------------------------------------------------------------


def test_sync_start_run_without_waiting_returns_an_active_run(
    sync_workflow: afs.Workflow,
) -> None:
    run = sync_workflow.start_run({"sleep": 0.5})
    assert run.is_active()
    assert [info.run_id for info in sync_workflow.list_runs()] == [run.run_id]
    assert sync_workflow.wait(run, DEADLINE, poll_interval=POLL).is_success()


def test_sync_start_run_waits_for_a_successful_run_with_files(
    sync_workflow: afs.Workflow,
) -> None:
    run = finish(sync_workflow, {"sleep": QUICK, "greeting": "Hey"})
    assert run.state is afs.RunState.SUCCESS
    assert [f.name for f in run.files()] == ["greetings", "result"]
    assert greetings(sync_workflow, run) == ["Hey Alice!", "Hey Bob!"]


def test_sync_get_file_without_file_id_returns_the_archive(
    sync_workflow: afs.Workflow, tmp_path: Path
) -> None:
    run = finish(sync_workflow, {"sleep": QUICK})
    archive = sync_workflow.get_file(run.run_id)
    assert isinstance(archive, afs.SyncFileHandle)
    written = archive.extract(tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "results/greetings.txt",
        "results/result.json",
    ]


def test_sync_get_postproc_results(sync_workflow: afs.Workflow, sync_client: afs.Flowserv) -> None:
    settle_postproc_sync(sync_workflow)
    run = finish(sync_workflow, {"sleep": QUICK})
    postproc = sync_workflow.get_postproc_results()
    assert postproc is not None
    assert postproc.is_success()
    summary = postproc.get_file("results/summary.json")
    assert summary is not None
    entries = json.loads(sync_workflow.get_file(postproc.run_id, summary.id).read())
    group = sync_client.get_group(sync_workflow.group_id)
    assert {"run": run.run_id, "group": group.name, "sleep": QUICK} in entries


def test_sync_failing_run_has_messages(sync_workflow: afs.Workflow) -> None:
    run = finish(sync_workflow, {"sleep": QUICK, "exitcode": 1})
    assert run.is_error()
    assert "failing on purpose with exit code 1" in "".join(run.messages())


def test_sync_cancel_run_forwards_the_reason(sync_workflow: afs.Workflow) -> None:
    run = sync_workflow.start_run({"sleep": LONG})
    canceled = sync_workflow.cancel_run(run.run_id, "enough")
    assert canceled.is_canceled()
    assert canceled.messages() == ["enough"]
    assert sync_workflow.poll_run(run.run_id).messages() == ["enough"]


def test_sync_delete_run_then_poll_run_raises_not_found(sync_workflow: afs.Workflow) -> None:
    run = finish(sync_workflow, {"sleep": QUICK})
    sync_workflow.delete_run(run.run_id)
    with pytest.raises(afs.NotFoundError):
        sync_workflow.poll_run(run.run_id)


def test_sync_poll_run_returns_the_current_snapshot(sync_workflow: afs.Workflow) -> None:
    run = finish(sync_workflow, {"sleep": QUICK, "mode": "upper"})
    polled = sync_workflow.poll_run(run.run_id)
    assert polled.run_id == run.run_id
    assert polled.is_success()
    assert polled.arguments["mode"] == "upper"


def test_sync_file_arguments_reach_the_run(sync_workflow: afs.Workflow, names_file: Path) -> None:
    assert greetings(sync_workflow, finish(sync_workflow, {"names": names_file})) == [
        "Hello Carol!", "Hello Dave!",
    ]
    stream = io.BytesIO(b"Judy\n")
    assert greetings(sync_workflow, finish(sync_workflow, {"names": stream})) == ["Hello Judy!"]


def test_sync_bad_argument_is_rejected_without_a_run(sync_workflow: afs.Workflow) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        sync_workflow.start_run({"sleep": QUICK, "mode": "quiet"}, poll_interval=POLL)
    assert caught.value.parameter == "mode"
    with pytest.raises(afs.UnknownParameterError):
        sync_workflow.start_run({"nap": 1})
    with pytest.raises(afs.InvalidArgumentError):
        sync_workflow.start_run({}, config={"workers": 1})
    assert sync_workflow.list_runs() == []


def test_sync_start_run_timeout_raises_run_wait_timeout(sync_workflow: afs.Workflow) -> None:
    with pytest.raises(afs.RunWaitTimeout) as caught:
        sync_workflow.start_run({"sleep": LONG}, poll_interval=POLL, timeout=0.3)
    assert caught.value.run.is_active()
    assert sync_workflow.poll_run(caught.value.run.run_id).state is afs.RunState.RUNNING
    sync_workflow.cancel_run(caught.value.run.run_id, "cleanup")


# -- SyncFileHandle ---------------------------------------------------------------------------


@pytest.fixture
def greetings_handle(sync_workflow: afs.Workflow) -> afs.SyncFileHandle:
    """The greetings file of a finished default run."""
    run = finish(sync_workflow, {"sleep": QUICK})
    info = run.get_file("greetings")
    assert info is not None
    return sync_workflow.get_file(run.run_id, info.id)


def test_sync_file_handle_read(greetings_handle: afs.SyncFileHandle) -> None:
    assert greetings_handle.name == "results/greetings.txt"
    assert greetings_handle.mime_type == "text/plain"
    assert greetings_handle.read() == b"Hello Alice!\nHello Bob!\n"


def test_sync_file_handle_save_to_a_path_and_into_a_directory(
    greetings_handle: afs.SyncFileHandle, tmp_path: Path
) -> None:
    target = tmp_path / "out.txt"
    assert greetings_handle.save(target) == target
    assert target.read_bytes() == b"Hello Alice!\nHello Bob!\n"
    saved = greetings_handle.save(tmp_path)
    assert saved == tmp_path / "greetings.txt"
    assert saved.read_bytes() == b"Hello Alice!\nHello Bob!\n"


def test_sync_file_handle_open_gives_a_binary_file(greetings_handle: afs.SyncFileHandle) -> None:
    with greetings_handle.open() as handle:
        assert handle.readline() == b"Hello Alice!\n"
        assert handle.read() == b"Hello Bob!\n"


def test_sync_file_handle_stream(greetings_handle: afs.SyncFileHandle) -> None:
    chunks = list(greetings_handle.stream(chunk_size=10))
    assert len(chunks) == 3
    assert b"".join(chunks) == b"Hello Alice!\nHello Bob!\n"


# -- called from inside a running event loop ------------------------------------------------------


@pytest.mark.asyncio
async def test_sync_facade_works_inside_a_running_event_loop(
    sync_workflow: afs.Workflow,
) -> None:
    asyncio.get_running_loop()  # a loop runs here, as in a Jupyter cell
    run = sync_workflow.start_run({"sleep": QUICK}, poll_interval=POLL, timeout=DEADLINE)
    assert run.is_success()
    assert greetings(sync_workflow, run) == ["Hello Alice!", "Hello Bob!"]


def test_sync_facade_works_inside_asyncio_run(
    sync_client: afs.Flowserv, group_id: str
) -> None:
    async def cell() -> tuple[afs.Run, list[str]]:
        workflow = afs.Workflow("sleeper", group_id, service=sync_client)
        run = workflow.start_run({"sleep": QUICK, "greeting": "Yo"}, poll_interval=POLL,
                                 timeout=DEADLINE)
        return run, greetings(workflow, run)

    run, lines = asyncio.run(cell())
    assert run.is_success()
    assert lines == ["Yo Alice!", "Yo Bob!"]


def test_sync_client_created_inside_a_running_event_loop(
    server: FlowservServer, user: dict[str, Any], group_id: str
) -> None:
    async def cell() -> afs.Run:
        with afs.Flowserv(server.url, token=user["token"]) as fs:
            workflow = fs.workflow("sleeper", group_id)
            return workflow.start_run({"sleep": QUICK}, poll_interval=POLL, timeout=DEADLINE)

    assert asyncio.run(cell()).is_success()
