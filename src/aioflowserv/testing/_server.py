"""FlowservServer: a real local flowServ server, for tests and demos.

:class:`FlowservServer` starts flowServ's own REST server (rob-flask on
flowserv-core, pinned as below) from a separate virtual environment, on a free
127.0.0.1 port, with all of its state in a temporary directory; it installs
the test workflows shipped with aioflowserv (``sleeper`` and ``types``), and
your own workflow templates if you give them, and stops the server, and every
workflow step it started, on exit::

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

The server's interpreter is found in this order: the ``python`` argument,
``AIOFLOWSERV_SERVER_PYTHON``, a ``.venv-server`` directory in the current
directory or one of its parents (a clone of aioflowserv, after ``make
install``), and the user's own server environment,
``$XDG_DATA_HOME/aioflowserv/server-venv`` (``~/.local/share/...``), found
from any folder. :func:`ensure_server_venv` creates that one (it needs the
package index; ``aioflowserv server install`` does the same from a shell, and
``aioflowserv server start`` on first use).
"""

from __future__ import annotations

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
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from .._errors import FlowservError
from .._routes import API_PATH
from .._saved import process_alive, server_venv_dir

__all__ = [
    "SERVER_PINS",
    "TEMPLATES",
    "FlowservServer",
    "FlowservServerError",
    "ensure_server_venv",
    "find_server_python",
    "free_port",
    "server_venv_dir",
    "template_path",
]

SERVER_PINS = (
    "flowserv-core==0.8.1", "rob-flask==0.6.0", "Flask==2.0.3", "Werkzeug==2.0.3",
    "gunicorn==27.0.1", "psycopg2-binary==2.9.13", "pgserver==0.1.4",
)
"""The server's virtual environment: the only versions of flowServ's server that work
together, and gunicorn, psycopg2 and a self-contained PostgreSQL for the production
shape (see the README's section on deploying flowServ)."""

DATABASES = ("sqlite", "postgresql")
"""The databases :class:`FlowservServer` can run flowServ on."""

HEADER_MAPS = ("dangerous", "drop", "refuse")
"""gunicorn's ``--header-map`` choices: what it does with header names that contain ``_``."""

TEMPLATES = {"sleeper": "Sleeper", "types": "Types"}
"""The workflow templates shipped with aioflowserv, by id, with their names."""

MANIFESTS = ("flowserv.json", "flowserv.yaml", "flowserv.yml")
"""The manifest file names flowServ looks for in a template directory (they name the workflow)."""

SPECIFICATIONS = tuple(
    f"{name}{suffix}" for name in ("benchmark", "workflow", "template")
    for suffix in (".json", ".yaml", ".yml")
)
"""Where flowServ's own examples keep a template's specification, when no manifest names it."""

ENV_SERVER_PYTHON = "AIOFLOWSERV_SERVER_PYTHON"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
_SERVER_MODULES = "import robflask.api, flowserv, gunicorn, psycopg2, pgserver"
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


class FlowservServerError(FlowservError, RuntimeError):
    """The local server could not be installed, started or configured."""


def template_path(workflow_id: str) -> Path:
    """The directory of a workflow template shipped with aioflowserv."""
    path = Path(str(resources.files("aioflowserv") / "_templates" / workflow_id))
    if not path.is_dir():
        known = ", ".join(TEMPLATES)
        raise FlowservServerError(f"no workflow template {workflow_id!r} (have: {known})")
    return path


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def find_server_python(python: str | os.PathLike[str] | None = None) -> Path:
    """Locate the interpreter of the server's virtual environment (order: module docstring)."""
    candidates: list[Path] = []
    if python is not None:
        candidates.append(Path(python))
    elif os.environ.get(ENV_SERVER_PYTHON):
        candidates.append(Path(os.environ[ENV_SERVER_PYTHON]))
    else:
        here = Path.cwd().resolve()
        candidates.extend(_venv_python(d / ".venv-server") for d in (here, *here.parents))
        candidates.append(_venv_python(server_venv_dir()))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(map(str, candidates[:2] + candidates[-1:]))
    raise FlowservServerError(
        "no flowServ server interpreter found: install the server with "
        "`aioflowserv server install` (or, in Python, "
        "aioflowserv.testing.ensure_server_venv()), or point "
        f"{ENV_SERVER_PYTHON} at its python (looked at: {looked}"
        f"{', ...' if len(candidates) > 3 else ''})"
    )


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def ensure_server_venv(
    venv: str | os.PathLike[str] | None = None,
    *,
    quiet: bool = False,
    progress: Callable[[str], object] | None = None,
) -> Path:
    """Create a virtual environment with the pinned flowServ server unless it exists.

    ``venv`` defaults to the user's own server environment
    (``$XDG_DATA_HOME/aioflowserv/server-venv``), where :func:`find_server_python`
    finds it from any folder; an existing one that lacks a package of
    :data:`SERVER_PINS` gets it installed. Returns its interpreter. Needs the
    package index the first time (about a minute); meanwhile each step, and
    pip's own lines, go to ``progress`` (default: standard error), unless ``quiet``.
    """
    path = Path(venv) if venv is not None else server_venv_dir()
    python = _venv_python(path)
    report: Callable[[str], object] = (
        (lambda line: None) if quiet else (progress if progress is not None else _stderr)
    )
    if python.is_file() and _has_server(python):
        return python
    report(
        f"Installing the flowServ server ({', '.join(SERVER_PINS)}) into {path}; "
        "the first time takes about a minute."
    )
    if not python.is_file():
        report("Creating the virtual environment...")
        path.parent.mkdir(parents=True, exist_ok=True)
        created = subprocess.run(
            [sys.executable, "-m", "venv", str(path)], capture_output=True, text=True
        )
        if created.returncode != 0:
            raise FlowservServerError(
                f"creating the virtual environment {path} failed:\n{created.stderr[-2000:]}"
            )
    report("Installing the pinned packages with pip...")
    pip = [
        str(python), "-m", "pip", "install", "--disable-pip-version-check",
        "--progress-bar", "off", *SERVER_PINS,
    ]
    lines: list[str] = []
    with subprocess.Popen(
        pip, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            if line.strip():
                report(f"  {line.rstrip()}")
    if proc.returncode != 0 or not _has_server(python):
        tail = "\n".join(lines[-30:])
        raise FlowservServerError(f"installing the flowServ server into {path} failed:\n{tail}")
    report(f"The flowServ server is installed: {python}")
    return python


def _has_server(python: Path) -> bool:
    check = subprocess.run([str(python), "-c", _SERVER_MODULES], capture_output=True)
    return check.returncode == 0


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
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise FlowservServerError(f"workers must be an int >= 1, got {workers!r}")
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
        return f"http://{self.host}:{self.port}{API_PATH}"

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
            FLOWSERV_API_PATH=API_PATH,
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
        marker = self.directory / f"workflows-installed{suffix}"
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

    def start(self, timeout: float = START_TIMEOUT) -> FlowservServer:
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
            capture_output=True, text=True, cwd=self.directory, timeout=START_TIMEOUT,
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
        deadline = time.monotonic() + STOP_TIMEOUT
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

    def restart(self, timeout: float = START_TIMEOUT) -> FlowservServer:
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
