"""What the command line says after Ctrl-C (no server needed)."""

from __future__ import annotations

from aioflowserv import Run, RunState
from aioflowserv.cli.progress import interrupt_report


def runs(count: int, group: str = "g1") -> list[Run]:
    return [Run(run_id=f"run{i:02d}", state=RunState.RUNNING, group_id=group) for i in range(count)]


def test_lists_the_active_runs_and_how_to_resume_or_cancel_them() -> None:
    assert interrupt_report(runs(2)) == [
        "Interrupted.",
        "2 runs still active on the server (not canceled):",
        "  run00",
        "  run01",
        "Resume watching: aioflowserv watch run00 run01",
        "Cancel them:     aioflowserv cancel run00 run01",
    ]


def test_many_runs_of_one_group_are_resumed_by_group() -> None:
    lines = interrupt_report(runs(25))
    assert "Resume watching: aioflowserv watch --group g1" in lines
    assert len([line for line in lines if line.startswith("  run")]) == 25


def test_says_which_runs_were_canceled_with_cancel_on_interrupt() -> None:
    lines = interrupt_report(runs(1), canceled=True)
    assert lines[1:] == ["Canceled 1 active run (--cancel-on-interrupt):", "  run00"]


def test_counts_argument_sets_that_were_not_submitted() -> None:
    lines = interrupt_report([], not_submitted=3)
    assert lines == ["Interrupted.", "3 argument sets not submitted.", "No run is active any more."]
