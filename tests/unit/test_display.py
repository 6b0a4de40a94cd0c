"""What people see (``_display``): the models' drawings, the shared tables, colours and words.

The models are data; importing ``aioflowserv`` registers this module's
drawings, so every model has a short repr and, where it is a table, HTML and a
rich rendering. The command line draws its runs, leaderboard and timeline
tables with the same functions.
"""

from __future__ import annotations

import ast
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

import aioflowserv as afs
from aioflowserv import _display
from aioflowserv._models import Login
from tests.support.documents import (
    SLEEPER_PARAMETERS,
    group_doc,
    leaderboard_doc,
    ranking_entry,
    run_doc,
    workflow_doc,
)

SRC = Path(afs.__file__).parent
T0 = datetime(2026, 11, 26, 15, 0, 0, tzinfo=timezone.utc)


def rendered(renderable: Any, width: int = 200) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def finished(run_id: str, state: str = "SUCCESS", **doc: Any) -> afs.Run:
    return afs.Run.from_json(run_doc(run_id, state, **doc))


def imported(module: str) -> set[str]:
    """Every module the source of ``aioflowserv.<module>`` imports, type-only ones included."""
    tree = ast.parse((SRC / f"{module}.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add("." * node.level + (node.module or ""))
    return names


@pytest.mark.parametrize("module", ["_models", "_parameters", "_presenter", "_arguments"])
def test_the_models_never_import_the_display_nor_draw(module: str) -> None:
    assert not imported(module) & {"._display", "html", "rich", "rich.table", "rich.text"}


def test_the_errors_do_not_import_the_models() -> None:
    assert not imported("_errors") & {"._models", "._display"}


MODELS = [
    afs.Run.from_json(run_doc("r1", "ERROR", messages=["boom\n"])),
    afs.Group.from_json(group_doc()),
    afs.WorkflowInfo.from_json(workflow_doc(parameters=SLEEPER_PARAMETERS)),
    afs.ParameterIndex.from_json(SLEEPER_PARAMETERS),
    afs.Parameter.from_json(SLEEPER_PARAMETERS[0]),
    afs.RunList([afs.Run.from_json(run_doc("r1", "SUCCESS"))]),
    afs.Leaderboard.from_json(leaderboard_doc(ranking_entry("r1"))),
]


@pytest.mark.parametrize("model", MODELS, ids=lambda model: type(model).__name__)
def test_every_model_people_look_at_has_a_line_a_page_and_a_table(model: Any) -> None:
    text = repr(model)
    assert text.startswith(f"<{type(model).__name__}")
    assert "\n" not in text
    assert model._repr_html_().startswith("<table>")
    assert rendered(model).strip()


def test_listing_entries_have_a_line_and_a_page_that_says_they_are_entries() -> None:
    info = afs.RunInfo(run_id="r1", state=afs.RunState.RUNNING, created_at=T0)
    assert repr(info) == "<RunInfo r1 RUNNING created 2026-11-26 15:00:00>"
    assert "a listing entry" in info._repr_html_()


def test_logins_have_a_line_only_and_never_the_token() -> None:
    login = Login(user_id="u1", username="alice", token="s3cret")
    assert repr(login) == "Login(user_id='u1', username='alice')"
    assert not hasattr(login, "_repr_html_")


def test_each_state_has_one_colour_for_pages_and_one_style_for_terminals() -> None:
    assert set(_display.STATE_COLORS) == set(_display.STATE_STYLES) == set(afs.RunState)
    page = afs.Run.from_json(run_doc("r1", "ERROR"))._repr_html_()
    assert f"color:{_display.STATE_COLORS[afs.RunState.ERROR]}" in page
    table = _display.runs_table([finished("r1", "ERROR")]).rich()
    (state_cell,) = table.columns[1].cells
    assert state_cell.style == _display.STATE_STYLES[afs.RunState.ERROR]


def test_words() -> None:
    assert (_display.plural(1, "run"), _display.plural(0, "run")) == ("1 run", "0 runs")
    assert _display.shorten("a  b\nc", 60) == "a b c"
    assert _display.shorten("x" * 10, 5) == "xxxx…"
    run = finished("r1", "ERROR", messages=["first\n", "last line\n", "  \n"])
    assert _display.last_message(run) == "last line"
    states = [afs.RunState.ERROR, afs.RunState.RUNNING, afs.RunState.ERROR]
    assert _display.state_counts(states) == "1 RUNNING, 2 ERROR"


def test_the_runs_table_the_command_line_prints() -> None:
    ok = finished("a" * 32, files=[{"id": "f", "name": "greetings"}])
    failed = finished("b" * 32, "ERROR", messages=["boom\n"])
    table = _display.runs_table(
        [ok, failed], arguments={ok.run_id: "sleep=1"}, rerun_of={ok.run_id: "old"},
        id_width=8,
    )
    assert [getattr(column, "name", column) for column in table.header or ()] == [
        "rerun of", "run", "arguments", "state", "seconds", "files or message",
    ]
    assert [[str(getattr(cell, "text", cell)) for cell in row] for row in table.rows] == [
        ["old", "aaaaaaaa", "sleep=1", "SUCCESS", "0.20", "greetings"],
        ["", "bbbbbbbb", "", "ERROR", "0.20", "boom"],
    ]
    given = _display.runs_table([ok], results={ok.run_id: "Hi!"})
    assert list(given.rows[0])[-1] == "Hi!"
    assert "result" in rendered(given.rich()).splitlines()[1]


def test_the_runs_table_of_listing_entries_has_their_three_columns() -> None:
    infos = [afs.RunInfo(run_id="r1", state=afs.RunState.SUCCESS, created_at=T0)]
    text = rendered(_display.runs_table(infos).rich())
    assert text.splitlines()[1].replace("┃", " ").split() == ["run", "state", "created"]
    assert "2026-11-26 15:00:00" in text


def test_the_leaderboard_table_right_aligns_numbers_and_keeps_the_labels() -> None:
    board = afs.Leaderboard.from_json(leaderboard_doc(ranking_entry("r1", score=0.75)))
    assert board is not None
    table = _display.leaderboard_table(board)
    assert table.title == "Leaderboard: 1 ranked run"
    text = rendered(table.rich())
    header = next(line for line in text.splitlines() if "Score" in line)
    assert [cell.strip() for cell in header.split("┃")[1:-1]] == [
        "#", "group", "run", "Score", "Rounds", "Note", "finished (UTC)",
    ]
    assert "0.75" in text


def test_a_timeline_shows_as_bars_in_a_page_and_in_a_terminal() -> None:
    runs = afs.RunList([
        afs.Run(run_id="quick", state=afs.RunState.SUCCESS, created_at=T0, started_at=T0,
                finished_at=T0 + timedelta(seconds=1)),
        afs.Run(run_id="slow", state=afs.RunState.ERROR, created_at=T0,
                started_at=T0 + timedelta(seconds=2), finished_at=T0 + timedelta(seconds=10)),
    ])
    timeline = runs.timeline()
    assert repr(timeline) == "<Timeline: 2 runs: 1 SUCCESS, 1 ERROR; 10.0 s>"
    assert timeline.html() == timeline._repr_html_()
    assert "queued 2.00 s" in timeline.html()
    lines = rendered(_display.timeline_table(timeline, 20)).splitlines()
    bars = {line.split("│")[1].strip(): line.split("│")[3] for line in lines if "│" in line}
    assert bars["slow"].count(_display.RAN) == 16
    assert bars["slow"].count(_display.QUEUED) == 4
    assert bars["quick"].count(_display.RAN) == 2


def test_the_parameter_table_has_a_help_column_when_a_declaration_has_help() -> None:
    index = afs.ParameterIndex.from_json(SLEEPER_PARAMETERS)
    assert list(_display.parameter_table(index.sorted()).header or ())[-1] == "label"
    helped = afs.Parameter.from_json({"name": "n", "dtype": "int", "help": "How many."})
    table = _display.parameter_table([*index.sorted(), helped])
    assert list(table.header or ())[-1] == "help"
    assert list(table.rows[-1])[-1] == "How many."


def test_plural_words_take_their_ending() -> None:
    from aioflowserv._display import plural

    assert [plural(1, "run"), plural(2, "run"), plural(0, "fetch"), plural(3, "process")] == [
        "1 run", "2 runs", "0 fetches", "3 processes",
    ]
