"""``server start|stop|status|run``: a real local flowServ server (see :mod:`..localserver`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..._localserver import has_data, moved_note
from ..._saved import same_server, saved_logins
from ..._serverenv import (
    ENV_SERVER_PYTHON,
    FlowservServerError,
    ensure_server_venv,
    find_server_python,
    server_venv_dir,
)
from .. import localserver
from ..app import command, group, json_option
from ..output import CLIError, ExitCode, print_json

__all__ = ["COMMANDS", "server"]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_SHAPE = "flask dev server + sqlite"
"""What ``server start`` runs unless told otherwise (not repeated in its output)."""


@group("server")
def server() -> None:
    """A real local flowServ server, for trying things out (install, start, stop, status, run)."""


def _progress(line: str) -> None:
    click.echo(line, err=True)


def _server_python(python: str | None) -> str:
    """The server's interpreter: as given or found, else installed now (with progress)."""
    try:
        return str(find_server_python(python))
    except FlowservServerError as exc:
        if python is not None or os.environ.get(ENV_SERVER_PYTHON):
            raise CLIError(str(exc)) from None
    try:
        return str(ensure_server_venv(progress=_progress))
    except FlowservServerError as exc:
        raise CLIError(str(exc), ExitCode.SERVER) from None


@command("install", parent=server)
@json_option
def server_install(as_json: bool) -> int:
    """Install flowServ's server (pinned versions) in a virtual environment of its own.

    It goes to $XDG_DATA_HOME/aioflowserv/server-venv (~/.local/share/...), where
    `server start`, aioflowserv.testing and the pytest plugin find it from any
    folder. Needs the package index; about a minute. `server start` does this
    by itself the first time.
    """
    venv = server_venv_dir()
    try:
        python = ensure_server_venv(venv, progress=_progress)
    except FlowservServerError as exc:
        raise CLIError(str(exc), ExitCode.SERVER) from None
    if as_json:
        print_json({"venv": str(venv), "python": str(python)})
    else:
        click.echo(f"The flowServ server is installed in {venv}.")
        click.echo("Start it with: aioflowserv server start")
    return ExitCode.OK


def _port_and_dir(func: F) -> F:
    """``--port``, ``--dir``, ``--workers`` and ``--postgresql``: where and how the server runs."""
    func = click.option(
        "--postgresql", is_flag=True,
        help="Run flowServ on a PostgreSQL of its own (in the data directory) instead of SQLite.",
    )(func)
    func = click.option(
        "--workers", type=click.IntRange(1, 64), default=1, show_default=True,
        help="1: flask's development server; N >= 2: gunicorn with N sync workers "
        "(the shape a deployment uses).",
    )(func)
    func = click.option(
        "--dir", "directory", type=click.Path(file_okay=False),
        help="Data directory (default: $XDG_STATE_HOME/aioflowserv/server).",
    )(func)
    return click.option(
        "--port", type=click.IntRange(1, 65535), help="Port (default: the last one, or any)."
    )(func)


@command("start", parent=server)
@_port_and_dir
@click.option("--python", metavar="PATH",
              help="The server's interpreter (default: AIOFLOWSERV_SERVER_PYTHON, a "
              ".venv-server, then the one of `server install`, installed now if missing).")
@json_option
def server_start(port: int | None, directory: str | None, workers: int, postgresql: bool,
                 python: str | None, as_json: bool) -> int:
    """Start a local flowServ server in the background and print its URL.

    The first time, the server itself is installed (as `server install` does).
    By default flask's development server over SQLite; ``--workers 4
    --postgresql`` runs gunicorn with 4 sync workers over a PostgreSQL of its
    own, as a deployment would.
    """
    where = Path(directory) if directory else localserver.data_dir()
    existing = has_data(where)
    status, started = localserver.start(
        directory=where if directory else None, port=port,
        python=_server_python(python), workers=workers,
        database="postgresql" if postgresql else "sqlite",
    )
    if as_json:
        print_json(dict(status.to_json(), started=started, existing_data=existing))
        return ExitCode.OK
    verb = "Started" if started else "Already running:"
    shape = f" ({status.shape})" if status.shape not in (None, DEFAULT_SHAPE) else ""
    click.echo(f"{verb} flowServ server{shape} at {status.url} (data in {status.directory})")
    if started and status.moved_from and status.url:
        note = moved_note(
            status.moved_from, status.url, status.moved_logins, asked=status.moved_as_asked
        )
        click.echo(note[:1].upper() + note[1:] + ".")
    click.echo("These commands and the SDK (afs.Flowserv() with no arguments) use it while it")
    click.echo("runs, from any shell; for other tools:  eval \"$(aioflowserv env)\"")
    click.echo(_login_hint(status.url, existing or not started))
    click.echo("Stop it with: aioflowserv server stop")
    return ExitCode.OK


def _login_hint(url: str | None, existing: bool) -> str:
    """What to do next about logging in: nothing, log in again, or create a first user."""
    logins = [
        f"{login.username} (profile {name})" for name, login in saved_logins().items()
        if url is not None and same_server(login.url, url)
    ]
    if logins:
        return f"Saved login for it: {', '.join(logins)}; check it with: aioflowserv whoami"
    if existing:
        return ("Its users are kept; log in with: aioflowserv login USERNAME "
                "(or create one with --register)")
    return "Create a user and log in:  aioflowserv login --register USERNAME"


@command("stop", parent=server)
@click.option("--clean", is_flag=True, help="Also delete the server's data directory.")
def server_stop(clean: bool) -> int:
    """Stop the local server (and every workflow step it runs); --clean deletes its data too."""
    running = localserver.status()
    directory = Path(running.directory) if running.directory else localserver.data_dir()
    had_data = clean and directory.exists()
    stopped = localserver.stop(clean=clean)
    if stopped is None:
        click.echo("No local server is running.")
    else:
        click.echo(f"Stopped the flowServ server at {stopped.url}.")
    if clean:
        if had_data and not directory.exists():
            click.echo(f"Deleted its data (users, groups, runs) in {directory}.")
        elif not had_data:
            click.echo(f"No data to delete in {directory}.")
    return ExitCode.OK


@command("status", parent=server)
@json_option
def server_status(as_json: bool) -> int:
    """Say whether the local server runs, and where (exit 3 when it does not)."""
    status = localserver.status()
    if as_json:
        print_json(status.to_json())
    elif status.running:
        click.echo(f"Running at {status.url} (pid {status.pid}, data in {status.directory})")
    elif status.pid is not None:
        click.echo(f"Not answering at {status.url} (supervisor pid {status.pid}); see {status.log}")
    else:
        click.echo("No local server is running. Start one: aioflowserv server start")
    return ExitCode.OK if status.running else ExitCode.SERVER


@command("run", parent=server)
@_port_and_dir
@click.option("--python", metavar="PATH", help="The server's interpreter.")
def server_run(port: int | None, directory: str | None, workers: int, postgresql: bool,
               python: str | None) -> int:
    """Run a local server in the foreground until Ctrl-C."""
    return localserver.run_foreground(
        Path(directory) if directory else localserver.data_dir(), port=port,
        python=_server_python(python), echo=click.echo, workers=workers,
        database="postgresql" if postgresql else "sqlite",
    )


COMMANDS = (server,)
"""In the order ``--help`` lists them."""
