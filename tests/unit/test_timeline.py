"""Runs on a time axis (``Timeline``, drawn by ``_display``): the geometry, and the HTML."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import aioflowserv as afs

T0 = datetime(2026, 11, 26, 15, 0, 0, tzinfo=timezone.utc)


def run(run_id: str, state: str, created: float, started: float | None,
        finished: float | None) -> afs.Run:
    def at(seconds: float | None) -> datetime | None:
        return None if seconds is None else T0 + timedelta(seconds=seconds)

    return afs.Run(run_id=run_id, state=afs.RunState(state), created_at=at(created),
                   started_at=at(started), finished_at=at(finished))


RUNS = [
    run("late", "SUCCESS", 2.0, 6.0, 9.0),  # queued 4 s
    run("first", "ERROR", 0.0, 0.5, 1.0),
    run("going", "RUNNING", 1.0, 1.5, None),
]


def test_spans_are_seconds_from_the_earliest_creation_oldest_first() -> None:
    timeline = afs.Timeline.from_runs(RUNS, now=T0 + timedelta(seconds=10))
    assert timeline.start == T0
    assert timeline.total == 10.0  # an active run stretches the axis to now
    assert [(s.run_id, s.created, s.started, s.finished) for s in timeline.spans] == [
        ("first", 0.0, 0.5, 1.0), ("going", 1.0, 1.5, None), ("late", 2.0, 6.0, 9.0),
    ]
    late = timeline.spans[2]
    assert (late.queued(timeline.total), late.ran(timeline.total)) == (4.0, 3.0)
    going = timeline.spans[1]
    assert going.ran(timeline.total) == 8.5  # still running at the end of the axis
    assert timeline.fraction(5.0) == 0.5


def test_without_active_runs_the_axis_ends_at_the_last_finish() -> None:
    timeline = afs.Timeline.from_runs(RUNS[:2], now=T0 + timedelta(hours=1))
    assert timeline.total == 9.0
    assert timeline.summary() == "2 runs: 1 SUCCESS, 1 ERROR; 9.0 s"


def test_runs_without_times_are_left_out() -> None:
    assert afs.Timeline.from_runs([afs.Run(run_id="x", state=afs.RunState.PENDING)]).spans == ()


def test_a_run_list_is_a_list_that_shows_a_timeline_in_html() -> None:
    runs = afs.RunList(RUNS)
    assert isinstance(runs, list)
    assert runs == RUNS
    html = runs._repr_html_()
    table, timeline = html.split("</table>", 1)
    assert table.count("<tr>") == 1 + 3  # the run table: a header, then a row per run
    assert timeline.count("<tr>") == 3  # then the timeline: a bar per run
    assert "3 runs: 1 RUNNING, 1 SUCCESS, 1 ERROR" in timeline
    assert "queued 4.00 s" in timeline
    assert "#dc322f" in timeline  # the ERROR run's color
    assert "<script" not in html


def test_the_html_escapes_run_ids() -> None:
    html = afs.RunList([run("<img src=x>", "SUCCESS", 0, 0, 1)])._repr_html_()
    assert "<img" not in html
    assert "&lt;img src=x&gt;" in html
