"""Shared fixtures: the suite's short names for the pytest plugin's real-server fixtures.

The suite dogfoods ``aioflowserv.pytest_plugin`` (registered through the
``pytest11`` entry point): one real flowServ server for the session, fresh
users and groups, logged-in clients. If the server's interpreter cannot be
found the session fails (a missing server is an error, never a skip).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_asyncio

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.tally import TALLY

# The tests that send SIGINT to a child stand for a Ctrl-C at a terminal. A suite
# started in the background by a non-interactive shell (`nohup make test &`) runs
# with SIGINT ignored, which every child would inherit (an ignored signal stays
# ignored across exec): give this process Python's own handler, so that children
# start with SIGINT's default, as they do under a terminal.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In a pytest-xdist worker: hand the fault suite's tally to the controller."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["fault_tally"] = TALLY.as_dict()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """In the pytest-xdist controller: add up the tallies of the workers."""
    TALLY.add(getattr(node, "workeroutput", {}).get("fault_tally", {}))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the fault suite's summary line when any fault scenario ran."""
    if TALLY.scenarios:
        terminalreporter.write_sep("-", "fault suite")
        terminalreporter.write_line(TALLY.line())


@pytest.fixture(scope="session", autouse=True)
def private_saved_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep the developer's saved logins, profiles and local server out of every test.

    Clients given no URL or token read what ``aioflowserv`` saved; here that
    is a fresh, empty set of XDG directories (tests that need their own set
    them again).
    """
    home = tmp_path_factory.mktemp("xdg")
    with pytest.MonkeyPatch.context() as patch:
        for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
            patch.setenv(name, str(home / name.lower()))
        patch.delenv("FLOWSERV_PROFILE", raising=False)
        yield


@pytest.fixture(scope="session")
def server(flowserv_server: FlowservServer) -> FlowservServer:
    """One real flowServ server (sleeper and types workflows) for the whole session."""
    return flowserv_server


@pytest.fixture
def user(flowserv_user: dict[str, Any]) -> dict[str, Any]:
    """A fresh, logged-in user: id, username, password, token."""
    return flowserv_user


@pytest.fixture
def group_id(flowserv_group: str) -> str:
    """A fresh group of the sleeper workflow, owned by ``user``."""
    return flowserv_group


@pytest.fixture
def types_group_id(server: FlowservServer, user: dict[str, Any]) -> str:
    """A fresh group of the types workflow (list and record parameters), owned by ``user``."""
    return server.create_group(user["token"], "types")


@pytest.fixture
def client(flowserv_client: afs.AsyncFlowserv) -> afs.AsyncFlowserv:
    """An AsyncFlowserv logged in as ``user``."""
    return flowserv_client


@pytest_asyncio.fixture
async def workflow(client: afs.AsyncFlowserv, group_id: str) -> afs.AsyncWorkflow:
    """The sleeper workflow, seen through ``group_id``."""
    return await client.workflow("sleeper", group_id)


@pytest.fixture
def sync_client(flowserv_sync_client: afs.Flowserv) -> afs.Flowserv:
    """A sync Flowserv logged in as ``user``."""
    return flowserv_sync_client
