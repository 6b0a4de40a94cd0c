"""Shared fixtures: a real flowServ server for the session, users, groups and clients.

The server comes from ``aioflowserv.testing``; if its interpreter cannot be
found the session fails (a missing server is an error, never a skip).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio

import aioflowserv as afs
from aioflowserv.testing import FlowservServer


@pytest.fixture(scope="session")
def server() -> Iterator[FlowservServer]:
    """One real flowServ server (sleeper and types workflows) for the whole session."""
    with FlowservServer() as running:
        yield running


@pytest.fixture
def user(server: FlowservServer) -> dict[str, Any]:
    """A fresh, logged-in user: id, username, password, token."""
    return server.create_user()


@pytest.fixture
def group_id(server: FlowservServer, user: dict[str, Any]) -> str:
    """A fresh group of the sleeper workflow, owned by ``user``."""
    return server.create_group(user["token"], "sleeper")


@pytest.fixture
def types_group_id(server: FlowservServer, user: dict[str, Any]) -> str:
    """A fresh group of the types workflow (list and record parameters), owned by ``user``."""
    return server.create_group(user["token"], "types")


@pytest_asyncio.fixture
async def client(server: FlowservServer, user: dict[str, Any]) -> AsyncIterator[afs.AsyncFlowserv]:
    """An AsyncFlowserv logged in as ``user``."""
    async with afs.AsyncFlowserv(server.url, token=user["token"]) as fs:
        yield fs


@pytest_asyncio.fixture
async def workflow(client: afs.AsyncFlowserv, group_id: str) -> afs.AsyncWorkflow:
    """The sleeper workflow, seen through ``group_id``."""
    return await client.workflow("sleeper", group_id)


@pytest.fixture
def sync_client(server: FlowservServer, user: dict[str, Any]) -> Iterator[afs.Flowserv]:
    """A sync Flowserv logged in as ``user``."""
    with afs.Flowserv(server.url, token=user["token"]) as fs:
        yield fs
