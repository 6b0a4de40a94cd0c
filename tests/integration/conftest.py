"""Fixtures for the integration tests: all of them run against the real flowServ server.

The per-test ``user``, ``group_id``, ``types_group_id``, ``client``,
``workflow`` and ``sync_client`` come from ``tests/conftest.py``. Every wait
has a deadline (:data:`tests.support.realserver.DEADLINE`): the real server can
leave a run RUNNING forever.

The modules of :data:`BOTH_DEPLOYMENTS` (the seed contract, every ``Workflow``
method, and the batch and watch paths) run twice: against flask's development
server over SQLite (``[dev]``) and against the shape a deployment uses,
gunicorn with sync workers over PostgreSQL (``[gunicorn-postgresql]``). Both
servers are started once per session.

Every test here also runs on both transports (``[httpx]`` and ``[aiohttp]``,
:data:`TRANSPORTS`): the ``transport_name`` fixture sets
``AIOFLOWSERV_TRANSPORT``, so every client a test makes (the fixtures' and its
own) sends with it. Tests marked ``httpx_only`` (they run trio, where aiohttp
cannot) run on httpx alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aioflowserv as afs
from aioflowserv._config import ENV_TRANSPORT
from aioflowserv.testing import FlowservServer

BOTH_DEPLOYMENTS = {
    "test_workflow_metadata.py",
    "test_workflow_runs.py",
    "test_file_arguments.py",
    "test_wait_methods.py",
    "test_watch_real.py",
    "test_sweep_real.py",
}
"""The modules that run against both deployments."""

DEPLOYMENTS = ("dev", "gunicorn-postgresql")

TRANSPORTS = ("httpx", "aiohttp")
"""The transports every real-server test here runs on (unless marked ``httpx_only``)."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run the tests of :data:`BOTH_DEPLOYMENTS` once per deployment; every test per transport."""
    if "flowserv_server" not in metafunc.fixturenames:
        return
    if Path(metafunc.definition.path).name in BOTH_DEPLOYMENTS:
        metafunc.parametrize("deployment", DEPLOYMENTS, indirect=True)
    if metafunc.definition.get_closest_marker("httpx_only") is None:
        metafunc.parametrize("transport_name", TRANSPORTS, indirect=True)


@pytest.fixture(autouse=True)
def transport_name(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The transport of every client the test makes (httpx unless parametrized)."""
    name = str(getattr(request, "param", TRANSPORTS[0]))
    monkeypatch.setenv(ENV_TRANSPORT, name)
    return name


@pytest.fixture
def deployment(request: pytest.FixtureRequest) -> str:
    """Which server a test runs against (the development server unless parametrized)."""
    return str(getattr(request, "param", "dev"))


@pytest.fixture
def flowserv_server(
    flowserv_server: FlowservServer, deployment: str, request: pytest.FixtureRequest
) -> FlowservServer:
    """The session's development server, or its production-shaped one for ``deployment``."""
    if deployment == "gunicorn-postgresql":
        server: FlowservServer = request.getfixturevalue("flowserv_production_server")
        return server
    return flowserv_server


@pytest.fixture
def server(flowserv_server: FlowservServer) -> FlowservServer:
    """The real server of this test (see ``deployment``)."""
    return flowserv_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this directory as an integration test (it needs the real server)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def other_user(server: FlowservServer) -> dict[str, Any]:
    """A second logged-in user, not a member of ``group_id``."""
    return server.create_user()


@pytest.fixture
def names_file(tmp_path: Path) -> Path:
    """A local names file (two names that the template's default file does not have)."""
    path = tmp_path / "people.txt"
    path.write_text("Carol\nDave\n")
    return path


@pytest.fixture
def sync_workflow(sync_client: afs.Flowserv, group_id: str) -> afs.Workflow:
    """The sleeper workflow through the sync facade, seen through ``group_id``."""
    return sync_client.workflow("sleeper", group_id)


@pytest.fixture
def sync_other_client(server: FlowservServer, other_user: dict[str, Any]) -> Iterator[afs.Flowserv]:
    """A sync client logged in as ``other_user``."""
    with afs.Flowserv(server.url, token=other_user["token"]) as fs:
        yield fs
