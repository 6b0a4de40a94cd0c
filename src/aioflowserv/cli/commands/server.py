"""``server start|stop|status|run``: a real local flowServ server (see :mod:`..localserver`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ...testing import FlowservServerError, find_server_python
from .. import localserver
from ..app import command, group, json_option
from ..output import CLIError, ExitCode, print_json

__all__ = ["COMMANDS", "server"]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_SHAPE = "flask dev server + sqlite"
"""What ``server start`` runs unless told otherwise (not repeated in its output)."""


@group("server")
def server() -> None:
    """A real local flowServ server, for trying things out (start, stop, status, run)."""


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
              help="The server's interpreter (default: AIOFLOWSERV_SERVER_PYTHON or .venv-server).")
@json_option
def server_start(port: int | None, directory: str | None, workers: int, postgresql: bool,
                 python: str | None, as_json: bool) -> int:
    """Start a local flowServ server in the background and print its URL.

    By default flask's development server over SQLite; ``--workers 4
    --postgresql`` runs gunicorn with 4 sync workers over a PostgreSQL of its
    own, as a deployment would.
    """
    status, started = localserver.start(
        directory=Path(directory) if directory else None, port=port, python=python,
        workers=workers, database="postgresql" if postgresql else "sqlite",
    )
    if as_json:
        print_json(dict(status.to_json(), started=started))
        return ExitCode.OK
    verb = "Started" if started else "Already running:"
    shape = f" ({status.shape})" if status.shape not in (None, DEFAULT_SHAPE) else ""
    click.echo(f"{verb} flowServ server{shape} at {status.url} (data in {status.directory})")
    click.echo("Commands of this shell use it while it runs; elsewhere point them at it with")
    click.echo(f"  export FLOWSERV_URL={status.url or ''}")
    click.echo("Create a user and log in:  aioflowserv login --register USERNAME")
    click.echo("Stop it with: aioflowserv server stop")
    return ExitCode.OK


@command("stop", parent=server)
@click.option("--clean", is_flag=True, help="Also delete the server's data directory.")
def server_stop(clean: bool) -> int:
    """Stop the local server (and every workflow step it runs)."""
    stopped = localserver.stop(clean=clean)
    if stopped is None:
        click.echo("No local server is running.")
    else:
        click.echo(f"Stopped the flowServ server at {stopped.url}.")
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
    try:
        interpreter = str(find_server_python(python))
    except FlowservServerError as exc:
        raise CLIError(str(exc)) from None
    return localserver.run_foreground(
        Path(directory) if directory else localserver.data_dir(), port=port,
        python=interpreter, echo=click.echo, workers=workers,
        database="postgresql" if postgresql else "sqlite",
    )


COMMANDS = (server,)
"""In the order ``--help`` lists them."""
