"""An output whose reader went away (``aioflowserv ... | head -1``) ends the command quietly.

The command runs in a subprocess whose stdout is a pipe with no reader left,
so that every write fails as it does once ``head`` has exited: the exit code
is the shell's for SIGPIPE (141) or 0, and stderr has no error line, no
traceback and no complaint of Python's about flushing stdout at exit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import aioflowserv as afs
from tests.support.cli import finished_run


def into_closed_pipe(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run ``aioflowserv ARGS`` with stdout a pipe nobody reads; (exit code, stderr)."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "aioflowserv.cli", *args], stdout=write,
            stderr=subprocess.PIPE, env={**os.environ, **env}, timeout=120, text=True,
        )
    finally:
        os.close(write)
    return done.returncode, done.stderr


def assert_quiet(code: int, stderr: str) -> None:
    assert code in (0, 141), stderr
    assert "Error" not in stderr
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr


@pytest.mark.parametrize(
    "args",
    [["leaderboard", "sleeper", "--all", "--csv"], ["workflows", "--json"], ["workflows"],
     ["--help"], ["runs", "{group}"]],
    ids=["leaderboard-csv", "workflows-json", "workflows-table", "help", "runs"],
)
def test_a_closed_pipe_ends_the_command_quietly(
    cli_env: dict[str, str], group_id: str, sync_client: afs.Flowserv, args: list[str]
) -> None:
    finished_run(sync_client, group_id)
    code, stderr = into_closed_pipe([arg.format(group=group_id) for arg in args], cli_env)
    assert_quiet(code, stderr)
    assert code == 141


def test_a_closed_pipe_stops_a_bulk_download_quietly(
    cli_env: dict[str, str], group_id: str, sync_client: afs.Flowserv, tmp_path: Path
) -> None:
    for _ in range(2):
        finished_run(sync_client, group_id)
    code, stderr = into_closed_pipe(
        ["download", "--group", group_id, "-o", str(tmp_path / "out"), "--concurrency", "1"],
        cli_env,
    )
    assert_quiet(code, stderr)
