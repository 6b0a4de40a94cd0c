"""Fixtures for the integration tests: all of them run against the real flowServ server.

The session-wide ``server`` and the per-test ``user``, ``group_id``,
``types_group_id``, ``client``, ``workflow`` and ``sync_client`` come from
``tests/conftest.py``. Every wait has a deadline
(:data:`tests.support.realserver.DEADLINE`): the real server can leave a run
RUNNING forever.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aioflowserv as afs
from aioflowserv.testing import FlowservServer


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
