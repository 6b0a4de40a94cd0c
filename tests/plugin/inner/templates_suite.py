"""Run inside an inner pytest session whose ini file installs a template (as test_mine.py)."""

import pytest

import aioflowserv as afs


@pytest.fixture
def flowserv_workflow_id() -> str:
    return "mine"


def test_my_own_workflow_runs_on_the_server(
    flowserv_sync_client: afs.Flowserv, flowserv_group: str
) -> None:
    workflows = {w.id for w in flowserv_sync_client.list_workflows()}
    assert workflows == {"sleeper", "types", "quadratic", "mine"}
    wf = flowserv_sync_client.workflow("mine", flowserv_group)
    run = wf.start_run({"score": 2.5}, poll_interval=0.1, timeout=60)
    assert run.is_success()
    board = wf.leaderboard()
    assert board is not None
    assert [row.results["score"] for row in board.rows] == [2.5]
