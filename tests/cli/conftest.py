"""Helpers for the command-line tests: an isolated environment and a runner.

Every test gets its own config and state directories (XDG_CONFIG_HOME,
XDG_STATE_HOME) and the session's real server in FLOWSERV_URL, logged in as
a fresh user through FLOWSERV_ACCESS_TOKEN, so commands read naturally:
``invoke("runs", group_id, "--json")``.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import aioflowserv as afs
from aioflowserv._cli import cli
from aioflowserv.testing import FlowservServer

Invoke = Callable[..., Result]

ENV_NAMES = (
    "FLOWSERV_URL", "FLOWSERV_ACCESS_TOKEN", "FLOWSERV_API_PROTOCOL", "FLOWSERV_API_HOST",
    "FLOWSERV_API_PORT", "FLOWSERV_API_PATH", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "COLUMNS",
    "FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR",
)


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


def parse(result: Result) -> Any:
    """The JSON document a --json command printed on stdout."""
    return json.loads(result.stdout)


def group_runs(sync_client: afs.Flowserv, group_id: str) -> list[afs.RunInfo]:
    """The runs of a group, through the SDK."""
    return sync_client.list_runs(group_id)


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


def finished_run(sync_client: afs.Flowserv, group_id: str, **arguments: Any) -> afs.Run:
    """Start a sleeper run and wait for it (with a deadline)."""
    wf = sync_client.workflow("sleeper", group_id)
    return wf.start_run(arguments, poll_interval=0.1, timeout=60)


class CommandProcess:
    """``python -m aioflowserv.cli ...`` in a subprocess, its output read with deadlines."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "aioflowserv.cli", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **env},
        )
        self.output = b""

    def wait_for_line(self, needle: str, timeout: float = 30.0) -> None:
        """Read stdout until a complete line contains ``needle``; fail after ``timeout``."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                lines = self.output.decode(errors="replace").splitlines(keepends=True)
                if any(needle in line and line.endswith("\n") for line in lines):
                    return
                if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    self.output += chunk
        raise AssertionError(f"no line with {needle!r} in {self.output!r}")

    def finish(self, timeout: float = 30.0) -> tuple[int, str, str]:
        """Wait for the exit; returns (exit code, all of stdout, stderr)."""
        out, err = self.proc.communicate(timeout=timeout)
        return (
            self.proc.returncode, (self.output + out).decode(errors="replace"),
            err.decode(errors="replace"),
        )

    def kill(self) -> None:
        """Make sure the process is gone."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)
