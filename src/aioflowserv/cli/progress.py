"""Following runs on the command line: live progress, plain lines, and Ctrl-C.

A :class:`Board` keeps the latest snapshot of each followed run. The work is
the SDK's: :func:`submit_batch` starts runs with
:meth:`AsyncWorkflow.start_runs` and :func:`follow` waits with
:meth:`AsyncFlowserv.as_completed`, both with an ``on_change`` callback that
updates the board and the display. On a terminal the display is the SDK's live line
(``progress=True``: counts per state, rate, time left, elapsed time);
otherwise it prints one plain line per state
change. Ctrl-C is caught by :func:`interruptible`, which stops the work (the
SDK cancels the runs on the server too with ``--cancel-on-interrupt``) and
lets the command report which runs are still active.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal

import anyio
import attrs
import click
from rich.console import Console

from .. import AsyncFlowserv, AsyncWorkflow, Run, RunBatch, RunInfo, RunWaitTimeout
from .._display import ProgressFigures, plural, state_counts
from .._progress import Progress as LiveProgress
from .._progress import Tally, TerminalSurface
from .output import ExitCode, make_console

if TYPE_CHECKING:
    from .arguments import ArgumentSet

__all__ = [
    "INTERRUPT_REASON",
    "Board",
    "Display",
    "Following",
    "Interrupt",
    "LiveDisplay",
    "Outcome",
    "PlainDisplay",
    "display_for",
    "follow",
    "interrupt_report",
    "interruptible",
    "report_interrupt",
    "submit_batch",
]

INTERRUPT_REASON = "interrupted by user (aioflowserv)"
"""The message of runs canceled by Ctrl-C with ``--cancel-on-interrupt``."""


class Board(Tally):
    """The latest known snapshot of each followed run, in the order given.

    A :class:`~aioflowserv._progress.Tally` (the SDK's live display counts,
    rates and times with the same one) that also keeps the runs themselves.
    """

    def __init__(self, runs: Sequence[Run] = (), expected: int = 0) -> None:
        super().__init__(expected)
        self.runs: dict[str, Run] = {}
        self.timed_out = False
        for run in runs:
            self.update(run)

    def update(self, run: Run | RunInfo) -> bool:
        """Record a snapshot (of a new run too); True when the run's state changed.

        A newer snapshot in the same state replaces the one kept; a stale one
        (active, of a run seen ended) is ignored.
        """
        old = self.runs.get(run.run_id)
        changed = super().update(run)
        stale = old is not None and not old.is_active() and run.is_active()
        if isinstance(run, Run) and not stale:
            self.runs[run.run_id] = run
        return changed

    def active(self) -> list[Run]:
        """Runs still active, in order."""
        return [run for run in self.runs.values() if run.is_active()]

    def summary(self) -> str:
        """``2 RUNNING, 3 SUCCESS, 1 ERROR`` (states with runs only)."""
        return state_counts(run.state for run in self.runs.values()) or "no runs"


class Display:
    """How progress is shown; the base class shows nothing."""

    def __init__(self, board: Board) -> None:
        self.board = board
        self.started = time.monotonic()

    def __enter__(self) -> Display:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def elapsed(self) -> float:
        """Seconds since the display started."""
        return time.monotonic() - self.started

    def update(self, run: Run) -> None:
        """Put a snapshot on the board; show it when the run's state changed."""
        if self.board.update(run):
            self.changed(run)

    def changed(self, run: Run) -> None:
        """A run changed state (its new snapshot is on the board)."""

    def note(self, text: str) -> None:
        """Say what is happening (submitting, waiting)."""


class PlainDisplay(Display):
    """One plain line per state change, for logs and pipes."""

    def __init__(self, board: Board, echo: Callable[[str], Any]) -> None:
        super().__init__(board)
        self._echo = echo

    def changed(self, run: Run) -> None:
        """Print ``  1.2s  <run id>  SUCCESS  [3/8 finished]``."""
        self._echo(
            f"{self.elapsed():6.1f}s  {run.run_id}  {run.state.value:<8}  "
            f"[{self.board.finished}/{self.board.total} finished]"
        )

    def note(self, text: str) -> None:
        """Print the note as its own line."""
        self._echo(f"{self.elapsed():6.1f}s  {text}")


class _BoardProgress(LiveProgress):
    """The live line of a board: every run on it (or expected) counts in the total."""

    def figures(self) -> ProgressFigures:
        return self.tally.figures(self.title, self.tally.total)


class LiveDisplay(Display):
    """A live line: a bar, counts per state, rate, time left and elapsed time.

    The SDK's ``progress=True`` line (:class:`~aioflowserv._progress.Progress`
    on a :class:`~aioflowserv._progress.TerminalSurface`): the same drawing,
    the same throttle (a few drawings a second, the last one on exit).
    """

    def __init__(self, board: Board, console: Console, description: str = "runs") -> None:
        super().__init__(board)
        self._progress = _BoardProgress(
            None, description, TerminalSurface(console), tally=board
        )

    def __enter__(self) -> LiveDisplay:
        self._progress.draw()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._progress.close()

    def changed(self, run: Run) -> None:
        """Move the bar and the counts (at most a few times a second)."""
        self._progress.update(run)

    def note(self, text: str) -> None:
        """Show the note as the line's title."""
        self._progress.title = text
        self._progress.draw()


def display_for(board: Board, *, as_json: bool, plain: bool, only_live: bool = False) -> Display:
    """A live bar on a terminal, plain lines otherwise (nothing there when ``only_live``).

    Progress goes to stdout, or to stderr when stdout carries JSON.
    """
    console = make_console(stderr=as_json)
    if only_live and not console.is_terminal:
        return Display(board)
    if plain or not console.is_terminal:
        return PlainDisplay(board, lambda line: click.echo(line, err=as_json))
    return LiveDisplay(board, console)


@attrs.define
class Interrupt:
    """Set when Ctrl-C (SIGINT) ended the work of an :func:`interruptible` block."""

    caught: bool = False
    canceled: dict[str, Run] = attrs.Factory(dict)
    """The runs canceled on the server because of the interrupt (``--cancel-on-interrupt``)."""

    def on_change(self, display: Display) -> Callable[[Run], None]:
        """An SDK ``on_change``: updates ``display``, notes the runs canceled after Ctrl-C."""

        def on_change(run: Run) -> None:
            if self.caught and run.is_canceled():
                self.canceled[run.run_id] = run
            display.update(run)

        return on_change


@asynccontextmanager
async def interruptible() -> AsyncIterator[Interrupt]:
    """Run the block until it ends or Ctrl-C arrives; Ctrl-C cancels it and sets ``caught``.

    The block's own exceptions pass through unchanged. Where the event loop
    cannot catch signals (not the main thread, not asyncio), a Ctrl-C
    surfaces as ``KeyboardInterrupt`` as usual; where SIGINT is ignored (a
    background job), it stays ignored.
    """
    flag = Interrupt()
    with anyio.CancelScope() as scope:

        def on_sigint() -> None:
            flag.caught = True
            scope.cancel()

        loop: asyncio.AbstractEventLoop | None = None
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # ignored: a background job
            with contextlib.suppress(RuntimeError):  # not running on asyncio
                loop = asyncio.get_running_loop()
        try:
            if loop is not None:
                loop.add_signal_handler(signal.SIGINT, on_sigint)
        except (NotImplementedError, RuntimeError, ValueError):
            loop = None
        try:
            yield flag
        finally:
            if loop is not None:
                loop.remove_signal_handler(signal.SIGINT)


@attrs.frozen
class Following:
    """How runs are followed: the poll intervals, a deadline, and what Ctrl-C does."""

    poll_interval: float | None = None
    max_interval: float | None = None
    timeout: float | None = None
    cancel_on_interrupt: bool = False

    @classmethod
    def polling(
        cls, interval: float, timeout: float | None = None, cancel_on_interrupt: bool = False
    ) -> Following:
        """From the ``--interval`` option: the interval grows up to 5 s while nothing changes."""
        return cls(interval, max(interval, 5.0), timeout, cancel_on_interrupt)

    @property
    def cancel_remote(self) -> str | bool:
        """The SDK's ``cancel_remote``: cancel on the server when the work is interrupted."""
        return INTERRUPT_REASON if self.cancel_on_interrupt else False


async def follow(
    fs: AsyncFlowserv, display: Display, on_change: Callable[[Run], Any], how: Following
) -> None:
    """Wait until every run on the board ended (or the deadline), updating the display."""
    active = display.board.active()
    if not active:
        return
    try:
        async for run in fs.as_completed(
            active, how.timeout, poll_interval=how.poll_interval, max_interval=how.max_interval,
            on_change=on_change, cancel_remote=how.cancel_remote,
        ):
            display.update(run)
    except RunWaitTimeout as exc:
        display.board.timed_out = True
        for run in exc.pending:
            display.update(run)


@attrs.define
class Outcome:
    """What a submission (and its wait) came to."""

    board: Board
    origins: dict[str, ArgumentSet] = attrs.Factory(dict)
    """The argument set of each started run, by run id, in input order."""
    errors: list[tuple[ArgumentSet, BaseException]] = attrs.Factory(list)
    not_submitted: int = 0
    interrupted: bool = False
    canceled: list[Run] = attrs.Factory(list)
    batch: RunBatch | None = None
    """What ``start_runs`` returned (with the concurrency it settled on), unless interrupted."""

    def runs(self) -> list[Run]:
        """The latest snapshot of each started run, in input order where it is known.

        A batch interrupted while it was being submitted knows its runs only
        in the order they started.
        """
        unmatched = [run_id for run_id in self.board.runs if run_id not in self.origins]
        return [self.board.runs[run_id] for run_id in [*self.origins, *unmatched]]

    def record(self, sets: Sequence[ArgumentSet], results: Sequence[Run | BaseException]) -> None:
        """Match each result of ``start_runs`` with its argument set."""
        for aset, result in zip(sets, results, strict=True):
            if isinstance(result, Run):
                self.origins[result.run_id] = aset
            else:
                self.errors.append((aset, result))


async def submit_batch(
    wf: AsyncWorkflow,
    sets: Sequence[ArgumentSet],
    display: Display,
    how: Following,
    *,
    concurrency: int | Literal["auto"] = "auto",
    wait: bool = False,
    manifest: str | None = None,
) -> Outcome:
    """Start one run per argument set; with ``wait``, follow them until they end.

    ``concurrency`` and ``manifest`` are those of :meth:`AsyncWorkflow.start_runs`.

    Ctrl-C stops submitting and waiting (runs already started are left alone
    unless ``how.cancel_on_interrupt``). Submission errors are collected, not raised.
    """
    board = display.board
    outcome = Outcome(board)
    async with interruptible() as interrupt:
        on_change = interrupt.on_change(display)
        board.expected = len(sets)
        display.note(f"submitting {plural(len(sets), 'run')} to group {wf.group_id}")
        results = await wf.start_runs(
            [aset.arguments for aset in sets], concurrency=concurrency, on_change=on_change,
            return_exceptions=True, cancel_remote=how.cancel_remote, manifest=manifest,
        )
        outcome.batch = results
        outcome.record(sets, results)
        board.expected = 0
        if wait:
            display.note(f"waiting for {plural(len(board.active()), 'active run')}")
            await follow(wf.service, display, on_change, how)
    board.expected = 0
    outcome.not_submitted = len(sets) - len(board.runs) - len(outcome.errors)
    outcome.interrupted = interrupt.caught
    outcome.canceled = list(interrupt.canceled.values())
    return outcome


def report_interrupt(
    runs: Sequence[Run],
    canceled: Sequence[Run] = (),
    *,
    group_id: str | None = None,
    not_submitted: int = 0,
) -> int:
    """Say on stderr which of ``runs`` are still active (or were canceled); returns 130."""
    active = [run for run in runs if run.is_active()]
    lines = interrupt_report(
        canceled or active, group_id=group_id, canceled=bool(canceled),
        not_submitted=not_submitted,
    )
    for line in lines:
        click.echo(line, err=True)
    return ExitCode.INTERRUPTED


def interrupt_report(
    active: Sequence[Run],
    *,
    group_id: str | None = None,
    canceled: bool = False,
    not_submitted: int = 0,
) -> list[str]:
    """What to say after Ctrl-C: which runs are still active and how to go on."""
    lines = ["Interrupted."]
    if not_submitted:
        lines.append(f"{plural(not_submitted, 'argument set')} not submitted.")
    if not active:
        lines.append("No run is active any more.")
        return lines
    ids = [run.run_id for run in active]
    if canceled:
        lines.append(f"Canceled {plural(len(ids), 'active run')} (--cancel-on-interrupt):")
        lines.extend(f"  {run_id}" for run_id in ids)
        return lines
    groups = {run.group_id for run in active}
    if group_id is None and len(groups) == 1:
        group_id = groups.pop()
    lines.append(f"{plural(len(ids), 'run')} still active on the server (not canceled):")
    lines.extend(f"  {run_id}" for run_id in ids)
    listed = " ".join(ids) if len(ids) <= 20 else None
    if listed is not None:
        lines.append(f"Resume watching: aioflowserv watch {listed}")
        lines.append(f"Cancel them:     aioflowserv cancel {listed}")
        return lines
    if group_id is not None:
        lines.append(f"Resume watching: aioflowserv watch --group {group_id}")
    lines.append("Cancel them:     aioflowserv cancel RUN_ID ...")
    return lines
