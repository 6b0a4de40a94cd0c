"""What the command line prints: exit codes, error lines, JSON and tables.

Errors end a command with one line (:func:`error_message`) and an exit code
(:func:`exit_code_for`). ``--json`` outputs are the models' own JSON forms
(``run.to_dict()`` and the like, with a command's extra keys beside them);
tables, colours and words come from ``aioflowserv._display`` (:func:`runs_table`,
:func:`leaderboard_table`, :func:`timeline_table`, :func:`plural`,
:func:`last_message`), which draws the same things for notebooks.
"""

from __future__ import annotations

import enum
import errno
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import click
from rich.console import Console

from .. import (
    APIConnectionError,
    ArgumentError,
    ConfigurationError,
    FlowservError,
    NotFoundError,
    Run,
    RunWaitTimeout,
    UnauthenticatedError,
)
from .._display import (
    Table,
    last_message,
    leaderboard_table,
    plural,
    runs_table,
    timeline_table,
)

__all__ = [
    "CLIError",
    "ExitCode",
    "describe_arguments",
    "error_message",
    "exit_code_for",
    "exit_code_for_runs",
    "last_message",
    "leaderboard_table",
    "make_console",
    "plural",
    "print_json",
    "print_table",
    "runs_table",
    "timeline_table",
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
    STOPPED = 4
    """A sweep stopped early (``--max-failures``, ``--timeout``, a start refused): some of
    its argument sets were never started."""
    INTERRUPTED = 130
    """Ctrl-C."""
    CLOSED_PIPE = 141
    """The output's reader went away (``| head``): the shell's status for SIGPIPE, said quietly."""


class CLIError(Exception):
    """An error the command line reports in one line, with its exit code."""

    def __init__(self, message: str, exit_code: int = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


NOT_LOGGED_IN_HINT = (
    "log in with `aioflowserv login`, set FLOWSERV_ACCESS_TOKEN, or pass --token"
)

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


def describe_arguments(arguments: Mapping[str, Any]) -> str:
    """Arguments as ``name=value`` pairs for tables (local file paths by their name)."""
    return " ".join(
        f"{name}=@{value.name}" if isinstance(value, Path) else f"{name}={value}"
        for name, value in arguments.items()
    )


def print_json(doc: Any) -> None:
    """JSON on stdout."""
    click.echo(json.dumps(doc, indent=2, default=str))


class _Console(Console):
    """rich's console, except that a closed pipe is raised to the command's error handling.

    rich's own answer (``SystemExit(1)``) would end the command with 1 instead
    of the quiet :attr:`ExitCode.CLOSED_PIPE`.
    """

    def on_broken_pipe(self) -> None:
        """Raise ``BrokenPipeError`` (stop writing; the command ends quietly with 141)."""
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "the output's reader went away")


def make_console(stream: IO[str] | None = None, *, stderr: bool = False) -> Console:
    """A console on stdout (or stderr), wide enough for run ids when not a terminal."""
    file = stream or (sys.stderr if stderr else sys.stdout)
    console = _Console(file=file, highlight=False, soft_wrap=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = _Console(file=file, highlight=False, soft_wrap=False, width=200)
    return console


def print_table(table: Table | Any) -> None:
    """A table on stdout: a ``_display.Table`` (drawn with rich), or any rich renderable."""
    make_console().print(table.rich() if isinstance(table, Table) else table)
