"""Helpers for the command-line tests: the runner type, JSON output, runs, a subprocess."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from click.testing import Result

import aioflowserv as afs
from tests.support.realserver import QUICK

Invoke = Callable[..., Result]
"""``invoke("runs", group_id, "--json")``: run ``aioflowserv ARGS...`` in-process."""

ENV_NAMES = (
    "FLOWSERV_URL", "FLOWSERV_ACCESS_TOKEN", "FLOWSERV_API_PROTOCOL", "FLOWSERV_API_HOST",
    "FLOWSERV_API_PORT", "FLOWSERV_API_PATH", "FLOWSERV_PROFILE", "XDG_CONFIG_HOME",
    "XDG_STATE_HOME", "COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE", "NO_COLOR",
)
"""The environment variables a command reads; tests clear them for isolation."""


def parse(result: Result) -> Any:
    """The JSON document a --json command printed on stdout."""
    return json.loads(result.stdout)


def group_runs(sync_client: afs.Flowserv, group_id: str) -> list[afs.RunInfo]:
    """The runs of a group, through the SDK."""
    return sync_client.list_runs(group_id)


def finished_run(sync_client: afs.Flowserv, group_id: str, **arguments: Any) -> afs.Run:
    """Start a sleeper run (of :data:`QUICK` seconds unless told) and wait for it."""
    wf = sync_client.workflow("sleeper", group_id)
    return wf.start_run({"sleep": QUICK, **arguments}, poll_interval=0.1, timeout=60)


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
