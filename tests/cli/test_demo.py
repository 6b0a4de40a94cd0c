"""demo: the main job, end to end with a small batch."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from aioflowserv import RunState
from aioflowserv.cli.commands.demo import demo_batch
from aioflowserv.testing import FlowservServer
from tests.support.cli import Invoke, parse


def test_the_demo_batch_mixes_arguments_and_has_exactly_one_failure(tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    plan = demo_batch(8, names)
    assert len(plan) == 8
    assert [state for _, state in plan].count(RunState.ERROR) == 1
    used = {name for arguments, _ in plan for name in arguments}
    assert used == {"sleep", "greeting", "mode", "shout", "names", "exitcode"}
    assert all(arguments["sleep"] >= 1 for arguments, _ in plan)  # see the server's race
    assert any(arguments.get("names") == names for arguments, _ in plan)


def test_demo_runs_a_batch_end_to_end_and_exits_0(
    invoke: Invoke, server: FlowservServer, tmp_path: Path
) -> None:
    result = invoke("demo", "--runs", "3", "--url", server.url, "-o", "results", "--json")
    assert result.exit_code == 0, result.output
    doc = parse(result)
    assert doc["ok"] is True
    runs = doc["runs"]
    assert sorted(run["state"] for run in runs) == ["ERROR", "SUCCESS", "SUCCESS"]
    assert all(run["as_intended"] for run in runs)
    failed = next(run for run in runs if run["state"] == "ERROR")
    assert failed["result"] == "sleeper: failing on purpose with exit code 3"
    for run in runs:
        extracted = tmp_path / "results" / run["run_id"] / "results" / "greetings.txt"
        assert extracted.is_file() == (run["state"] == "SUCCESS")
        if run["state"] == "SUCCESS":
            assert run["result"] == extracted.read_text().splitlines()[0] + " (+1 more)"


def test_demo_prints_progress_and_a_summary_table(
    invoke: Invoke, server: FlowservServer
) -> None:
    result = invoke("demo", "--runs", "2", "--url", server.url, "-o", "results")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "waiting for 2 active runs" in out
    assert len(re.findall(r"(SUCCESS|ERROR)\s+\[\d/2 finished\]", out)) == 2
    header = next(line for line in out.splitlines() if "arguments" in line)
    assert re.findall(r"\w+", header) == ["run", "arguments", "state", "seconds", "result"]
    assert "sleeper: failing on purpose with exit code 3" in out
    assert "All 2 runs ended as intended (1 SUCCESS, 1 ERROR" in out


def test_demo_starts_and_stops_its_own_server_when_none_is_configured(
    invoke: Invoke, server: FlowservServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FLOWSERV_URL")
    monkeypatch.setenv("AIOFLOWSERV_SERVER_PYTHON", str(server.python))
    result = invoke("demo", "--runs", "2", "-o", "results")
    assert result.exit_code == 0, result.output
    match = re.search(r"ready at (http://127\.0\.0\.1:\d+/flowserv/api/v1)", result.stdout)
    assert match is not None
    assert "Stopped the local flowServ server." in result.stdout
    with pytest.raises(httpx.ConnectError):
        httpx.get(match.group(1) + "/", timeout=3)
