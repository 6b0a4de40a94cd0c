"""Fixtures of the command-line tests: an isolated environment and a runner.

Every test gets its own config and state directories (XDG_CONFIG_HOME,
XDG_STATE_HOME) and the session's real server in FLOWSERV_URL, logged in as
a fresh user through FLOWSERV_ACCESS_TOKEN, so commands read naturally:
``invoke("runs", group_id, "--json")``. The helpers are in ``tests.support.cli``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import aioflowserv as afs
from aioflowserv.cli.commands import cli
from aioflowserv.testing import FlowservServer
from tests.support.cli import ENV_NAMES, Invoke


@pytest.fixture
def cli_env(
    server: FlowservServer, user: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """Environment of a logged-in user of the session server, with private config/state dirs."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    env = {
        "FLOWSERV_URL": server.url,
        "FLOWSERV_ACCESS_TOKEN": user["token"],
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return env


@pytest.fixture
def invoke(cli_env: dict[str, str]) -> Invoke:
    """Run ``aioflowserv ARGS...`` in-process; click's Result has stdout, stderr, exit_code."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(cli, list(args), input=input, env=env, catch_exceptions=False)

    return run


@pytest.fixture
def started(sync_client: afs.Flowserv, group_id: str) -> Iterator[Callable[..., afs.Run]]:
    """Start sleeper runs through the SDK; any still active are canceled at teardown."""
    wf = sync_client.workflow("sleeper", group_id)
    runs: list[afs.Run] = []

    def start(**arguments: Any) -> afs.Run:
        run = wf.start_run(arguments)
        runs.append(run)
        return run

    yield start
    for run in runs:
        if sync_client.get_run(run.run_id).is_active():
            sync_client.cancel_run(run.run_id, "test teardown")
