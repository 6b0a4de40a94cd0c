"""``on_change`` callbacks (``_callback``): a failure ends the call it was given to, and is raised.

A callback runs inside the poll that one wait leads for all, or right after a
start: its exception must neither break another wait nor vanish. The wait it
belongs to ends and raises it (the runs are left as they are on the server),
a start or a batch raises it once the starts were answered, naming the runs,
and a failed callback is not called again. A sync call made inside it (the
sync facade runs callbacks in its loop thread) reaches the caller as
:class:`BlockingCallError`. Under asyncio and trio on a virtual clock; the
sync case on the monotonic clock, with a deadline that only bounds a hang.
"""

from __future__ import annotations

import logging
import sys
import time

import anyio
import pytest

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv
from tests.support.fake import FIXED, client_for


class Boom(Exception):
    """A user's bug in a callback."""


def exploding(calls: list[afs.Run]) -> object:
    """A callback that records each call and raises at the first."""

    def on_change(run: afs.Run) -> None:
        calls.append(run)
        raise Boom(f"callback bug at {run.state.value}")

    return on_change


def notes(error: BaseException) -> str:
    return " ".join(getattr(error, "__notes__", []))


@pytest.mark.anyio
async def test_a_failing_callback_ends_its_wait_before_the_run_ends(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    run_id = fake.add_run(fake.add_group(), state="PENDING")
    calls: list[afs.Run] = []

    async def start_it() -> None:
        await fake.wait_for(lambda: fake.count("list_runs") >= 1)
        fake.set_state(run_id, "RUNNING")

    raised: list[Boom] = []

    async def wait() -> None:
        try:
            await sdk.wait(fake.snapshot(run_id), on_change=exploding(calls), **FIXED)
        except Boom as exc:
            raised.append(exc)

    with anyio.fail_after(600):
        async with anyio.create_task_group() as tg:
            tg.start_soon(start_it)
            tg.start_soon(wait)
    (error,) = raised
    assert "at RUNNING" in str(error)
    assert [run.state for run in calls] == [afs.RunState.RUNNING]  # called once, not again
    assert fake.state(run_id) == "RUNNING"  # the run was left alone on the server
    assert fake.count("cancel_run") == 0
    if sys.version_info >= (3, 11):
        assert f"on_change callback for run {run_id}" in notes(error)


@pytest.mark.anyio
async def test_a_failing_callback_does_not_disturb_another_wait_on_the_same_run(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    run = fake.snapshot(fake.add_run(fake.add_group(), end_after_listings=3))
    outcomes: dict[str, object] = {}

    async def wait(name: str, on_change: object) -> None:
        try:
            outcomes[name] = await sdk.wait(run, on_change=on_change, **FIXED)  # type: ignore[arg-type]
        except Boom as exc:
            outcomes[name] = exc

    with anyio.fail_after(600):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait, "failing", exploding([]))
            tg.start_soon(wait, "plain", None)
    assert isinstance(outcomes["failing"], Boom)
    assert isinstance(outcomes["plain"], afs.Run)
    assert outcomes["plain"].is_success()


@pytest.mark.anyio
async def test_a_callback_failing_at_the_start_is_raised_by_the_start(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    wf = await sdk.workflow("sleeper", fake.add_group())
    calls: list[afs.Run] = []
    with anyio.fail_after(600), pytest.raises(Boom) as caught:
        await wf.start_run({"sleep": 1}, on_change=exploding(calls))
    (started,) = calls  # the run reached the callback before it failed
    assert fake.state(started.run_id) in ("PENDING", "RUNNING")
    if sys.version_info >= (3, 11):
        assert started.run_id in notes(caught.value)


@pytest.mark.anyio
async def test_a_batch_whose_callback_fails_starts_every_run_and_names_them(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv, caplog: pytest.LogCaptureFixture
) -> None:
    wf = await sdk.workflow("sleeper", fake.add_group())
    calls: list[afs.Run] = []
    with (
        caplog.at_level(logging.WARNING, logger="aioflowserv"),
        anyio.fail_after(600),
        pytest.raises(Boom),
    ):
        await wf.start_runs([{"sleep": 1}] * 3, poll_interval=0.1, on_change=exploding(calls))
    assert len(calls) == 1  # not called again after it failed
    runs = await wf.list_runs()
    assert len(runs) == 3
    assert all(run.run_id in caplog.text for run in runs)  # none is hidden


@pytest.mark.anyio
async def test_as_completed_raises_a_failure_at_a_final_state(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    first = fake.snapshot(fake.add_run(group, end_after_listings=1))
    later = fake.snapshot(fake.add_run(group, end_after_listings=3))
    calls: list[afs.Run] = []
    seen: list[afs.Run] = []
    async def iterate() -> None:
        async for final in sdk.as_completed([first, later], on_change=exploding(calls), **FIXED):
            seen.append(final)

    with anyio.fail_after(600), pytest.raises(Boom, match="at SUCCESS"):
        await iterate()
    assert [run.run_id for run in calls] == [first.run_id]  # it saw the final snapshot
    assert seen == []  # the iteration ended there
    assert fake.state(later.run_id) == "RUNNING"


def test_a_sync_call_inside_on_change_reaches_the_caller_as_a_blocking_call_error() -> None:
    fake = FakeFlowserv(clock=time.monotonic)
    with afs.Flowserv(
        client_for(fake).url, token=fake.token, transport=fake, retries=0
    ) as fs:
        wf = fs.workflow("sleeper", fake.add_group())
        run = wf.start_run({"sleep": 0.05})

        def on_change(changed: afs.Run) -> None:
            fs.get_run(changed.run_id)  # a blocking call in the loop's own thread

        with pytest.raises(afs.BlockingCallError, match=r"queue\.Queue"):
            wf.wait(run, timeout=20.0, on_change=on_change, poll_interval=0.01)
        assert fs.get_run(run.run_id).run_id == run.run_id  # the client still works
