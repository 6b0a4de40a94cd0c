"""Deadlines of waits: exact, separate from the poll schedule, and carrying the last seen runs.

The real server can leave a run RUNNING forever, so a deadline must end the
wait on time even when the next poll is far away or a request is in flight.
Under asyncio and trio on a virtual clock, where "on time" can be checked exactly.
"""

from __future__ import annotations

import anyio
import pytest

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv

pytestmark = pytest.mark.anyio


async def test_a_deadline_ends_the_wait_exactly_even_between_far_apart_polls(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    run = fake.snapshot(fake.add_run(fake.add_group()))
    start = anyio.current_time()
    with anyio.fail_after(600), pytest.raises(afs.RunWaitTimeout):
        await sdk.wait(run, timeout=2.5, poll_interval=1, max_interval=60)
    assert anyio.current_time() - start == pytest.approx(2.5)


async def test_a_deadline_cuts_an_in_flight_listing_short(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    fake.latency["list_runs"] = 30.0
    run = fake.snapshot(fake.add_run(fake.add_group()))
    start = anyio.current_time()
    with anyio.fail_after(600), pytest.raises(afs.RunWaitTimeout):
        await sdk.wait(run, timeout=1.5, poll_interval=1)
    assert anyio.current_time() - start == pytest.approx(1.5)
    assert fake.in_flight["list_runs"] == 0  # the request was abandoned, not left running


async def test_run_wait_timeout_carries_the_last_seen_runs_and_the_completed_ones(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    ended = fake.add_run(group, end_after_listings=1)
    started_late = fake.add_run(group, state="PENDING")
    given = [fake.snapshot(ended), fake.snapshot(started_late)]
    fake.set_state(started_late, "RUNNING")  # seen by the watcher's listings, not by the caller
    with anyio.fail_after(600), pytest.raises(afs.RunWaitTimeout) as caught:
        await sdk.wait_all(given, timeout=1, poll_interval=0.1)
    error = caught.value
    assert isinstance(error, TimeoutError)
    assert error.run.run_id == started_late
    assert error.run.state is afs.RunState.RUNNING
    assert error.pending == [error.run]
    (completed,) = error.completed
    assert completed.run_id == ended
    assert completed.is_success()
    assert completed.get_file("greetings") is not None  # the full final record
    assert started_late in str(error)
    assert "RUNNING" in str(error)


async def test_a_deadline_leaves_the_run_running_on_the_server(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    run = fake.snapshot(fake.add_run(fake.add_group()))
    with anyio.fail_after(600), pytest.raises(afs.RunWaitTimeout):
        await sdk.wait(run, timeout=1, poll_interval=0.1)
    assert fake.count("cancel_run") == 0
    assert fake.state(run.run_id) == "RUNNING"


async def test_as_completed_yields_what_ended_then_raises_at_the_deadline(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    quick = fake.snapshot(fake.add_run(group, end_after_listings=1))
    endless = fake.snapshot(fake.add_run(group))
    yielded: list[afs.Run] = []

    async def consume() -> None:
        async for run in sdk.as_completed([quick, endless], timeout=3, poll_interval=0.1):
            yielded.append(run)

    start = anyio.current_time()
    with anyio.fail_after(600), pytest.raises(afs.RunWaitTimeout) as caught:
        await consume()
    assert anyio.current_time() - start == pytest.approx(3)
    assert [run.run_id for run in yielded] == [quick.run_id]
    assert [run.run_id for run in caught.value.pending] == [endless.run_id]
    assert caught.value.completed == []  # what ended was yielded (and let go) already


async def test_the_deadline_of_as_completed_counts_time_spent_by_the_consumer(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    quick = fake.snapshot(fake.add_run(group, end_after_listings=1))
    endless = fake.snapshot(fake.add_run(group))

    async def consume_slowly() -> None:
        async for _ in sdk.as_completed([quick, endless], timeout=3, poll_interval=0.1):
            await anyio.sleep(2)

    start = anyio.current_time()
    with anyio.fail_after(600), pytest.raises(afs.RunWaitTimeout):
        await consume_slowly()
    assert anyio.current_time() - start == pytest.approx(3)


async def test_a_zero_timeout_on_an_active_run_raises_without_a_request(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    run = fake.snapshot(fake.add_run(fake.add_group()))
    with pytest.raises(afs.RunWaitTimeout) as caught:
        await sdk.wait(run, timeout=0)
    assert caught.value.run == run
    assert fake.count() == 0


async def test_a_negative_timeout_is_refused(sdk: afs.AsyncFlowserv, fake: FakeFlowserv) -> None:
    run = fake.snapshot(fake.add_run(fake.add_group()))
    with pytest.raises(ValueError, match="timeout"):
        await sdk.wait(run, timeout=-1)
    assert fake.count() == 0


async def test_a_start_run_deadline_covers_the_whole_wait(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    workflow = await sdk.workflow("sleeper", fake.add_group())
    start = anyio.current_time()
    with anyio.fail_after(600), pytest.raises(afs.RunWaitTimeout) as caught:
        await workflow.start_run({"sleep": 100}, poll_interval=0.5, timeout=4)
    assert anyio.current_time() - start == pytest.approx(4)
    assert fake.state(caught.value.run.run_id) == "RUNNING"


async def test_a_start_run_deadline_starts_once_the_run_is_started() -> None:
    fake = FakeFlowserv(latency={"start_run": 2.0})  # made at 1 s, answered at 2 s
    async with afs.AsyncFlowserv(fake.url, token=fake.token, transport=fake, retries=0) as sdk:
        workflow = await sdk.workflow("sleeper", fake.add_group())
        start = anyio.current_time()
        with anyio.fail_after(600), pytest.raises(afs.RunWaitTimeout):
            await workflow.start_run({"sleep": 100}, poll_interval=0.5, timeout=3)
    assert anyio.current_time() - start == pytest.approx(2 + 3)


async def test_a_start_runs_deadline_starts_once_the_runs_are_started() -> None:
    fake = FakeFlowserv(latency={"start_run": 2.0})
    async with afs.AsyncFlowserv(fake.url, token=fake.token, transport=fake, retries=0) as sdk:
        workflow = await sdk.workflow("sleeper", fake.add_group())
        start = anyio.current_time()
        with anyio.fail_after(600), pytest.raises(afs.RunWaitTimeout):
            await workflow.start_runs([{"sleep": 100}] * 2, concurrency=1, poll_interval=0.5,
                                      timeout=3)
    assert anyio.current_time() - start == pytest.approx(2 * 2 + 3)
