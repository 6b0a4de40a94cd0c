"""``sweep`` and ``results``: a study of a workflow's arguments, and the table of what it gave.

``sweep`` builds an argument space from its options (``--grid`` for every
combination, ``--sample N`` with ``--uniform``/``--integers``/``--grid`` for
random draws, ``-a`` for values every set has) and runs it with
:meth:`AsyncWorkflow.sweep`, under the command line's live bar; at the end it
prints the sweep's table and its failures by cause. Its exit code tells apart
"every run succeeded" (0), "some failed" (1), "stopped early" (4: max
failures, timeout, a start refused) and "interrupted" (130).

``results`` prints the arguments-and-results table of a group: every run with
its arguments (defaults filled in), state, times and result values, made by
the same records function as ``SweepResult.to_records()``.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from typing import Any

import click

from ... import AsyncFlowserv, AsyncWorkflow, Parameter, ParameterIndex, Space, SweepResult
from ... import grid as make_grid
from ... import integers as make_integers
from ... import sample as make_sample
from ... import uniform as make_uniform
from ..._display import Table, shorten
from ..._models import ResultColumn
from ..._study import group_records
from ..._views import failure_table, sweep_table
from ..app import call, command, json_option, options
from ..arguments import coerce, parse_assignments
from ..completion import complete_groups, complete_workflows
from ..output import CLIError, ExitCode, plural, print_json, print_table
from ..progress import Board, Following, display_for, interruptible, report_interrupt

__all__ = ["COMMANDS", "build_space", "results", "sweep"]


def _split(option: str, text: str) -> tuple[str, list[str]]:
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or not name or not values.strip():
        raise CLIError(f"{option} {text!r}: expected NAME=VALUE[,VALUE...]", ExitCode.USAGE)
    return name, [value.strip() for value in values.split(",")]


def _parameter(parameters: ParameterIndex, name: str) -> Parameter:
    para = parameters.get(name)
    if para is None:
        known = ", ".join(sorted(parameters))
        raise CLIError(f"unknown parameter {name!r} (known parameters: {known})", ExitCode.USAGE)
    return para


def _bounds(option: str, text: str, kind: type[Any]) -> tuple[str, Any, Any]:
    name, values = _split(option, text)
    if len(values) != 2:
        raise CLIError(f"{option} {text!r}: expected NAME=LOW,HIGH", ExitCode.USAGE)
    try:
        return name, kind(values[0]), kind(values[1])
    except ValueError:
        raise CLIError(
            f"{option} {text!r}: LOW and HIGH must be {kind.__name__}s", ExitCode.USAGE
        ) from None


def build_space(
    parameters: ParameterIndex,
    *,
    grids: Sequence[str] = (),
    assignments: Sequence[str] = (),
    count: int | None = None,
    uniforms: Sequence[str] = (),
    log_uniforms: Sequence[str] = (),
    integer_ranges: Sequence[str] = (),
    seed: int | None = None,
) -> Space:
    """The space the options describe: a grid, or with ``count`` a sample of that many sets."""
    dims: dict[str, Any] = {}

    def add(name: str, value: Any, option: str) -> None:
        if name in dims:
            raise CLIError(f"{option}: {name!r} is given more than once", ExitCode.USAGE)
        dims[name] = value

    for text in grids:
        name, values = _split("--grid", text)
        para = _parameter(parameters, name)
        add(name, [coerce(para, value) for value in values], "--grid")
    for name, value in parse_assignments(parameters, assignments).items():
        add(name, value, "-a")
    drawn = [("--uniform", t, False) for t in uniforms] + [
        ("--log-uniform", t, True) for t in log_uniforms
    ]
    if (drawn or integer_ranges) and count is None:
        raise click.UsageError("--uniform, --log-uniform and --integers need --sample N")
    for option, text, log in drawn:
        name, low, high = _bounds(option, text, float)
        _parameter(parameters, name)
        add(name, make_uniform(low, high, log=log), option)
    for text in integer_ranges:
        name, low, high = _bounds("--integers", text, int)
        _parameter(parameters, name)
        add(name, make_integers(low, high), "--integers")
    if count is not None:
        if not dims:
            raise click.UsageError("--sample needs dimensions (--uniform, --integers, --grid)")
        return make_sample(count, seed=seed, **dims)
    if seed is not None:
        raise click.UsageError("--seed needs --sample N")
    if not any(isinstance(value, list) for value in dims.values()):
        raise click.UsageError("give the sweep's values: --grid NAME=V1,V2 (or --sample N ...)")
    return make_grid(**dims)


@command("sweep")
@click.argument("workflow", shell_complete=complete_workflows)
@click.argument("group", shell_complete=complete_groups)
@click.option("--grid", "grids", multiple=True, metavar="NAME=V1,V2,...",
              help="Values of a parameter: every combination of the --grid options is run "
              "(with --sample, the choices drawn from). Repeatable.")
@click.option("-a", "--arg", "assignments", multiple=True, metavar="NAME=VALUE",
              help="A value every argument set has (repeatable).")
@click.option("--sample", "count", type=click.IntRange(min=0), metavar="N",
              help="Draw N argument sets at random instead of a grid.")
@click.option("--uniform", "uniforms", multiple=True, metavar="NAME=LOW,HIGH",
              help="With --sample: a float drawn uniformly from LOW to HIGH (repeatable).")
@click.option("--log-uniform", "log_uniforms", multiple=True, metavar="NAME=LOW,HIGH",
              help="With --sample: a float drawn uniformly in log space (repeatable).")
@click.option("--integers", "integer_ranges", multiple=True, metavar="NAME=LOW,HIGH",
              help="With --sample: an int from LOW to HIGH, both included (repeatable).")
@click.option("--seed", type=int, help="The seed of --sample (the same sets every time).")
@click.option("--max-active", type=click.IntRange(min=1), metavar="K",
              help="At most K runs of the sweep active at once (default: no cap).")
@click.option("--reuse", is_flag=True,
              help="Take the group's SUCCESS run of an argument set instead of starting it.")
@click.option("--max-failures", type=click.IntRange(min=1), metavar="N",
              help="Start nothing more once N runs ended in ERROR.")
@click.option("--retries", type=click.IntRange(min=0), default=0, show_default=True,
              help="Start a run that ended in ERROR again, up to N times.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Stop starting runs after this long (active runs are left running).")
@click.option("--manifest", type=click.Path(dir_okay=False), metavar="PATH",
              help="Record every start here; the same command again starts only what is "
              "missing.")
@click.option("--interval", type=click.FloatRange(min=0, min_open=True), default=1.0,
              show_default=True, help="Seconds between polls while runs are active.")
@click.option("--plain", is_flag=True, help="Plain progress lines instead of a live bar.")
@click.option("--cancel-on-interrupt", is_flag=True,
              help="On Ctrl-C, cancel the sweep's active runs on the server too.")
@json_option
def sweep(
    workflow: str,
    group: str,
    grids: Sequence[str],
    assignments: Sequence[str],
    count: int | None,
    uniforms: Sequence[str],
    log_uniforms: Sequence[str],
    integer_ranges: Sequence[str],
    seed: int | None,
    max_active: int | None,
    reuse: bool,
    max_failures: int | None,
    retries: int,
    timeout: float | None,
    manifest: str | None,
    interval: float,
    plain: bool,
    cancel_on_interrupt: bool,
    as_json: bool,
) -> int:
    """Run a study of WORKFLOW in GROUP: a grid or a random sample of its arguments.

    The whole space is checked against the group's parameters before the
    first run. Exit code: 0 every run succeeded, 1 some failed, 4 the sweep
    stopped early (--max-failures, --timeout, a start refused), 130 interrupted.
    """
    options().workflow = workflow
    connection = options().connect()
    how = Following.polling(interval, None, cancel_on_interrupt)

    async def go(fs: AsyncFlowserv) -> tuple[SweepResult | None, Board, bool]:
        wf: AsyncWorkflow = await fs.workflow(workflow, group)
        space = build_space(
            await wf.parameters(), grids=grids, assignments=assignments, count=count,
            uniforms=uniforms, log_uniforms=log_uniforms, integer_ranges=integer_ranges,
            seed=seed,
        )
        space.check(await wf.parameters())
        board = Board(expected=space.size)
        result: SweepResult | None = None
        with display_for(board, as_json=as_json, plain=plain) as display:
            display.note(f"sweep of {plural(space.size, 'argument set')}")
            async with interruptible() as interrupt:
                result = await wf.sweep(
                    space, max_active=max_active, reuse="success" if reuse else None,
                    max_failures=max_failures, retries=retries, timeout=timeout,
                    manifest=manifest, poll_interval=how.poll_interval,
                    on_change=interrupt.on_change(display), cancel_remote=how.cancel_remote,
                )
                for run in result.runs:
                    display.update(run)
        return result, board, interrupt.caught

    result, board, interrupted = call(connection, go)
    if interrupted or result is None:
        return report_interrupt(list(board.runs.values()), group_id=group)
    if as_json:
        print_json(result.to_dict())
    else:
        print_table(sweep_table(result))
        failures = result.failures()
        if failures:
            print_table(failure_table(failures))
        if result.stopped:
            click.echo(f"Stopped early: {result.stopped}", err=True)
    if result.stopped:
        return ExitCode.STOPPED
    if any(not run.is_success() for run in result.runs):
        return ExitCode.RUNS_FAILED
    return ExitCode.OK


@command("results")
@click.argument("group", shell_complete=complete_groups)
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV, one row per run.")
@json_option
def results(group: str, as_csv: bool, as_json: bool) -> int:
    """Show every run of GROUP with its arguments, state, times and result values."""
    if as_csv and as_json:
        raise click.UsageError("choose one of --csv and --json")
    connection = options().connect()

    async def go(fs: AsyncFlowserv) -> tuple[list[str], list[dict[str, Any]]]:
        found = await fs.get_group(group)
        runs = await fs.get_runs([info.run_id for info in await fs.list_runs(group)])
        columns: tuple[ResultColumn, ...] = ()
        values: dict[str, Any] = {}
        if found.workflow_id and any(run.is_success() for run in runs):
            board = await fs.leaderboard(found.workflow_id, None, True)
            if board is not None:
                ids = {run.run_id for run in runs}
                columns = board.columns
                values = {row.run_id: row.results for row in board.rows if row.run_id in ids}
        return group_records(runs, found.parameters, columns, values)

    keys, table = call(connection, go)
    if as_json:
        print_json(table)
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)
    elif not table:
        click.echo(f"Group {group} has no runs.")
    else:
        shown = [key for key in keys if key not in ("created_at", "started_at")]
        rows: list[Sequence[str]] = [
            [shorten(ResultColumn.format_value(record[key]), 30) for key in shown]
            for record in table
        ]
        print_table(Table(f"Runs of group {group}", rows, shown,
                          note=plural(len(table), "run")))
    return ExitCode.OK


COMMANDS = (sweep, results)
