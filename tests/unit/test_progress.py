"""The live progress display (``_progress``): state, rate and time left, throttle, surfaces.

The state is checked on a virtual clock (a plain counter the test moves),
the throttle by construction (how many drawings a burst of updates makes),
the drawings by rendering them (rich into a string, HTML as text), and the
notebook path through a fake IPython whose display handle records its
updates. The wiring (``start_runs``/``wait_all`` with ``progress=True``) runs
against the fake flowServ, on anyio's virtual clock.
"""

from __future__ import annotations

import io
import sys
import types
from typing import Any

import pytest
from rich.console import Console

import aioflowserv as afs
from aioflowserv import _display
from aioflowserv._progress import (
    MAX_DRAWS_PER_SECOND,
    NotebookSurface,
    Progress,
    Tally,
    TerminalSurface,
    find_surface,
    open_progress,
)
from aioflowserv.testing import FakeFlowserv

P, R, S, E, C = (afs.RunState.PENDING, afs.RunState.RUNNING, afs.RunState.SUCCESS,
                 afs.RunState.ERROR, afs.RunState.CANCELED)


class Clock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run(run_id: str, state: afs.RunState) -> afs.Run:
    return afs.Run(run_id=run_id, state=state)


class Recorder:
    """A surface that keeps every drawing."""

    def __init__(self) -> None:
        self.drawn: list[_display.ProgressFigures] = []
        self.closed = 0

    def draw(self, figures: _display.ProgressFigures) -> None:
        self.drawn.append(figures)

    def close(self) -> None:
        self.closed += 1


# -- state, rate and time left ------------------------------------------------------------


def test_the_tally_counts_runs_by_state_and_ignores_stale_snapshots() -> None:
    tally = Tally()
    assert tally.update(run("a", P))
    assert tally.update(run("a", R))
    assert not tally.update(run("a", R))  # no change
    assert tally.update(run("b", S))
    assert tally.update(run("a", E))
    assert not tally.update(run("a", R))  # stale: a was seen ended
    assert tally.counts() == {P: 0, R: 0, S: 1, E: 1, C: 0}
    assert tally.finished == 2


def test_the_rate_counts_only_runs_seen_ending_and_gives_the_time_left() -> None:
    clock = Clock()
    tally = Tally(clock=clock)
    tally.update(run("old", S))  # ended before it was followed: finished, not in the rate
    for name in "abcd":
        tally.update(run(name, R))
    assert tally.rate() is None
    assert tally.eta(10) is None
    clock.now += 4.0
    tally.update(run("a", S))
    tally.update(run("b", E))
    assert tally.rate() == pytest.approx(0.5)  # two ended in four seconds
    # Ten runs, three finished: seven left at half a run a second.
    assert tally.eta(10) == pytest.approx(14.0)
    assert tally.eta(None) is None


def test_no_rate_is_shown_in_the_first_second() -> None:
    clock = Clock()
    tally = Tally(clock=clock)
    tally.update(run("a", R))
    clock.now += 0.5
    tally.update(run("a", S))
    assert tally.rate() is None
    clock.now += 0.5
    assert tally.rate() == pytest.approx(1.0)


def test_figures_carry_the_counts_the_total_and_the_clock() -> None:
    clock = Clock()
    progress = Progress(5, "runs", Recorder(), clock=clock)
    progress.update(run("a", R))
    clock.now += 2.0
    progress.update(run("a", S))
    figures = progress.figures()
    assert figures.title == "runs"
    assert dict(figures.counts)[S] == 1
    assert (figures.finished, figures.total, figures.elapsed) == (1, 5, 2.0)
    assert figures.rate == pytest.approx(0.5)
    assert figures.eta == pytest.approx(8.0)


def test_an_unknown_total_shows_no_time_left() -> None:
    clock = Clock()
    progress = Progress(None, "sweep", Recorder(), clock=clock)
    progress.update(run("a", R))
    clock.now += 2.0
    progress.update(run("a", S))
    assert progress.figures().total is None
    assert progress.figures().eta is None
    assert "1 ended" in _display.progress_summary(progress.figures())


# -- the throttle -------------------------------------------------------------------------


def test_a_burst_of_updates_draws_a_few_times_a_second_and_the_last_state_on_close() -> None:
    clock = Clock()
    surface = Recorder()
    progress = Progress(1000, "runs", surface, clock=clock)
    for index in range(1000):  # a thousand changes in two seconds
        progress.update(run(f"r{index}", S))
        clock.now += 0.002
    assert len(surface.drawn) <= 2 * MAX_DRAWS_PER_SECOND + 1
    progress.close()
    assert surface.drawn[-1].finished == 1000
    assert surface.closed == 1


def test_updates_far_apart_are_each_drawn() -> None:
    clock = Clock()
    surface = Recorder()
    with Progress(3, "runs", surface, clock=clock) as progress:
        for name in "abc":
            progress.update(run(name, S))
            clock.now += 1.0
    assert len(surface.drawn) == 4  # each update, and once more on close
    assert surface.closed == 1


def test_closing_twice_draws_once_and_updates_after_close_are_ignored() -> None:
    surface = Recorder()
    progress = Progress(1, "runs", surface, clock=Clock())
    progress.close()
    progress.close()
    progress.update(run("a", S))
    assert len(surface.drawn) == 1
    assert surface.closed == 1


# -- where it draws -----------------------------------------------------------------------


def test_nothing_is_drawn_when_the_output_is_neither_a_terminal_nor_a_notebook(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert find_surface() is None
    assert open_progress(True, total=3, title="runs") is None
    assert open_progress(None, total=3, title="runs") is None
    assert open_progress(False, total=3, title="runs", surface=Recorder()) is None


def test_a_terminal_gets_a_rich_live_line(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Tty())
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert isinstance(find_surface(), TerminalSurface)


def test_ipython_in_a_terminal_is_not_a_notebook(monkeypatch: pytest.MonkeyPatch) -> None:
    shell = types.SimpleNamespace()  # a terminal IPython shell has no kernel
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert find_surface() is None


class FakeHandle:
    def __init__(self, first: Any) -> None:
        self.shown = [first]

    def update(self, page: Any) -> None:
        self.shown.append(page)


@pytest.fixture
def notebook(monkeypatch: pytest.MonkeyPatch) -> list[FakeHandle]:
    """A fake IPython kernel: ``display(..., display_id=True)`` gives handles, kept here."""
    handles: list[FakeHandle] = []

    def display(page: Any, *, display_id: bool = False) -> FakeHandle:
        assert display_id is True
        handles.append(FakeHandle(page))
        return handles[-1]

    class HTML:
        def __init__(self, data: str) -> None:
            self.data = data

    shell = types.SimpleNamespace(kernel=object())
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell  # type: ignore[attr-defined]
    ipython_display = types.ModuleType("IPython.display")
    ipython_display.display = display  # type: ignore[attr-defined]
    ipython_display.HTML = HTML  # type: ignore[attr-defined]
    ipython.display = ipython_display  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", ipython_display)
    return handles


def test_a_notebook_display_is_updated_in_place(notebook: list[FakeHandle]) -> None:
    clock = Clock()
    surface = find_surface()
    assert isinstance(surface, NotebookSurface)
    with Progress(2, "runs of group g", surface, clock=clock) as progress:
        progress.update(run("a", R))
        clock.now += 1.0
        progress.update(run("a", S))
        clock.now += 1.0
        progress.update(run("b", E))
    assert len(notebook) == 1  # one output, updated in place
    pages = [page.data for page in notebook[0].shown]
    assert len(pages) == 4  # three updates and the close
    assert "runs of group g" in pages[0]
    assert "1&nbsp;running" in pages[0]
    assert "2/2" in pages[-1]
    assert "1&nbsp;success" in pages[-1]
    assert "1&nbsp;error" in pages[-1]


# -- the drawings -------------------------------------------------------------------------


def figures(**changes: Any) -> _display.ProgressFigures:
    base = _display.ProgressFigures(
        title="runs of group g", counts=((P, 1), (R, 2), (S, 4), (E, 1), (C, 0)),
        finished=5, total=10, elapsed=75.0, rate=0.5, eta=10.2,
    )
    return _display.ProgressFigures(**{**{
        name: getattr(base, name) for name in
        ("title", "counts", "finished", "total", "elapsed", "rate", "eta")
    }, **changes})


def test_the_summary_says_counts_rate_and_time_left() -> None:
    assert _display.progress_summary(figures()) == (
        "runs of group g: 5/10, 1 pending, 2 running, 4 success, 1 error; "
        "30 runs/min; ETA 0:11; elapsed 1:15"
    )


@pytest.mark.parametrize(
    ("rate", "text"),
    [(None, ""), (0.0, ""), (2.5, "2.5 runs/s"), (0.5, "30 runs/min"),
     (0.1, "6.0 runs/min"), (0.5 / 60, "0.5 runs/min")],
)
def test_rates_read_per_second_or_per_minute(rate: float | None, text: str) -> None:
    assert _display.rate_text(rate) == text


def test_clocks_cut_elapsed_time_and_round_up_time_left() -> None:
    assert _display.clock_text(59.9) == "0:59"
    assert _display.clock_text(3723) == "1:02:03"
    assert _display.eta_text(0.2) == "ETA 0:01"
    assert _display.eta_text(None) == ""


def test_the_html_escapes_the_title_and_colours_each_state() -> None:
    page = _display.progress_html(figures(title="<b>runs</b>"))
    assert "&lt;b&gt;runs&lt;/b&gt;" in page
    assert f"color:{_display.STATE_COLORS[E]}" in page
    assert "ETA 0:11" in page


def render(renderable: Any, width: int = 100) -> str:
    console = Console(file=io.StringIO(), force_terminal=True, width=width, color_system=None)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_the_rich_line_shows_title_bar_counts_rate_and_time_left() -> None:
    text = render(_display.progress_rich(figures()), width=130)
    assert text.count("\n") == 1  # one line
    assert "runs of group g" in text
    assert _display.BAR in text
    assert "5/10  1 pending  2 running  4 success  1 error  30 runs/min  ETA 0:11" in text
    assert "elapsed 1:15" in text


def test_a_narrow_terminal_cuts_the_title_not_the_figures() -> None:
    text = render(_display.progress_rich(figures(title="x" * 80)), width=90)
    assert text.count("\n") == 1
    assert "…" in text
    assert "ETA 0:11" in text
    assert "elapsed 1:15" in text


def test_the_terminal_surface_draws_into_its_console() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100, color_system=None)
    clock = Clock()
    with Progress(1, "runs", TerminalSurface(console), clock=clock) as progress:
        progress.update(run("a", R))
        clock.now += 1.0
        progress.update(run("a", S))
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert "0/1  1 running" in output
    assert "elapsed 0:01\n" in output
    assert "1/1  1 success" in output


# -- wired into the calls -----------------------------------------------------------------


@pytest.mark.anyio
async def test_start_runs_with_progress_shows_the_starts_and_the_ends(
    notebook: list[FakeHandle], fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    seen: list[str] = []
    runs = await workflow.start_runs(
        [{"sleep": 1}, {"sleep": 2}, {"sleep": 3}], poll_interval=0.5, progress=True,
        on_change=lambda run: seen.append(run.state.value),
    )
    assert all(run.is_success() for run in runs)
    assert seen.count("SUCCESS") == 3  # the caller's on_change still sees everything
    (handle,) = notebook
    last = handle.shown[-1].data
    assert "3/3" in last
    assert "3&nbsp;success" in last
    assert any("0/3" in page.data for page in handle.shown)


@pytest.mark.anyio
async def test_wait_all_with_progress_counts_every_run_given(
    notebook: list[FakeHandle], fake: FakeFlowserv, sdk: afs.AsyncFlowserv,
    workflow: afs.AsyncWorkflow,
) -> None:
    started = await workflow.start_runs([{"sleep": 1}, {"sleep": 2}])
    done = await workflow.wait_all(started, poll_interval=0.5, progress=True)
    assert [run.state for run in done] == [S, S]
    more = await workflow.start_runs([{"sleep": 1}])
    await sdk.wait_all([run.run_id for run in more], group_id=workflow.group_id,
                       poll_interval=0.5, progress=True)
    first, second = notebook
    assert "2/2" in first.shown[-1].data
    assert "1/1" in second.shown[-1].data


@pytest.mark.anyio
async def test_progress_in_a_pipe_draws_nothing_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, workflow: afs.AsyncWorkflow
) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    runs = await workflow.start_runs([{"sleep": 1}], poll_interval=0.5, progress=True)
    assert runs[0].is_success()
    assert sys.stderr.getvalue() == ""  # type: ignore[attr-defined]
