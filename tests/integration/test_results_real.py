"""Leaderboards and post-processing outputs on the real server.

The leaderboard is compared with the server's own answer to the same query
(fetched with plain httpx). It uses the suite's ``scores`` template, which only
these tests run, so the ranking holds still while they compare.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.realserver import DEADLINE, POLL, QUICK, settle_postproc


def raw_board(server: FlowservServer, workflow_id: str, **params: str) -> Any:
    answer = httpx.get(f"{server.url}/workflows/{workflow_id}/leaderboard", params=params)
    answer.raise_for_status()
    return answer.json()


def raw_rows(doc: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (e["group"]["id"], e["run"]["id"], {r["name"]: r["value"] for r in e["results"]})
        for e in doc["ranking"]
    ]


def rows(board: afs.Leaderboard | None) -> list[tuple[str, str, dict[str, Any]]]:
    assert board is not None
    return [(row.group_id, row.run_id, dict(row.results)) for row in board.rows]


@pytest_asyncio.fixture
async def scores(
    client: afs.AsyncFlowserv, server: FlowservServer, user: dict[str, Any]
) -> tuple[afs.AsyncWorkflow, list[afs.Run]]:
    """Two groups of the scores workflow with three finished runs between them."""
    first = await client.workflow("scores", server.create_group(user["token"], "scores"))
    second = await client.workflow("scores", server.create_group(user["token"], "scores"))
    runs = await first.start_runs(
        [{"score": 0.31, "rounds": 2, "note": "b"}, {"score": 0.83, "rounds": 1, "note": "a"}],
        concurrency=1, poll_interval=POLL, timeout=DEADLINE,
    )
    runs += await second.start_runs(
        [{"score": 0.52, "rounds": 7, "note": "c"}], poll_interval=POLL, timeout=DEADLINE
    )
    assert all(run.is_success() for run in runs), [run.messages() for run in runs]
    return first, runs


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("order_by", "wire"),
    [
        (None, None),
        ("rounds:asc", "rounds:asc"),
        (["note:asc", "score:desc"], "note:asc,score:desc"),
        ("score", "score"),  # a bare column: the server's own reading
    ],
)
@pytest.mark.parametrize("include_all", [False, True])
async def test_the_leaderboard_is_the_servers_ranking(
    scores: tuple[afs.AsyncWorkflow, list[afs.Run]],
    server: FlowservServer,
    order_by: Any,
    wire: str | None,
    include_all: bool,
) -> None:
    wf, runs = scores
    board = await wf.leaderboard(order_by=order_by, include_all=include_all)
    params = {"orderBy": wire} if wire else {}
    if include_all:
        params["includeAll"] = "true"
    assert rows(board) == raw_rows(raw_board(server, "scores", **params))
    ranked = {run_id for _, run_id, _ in rows(board)}
    if include_all:
        assert {run.run_id for run in runs} <= ranked
    else:
        assert len(ranked & {run.run_id for run in runs}) == 2  # the best run of each group


@pytest.mark.asyncio
async def test_the_leaderboard_is_typed_by_the_schema_with_its_labels(
    scores: tuple[afs.AsyncWorkflow, list[afs.Run]],
) -> None:
    wf, runs = scores
    board = await wf.leaderboard(include_all=True)
    assert board is not None
    assert [(c.name, c.label, c.dtype) for c in board.columns] == [
        ("score", "Score", "float"), ("rounds", "Rounds", "int"), ("note", "Note", "string"),
    ]
    ours = {row.run_id: row for row in board.rows}[runs[2].run_id]
    assert ours.results == {"score": 0.52, "rounds": 7, "note": "c"}
    assert ours.finished_at == runs[2].finished_at
    record = board.to_records()[list(board.rows).index(ours)]
    assert record["run_id"] == runs[2].run_id
    assert record["rounds"] == 7
    frame = board.to_pandas()
    assert frame["run_id"].tolist() == [row.run_id for row in board.rows]


@pytest.mark.asyncio
async def test_an_unknown_column_is_refused_not_sent(
    scores: tuple[afs.AsyncWorkflow, list[afs.Run]],
) -> None:
    wf, _ = scores
    with pytest.raises(afs.InvalidArgumentError, match="unknown column 'speed'"):
        await wf.leaderboard(order_by="speed")


@pytest.mark.asyncio
async def test_a_workflow_without_results_schema_has_no_leaderboard(
    client: afs.AsyncFlowserv,
) -> None:
    assert await client.leaderboard("types") is None


def test_the_sync_leaderboard_is_the_async_one(
    sync_client: afs.Flowserv, server: FlowservServer, user: dict[str, Any]
) -> None:
    wf = sync_client.workflow("scores", server.create_group(user["token"], "scores"))
    wf.start_run({"score": 0.4}, poll_interval=POLL, timeout=DEADLINE)
    board = wf.leaderboard(order_by="score:asc", include_all=True)
    assert rows(board) == raw_rows(
        raw_board(server, "scores", orderBy="score:asc", includeAll="true")
    )
    assert rows(sync_client.leaderboard("scores")) == raw_rows(raw_board(server, "scores"))


@pytest.mark.asyncio
async def test_post_processing_outputs_as_an_archive_and_one_by_one(
    workflow: afs.AsyncWorkflow, tmp_path: Path
) -> None:
    await settle_postproc(workflow)
    run = await workflow.start_run({"sleep": QUICK}, poll_interval=POLL, timeout=DEADLINE)
    assert run.is_success()
    await settle_postproc(workflow)
    postproc = await workflow.get_postproc_results()
    assert postproc is not None
    assert postproc.is_success()
    extracted = await (await workflow.get_postproc_file()).extract(tmp_path / "all")
    assert extracted == [(tmp_path / "all" / "results" / "summary.json").resolve()]
    summary = postproc.get_file("results/summary.json")
    assert summary is not None
    handle = await workflow.get_postproc_file(summary.id)
    assert handle.name == "results/summary.json"
    content = await handle.read()
    assert content == extracted[0].read_bytes()
    assert isinstance(json.loads(content), list)
    saved = await handle.save(tmp_path)
    assert saved == tmp_path / "summary.json"


def test_post_processing_outputs_through_the_sync_facade(
    sync_client: afs.Flowserv, tmp_path: Path
) -> None:
    handle = sync_client.get_postproc_file("sleeper")
    assert handle.mime_type == "application/gzip"
    assert [p.name for p in handle.extract(tmp_path)] == ["summary.json"]


@pytest.mark.asyncio
async def test_a_workflow_without_post_processing_says_so(client: afs.AsyncFlowserv) -> None:
    with pytest.raises(afs.NotFoundError, match="workflow 'types' has no post-processing"):
        await client.get_postproc_file("types")
