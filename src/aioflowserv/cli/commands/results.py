"""``leaderboard``, and the bulk and post-processing parts of ``download``: results, not runs.

``leaderboard`` prints a workflow's ranking with the labels of its results
schema (a table, ``--json`` or ``--csv``). ``download --group`` and
``download --postproc`` (the command itself is in :mod:`.runs`) are
:meth:`AsyncFlowserv.download_results` and
:meth:`AsyncFlowserv.get_postproc_file`.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from ... import AsyncFlowserv, RunDownload, RunState
from ..app import call, command, json_option, options
from ..output import (
    CLIError,
    ExitCode,
    error_message,
    exit_code_for,
    leaderboard_table,
    plural,
    print_json,
    print_table,
)
from ..progress import interruptible

__all__ = ["COMMANDS", "download_group", "download_postproc", "leaderboard"]


@command("leaderboard")
@click.argument("workflow")
@click.option("--all", "include_all", is_flag=True,
              help="Rank every successful run (default: the best run of each group).")
@click.option("--order-by", "order_by", multiple=True, metavar="COL[:asc|:desc]",
              help="Sort by a result column (repeatable; a bare column sorts descending, as "
              "flowServ does; default: the workflow's own order).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV, one row per run.")
@json_option
def leaderboard(
    workflow: str, include_all: bool, order_by: Sequence[str], as_csv: bool, as_json: bool
) -> int:
    """Show the ranking of WORKFLOW's runs by its results, with the schema's labels."""
    if as_csv and as_json:
        raise click.UsageError("choose one of --csv and --json")
    connection = options().connect(need_token=False)
    board = call(
        connection, lambda fs: fs.leaderboard(workflow, list(order_by) or None, include_all)
    )
    if board is None:
        if as_json:
            print_json(None)
        elif not as_csv:
            click.echo(f"Workflow {workflow} has no results schema, so no leaderboard.")
        return ExitCode.OK
    if as_json:
        print_json({"workflow_id": workflow, **board.to_dict()})
    elif as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=board.keys(), lineterminator="\n")
        writer.writeheader()
        writer.writerows(board.to_dict()["rows"])  # the records, with ISO 8601 times
    else:
        print_table(leaderboard_table(board))
        if board.postproc is not None:
            names = ", ".join(f.name for f in board.postproc.files()) or "no files"
            click.echo(
                f"Post-processing: {board.postproc.state.value} ({names}); "
                f"get it with: aioflowserv download --postproc {workflow}"
            )
    return ExitCode.OK


def download_postproc(workflow: str, file: str | None, directory: Path, as_json: bool) -> int:
    """``download --postproc WORKFLOW [FILE]``: one output, or all of them unpacked."""

    async def go(fs: AsyncFlowserv) -> list[Path]:
        if file is None:
            return await (await fs.get_postproc_file(workflow)).extract(directory)
        postproc = (await fs.get_workflow(workflow)).postproc
        if postproc is None:
            raise CLIError(f"workflow {workflow} has no post-processing results", ExitCode.USAGE)
        entry = postproc.get_file(file)
        if entry is None:
            names = ", ".join(f.name for f in postproc.files()) or "none"
            raise CLIError(f"the post-processing of {workflow} has no file {file!r} "
                           f"(files: {names})")
        handle = await fs.get_postproc_file(workflow, entry.id)
        directory.mkdir(parents=True, exist_ok=True)
        return [await handle.save(directory)]

    paths = call(options().connect(need_token=False), go)
    if as_json:
        print_json({"workflow_id": workflow, "files": [str(path) for path in paths]})
    else:
        for path in paths:
            click.echo(str(path))
    return ExitCode.OK


def download_group(
    group_id: str, states: Sequence[str], directory: Path, concurrency: int, as_json: bool
) -> int:
    """``download --group GROUP``: one folder per finished run, resuming what is on disk."""
    done: list[RunDownload] = []

    def report(item: RunDownload) -> None:
        done.append(item)
        if not as_json:
            if item.skipped:
                what = "already on disk"
            elif item.state is RunState.SUCCESS:
                what = plural(len(item.files), "file")
            else:
                what = "no result files (state and messages in flowserv-run.json)"
            click.echo(f"{item.run_id}  {item.state.value:<8}  {what}")

    async def go(fs: AsyncFlowserv) -> tuple[list[object], bool]:
        results: list[object] = []
        async with interruptible() as interrupt:
            results = list(await fs.download_results(
                group_id, directory, states=[s.upper() for s in states] or None,
                concurrency=concurrency, on_download=report, return_exceptions=True,
            ))
        return results, interrupt.caught

    results, interrupted = call(options().connect(), go)
    errors = [item for item in results if isinstance(item, BaseException)]
    if as_json:
        print_json({
            "directory": str(directory),
            "runs": [
                {"run_id": d.run_id, "state": d.state.value, "directory": str(d.directory),
                 "files": [str(path) for path in d.files], "skipped": d.skipped}
                for d in done
            ],
            "errors": [{"error": _described(exc)} for exc in errors],
            "interrupted": interrupted,
        })
    for exc in errors:
        click.echo(f"Error: {_described(exc)}", err=True)
    if interrupted:
        click.echo(
            f"Interrupted: {plural(len(done), 'run')} complete in {directory}; run the same "
            "command again to fetch the rest.", err=True,
        )
        return ExitCode.INTERRUPTED
    if not as_json:
        fetched = sum(1 for d in done if not d.skipped)
        click.echo(
            f"{plural(len(results), 'run')} in {directory}: {fetched} downloaded, "
            f"{len(done) - fetched} already on disk, {len(errors)} failed"
        )
    return max((exit_code_for(exc) for exc in errors), default=ExitCode.OK)


def _described(exc: BaseException) -> str:
    """The error's line, with the SDK's notes (which run it was) in parentheses."""
    notes = "; ".join(getattr(exc, "__notes__", []))
    return f"{error_message(exc)} ({notes})" if notes else error_message(exc)


FINAL_STATES = [state.value for state in RunState if not state.is_active]
"""The states ``download --group --state`` accepts."""

COMMANDS = (leaderboard,)
"""In the order ``--help`` lists them."""
