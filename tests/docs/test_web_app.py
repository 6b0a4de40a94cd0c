"""The web app of the Web apps guide (``webapp.py``), served by uvicorn, against the real server.

The guide's own block is written to a file and imported; uvicorn serves it
in-process on a free 127.0.0.1 port. Runs are started through the app, the
event stream is read with httpx until every run ended and a keep-alive came,
then the server is stopped with the stream still open: the stream must end
by itself, so uvicorn neither waits out its graceful timeout (and logs that
it cancelled a task) nor logs any error.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import httpx
import pytest

from aioflowserv import _config
from aioflowserv.testing import FlowservServer, free_port
from tests.support.docs import program_file

DEADLINE = 120
"""Seconds that bound a hang of the real server's runs (never a timing assertion)."""


class Collect(logging.Handler):
    """Every record of the loggers it is attached to."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.loggers: list[logging.Logger] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def attach(self, *names: str) -> None:
        """Collect the records of these loggers (until the test ends)."""
        for name in names:
            self.loggers.append(logging.getLogger(name))
            self.loggers[-1].addHandler(self)


@pytest.fixture
def logs() -> Iterator[Collect]:
    """A collector of log records, detached when the test ends."""
    collect = Collect()
    yield collect
    for logger in collect.loggers:
        logger.removeHandler(collect)


def load_app(directory: Path) -> ModuleType:
    """The guide's ``webapp.py``, written out and imported as a module."""
    path = directory / "webapp.py"
    path.write_text(program_file("webapp.py").code)
    spec = importlib.util.spec_from_file_location("webapp_of_the_guide", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # uvicorn runs on asyncio
async def test_the_guides_web_app_streams_runs_and_stops_cleanly(
    anyio_backend: str, server: FlowservServer, user: dict[str, Any], group_id: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: Collect,
) -> None:
    for name in (*_config.ENV_PARTS, _config.ENV_LOG):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(_config.ENV_URL, server.url)
    monkeypatch.setenv(_config.ENV_TOKEN, user["token"])
    port = free_port()
    monkeypatch.setenv("PORT", str(port))
    webapp = load_app(tmp_path)  # uvicorn's Config sets up its loggers: attach after it
    logs.attach("uvicorn", "uvicorn.error", "asyncio")  # uvicorn's do not reach the root logger
    states: dict[str, str] = {}
    keepalives = 0
    with anyio.fail_after(3 * DEADLINE):  # bounds a hang of the app, its stop included
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(webapp.server.serve)
            with anyio.fail_after(DEADLINE):
                while not webapp.server.started:  # noqa: ASYNC110 (uvicorn sets a flag only)
                    await anyio.sleep(0.05)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
                batch = [{"sleep": 0.5}, {"sleep": 0.5, "exitcode": 1}]
                answer = await http.post(f"/groups/{group_id}/runs", json=batch)
                assert answer.status_code == 200, answer.text
                started = [run["run_id"] for run in answer.json()]
                async with http.stream("GET", f"/groups/{group_id}/events") as stream:
                    assert stream.headers["content-type"].startswith("text/event-stream")
                    lines = stream.aiter_lines()
                    with anyio.fail_after(DEADLINE):
                        async for line in lines:
                            if line.startswith("data: "):
                                run = json.loads(line.removeprefix("data: "))
                                states[run["run_id"]] = run["state"]
                            keepalives += line == ": keep-alive"
                            ended = [states.get(run_id) for run_id in started]
                            if ended == ["SUCCESS", "ERROR"] and keepalives:
                                break
                    # The stream is still open: stop the server. The app ends the stream.
                    webapp.server.should_exit = True
                    with anyio.fail_after(DEADLINE):
                        rest = [line async for line in lines]
    # The task group waited for uvicorn's serve() to return: the server stopped by itself.
    assert [states[run_id] for run_id in started] == ["SUCCESS", "ERROR"]
    assert keepalives >= 1
    assert "data: " not in " ".join(rest)  # nothing changed after the runs ended
    messages = [record.getMessage() for record in logs.records]
    assert not [m for m in messages if "graceful shutdown exceeded" in m], messages
    assert not [r for r in logs.records if r.levelno >= logging.ERROR], messages
    assert "Application shutdown complete." in messages
