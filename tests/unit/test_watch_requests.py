"""What watching costs in requests: one listing per watched group and tick, one fetch per ended run.

Every test runs under asyncio and trio on a virtual clock (see ``tests/support/clock.py``),
against the in-process fake flowServ, whose runs end after a scripted number of
listings of their group: request counts are exact, whatever the machine's load.
"""

from __future__ import annotations

import anyio
import pytest

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv
from tests.support.fake import FIXED

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("runs_per_group", [1, 100])
async def test_listings_per_group_do_not_grow_with_the_number_of_runs(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv, runs_per_group: int
) -> None:
    groups = [fake.add_group() for _ in range(3)]
    runs = [
        fake.snapshot(fake.add_run(group, end_after_listings=4))
        for group in groups for _ in range(runs_per_group)
    ]
    with anyio.fail_after(60):
        finals = await sdk.wait_all(runs, **FIXED)
    assert all(run.is_success() for run in finals)
    # Four listings saw the runs active, the fifth saw them end; nothing else was listed.
    assert [fake.count("list_runs", group) for group in groups] == [5, 5, 5]
    assert fake.count("get_run") == len(runs)
    assert fake.count() == 3 * 5 + len(runs)
    stats = sdk.watching
    assert (stats.listings, stats.fetches) == (3 * 5, len(runs))  # the client counts the same
    assert stats.idle


async def test_each_ended_run_is_fetched_exactly_once_and_only_after_it_ended(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    groups = [fake.add_group(), fake.add_group()]
    run_ids = [
        fake.add_run(groups[i % 2], end_after_listings=1 + i % 6, end_state=state)
        for i, state in enumerate(["SUCCESS", "ERROR", "CANCELED"] * 8)
    ]
    with anyio.fail_after(60):
        finals = await sdk.wait_all([fake.snapshot(r) for r in run_ids], poll_interval=0.05)
    assert [run.run_id for run in finals] == run_ids
    assert not any(run.is_active() for run in finals)
    for run_id in run_ids:
        (fetched_at,) = fake.times("get_run", run_id)
        assert fetched_at >= fake.run(run_id).finished  # type: ignore[operator]


async def test_every_watched_group_is_listed_once_per_tick(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    groups = [fake.add_group() for _ in range(3)]
    runs = [
        fake.snapshot(fake.add_run(group, end_after_listings=ticks))
        for group, ticks in zip(groups, [2, 4, 6], strict=True)
    ]
    with anyio.fail_after(60):
        await sdk.wait_all(runs, **FIXED)
    first, second, third = (fake.times("list_runs", group) for group in groups)
    assert (len(first), len(second), len(third)) == (3, 5, 7)
    # The same ticks serve every group still watched: a group drops out once its runs ended.
    assert second[:3] == first
    assert third[:5] == second


async def test_many_waits_on_one_group_share_its_listing(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    runs = [fake.snapshot(fake.add_run(group, end_after_listings=3)) for _ in range(50)]
    finals: list[afs.Run] = []

    async def wait(run: afs.Run) -> None:
        finals.append(await sdk.wait(run, **FIXED))

    with anyio.fail_after(60):
        async with anyio.create_task_group() as tg:
            for run in runs:
                tg.start_soon(wait, run)
    assert len(finals) == 50
    assert all(run.is_success() for run in finals)
    assert fake.count("list_runs") == 4
    assert fake.count("get_run") == 50


async def test_a_run_known_only_by_id_is_looked_up_once(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    run_id = fake.add_run(group, end_after_listings=2)
    with anyio.fail_after(60):
        final = await sdk.wait(run_id, **FIXED)
    assert final.is_success()
    assert final.group_id == group
    # One fetch to learn its group, then listings, then one fetch of the final record.
    assert fake.count("get_run", run_id) == 2
    assert fake.count("list_runs", group) == 3


async def test_a_workflow_lists_a_run_id_of_its_group_without_looking_it_up(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    workflow = await sdk.workflow("sleeper", group)
    fake.reset_counts()
    run_id = fake.add_run(group, end_after_listings=2)
    with anyio.fail_after(60):
        final = await workflow.wait(run_id, **FIXED)
    assert final.is_success()
    assert fake.count("get_run", run_id) == 1
    assert fake.count("list_runs", group) == 3


async def test_runs_without_a_group_are_fetched_one_by_one_each_tick(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    # Post-processing runs belong to no group, so no listing can report them.
    run_id = fake.add_run(None, duration=0.35)
    with anyio.fail_after(60):
        final = await sdk.wait(fake.snapshot(run_id), **FIXED)
    assert final.is_success()
    assert final.group_id is None
    assert fake.count("list_runs") == 0
    assert fake.times("get_run", run_id) == pytest.approx(
        [fake.run(run_id).created + 0.1 * k for k in (1, 2, 3, 4)]
    )


async def test_a_run_already_final_is_returned_without_a_request(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    run = fake.snapshot(fake.add_run(group, state="ERROR", messages=["boom\n"]))
    assert await sdk.wait(run, timeout=0) == run
    assert fake.count() == 0
