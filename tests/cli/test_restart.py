"""The local server across restarts: it keeps its address, and says what happened when it cannot.

``server stop`` then ``server start`` comes back on the same port (the
connections the old server closed linger in TIME-WAIT; the port check binds
as servers do, with ``SO_REUSEADDR``), so the saved login keeps working. When
another program holds the port, the server moves and the saved logins of the
old address move with it, and ``server start`` says so. A call made while the
local server is stopped says that it is not running (naming the request the
user made), and ``server stop --clean`` says it deleted the data.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner, Result

from aioflowserv.cli.commands import cli
from aioflowserv.testing import FlowservServer
from tests.support.cli import ENV_NAMES, parse


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FlowservServer) -> Iterator[Path]:
    """Private XDG directories and nothing configured; the local server stopped at the end."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("AIOFLOWSERV_SERVER_PYTHON", str(server.python))
    monkeypatch.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        run_cli("server", "stop", "--clean")


def start() -> str:
    """``server start``; the URL it runs at."""
    result = run_cli("server", "start", "--json")
    assert result.exit_code == 0, result.output
    url: str = parse(result)["url"]
    return url


def test_a_restarted_server_keeps_its_address_and_the_saved_login_works(home: Path) -> None:
    first = start()
    login = run_cli("login", "--register", "restarter", "--password", "pw")
    assert login.exit_code == 0, login.output
    assert run_cli("server", "stop").exit_code == 0
    again = run_cli("server", "start")
    assert again.exit_code == 0, again.output
    assert f"Started flowServ server at {first}" in again.stdout  # the same port
    assert "Create a user" not in again.stdout  # its users are kept
    assert "Saved login for it: restarter (profile default)" in again.stdout
    whoami = run_cli("whoami")
    assert whoami.exit_code == 0, whoami.output
    assert whoami.stdout.startswith("restarter (id ")


def test_a_call_to_the_stopped_local_server_says_it_is_not_running(home: Path) -> None:
    start()
    assert run_cli("login", "--register", "stopper", "--password", "pw").exit_code == 0
    assert run_cli("server", "stop").exit_code == 0
    result = run_cli("workflows")
    assert result.exit_code == 3
    assert "the local flowServ server is not running: aioflowserv server start" in result.stderr
    assert "GET workflows" in result.stderr  # the request the user made, not the token check
    assert "whoami" not in result.stderr


def test_a_taken_port_moves_the_server_and_the_saved_logins_saying_so(home: Path) -> None:
    first = start()
    assert run_cli("login", "--register", "mover", "--password", "pw").exit_code == 0
    assert run_cli("server", "stop").exit_code == 0
    with socket.socket() as squatter:  # another program takes the port meanwhile
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", urlsplit(first).port or 0))
        squatter.listen()
        moved = run_cli("server", "start")
    assert moved.exit_code == 0, moved.output
    assert f"The server moved from {first} to http://127.0.0.1:" in moved.stdout
    assert "(its last port was taken by another program)" in moved.stdout
    assert "the saved logins of the old address (default) moved with it" in moved.stdout
    whoami = run_cli("whoami", "--json")
    assert whoami.exit_code == 0, whoami.output
    assert parse(whoami)["url"] != first


def test_stop_clean_says_it_deleted_the_data(home: Path) -> None:
    start()
    stopped = run_cli("server", "stop", "--clean")
    assert stopped.exit_code == 0
    data = home / "state" / "aioflowserv" / "server"
    assert f"Deleted its data (users, groups, runs) in {data}." in stopped.stdout
    assert not data.exists()
    again = run_cli("server", "stop", "--clean")
    assert f"No data to delete in {data}." in again.stdout
