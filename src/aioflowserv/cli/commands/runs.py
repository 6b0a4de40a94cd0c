"""``submit``, ``watch``, ``rerun``, ``cancel``, ``delete``, ``runs`` and ``download``.

Submitting is :meth:`AsyncWorkflow.start_runs` and watching is
:meth:`AsyncFlowserv.as_completed` (see :mod:`aioflowserv.cli.progress`), or
:meth:`AsyncFlowserv.watch` to follow a whole group; ``rerun`` is
:meth:`AsyncFlowserv.rerun`; ``cancel`` and ``delete`` report on each run
around the SDK's ``cancel_run`` (``cancel_runs`` for a group) and
``delete_run``. ``runs --timeline`` draws the group's runs on a time axis.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import anyio
import attrs
import click

from ... import (
    AsyncFlowserv,
    AsyncWorkflow,
    FlowservError,
    InvalidArgumentError,
    InvalidRequestError,
    ParameterIndex,
    Run,
    RunNotActiveError,
    RunState,
    Timeline,
)
from ..app import call, command, json_option, options
from ..arguments import BATCH_FORMATS, ArgumentSet, check, parse_assignments, read_batch
from ..completion import complete_groups, complete_runs, complete_workflows
from ..output import (
    CLIError,
    ExitCode,
    describe_arguments,
    error_message,
    exit_code_for,
    exit_code_for_runs,
    make_console,
    plural,
    print_json,
    print_table,
    runs_table,
    timeline_table,
)
from ..progress import (
    INTERRUPT_REASON,
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
from .results import FINAL_STATES, download_group, download_postproc

__all__ = ["COMMANDS", "cancel", "delete", "download", "rerun", "runs_command", "submit", "watch"]

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


def wait_options(func: F) -> F:
    """``--wait``, ``--timeout`` and the :func:`follow_options`: for commands that start runs."""
    func = follow_options(func)
    func = click.option(
        "--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
        help="With --wait: stop waiting after this long (exit 1).",
    )(func)
    return click.option(
        "--wait", is_flag=True, help="Follow the runs until they end (exit 1 if any fails)."
    )(func)


@command("submit")
@click.argument("workflow", shell_complete=complete_workflows)
@click.argument("group", shell_complete=complete_groups)
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
@wait_options
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
    options().workflow = workflow
    connection = options().connect()
    if timeout is not None and not wait:
        raise click.UsageError("--timeout needs --wait")
    stdin_text = sys.stdin.read() if batch == "-" else None
    how = Following.polling(interval, timeout, cancel_on_interrupt)

    async def go(fs: AsyncFlowserv) -> Outcome:
        wf = await _workflow(fs, workflow, group)
        sets = _argument_sets(await wf.parameters(), assignments, batch, fmt, stdin_text)
        board = Board(expected=len(sets))
        with display_for(board, as_json=as_json, plain=plain, only_live=not wait) as display:
            return await submit_batch(
                wf, sets, display, how, concurrency=concurrency, wait=wait, manifest=manifest
            )

    outcome = call(connection, go)
    _print_submission(outcome, group, wait=wait, as_json=as_json)
    return _submission_code(outcome, group, wait=wait, as_json=as_json, manifest=manifest)


async def _workflow(fs: AsyncFlowserv, workflow: str, group: str) -> AsyncWorkflow:
    """The workflow of ``group``; a group of another workflow is explained in commands."""
    try:
        return await fs.workflow(workflow, group)
    except InvalidArgumentError as exc:
        if exc.parameter != "group_id":
            raise
        found = await fs.get_group(group)
        raise CLIError(
            f"group {found.name!r} ({found.id}) belongs to workflow {found.workflow_id!r}, not "
            f"to {workflow!r}: use `aioflowserv submit {found.workflow_id} {found.id} ...`, or a "
            f"group of {workflow} (`aioflowserv groups {workflow}` lists yours)"
        ) from None


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
            "runs": [{**run.to_dict(), "line": _line(outcome, run)} for run in runs],
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


def _how_to_finish(manifest: str | None) -> str:
    """After an interrupted ``submit``: how the rest of the batch gets started, once."""
    if manifest is not None:
        return (
            f"Finish the batch: run the same command again (with --manifest {manifest}); only "
            "the argument sets without a run are started."
        )
    return (
        "Finish the batch: without --manifest, the same command would start every run again; "
        "with --manifest PATH, running it again after an interruption starts only what has "
        "no run yet."
    )


def _line(outcome: Outcome, run: Run) -> int | None:
    """The batch line of a run (None for -a arguments, or when Ctrl-C cut the batch short)."""
    aset = outcome.origins.get(run.run_id)
    return aset.line if aset is not None else None


def _submission_code(
    outcome: Outcome, group: str, *, wait: bool, as_json: bool, manifest: str | None = None
) -> int:
    """The exit code of ``submit``, after the report of an interrupt or a deadline."""
    if outcome.interrupted:
        code = report_interrupt(
            outcome.runs(), outcome.canceled, group_id=group, not_submitted=outcome.not_submitted
        )
        if outcome.not_submitted:
            click.echo(_how_to_finish(manifest), err=True)
        return code
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
@click.argument("run_ids", nargs=-1, metavar="[RUN_ID]...", shell_complete=complete_runs)
@click.option("--group", "group_id", metavar="GROUP", help="Watch every run of a group.",
              shell_complete=complete_groups)
@click.option("--follow", "keep_following", is_flag=True,
              help="With --group: keep following the group, runs started later included, "
              "until Ctrl-C (or --timeout). With --json, one JSON line per change.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Stop waiting after this long (exit 1 if runs are still active; they go on).")
@follow_options
@json_option
def watch(
    run_ids: Sequence[str],
    group_id: str | None,
    keep_following: bool,
    timeout: float | None,
    interval: float,
    plain: bool,
    cancel_on_interrupt: bool,
    as_json: bool,
) -> int:
    """Follow runs until they end: a live bar on a terminal, plain lines otherwise.

    Give run ids, or --group for every run of a group. Ends with a table of
    the runs; exit 0 only if all of them succeeded. Ctrl-C stops watching and
    leaves the runs running (unless --cancel-on-interrupt). With --follow,
    new runs of the group are followed too and only Ctrl-C (or --timeout)
    ends the command.
    """
    if bool(run_ids) == bool(group_id):
        raise click.UsageError("give run ids or --group GROUP (one of them)")
    if keep_following and group_id is None:
        raise click.UsageError("--follow needs --group GROUP")
    connection = options().connect()
    how = Following.polling(interval, timeout, cancel_on_interrupt)
    if keep_following:
        assert group_id is not None
        return _follow_group(group_id, how, plain=plain, as_json=as_json)

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


def _follow_group(group_id: str, how: Following, *, plain: bool, as_json: bool) -> int:
    """``watch --group G --follow``: every run of the group and each change, until stopped."""

    def emit(run: Run) -> None:
        click.echo(json_line(run.to_dict()))

    async def go(fs: AsyncFlowserv) -> tuple[Board, Interrupt]:
        board = Board()
        display = display_for(board, as_json=as_json, plain=plain)
        with display:
            async with interruptible() as interrupt:
                display.note(f"following group {group_id} (Ctrl-C to stop)")
                with anyio.move_on_after(how.timeout or math.inf):
                    async for run in fs.watch(
                        group_id, how.poll_interval, max_interval=how.max_interval
                    ):
                        display.update(run)
                        if as_json:
                            emit(run)
                board.timed_out = bool(board.active())
            if interrupt.caught and how.cancel_on_interrupt:
                for run in await fs.cancel_runs(group_id, reason=INTERRUPT_REASON):
                    interrupt.canceled[run.run_id] = run
                    display.update(run)
        return board, interrupt

    board, interrupt = call(options().connect(), go)
    runs = list(board.runs.values())
    if not as_json and runs:
        print_table(runs_table(runs))
    elif not as_json:
        click.echo("No runs in the group.")
    if interrupt.caught:
        return report_interrupt(runs, list(interrupt.canceled.values()), group_id=group_id)
    return _waited_code(board, runs)


def json_line(doc: dict[str, Any]) -> str:
    """One JSON document on one line (JSON Lines)."""
    return json.dumps(doc, default=str)


def _watched(board: Board, interrupt: Interrupt, group_id: str | None, *, as_json: bool) -> int:
    """Report what ``watch`` saw; returns its exit code."""
    runs = list(board.runs.values())
    if as_json:
        print_json({
            "runs": [run.to_dict() for run in runs],
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


Rerun = tuple[str, "Run | FlowservError"]
"""A run id and the run that reruns it, or why it could not be rerun."""


@command("rerun")
@click.argument("run_ids", nargs=-1, metavar="[RUN_ID]...")
@click.option("--group", "group_id", metavar="GROUP", help="With --failed: the group to look in.")
@click.option("--failed", is_flag=True, help="With --group: every run of the group that ended "
              "in ERROR.")
@wait_options
@json_option
def rerun(
    run_ids: Sequence[str],
    group_id: str | None,
    failed: bool,
    wait: bool,
    timeout: float | None,
    interval: float,
    plain: bool,
    cancel_on_interrupt: bool,
    as_json: bool,
) -> int:
    """Start runs again with the same arguments (uploaded files included), in their groups.

    Give run ids, or --group GROUP --failed for every run of a group that
    ended in ERROR. Prints each old run id with its new one; with --wait,
    follows the new runs like ``watch``.
    """
    if bool(run_ids) == bool(group_id):
        raise click.UsageError("give run ids or --group GROUP --failed (one of them)")
    if group_id is not None and not failed:
        raise click.UsageError("--group needs --failed (the runs to rerun)")
    if failed and group_id is None:
        raise click.UsageError("--failed needs --group GROUP")
    if timeout is not None and not wait:
        raise click.UsageError("--timeout needs --wait")
    how = Following.polling(interval, timeout, cancel_on_interrupt)

    async def go(fs: AsyncFlowserv) -> tuple[list[Rerun], Board, Interrupt]:
        if group_id is None:
            old = list(dict.fromkeys(run_ids))
        else:
            old = [i.run_id for i in await fs.list_runs(group_id) if i.state is RunState.ERROR]
        outcomes: list[Rerun] = []
        board = Board(expected=len(old))
        limiter = anyio.CapacityLimiter(ACTION_CONCURRENCY)
        with display_for(board, as_json=as_json, plain=plain, only_live=not wait) as display:
            async with interruptible() as interrupt:
                on_change = interrupt.on_change(display)

                async def start(run_id: str) -> None:
                    async with limiter:
                        try:
                            outcomes.append((run_id, await fs.rerun(run_id, on_change=on_change)))
                        except FlowservError as exc:
                            outcomes.append((run_id, exc))

                display.note(f"rerunning {plural(len(old), 'run')}")
                async with anyio.create_task_group() as tg:
                    for run_id in old:
                        tg.start_soon(start, run_id)
                board.expected = 0
                if wait:
                    display.note(f"waiting for {plural(len(board.active()), 'active run')}")
                    await follow(fs, display, on_change, how)
        order = {run_id: index for index, run_id in enumerate(old)}
        outcomes.sort(key=lambda item: order[item[0]])
        return outcomes, board, interrupt

    outcomes, board, interrupt = call(options().connect(), go)
    started = [(old, board.runs.get(new.run_id, new)) for old, new in outcomes
               if isinstance(new, Run)]
    errors = [(old, exc) for old, exc in outcomes if not isinstance(exc, Run)]
    if as_json:
        print_json({
            "reruns": [{**new.to_dict(), "rerun_of": old} for old, new in started],
            "errors": [{"run_id": old, "error": error_message(exc)} for old, exc in errors],
        })
    elif wait and started:
        origins = {new.run_id: old for old, new in started}
        print_table(runs_table([new for _, new in started], rerun_of=origins))
    else:
        for old, new in started:
            click.echo(f"{old}  rerun as {new.run_id}")
    if not started and not errors and not as_json:
        click.echo("Nothing to rerun.")
    for old, exc in errors:
        click.echo(f"Error: {old}: {error_message(exc)}", err=True)
    runs = [new for _, new in started]
    if interrupt.caught:
        return report_interrupt(runs, list(interrupt.canceled.values()))
    if errors:
        return max(exit_code_for(exc) for _, exc in errors)
    return _waited_code(board, runs) if wait else ExitCode.OK


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
@click.argument("run_ids", nargs=-1, metavar="[RUN_ID]...", shell_complete=complete_runs)
@click.option("--group", "group_id", metavar="GROUP", help="Cancel the active runs of a group.",
              shell_complete=complete_groups)
@click.option("--state", "states", multiple=True,
              type=click.Choice(["PENDING", "RUNNING"], case_sensitive=False),
              help="With --group: only runs in this state (repeatable).")
@click.option("--reason", help="Why (kept in the run's messages).")
@json_option
def cancel(
    run_ids: Sequence[str], group_id: str | None, states: Sequence[str], reason: str | None,
    as_json: bool,
) -> int:
    """Cancel active runs: by id, or every active one of --group.

    A run that already ended is reported, not an error.
    """
    if bool(run_ids) == bool(group_id):
        raise click.UsageError("give run ids or --group GROUP (one of them)")
    if states and group_id is None:
        raise click.UsageError("--state needs --group GROUP")
    if group_id is not None:
        canceled = call(
            options().connect(),
            lambda fs: fs.cancel_runs(group_id, [s.upper() for s in states] or None, reason),
        )
        if not canceled and not as_json:
            click.echo(f"No active runs to cancel in group {group_id}.")
        return _report_actions(
            [ActionResult(run.run_id, run=run) for run in canceled], as_json, done="canceled"
        )

    def already_ended(current: Run) -> ActionResult | None:
        if current.is_active():
            return None
        note = f"already {current.state.value}, nothing to cancel"
        return ActionResult(current.run_id, run=current, note=note)

    async def go(fs: AsyncFlowserv) -> list[ActionResult]:
        async def cancel_one(run_id: str) -> ActionResult:
            try:
                return ActionResult(run_id, run=await fs.cancel_run(run_id, reason))
            except RunNotActiveError as exc:  # the SDK read the run: no second look needed
                note = f"already {exc.state.value}, nothing to cancel"
                return ActionResult(run_id, run=exc.run, note=note)

        return await _on_each_run(fs, list(dict.fromkeys(run_ids)), cancel_one, already_ended)

    return _report_actions(call(options().connect(), go), as_json, done="canceled")


@command("delete")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID...",
                shell_complete=complete_runs)
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
@click.argument("group_id", metavar="GROUP", shell_complete=complete_groups)
@click.option("--state", "states", multiple=True,
              type=click.Choice([s.value for s in RunState], case_sensitive=False),
              help="Only runs in this state (repeatable).")
@click.option("--timeline", is_flag=True,
              help="Draw each run as a bar on one time axis: queued, then running (colored by "
              "state); stragglers and queueing show at a glance.")
@json_option
def runs_command(group_id: str, states: Sequence[str], timeline: bool, as_json: bool) -> int:
    """List the runs of GROUP with their states, oldest first (or draw them, --timeline)."""
    wanted = {state.upper() for state in states}

    async def go(fs: AsyncFlowserv) -> tuple[list[Any], list[Run]]:
        infos = list(await fs.list_runs(group_id))
        if wanted:
            infos = [info for info in infos if info.state.value in wanted]
        return infos, (await fs.get_runs([i.run_id for i in infos]) if timeline else [])

    infos, runs = call(options().connect(), go)
    if timeline:
        if as_json:
            print_json([run.to_dict() for run in runs])
            return ExitCode.OK
        console = make_console()
        console.print(timeline_table(Timeline.from_runs(runs), max(20, console.width - 48)))
        return ExitCode.OK
    if as_json:
        print_json([info.to_dict() for info in infos])
        return ExitCode.OK
    print_table(runs_table(infos))
    return ExitCode.OK


@command("download")
@click.argument("run_id", required=False, metavar="[RUN_ID]", shell_complete=complete_runs)
@click.argument("file", required=False)
@click.option("-o", "--output", type=click.Path(file_okay=False), metavar="DIR",
              help="Where to put the files (default: a directory named after the run, the "
              "group, or postproc-WORKFLOW).")
@click.option("--postproc", "workflow", metavar="WORKFLOW",
              help="The outputs of WORKFLOW's post-processing instead of a run's ([FILE] by "
              "name or id, else all of them).")
@click.option("--group", "group_id", metavar="GROUP",
              help="The results of every finished run of GROUP, one folder per run with a "
              "flowserv-run.json; runs already complete on disk are skipped (resume).")
@click.option("--state", "states", multiple=True,
              type=click.Choice(FINAL_STATES, case_sensitive=False),
              help="With --group: only runs in this state (repeatable; default: all finished).")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 64),
              help="With --group: runs downloaded at once.")
@json_option
def download(
    run_id: str | None,
    file: str | None,
    output: str | None,
    workflow: str | None,
    group_id: str | None,
    states: Sequence[str],
    concurrency: int,
    as_json: bool,
) -> int:
    """Download results: of a run, of a whole group (--group), or of post-processing.

    For a run, one FILE (by name or id, saved under its base name) or all of
    them; with --group, every finished run of the group, resuming what is on
    disk; with --postproc, a workflow's post-processing outputs. All of them
    land under DIR at the paths the server gives them (as the SDK's extract()
    does): `-o out` gives out/results/greetings.txt (--group:
    out/RUN_ID/results/greetings.txt).
    Archives are unpacked safely: nothing is written outside DIR whatever the
    archive holds.
    """
    if workflow is not None:
        if file is not None or group_id is not None:
            raise click.UsageError("--postproc WORKFLOW takes at most one FILE, and no --group")
        return download_postproc(workflow, run_id, Path(output or f"postproc-{workflow}"),
                                 as_json)
    if group_id is not None:
        if run_id is not None:
            raise click.UsageError("give a RUN_ID or --group GROUP, not both")
        return download_group(group_id, states, Path(output or group_id), concurrency, as_json)
    if run_id is None:
        raise click.UsageError("give a RUN_ID, --group GROUP or --postproc WORKFLOW")
    if states:
        raise click.UsageError("--state needs --group GROUP")
    directory = Path(output or run_id)

    async def go(fs: AsyncFlowserv) -> list[Path]:
        run = await fs.get_run(run_id)
        if not run.is_success():
            raise CLIError(
                f"run {run_id} is {run.state.value}: only successful runs have results",
                ExitCode.RUNS_FAILED,
            )
        if file is None:
            archive = await fs.download_run_archive(run_id)
            return await archive.extract(directory)
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


COMMANDS = (submit, watch, rerun, cancel, delete, runs_command, download)
"""In the order ``--help`` lists them."""
