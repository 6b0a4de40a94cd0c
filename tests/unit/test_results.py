"""A workflow's results (``_results``): the leaderboard's requests and post-processing downloads.

``order_by`` is checked before anything is sent: its syntax, and its columns
against the results schema (read once). The server's answers are mocked.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

import aioflowserv as afs
from aioflowserv._results import order_terms
from tests.support.documents import leaderboard_doc, ranking_entry

BOARD = "/workflows/scores/leaderboard"


def board_route(api: respx.MockRouter, doc: Any = None) -> respx.Route:
    if doc is None:
        doc = leaderboard_doc(ranking_entry("r1"), ranking_entry("r2", score=0.2))
    return api.get(BOARD).mock(return_value=httpx.Response(200, json=doc))


def sent_params(route: respx.Route) -> list[dict[str, str]]:
    return [dict(call.request.url.params) for call in route.calls]


@pytest.mark.asyncio
async def test_the_default_leaderboard_sends_no_parameters(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = board_route(api)
    board = await fs.leaderboard("scores")
    assert sent_params(route) == [{}]
    assert board is not None
    assert [row.run_id for row in board.rows] == ["r1", "r2"]


@pytest.mark.asyncio
async def test_include_all_is_sent_as_true(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> None:
    route = board_route(api)
    await fs.leaderboard("scores", include_all=True)
    assert sent_params(route) == [{"includeAll": "true"}]


@pytest.mark.parametrize(
    ("order_by", "wire"),
    [
        ("score", "score:desc"),  # a bare column sorts descending, as the server does
        ("score:ASC", "score:asc"),
        ("note:asc,score", "note:asc,score:desc"),
        (["note:asc", "rounds:desc"], "note:asc,rounds:desc"),
        (("rounds",), "rounds:desc"),
    ],
)
@pytest.mark.asyncio
async def test_order_by_is_checked_against_the_schema_then_sent_in_the_servers_syntax(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, order_by: Any, wire: str
) -> None:
    route = board_route(api)
    wf_board = await fs.leaderboard("scores", order_by=order_by)
    assert wf_board is not None
    assert sent_params(route) == [{}, {"orderBy": wire}]  # the schema first, then the ranking


@pytest.mark.asyncio
async def test_a_workflow_reads_its_schema_once(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/workflows/scores").mock(return_value=httpx.Response(200, json={
        "id": "scores", "name": "Scores", "parameters": []}))
    api.get("/groups/g1").mock(return_value=httpx.Response(200, json={
        "id": "g1", "name": "team", "workflow": "scores", "parameters": []}))
    wf = await fs.workflow("scores", "g1")
    route = board_route(api)
    await wf.leaderboard(order_by="score")
    await wf.leaderboard(order_by="rounds:asc", include_all=True)
    assert sent_params(route) == [
        {}, {"orderBy": "score:desc"}, {"orderBy": "rounds:asc", "includeAll": "true"},
    ]


@pytest.mark.parametrize(
    "order_by", ["score:up", "", "my score", "score:", ":asc", 3, ["score", 1], {"score": "asc"}]
)
@pytest.mark.asyncio
async def test_a_malformed_order_is_refused_before_any_request(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, order_by: Any
) -> None:
    route = board_route(api)
    with pytest.raises(afs.InvalidArgumentError) as raised:
        await fs.leaderboard("scores", order_by=order_by)
    assert raised.value.parameter == "order_by"
    assert route.call_count == 0


@pytest.mark.asyncio
async def test_an_unknown_column_is_refused_after_reading_only_the_schema(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = board_route(api)
    with pytest.raises(afs.InvalidArgumentError, match=r"unknown column 'speed'.*score, rounds"):
        await fs.leaderboard("scores", order_by=["score", "speed:asc"])
    assert sent_params(route) == [{}]


@pytest.mark.asyncio
async def test_include_all_must_be_a_bool(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> None:
    route = board_route(api)
    with pytest.raises(afs.InvalidArgumentError, match="include_all"):
        await fs.leaderboard("scores", include_all="yes")  # type: ignore[arg-type]
    assert route.call_count == 0


@pytest.mark.asyncio
async def test_a_workflow_without_results_schema_has_no_leaderboard(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.get("/workflows/types/leaderboard").mock(
        return_value=httpx.Response(
            200, content=b"null\n", headers={"content-type": "application/json"}
        )
    )
    assert await fs.leaderboard("types") is None
    assert await fs.leaderboard("types", order_by="score") is None
    assert sent_params(route) == [{}, {}]  # no ordered request for a board that is not there


def test_order_terms_of_nothing_is_empty() -> None:
    assert order_terms(None) == ()
    assert order_terms([]) == ()


@pytest.mark.asyncio
async def test_the_postproc_archive_is_the_workflows_download(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.get("/workflows/sleeper/downloads/archive").mock(
        return_value=httpx.Response(
            200, content=b"tar",
            headers={"content-type": "application/gzip",
                     "content-disposition": "attachment; filename=results.tar.gz"},
        )
    )
    handle = await fs.get_postproc_file("sleeper")
    assert route.call_count == 1
    assert handle.name == "results.tar.gz"
    assert await handle.read() == b"tar"


@pytest.mark.asyncio
async def test_a_postproc_file_is_downloaded_by_id(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.get("/workflows/sleeper/downloads/files/f1").mock(
        return_value=httpx.Response(
            200, content=b"{}",
            headers={"content-disposition": 'attachment; filename="results/summary.json"'},
        )
    )
    handle = await fs.get_postproc_file("sleeper", "f1")
    assert route.call_count == 1
    assert handle.name == "results/summary.json"


@pytest.mark.asyncio
async def test_no_postproc_outputs_is_a_not_found_error_that_says_so(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/workflows/types/downloads/archive").mock(return_value=httpx.Response(
        404, json={"message": "unknown file 'no post-processing workflow'"}
    ))
    with pytest.raises(afs.NotFoundError) as raised:
        await fs.get_postproc_file("types")
    assert raised.value.status_code == 404
    assert "workflow 'types' has no post-processing results" in str(raised.value)


@pytest.mark.asyncio
async def test_an_unknown_postproc_file_keeps_the_servers_message(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/workflows/sleeper/downloads/files/nope").mock(return_value=httpx.Response(
        404, json={"message": "unknown file 'nope'"}
    ))
    with pytest.raises(afs.NotFoundError, match="unknown file 'nope'"):
        await fs.get_postproc_file("sleeper", "nope")


@pytest.mark.asyncio
async def test_a_bad_file_id_is_refused_before_any_request(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    with pytest.raises(afs.InvalidArgumentError):
        await fs.get_postproc_file("sleeper", "../../users")
