"""A real local flowServ server (:class:`FlowservServer`), and its supervisor for the command line.

:class:`FlowservServer` starts flowServ's own REST server (rob-flask on
flowserv-core, pinned: :mod:`aioflowserv._serverenv`) from its own virtual
environment, on a free 127.0.0.1 port, with all of its state in a temporary
directory; it installs the test workflows shipped with aioflowserv
(``sleeper`` and ``types``), and your own workflow templates if you give
them, and stops the server, and every workflow step it started, on exit::

    with FlowservServer() as server:
        with Flowserv(server.url) as fs:
            ...

    workflows = {**TEMPLATES, "mybench": Path("benchmarks/mybench")}  # id -> directory
    with FlowservServer(workflows=workflows) as server:
        ...

Two shapes: by default flask's development server over SQLite (one process,
threads), as flowServ's own docs run it; with ``workers=N`` (N >= 2) and
``database="postgresql"`` the shape a deployment uses, gunicorn with N sync
workers over a PostgreSQL 16 started for it (from the ``pgserver`` package)::

    with FlowservServer(workers=4, database="postgresql") as server:
        ...

The supervisor keeps one such server running in the background for
``aioflowserv server start``: :func:`start` launches a detached process
(``python -m aioflowserv._localserver``, :func:`main`) that runs the server
(:func:`run_foreground`) until it receives SIGTERM (:func:`stop`), then stops
it cleanly, with every workflow step it started. The supervisor records its
process id and the server's URL in a state file,
``$XDG_STATE_HOME/aioflowserv/server.json``, so that :func:`status` and
:func:`stop` find it from any shell. The server keeps its data (users, groups,
runs) in ``$XDG_STATE_HOME/aioflowserv/server/`` across restarts, and its
address: it starts on its last port again (:func:`pick_port`). The check binds
the port with ``SO_REUSEADDR``, as the server itself does: the connections the
old server closed linger in TIME-WAIT for a minute, and a check without it
(what moved every restart to a new port) took them for another program. Only
when the port is really taken (a listening socket, still there after
:data:`~aioflowserv._config.PORT_WAIT` seconds) does the server move to
another one; the saved logins of the old address then move with it
(:func:`aioflowserv._saved.move_logins`), and the state file says so
(``moved_from``, ``moved_logins``). ``aioflowserv demo`` runs a
:class:`FlowservServer` in the foreground instead.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
import httpx

from ._config import (
    DEFAULT_PATH,
    PORT_WAIT,
    SERVER_START_TIMEOUT,
    SERVER_STOP_TIMEOUT,
    SUPERVISOR_START_TIMEOUT,
    check_count,
)
from ._errors import ConfigurationError
from ._saved import (
    move_logins,
    process_alive,
    read_server_state,
    remember_local_url,
    server_state_file,
    state_dir,
)
from ._serverenv import (
    SERVER_PINS,
    TEMPLATES,
    FlowservServerError,
    find_server_python,
    template_path,
)

__all__ = [
    "DATABASES",
    "HEADER_MAPS",
    "FlowservServer",
    "ServerStatus",
    "SupervisorError",
    "data_dir",
    "free_port",
    "has_data",
    "main",
    "moved_note",
    "pick_port",
    "port_is_free",
    "run_foreground",
    "start",
    "status",
    "stop",
    "supervise",
]

DATABASES = ("sqlite", "postgresql")
"""The databases :class:`FlowservServer` can run flowServ on."""

HEADER_MAPS = ("dangerous", "drop", "refuse")
"""gunicorn's ``--header-map`` choices: what it does with header names that contain ``_``."""

MANIFESTS = ("flowserv.json", "flowserv.yaml", "flowserv.yml")
"""The manifest file names flowServ looks for in a template directory (they name the workflow)."""

SPECIFICATIONS = tuple(
    f"{name}{suffix}" for name in ("benchmark", "workflow", "template")
    for suffix in (".json", ".yaml", ".yml")
)
"""Where flowServ's own examples keep a template's specification, when no manifest names it."""

INSTALLED = "workflows-installed"
"""The marker file of a state directory whose database and workflows are set up."""

_GUNICORN_CONFIG = '''"""gunicorn settings for flowServ 0.8.1, written by aioflowserv.

flowServ's serial engine runs each run in a multiprocessing pool forked from the
gunicorn worker that started it, and cancels it by SIGTERM to that pool process
(Pool.terminate), then waits for it. The pool process inherits the worker's
SIGTERM handler, which only flags a graceful exit, so it never stops: the cancel
hangs (sync workers: until the worker timeout kills the worker; threaded workers:
for good, holding the engine's lock). Restoring the default SIGTERM action in every
process a worker forks lets the cancel work.
"""

import os
import signal


def post_worker_init(worker):
    os.register_at_fork(after_in_child=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))
'''

_START_POSTGRES = (
    "import sys, pgserver\n"
    "print(pgserver.get_server(sys.argv[1], cleanup_mode=None).get_uri())\n"
)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class FlowservServer:
    """A real flowServ REST server in a subprocess, with its own state directory.

    ``port`` defaults to a free one; ``directory`` to a new temporary directory
    (removed on :meth:`stop` unless given). ``workflows`` are the workflows
    to install, by id (default: the shipped :data:`TEMPLATES`): for a shipped
    template's id, its display name; otherwise the directory of your own
    template (a path; a ``pathlib.Path`` is always taken as a directory). The
    template's manifest (``flowserv.yaml``) names it, else its id does.
    :meth:`stop` followed by :meth:`start` restarts the server on the same
    port with the same state.

    ``workers=1`` runs flask's development server (one process, threads);
    ``workers=N`` with N >= 2 runs gunicorn with N sync workers, configured so
    that flowServ's cancel works under it (:attr:`gunicorn_config`; without it
    a cancel that reaches the worker which started the run hangs, see the
    README's section on deploying flowServ). ``header_map`` is gunicorn's
    ``--header-map``: ``"dangerous"`` keeps the ``api_key`` token header, which
    gunicorn's own default, ``"drop"``, throws away (as nginx does by default).
    ``database="postgresql"`` runs flowServ on a PostgreSQL 16 of its own,
    started from the ``pgserver`` package in the state directory and stopped
    with the server; the default is SQLite.
    """

    def __init__(
        self,
        *,
        python: str | os.PathLike[str] | None = None,
        port: int | None = None,
        directory: str | os.PathLike[str] | None = None,
        workflows: Mapping[str, str | os.PathLike[str]] | None = None,
        auth_ttl: int = 86400,
        max_upload: int | None = None,
        workers: int = 1,
        database: str = "sqlite",
        header_map: str = "dangerous",
    ) -> None:
        self.workflows = dict(TEMPLATES if workflows is None else workflows)
        self._commands = [
            self._install_command(key, value) for key, value in self.workflows.items()
        ]
        try:
            check_count(workers, "workers", setting=True)
        except ConfigurationError as exc:
            raise FlowservServerError(str(exc)) from None
        if database not in DATABASES:
            raise FlowservServerError(
                f"database must be one of {', '.join(DATABASES)}, got {database!r}"
            )
        if header_map not in HEADER_MAPS:
            raise FlowservServerError(
                f"header_map must be one of {', '.join(HEADER_MAPS)}, got {header_map!r}"
            )
        self.python = find_server_python(python)
        self.workers = workers
        self.database = database
        self.header_map = header_map
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self._own_directory = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="aioflowserv-server-"))
        self.auth_ttl = auth_ttl
        self.max_upload = max_upload
        self._process: subprocess.Popen[bytes] | None = None
        self._installed = False
        self._database_url: str | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<FlowservServer {self.url} ({self.shape}, {state})>"

    @property
    def shape(self) -> str:
        """What serves flowServ over which database, e.g. ``gunicorn -w 4 + postgresql``."""
        wsgi = "flask dev server" if self.workers == 1 else f"gunicorn -w {self.workers}"
        return f"{wsgi} + {self.database}"

    @property
    def url(self) -> str:
        """The API base URL, for ``AsyncFlowserv(url=...)``."""
        return f"http://{self.host}:{self.port}{DEFAULT_PATH}"

    @property
    def log_path(self) -> Path:
        """The server's console output."""
        return self.directory / "server.log"

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.pid if self.running and self._process else None

    @property
    def gunicorn_config(self) -> Path:
        """The gunicorn configuration file: the fix that lets flowServ's cancel work under it."""
        return self.directory / "gunicorn_flowserv.conf.py"

    @property
    def postgres_directory(self) -> Path:
        """The PostgreSQL data directory (with ``database="postgresql"``)."""
        return self.directory / "postgres"

    @property
    def database_url(self) -> str:
        """The ``FLOWSERV_DATABASE`` setting (an SQLAlchemy URL) of this server."""
        if self.database == "sqlite":
            return f"sqlite:///{self.directory / 'api' / 'flowserv.db'}"
        if self._database_url is None:
            raise FlowservServerError("PostgreSQL is not running (start the server first)")
        return self._database_url

    def environment(self) -> dict[str, str]:
        """The environment shared by the server and flowServ's command line."""
        env = {
            key: value for key, value in os.environ.items()
            if not key.startswith(("FLOWSERV_", "ROB_", "FLASK_"))
        }
        env.update(
            FLOWSERV_API_DIR=str(self.directory / "api"),
            FLOWSERV_API_HOST=self.host,
            FLOWSERV_API_PORT=str(self.port),
            FLOWSERV_API_PATH=DEFAULT_PATH,
            FLOWSERV_AUTH_TTL=str(self.auth_ttl),
            ROB_WEBAPI_LOG=str(self.directory / "log"),
            XDG_CACHE_HOME=str(self.directory / "cache"),
            GIT_PYTHON_REFRESH="quiet",
            FLASK_APP="robflask.api",
            PYTHONDONTWRITEBYTECODE="1",
        )
        if self.database != "sqlite":
            env["FLOWSERV_DATABASE"] = self.database_url
        if self.max_upload is not None:
            env["ROB_WEBAPI_CONTENTLENGTH"] = str(self.max_upload)
        return env

    @staticmethod
    def _install_command(key: str, value: str | os.PathLike[str]) -> list[str]:
        """The ``flowserv workflows create`` arguments for one workflow (checked now)."""
        if isinstance(value, str) and key in TEMPLATES:
            return ["workflows", "create", "-k", key, "-n", value, str(template_path(key))]
        if not isinstance(value, (str, os.PathLike)):
            raise FlowservServerError(
                f"workflow {key!r}: expected a template directory, got {type(value).__name__}"
            )
        directory = Path(value).expanduser().resolve()
        if not directory.is_dir():
            raise FlowservServerError(
                f"workflow {key!r}: no template directory {str(directory)!r} (give the "
                f"directory of a flowServ template; shipped: {', '.join(TEMPLATES)})"
            )
        command = ["workflows", "create", "-k", key]
        if not any((directory / name).is_file() for name in MANIFESTS):
            # Without a manifest flowServ needs a name (the id) and the specification file.
            spec = next((directory / n for n in SPECIFICATIONS if (directory / n).is_file()), None)
            if spec is None:
                raise FlowservServerError(
                    f"workflow {key!r}: {str(directory)!r} has no manifest ({MANIFESTS[1]}) and "
                    f"no specification ({', '.join(SPECIFICATIONS[1::3])})"
                )
            command += ["-n", key, "-s", str(spec)]
        return [*command, str(directory)]

    def install_workflows(self) -> None:
        """Create the database and install the workflow templates (once per state directory)."""
        suffix = "" if self.database == "sqlite" else f"-{self.database}"
        marker = self.directory / f"{INSTALLED}{suffix}"
        if self._installed or marker.exists():
            self._installed = True
            return
        (self.directory / "api").mkdir(parents=True, exist_ok=True)
        commands = list(self._commands)
        if self.database != "sqlite":  # flowServ creates only its SQLite file by itself
            commands.insert(0, ["init", "-f"])
        script = (
            "import sys, json\n"
            "from flowserv.client.cli.base import cli_flowserv\n"
            "for args in json.loads(sys.argv[1]):\n"
            "    cli_flowserv.main(args, standalone_mode=False)\n"
        )
        result = subprocess.run(
            [str(self.python), "-c", script, json.dumps(commands)],
            env=self.environment(), capture_output=True, text=True, cwd=self.directory,
        )
        if result.returncode != 0:
            raise FlowservServerError(f"installing workflows failed:\n{result.stderr[-2000:]}")
        marker.touch()
        self._installed = True

    def start(self, timeout: float = SERVER_START_TIMEOUT) -> FlowservServer:
        """Start the database (PostgreSQL), install the workflows (first time) and the server.

        Returns once the server answers.
        """
        if self.running:
            return self
        if self.database == "postgresql":
            self._start_postgres()
        self.install_workflows()
        if self.workers > 1:
            self.gunicorn_config.write_text(_GUNICORN_CONFIG)
        log = self.log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                self.command(), env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=self.directory, start_new_session=True,
            )
        finally:
            log.close()
        self._wait_ready(timeout)
        return self

    def command(self) -> list[str]:
        """The command line that starts the server."""
        if self.workers == 1:
            return [str(self.python), "-m", "flask", "run", "--host", self.host,
                    "--port", str(self.port), "--with-threads", "--no-reload"]
        # No control socket: gunicorn 27 puts one at a fixed path in $HOME by default,
        # which two servers on one machine would fight over.
        return [str(self.python), "-m", "gunicorn", "--config", str(self.gunicorn_config),
                "--workers", str(self.workers),
                "--worker-class", "sync", "--header-map", self.header_map,
                "--no-control-socket", "--bind", f"{self.host}:{self.port}",
                "robflask.api:create_app()"]

    def _start_postgres(self) -> None:
        """Start (creating it the first time) the PostgreSQL of this server; keep its URL."""
        result = subprocess.run(
            [str(self.python), "-c", _START_POSTGRES, str(self.postgres_directory)],
            capture_output=True, text=True, cwd=self.directory, timeout=SERVER_START_TIMEOUT,
            # The socket goes in the data directory, or when that path is too long for a
            # socket (a deep test directory) under this short one (a subfolder per server).
            env={**os.environ, "XDG_RUNTIME_DIR": str(Path(tempfile.gettempdir(), "afs-pg"))},
        )
        uri = result.stdout.strip().splitlines()[-1:] if result.returncode == 0 else []
        if not uri or not uri[0].startswith("postgresql://"):
            raise FlowservServerError(
                "starting PostgreSQL (pgserver) failed; does the server's virtual environment "
                f"have {', '.join(SERVER_PINS[-3:])}? (make install adds them)\n"
                f"{result.stderr[-2000:]}"
            )
        self._database_url = "postgresql+psycopg2://" + uri[0].removeprefix("postgresql://")

    def _stop_postgres(self) -> None:
        """Stop PostgreSQL cleanly: SIGINT to the postmaster is its fast shutdown.

        (``pg_ctl stop`` refuses to run as root, and pgserver runs the database
        as its own system user then; a signal from the owner or root works.)
        """
        self._database_url = None
        try:
            pid = int((self.postgres_directory / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        try:
            os.kill(pid, signal.SIGINT)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + SERVER_STOP_TIMEOUT
        while time.monotonic() < deadline and process_alive(pid, marker=None):
            time.sleep(0.05)
        if process_alive(pid, marker=None):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGQUIT)  # immediate shutdown

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self._process is None or self._process.poll() is not None:
                    raise FlowservServerError(
                        f"the flowServ server exited during start-up:\n{self._log_tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.url + "/").status_code == 200:
                        return
                time.sleep(0.05)
        self.stop()
        raise FlowservServerError(f"the flowServ server did not answer within {timeout} s")

    def _log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return "(no log)"

    def stop(self, *, cleanup: bool | None = None) -> None:
        """Stop the server and every workflow step it started.

        The state directory is removed if this object created it, unless
        ``cleanup=False`` (keep it for a restart).
        """
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        if process is not None:
            # Workflow steps (and, under gunicorn, flowServ's pool processes, which outlive
            # a graceful stop) live in the server's session; make sure none survives it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        if self.database == "postgresql":
            self._stop_postgres()
        if cleanup if cleanup is not None else False:
            shutil.rmtree(self.directory, ignore_errors=True)

    def close(self) -> None:
        """Stop the server and remove the state directory this object created."""
        self.stop(cleanup=self._own_directory)

    def restart(self, timeout: float = SERVER_START_TIMEOUT) -> FlowservServer:
        """Stop and start again, on the same port with the same state."""
        self.stop(cleanup=False)
        return self.start(timeout)

    def __enter__(self) -> FlowservServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- helpers for tests ---------------------------------------------------

    def create_user(
        self, username: str | None = None, password: str = "secret"
    ) -> dict[str, Any]:
        """Register an active user and log in.

        Returns ``id``, ``username``, ``password`` and ``token``.
        """
        username = username or f"user-{uuid.uuid4().hex[:12]}"
        with httpx.Client(base_url=self.url + "/", timeout=30.0) as client:
            answer = client.post(
                "users/register",
                json={"username": username, "password": password, "verify": False},
            )
            if answer.status_code != 201:
                raise FlowservServerError(f"registering {username!r} failed: {answer.text}")
            login = client.post("users/login", json={"username": username, "password": password})
            login.raise_for_status()
            doc = login.json()
        return {"id": doc["id"], "username": username, "password": password, "token": doc["token"]}

    def create_group(
        self, token: str, workflow_id: str = "sleeper", name: str | None = None
    ) -> str:
        """Create a group of a workflow for the token's user; returns the group id."""
        name = name or f"group-{uuid.uuid4().hex[:12]}"
        with httpx.Client(base_url=self.url + "/", timeout=30.0) as client:
            answer = client.post(
                f"workflows/{workflow_id}/groups", json={"name": name}, headers={"api_key": token}
            )
            if answer.status_code != 201:
                raise FlowservServerError(f"creating group {name!r} failed: {answer.text}")
            return str(answer.json()["id"])


class SupervisorError(FlowservServerError):
    """The background server did not start, or one is recorded that does not answer."""


def data_dir() -> Path:
    """The background server's data directory (database, workflows, runs, logs)."""
    return state_dir() / "server"


def has_data(directory: Path | None = None) -> bool:
    """True if a server ran on ``directory`` (default :func:`data_dir`) before: it has users."""
    return any((directory or data_dir()).glob(f"{INSTALLED}*"))


@attrs.frozen
class ServerStatus:
    """What is known about the background server."""

    running: bool
    url: str | None = None
    pid: int | None = None
    server_pid: int | None = None
    directory: str | None = None
    log: str | None = None
    started_at: str | None = None
    shape: str | None = None
    moved_from: str | None = None  # the last address, when the server did not keep it:
    moved_logins: tuple[str, ...] = ()  # the profiles moved with it,
    moved_as_asked: bool = False  # and whether --port asked for it

    def to_json(self) -> dict[str, Any]:
        """For ``--json``."""
        return attrs.asdict(self)


def _write_state(doc: dict[str, Any], path: Path | None = None) -> None:
    path = path or server_state_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _remove_state(pid: int | None = None, path: Path | None = None) -> None:
    path = path or server_state_file()
    doc = read_server_state(path)
    if pid is None or doc is None or doc.get("pid") == pid:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _answers(url: str) -> bool:
    try:
        with httpx.Client(timeout=3.0) as client:
            return client.get(url.rstrip("/") + "/").status_code == 200
    except httpx.HTTPError:
        return False


def status() -> ServerStatus:
    """The background server's state; a stale state file is removed."""
    doc = read_server_state()
    if doc is None:
        return ServerStatus(running=False)
    if not process_alive(doc["pid"]):
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
        moved_from=doc.get("moved_from"),
        moved_logins=tuple(doc.get("moved_logins") or ()),
        moved_as_asked=bool(doc.get("moved_as_asked")),
    )


def start(
    *,
    directory: Path | None = None,
    port: int | None = None,
    python: str | None = None,
    timeout: float = SUPERVISOR_START_TIMEOUT,
    workers: int = 1,
    database: str = "sqlite",
) -> tuple[ServerStatus, bool]:
    """Start the supervisor unless a server runs; returns (status, started now).

    ``workers`` and ``database`` choose the shape (see :class:`FlowservServer`).
    Raises :class:`SupervisorError` when the server does not start (or one is
    recorded that does not answer), and :class:`FlowservServerError` when it
    cannot be started here (no server interpreter, not a POSIX system).
    """
    current = status()
    if current.pid is not None:
        if current.running:
            return current, False
        raise SupervisorError(
            f"a local server (supervisor pid {current.pid}) is recorded but does not answer at "
            f"{current.url}; stop it with `aioflowserv server stop`"
        )
    if not hasattr(os, "posix_spawn"):
        raise FlowservServerError(
            "`server start` needs a POSIX system; run `aioflowserv server run` in a terminal "
            "of its own instead"
        )
    interpreter = find_server_python(python)
    directory = (directory or data_dir()).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable, "-m", "aioflowserv._localserver",
        "--dir", str(directory), "--python", str(interpreter), "--state", str(server_state_file()),
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
        doc = read_server_state()
        if doc is not None and doc.get("pid") == pid and doc.get("url"):
            return status()
        if not process_alive(pid):
            raise SupervisorError(
                f"the local flowServ server did not start; see {log_path}:\n" + _tail(log_path)
            )
        time.sleep(0.1)
    _terminate(pid)
    raise SupervisorError(f"the local flowServ server did not start within {timeout:.0f} s")


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


def _terminate(pid: int, timeout: float = SERVER_STOP_TIMEOUT) -> bool:
    """SIGTERM, then SIGKILL after ``timeout``; True if the process is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.1)
    return not process_alive(pid)


def stop(*, clean: bool = False) -> ServerStatus | None:
    """Stop the background server; returns what was running (None if nothing was)."""
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


def _last_port(directory: Path) -> int | None:
    """The port the server of ``directory`` last ran on, if one is recorded."""
    try:
        return int(_port_file(directory).read_text().strip())
    except (OSError, ValueError):
        return None


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if a server could listen on ``port`` now (bound with ``SO_REUSEADDR``, as servers do).

    Connections left in TIME-WAIT by a server that just stopped do not count.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(directory: Path, port: int | None = None, wait: float = PORT_WAIT) -> int | None:
    """The port to start on: ``port``, else the last one of ``directory``, else None (any).

    The last port is waited for up to ``wait`` seconds (a server still stopping
    lets go of it); if it is still taken then, by another program, None.
    """
    if port:
        return port
    last = _last_port(directory)
    if last is None:
        return None
    deadline = time.monotonic() + wait
    while not port_is_free(last):
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)
    return last


def moved_note(old_url: str, new_url: str, profiles: Sequence[str], *, asked: bool = False) -> str:
    """What to tell the user when the server did not keep its address (``asked``: ``--port``)."""
    why = "as asked" if asked else "its last port was taken by another program"
    logins = (
        f"the saved logins of the old address ({', '.join(profiles)}) moved with it"
        if profiles else "no saved login pointed at the old address"
    )
    return f"the server moved from {old_url} to {new_url} ({why}); {logins}"


def run_foreground(
    directory: Path,
    *,
    port: int | None = None,
    python: str | None = None,
    state: Path | None = None,
    echo: Callable[[str], Any] = print,
    workers: int = 1,
    database: str = "sqlite",
) -> bool | None:
    """Run the server until SIGTERM or Ctrl-C; record it in ``state`` while it runs.

    Returns True when stopped by Ctrl-C, False when the server exited by
    itself, None when it could not start (the error is echoed); SIGTERM
    raises ``SystemExit(0)``.
    """

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, terminate)
    directory.mkdir(parents=True, exist_ok=True)
    server: FlowservServer | None = None
    try:
        last = _last_port(directory)
        try:
            server = FlowservServer(
                python=python, port=pick_port(directory, port), directory=directory,
                workers=workers, database=database,
            )
            server.start()
        except FlowservServerError as exc:
            echo(f"error: {exc}")
            return None
        _port_file(directory).write_text(f"{server.port}\n")
        remember_local_url(server.url)
        moved: dict[str, Any] = {}
        if last is not None and last != server.port:
            old = f"http://{server.host}:{last}{DEFAULT_PATH}"
            moved = {
                "moved_from": old, "moved_logins": move_logins(old, server.url),
                "moved_as_asked": bool(port),
            }
        if state is not None:
            _write_state({
                "pid": os.getpid(),
                "server_pid": server.pid,
                "url": server.url,
                "directory": str(directory),
                "log": str(server.log_path),
                "started_at": datetime.now(timezone.utc).isoformat(),
                "shape": server.shape,
                **moved,
            }, state)
        echo(f"flowServ server ({server.shape}) running at {server.url} (data in {directory})")
        if moved:
            echo(moved_note(
                moved["moved_from"], server.url, moved["moved_logins"],
                asked=moved["moved_as_asked"],
            ))
        while server.running:
            time.sleep(0.5)
        echo(f"the flowServ server exited; see {server.log_path}")
        return False
    except KeyboardInterrupt:
        return True
    finally:
        if server is not None:
            server.stop(cleanup=False)
        if state is not None:
            _remove_state(os.getpid(), state)
        signal.signal(signal.SIGTERM, previous)


def supervise(argv: list[str] | None = None, prog: str = "python -m aioflowserv._localserver",
              ) -> bool | None:
    """Run the server as the supervisor's command line (``argv``) says.

    Returns what :func:`run_foreground` returns.
    """
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--port", type=int)
    parser.add_argument("--python")
    parser.add_argument("--state", type=Path)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database", default="sqlite")
    args = parser.parse_args(argv)

    def echo(line: str) -> None:
        print(line, flush=True)

    return run_foreground(
        args.dir, port=args.port, python=args.python, state=args.state, echo=echo,
        workers=args.workers, database=args.database,
    )


def main(argv: list[str] | None = None) -> int:
    """The supervisor's entry point (started by :func:`start`): 0 when stopped on request."""
    return 0 if supervise(argv) else 1


if __name__ == "__main__":
    sys.exit(main())
