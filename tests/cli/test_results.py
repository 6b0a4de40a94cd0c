"""leaderboard, download --postproc and download --group."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.cli import Invoke, finished_run, parse
from tests.support.realserver import DEADLINE, POLL, QUICK


@pytest.fixture
def scored(
    sync_client: afs.Flowserv, server: FlowservServer, user: dict[str, Any]
) -> list[afs.Run]:
    """Two finished runs of the scores workflow in a fresh group."""
    wf = sync_client.workflow("scores", server.create_group(user["token"], "scores"))
    return wf.start_runs(
        [{"score": 0.61, "rounds": 2, "note": "first"}, {"score": 0.72, "rounds": 4, "note": "x"}],
        concurrency=1, poll_interval=POLL, timeout=DEADLINE,
    )


def server_ranking(server: FlowservServer, **params: str) -> list[str]:
    doc = httpx.get(f"{server.url}/workflows/scores/leaderboard", params=params).json()
    return [entry["run"]["id"] for entry in doc["ranking"]]


def test_leaderboard_prints_a_table_with_the_schemas_labels(
    invoke: Invoke, scored: list[afs.Run]
) -> None:
    result = invoke("leaderboard", "scores", "--all")
    assert result.exit_code == 0, result.output
    header = next(line for line in result.stdout.splitlines() if "Score" in line)
    assert [cell.strip() for cell in header.split("┃")[1:-1]] == [
        "#", "group", "run", "Score", "Rounds", "Note", "finished (UTC)",
    ]
    row = next(line for line in result.stdout.splitlines() if scored[1].run_id in line)
    assert [cell.strip() for cell in row.split("│")[4:7]] == ["0.72", "4", "x"]


def test_leaderboard_json_is_the_servers_ranking_in_the_order_asked(
    invoke: Invoke, scored: list[afs.Run], server: FlowservServer
) -> None:
    result = invoke("leaderboard", "scores", "--all", "--order-by", "rounds:asc", "--json")
    assert result.exit_code == 0, result.output
    doc = parse(result)
    assert [row["run_id"] for row in doc["rows"]] == server_ranking(
        server, orderBy="rounds:asc", includeAll="true"
    )
    assert doc["columns"][0] == {"name": "score", "label": "Score", "dtype": "float"}
    mine = {row["run_id"]: row for row in doc["rows"]}[scored[0].run_id]
    assert (mine["score"], mine["rounds"], mine["note"]) == (0.61, 2, "first")


def test_leaderboard_csv_has_a_header_and_a_row_per_run(
    invoke: Invoke, scored: list[afs.Run], server: FlowservServer
) -> None:
    result = invoke("leaderboard", "scores", "--csv")
    assert result.exit_code == 0, result.output
    records = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["run_id"] for r in records] == server_ranking(server)
    assert list(records[0])[-3:] == ["score", "rounds", "note"]
    assert [r["rank"] for r in records] == [str(i + 1) for i in range(len(records))]


def test_leaderboard_of_an_unknown_column_exits_2_before_asking(invoke: Invoke) -> None:
    result = invoke("leaderboard", "scores", "--order-by", "speed:asc")
    assert result.exit_code == 2
    assert "unknown column 'speed'" in result.stderr


def test_leaderboard_of_a_workflow_without_results_says_so(invoke: Invoke) -> None:
    result = invoke("leaderboard", "types")
    assert result.exit_code == 0
    assert "has no results schema" in result.stdout
    assert parse(invoke("leaderboard", "types", "--json")) is None


def test_download_postproc_unpacks_the_outputs(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str, tmp_path: Path
) -> None:
    finished_run(sync_client, group_id, sleep=QUICK)  # a ranked run: post-processing follows
    result = invoke("download", "--postproc", "sleeper", "-o", str(tmp_path / "pp"), "--json")
    assert result.exit_code == 0, result.output
    assert parse(result)["files"] == [str((tmp_path / "pp" / "results" / "summary.json").resolve())]
    one = invoke("download", "--postproc", "sleeper", "results/summary.json", "-o", "one")
    assert one.exit_code == 0, one.output
    assert isinstance(json.loads(Path("one/summary.json").read_text()), list)


def test_download_postproc_of_a_workflow_without_it_exits_3(invoke: Invoke) -> None:
    result = invoke("download", "--postproc", "types")
    assert result.exit_code == 3
    assert "workflow 'types' has no post-processing results" in result.stderr


def test_download_group_writes_a_folder_per_run_and_resumes(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str
) -> None:
    ok = finished_run(sync_client, group_id, sleep=QUICK, greeting="Yo")
    bad = finished_run(sync_client, group_id, sleep=QUICK, exitcode=3)
    result = invoke("download", "--group", group_id, "-o", "all")
    assert result.exit_code == 0, result.output
    assert f"{ok.run_id}  SUCCESS   2 files" in result.stdout
    assert "2 runs in all: 2 downloaded, 0 already on disk, 0 failed" in result.stdout
    assert Path(f"all/{ok.run_id}/results/greetings.txt").read_text().startswith("Yo ")
    meta = json.loads(Path(f"all/{bad.run_id}/flowserv-run.json").read_text())
    assert meta["state"] == "ERROR"
    again = invoke("download", "--group", group_id, "-o", "all", "--state", "success", "--json")
    assert again.exit_code == 0, again.output
    (item,) = parse(again)["runs"]
    assert (item["run_id"], item["skipped"]) == (ok.run_id, True)


def test_download_needs_one_source(invoke: Invoke, group_id: str) -> None:
    assert invoke("download").exit_code == 2
    assert invoke("download", "abc", "--group", group_id).exit_code == 2
    assert invoke("download", "abc", "--state", "success").exit_code == 2
    assert invoke("download", "a", "b", "--postproc", "sleeper").exit_code == 2
