"""Watching many runs on the real flowServ server: batch submission and as_completed.

Runs sleep 1-2 s so that starting many at once does not trip the server's
race that leaves a fast run RUNNING forever; every wait has a deadline all
the same.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.transports import CountingTransport

DEADLINE = 45.0
TICK = 0.25


def assert_completion_order(runs: list[afs.Run], ended_in: dict[str, int]) -> None:
    """Runs are yielded in the order the listings showed them ended; within one
    listing, in the order they ended on the server (``finishedAt``).

    The server may commit a run's final state a while after its ``finishedAt``
    (long on a loaded machine), so the listings, not the timestamps alone, say
    which run the SDK could have known about first.
    """
    for earlier, later in itertools.pairwise(runs):
        assert ended_in[earlier.run_id] <= ended_in[later.run_id]
        if ended_in[earlier.run_id] == ended_in[later.run_id]:
            assert earlier.finished_at is not None
            assert later.finished_at is not None
            assert earlier.finished_at <= later.finished_at


@pytest.mark.asyncio
async def test_start_runs_then_as_completed_yields_every_run_once_in_completion_order(
    server: FlowservServer, user: dict[str, Any], group_id: str
) -> None:
    transport = CountingTransport()
    async with afs.AsyncFlowserv(server.url, token=user["token"], transport=transport) as fs:
        workflow = await fs.workflow("sleeper", group_id)
        sleeps = [1.0 + (i % 5) * 0.25 for i in range(20)]
        runs = await workflow.start_runs([{"sleep": s} for s in sleeps], concurrency=8)
        assert [run.arguments["sleep"] for run in runs] == sleeps
        transport.counts.clear()
        started = time.monotonic()
        yielded = [
            run async for run in workflow.as_completed(
                runs, timeout=DEADLINE, poll_interval=TICK, max_interval=TICK
            )
        ]
        elapsed = time.monotonic() - started
    assert sorted(run.run_id for run in yielded) == sorted(run.run_id for run in runs)
    assert all(run.is_success() for run in yielded)
    assert_completion_order(yielded, transport.ended_in)
    # One fetch per run (each when it ended) and one listing per tick for the whole batch.
    assert transport.counts["GET runs/{id}"] == 20
    assert transport.counts["GET groups/{id}/runs"] <= elapsed / TICK + 2
    assert set(transport.counts) == {"GET runs/{id}", "GET groups/{id}/runs"}


@pytest.mark.asyncio
async def test_start_runs_with_poll_interval_returns_final_runs_in_input_order(
    workflow: afs.AsyncWorkflow,
) -> None:
    sleeps = [1.5, 1.0, 1.25, 1.0]
    runs = await workflow.start_runs(
        [{"sleep": s, "greeting": f"hi {i}"} for i, s in enumerate(sleeps)],
        concurrency=4, poll_interval=TICK, timeout=DEADLINE,
    )
    assert [run.arguments["greeting"] for run in runs] == [f"hi {i}" for i in range(4)]
    assert all(run.is_success() and run.get_file("result") for run in runs)


def test_sync_start_runs_then_as_completed_over_a_plain_iterator(
    server: FlowservServer, user: dict[str, Any], group_id: str
) -> None:
    transport = CountingTransport()
    sleeps = [1.0, 1.5, 1.25, 1.0, 1.5, 1.25]
    with afs.Flowserv(server.url, token=user["token"], transport=transport) as fs:
        sync_workflow = fs.workflow("sleeper", group_id)
        runs = sync_workflow.start_runs([{"sleep": s} for s in sleeps], concurrency=3)
        assert [run.arguments["sleep"] for run in runs] == sleeps
        yielded = list(
            sync_workflow.as_completed(
                runs, timeout=DEADLINE, poll_interval=TICK, max_interval=TICK
            )
        )
    assert sorted(run.run_id for run in yielded) == sorted(run.run_id for run in runs)
    assert all(run.is_success() for run in yielded)
    assert_completion_order(yielded, transport.ended_in)
