"""``submit``, ``watch``, ``cancel``, ``delete``, ``runs`` and ``download``: the work itself.

Submitting is :meth:`AsyncWorkflow.start_runs` and watching is
:meth:`AsyncFlowserv.as_completed` (see :mod:`aioflowserv.cli.progress`);
``cancel`` and ``delete`` report on each run around the SDK's ``cancel_run``
and ``delete_run``.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import anyio
import attrs
import click
from rich.table import Table

from ... import AsyncFlowserv, FlowservError, InvalidRequestError, ParameterIndex, Run, RunState
from ..app import call, command, json_option, options
from ..arguments import BATCH_FORMATS, ArgumentSet, check, parse_assignments, read_batch
from ..output import (
    CLIError,
    ExitCode,
    describe_arguments,
    error_message,
    exit_code_for,
    exit_code_for_runs,
    plural,
    print_json,
    print_table,
    run_info_json,
    run_json,
    runs_table,
)
from ..progress import (
    Board,
    Following,
    Interrupt,
    Outcome,
    display_for,
    follow,
    interruptible,
    report_interrupt,
    submit_batch,
)

__all__ = ["COMMANDS", "cancel", "delete", "download", "runs_command", "submit", "watch"]

F = TypeVar("F", bound=Callable[..., Any])

ACTION_CONCURRENCY = 8
"""How many runs ``cancel`` and ``delete`` act on at once."""


class Concurrency(click.ParamType):  # type: ignore[type-arg]  # generic in click >= 8.2 only
    """``auto``, or a number of submissions in flight at once (1 to 256)."""

    name = "auto|N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """``"auto"`` as it is, a number as an int."""
        if isinstance(value, int) or value == "auto":
            return value
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.fail(f"expected 'auto' or a number, got {value!r}", param, ctx)
        if not 1 <= number <= 256:
            self.fail(f"{number} is not in the range 1 to 256", param, ctx)
        return number


def follow_options(func: F) -> F:
    """``--interval``, ``--plain`` and ``--cancel-on-interrupt``: how runs are followed."""
    for option in reversed(
        [
            click.option(
                "--interval", default=0.5, show_default=True,
                type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
                help="The first poll interval when following runs (it grows while nothing "
                "changes).",
            ),
            click.option(
                "--plain", is_flag=True, help="One line per state change, even on a terminal."
            ),
            click.option(
                "--cancel-on-interrupt", is_flag=True,
                help="On Ctrl-C, cancel the runs still active (default: leave them running).",
            ),
        ]
    ):
        func = option(func)
    return func


@command("submit")
@click.argument("workflow")
@click.argument("group")
@click.option("-a", "--arg", "assignments", multiple=True, metavar="NAME=VALUE",
              help="An argument, converted by the parameter's type (repeatable). With --batch, "
              "a value for every line that the line does not set.")
@click.option("--batch", "batch", type=click.Path(dir_okay=False, allow_dash=True),
              help="A file with one argument set per line: JSON Lines or CSV ('-': stdin).")
@click.option("--format", "fmt", type=click.Choice(BATCH_FORMATS),
              help="The batch format (default: by extension, else by content).")
@click.option("--concurrency", default="auto", show_default=True, type=Concurrency(),
              help="Submissions in flight at once: 'auto' follows what the server sustains "
              "(at most 96), a number fixes it.")
@click.option("--manifest", type=click.Path(dir_okay=False), metavar="PATH",
              help="Record every start in this JSON Lines file; run the same command again "
              "(after a crash, say) and only what has no run yet is started.")
@click.option("--wait", is_flag=True, help="Follow the runs until they end (exit 1 if any fails).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="With --wait: stop waiting after this long (exit 1).")
@follow_options
@json_option
def submit(
    workflow: str,
    group: str,
    assignments: Sequence[str],
    batch: str | None,
    fmt: str | None,
    concurrency: int | Literal["auto"],
    manifest: str | None,
    wait: bool,
    timeout: float | None,
    interval: float,
    plain: bool,
    cancel_on_interrupt: bool,
    as_json: bool,
) -> int:
    """Start runs of WORKFLOW in GROUP: one with -a arguments, or one per line of --batch.

    Every argument set is checked against the group's parameters before
    anything is sent: a bad value (or a malformed batch line) is reported with
    its line and nothing is submitted. File parameters take local paths
    (relative to the batch file's directory in a batch).
    """
    connection = options().connect()
    if timeout is not None and not wait:
        raise click.UsageError("--timeout needs --wait")
    stdin_text = sys.stdin.read() if batch == "-" else None
    how = Following.polling(interval, timeout, cancel_on_interrupt)

    async def go(fs: AsyncFlowserv) -> Outcome:
        wf = await fs.workflow(workflow, group)
        sets = _argument_sets(await wf.parameters(), assignments, batch, fmt, stdin_text)
        board = Board(expected=len(sets))
        with display_for(board, as_json=as_json, plain=plain, only_live=not wait) as display:
            return await submit_batch(
                wf, sets, display, how, concurrency=concurrency, wait=wait, manifest=manifest
            )

    outcome = call(connection, go)
    _print_submission(outcome, group, wait=wait, as_json=as_json)
    return _submission_code(outcome, group, wait=wait, as_json=as_json)


def _argument_sets(
    parameters: ParameterIndex,
    assignments: Sequence[str],
    batch: str | None,
    fmt: str | None,
    stdin_text: str | None,
) -> list[ArgumentSet]:
    """The checked argument sets of ``submit``: the -a arguments, or a batch file's lines."""
    defaults = parse_assignments(parameters, assignments)
    if batch is None:
        check(parameters, defaults)
        return [ArgumentSet(defaults, "-a arguments")]
    return read_batch(Path(batch), parameters, fmt=fmt, defaults=defaults, text=stdin_text)


def _print_submission(outcome: Outcome, group: str, *, wait: bool, as_json: bool) -> None:
    """The submitted runs (a table, or JSON), then one line per submission that failed."""
    runs = outcome.runs()
    batch = outcome.batch
    if as_json:
        print_json({
            "runs": [run_json(run, line=_line(outcome, run)) for run in runs],
            "concurrency": None if batch is None else {
                "auto": batch.adaptive, "settled": batch.concurrency,
                "peak": batch.peak_concurrency,
            },
            "errors": [
                {"line": aset.line, "origin": aset.origin, "error": str(exc)}
                for aset, exc in outcome.errors
            ],
            "not_submitted": outcome.not_submitted,
            "interrupted": outcome.interrupted,
            "timed_out": outcome.board.timed_out,
        })
    elif runs:
        if not wait:
            click.echo(f"Submitted {plural(len(runs), 'run')} to group {group}:")
        if batch is not None and batch.adaptive:
            click.echo(
                f"Concurrency auto settled at {batch.concurrency} "
                f"(at most {batch.peak_concurrency} in flight)."
            )
        described = {
            run_id: describe_arguments(aset.arguments) for run_id, aset in outcome.origins.items()
        }
        print_table(runs_table(runs, arguments=described))
    for aset, exc in outcome.errors:
        click.echo(f"Error: {aset.origin}: {error_message(exc)}", err=True)


def _line(outcome: Outcome, run: Run) -> int | None:
    """The batch line of a run (None for -a arguments, or when Ctrl-C cut the batch short)."""
    aset = outcome.origins.get(run.run_id)
    return aset.line if aset is not None else None


def _submission_code(outcome: Outcome, group: str, *, wait: bool, as_json: bool) -> int:
    """The exit code of ``submit``, after the report of an interrupt or a deadline."""
    if outcome.interrupted:
        return report_interrupt(
            outcome.runs(), outcome.canceled, group_id=group, not_submitted=outcome.not_submitted
        )
    if outcome.errors:
        return max(exit_code_for(exc) for _, exc in outcome.errors)
    if not wait:
        if not as_json and outcome.board.runs:
            click.echo(f"Follow them: aioflowserv watch --group {group}")
        return ExitCode.OK
    return _waited_code(outcome.board, outcome.runs())


def _waited_code(board: Board, runs: Sequence[Run]) -> int:
    """0 when every run succeeded, else 1; names the runs a deadline left running."""
    if board.timed_out:
        still = [run.run_id for run in runs if run.is_active()]
        click.echo(
            f"Timed out: {plural(len(still), 'run')} still active (left running): "
            f"{' '.join(still)}",
            err=True,
        )
    return exit_code_for_runs(runs)


@command("watch")
@click.argument("run_ids", nargs=-1, metavar="[RUN_ID]...")
@click.option("--group", "group_id", metavar="GROUP", help="Watch every run of a group.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Stop waiting after this long (exit 1; the runs go on).")
@follow_options
@json_option
def watch(
    run_ids: Sequence[str],
    group_id: str | None,
    timeout: float | None,
    interval: float,
    plain: bool,
    cancel_on_interrupt: bool,
    as_json: bool,
) -> int:
    """Follow runs until they end: a live bar on a terminal, plain lines otherwise.

    Give run ids, or --group for every run of a group. Ends with a table of
    the runs; exit 0 only if all of them succeeded. Ctrl-C stops watching and
    leaves the runs running (unless --cancel-on-interrupt).
    """
    if bool(run_ids) == bool(group_id):
        raise click.UsageError("give run ids or --group GROUP (one of them)")
    connection = options().connect()
    how = Following.polling(interval, timeout, cancel_on_interrupt)

    async def go(fs: AsyncFlowserv) -> tuple[Board, Interrupt]:
        if group_id is None:
            ids = list(dict.fromkeys(run_ids))
        else:
            ids = [info.run_id for info in await fs.list_runs(group_id)]
        board = Board(await fs.get_runs(ids))
        with display_for(board, as_json=as_json, plain=plain) as display:
            async with interruptible() as interrupt:
                active = len(board.active())
                display.note(
                    f"watching {plural(board.total, 'run')} ({active} active, "
                    f"{board.total - active} finished)"
                )
                await follow(fs, display, interrupt.on_change(display), how)
        return board, interrupt

    board, interrupt = call(connection, go)
    return _watched(board, interrupt, group_id, as_json=as_json)


def _watched(board: Board, interrupt: Interrupt, group_id: str | None, *, as_json: bool) -> int:
    """Report what ``watch`` saw; returns its exit code."""
    runs = list(board.runs.values())
    if as_json:
        print_json({
            "runs": [run_json(run) for run in runs],
            "interrupted": interrupt.caught,
            "timed_out": board.timed_out,
        })
    elif runs:
        print_table(runs_table(runs))
    else:
        click.echo("No runs to watch.")
    if interrupt.caught:
        return report_interrupt(runs, list(interrupt.canceled.values()), group_id=group_id)
    return _waited_code(board, runs)


@attrs.frozen
class ActionResult:
    """The outcome of cancelling or deleting one run."""

    run_id: str
    run: Run | None = None
    note: str | None = None
    error: BaseException | None = None


async def _on_each_run(
    fs: AsyncFlowserv,
    run_ids: Sequence[str],
    act: Callable[[str], Awaitable[ActionResult]],
    refused: Callable[[Run], ActionResult | None],
) -> list[ActionResult]:
    """``act`` on each run (a few at once); results in the order given.

    When the server refuses (400), ``refused`` explains it from the run's
    current snapshot (or returns None to report the refusal as it is).
    """
    results = [ActionResult(run_id) for run_id in run_ids]
    limiter = anyio.CapacityLimiter(ACTION_CONCURRENCY)

    async def attempt(index: int, run_id: str) -> None:
        async with limiter:
            try:
                results[index] = await act(run_id)
            except InvalidRequestError as exc:
                try:
                    explained = refused(await fs.get_run(run_id))
                except FlowservError:
                    explained = None
                results[index] = explained or ActionResult(run_id, error=exc)
            except FlowservError as exc:
                results[index] = ActionResult(run_id, error=exc)

    async with anyio.create_task_group() as tg:
        for index, run_id in enumerate(run_ids):
            tg.start_soon(attempt, index, run_id)
    return results


@command("cancel")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID...")
@click.option("--reason", help="Why (kept in the run's messages).")
@json_option
def cancel(run_ids: Sequence[str], reason: str | None, as_json: bool) -> int:
    """Cancel active runs. A run that already ended is reported, not an error."""

    def already_ended(current: Run) -> ActionResult | None:
        if current.is_active():
            return None
        note = f"already {current.state.value}, nothing to cancel"
        return ActionResult(current.run_id, run=current, note=note)

    async def go(fs: AsyncFlowserv) -> list[ActionResult]:
        async def cancel_one(run_id: str) -> ActionResult:
            return ActionResult(run_id, run=await fs.cancel_run(run_id, reason))

        return await _on_each_run(fs, list(dict.fromkeys(run_ids)), cancel_one, already_ended)

    return _report_actions(call(options().connect(), go), as_json, done="canceled")


@command("delete")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID...")
@json_option
def delete(run_ids: Sequence[str], as_json: bool) -> int:
    """Delete runs that are no longer active (cancel active ones first)."""

    def still_active(current: Run) -> ActionResult | None:
        if not current.is_active():
            return None
        run_id = current.run_id
        hint = CLIError(
            f"run {run_id} is still {current.state.value}: cancel it first "
            f"(aioflowserv cancel {run_id})",
            ExitCode.USAGE,
        )
        return ActionResult(run_id, run=current, error=hint)

    async def go(fs: AsyncFlowserv) -> list[ActionResult]:
        async def delete_one(run_id: str) -> ActionResult:
            await fs.delete_run(run_id)
            return ActionResult(run_id, note="deleted")

        return await _on_each_run(fs, list(dict.fromkeys(run_ids)), delete_one, still_active)

    return _report_actions(call(options().connect(), go), as_json, done="deleted")


def _report_actions(results: Sequence[ActionResult], as_json: bool, *, done: str) -> int:
    """One line (or JSON entry) per run acted on, one error line per failure; the exit code."""
    errors = [(r.run_id, r.error) for r in results if r.error is not None]
    if as_json:
        print_json({
            "runs": [_action_json(r, done) for r in results if r.error is None],
            "errors": [{"run_id": run_id, "error": error_message(exc)} for run_id, exc in errors],
        })
    else:
        for result in results:
            if result.error is None:
                click.echo(f"{result.run_id}  {result.note or done}")
    for run_id, exc in errors:
        click.echo(f"Error: {run_id}: {error_message(exc)}", err=True)
    return max((exit_code_for(exc) for _, exc in errors), default=ExitCode.OK)


def _action_json(result: ActionResult, done: str) -> dict[str, Any]:
    """``{"run_id", <done>: bool, "state", "messages", ["note"]}``."""
    item: dict[str, Any] = {"run_id": result.run_id, done: result.note in (None, done)}
    if result.run is not None:
        item.update(state=result.run.state.value, messages=result.run.messages())
    if result.note not in (None, done):
        item["note"] = result.note
    return item


@command("runs")
@click.argument("group_id", metavar="GROUP")
@click.option("--state", "states", multiple=True,
              type=click.Choice([s.value for s in RunState], case_sensitive=False),
              help="Only runs in this state (repeatable).")
@json_option
def runs_command(group_id: str, states: Sequence[str], as_json: bool) -> int:
    """List the runs of GROUP with their states, oldest first."""
    infos = call(options().connect(), lambda fs: fs.list_runs(group_id))
    wanted = {state.upper() for state in states}
    if wanted:
        infos = [info for info in infos if info.state.value in wanted]
    if as_json:
        print_json([run_info_json(info) for info in infos])
        return ExitCode.OK
    table = Table("run", "state", "created")
    for info in infos:
        created = info.created_at.strftime("%Y-%m-%d %H:%M:%S") if info.created_at else ""
        table.add_row(info.run_id, info.state.value, created)
    print_table(table)
    return ExitCode.OK


@command("download")
@click.argument("run_id")
@click.argument("file", required=False)
@click.option("-o", "--output", type=click.Path(file_okay=False), metavar="DIR",
              help="Where to put the files (default: a directory named after the run).")
@json_option
def download(run_id: str, file: str | None, output: str | None, as_json: bool) -> int:
    """Download a run's results: one FILE (by name or id), or all of them.

    Without FILE the run's archive is unpacked into DIR, safely: nothing is
    written outside DIR whatever the archive holds.
    """
    directory = Path(output or run_id)

    async def go(fs: AsyncFlowserv) -> list[Path]:
        run = await fs.get_run(run_id)
        if not run.is_success():
            raise CLIError(
                f"run {run_id} is {run.state.value}: only successful runs have results",
                ExitCode.RUNS_FAILED,
            )
        if file is None:
            return await (await fs.download_run_archive(run_id)).extract(directory)
        entry = run.get_file(file)
        if entry is None:
            names = ", ".join(f.name for f in run.files()) or "none"
            raise CLIError(f"run {run_id} has no file {file!r} (files: {names})")
        handle = await fs.download_run_file(run_id, entry.id)
        directory.mkdir(parents=True, exist_ok=True)
        return [await handle.save(directory)]

    paths = call(options().connect(), go)
    if as_json:
        print_json({"run_id": run_id, "files": [str(path) for path in paths]})
    else:
        for path in paths:
            click.echo(str(path))
    return ExitCode.OK


COMMANDS = (submit, watch, cancel, delete, runs_command, download)
"""In the order ``--help`` lists them."""
