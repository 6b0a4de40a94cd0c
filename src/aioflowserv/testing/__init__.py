"""Test tools for code that uses aioflowserv: a real local flowServ server, and a fake one.

- :class:`FlowservServer` starts flowServ's own REST server (pinned versions,
  in a virtual environment of its own: :func:`ensure_server_venv` creates it
  in :func:`server_venv_dir`, where it is found from any folder) on a free
  127.0.0.1 port, with the test workflows ``sleeper`` and ``types``, and
  stops it (and every workflow step it started) on exit. The pytest plugin's
  fixtures are built on it.
- :class:`FakeFlowserv` is an in-process fake flowServ (an httpx transport):
  runs that end on a schedule or on command, scripted faults, request counts.
  No server, no network, no waiting for real runs.

Problems with the local server raise :class:`FlowservServerError` (an
:class:`aioflowserv.FlowservError`).
"""

from .._localserver import FlowservServer, free_port
from .._serverenv import (
    ENV_SERVER_PYTHON,
    SERVER_PINS,
    TEMPLATES,
    FlowservServerError,
    ensure_server_venv,
    find_server_python,
    server_venv_dir,
    template_path,
)
from ._fake import BASE_URL, SLEEPER_PARAMETERS, TOKEN, FakeFlowserv, FakeRun, Fault

__all__ = [
    "BASE_URL",
    "ENV_SERVER_PYTHON",
    "SERVER_PINS",
    "SLEEPER_PARAMETERS",
    "TEMPLATES",
    "TOKEN",
    "FakeFlowserv",
    "FakeRun",
    "Fault",
    "FlowservServer",
    "FlowservServerError",
    "ensure_server_venv",
    "find_server_python",
    "free_port",
    "server_venv_dir",
    "template_path",
]
