"""The shipped ``quadratic`` study workflow: its score depends on its arguments, as ranked.

The score is highest at x = 1.5, y = -0.5 with method "b"; without noise it is
the negated loss. ``fail=True`` makes a run fail. Runs against the real server.
"""

from __future__ import annotations

import pytest

import aioflowserv as afs
from tests.support.realserver import DEADLINE, POLL, QUICK, unique

pytestmark = pytest.mark.asyncio


async def test_the_best_arguments_rank_first_with_their_score(
    client: afs.AsyncFlowserv
) -> None:
    group = await client.create_group("quadratic", unique("study"))
    wf = await client.workflow("quadratic", group.id)
    best = {"x": 1.5, "y": -0.5, "method": "b", "sleep": QUICK}
    worse = {"x": 0.0, "y": 0.0, "method": "a", "sleep": QUICK}
    runs = await wf.start_runs([worse, best], poll_interval=POLL, timeout=DEADLINE)
    assert all(run.is_success() for run in runs)
    board = await wf.leaderboard(include_all=True)
    assert board is not None
    mine = [row for row in board.rows if row.group_id == group.id]
    assert [row.run_id for row in mine] == [runs[1].run_id, runs[0].run_id]
    assert mine[0].results["score"] == pytest.approx(1.0)
    assert mine[1].results["score"] == pytest.approx(-(1.5**2 + 0.5**2))
    assert mine[0].results["method"] == "b"


async def test_a_run_asked_to_fail_fails_with_a_message(
    client: afs.AsyncFlowserv
) -> None:
    group = await client.create_group("quadratic", unique("fails"))
    wf = await client.workflow("quadratic", group.id)
    run = await wf.start_run({"x": 1, "y": 1, "fail": True, "sleep": QUICK}, poll_interval=POLL,
                             timeout=DEADLINE)
    assert run.is_error()
    assert any("failing on purpose" in line for line in run.messages())
