"""server start|status|stop: a real local flowServ server that outlives the command."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

import aioflowserv as afs
from aioflowserv._saved import process_alive, server_state_file
from aioflowserv.cli import localserver
from aioflowserv.cli.commands import cli
from aioflowserv.cli.output import CLIError, ExitCode
from aioflowserv.testing import (
    FlowservServer,
    FlowservServerError,
    ensure_server_venv,
    find_server_python,
    free_port,
)
from tests.support.cli import ENV_NAMES, parse


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def answers(url: str) -> bool:
    try:
        return httpx.get(url + "/", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def state_home(tmp_path_factory: pytest.TempPathFactory, server: FlowservServer) -> Iterator[Path]:
    """A private XDG_STATE_HOME/XDG_CONFIG_HOME, no server configured, the server's interpreter."""
    home = tmp_path_factory.mktemp("cli-server")
    with pytest.MonkeyPatch.context() as mp:
        for name in ENV_NAMES:
            mp.delenv(name, raising=False)
        mp.setenv("XDG_STATE_HOME", str(home / "state"))
        mp.setenv("XDG_CONFIG_HOME", str(home / "config"))
        mp.setenv("AIOFLOWSERV_SERVER_PYTHON", str(server.python))
        mp.chdir(home)
        yield home


@pytest.fixture(scope="module")
def local_server(state_home: Path) -> Iterator[Result]:
    """``aioflowserv server start`` once for this module; stopped at the end."""
    result = run_cli("server", "start")
    try:
        yield result
    finally:
        run_cli("server", "stop", "--clean")


def test_start_prints_the_url_and_how_to_point_commands_at_it(local_server: Result) -> None:
    assert local_server.exit_code == 0, local_server.output
    out = local_server.stdout
    assert "Started flowServ server at http://127.0.0.1:" in out
    assert "the SDK (afs.Flowserv() with no arguments) use it" in out
    assert 'eval "$(aioflowserv env)"' in out
    assert "aioflowserv login --register" in out


def test_status_reports_the_running_server(local_server: Result) -> None:
    result = run_cli("server", "status", "--json")
    assert result.exit_code == 0
    status = parse(result)
    assert status["running"] is True
    assert answers(status["url"])
    assert status["url"] in local_server.stdout


def test_commands_use_the_local_server_when_nothing_else_is_configured(
    local_server: Result,
) -> None:
    url = parse(run_cli("server", "status", "--json"))["url"]
    login = run_cli("login", "--register", "local-user", "--password", "pw")
    assert login.exit_code == 0, login.output
    doc = parse(run_cli("whoami", "--json"))
    assert (doc["username"], doc["url"]) == ("local-user", url)


def test_start_again_reports_the_server_already_running(local_server: Result) -> None:
    result = run_cli("server", "start", "--json")
    assert result.exit_code == 0
    doc = parse(result)
    assert doc["started"] is False
    assert doc["running"] is True


def test_stop_stops_the_server_and_status_then_exits_3(
    state_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "own-state"))
    started = run_cli("server", "start", "--json")
    assert started.exit_code == 0, started.output
    url = parse(started)["url"]
    assert answers(url)
    stopped = run_cli("server", "stop", "--clean")
    assert stopped.exit_code == 0
    assert f"Stopped the flowServ server at {url}" in stopped.stdout
    assert not answers(url)
    status = run_cli("server", "status")
    assert status.exit_code == 3
    assert "No local server is running" in status.stdout
    assert not (tmp_path / "own-state" / "aioflowserv" / "server").exists()


def test_start_with_workers_and_postgresql_runs_gunicorn_over_postgresql(
    state_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "production"))
    started = run_cli("server", "start", "--workers", "2", "--postgresql")
    try:
        assert started.exit_code == 0, started.output
        assert "(gunicorn -w 2 + postgresql)" in started.stdout
        status = run_cli("server", "status", "--json")
        assert parse(status)["shape"] == "gunicorn -w 2 + postgresql"
        data = tmp_path / "production" / "aioflowserv" / "server"
        postmaster = int((data / "postgres" / "postmaster.pid").read_text().split()[0])
        assert answers(parse(status)["url"])
    finally:
        stopped = run_cli("server", "stop", "--clean")
    assert stopped.exit_code == 0
    assert not (tmp_path / "production" / "aioflowserv" / "server").exists()
    assert not process_alive(postmaster, marker=None)


def test_stop_without_a_server_says_so(state_home: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "nothing"))
    result = run_cli("server", "stop")
    assert result.exit_code == 0
    assert "No local server is running." in result.stdout


def test_start_without_a_server_interpreter_is_a_configuration_error(
    state_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "none"))
    monkeypatch.setenv("AIOFLOWSERV_SERVER_PYTHON", str(tmp_path / "no-python"))
    result = run_cli("server", "start")
    assert result.exit_code == 2
    assert "no flowServ server interpreter found" in result.stderr
    assert "aioflowserv server install" in result.stderr


def test_the_sdk_uses_the_local_server_and_the_login_made_for_it(local_server: Result) -> None:
    url = parse(run_cli("server", "status", "--json"))["url"]
    login = run_cli("login", "--register", "sdk-user", "--password", "pw")
    assert login.exit_code == 0, login.output
    with afs.Flowserv() as fs:  # no arguments, nothing in the environment
        assert fs.url == url
        assert fs.whoami().username == "sdk-user"
    assert run_cli("env").stdout == f"export FLOWSERV_URL={url}\n"


def fake_server_venv(path: Path, server: FlowservServer) -> Path:
    """A server virtual environment at ``path`` whose python is the session server's."""
    python = path / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\nexec "{server.python}" "$@"\n')
    python.chmod(0o755)
    return python


def test_the_server_venv_in_the_data_directory_is_found_from_any_folder(
    state_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: FlowservServer
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("AIOFLOWSERV_SERVER_PYTHON")
    monkeypatch.chdir(tmp_path)
    python = fake_server_venv(tmp_path / "data" / "aioflowserv" / "server-venv", server)
    assert find_server_python() == python
    result = run_cli("server", "install", "--json")
    assert result.exit_code == 0, result.output
    assert parse(result)["python"] == str(python)
    assert result.stderr == ""  # already installed: nothing to do, nothing to say


def test_installing_the_server_shows_progress_and_explains_a_failure(
    state_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aioflowserv import _serverenv

    # pip without the index, asked for a package it cannot find: fails fast, offline.
    monkeypatch.setattr(_serverenv, "SERVER_PINS", ("--no-index", "flowserv-core==0.8.1"))
    lines: list[str] = []
    with pytest.raises(afs.FlowservError) as caught:
        ensure_server_venv(tmp_path / "venv", progress=lines.append)
    assert isinstance(caught.value, FlowservServerError)
    assert lines[0].startswith("Installing the flowServ server (--no-index, flowserv-core")
    assert "Creating the virtual environment..." in lines
    assert "Installing the pinned packages with pip..." in lines
    assert any("flowserv-core" in line for line in lines[3:])  # pip's own output, as it came
    assert "installing the flowServ server into" in str(caught.value)


def test_a_recorded_server_that_does_not_answer_exits_with_the_server_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    supervisor = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "aioflowserv._localserver"]
    )
    try:
        state = server_state_file()
        state.parent.mkdir(parents=True)
        url = f"http://127.0.0.1:{free_port()}/flowserv/api/v1"
        state.write_text(json.dumps({"pid": supervisor.pid, "url": url}))
        with pytest.raises(CLIError, match="does not answer") as caught:
            localserver.start()
        assert caught.value.exit_code == ExitCode.SERVER
    finally:
        supervisor.kill()
        supervisor.wait()


def test_starting_without_an_interpreter_exits_with_the_usage_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    with pytest.raises(CLIError, match="no flowServ server interpreter found") as caught:
        localserver.start(python=str(tmp_path / "no-python"))
    assert caught.value.exit_code == ExitCode.USAGE


def test_a_foreground_server_that_cannot_start_exits_with_the_server_code(
    tmp_path: Path,
) -> None:
    lines: list[str] = []
    code = localserver.run_foreground(
        tmp_path / "data", python=str(tmp_path / "no-python"), echo=lines.append
    )
    assert code == ExitCode.SERVER
    assert lines[0].startswith("error: no flowServ server interpreter found")
