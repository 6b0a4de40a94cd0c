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
from .._saved import server_venv_dir

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

SERVER_PINS = ("flowserv-core==0.8.1", "rob-flask==0.6.0", "Flask==2.0.3", "Werkzeug==2.0.3")
"""The only versions of flowServ's server that work together (see the README)."""

TEMPLATES = {"sleeper": "Sleeper", "types": "Types"}
"""The workflow templates shipped with aioflowserv, by id, with their names."""

MANIFESTS = ("flowserv.json", "flowserv.yaml", "flowserv.yml")
"""The manifest file names flowServ looks for in a template directory (they name the workflow)."""

SPECIFICATIONS = tuple(
    f"{name}{suffix}" for name in ("benchmark", "workflow", "template")
    for suffix in (".json", ".yaml", ".yml")
)
"""Where flowServ's own examples keep a template's specification, when no manifest names it."""

API_PATH = "/flowserv/api/v1"
ENV_SERVER_PYTHON = "AIOFLOWSERV_SERVER_PYTHON"
START_TIMEOUT = 60.0


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
    finds it from any folder. Returns its interpreter. Needs the package index
    the first time (about a minute); meanwhile each step, and pip's own lines,
    go to ``progress`` (default: standard error), unless ``quiet``.
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
    check = subprocess.run(
        [str(python), "-c", "import robflask.api, flowserv"], capture_output=True
    )
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
    ) -> None:
        self.workflows = dict(TEMPLATES if workflows is None else workflows)
        self._commands = [
            self._install_command(key, value) for key, value in self.workflows.items()
        ]
        self.python = find_server_python(python)
        self.host = "127.0.0.1"
        self.port = port or free_port(self.host)
        self._own_directory = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="aioflowserv-server-"))
        self.auth_ttl = auth_ttl
        self.max_upload = max_upload
        self._process: subprocess.Popen[bytes] | None = None
        self._installed = False

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
        """Install the configured workflow templates (once per state directory)."""
        marker = self.directory / "workflows-installed"
        if self._installed or marker.exists() or not self.workflows:
            self._installed = True
            return
        (self.directory / "api").mkdir(parents=True, exist_ok=True)
        commands = self._commands
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
        """Install the workflows (first time) and start the server; wait until it answers."""
        if self.running:
            return self
        self.install_workflows()
        log = self.log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                [str(self.python), "-m", "flask", "run", "--host", self.host,
                 "--port", str(self.port), "--with-threads", "--no-reload"],
                env=self.environment(), stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=self.directory, start_new_session=True,
            )
        finally:
            log.close()
        self._wait_ready(timeout)
        return self

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
            # Workflow steps live in the server's session; make sure none survives it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
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
