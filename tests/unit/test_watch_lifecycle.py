"""The watcher's life: it polls only while someone waits, and each wait ends on its own.

There is no background task: the waiting tasks take turns leading the poll
loop. These tests check that the lead passes on whenever its holder leaves
(done, cancelled, timed out, or busy between two ``as_completed`` items), that
nothing is sent once the last wait is gone, and what ``cancel_remote`` does.
Under asyncio and trio, on a virtual clock.
"""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
import pytest

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv
from tests.support.fake import FIXED

pytestmark = pytest.mark.anyio


def task_ids() -> set[int]:
    return {task.id for task in anyio.get_running_tasks()}


async def test_the_watcher_goes_idle_and_silent_after_the_last_wait(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    tasks_before = task_ids()
    group = fake.add_group()
    runs = [fake.snapshot(fake.add_run(group, end_after_listings=n)) for n in (1, 3)]
    with anyio.fail_after(60):
        await sdk.wait_all(runs, **FIXED)
    sent = fake.count()
    await anyio.sleep(600)
    assert fake.count() == sent
    assert sdk.watching.idle
    assert task_ids() == tasks_before


async def test_cancelling_every_wait_stops_all_polling(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    tasks_before = task_ids()
    groups = [fake.add_group(), fake.add_group()]
    runs = [fake.snapshot(fake.add_run(groups[i % 2])) for i in range(6)]
    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for run in runs:
                tg.start_soon(lambda run=run: sdk.wait(run, **FIXED))
            tg.start_soon(lambda: sdk.wait_all(runs, **FIXED))
            await fake.wait_for(lambda: fake.count("list_runs") >= 6)
            tg.cancel_scope.cancel()
    sent = fake.count()
    await anyio.sleep(600)
    assert fake.count() == sent
    assert sdk.watching.idle
    assert task_ids() == tasks_before
    # Stopping a wait leaves the run alone on the server.
    assert fake.count("cancel_run") == 0
    assert {fake.state(run.run_id) for run in runs} == {"RUNNING"}


async def test_a_cancelled_wait_does_not_disturb_another_wait(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    endless = fake.snapshot(fake.add_run(group))
    ending = fake.snapshot(fake.add_run(group, end_after_listings=6))
    results: list[afs.Run] = []
    scope = anyio.CancelScope()

    async def wait_endless() -> None:
        with scope:
            await sdk.wait(endless, **FIXED)

    async def wait_ending() -> None:
        results.append(await sdk.wait(ending, **FIXED))

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait_endless)
            await fake.wait_for(lambda: fake.count("list_runs") == 1)  # it leads the polling
            tg.start_soon(wait_ending)
            await fake.wait_for(lambda: fake.count("list_runs") == 3)
            scope.cancel()
    assert [run.run_id for run in results] == [ending.run_id]
    assert results[0].is_success()
    assert fake.count("list_runs") == 7
    assert fake.state(endless.run_id) == "RUNNING"


async def test_the_lead_passes_on_at_once_when_the_leader_is_cancelled_mid_request(
    sdk: afs.AsyncFlowserv, fake: FakeFlowserv
) -> None:
    fake.latency["list_runs"] = 1.0
    group = fake.add_group()
    first = fake.snapshot(fake.add_run(group))
    second = fake.snapshot(fake.add_run(group, end_after_listings=2))
    done: list[afs.Run] = []
    scope = anyio.CancelScope()

    async def lead() -> None:
        with scope:
            await sdk.wait(first, **FIXED)

    async def follow() -> None:
        done.append(await sdk.wait(second, **FIXED))

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lead)
            await fake.wait_for(lambda: fake.in_flight["list_runs"] == 1)
            tg.start_soon(follow)
            await anyio.sleep(0.2)  # the listing is still in flight (it takes 1 s)
            cancelled_at = anyio.current_time()
            scope.cancel()
    assert done
    assert done[0].is_success()
    listed_at = fake.times("list_runs")
    # The follower repeated the interrupted listing at once instead of waiting a tick.
    assert listed_at[1] == pytest.approx(cancelled_at)
    assert len(listed_at) == 3


async def test_the_lead_passes_on_when_the_leader_times_out(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    endless = fake.snapshot(fake.add_run(group))
    ending = fake.snapshot(fake.add_run(group, end_after_listings=8))
    outcome: dict[str, Any] = {}

    async def lead() -> None:
        try:
            await sdk.wait(endless, timeout=0.25, **FIXED)
        except afs.RunWaitTimeout as exc:
            outcome["timeout"] = exc

    async def follow() -> None:
        outcome["run"] = await sdk.wait(ending, **FIXED)

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            tg.start_soon(lead)
            await fake.wait_for(lambda: fake.count("list_runs") == 1)
            tg.start_soon(follow)
    assert outcome["timeout"].run.run_id == endless.run_id
    assert outcome["run"].is_success()
    assert fake.count("list_runs") == 9


async def test_as_completed_does_not_hold_the_lead_while_its_consumer_is_busy(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    shared = fake.snapshot(fake.add_run(group, end_after_listings=1))
    later = fake.snapshot(fake.add_run(group, end_after_listings=3))
    finished_at: dict[str, float] = {}

    async def consume(name: str) -> None:
        async for _ in sdk.as_completed([shared], **FIXED):
            await anyio.sleep(100)  # a slow consumer: busy, not waiting on the watcher
        finished_at[name] = anyio.current_time()

    async def wait_later() -> None:
        await sdk.wait(later, **FIXED)
        finished_at["later"] = anyio.current_time()

    start = anyio.current_time()
    with anyio.fail_after(600):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume, "first")
            await fake.wait_for(lambda: fake.count("list_runs") == 1)
            tg.start_soon(consume, "second")
            await anyio.sleep(0.01)
            tg.start_soon(wait_later)
    # The third wait was served while both consumers were busy with their item.
    assert finished_at["later"] - start < 1
    assert finished_at["first"] - start > 100
    assert fake.count("list_runs") == 4


async def test_cancel_remote_cancels_the_run_with_a_reason_when_the_wait_is_cancelled(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    run = fake.snapshot(fake.add_run(group))
    with anyio.fail_after(60), anyio.move_on_after(1):
        await sdk.wait(run, cancel_remote=True, **FIXED)
    assert fake.state(run.run_id) == "CANCELED"
    assert fake.cancel_reasons == {run.run_id: "wait cancelled by client"}


async def test_cancel_remote_sends_the_reason_given(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    workflow = await sdk.workflow("sleeper", group)
    run = fake.snapshot(fake.add_run(group))
    with anyio.fail_after(60), anyio.move_on_after(1):
        await workflow.wait(run, cancel_remote="user pressed stop", **FIXED)
    assert fake.cancel_reasons == {run.run_id: "user pressed stop"}
    assert fake.run(run.run_id).messages == ["user pressed stop"]


async def test_a_cancelled_wait_leaves_the_run_alone_by_default(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    run = fake.snapshot(fake.add_run(group))
    with anyio.fail_after(60), anyio.move_on_after(1):
        await sdk.wait(run, **FIXED)
    assert fake.count("cancel_run") == 0
    assert fake.state(run.run_id) == "RUNNING"


async def test_a_deadline_never_cancels_the_run_even_with_cancel_remote(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    run = fake.snapshot(fake.add_run(group))
    with anyio.fail_after(60), pytest.raises(afs.RunWaitTimeout):
        await sdk.wait(run, timeout=1, cancel_remote=True, **FIXED)
    assert fake.count("cancel_run") == 0
    assert fake.state(run.run_id) == "RUNNING"


async def test_cancel_remote_leaves_runs_that_already_ended_alone(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    ended = fake.snapshot(fake.add_run(group, end_after_listings=1))
    running = fake.snapshot(fake.add_run(group))
    with anyio.fail_after(60), anyio.move_on_after(1):
        await sdk.wait_all([ended, running], cancel_remote=True, **FIXED)
    assert fake.state(ended.run_id) == "SUCCESS"
    assert fake.state(running.run_id) == "CANCELED"


async def test_cancel_remote_reports_each_canceled_run_to_on_change(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    running = fake.snapshot(fake.add_run(group))
    seen: list[afs.Run] = []
    with anyio.fail_after(60), anyio.move_on_after(1):
        await sdk.wait(running, cancel_remote="stop", on_change=seen.append, **FIXED)
    assert [(run.run_id, run.state) for run in seen] == [(running.run_id, afs.RunState.CANCELED)]


async def test_a_cancelled_as_completed_with_cancel_remote_cancels_the_runs_still_active(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    quick = fake.snapshot(fake.add_run(group, end_after_listings=1))
    endless = fake.snapshot(fake.add_run(group))
    yielded: list[str] = []
    with anyio.fail_after(60), anyio.move_on_after(2):
        async for run in sdk.as_completed([quick, endless], cancel_remote=True, **FIXED):
            yielded.append(run.run_id)
    assert yielded == [quick.run_id]
    assert fake.state(endless.run_id) == "CANCELED"
    assert fake.cancel_reasons == {endless.run_id: "wait cancelled by client"}


async def test_as_completed_leaves_runs_alone_when_the_loop_is_left_early(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    quick = fake.snapshot(fake.add_run(group, end_after_listings=1))
    endless = fake.snapshot(fake.add_run(group))
    stream = sdk.as_completed([quick, endless], cancel_remote=True, **FIXED)
    with anyio.fail_after(60):
        async with contextlib.aclosing(stream):
            async for _ in stream:
                break
    assert fake.count("cancel_run") == 0
    assert fake.state(endless.run_id) == "RUNNING"
