"""Sweeps against the real server (both deployments: see ``conftest.BOTH_DEPLOYMENTS``).

What a sweep promises is checked from outside the sweep: an observer with its
own client lists the group while the sweep runs, and the group's runs are
counted on the server afterwards.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.realserver import DEADLINE, LONG, POLL, QUICK, unique

pytestmark = pytest.mark.asyncio

SWEEP_DEADLINE = 300.0
"""Bounds a whole sweep (many runs one after the other), so that a stuck one fails, never hangs."""


async def test_a_sweep_never_has_more_than_max_active_runs_active(
    server: FlowservServer, user: dict[str, Any], workflow: afs.AsyncWorkflow
) -> None:
    seen: list[int] = []
    done = anyio.Event()

    async def observe() -> None:
        async with afs.AsyncFlowserv(server.url, token=user["token"]) as observer:
            while not done.is_set():
                infos = await observer.list_runs(workflow.group_id)
                seen.append(sum(info.is_active() for info in infos))
                await anyio.sleep(0.02)

    space = afs.grid(sleep=[QUICK, QUICK + 0.2], greeting=["a", "b", "c", "d"])
    async with anyio.create_task_group() as tg:
        tg.start_soon(observe)
        with anyio.fail_after(SWEEP_DEADLINE):
            result = await workflow.sweep(space, max_active=3, poll_interval=POLL)
        done.set()
    assert all(run.is_success() for run in result.runs)
    assert len(result.runs) == 8
    assert len(seen) > 5
    assert 1 <= max(seen) <= 3


async def test_a_second_identical_sweep_with_reuse_creates_no_run(
    client: afs.AsyncFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    space = afs.grid(sleep=[QUICK], greeting=["x", "y", "z"])
    with anyio.fail_after(SWEEP_DEADLINE):
        first = await workflow.sweep(space, max_active=2, poll_interval=POLL)
        before = len(await client.list_runs(workflow.group_id))
        again = await workflow.sweep(space, max_active=2, reuse="success", poll_interval=POLL)
    assert len(await client.list_runs(workflow.group_id)) == before == 3
    assert again.reused == 3
    assert [r.run_id for r in again.runs] == [r.run_id for r in first.runs]


async def test_max_failures_stops_an_always_failing_sweep(client: afs.AsyncFlowserv) -> None:
    group = await client.create_group("quadratic", unique("failing"))
    wf = await client.workflow("quadratic", group.id)
    space = afs.grid(x=[0, 1, 2, 3, 4], y=[0, 1], fail=True, sleep=0.3)
    with anyio.fail_after(SWEEP_DEADLINE):
        result = await wf.sweep(space, max_active=2, max_failures=2, poll_interval=POLL)
    created = len(await client.list_runs(group.id))
    assert 2 <= created <= 2 + 2
    assert result.stopped is not None
    assert "max_failures=2" in result.stopped
    assert len(result.not_started) == 10 - created
    (cause,) = result.failures()
    assert cause.count == created


async def test_retries_create_exactly_the_extra_runs(
    client: afs.AsyncFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    sets = [{"sleep": QUICK, "exitcode": 1}, {"sleep": QUICK}, {"sleep": QUICK, "exitcode": 2}]
    with anyio.fail_after(SWEEP_DEADLINE):
        result = await workflow.sweep(sets, max_active=3, retries=2, poll_interval=POLL)
    assert len(await client.list_runs(workflow.group_id)) == 3 + 1 + 3
    assert [record["attempts"] for record in result.to_records()] == [3, 1, 3]
    assert result.failures().total == 6


async def test_to_pandas_has_one_row_per_set_with_arguments_and_results(
    client: afs.AsyncFlowserv,
) -> None:
    group = await client.create_group("quadratic", unique("study"))
    wf = await client.workflow("quadratic", group.id)
    space = afs.zipped(x=[1.5, 0.0, -1.0], y=[-0.5, 0.0, 2.0], method=["b", "a", "c"],
                       sleep=0.3)
    with anyio.fail_after(SWEEP_DEADLINE):
        result = await wf.sweep(space, max_active=2, poll_interval=POLL)
    frame = result.to_pandas()
    assert len(frame) == 3
    assert {"x", "y", "method", "state", "run_id", "score", "loss"} <= set(frame.columns)
    assert list(frame["x"]) == [1.5, 0.0, -1.0]
    board = await wf.leaderboard(include_all=True)
    assert board is not None
    scores = {row.run_id: row.results["score"] for row in board.rows}
    assert list(frame["score"]) == [scores[run_id] for run_id in frame["run_id"]]
    assert frame["score"][0] == pytest.approx(1.0)


async def test_a_sweep_cancelled_mid_way_leaves_every_created_run_reported(
    client: afs.AsyncFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    reported: dict[str, afs.Run] = {}
    with anyio.fail_after(DEADLINE), anyio.CancelScope() as scope:

        def on_change(run: afs.Run) -> None:
            reported[run.run_id] = run
            if len(reported) == 2:
                scope.cancel()

        await workflow.sweep([{"sleep": LONG}] * 5, max_active=3, poll_interval=POLL,
                             on_change=on_change, cancel_remote="test over")
    created = {info.run_id for info in await client.list_runs(workflow.group_id)}
    assert 2 <= len(created) <= 3
    assert created == set(reported)
    finals = await client.get_runs(created)
    assert all(run.is_canceled() for run in finals)  # cancel_remote cleaned up
