"""Following runs on the command line: live progress, plain lines, tables, Ctrl-C.

A :class:`Board` keeps the latest snapshot of each followed run. The watching
itself is the SDK's: :func:`follow` runs :meth:`AsyncFlowserv.as_completed`
with an ``on_change`` callback that updates the board and the display. On a
terminal the display is a live bar (counts per state, elapsed time); otherwise
it prints one plain line per state change. Ctrl-C is caught by
:func:`interruptible`, which stops the waiting and lets the command report
which runs are still active.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import IO, Any

import anyio
import attrs
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from ._cli_common import plural, seconds
from ._client import AsyncFlowserv
from ._errors import RunWaitTimeout
from ._models import Run, RunState

__all__ = [
    "Board",
    "Interrupt",
    "LiveDisplay",
    "PlainDisplay",
    "follow",
    "interrupt_report",
    "interruptible",
    "make_console",
    "runs_table",
]

STATE_STYLE = {
    RunState.PENDING: "yellow",
    RunState.RUNNING: "cyan",
    RunState.SUCCESS: "green",
    RunState.ERROR: "red",
    RunState.CANCELED: "magenta",
}


def make_console(stream: IO[str] | None = None, *, stderr: bool = False) -> Console:
    """A console on stdout (or stderr), wide enough for run ids when not a terminal."""
    file = stream or (sys.stderr if stderr else sys.stdout)
    console = Console(file=file, highlight=False, soft_wrap=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(file=file, highlight=False, soft_wrap=False, width=200)
    return console


class Board:
    """The latest known snapshot of each followed run, in the order given."""

    def __init__(self, runs: Sequence[Run] = (), expected: int = 0) -> None:
        self.runs: dict[str, Run] = {run.run_id: run for run in runs}
        self.expected = expected
        self.timed_out = False

    @property
    def total(self) -> int:
        """How many runs are followed (or expected, while a batch is being submitted)."""
        return max(len(self.runs), self.expected)

    @property
    def finished(self) -> int:
        """How many of them are no longer active."""
        return sum(1 for run in self.runs.values() if not run.is_active())

    def add(self, run: Run) -> None:
        """Follow one more run (a new submission)."""
        self.runs[run.run_id] = run

    def update(self, run: Run) -> bool:
        """Record a snapshot; True when the run's state changed."""
        old = self.runs.get(run.run_id)
        if old is not None and not old.is_active() and run.is_active():
            return False  # a stale snapshot arriving late
        self.runs[run.run_id] = run
        return old is None or old.state is not run.state

    def active(self) -> list[Run]:
        """Runs still active, in order."""
        return [run for run in self.runs.values() if run.is_active()]

    def counts(self) -> dict[RunState, int]:
        """How many runs are in each state."""
        counts = {state: 0 for state in RunState}
        for run in self.runs.values():
            counts[run.state] += 1
        return counts

    def summary(self) -> str:
        """``2 RUNNING, 3 SUCCESS, 1 ERROR`` (states with runs only)."""
        parts = [f"{n} {state.value}" for state, n in self.counts().items() if n]
        return ", ".join(parts) or "no runs"


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


class LiveDisplay(Display):
    """A live progress bar with counts per state and the elapsed time."""

    def __init__(self, board: Board, console: Console, description: str = "runs") -> None:
        super().__init__(board)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=console,
            refresh_per_second=8,
        )
        self._task = self._progress.add_task(
            description, total=max(board.total, 1), completed=board.finished,
            counts=self._counts(),
        )

    def _counts(self) -> Text:
        text = Text()
        for state, n in self.board.counts().items():
            if n:
                if text:
                    text.append("  ")
                text.append(f"{n} {state.value.lower()}", style=STATE_STYLE[state])
        return text

    def __enter__(self) -> LiveDisplay:
        self._progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._refresh()
        self._progress.stop()

    def _refresh(self) -> None:
        self._progress.update(
            self._task, total=max(self.board.total, 1), completed=self.board.finished,
            counts=self._counts(),
        )

    def changed(self, run: Run) -> None:
        """Move the bar and the counts."""
        self._refresh()

    def note(self, text: str) -> None:
        """Show the note as the bar's description."""
        self._progress.update(self._task, description=text)
        self._refresh()


def display_for(
    board: Board, console: Console, *, plain: bool, echo: Callable[[str], Any], quiet: bool = False
) -> Display:
    """A live display on a terminal, plain lines otherwise (or nothing when quiet)."""
    if quiet:
        return Display(board)
    if plain or not console.is_terminal:
        return PlainDisplay(board, echo)
    return LiveDisplay(board, console)


async def follow(
    fs: AsyncFlowserv,
    board: Board,
    display: Display,
    *,
    timeout: float | None = None,
    poll_interval: float | None = None,
    max_interval: float | None = None,
) -> None:
    """Wait until every run on the board ended (or the deadline), updating the display."""

    def on_change(run: Run) -> None:
        if board.update(run):
            display.changed(run)

    active = board.active()
    if not active:
        return
    try:
        async for run in fs.as_completed(
            active, timeout, poll_interval=poll_interval, max_interval=max_interval,
            on_change=on_change,
        ):
            on_change(run)
    except RunWaitTimeout as exc:
        board.timed_out = True
        for run in exc.pending:
            on_change(run)


@attrs.define
class Interrupt:
    """Set when Ctrl-C (SIGINT) ended the work of an :func:`interruptible` block."""

    caught: bool = False


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
    groups = {run.group_id for run in active}
    if group_id is None and len(groups) == 1:
        group_id = groups.pop()
    if canceled:
        lines.append(f"Canceled {plural(len(ids), 'active run')} (--cancel-on-interrupt):")
        lines.extend(f"  {run_id}" for run_id in ids)
        return lines
    lines.append(
        f"{plural(len(ids), 'run')} still active on the server (not canceled):"
    )
    lines.extend(f"  {run_id}" for run_id in ids)
    listed = " ".join(ids) if len(ids) <= 20 else None
    if listed is not None:
        lines.append(f"Resume watching: aioflowserv watch {listed}")
    elif group_id is not None:
        lines.append(f"Resume watching: aioflowserv watch --group {group_id}")
    if listed is not None:
        lines.append(f"Cancel them:     aioflowserv cancel {listed}")
    else:
        lines.append("Cancel them:     aioflowserv cancel RUN_ID ...")
    return lines


def last_message(run: Run) -> str:
    """The most telling message line of a failed or canceled run."""
    for line in reversed(run.messages()):
        if line.strip():
            return line.strip()
    return ""


def runs_table(
    runs: Sequence[Run],
    *,
    arguments: Mapping[str, str] | None = None,
    results: Mapping[str, str] | None = None,
    id_width: int | None = None,
) -> Table:
    """The final table: run, [arguments], state, seconds, result or message.

    ``id_width`` shortens run ids to that many characters.
    """
    table = Table()
    table.add_column("run", no_wrap=True)
    if arguments is not None:
        table.add_column("arguments")
    table.add_column("state", no_wrap=True)
    table.add_column("seconds", justify="right", no_wrap=True)
    table.add_column("result")
    for run in runs:
        row: list[Any] = [run.run_id[:id_width] if id_width else run.run_id]
        if arguments is not None:
            row.append(arguments.get(run.run_id, ""))
        row.append(Text(run.state.value, style=STATE_STYLE[run.state]))
        duration = seconds(run)
        row.append(f"{duration:.1f}" if duration is not None else "-")
        if results is not None and run.run_id in results:
            row.append(results[run.run_id])
        elif run.is_success():
            row.append(", ".join(f.name for f in run.files()))
        else:
            row.append(last_message(run))
        table.add_row(*row)
    return table
