"""The run work behind ``submit``, ``watch``, ``cancel`` and ``demo``, on the SDK's public API.

Submission goes through :meth:`AsyncWorkflow.start_run`, one call per
argument set under a concurrency limit, so that every created run is known
the moment it exists, even when Ctrl-C cuts the batch short. Watching is
:func:`aioflowserv._cli_progress.follow` (``as_completed`` with ``on_change``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import anyio
import attrs

from ._cli_args import ArgumentSet
from ._cli_common import CLIError, ExitCode, plural
from ._cli_progress import Board, Display, follow, interruptible
from ._client import AsyncFlowserv
from ._errors import FlowservError, InvalidRequestError
from ._models import Run
from ._workflow import AsyncWorkflow

__all__ = ["Outcome", "cancel_runs", "fetch_runs", "submit_and_follow"]

CANCEL_TIMEOUT = 15.0
INTERRUPT_REASON = "interrupted by user (aioflowserv)"


@attrs.define
class Outcome:
    """What a submission (and its wait) came to."""

    board: Board
    submitted: list[tuple[ArgumentSet, Run]] = attrs.Factory(list)
    errors: list[tuple[ArgumentSet, BaseException]] = attrs.Factory(list)
    not_submitted: int = 0
    interrupted: bool = False
    canceled: list[Run] = attrs.Factory(list)

    def final_runs(self) -> list[Run]:
        """The latest snapshot of each submitted run, in input order."""
        return [self.board.runs[run.run_id] for _, run in self.submitted]


async def submit_and_follow(
    fs: AsyncFlowserv,
    wf: AsyncWorkflow,
    sets: Sequence[ArgumentSet],
    display: Display,
    *,
    concurrency: int = 8,
    wait: bool = False,
    timeout: float | None = None,
    poll_interval: float | None = None,
    max_interval: float | None = None,
    cancel_on_interrupt: bool = False,
) -> Outcome:
    """Start one run per argument set; with ``wait``, follow them until they end.

    Ctrl-C stops submitting and waiting (runs already started are left alone
    unless ``cancel_on_interrupt``). Submission errors are collected, not raised.
    """
    board = display.board
    outcome = Outcome(board)
    results: list[Run | BaseException | None] = [None] * len(sets)
    limiter = anyio.CapacityLimiter(concurrency)

    async def submit(index: int) -> None:
        async with limiter:
            try:
                run = await wf.start_run(sets[index].arguments)
            except (FlowservError, OSError) as exc:
                results[index] = exc
                return
            results[index] = run
            board.add(run)
            display.changed(run)

    async with interruptible() as interrupt:
        board.expected = len(sets)
        display.note(f"submitting {plural(len(sets), 'run')} to group {wf.group_id}")
        async with anyio.create_task_group() as tg:
            for index in range(len(sets)):
                tg.start_soon(submit, index)
        board.expected = 0
        if wait:
            display.note(f"waiting for {plural(len(board.active()), 'active run')}")
            await follow(
                fs, board, display, timeout=timeout, poll_interval=poll_interval,
                max_interval=max_interval,
            )
    for aset, result in zip(sets, results, strict=True):
        if isinstance(result, Run):
            outcome.submitted.append((aset, result))
        elif isinstance(result, BaseException):
            outcome.errors.append((aset, result))
        else:
            outcome.not_submitted += 1
    board.expected = 0
    outcome.interrupted = interrupt.caught
    if interrupt.caught and cancel_on_interrupt:
        outcome.canceled = await cancel_active(fs, board)
    return outcome


async def follow_interruptibly(
    fs: AsyncFlowserv,
    display: Display,
    *,
    timeout: float | None = None,
    poll_interval: float | None = None,
    max_interval: float | None = None,
    cancel_on_interrupt: bool = False,
) -> tuple[bool, list[Run]]:
    """Follow the board's runs; returns (interrupted, runs canceled on interrupt)."""
    async with interruptible() as interrupt:
        active = len(display.board.active())
        display.note(
            f"watching {plural(display.board.total, 'run')} ({active} active, "
            f"{display.board.total - active} finished)"
        )
        await follow(
            fs, display.board, display, timeout=timeout, poll_interval=poll_interval,
            max_interval=max_interval,
        )
    canceled: list[Run] = []
    if interrupt.caught and cancel_on_interrupt:
        canceled = await cancel_active(fs, display.board)
    return interrupt.caught, canceled


async def cancel_active(fs: AsyncFlowserv, board: Board) -> list[Run]:
    """Cancel the board's active runs (shielded from Ctrl-C, with a deadline)."""
    canceled: list[Run] = []

    async def cancel(run: Run) -> None:
        try:
            result = await fs.cancel_run(run.run_id, INTERRUPT_REASON)
        except FlowservError:
            return  # ended meanwhile, or gone
        board.update(result)
        canceled.append(result)

    with anyio.CancelScope(shield=True), anyio.move_on_after(CANCEL_TIMEOUT):
        async with anyio.create_task_group() as tg:
            for run in board.active():
                tg.start_soon(cancel, run)
    return canceled


async def fetch_runs(fs: AsyncFlowserv, run_ids: Sequence[str], concurrency: int = 8) -> list[Run]:
    """The current snapshots of runs, in the order given (the first error is raised)."""
    results: list[Run | None] = [None] * len(run_ids)
    errors: list[BaseException] = []
    limiter = anyio.CapacityLimiter(concurrency)

    async def fetch(index: int) -> None:
        async with limiter:
            try:
                results[index] = await fs.get_run(run_ids[index])
            except FlowservError as exc:
                errors.append(exc)

    async with anyio.create_task_group() as tg:
        for index in range(len(run_ids)):
            tg.start_soon(fetch, index)
    if errors:
        raise errors[0]
    return [run for run in results if run is not None]


@attrs.frozen
class ActionResult:
    """The outcome of cancelling or deleting one run."""

    run_id: str
    run: Run | None = None
    note: str | None = None
    error: BaseException | None = None


async def cancel_runs(
    fs: AsyncFlowserv, run_ids: Sequence[str], reason: str | None, concurrency: int = 8
) -> list[ActionResult]:
    """Cancel runs; a run that already ended is reported, not treated as an error."""

    async def cancel(run_id: str) -> ActionResult:
        try:
            return ActionResult(run_id, run=await fs.cancel_run(run_id, reason))
        except InvalidRequestError as exc:
            current = await _current(fs, run_id)
            if current is not None and not current.is_active():
                note = f"already {current.state.value}, nothing to cancel"
                return ActionResult(run_id, run=current, note=note)
            return ActionResult(run_id, error=exc)
        except FlowservError as exc:
            return ActionResult(run_id, error=exc)

    return await _each(run_ids, cancel, concurrency)


async def delete_runs(
    fs: AsyncFlowserv, run_ids: Sequence[str], concurrency: int = 8
) -> list[ActionResult]:
    """Delete runs; an active run is refused with a hint to cancel it first."""

    async def delete(run_id: str) -> ActionResult:
        try:
            await fs.delete_run(run_id)
            return ActionResult(run_id, note="deleted")
        except InvalidRequestError as exc:
            current = await _current(fs, run_id)
            if current is not None and current.is_active():
                hint = CLIError(
                    f"run {run_id} is still {current.state.value}: cancel it first "
                    f"(aioflowserv cancel {run_id})",
                    ExitCode.USAGE,
                )
                return ActionResult(run_id, run=current, error=hint)
            return ActionResult(run_id, error=exc)
        except FlowservError as exc:
            return ActionResult(run_id, error=exc)

    return await _each(run_ids, delete, concurrency)


async def _current(fs: AsyncFlowserv, run_id: str) -> Run | None:
    try:
        return await fs.get_run(run_id)
    except FlowservError:
        return None


async def _each(
    run_ids: Sequence[str], act: Callable[[str], Awaitable[ActionResult]], concurrency: int
) -> list[ActionResult]:
    results: list[ActionResult | None] = [None] * len(run_ids)
    limiter = anyio.CapacityLimiter(concurrency)

    async def run_one(index: int) -> None:
        async with limiter:
            results[index] = await act(run_ids[index])

    async with anyio.create_task_group() as tg:
        for index in range(len(run_ids)):
            tg.start_soon(run_one, index)
    return [result for result in results if result is not None]
