"""``aioflowserv server start|stop|status|run``: a real local flowServ server for trying things.

``start`` launches a small detached supervisor process (``python -m
aioflowserv.cli.localserver``) that runs :class:`aioflowserv.testing.FlowservServer`
and stops it cleanly (with every workflow step it started) when it receives
SIGTERM. The supervisor records its process id and the server's URL in a state
file, ``$XDG_STATE_HOME/aioflowserv/server.json``, so that ``status`` and
``stop`` find it from any shell. The server keeps its data (users, groups,
runs) in ``$XDG_STATE_HOME/aioflowserv/server/`` across restarts, and reuses
its last port when it is free. ``--workers N --postgresql`` starts the shape a
deployment uses instead of flask's development server: gunicorn with N sync
workers over a PostgreSQL of its own (kept in the same directory).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs
import httpx

from .._saved import (
    local_server_url,
    process_alive,
    read_server_state,
    server_state_file,
    state_dir,
)
from ..testing import FlowservServer, FlowservServerError, find_server_python
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

START_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0


def state_file() -> Path:
    """Where the running local server is recorded."""
    return server_state_file()


def data_dir() -> Path:
    """The local server's data directory (database, workflows, runs, logs)."""
    return state_dir() / "server"


@attrs.frozen
class ServerStatus:
    """What is known about the local server."""

    running: bool
    url: str | None = None
    pid: int | None = None
    server_pid: int | None = None
    directory: str | None = None
    log: str | None = None
    started_at: str | None = None
    shape: str | None = None

    def to_json(self) -> dict[str, Any]:
        """For ``--json``."""
        return attrs.asdict(self)


def _read_state(path: Path | None = None) -> dict[str, Any] | None:
    return read_server_state(path)


def _write_state(doc: dict[str, Any], path: Path | None = None) -> None:
    path = path or state_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _remove_state(pid: int | None = None, path: Path | None = None) -> None:
    path = path or state_file()
    doc = _read_state(path)
    if pid is None or doc is None or doc.get("pid") == pid:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _alive(pid: int) -> bool:
    """True if the supervisor process exists (see :func:`aioflowserv._saved.process_alive`)."""
    return process_alive(pid)


def _answers(url: str) -> bool:
    try:
        with httpx.Client(timeout=3.0) as client:
            return client.get(url.rstrip("/") + "/").status_code == 200
    except httpx.HTTPError:
        return False


def status() -> ServerStatus:
    """The local server's state; a stale state file is removed."""
    doc = _read_state()
    if doc is None:
        return ServerStatus(running=False)
    if not _alive(doc["pid"]):
        _remove_state(doc["pid"])
        return ServerStatus(running=False)
    url = doc.get("url")
    return ServerStatus(
        running=isinstance(url, str) and _answers(url),
        url=url,
        pid=doc["pid"],
        server_pid=doc.get("server_pid"),
        directory=doc.get("directory"),
        log=doc.get("log"),
        started_at=doc.get("started_at"),
        shape=doc.get("shape"),
    )


def running_url() -> str | None:
    """The URL of a local server started by ``aioflowserv server start``, if one is recorded."""
    return local_server_url()


def start(
    *,
    directory: Path | None = None,
    port: int | None = None,
    python: str | None = None,
    timeout: float = START_TIMEOUT,
    workers: int = 1,
    database: str = "sqlite",
) -> tuple[ServerStatus, bool]:
    """Start the supervisor unless a server runs; returns (status, started now).

    ``workers`` and ``database`` choose the shape (see :class:`FlowservServer`).
    """
    current = status()
    if current.pid is not None:
        if current.running:
            return current, False
        raise CLIError(
            f"a local server (supervisor pid {current.pid}) is recorded but does not answer at "
            f"{current.url}; stop it with `aioflowserv server stop`",
            ExitCode.SERVER,
        )
    if not hasattr(os, "posix_spawn"):
        raise CLIError(
            "`server start` needs a POSIX system; run `aioflowserv server run` in a terminal "
            "of its own instead",
            ExitCode.USAGE,
        )
    try:
        interpreter = find_server_python(python)
    except FlowservServerError as exc:
        raise CLIError(str(exc), ExitCode.USAGE) from None
    directory = (directory or data_dir()).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable, "-m", "aioflowserv.cli.localserver",
        "--dir", str(directory), "--python", str(interpreter), "--state", str(state_file()),
    ]
    if port:
        argv += ["--port", str(port)]
    argv += ["--workers", str(workers), "--database", database]
    log_path = directory / "supervisor.log"
    return _await_start(_spawn(argv, log_path), log_path, timeout), True


def _await_start(pid: int, log_path: Path, timeout: float) -> ServerStatus:
    """Wait until the supervisor ``pid`` has recorded the server's URL."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = _read_state()
        if doc is not None and doc.get("pid") == pid and doc.get("url"):
            return status()
        if not _alive(pid):
            raise CLIError(
                f"the local flowServ server did not start; see {log_path}:\n"
                + _tail(log_path),
                ExitCode.SERVER,
            )
        time.sleep(0.1)
    _terminate(pid)
    raise CLIError(
        f"the local flowServ server did not start within {timeout:.0f} s", ExitCode.SERVER
    )


def _spawn(argv: list[str], log_path: Path) -> int:
    """Start a detached process (own session, output to ``log_path``); returns its pid."""
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    try:
        return os.posix_spawn(
            argv[0], argv, dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_DUP2, null_fd, 0),
                (os.POSIX_SPAWN_DUP2, log_fd, 1),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(log_fd)
        os.close(null_fd)


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "(no log)"


def _terminate(pid: int, timeout: float = STOP_TIMEOUT) -> bool:
    """SIGTERM, then SIGKILL after ``timeout``; True if the process is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.1)
    return not _alive(pid)


def stop(*, clean: bool = False) -> ServerStatus | None:
    """Stop the local server; returns what was running (None if nothing was)."""
    current = status()
    if current.pid is None:
        if clean:
            shutil.rmtree(data_dir(), ignore_errors=True)
        return None
    _terminate(current.pid)
    if current.server_pid is not None:  # the supervisor was killed before it could stop it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(current.server_pid, signal.SIGKILL)
    _remove_state(current.pid)
    if clean and current.directory:
        shutil.rmtree(current.directory, ignore_errors=True)
    return current


def _port_file(directory: Path) -> Path:
    return directory / "port"


def _pick_port(directory: Path, port: int | None) -> int | None:
    """The requested port, else the last one used when it is free, else None (any)."""
    if port:
        return port
    import socket

    try:
        last = int(_port_file(directory).read_text().strip())
    except (OSError, ValueError):
        return None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", last))
        except OSError:
            return None
    return last


def run_foreground(
    directory: Path,
    *,
    port: int | None = None,
    python: str | None = None,
    state: Path | None = None,
    echo: Callable[[str], Any] = print,
    workers: int = 1,
    database: str = "sqlite",
) -> int:
    """Run the server until SIGTERM or Ctrl-C; record it in ``state`` while it runs."""

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, terminate)
    directory.mkdir(parents=True, exist_ok=True)
    server: FlowservServer | None = None
    try:
        try:
            server = FlowservServer(
                python=python, port=_pick_port(directory, port), directory=directory,
                workers=workers, database=database,
            )
            server.start()
        except FlowservServerError as exc:
            echo(f"error: {exc}")
            return ExitCode.SERVER
        _port_file(directory).write_text(f"{server.port}\n")
        if state is not None:
            _write_state({
                "pid": os.getpid(),
                "server_pid": server.pid,
                "url": server.url,
                "directory": str(directory),
                "log": str(server.log_path),
                "started_at": datetime.now(timezone.utc).isoformat(),
                "shape": server.shape,
            }, state)
        echo(f"flowServ server ({server.shape}) running at {server.url} (data in {directory})")
        while server.running:
            time.sleep(0.5)
        echo(f"the flowServ server exited; see {server.log_path}")
        return ExitCode.SERVER
    except KeyboardInterrupt:
        return ExitCode.OK
    finally:
        if server is not None:
            server.stop(cleanup=False)
        if state is not None:
            _remove_state(os.getpid(), state)
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    """The supervisor's entry point (started by :func:`start`)."""
    parser = argparse.ArgumentParser(prog="python -m aioflowserv.cli.localserver")
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--port", type=int)
    parser.add_argument("--python")
    parser.add_argument("--state", type=Path)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database", default="sqlite")
    args = parser.parse_args(argv)
    return run_foreground(
        args.dir, port=args.port, python=args.python, state=args.state,
        echo=lambda line: print(line, flush=True), workers=args.workers, database=args.database,
    )


if __name__ == "__main__":
    sys.exit(main())
