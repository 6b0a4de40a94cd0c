"""Watching a whole group (``wf.watch()``): every run, then each change once, never ending.

Under asyncio and trio on a virtual clock, against the fake flowServ.
"""

from __future__ import annotations

import contextlib
import logging

import anyio
import pytest

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv
from tests.support.fake import FIXED, client_for

pytestmark = pytest.mark.anyio

SUCCESS, RUNNING, PENDING, ERROR = (
    afs.RunState.SUCCESS, afs.RunState.RUNNING, afs.RunState.PENDING, afs.RunState.ERROR,
)


async def collect(
    stream: afs.AsyncWorkflow, seen: list[afs.Run], until: int, within: float = 600
) -> None:
    """Iterate ``stream.watch()`` until ``until`` snapshots arrived (with a deadline)."""
    with anyio.fail_after(within):
        async with contextlib.aclosing(
            stream.watch(FIXED["poll_interval"], max_interval=0.1)
        ) as runs:
            async for run in runs:
                seen.append(run)
                if len(seen) == until:
                    return


async def test_the_watch_starts_with_every_run_of_the_group_as_a_full_record(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    done = fake.add_run(workflow.group_id, state="ERROR", messages=["boom\n"])
    running = fake.add_run(workflow.group_id)
    seen: list[afs.Run] = []
    await collect(workflow, seen, until=2)
    assert [(run.run_id, run.state) for run in seen] == [(done, ERROR), (running, RUNNING)]
    assert seen[0].messages() == ["boom\n"]  # the full record, not the listing entry
    assert seen[1].started_at is not None


async def test_each_state_change_is_reported_once(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    run_id = fake.add_run(workflow.group_id, state="PENDING", end_after_listings=8)
    seen: list[afs.Run] = []

    async def start_it() -> None:
        await fake.wait_for(lambda: fake.count("list_runs") == 4)
        fake.set_state(run_id, "RUNNING")

    async with anyio.create_task_group() as tg:
        tg.start_soon(start_it)
        await collect(workflow, seen, until=3)
    assert [run.state for run in seen] == [PENDING, RUNNING, SUCCESS]
    assert seen[1].created_at == seen[0].created_at  # the last record, with the new state
    assert seen[2].files()
    assert fake.count("list_runs") >= 8  # many listings, yet no change reported twice


async def test_runs_started_elsewhere_are_included(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    seen: list[afs.Run] = []

    async def elsewhere() -> None:
        await fake.wait_for(lambda: fake.count("list_runs") == 3)
        fake.add_run(workflow.group_id, duration=0.35)  # as another client would start it

    async with anyio.create_task_group() as tg:
        tg.start_soon(elsewhere)
        await collect(workflow, seen, until=2)
    assert [run.state for run in seen] == [RUNNING, SUCCESS]
    assert seen[0].run_id == seen[1].run_id


async def test_the_watch_does_not_end_when_every_run_ended(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    fake.add_run(workflow.group_id, state="SUCCESS")
    seen: list[afs.Run] = []
    with anyio.move_on_after(30) as scope:
        async for run in workflow.watch(0.1, max_interval=1):
            seen.append(run)
    assert scope.cancelled_caught  # still iterating when the scope ended it
    assert len(seen) == 1
    assert fake.count("list_runs") > 10  # it kept polling, at up to max_interval
    assert fake.count("get_run") == 1


async def test_the_group_listing_is_shared_with_the_waits_of_the_client(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    runs = [fake.add_run(workflow.group_id, duration=3.0) for _ in range(3)]
    seen: list[afs.Run] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(collect, workflow, seen, 6)
        finals = await workflow.wait_all(runs, timeout=600, **FIXED)
    assert [run.state for run in finals] == [SUCCESS] * 3
    # After the first tick, never two listings in one tick. (In the first, a wait that
    # registers while the stream's first listing is in flight asks for one more listing:
    # only a listing sent after a run was registered can prove that run is gone.)
    ticks = fake.times("list_runs", target=workflow.group_id)[1:]
    assert len(ticks) > 20
    assert len(ticks) == len(set(ticks))
    assert fake.count("get_run") == 6  # three first records, three final ones fetched once


async def test_a_group_that_does_not_exist_raises_at_once(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    with anyio.fail_after(600), pytest.raises(afs.NotFoundError):
        async for _ in sdk.watch("0" * 32, 0.1):
            pass
    assert fake.count("list_runs") == 1


async def test_a_lost_server_is_retried_then_raised_never_ended_quietly(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    fake.add_run(workflow.group_id, state="SUCCESS")
    seen: list[afs.Run] = []

    async def watch() -> None:
        async for run in workflow.watch(0.1, max_interval=1, give_up_after=20):
            seen.append(run)
            fake.fail("list_runs", status=503, times=None)  # the server is gone from now on

    with anyio.fail_after(600), pytest.raises(afs.ServerError) as raised:
        await watch()
    assert len(seen) == 1
    assert fake.count("list_runs") > 3  # retried with back-off before giving up
    assert "gave up" in " ".join(getattr(raised.value, "__notes__", []))


async def test_a_short_outage_is_ridden_out(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    seen: list[afs.Run] = []
    fake.fail("list_runs", status=503, times=3)
    fake.add_run(workflow.group_id, duration=2.0)
    await collect(workflow, seen, until=2)
    assert [run.state for run in seen] == [RUNNING, SUCCESS]


async def test_closing_the_client_ends_the_watch_with_an_error(
    fake: FakeFlowserv,
) -> None:
    group_id = fake.add_group()
    fake.add_run(group_id)
    seen: list[afs.Run] = []

    async def watch(fs: afs.AsyncFlowserv) -> None:
        async for run in fs.watch(group_id, 0.1):
            seen.append(run)
            await fs.aclose()

    async with client_for(fake) as fs:
        with anyio.fail_after(600), pytest.raises(afs.ClientClosedError):
            await watch(fs)
    assert len(seen) == 1


async def test_a_run_with_an_unknown_state_is_skipped_with_a_warning(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow, caplog: pytest.LogCaptureFixture
) -> None:
    odd = fake.add_run(workflow.group_id)
    fake.set_state(odd, "PAUSED")
    fake.add_run(workflow.group_id, duration=1.0)
    seen: list[afs.Run] = []
    with caplog.at_level(logging.WARNING, logger="aioflowserv"):
        await collect(workflow, seen, until=2)
    assert odd not in {run.run_id for run in seen}
    assert [run.state for run in seen] == [RUNNING, SUCCESS]
    assert sum("PAUSED" in message for message in caplog.messages) == 1


async def test_a_deleted_run_is_dropped(fake: FakeFlowserv, workflow: afs.AsyncWorkflow) -> None:
    doomed = fake.add_run(workflow.group_id)
    seen: list[afs.Run] = []

    async def delete_it() -> None:
        await fake.wait_for(lambda: fake.count("list_runs") == 2)
        fake.delete(doomed)
        fake.add_run(workflow.group_id, duration=0.5)

    async with anyio.create_task_group() as tg:
        tg.start_soon(delete_it)
        await collect(workflow, seen, until=3)
    assert seen[0].run_id == doomed
    assert [run.state for run in seen[1:]] == [RUNNING, SUCCESS]
    assert doomed not in {run.run_id for run in seen[1:]}


async def test_leaving_the_watch_stops_polling(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    fake.add_run(workflow.group_id)
    async with contextlib.aclosing(workflow.watch(0.1)) as runs:
        async for _ in runs:
            break
    listed = fake.count("list_runs")
    await anyio.sleep(60)
    assert fake.count("list_runs") == listed


async def test_bad_intervals_are_refused_before_any_request(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    with pytest.raises(afs.InvalidArgumentError):
        async for _ in workflow.watch(-1):
            pass
    with pytest.raises(afs.InvalidArgumentError):
        async for _ in workflow.watch(give_up_after=0):
            pass
    assert fake.count() == 0


async def test_two_watches_of_a_group_share_its_listing(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    run_id = fake.add_run(workflow.group_id, duration=3.0)
    first: list[afs.Run] = []
    second: list[afs.Run] = []

    async def join_later() -> None:
        await fake.wait_for(lambda: fake.count("list_runs") == 5)
        await collect(workflow, second, until=2)

    async with anyio.create_task_group() as tg:
        tg.start_soon(join_later)
        await collect(workflow, first, until=2)
    assert [(r.run_id, r.state) for r in first] == [(run_id, RUNNING), (run_id, SUCCESS)]
    assert [(r.run_id, r.state) for r in second] == [(run_id, RUNNING), (run_id, SUCCESS)]
    # The second watch asks for one listing at once when it starts (for its first
    # snapshot); apart from that, one listing per tick serves both.
    ticks = fake.times("list_runs", target=workflow.group_id)
    assert len(ticks) - len(set(ticks)) <= 1
    assert len(set(ticks)) == 31  # 3 s of 0.1 s ticks, as for one watch


async def test_a_heartbeat_is_yielded_in_the_quiet_between_changes(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    run_id = fake.add_run(workflow.group_id, state="RUNNING", end_at=fake.now() + 10)
    seen: list[tuple[float, afs.RunState | None]] = []
    began = anyio.current_time()
    with anyio.fail_after(600):
        async with contextlib.aclosing(
            workflow.watch(0.5, max_interval=0.5, heartbeat=3)
        ) as runs:
            async for item in runs:
                seen.append((anyio.current_time() - began, None if item is None else item.state))
                if item is not None and not item.is_active():
                    break
    states = [state for _, state in seen]
    assert states == [RUNNING, None, None, None, SUCCESS]
    beats = [moment for moment, state in seen if state is None]
    assert beats == pytest.approx([3.0, 6.0, 9.0], abs=0.6)  # virtual time: exact but for polls
    assert fake.state(run_id) == "SUCCESS"


async def test_a_watch_with_an_idle_timeout_ends_after_that_much_quiet(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    fake.add_run(workflow.group_id, state="RUNNING", end_at=fake.now() + 4)
    seen: list[afs.Run] = []
    began = anyio.current_time()
    with anyio.fail_after(600):
        async for run in workflow.watch(0.5, max_interval=0.5, idle_timeout=20):
            seen.append(run)
    assert [run.state for run in seen] == [RUNNING, SUCCESS]
    assert anyio.current_time() - began == pytest.approx(24, abs=1)
    assert fake.count("list_runs") >= 2


async def test_heartbeat_and_idle_timeout_must_be_seconds(workflow: afs.AsyncWorkflow) -> None:
    with pytest.raises(afs.InvalidArgumentError, match="heartbeat"):
        await workflow.watch(heartbeat=0).__anext__()
    with pytest.raises(afs.InvalidArgumentError, match="idle_timeout"):
        await workflow.watch(idle_timeout=-1).__anext__()
