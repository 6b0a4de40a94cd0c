"""``aioflowserv server start|stop|status|run``: the background server's problems as exit codes.

The supervisor itself (the detached process, its state file, the server's data
directory and port) is :mod:`aioflowserv._localserver`; this module turns its
errors into :class:`CLIError` with the command's exit codes: a server that does
not start is :attr:`ExitCode.SERVER`, one that cannot be started here (no
server interpreter, not a POSIX system) :attr:`ExitCode.USAGE`.
``python -m aioflowserv.cli.localserver`` still runs a supervisor, as
``python -m aioflowserv._localserver`` does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .. import _localserver
from .._localserver import ServerStatus, SupervisorError, data_dir, status, stop
from .._saved import local_server_url
from .._serverenv import FlowservServerError
from .output import CLIError, ExitCode

__all__ = [
    "ServerStatus",
    "data_dir",
    "main",
    "run_foreground",
    "running_url",
    "start",
    "status",
    "stop",
]


def running_url() -> str | None:
    """The URL of a local server started by ``aioflowserv server start``, if one is recorded."""
    return local_server_url()


def start(**options: Any) -> tuple[ServerStatus, bool]:
    """Start the supervisor unless a server runs (:func:`aioflowserv._localserver.start`).

    Returns (status, started now); raises :class:`CLIError` with the exit code
    of the problem.
    """
    try:
        return _localserver.start(**options)
    except SupervisorError as exc:
        raise CLIError(str(exc), ExitCode.SERVER) from None
    except FlowservServerError as exc:
        raise CLIError(str(exc), ExitCode.USAGE) from None


def _exit_code(outcome: bool | None) -> int:
    """:attr:`ExitCode.OK` when the server was stopped on request, else :attr:`ExitCode.SERVER`."""
    return ExitCode.OK if outcome else ExitCode.SERVER


def run_foreground(directory: Path, **options: Any) -> int:
    """Run the server until SIGTERM or Ctrl-C (:func:`aioflowserv._localserver.run_foreground`).

    Returns the exit code: OK after Ctrl-C, SERVER when the server could not
    start (the error is echoed) or exited by itself.
    """
    return _exit_code(_localserver.run_foreground(directory, **options))


def main(argv: list[str] | None = None) -> int:
    """A supervisor's entry point, as :func:`aioflowserv._localserver.main` with exit codes."""
    return _exit_code(_localserver.supervise(argv, "python -m aioflowserv.cli.localserver"))


if __name__ == "__main__":
    sys.exit(main())
