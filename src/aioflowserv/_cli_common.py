"""Pieces shared by the command line's modules: exit codes, errors and JSON shapes.

Nothing here needs click or rich, so the modules that use it can be tested
(and imported) without the ``cli`` extra.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ._errors import (
    APIConnectionError,
    APIStatusError,
    ArgumentError,
    ConfigurationError,
    FlowservError,
    RunWaitTimeout,
    UnauthenticatedError,
    UnsafePathError,
)
from ._models import Group, Run, RunInfo, RunState, User, WorkflowInfo

__all__ = [
    "CLIError",
    "plural",
    "ExitCode",
    "exit_code_for",
    "exit_code_for_runs",
    "group_json",
    "run_info_json",
    "run_json",
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


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an error that ends a command."""
    if isinstance(exc, CLIError):
        return exc.exit_code
    if isinstance(exc, RunWaitTimeout):
        return ExitCode.RUNS_FAILED
    if isinstance(exc, UnauthenticatedError):
        return ExitCode.USAGE  # no token, or an expired one: a configuration problem
    if isinstance(exc, (ConfigurationError, ArgumentError)):
        return ExitCode.USAGE
    if isinstance(exc, (APIConnectionError, APIStatusError)):
        return ExitCode.SERVER
    if isinstance(exc, UnsafePathError):
        return ExitCode.SERVER  # the server sent something we refuse to write
    if isinstance(exc, FlowservError):
        return ExitCode.SERVER
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    return ExitCode.USAGE if isinstance(exc, OSError) else ExitCode.SERVER


def error_message(exc: BaseException, url: str | None = None) -> str:
    """One line that says what went wrong, for humans."""
    if isinstance(exc, CLIError):
        return exc.message
    if isinstance(exc, UnauthenticatedError):
        return f"not logged in ({exc.message}): {NOT_LOGGED_IN_HINT}"
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
    parts = []
    for name, value in arguments.items():
        if isinstance(value, Path):
            parts.append(f"{name}=@{value.name}")
        else:
            parts.append(f"{name}={value}")
    return " ".join(parts)


def state_counts(runs: Iterable[Run]) -> dict[RunState, int]:
    """How many runs are in each state (every state present, in order)."""
    counts = {state: 0 for state in RunState}
    for run in runs:
        counts[run.state] += 1
    return counts
