"""The poll schedule: per group, growing x1.5 (+-10% jitter) up to max_interval, back on change.

On a virtual clock (asyncio and trio) the gaps between a group's listings are
exactly the intervals the watcher chose, so they can be checked against the
rule itself.
"""

from __future__ import annotations

import itertools

import anyio
import pytest

import aioflowserv as afs
from aioflowserv._config import POLL_GROWTH as GROWTH
from aioflowserv._config import POLL_JITTER as JITTER
from aioflowserv.testing import FakeFlowserv

pytestmark = pytest.mark.anyio

EPS = 1e-9


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def assert_grows_to_cap(steps: list[float], first: float, cap: float) -> None:
    """Each gap is the one before times GROWTH (within the jitter), capped at ``cap``."""
    previous = first
    for gap in steps:
        low, high = previous * GROWTH * (1 - JITTER), previous * GROWTH * (1 + JITTER)
        assert min(low, cap) - EPS <= gap <= min(high, cap) + EPS
        previous = gap


async def watch_until_deadline(
    sdk: afs.AsyncFlowserv, runs: list[afs.Run], **options: float
) -> None:
    with anyio.fail_after(600), pytest.raises(afs.RunWaitTimeout):
        await sdk.wait_all(runs, **options)


async def test_the_interval_grows_with_jitter_up_to_max_interval_while_nothing_changes(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    run = fake.snapshot(fake.add_run(fake.add_group()))
    await watch_until_deadline(sdk, [run], timeout=20, poll_interval=0.1, max_interval=1.0)
    times = fake.times("list_runs")
    assert times[0] == pytest.approx(fake.run(run.run_id).created + 0.1)  # first poll: one interval
    steps = gaps(times)
    assert_grows_to_cap(steps, first=0.1, cap=1.0)
    assert steps[-5:] == pytest.approx([1.0] * 5)  # capped, and the cap has no jitter above it


async def test_the_interval_drops_back_when_a_run_ends(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    ending = fake.snapshot(fake.add_run(group, end_after_listings=8))
    endless = fake.snapshot(fake.add_run(group))
    await watch_until_deadline(
        sdk, [ending, endless], timeout=12, poll_interval=0.1, max_interval=1.0
    )
    steps = gaps(fake.times("list_runs"))
    # Listing 9 saw the run end: the next gap is poll_interval again, then it grows anew.
    assert steps[8] == pytest.approx(0.1)
    assert_grows_to_cap(steps[:8], first=0.1, cap=1.0)
    assert_grows_to_cap(steps[9:], first=0.1, cap=1.0)


async def test_the_interval_drops_back_when_a_run_starts_running(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    run = fake.snapshot(fake.add_run(fake.add_group(), state="PENDING"))

    async def start_it() -> None:
        await fake.wait_for(lambda: fake.count("list_runs") == 6)
        fake.set_state(run.run_id, "RUNNING")

    async with anyio.create_task_group() as tg:
        tg.start_soon(start_it)
        await watch_until_deadline(sdk, [run], timeout=8, poll_interval=0.1, max_interval=1.0)
    steps = gaps(fake.times("list_runs"))
    assert steps[6] == pytest.approx(0.1)  # listing 7 saw RUNNING
    assert steps[5] > 0.3


async def test_each_group_keeps_its_own_interval(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    busy, quiet = fake.add_group(), fake.add_group()
    runs = [fake.snapshot(fake.add_run(busy, end_after_listings=n)) for n in (2, 4, 6, 8)]
    runs.append(fake.snapshot(fake.add_run(busy)))
    runs.append(fake.snapshot(fake.add_run(quiet)))
    await watch_until_deadline(sdk, runs, timeout=15, poll_interval=0.1, max_interval=2.0)
    # The quiet group's interval kept growing while runs of the busy group ended.
    assert_grows_to_cap(gaps(fake.times("list_runs", quiet)), first=0.1, cap=2.0)
    assert fake.count("list_runs", busy) > fake.count("list_runs", quiet)


async def test_a_new_wait_is_served_within_its_poll_interval_after_the_interval_grew(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    old = fake.snapshot(fake.add_run(group))
    joined_at: list[float] = []

    async def join() -> None:
        await anyio.sleep(30)  # the group's interval has long reached max_interval
        new = fake.snapshot(fake.add_run(group, end_after_listings=1))
        joined_at.append(anyio.current_time())
        await sdk.wait(new, poll_interval=0.1, max_interval=10.0)

    async with anyio.create_task_group() as tg:
        tg.start_soon(join)
        await watch_until_deadline(sdk, [old], timeout=60, poll_interval=0.1, max_interval=10.0)
    after = [t for t in fake.times("list_runs") if t >= joined_at[0]]
    # Without the new wait the next listing would be up to max_interval (10 s) away; a
    # listing that was due anyway within the 0.1 s serves the new wait just as well.
    assert after[0] <= joined_at[0] + 0.1 + 1e-6


async def test_the_smallest_poll_interval_of_the_waits_on_a_group_wins(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    slow = fake.snapshot(fake.add_run(group))
    fast = fake.snapshot(fake.add_run(group))
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: watch_until_deadline(
            sdk, [slow], timeout=5, poll_interval=1.0, max_interval=1.0
        ))
        await watch_until_deadline(sdk, [fast], timeout=5, poll_interval=0.2, max_interval=0.2)
    assert max(gaps(fake.times("list_runs"))) == pytest.approx(0.2)
