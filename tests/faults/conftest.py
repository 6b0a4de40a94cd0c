"""Fixtures of the fault suite: its own flowServ server (it gets killed), users, the tally.

The fault suite never touches the session's shared server: one scenario kills
and restarts the server, so it runs against a server of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aioflowserv.testing import FlowservServer
from tests.support.tally import TALLY, Tally


@pytest.fixture(scope="session")
def fault_server() -> Iterator[FlowservServer]:
    """A real flowServ server for the fault suite alone (it is killed and restarted)."""
    with FlowservServer() as running:
        yield running


@pytest.fixture
def fault_user(fault_server: FlowservServer) -> dict[str, Any]:
    """A fresh user of the fault server: id, username, password, token."""
    if not fault_server.running:  # a failed restart in an earlier test must not cascade
        fault_server.start()
    return fault_server.create_user()


@pytest.fixture
def tally() -> Tally:
    """The session's fault tally; scenarios add what they did to it."""
    TALLY.scenarios += 1
    return TALLY
