"""Live progress of many runs, for people: counts by state, rate and time left.

``progress=True`` on ``start_runs``, ``wait_all``, ``sweep`` and ``optimize``
opens a :class:`Progress` for the call (:func:`open_progress`). It is told each
run's snapshot as it starts and at every state change (:meth:`Progress.update`)
and draws where the user looks:

- in a notebook (an IPython kernel), HTML updated in place through an IPython
  display handle (``display(..., display_id=True)``, then ``handle.update``);
- in a terminal (stderr is a tty), a rich live line when rich is installed;
- nothing anywhere else (a pipe, a log file, a CI job): :func:`open_progress`
  returns None and the call costs nothing more.

This module holds the state (:class:`Tally`: the latest state of each run, the
runs ended while watched, the rate and the time left, on an injectable clock)
and the updating (:class:`Progress`: at most :data:`MAX_DRAWS_PER_SECOND`
drawings a second, the last state always drawn on close). What is drawn is
``_display``'s (``progress_html``, ``progress_rich``, ``progress_summary``),
shared with the command line, whose ``Board`` is a :class:`Tally` and whose
live line is a :class:`Progress` on a :class:`TerminalSurface`. IPython and
rich are imported only when a display is opened.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

from ._display import ProgressFigures, progress_html, progress_rich
from ._models import Run, RunInfo, RunState

__all__ = [
    "MAX_DRAWS_PER_SECOND",
    "MIN_RATE_SECONDS",
    "NotebookSurface",
    "Progress",
    "Surface",
    "TerminalSurface",
    "Tally",
    "find_surface",
    "open_progress",
]

MAX_DRAWS_PER_SECOND = 4.0
"""A live display is drawn at most this often (the last state is always drawn on close)."""

MIN_RATE_SECONDS = 1.0
"""No rate (nor time left) is shown before a display has been open this long."""

Clock = Callable[[], float]
"""Seconds on a monotonic clock (``time.monotonic``; tests pass a virtual one)."""


class Tally:
    """The latest state of each run followed, and how fast they end.

    ``expected`` is how many runs are to be followed in all (0: as many as
    are known). The rate counts only the runs seen ending while followed (a
    run first seen already ended is finished, not part of the rate).
    """

    def __init__(self, expected: int = 0, *, clock: Clock = time.monotonic) -> None:
        self.states: dict[str, RunState] = {}
        self.expected = expected
        self.ended = 0
        self._clock = clock
        self.started = clock()

    @property
    def total(self) -> int:
        """How many runs are followed (or expected, while they are being started)."""
        return max(len(self.states), self.expected)

    @property
    def finished(self) -> int:
        """How many of them are no longer active."""
        return sum(1 for state in self.states.values() if not state.is_active)

    def elapsed(self) -> float:
        """Seconds since the tally started."""
        return max(0.0, self._clock() - self.started)

    def update(self, run: Run | RunInfo) -> bool:
        """Record a run's state (a new run too); True when it changed.

        A stale snapshot (active, of a run already seen ended) is ignored.
        """
        old = self.states.get(run.run_id)
        if old is not None and (old is run.state or (not old.is_active and run.is_active())):
            return False
        self.states[run.run_id] = run.state
        if old is not None and old.is_active and not run.is_active():
            self.ended += 1
        return True

    def counts(self) -> dict[RunState, int]:
        """How many runs are in each state (every state, in order)."""
        counts = dict.fromkeys(RunState, 0)
        for state in self.states.values():
            counts[state] += 1
        return counts

    def rate(self) -> float | None:
        """Runs ended per second while followed (None until one ended)."""
        elapsed = self.elapsed()
        if not self.ended or elapsed < MIN_RATE_SECONDS:
            return None
        return self.ended / elapsed

    def eta(self, total: int | None) -> float | None:
        """Seconds left at the current rate for ``total`` runs (None: unknown)."""
        rate = self.rate()
        if total is None or rate is None:
            return None
        return max(0, total - self.finished) / rate

    def figures(self, title: str, total: int | None = None) -> ProgressFigures:
        """What to draw now (``total`` None: this tally's own, when it knows one)."""
        if total is None and self.expected:
            total = self.total
        elif total is not None:
            total = max(total, len(self.states))
        return ProgressFigures(
            title=title, counts=tuple(self.counts().items()), finished=self.finished,
            total=total, elapsed=self.elapsed(), rate=self.rate(), eta=self.eta(total),
        )


class Surface(Protocol):
    """Where a live display is drawn: a notebook's display handle, a terminal line."""

    def draw(self, figures: ProgressFigures) -> None:
        """Show ``figures`` in place of what was shown before."""

    def close(self) -> None:
        """Stop drawing (what was drawn last stays)."""


class NotebookSurface:
    """HTML updated in place in a notebook, through an IPython display handle."""

    def __init__(self, display: Callable[..., Any], html: Callable[[str], Any]) -> None:
        self._display = display
        self._html = html
        self._handle: Any = None

    @classmethod
    def from_ipython(cls) -> NotebookSurface:
        """The surface of the running IPython kernel (IPython is imported here)."""
        from IPython.display import HTML, display  # type: ignore[import-not-found,unused-ignore]

        return cls(display, HTML)

    def draw(self, figures: ProgressFigures) -> None:
        """Display the HTML the first time, update it in place after."""
        page = self._html(progress_html(figures))
        if self._handle is None:
            self._handle = self._display(page, display_id=True)
        else:
            self._handle.update(page)

    def close(self) -> None:
        """Nothing to stop: the last drawing stays in the cell's output."""


class TerminalSurface:
    """A rich live line on a terminal (rich is imported here)."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = console if console is not None else Console(stderr=True)
        self._live = Live(console=self.console, auto_refresh=False, transient=False)
        self._started = False

    def draw(self, figures: ProgressFigures) -> None:
        """Redraw the line with ``figures``."""
        if not self._started:
            self._live.start()
            self._started = True
        self._live.update(progress_rich(figures), refresh=True)

    def close(self) -> None:
        """Stop the live line (it stays on the screen)."""
        if self._started:
            self._live.stop()
            self._started = False


def _in_notebook() -> bool:
    """True inside an IPython kernel (Jupyter, VS Code...); IPython is never imported here."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    if get_ipython is None:
        return False
    try:
        shell = get_ipython()
    except Exception:
        return False
    return shell is not None and getattr(shell, "kernel", None) is not None


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def find_surface() -> Surface | None:
    """Where a display can be drawn now: a notebook, else a terminal with rich, else None."""
    if _in_notebook():
        try:
            return NotebookSurface.from_ipython()
        except ImportError:
            return None
    if _is_terminal(sys.stderr):
        try:
            return TerminalSurface()
        except ImportError:  # rich is not installed
            return None
    return None


class Progress:
    """The live display of one call: fed with run snapshots, closed when the call ends.

    It draws on ``surface`` at most :data:`MAX_DRAWS_PER_SECOND` times a second
    (an update that comes sooner only changes the state) and once more on
    :meth:`close`. ``total`` is how many runs the call expects (None: unknown;
    no time left is shown then).
    """

    def __init__(
        self,
        total: int | None,
        title: str,
        surface: Surface | None = None,
        *,
        clock: Clock = time.monotonic,
        max_draws_per_second: float = MAX_DRAWS_PER_SECOND,
        tally: Tally | None = None,
    ) -> None:
        self.total = total
        self.title = title
        self.tally = tally if tally is not None else Tally(clock=clock)
        self.surface = surface
        self.draws = 0
        self._clock = clock
        self._interval = 1.0 / max_draws_per_second
        self._last_draw: float | None = None
        self._closed = False

    @property
    def runs(self) -> dict[str, RunState]:
        """The latest state of each run, by run id."""
        return self.tally.states

    def figures(self) -> ProgressFigures:
        """What the display shows now."""
        return self.tally.figures(self.title, self.total)

    def update(self, run: Run | RunInfo) -> None:
        """A run's latest snapshot (a start or a state change); drawn unless drawn just now."""
        if self._closed:
            return
        self.tally.update(run)
        now = self._clock()
        if self._last_draw is None or now - self._last_draw >= self._interval:
            self.draw()

    def draw(self) -> None:
        """Draw the current state now (the throttle is :meth:`update`'s)."""
        self._last_draw = self._clock()
        self.draws += 1
        if self.surface is not None:
            self.surface.draw(self.figures())

    def close(self) -> None:
        """The call ended: draw the last state once more and stop (again: nothing)."""
        if self._closed:
            return
        self._closed = True
        try:
            self.draw()
        finally:
            if self.surface is not None:
                self.surface.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_progress(
    progress: bool | None,
    *,
    total: int | None,
    title: str,
    surface: Surface | None = None,
) -> Progress | None:
    """The display a call asked for (``progress=True``), or None.

    None too when there is nowhere to draw: neither a notebook nor a terminal
    (:func:`find_surface`), unless a ``surface`` is given.
    """
    if not progress:
        return None
    if surface is None:
        surface = find_surface()
        if surface is None:
            return None
    return Progress(total, title, surface)
