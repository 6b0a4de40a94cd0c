"""The flowServ server's own environment: pinned packages, their virtual environment, templates.

flowServ's REST server runs only with the versions of :data:`SERVER_PINS`, so
it lives in a virtual environment of its own, never in the user's. Its
interpreter is found (:func:`find_server_python`) in this order: the
``python`` argument, ``AIOFLOWSERV_SERVER_PYTHON``, a ``.venv-server``
directory in the current directory or one of its parents (a clone of
aioflowserv, after ``make install``), and the user's own server environment,
``$XDG_DATA_HOME/aioflowserv/server-venv`` (``~/.local/share/...``), found
from any folder. :func:`ensure_server_venv` creates that one (it needs the
package index; ``aioflowserv server install`` does the same from a shell, and
``aioflowserv server start`` on first use).

The workflow templates shipped with aioflowserv (:data:`TEMPLATES`) are found
by :func:`template_path`. The server itself is :mod:`aioflowserv._localserver`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from ._errors import FlowservError
from ._saved import server_venv_dir

__all__ = [
    "ENV_SERVER_PYTHON",
    "SERVER_PINS",
    "TEMPLATES",
    "FlowservServerError",
    "ensure_server_venv",
    "find_server_python",
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

TEMPLATES = {"sleeper": "Sleeper", "types": "Types", "quadratic": "Quadratic"}
"""The workflow templates shipped with aioflowserv, by id, with their names."""

ENV_SERVER_PYTHON = "AIOFLOWSERV_SERVER_PYTHON"
"""The environment variable that names the server's interpreter (see :func:`find_server_python`)."""

_SERVER_MODULES = "import robflask.api, flowserv, gunicorn, psycopg2, pgserver"


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
