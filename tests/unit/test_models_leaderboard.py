"""The leaderboard models: typed rows, records, pandas, and how a leaderboard shows itself."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import pytest

import aioflowserv as afs
from tests.support.documents import FINISHED, SCHEMA, leaderboard_doc, ranking_entry


def board(
    *entries: dict[str, object], schema: list[dict[str, str]] | None = None
) -> afs.Leaderboard:
    doc = leaderboard_doc(*entries)
    if schema is not None:
        doc["schema"] = schema
    parsed = afs.Leaderboard.from_json(doc)
    assert parsed is not None
    return parsed


def test_results_are_typed_by_the_schema() -> None:
    parsed = board(ranking_entry("r1", score="0.75", rounds=3.0, note=7))
    assert parsed.rows[0].results == {"score": 0.75, "rounds": 3, "note": "7"}
    assert [c.label for c in parsed.columns] == ["Score", "Rounds", "Note"]
    assert parsed.rows[0].finished_at == datetime.fromisoformat(FINISHED)


def test_records_are_flat_and_ranked_best_first() -> None:
    parsed = board(ranking_entry("r1", score=0.9), ranking_entry("r2", "g2", score=0.5))
    records = parsed.to_records()
    assert [r["rank"] for r in records] == [1, 2]
    assert list(records[0]) == parsed.keys() == [
        "rank", "group_id", "group_name", "run_id", "created_at", "started_at", "finished_at",
        "score", "rounds", "note",
    ]
    assert records[1]["group_id"] == "g2"
    assert records[1]["score"] == 0.5


def test_a_missing_result_is_none_and_a_colliding_column_is_prefixed() -> None:
    schema = [*SCHEMA, {"name": "rank", "label": "Rank", "dtype": "int"}]
    entry = ranking_entry("r1")
    entry["results"] = [{"name": "rank", "value": 4}]
    (record,) = board(entry, schema=schema).to_records()
    assert record["rank"] == 1
    assert record["results.rank"] == 4
    assert record["score"] is None


def test_to_pandas_gives_a_data_frame_of_the_records() -> None:
    parsed = board(ranking_entry("r1", score=0.9, rounds=2), ranking_entry("r2", score=0.4))
    frame = parsed.to_pandas()
    assert list(frame.columns) == parsed.keys()
    assert frame["score"].tolist() == [0.9, 0.4]
    assert frame["rounds"].tolist() == [2, 1]
    assert str(frame["finished_at"].dtype).startswith("datetime64")


def test_to_pandas_without_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r"aioflowserv\[pandas\]"):
        board(ranking_entry("r1")).to_pandas()


def test_the_repr_is_short() -> None:
    parsed = board(*(ranking_entry(f"r{i}") for i in range(50)))
    assert repr(parsed) == (
        "<Leaderboard: 50 rows; columns score (float), rounds (int), note (string)>"
    )


def test_the_html_table_has_the_labels_and_escapes_what_the_server_sent() -> None:
    entry = ranking_entry("r1", note="<script>x</script>")
    entry["group"]["name"] = "a&b"  # type: ignore[index]
    text = board(entry)._repr_html_()
    assert "<th" in text
    assert ">Score</th>" in text
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert "a&amp;b" in text


def test_no_schema_is_no_leaderboard() -> None:
    assert afs.Leaderboard.from_json(None) is None


def test_the_dict_has_the_schema_the_records_with_iso_times_and_the_post_processing_run() -> None:
    parsed = board(ranking_entry("r1", score=0.9), ranking_entry("r2", "g2", score=0.5))
    doc = parsed.to_dict()
    assert json.loads(json.dumps(doc)) == doc
    assert doc["columns"][0] == {"name": "score", "label": "Score", "dtype": "float"}
    assert [row["run_id"] for row in doc["rows"]] == ["r1", "r2"]
    assert list(doc["rows"][0]) == parsed.keys()
    assert doc["rows"][0]["finished_at"] == FINISHED
    assert doc["postproc"] is None


def test_the_html_table_has_a_caption_that_names_the_columns() -> None:
    text = board(ranking_entry("r1"), ranking_entry("r2"))._repr_html_()
    caption = text.split("<caption", 1)[1].split("</caption>", 1)[0]
    assert "Leaderboard: 2 ranked runs" in caption
    assert "Score = score (float)" in caption
    assert text.count("<tr>") == 1 + 2  # the header, then a row per ranked run
