"""Fixtures of the hardening tests: a server with tight limits, and a user shared by a module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aioflowserv.testing import FlowservServer
from tests.support.realserver import SMALL_UPLOAD


@pytest.fixture(scope="session")
def restricted_server() -> Iterator[FlowservServer]:
    """A real server whose tokens expire after 1 s and whose uploads are capped at 64 KiB."""
    with FlowservServer(auth_ttl=1, max_upload=SMALL_UPLOAD) as running:
        yield running


@pytest.fixture(scope="session")
def restricted_group(restricted_server: FlowservServer) -> str:
    """A sleeper group on the restricted server (made while its 1-second token is valid)."""
    last: Exception | None = None
    for _ in range(5):
        try:
            token = restricted_server.create_user()["token"]
            return restricted_server.create_group(token, "sleeper")
        except Exception as exc:  # the token expired before the group was made: again
            last = exc
    raise AssertionError(f"could not create a group on the restricted server: {last}")


@pytest.fixture(scope="module")
def member(server: FlowservServer) -> dict[str, Any]:
    """A user shared by a module's tests, with a sleeper and a types group."""
    user = server.create_user()
    user["sleeper"] = server.create_group(user["token"], "sleeper")
    user["types"] = server.create_group(user["token"], "types")
    return user
