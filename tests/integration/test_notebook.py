"""A real notebook on a real kernel (nbclient, ipykernel) against the session's real server.

The sync facade in a cell (its event loop runs beside the kernel's), a batch,
the group's runs, their timeline, the leaderboard, the user, a result file and
the watcher: every object a cell displays has an HTML table, and no plain
``repr`` a cell shows is over 300 characters. The server and the token reach
the kernel through its environment (``FLOWSERV_URL``, ``FLOWSERV_ACCESS_TOKEN``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from aioflowserv import _config
from aioflowserv.testing import FlowservServer
from tests.support.realserver import unique

LIMIT = 300
TIMEOUT = 240
"""Seconds a cell may take (bounds a hang of the real server; no timing is asserted)."""

CELLS = [
    # Each cell: the code, and the class of the object its last line displays (or None).
    ("import aioflowserv as afs\n\nfs = afs.Flowserv()\nfs.whoami()", "User"),
    ("group = fs.create_group('sleeper', GROUP_NAME)\n"
     "wf = fs.workflow('sleeper', group.id)\nwf", "Workflow"),
    ("runs = wf.start_runs([{'sleep': 0.5, 'greeting': 'Hi'}] * 4 + [{'exitcode': 1}],\n"
     "                     poll_interval=0.2, timeout=120, return_exceptions=True)\nruns",
     "RunBatch"),
    ("listed = wf.get_runs()\nlisted", "RunList"),
    ("listed.timeline()", "Timeline"),
    ("wf.leaderboard(include_all=True)", "Leaderboard"),
    ("ok = next(run for run in runs if run.is_success())\nok", "Run"),
    ("ok.files()[0]", "RunFile"),
    ("wf.list_runs()[0]", "RunInfo"),
    ("fs.get_group(group.id)", "Group"),
    ("wf.parameters()", "ParameterIndex"),
    ("fs.watching", "WatchStats"),
    ("print(runs[0])  # str(run) is the state, as in flowServ", None),
    ("result = wf.sweep(afs.grid(sleep=[0.5, 0.6], greeting=['hi', 'yo']),\n"
     "                  max_active=2, poll_interval=0.2, timeout=120)\nresult",
     "SweepResult"),
    ("result.failures()", "FailureSummary"),
]


def notebook() -> Any:
    cells = CELLS
    book = nbformat.v4.new_notebook()
    book.cells = [  # a group name of its own each time (the test runs once per transport)
        nbformat.v4.new_code_cell(code.replace("GROUP_NAME", repr(unique("notebook"))))
        for code, _ in cells
    ]
    book.cells.append(nbformat.v4.new_code_cell("fs.close()"))
    return book, [kind for _, kind in cells]


def test_a_notebook_shows_every_object_as_a_table_and_a_short_line(
    server: FlowservServer, user: dict[str, Any], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in (*_config.ENV_PARTS, _config.ENV_LOG, "FLOWSERV_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(_config.ENV_URL, server.url)  # the kernel inherits the environment
    monkeypatch.setenv(_config.ENV_TOKEN, user["token"])
    book, kinds = notebook()
    client = NotebookClient(
        book, timeout=TIMEOUT, kernel_name="python3", resources={"metadata": {"path": tmp_path}},
    )
    client.execute(env=dict(os.environ))
    shown = []
    for cell, kind in zip(book.cells, [*kinds, None], strict=True):
        errors = [out for out in cell.outputs if out.output_type == "error"]
        assert errors == [], f"{cell.source}: {errors}"
        results = [out for out in cell.outputs
                   if out.output_type in ("execute_result", "display_data")]
        for out in results:
            plain = out.data["text/plain"]
            assert len(plain) <= LIMIT, f"{cell.source}: {len(plain)} characters: {plain[:100]}"
            assert "\n" not in plain
            assert out.data["text/html"].startswith("<table>"), cell.source
        if kind is not None:
            (result,) = results
            shown.append(result.data["text/plain"])
            assert result.data["text/plain"].startswith(f"<{kind}"), cell.source
    (printing,) = [cell for cell in book.cells if cell.source.startswith("print(runs[0])")]
    printed = "".join(out.get("text", "") for out in printing.outputs)
    assert printed.strip() in ("SUCCESS", "ERROR")
    assert shown[2].startswith("<RunBatch: 5 runs: 4 SUCCESS, 1 ERROR; concurrency auto")
