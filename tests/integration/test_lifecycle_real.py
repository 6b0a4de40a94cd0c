"""A group's runs as a stream, reruns, group-wide cancels and bulk downloads, on the real server."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.realserver import DEADLINE, POLL, QUICK

SUCCESS, RUNNING, ERROR = afs.RunState.SUCCESS, afs.RunState.RUNNING, afs.RunState.ERROR


@pytest.mark.asyncio
async def test_a_watch_sees_runs_started_by_another_client_once_per_change(
    workflow: afs.AsyncWorkflow, server: FlowservServer, user: dict[str, Any], group_id: str
) -> None:
    before = await workflow.start_run({"sleep": QUICK}, poll_interval=POLL, timeout=DEADLINE)
    seen: list[tuple[str, afs.RunState]] = []
    theirs: list[afs.Run] = []
    first_seen = anyio.Event()

    def all_ended() -> bool:
        final = {run_id for run_id, state in seen if not state.is_active}
        return bool(theirs) and {run.run_id for run in theirs} <= final

    async def watch() -> None:
        async with contextlib.aclosing(workflow.watch(POLL, max_interval=0.2)) as runs:
            async for run in runs:
                seen.append((run.run_id, run.state))
                first_seen.set()
                if all_ended():
                    return

    async with afs.AsyncFlowserv(server.url, token=user["token"]) as other:
        other_wf = await other.workflow("sleeper", group_id)
        with anyio.fail_after(DEADLINE):
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                await first_seen.wait()
                theirs += await other_wf.start_runs(
                    [{"sleep": 1.5}, {"sleep": 1.5, "exitcode": 1}], concurrency=1
                )
    assert seen[0] == (before.run_id, SUCCESS)  # what the group held: its current snapshot
    assert len(seen) == len(set(seen))  # no change reported twice
    for run, final in zip(theirs, (SUCCESS, ERROR), strict=True):
        states = [state for run_id, state in seen if run_id == run.run_id]
        # A watch may catch a run still PENDING inside the server's start request.
        assert states in ([RUNNING, final], [afs.RunState.PENDING, RUNNING, final])


def test_the_sync_watch_is_a_plain_iterator(sync_workflow: afs.Workflow) -> None:
    run = sync_workflow.start_run({"sleep": 0.5})
    states = []
    for snapshot in sync_workflow.watch(POLL, max_interval=0.2):
        states.append(snapshot.state)
        if not snapshot.is_active():
            break
    assert snapshot.run_id == run.run_id
    assert states == [RUNNING, SUCCESS]


@pytest.mark.asyncio
async def test_a_rerun_uses_the_same_arguments_and_uploaded_file(
    workflow: afs.AsyncWorkflow, client: afs.AsyncFlowserv, group_id: str, names_file: Path
) -> None:
    first = await workflow.start_run(
        {"names": names_file, "greeting": "Hey", "mode": "upper"},
        poll_interval=POLL, timeout=DEADLINE,
    )
    again = await workflow.rerun(first, poll_interval=POLL, timeout=DEADLINE)
    assert again.run_id != first.run_id
    assert again.is_success()
    assert again.arguments == first.arguments
    greetings = []
    for run in (first, again):
        entry = run.get_file("greetings")
        assert entry is not None
        greetings.append(await (await workflow.get_file(run.run_id, entry.id)).read())
    assert greetings[0] == greetings[1] == b"HEY CAROL!\nHEY DAVE!\n"


@pytest.mark.asyncio
async def test_a_rerun_whose_upload_was_deleted_names_the_file_and_starts_nothing(
    workflow: afs.AsyncWorkflow, client: afs.AsyncFlowserv, group_id: str, names_file: Path
) -> None:
    first = await workflow.start_run({"names": names_file}, poll_interval=POLL, timeout=DEADLINE)
    await client.delete_file(group_id, first.arguments["names"]["value"]["fileId"])
    with pytest.raises(afs.InvalidArgumentError) as raised:
        await workflow.rerun(first.run_id)
    assert raised.value.parameter == "names"
    assert [info.run_id for info in await workflow.list_runs()] == [first.run_id]


def test_the_sync_rerun_of_a_failed_run_fails_the_same_way(sync_client: afs.Flowserv,
                                                           sync_workflow: afs.Workflow) -> None:
    failed = sync_workflow.start_run({"exitcode": 4}, poll_interval=POLL, timeout=DEADLINE)
    again = sync_client.rerun(failed.run_id, poll_interval=POLL, timeout=DEADLINE)
    assert again.is_error()
    assert again.messages()[-1] == failed.messages()[-1]


@pytest.mark.asyncio
async def test_cancel_runs_cancels_the_active_runs_with_the_reason(
    workflow: afs.AsyncWorkflow, client: afs.AsyncFlowserv
) -> None:
    done = await workflow.start_run({"sleep": QUICK}, poll_interval=POLL, timeout=DEADLINE)
    long = await workflow.start_runs([{"sleep": 30}, {"sleep": 30}], concurrency=1)
    assert await workflow.cancel_runs(states=["PENDING"]) == []  # none is pending
    canceled = await workflow.cancel_runs(reason="nightly stop")
    assert sorted(run.run_id for run in canceled) == sorted(run.run_id for run in long)
    for run in await client.get_runs([run.run_id for run in long]):
        assert run.is_canceled()
        assert run.messages() == ["nightly stop"]
    assert (await workflow.poll_run(done.run_id)).is_success()
    assert await workflow.cancel_runs() == []  # nothing active any more


class Counting(httpx.AsyncHTTPTransport):
    """A real transport that counts the requests of each path."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths[request.url.path.rsplit("/api/v1/", 1)[-1]] += 1
        return await super().handle_async_request(request)


@pytest.mark.asyncio
async def test_a_bulk_download_interrupted_and_resumed_fetches_nothing_twice(
    server: FlowservServer, user: dict[str, Any], group_id: str, tmp_path: Path
) -> None:
    counting = Counting()
    async with afs.AsyncFlowserv(server.url, token=user["token"], transport=counting) as fs:
        wf = await fs.workflow("sleeper", group_id)
        runs = await wf.start_runs(
            [{"sleep": QUICK, "greeting": f"Hi {i}"} for i in range(4)] + [{"exitcode": 2}],
            concurrency=1, poll_interval=POLL, timeout=DEADLINE,
        )
        first: list[afs.RunDownload] = []
        with anyio.CancelScope() as interrupted:

            def stop_after_two(item: afs.RunDownload) -> None:
                first.append(item)
                if len(first) == 2:
                    interrupted.cancel()  # Ctrl-C, say

            await wf.download_results(tmp_path, concurrency=1, on_download=stop_after_two)
        assert interrupted.cancelled_caught
        fetched_before = Counter(counting.paths)
        rest = await wf.download_results(tmp_path, concurrency=2)
    assert [item.run_id for item in rest] == [run.run_id for run in runs]
    assert [item.skipped for item in rest] == [True, True, False, False, False]
    archives = {path: n for path, n in counting.paths.items() if path.endswith("/archive")}
    assert archives == {f"runs/{run.run_id}/downloads/archive": 1 for run in runs[:4]}
    for item in first:  # the runs on disk were not even asked for again
        assert counting.paths[f"runs/{item.run_id}"] == fetched_before[f"runs/{item.run_id}"]
    for run, item in zip(runs, rest, strict=True):
        meta = json.loads(item.metadata.read_text())
        assert meta["state"] == run.state.value
        assert meta["arguments"] == dict(run.arguments)
    assert (rest[3].directory / "results" / "greetings.txt").read_text().startswith("Hi 3 ")
    assert rest[4].files == ()
    assert "failing on purpose" in json.loads(rest[4].metadata.read_text())["messages"][-1]
