"""The watching API of AsyncWorkflow/AsyncFlowserv: on_change, as_completed, start_runs, start_run.

Under asyncio and trio on a virtual clock, against the fake flowServ (runs
started over its API last their ``sleep`` argument in virtual seconds).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv
from tests.support.fake import FIXED, client_for

pytestmark = pytest.mark.anyio


async def test_on_change_sees_every_state_change_once_and_the_final_record_last(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    run_id = fake.add_run(workflow.group_id, state="PENDING", end_after_listings=6)
    seen: list[afs.Run] = []

    async def start_it() -> None:
        await fake.wait_for(lambda: fake.count("list_runs") == 3)
        fake.set_state(run_id, "RUNNING")

    with anyio.fail_after(600):
        async with anyio.create_task_group() as tg:
            tg.start_soon(start_it)
            final = await workflow.wait(fake.snapshot(run_id), on_change=seen.append, **FIXED)
    assert [run.state for run in seen] == [afs.RunState.RUNNING, afs.RunState.SUCCESS]
    assert seen[0].run_id == run_id
    assert seen[0].group_id == workflow.group_id
    assert seen[-1] == final
    assert final.files()


async def test_on_change_of_a_batch_reports_each_run(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    seen: list[tuple[str, afs.RunState]] = []
    with anyio.fail_after(600):
        runs = await workflow.start_runs(
            [{"sleep": 0.3}, {"sleep": 0.5, "exitcode": 2}], poll_interval=0.1,
            on_change=lambda run: seen.append((run.run_id, run.state)),
        )
    # Each run is reported once started (RUNNING), then once final.
    started = [(run.run_id, afs.RunState.RUNNING) for run in runs]
    assert sorted(seen) == sorted(started + [(run.run_id, run.state) for run in runs])
    assert seen[:2] == started or seen[:2] == started[::-1]
    assert [run.state for run in runs] == [afs.RunState.SUCCESS, afs.RunState.ERROR]


@pytest.fixture
async def slow_starts() -> AsyncIterator[tuple[FakeFlowserv, afs.AsyncWorkflow]]:
    """A fake whose run starts take 1 s: the run is made 0.5 s in, answered at 1 s."""
    fake = FakeFlowserv(latency={"start_run": 1.0})
    async with client_for(fake) as client:
        yield fake, await client.workflow("sleeper", fake.add_group())


async def test_a_start_cancelled_in_flight_still_reports_the_run_it_made(
    slow_starts: tuple[FakeFlowserv, afs.AsyncWorkflow], caplog: pytest.LogCaptureFixture
) -> None:
    fake, workflow = slow_starts
    seen: list[afs.Run] = []
    with caplog.at_level(logging.WARNING, logger="aioflowserv"):
        with anyio.move_on_after(0.7) as scope:
            run = await workflow.start_run({"sleep": 5}, on_change=seen.append)
        with anyio.move_on_after(0.7) as waiting:
            await workflow.start_run({"sleep": 5}, poll_interval=0.1, on_change=seen.append)
    # The first start was answered and its run handed back; the cancellation
    # ended the second one's wait.
    assert scope.cancel_called
    assert waiting.cancelled_caught
    assert anyio.current_time() - fake.requests[-1].time == pytest.approx(1.0)  # answer awaited
    made = list(fake.groups[workflow.group_id].runs)
    assert [r.run_id for r in seen] == made
    assert run.run_id == made[0]
    for run_id in made:
        assert f"run {run_id} was started in group {workflow.group_id}" in caplog.text
        assert fake.state(run_id) == "RUNNING"  # left alone


async def test_a_cancelled_batch_reports_every_run_it_started_and_sends_no_more(
    slow_starts: tuple[FakeFlowserv, afs.AsyncWorkflow], caplog: pytest.LogCaptureFixture
) -> None:
    fake, workflow = slow_starts
    seen: list[str] = []
    with caplog.at_level(logging.WARNING, logger="aioflowserv"):
        # Two at a time: starts 1-2 are answered at 1 s; 3-4 are sent at 1 s and
        # made at 1.5 s when the batch is cancelled (1.7 s); 5-6 are never sent.
        with anyio.move_on_after(1.7) as scope:
            await workflow.start_runs(
                [{"sleep": 5}] * 6, concurrency=2, on_change=lambda run: seen.append(run.run_id)
            )
    assert scope.cancelled_caught
    made = list(fake.groups[workflow.group_id].runs)
    assert fake.count("start_run") == 4
    assert sorted(seen) == sorted(made)
    assert len(made) == 4
    assert "cancelled after starting 4 of 6 runs" in caplog.text
    assert all(run_id in caplog.text for run_id in made)


async def test_as_completed_yields_final_runs_in_completion_order(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    durations = [0.7, 0.2, 1.1, 0.45, 0.9]
    runs = [fake.snapshot(fake.add_run(workflow.group_id, duration=d)) for d in durations]
    with anyio.fail_after(600):
        yielded = [run async for run in workflow.as_completed(runs, **FIXED)]
    by_end = sorted(runs, key=lambda run: durations[runs.index(run)])
    assert [run.run_id for run in yielded] == [run.run_id for run in by_end]
    assert all(run.is_success() and run.finished_at is not None for run in yielded)


async def test_as_completed_orders_runs_seen_ending_in_the_same_tick_by_finish_time(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    # All three end between two listings; the listing shows them oldest first.
    durations = [0.19, 0.13, 0.16]
    runs = [fake.snapshot(fake.add_run(workflow.group_id, duration=d)) for d in durations]
    with anyio.fail_after(600):
        yielded = [run async for run in workflow.as_completed(runs, **FIXED)]
    assert fake.count("list_runs") == 2
    assert [run.run_id for run in yielded] == [runs[1].run_id, runs[2].run_id, runs[0].run_id]
    assert [run.finished_at for run in yielded] == sorted(r.finished_at for r in yielded)


class HeldRecord(httpx.AsyncBaseTransport):
    """The fake, except that the record of ``held`` is answered once ``release`` is set.

    ``release`` is set when the record of ``first`` has been answered, unless the
    test sets it itself (``first=None``).
    """

    def __init__(self, fake: FakeFlowserv, held: str, first: str | None = None) -> None:
        self.fake = fake
        self.held = held
        self.first = first
        self.release = anyio.Event()
        self.answered: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        run_id = request.url.path.rpartition("/runs/")[2] if request.method == "GET" else ""
        if run_id == self.held:
            await self.release.wait()
        response = await self.fake.handle_async_request(request)
        if run_id in (self.held, self.first):
            self.answered.append(run_id)
        if run_id == self.first:
            self.release.set()
        return response


async def test_as_completed_yields_a_run_seen_ending_earlier_first_however_long_its_record_takes(
    fake: FakeFlowserv,
) -> None:
    group_id = fake.add_group()
    earlier = fake.add_run(group_id, end_after_listings=1)
    later = fake.add_run(group_id, end_after_listings=3)
    transport = HeldRecord(fake, held=earlier, first=later)
    async with client_for(fake, transport=transport) as client:
        workflow = await client.workflow("sleeper", group_id)
        with anyio.fail_after(600):
            yielded = [
                run async for run in workflow.as_completed(
                    [fake.snapshot(earlier), fake.snapshot(later)], **FIXED
                )
            ]
    # The later run's record was fetched while the earlier one's was held, and
    # came in first; the runs are still yielded in the order the listings
    # showed them ended.
    assert transport.answered == [later, earlier]
    assert [run.run_id for run in yielded] == [earlier, later]


async def test_a_slow_record_of_one_group_does_not_hold_back_the_runs_of_another(
    fake: FakeFlowserv,
) -> None:
    slow_group, other_group = fake.add_group(), fake.add_group()
    slow = fake.add_run(slow_group, end_after_listings=1)
    other = fake.add_run(other_group, end_after_listings=3)
    transport = HeldRecord(fake, held=slow)

    def on_change(run: afs.Run) -> None:
        if run.run_id == other and not run.is_active():
            transport.release.set()  # the slow record comes once the other run is reported

    async with client_for(fake, transport=transport) as client:
        with anyio.fail_after(600):
            yielded = [
                run.run_id async for run in client.as_completed(
                    [fake.snapshot(slow), fake.snapshot(other)], on_change=on_change, **FIXED
                )
            ]
    assert yielded == [other, slow]


async def test_as_completed_yields_a_run_given_twice_once(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    run = fake.snapshot(fake.add_run(workflow.group_id, end_after_listings=2))
    with anyio.fail_after(600):
        yielded = [r async for r in workflow.as_completed([run, run.run_id, run], **FIXED)]
    assert [r.run_id for r in yielded] == [run.run_id]


async def test_as_completed_yields_runs_known_to_be_final_first_without_a_request(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    done = fake.snapshot(fake.add_run(workflow.group_id, state="SUCCESS"))
    running = fake.snapshot(fake.add_run(workflow.group_id, end_after_listings=1))
    with anyio.fail_after(600):
        stream = workflow.as_completed([running, done], **FIXED)
        first = await stream.__anext__()
        assert first == done
        assert fake.count() == 0
        rest = [run async for run in stream]
    assert [run.run_id for run in rest] == [running.run_id]


async def test_as_completed_lets_go_of_each_run_once_yielded(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    quick = fake.snapshot(fake.add_run(workflow.group_id, end_after_listings=1))
    slow = fake.snapshot(fake.add_run(workflow.group_id, end_after_listings=3))
    watched: list[int] = []
    with anyio.fail_after(600):
        async for _ in workflow.as_completed([quick, slow], **FIXED):
            watched.append(sdk.watching.runs)
    assert watched == [1, 0]


async def test_as_completed_raises_the_error_of_a_deleted_run_when_it_is_reached(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    quick = fake.snapshot(fake.add_run(workflow.group_id, end_after_listings=1))
    doomed = fake.snapshot(fake.add_run(workflow.group_id))
    yielded: list[afs.Run] = []

    async def consume() -> None:
        async for run in workflow.as_completed([quick, doomed], **FIXED):
            yielded.append(run)
            fake.delete(doomed.run_id)

    with anyio.fail_after(600), pytest.raises(afs.NotFoundError):
        await consume()
    assert yielded == [fake.snapshot(quick.run_id)]


async def test_leaving_as_completed_early_stops_the_watching(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    quick = fake.snapshot(fake.add_run(workflow.group_id, end_after_listings=1))
    endless = fake.snapshot(fake.add_run(workflow.group_id))
    with anyio.fail_after(600):
        async with contextlib.aclosing(workflow.as_completed([quick, endless], **FIXED)) as stream:
            async for _ in stream:
                break
    sent = fake.count()
    await anyio.sleep(60)
    assert fake.count() == sent
    assert sdk.watching.idle


async def test_start_runs_returns_runs_in_input_order_with_bounded_concurrency(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    fake.latency["start_run"] = 0.5
    arguments = [{"sleep": float(i), "greeting": f"hi {i}"} for i in range(20)]
    with anyio.fail_after(600):
        runs = await workflow.start_runs(arguments, concurrency=4)
    assert [run.arguments["greeting"] for run in runs] == [f"hi {i}" for i in range(20)]
    assert all(run.is_running() for run in runs)
    assert fake.max_in_flight["start_run"] == 4
    assert fake.count("start_run") == 20


async def test_start_runs_never_sends_more_than_the_runs(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    fake.latency["start_run"] = 0.5
    with anyio.fail_after(600):
        runs = await workflow.start_runs([{"sleep": 1}] * 3, concurrency=16)
    assert len({run.run_id for run in runs}) == 3
    assert fake.max_in_flight["start_run"] == 3


async def test_start_runs_with_poll_interval_waits_for_every_run(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    arguments = [{"sleep": s} for s in (0.9, 0.1, 0.5)] + [{"sleep": 0.3, "exitcode": 3}]
    with anyio.fail_after(600):
        runs = await workflow.start_runs(arguments, poll_interval=0.1, max_interval=0.1)
    assert [run.arguments["sleep"] for run in runs] == [0.9, 0.1, 0.5, 0.3]
    assert [run.state.value for run in runs] == ["SUCCESS"] * 3 + ["ERROR"]
    assert runs[3].messages()[-1] == "sleeper: failing on purpose with exit code 3\n"
    # Watched together: one listing per tick for the whole batch.
    assert fake.count("list_runs") <= 11


async def test_a_failed_submission_raises_batch_submission_error_with_every_outcome(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    fake.fail("start_run", status=400, message="no room", after=2)
    with anyio.fail_after(600), pytest.raises(afs.BatchSubmissionError) as caught:
        await workflow.start_runs([{"sleep": i} for i in range(5)], concurrency=1)
    results = caught.value.results
    assert [type(item).__name__ for item in results] == [
        "Run", "Run", "InvalidRequestError", "Run", "Run",
    ]
    assert [run.arguments["sleep"] for run in caught.value.runs] == [0, 1, 3, 4]
    assert [str(error) for error in caught.value.errors] == [str(results[2])]
    assert "no room" in str(caught.value)
    assert fake.count("start_run") == 5  # the other submissions went on


async def test_return_exceptions_puts_errors_in_place_of_their_runs(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    fake.fail("start_run", status=503, after=1)
    with anyio.fail_after(600):
        results = await workflow.start_runs(
            [{"sleep": 0.2}, {"sleep": 0.1}, {"sleep": 0.3}], concurrency=1,
            poll_interval=0.1, return_exceptions=True,
        )
    assert isinstance(results[1], afs.ServerError)
    assert [r.state for r in results if isinstance(r, afs.Run)] == [afs.RunState.SUCCESS] * 2


async def test_a_run_deleted_while_its_batch_is_watched_stands_as_its_error(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    async def delete_the_second() -> None:
        await fake.wait_for(lambda: fake.count("list_runs") == 2)
        fake.delete(list(fake.runs)[1])

    with anyio.fail_after(600):
        async with anyio.create_task_group() as tg:
            tg.start_soon(delete_the_second)
            results = await workflow.start_runs(
                [{"sleep": 1}] * 3, poll_interval=0.1, return_exceptions=True
            )
    assert isinstance(results[1], afs.NotFoundError)
    assert isinstance(results[0], afs.Run)
    assert results[0].is_success()
    assert isinstance(results[2], afs.Run)
    assert results[2].is_success()


async def test_arguments_are_all_checked_before_the_first_submission(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    with pytest.raises(afs.UnknownParameterError):
        await workflow.start_runs([{"sleep": 1}, {"sleep": 1, "nap": 2}])
    assert fake.count() == 0


async def test_start_run_without_poll_interval_returns_the_started_run_at_once(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    run = await workflow.start_run({"sleep": 5})
    assert run.is_running()
    assert fake.count() == 1


async def test_a_cancelled_batch_with_cancel_remote_cancels_every_run_it_started(
    slow_starts: tuple[FakeFlowserv, afs.AsyncWorkflow],
) -> None:
    fake, workflow = slow_starts
    seen: list[afs.Run] = []
    # As above: four runs are made before the cancellation at 1.7 s, two never sent.
    with anyio.move_on_after(1.7) as scope:
        await workflow.start_runs(
            [{"sleep": 5}] * 6, concurrency=2, cancel_remote="batch stopped", on_change=seen.append
        )
    assert scope.cancelled_caught
    made = list(fake.groups[workflow.group_id].runs)
    assert len(made) == 4
    assert {run_id: fake.state(run_id) for run_id in made} == dict.fromkeys(made, "CANCELED")
    assert set(fake.cancel_reasons.values()) == {"batch stopped"}
    canceled = [run.run_id for run in seen if run.state is afs.RunState.CANCELED]
    assert sorted(canceled) == sorted(made)


async def test_a_batch_cancelled_while_waiting_with_cancel_remote_cancels_its_runs_once(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    with anyio.fail_after(600), anyio.move_on_after(3):
        await workflow.start_runs([{"sleep": 100}] * 3, poll_interval=0.5, cancel_remote=True)
    made = list(fake.groups[workflow.group_id].runs)
    assert [fake.state(run_id) for run_id in made] == ["CANCELED"] * 3
    assert fake.count("cancel_run") == 3


async def test_get_runs_returns_each_runs_snapshot_in_the_order_given(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    run_ids = [fake.add_run(group, state=state) for state in ("RUNNING", "SUCCESS", "PENDING")]
    runs = await sdk.get_runs(reversed(run_ids))
    assert [run.run_id for run in runs] == run_ids[::-1]
    assert [run.state.value for run in runs] == ["PENDING", "SUCCESS", "RUNNING"]
    assert fake.count("get_run") == 3


async def test_get_runs_raises_the_first_failure_itself(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    run_id = fake.add_run(fake.add_group())
    with pytest.raises(afs.NotFoundError):
        await sdk.get_runs([run_id, "no-such-run"])


async def test_every_wait_takes_listing_entries_as_run_references(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    for ticks in (1, 2):
        fake.add_run(workflow.group_id, end_after_listings=ticks)
    infos = await workflow.list_runs()
    with anyio.fail_after(600):
        ended = [run.run_id async for run in workflow.as_completed(infos, **FIXED)]
        again = await sdk.wait_all(infos, **FIXED)  # no group given: each is looked up
        one = await workflow.wait(infos[0], **FIXED)
    assert sorted(ended) == sorted(info.run_id for info in infos)
    assert [run.run_id for run in again] == [info.run_id for info in infos]
    assert one.is_success()
