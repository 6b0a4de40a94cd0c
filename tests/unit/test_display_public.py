"""Every public model and collection: a bounded one-line ``repr`` and a table in a notebook.

The test walks ``afs.__all__``: each public class is a model people look at
(a short repr, ``_repr_html_``), a small value shown inside its owner's table
(a bounded attrs repr), or not drawn at all for a stated reason. A new public
class fails :func:`test_every_public_class_is_classified` until it is put in
one of those lists. Collections are built with a thousand runs: no repr may
grow with them.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv
from tests.support.documents import (
    SLEEPER_PARAMETERS,
    group_doc,
    leaderboard_doc,
    ranking_entry,
    run_doc,
    workflow_doc,
)

MANY = 1000
LIMIT = 300
T0 = datetime(2026, 11, 26, 15, 0, 0, tzinfo=timezone.utc)


def many_runs() -> list[afs.Run]:
    states = ["SUCCESS", "ERROR", "RUNNING", "CANCELED", "PENDING"]
    return [
        afs.Run.from_json(run_doc(f"{index:032x}", states[index % 5], messages=["boom\n"] * 50,
                                  files=[{"id": f"f{n}", "name": f"out-{n}.txt"}
                                         for n in range(50)]))
        for index in range(MANY)
    ]


def infos() -> list[afs.RunInfo]:
    return [afs.RunInfo(run_id=f"{i:032x}", state=afs.RunState.SUCCESS, created_at=T0)
            for i in range(MANY)]


def a_run() -> afs.Run:
    return many_runs()[1]


def a_group() -> afs.Group:
    runs = [{"id": f"{i:032x}", "state": "SUCCESS", "createdAt": T0.isoformat()}
            for i in range(MANY)]
    members = [{"id": f"u{i}", "username": f"user{i}"} for i in range(MANY)]
    files = [{"id": f"f{i}", "name": f"names-{i}.txt"} for i in range(MANY)]
    return afs.Group.from_json(group_doc(runs=runs, members=members, files=files))


def a_workflow_info() -> afs.WorkflowInfo:
    groups = [{"id": f"g{i}", "name": f"team-{i}"} for i in range(MANY)]
    return afs.WorkflowInfo.from_json(
        workflow_doc(parameters=SLEEPER_PARAMETERS, groups=groups, description="x" * 5000)
    )


def a_leaderboard() -> afs.Leaderboard:
    board = afs.Leaderboard.from_json(
        leaderboard_doc(*(ranking_entry(f"{i:032x}", score=i / 7) for i in range(MANY)))
    )
    assert board is not None
    return board


def a_batch() -> afs.RunBatch:
    runs: list[Any] = list(many_runs())
    runs[3] = afs.InvalidRequestError("refused " * 100, status_code=400)
    return afs.RunBatch(runs, concurrency=8, peak_concurrency=12, adaptive=True)


def a_download(tmp: Path) -> afs.RunDownload:
    files = tuple(tmp / "r1" / f"file-{i}.txt" for i in range(MANY))
    return afs.RunDownload("r1", afs.RunState.SUCCESS, tmp / "r1", files)


def a_sweep() -> afs.SweepResult:
    from aioflowserv._study import SetOutcome

    failed = [
        afs.Run(f"{i:032x}", afs.RunState.ERROR, messages=(f"ValueError: bad {i} " * 50,))
        for i in range(MANY)
    ]
    outcomes = tuple(
        SetOutcome(i, {"x": i, "note": "n" * 500}, {"x": i}, run=run, attempts=1)
        for i, run in enumerate(failed)
    )
    return afs.SweepResult(outcomes, names=("x", "note"))


def watch_stats() -> afs.WatchStats:
    return afs.WatchStats(runs=MANY, groups=10, streams=2, polling=True, listings=MANY * 50,
                          fetches=MANY)


MODELS: dict[str, Callable[[Path], Any]] = {
    "Run": lambda _: a_run(),
    "RunInfo": lambda _: infos()[0],
    "RunList": lambda _: afs.RunList(many_runs()),
    "RunBatch": lambda _: a_batch(),
    "Timeline": lambda _: afs.RunList(many_runs()).timeline(),
    "Group": lambda _: a_group(),
    "User": lambda _: afs.User(id="u1", username="alice" * 20),
    "WorkflowInfo": lambda _: a_workflow_info(),
    "Parameter": lambda _: afs.Parameter.from_json(SLEEPER_PARAMETERS[1]),
    "ParameterIndex": lambda _: afs.ParameterIndex.from_json(SLEEPER_PARAMETERS),
    "Leaderboard": lambda _: a_leaderboard(),
    "RankingEntry": lambda _: a_leaderboard().rows[0],
    "RunFile": lambda _: a_run().files()[0],
    "UploadedFile": lambda _: afs.UploadedFile(id="f1", name="names.txt", created_at=T0),
    "RunDownload": a_download,
    "WatchStats": lambda _: watch_stats(),
    "Space": lambda _: afs.grid(**{f"p{i}": list(range(10)) for i in range(30)}),
    "SweepResult": lambda _: a_sweep(),
    "FailureSummary": lambda _: a_sweep().failures(),
}
"""Models and collections: each has a bounded repr and a table in a notebook."""

WORKFLOWS = {"AsyncWorkflow", "Workflow"}
"""Models too, made by a client (on the fake here)."""

VALUES: dict[str, Callable[[], Any]] = {
    "RangeConstraint": lambda: afs.RangeConstraint(0.0, 3600.0),
    "SelectOption": lambda: afs.SelectOption("Upper", "upper", is_default=True),
    "ResultColumn": lambda: afs.ResultColumn("score", "Score", "float"),
    "RunSpan": lambda: afs.RunList(many_runs()).timeline().spans[0],
    "RetryPolicy": lambda: afs.RetryPolicy(),
    "FileArgument": lambda: afs.FileArgument(upload_id="f1", filename="names.txt"),
    "FailureCause": lambda: a_sweep().failures().causes[0],
}
"""Small values, shown inside their owners' tables: a bounded attrs repr is enough."""

NOT_DRAWN = {
    "AsyncFlowserv": "a connection, not data: its repr is its URL and state",
    "Flowserv": "a connection, not data: its repr is its URL and state",
    "FileHandle": "an open download, read once: its repr is its name and type",
    "SyncFileHandle": "an open download, read once: its repr is its name and type",
    "RunState": "a str enum, shown as its value",
    "RunRef": "a type alias (Run | RunInfo | str), not a class",
}


def public_classes() -> dict[str, type]:
    found = {}
    for name in afs.__all__:
        value = getattr(afs, name)
        if inspect.isclass(value) and not issubclass(value, BaseException):
            found[name] = value
    return found


def test_every_public_class_is_classified() -> None:
    known = set(MODELS) | WORKFLOWS | set(VALUES) | set(NOT_DRAWN)
    assert set(public_classes()) - known == set()
    assert known - set(afs.__all__) == set()


def check_line(text: str, name: str) -> None:
    assert "\n" not in text
    assert len(text) <= LIMIT, f"{name}: {len(text)} characters: {text[:120]}..."


@pytest.mark.parametrize("name", list(MODELS))
def test_a_model_has_a_bounded_line_and_a_page(name: str, tmp_path: Path) -> None:
    model = MODELS[name](tmp_path)
    assert isinstance(model, getattr(afs, name))
    check_line(repr(model), name)
    assert repr(model).startswith(f"<{name}")
    page = model._repr_html_()
    assert page.startswith("<table>")
    assert "<caption" in page


@pytest.mark.parametrize("name", sorted(VALUES))
def test_a_value_has_a_bounded_line(name: str) -> None:
    check_line(repr(VALUES[name]()), name)


def check_workflow(workflow: afs.AsyncWorkflow | afs.Workflow) -> None:
    name = type(workflow).__name__
    assert repr(workflow).startswith(f"<{name} 'sleeper' group=")
    check_line(repr(workflow), name)
    page = workflow._repr_html_()
    assert page.startswith("<table>")
    assert "<caption" in page
    assert "sleep" in page  # the parameters


@pytest.mark.anyio
async def test_an_async_workflow_has_a_bounded_line_and_a_page(
    workflow: afs.AsyncWorkflow,
) -> None:
    check_workflow(workflow)


def test_a_sync_workflow_has_a_bounded_line_and_a_page() -> None:
    fake = FakeFlowserv(clock=time.monotonic)
    with afs.Flowserv(fake.url, token=fake.token, transport=fake) as fs:
        check_workflow(fs.workflow("sleeper", fake.add_group()))


def test_a_batch_says_how_it_went_in_one_line() -> None:
    runs = [afs.Run.from_json(run_doc(f"r{i}", "ERROR" if i in (4, 9) else "SUCCESS"))
            for i in range(20)]
    batch = afs.RunBatch(runs, concurrency=8, peak_concurrency=12, adaptive=True)
    assert repr(batch) == (
        "<RunBatch: 20 runs: 18 SUCCESS, 2 ERROR; concurrency auto settled at 8 (peak 12)>"
    )
    fixed = afs.RunBatch([*runs[:2], ValueError("no")], concurrency=4, peak_concurrency=2)
    assert repr(fixed) == "<RunBatch: 2 runs: 2 SUCCESS; 1 not started; concurrency 4 (peak 2)>"
    assert "ValueError: no" in fixed._repr_html_()


def test_a_long_collection_shows_its_first_rows_in_a_notebook_and_counts_the_rest() -> None:
    page = afs.RunList(many_runs())._repr_html_()
    assert "… and 900 more rows (of 1000)" in page
    assert "… and 900 more runs (of 1000)" in page  # the timeline below the table


def test_str_of_a_run_is_its_state_as_in_flowserv() -> None:
    run = a_run()
    assert str(run) == "ERROR"
    assert repr(run).startswith("<Run ")


def test_the_leaderboard_has_a_caption_that_says_the_order() -> None:
    page = a_leaderboard()._repr_html_()
    caption = page[page.index("<caption"):page.index("</caption>")]
    assert "Leaderboard: 1000 ranked runs" in caption
    assert "best first" in caption


def test_a_timeline_is_a_table_with_a_caption_and_its_bars() -> None:
    runs = afs.RunList([
        afs.Run(run_id="quick", state=afs.RunState.SUCCESS, created_at=T0, started_at=T0,
                finished_at=T0 + timedelta(seconds=1)),
    ])
    page = runs.timeline()._repr_html_()
    assert page.startswith("<table><caption")
    assert "Timeline: 1 run: 1 SUCCESS; 1.0 s" in page
