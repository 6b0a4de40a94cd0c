"""asyncio's own cancellation never hides a run (``_submit``).

``asyncio.wait_for``, ``asyncio.timeout`` and ``Task.cancel()`` cancel a task
natively, outside any anyio scope. A start already sent is still answered;
the run it made reaches the caller through ``on_change`` and a WARNING that
names it, and the cancellation goes on (``TimeoutError`` for the timeouts).
A start whose answer never came is resolved in the background before the
client closes. The fake answers run starts slowly; the clock is virtual.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv
from tests.support.clock import virtual_clock_backend
from tests.support.documents import BASE, SLEEPER_PARAMETERS, TOKEN, run_doc
from tests.support.fake import client_for
from tests.support.mocked import load_workflow

pytestmark = pytest.mark.anyio

SLOW_START = 1.0
"""The fake makes a run this long after its start request arrived, and answers as long after;
each idiom cancels the caller in between (after 1.5 times this)."""


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    """Only asyncio: these are its own cancellation idioms (on a virtual clock)."""
    return virtual_clock_backend("asyncio")


@pytest.fixture
def fake() -> FakeFlowserv:
    return FakeFlowserv(latency={"start_run": 2 * SLOW_START})


Cancel = Callable[[Awaitable[Any]], Awaitable[Any]]


async def with_wait_for(call: Awaitable[Any]) -> Any:
    return await asyncio.wait_for(call, 1.5 * SLOW_START)


async def with_timeout(call: Awaitable[Any]) -> Any:
    async with asyncio.timeout(1.5 * SLOW_START):
        return await call


async def with_task_cancel(call: Awaitable[Any]) -> Any:
    task = asyncio.ensure_future(call)
    await asyncio.sleep(1.5 * SLOW_START)
    task.cancel()
    return await task


async def cancelled(
    fake: FakeFlowserv,
    caplog: pytest.LogCaptureFixture,
    cancel: Cancel,
    raised: type[BaseException],
    call: Callable[[afs.AsyncWorkflow, Callable[[afs.Run], None]], Awaitable[Any]],
) -> list[afs.Run]:
    """Cancel ``call`` with an idiom (expecting ``raised``); the runs its ``on_change`` saw."""
    seen: list[afs.Run] = []
    async with client_for(fake) as fs:
        wf = await fs.workflow("sleeper", fake.add_group())
        with caplog.at_level(logging.WARNING, "aioflowserv"), pytest.raises(raised):
            await cancel(call(wf, seen.append))
    return seen


IDIOMS = pytest.mark.parametrize(
    ("cancel", "raised"),
    [(with_wait_for, TimeoutError), (with_timeout, TimeoutError),
     (with_task_cancel, asyncio.CancelledError)],
    ids=["wait_for", "timeout", "task.cancel"],
)


@IDIOMS
async def test_a_start_run_cancelled_natively_hands_its_run_to_on_change_and_a_warning(
    fake: FakeFlowserv, caplog: pytest.LogCaptureFixture, cancel: Cancel,
    raised: type[BaseException],
) -> None:
    seen = await cancelled(
        fake, caplog, cancel, raised, lambda wf, note: wf.start_run({"sleep": 5}, on_change=note)
    )
    (run_id,) = fake.runs
    assert [run.run_id for run in seen] == [run_id]
    assert any(run_id in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


@IDIOMS
async def test_a_batch_cancelled_natively_hands_every_run_it_made_to_on_change(
    fake: FakeFlowserv, caplog: pytest.LogCaptureFixture, cancel: Cancel,
    raised: type[BaseException],
) -> None:
    batch = [{"sleep": 5, "greeting": f"hi {n}"} for n in range(6)]
    seen = await cancelled(
        fake, caplog, cancel, raised,
        lambda wf, note: wf.start_runs(batch, concurrency=3, on_change=note),
    )
    assert len(fake.runs) == 3  # the starts in flight were answered, the rest never sent
    assert {run.run_id for run in seen} == set(fake.runs)
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert all(run_id in warned for run_id in fake.runs)


async def test_the_cancellation_still_arrives_within_the_request_timeout(
    fake: FakeFlowserv,
) -> None:
    async with client_for(fake, timeout=10 * SLOW_START) as fs:
        wf = await fs.workflow("sleeper", fake.add_group())
        began = asyncio.get_running_loop().time()
        with pytest.raises(TimeoutError):
            await with_wait_for(wf.start_run({"sleep": 5}))
        waited = asyncio.get_running_loop().time() - began
    assert waited < 10 * SLOW_START  # the answer, not the request timeout, ended the wait
    assert len(fake.runs) == 1


async def test_a_start_cancelled_before_it_was_sent_makes_no_run(fake: FakeFlowserv) -> None:
    async with client_for(fake) as fs:
        wf = await fs.workflow("sleeper", fake.add_group())
        task = asyncio.ensure_future(wf.start_run({"sleep": 5}))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert fake.runs == {}


async def test_an_unanswered_start_cancelled_natively_is_resolved_before_the_client_closes(
    api: respx.MockRouter, caplog: pytest.LogCaptureFixture,
) -> None:
    made = run_doc("r7", arguments=[
        {"name": "sleep", "value": 1.0}, {"name": "greeting", "value": "Hello"},
        {"name": "exitcode", "value": 0}, {"name": "mode", "value": "plain"},
        {"name": "shout", "value": False},
    ])

    async def lost(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(SLOW_START)
        raise httpx.ReadTimeout("no answer", request=request)

    api.post("/groups/g1/runs").mock(side_effect=lost)
    api.get("/groups/g1/runs").respond(200, json={"runs": [
        {"id": "r7", "state": "RUNNING", "createdAt": datetime.now(timezone.utc).isoformat()}
    ]})
    api.get("/runs/r7").respond(200, json=made)
    seen: list[afs.Run] = []
    fs = afs.AsyncFlowserv(BASE, token=TOKEN, transport=httpx.MockTransport(api.async_handler))
    wf = await load_workflow(api, fs, "sleeper", SLEEPER_PARAMETERS)
    with caplog.at_level(logging.INFO, "aioflowserv"):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(wf.start_run({"sleep": 1}, on_change=seen.append), 0.1)
        await fs.aclose()
    assert [run.run_id for run in seen] == ["r7"]
    assert any("r7" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


async def test_an_upload_cancelled_natively_is_answered_and_named_in_a_warning(
    api: respx.MockRouter, caplog: pytest.LogCaptureFixture,
) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(SLOW_START)
        return httpx.Response(201, json={"id": "f7", "name": "names"})

    upload = api.post("/uploads/g1/files").mock(side_effect=slow)
    start = api.post("/groups/g1/runs").respond(201, json=run_doc())
    async with afs.AsyncFlowserv(
        BASE, token=TOKEN, transport=httpx.MockTransport(api.async_handler)
    ) as fs:
        wf = await load_workflow(api, fs, "sleeper", SLEEPER_PARAMETERS)
        with caplog.at_level(logging.WARNING, "aioflowserv"), pytest.raises(TimeoutError):
            await asyncio.wait_for(wf.start_run({"names": b"Ada\n"}), SLOW_START / 2)
    assert upload.call_count == 1
    assert start.call_count == 0
    assert any("f7" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # real time: the manifest is written
async def test_a_batch_cancelled_natively_records_the_runs_in_flight_in_its_manifest(
    tmp_path: Path,
) -> None:
    fake = FakeFlowserv(latency={"start_run": 1.0})
    batch = [{"sleep": 5, "greeting": f"hi {n}"} for n in range(6)]
    path = tmp_path / "batch.jsonl"
    async with client_for(fake) as fs:
        wf = await fs.workflow("sleeper", fake.add_group())
        task = asyncio.ensure_future(wf.start_runs(batch, concurrency=3, manifest=path))
        await fake.wait_for(lambda: fake.count("start_run") >= 3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert 3 <= len(fake.runs) < len(batch)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert {line["run_id"] for line in lines if "run_id" in line} == set(fake.runs)
