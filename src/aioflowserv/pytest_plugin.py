"""pytest fixtures with a real flowServ server, registered through the ``pytest11`` entry point.

Installing aioflowserv makes these fixtures available to every test suite;
nothing starts until a test asks for one:

- ``flowserv_server`` (session): a :class:`aioflowserv.testing.FlowservServer`
  with the ``sleeper`` and ``types`` workflows and the templates of the
  ``flowserv_workflows`` ini option, on a free 127.0.0.1 port;
- ``flowserv_production_server`` (session): the same, in the shape a deployment
  uses: gunicorn with 2 sync workers over a PostgreSQL of its own;
- ``flowserv_user``: a fresh, logged-in user (``id``, ``username``,
  ``password``, ``token``);
- ``flowserv_workflow_id``: the workflow of ``flowserv_group``, ``"sleeper"``
  (override this fixture to use another);
- ``flowserv_group``: the id of a fresh group of that workflow, owned by
  ``flowserv_user``;
- ``flowserv_sync_client``: a :class:`aioflowserv.Flowserv` logged in as
  ``flowserv_user``;
- ``flowserv_client``: an :class:`aioflowserv.AsyncFlowserv` logged in as
  ``flowserv_user``, for ``@pytest.mark.asyncio`` tests (needs pytest-asyncio)
  or, without pytest-asyncio, for ``@pytest.mark.anyio`` tests.

Your own workflow templates are installed on that server with the ini option
``flowserv_workflows``, one ``ID = DIRECTORY`` per line (relative to the ini
file's directory)::

    [tool.pytest.ini_options]
    flowserv_workflows = ["mybench = benchmarks/mybench"]

The server runs from a separate virtual environment with flowServ's pinned
server (see :mod:`aioflowserv.testing`): ``aioflowserv server install`` (or
``aioflowserv.testing.ensure_server_venv()``) creates it once in the user's
data directory, where it is found from any folder; ``AIOFLOWSERV_SERVER_PYTHON``
points at another interpreter, and a ``.venv-server`` directory (a clone's) is
found too. A missing server is an error whose message says how to install it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from ._client import AsyncFlowserv
from ._localserver import FlowservServer
from ._serverenv import TEMPLATES
from ._sync import Flowserv

__all__ = [
    "flowserv_client",
    "flowserv_group",
    "flowserv_production_server",
    "flowserv_server",
    "flowserv_sync_client",
    "flowserv_user",
    "flowserv_workflow_id",
    "pytest_addoption",
    "pytest_configure",
    "user_templates",
]

INI_WORKFLOWS = "flowserv_workflows"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``flowserv_workflows`` ini option."""
    parser.addini(
        INI_WORKFLOWS, type="linelist", default=[],
        help="Your own workflow templates for the flowserv_server fixture, one "
        "'ID = DIRECTORY' per line (relative to the ini file), installed besides "
        "sleeper and types.",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Check the ``flowserv_workflows`` ini option: a malformed line stops the session at once."""
    user_templates(config)


def user_templates(config: pytest.Config) -> dict[str, Path]:
    """The templates of the ``flowserv_workflows`` ini option, by workflow id."""
    base = config.inipath.parent if config.inipath is not None else config.rootpath
    templates: dict[str, Path] = {}
    for line in config.getini(INI_WORKFLOWS):
        key, sep, directory = (part.strip() for part in line.partition("="))
        if not sep or not key or not directory:
            raise pytest.UsageError(
                f"{INI_WORKFLOWS}: expected 'ID = DIRECTORY', got {line!r}"
            )
        templates[key] = base / directory
    return templates


@pytest.fixture(scope="session")
def flowserv_server(request: pytest.FixtureRequest) -> Iterator[FlowservServer]:
    """A real flowServ server for the test session (started on first use)."""
    workflows: dict[str, str | os.PathLike[str]] = {**TEMPLATES}
    workflows.update(user_templates(request.config))
    with FlowservServer(workflows=workflows) as server:
        yield server


@pytest.fixture(scope="session")
def flowserv_production_server() -> Iterator[FlowservServer]:
    """A server shaped as deployed: gunicorn (2 sync workers) over PostgreSQL (on first use)."""
    with FlowservServer(workers=2, database="postgresql") as server:
        yield server


@pytest.fixture
def flowserv_user(flowserv_server: FlowservServer) -> dict[str, Any]:
    """A fresh, logged-in user: ``id``, ``username``, ``password`` and ``token``."""
    return flowserv_server.create_user()


@pytest.fixture
def flowserv_workflow_id() -> str:
    """The workflow that ``flowserv_group`` belongs to; override to choose another."""
    return "sleeper"


@pytest.fixture
def flowserv_group(
    flowserv_server: FlowservServer, flowserv_user: dict[str, Any], flowserv_workflow_id: str
) -> str:
    """The id of a fresh group of ``flowserv_workflow_id``, owned by ``flowserv_user``."""
    return flowserv_server.create_group(flowserv_user["token"], flowserv_workflow_id)


@pytest.fixture
def flowserv_sync_client(
    flowserv_server: FlowservServer, flowserv_user: dict[str, Any]
) -> Iterator[Flowserv]:
    """A sync client logged in as ``flowserv_user``; closed after the test."""
    with Flowserv(flowserv_server.url, token=flowserv_user["token"]) as client:
        yield client


async def _async_client(
    flowserv_server: FlowservServer, flowserv_user: dict[str, Any]
) -> AsyncIterator[AsyncFlowserv]:
    """An async client logged in as ``flowserv_user``; closed after the test."""
    async with AsyncFlowserv(flowserv_server.url, token=flowserv_user["token"]) as client:
        yield client


def _pytest_asyncio_fixture() -> Any:
    """``pytest_asyncio.fixture`` when pytest-asyncio can be imported, else None."""
    try:
        import pytest_asyncio
    except ImportError:
        return None
    return pytest_asyncio.fixture


if (_asyncio_fixture := _pytest_asyncio_fixture()) is not None:
    flowserv_client = _asyncio_fixture(name="flowserv_client")(_async_client)
else:  # anyio's pytest plugin runs async fixtures of @pytest.mark.anyio tests
    flowserv_client = pytest.fixture(name="flowserv_client")(_async_client)
