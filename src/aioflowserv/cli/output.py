"""What the command line prints: exit codes, error lines, JSON shapes and tables.

Errors end a command with one line (:func:`error_message`) and an exit code
(:func:`exit_code_for`); ``--json`` outputs use the shapes below; the final
table of runs is :func:`runs_table`.
"""

from __future__ import annotations

import enum
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .. import (
    APIConnectionError,
    ArgumentError,
    ConfigurationError,
    FlowservError,
    Group,
    Leaderboard,
    NotFoundError,
    Run,
    RunInfo,
    RunSpan,
    RunState,
    RunWaitTimeout,
    Timeline,
    UnauthenticatedError,
    User,
    WorkflowInfo,
)

__all__ = [
    "CLIError",
    "ExitCode",
    "describe_arguments",
    "error_message",
    "exit_code_for",
    "exit_code_for_runs",
    "group_json",
    "leaderboard_json",
    "leaderboard_table",
    "make_console",
    "plural",
    "print_json",
    "print_table",
    "run_info_json",
    "run_json",
    "runs_table",
    "timeline_table",
    "user_json",
    "workflow_json",
]


class ExitCode(enum.IntEnum):
    """The exit codes of the ``aioflowserv`` command."""

    OK = 0
    """Everything asked for was done; every run asked about ended in SUCCESS."""
    RUNS_FAILED = 1
    """Some runs ended in ERROR or CANCELED, or were still active at a deadline."""
    USAGE = 2
    """A usage or configuration error (bad option, bad batch file, not logged in)."""
    SERVER = 3
    """The server could not be reached, or answered with an error."""
    INTERRUPTED = 130
    """Ctrl-C."""


class CLIError(Exception):
    """An error the command line reports in one line, with its exit code."""

    def __init__(self, message: str, exit_code: int = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


NOT_LOGGED_IN_HINT = (
    "log in with `aioflowserv login`, set FLOWSERV_ACCESS_TOKEN, or pass --token"
)

STATE_STYLE = {
    RunState.PENDING: "yellow",
    RunState.RUNNING: "cyan",
    RunState.SUCCESS: "green",
    RunState.ERROR: "red",
    RunState.CANCELED: "magenta",
}


_UNKNOWN_ID = re.compile(r"^unknown (workflow|group|run|file) '(.*)'$")

LISTS = {
    "workflow": "`aioflowserv workflows` lists the workflows",
    "group": "`aioflowserv groups {workflow}` lists your groups of a workflow",
    "run": "`aioflowserv runs GROUP` lists the runs of a group",
    "file": "`aioflowserv show RUN` lists a run's files",
}
"""For each kind of id, the command that lists the valid ones."""


def unknown_id(exc: BaseException) -> tuple[str, str] | None:
    """(kind, id) when ``exc`` says that an id typed by the user does not exist."""
    if isinstance(exc, NotFoundError):
        match = _UNKNOWN_ID.match(exc.message)
        if match:
            return match.group(1), match.group(2)
    return None


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an error that ends a command."""
    if isinstance(exc, CLIError):
        return exc.exit_code
    if isinstance(exc, RunWaitTimeout):
        return ExitCode.RUNS_FAILED
    if isinstance(exc, (UnauthenticatedError, ConfigurationError, ArgumentError)):
        return ExitCode.USAGE  # no token or an expired one is a configuration problem too
    if unknown_id(exc) is not None:
        return ExitCode.USAGE  # an id that does not exist is a usage error
    if isinstance(exc, FlowservError):
        return ExitCode.SERVER  # unreachable, an error answer, or a path we refuse to write
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    return ExitCode.USAGE if isinstance(exc, OSError) else ExitCode.SERVER


def error_message(
    exc: BaseException,
    url: str | None = None,
    *,
    token_source: str | None = None,
    profile: str | None = None,
    workflow: str | None = None,
) -> str:
    """One line that says what went wrong, for humans, and what to do about it.

    ``token_source``, ``profile`` and ``workflow`` (when known) make the hints
    precise: where the rejected token came from, the profile to log in to, the
    workflow whose groups to list.
    """
    if isinstance(exc, CLIError):
        return exc.message
    if isinstance(exc, UnauthenticatedError):
        if not exc.token_rejected:
            return f"not logged in: {NOT_LOGGED_IN_HINT}"
        where = f" (from {token_source})" if token_source else ""
        login = "aioflowserv login" + (f" --profile {profile}" if profile else "")
        advice = f"log in again with `{login}`"
        if token_source == "FLOWSERV_ACCESS_TOKEN":
            advice += " and unset FLOWSERV_ACCESS_TOKEN (it wins over the saved login)"
        elif token_source == "--token":
            advice += ", or pass a valid --token"
        return f"the token{where} is invalid or expired: {advice}"
    if (found := unknown_id(exc)) is not None:
        kind, _ = found
        hint = LISTS[kind].format(workflow=workflow or "WORKFLOW")
        return f"{exc.message if isinstance(exc, NotFoundError) else exc}; {hint}"
    if isinstance(exc, APIConnectionError) and url is not None and url not in str(exc):
        return f"cannot reach the flowServ server at {url}: {exc}"
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0] if "\n" in text else text


def exit_code_for_runs(runs: Iterable[Run]) -> int:
    """0 when every run ended in SUCCESS, else 1."""
    return ExitCode.OK if all(run.is_success() for run in runs) else ExitCode.RUNS_FAILED


def plural(count: int, noun: str) -> str:
    """``1 run``, ``2 runs``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def seconds(run: Run) -> float | None:
    """The run's duration (start to finish) in seconds, when known."""
    duration = run.duration
    return round(duration.total_seconds(), 3) if duration is not None else None


def run_json(run: Run, **extra: Any) -> dict[str, Any]:
    """A run as the ``--json`` outputs show it."""
    doc: dict[str, Any] = {
        "run_id": run.run_id,
        "state": run.state.value,
        "workflow_id": run.workflow_id,
        "group_id": run.group_id,
        "created_at": _time(run.created_at),
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
        "seconds": seconds(run),
        "arguments": dict(run.arguments),
        "messages": run.messages(),
        "files": [{"id": f.id, "name": f.name, "title": f.title} for f in run.files()],
    }
    doc.update(extra)
    return doc


def run_info_json(info: RunInfo) -> dict[str, Any]:
    """An entry of a group's run listing."""
    return {"run_id": info.run_id, "state": info.state.value, "created_at": _time(info.created_at)}


def workflow_json(info: WorkflowInfo) -> dict[str, Any]:
    """A workflow listing entry."""
    return {"id": info.id, "name": info.name, "description": info.description}


def group_json(group: Group) -> dict[str, Any]:
    """A group (members only when the server sent them)."""
    doc: dict[str, Any] = {"id": group.id, "name": group.name, "workflow_id": group.workflow_id}
    if group.members:
        doc["members"] = [user_json(member) for member in group.members]
    return doc


def user_json(user: User, **extra: Any) -> dict[str, Any]:
    """A user (never with a token)."""
    return {"id": user.id, "username": user.username, **extra}


def describe_arguments(arguments: Mapping[str, Any]) -> str:
    """Arguments as ``name=value`` pairs for tables (local file paths by their name)."""
    return " ".join(
        f"{name}=@{value.name}" if isinstance(value, Path) else f"{name}={value}"
        for name, value in arguments.items()
    )


def print_json(doc: Any) -> None:
    """JSON on stdout."""
    click.echo(json.dumps(doc, indent=2, default=str))


def make_console(stream: IO[str] | None = None, *, stderr: bool = False) -> Console:
    """A console on stdout (or stderr), wide enough for run ids when not a terminal."""
    file = stream or (sys.stderr if stderr else sys.stdout)
    console = Console(file=file, highlight=False, soft_wrap=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(file=file, highlight=False, soft_wrap=False, width=200)
    return console


def print_table(table: Table) -> None:
    """A rich table on stdout."""
    make_console().print(table)


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
    rerun_of: Mapping[str, str] | None = None,
) -> Table:
    """The final table: [rerun of], run, [arguments], state, seconds, result or message.

    ``id_width`` shortens run ids to that many characters; ``rerun_of`` maps
    a rerun's id to the id of the run it repeats.
    """
    table = Table()
    if rerun_of is not None:
        table.add_column("rerun of", no_wrap=True)
    table.add_column("run", no_wrap=True)
    if arguments is not None:
        table.add_column("arguments")
    table.add_column("state", no_wrap=True)
    table.add_column("seconds", justify="right", no_wrap=True)
    table.add_column("result")
    for run in runs:
        row: list[Any] = [] if rerun_of is None else [rerun_of.get(run.run_id, "")]
        row.append(run.run_id[:id_width] if id_width else run.run_id)
        if arguments is not None:
            row.append(arguments.get(run.run_id, ""))
        row.append(Text(run.state.value, style=STATE_STYLE[run.state]))
        duration = seconds(run)
        row.append(f"{duration:.1f}" if duration is not None else "-")
        row.append(_result(run, results or {}))
        table.add_row(*row)
    return table


def _result(run: Run, results: Mapping[str, str]) -> str:
    """The last column: a given result, the files of a successful run, else the last message."""
    if run.run_id in results:
        return results[run.run_id]
    if run.is_success():
        return ", ".join(f.name for f in run.files())
    return last_message(run)


def leaderboard_table(board: Leaderboard) -> Table:
    """The ranking: rank, group, run, one column per result (by its label), finished."""
    table = Table()
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("group")
    table.add_column("run", no_wrap=True)
    for column in board.columns:
        numeric = column.dtype in ("int", "float")
        table.add_column(column.label, justify="right" if numeric else "left")
    table.add_column("finished (UTC)", no_wrap=True)
    for rank, row in enumerate(board.rows, start=1):
        finished = row.finished_at.strftime("%Y-%m-%d %H:%M:%S") if row.finished_at else ""
        table.add_row(
            str(rank), row.group_name, row.run_id,
            *(c.format_value(row.results.get(c.name)) for c in board.columns), finished,
        )
    return table


def leaderboard_json(workflow_id: str, board: Leaderboard) -> dict[str, Any]:
    """``{"workflow_id", "columns": [{name, label, dtype}], "rows": [records]}``."""
    return {
        "workflow_id": workflow_id,
        "columns": [
            {"name": c.name, "label": c.label, "dtype": c.dtype} for c in board.columns
        ],
        "rows": [
            {key: _time(value) if key.endswith("_at") else value for key, value in rec.items()}
            for rec in board.to_records()
        ],
    }


QUEUED = "\u2591"  # light shade: waiting in the queue
RAN = "\u2588"  # full block: running, colored by state


def _bar(span: RunSpan, timeline: Timeline, width: int) -> Text:
    """One run's bar on a line of ``width`` characters."""
    end = timeline.total

    def column(seconds: float) -> int:
        return round(timeline.fraction(seconds) * width)

    created = column(span.created)
    started = column(span.created + span.queued(end))
    finished = max(started, column(span.created + span.queued(end) + span.ran(end)))
    if span.started is not None and finished == started:
        finished = min(width, started + 1)  # a run that ran shows at least one block
        started = min(started, finished - 1)
    text = Text(" " * created)
    text.append(QUEUED * (started - created), style="dim")
    text.append(RAN * (finished - started), style=STATE_STYLE[span.state])
    text.append(" " * (width - max(finished, started, created)))
    return text


def timeline_table(timeline: Timeline, width: int) -> Table:
    """Each run as a bar on one time axis: queued (pale), then ran (colored by state)."""
    table = Table(
        title=timeline.summary(), title_justify="left",
        caption=f"{QUEUED} queued  {RAN} ran (color: state); axis from "
        f"{timeline.start:%Y-%m-%d %H:%M:%S} UTC", caption_justify="left",
    )
    table.add_column("run", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column(_axis(timeline.total, width), no_wrap=True, min_width=width)
    table.add_column("queued", justify="right", no_wrap=True)
    table.add_column("ran", justify="right", no_wrap=True)
    for span in timeline.spans:
        ran = span.ran(timeline.total)
        table.add_row(
            span.run_id[:8], Text(span.state.value, style=STATE_STYLE[span.state]),
            _bar(span, timeline, width), f"{span.queued(timeline.total):.1f}s",
            f"{ran:.1f}s" + ("+" if span.finished is None else ""),
        )
    return table


def _axis(total: float, width: int) -> str:
    """``0s ... 12.3s`` spread over ``width`` characters."""
    right = f"{total:.1f}s"
    return "0s" + " " * max(1, width - 2 - len(right)) + right
