"""Faults while watching: each ends only the waits it concerns, and never in an endless wait.

A transient listing failure (503, a connection error) is retried with backoff
until the waits' deadlines; a deleted run fails only its own waiters; an
unknown state or a failure that keeps coming back ends the wait with a typed
error. The client here has no HTTP-level retries, so the watcher sees every
fault. Under asyncio and trio on a virtual clock.
"""

from __future__ import annotations

import itertools
from typing import Any

import anyio
import httpx
import pytest

import aioflowserv as afs
from aioflowserv._config import FATAL_AFTER
from aioflowserv.testing import FakeFlowserv
from tests.support.fake import FIXED, client_for

pytestmark = pytest.mark.anyio


async def wait_both(sdk: afs.AsyncFlowserv, first: afs.Run, second: afs.Run) -> dict[str, Any]:
    """Wait for two runs in two separate waits; each outcome is a Run or the exception."""
    outcomes: dict[str, Any] = {}

    async def wait(run: afs.Run) -> None:
        try:
            outcomes[run.run_id] = await sdk.wait(run, **FIXED)
        except afs.FlowservError as exc:
            outcomes[run.run_id] = exc

    with anyio.fail_after(600):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait, first)
            tg.start_soon(wait, second)
    return outcomes


async def test_a_deleted_run_fails_only_its_own_wait(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    doomed = fake.snapshot(fake.add_run(group))
    other = fake.snapshot(fake.add_run(group, end_after_listings=5))

    async def delete_after_two_listings() -> None:
        await fake.wait_for(lambda: fake.count("list_runs") == 2)
        fake.delete(doomed.run_id)

    async with anyio.create_task_group() as tg:
        tg.start_soon(delete_after_two_listings)
        outcomes = await wait_both(sdk, doomed, other)
    assert isinstance(outcomes[doomed.run_id], afs.NotFoundError)
    assert outcomes[other.run_id].is_success()
    # Missing from a listing, the run was fetched once: that answered 404.
    assert fake.count("get_run", doomed.run_id) == 1


async def test_waiters_of_a_deleted_run_each_get_their_own_not_found_error(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    doomed = fake.snapshot(fake.add_run(group))
    errors: list[afs.NotFoundError] = []

    async def wait() -> None:
        with pytest.raises(afs.NotFoundError) as caught:
            await sdk.wait(doomed, **FIXED)
        errors.append(caught.value)

    with anyio.fail_after(600):
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(wait)
            await fake.wait_for(lambda: fake.count("list_runs") == 1)
            fake.delete(doomed.run_id)
    first, second, third = errors
    assert first is not second
    assert second is not third
    assert first is not third
    assert {(e.status_code, str(e)) for e in errors} == {(first.status_code, str(first))}
    assert first.status_code == 404
    assert doomed.run_id in str(first)
    assert fake.count("get_run", doomed.run_id) == 1  # one request answered all three


async def test_a_run_missing_from_the_listing_is_fetched_and_found_in_another_group(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    assumed, actual = fake.add_group(), fake.add_group()
    run_id = fake.add_run(actual, end_after_listings=2)
    with anyio.fail_after(600):
        (final,) = await sdk.wait_all([run_id], group_id=assumed, **FIXED)
    assert final.is_success()
    assert final.group_id == actual
    assert fake.count("list_runs", assumed) == 1
    assert fake.count("list_runs", actual) == 3


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 503},
        {"status": 502, "html": True},
        {"error": httpx.ConnectError},
        {"error": httpx.ReadError},
        {"error": httpx.ReadTimeout},
    ],
    ids=["503", "502-html", "connect-error", "read-error", "read-timeout"],
)
async def test_transient_listing_failures_are_retried_without_failing_the_wait(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv, fault: dict[str, Any]
) -> None:
    group = fake.add_group()
    run = fake.snapshot(fake.add_run(group, end_after_listings=2))
    fake.fail("list_runs", times=FATAL_AFTER + 3, **fault)
    with anyio.fail_after(600):
        final = await sdk.wait(run, poll_interval=0.1, max_interval=1)
    assert final.is_success()
    assert fake.count("list_runs") == FATAL_AFTER + 3 + 3


async def test_transient_failures_last_until_the_deadline_then_the_wait_times_out(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    run = fake.snapshot(fake.add_run(fake.add_group()))
    fake.fail("list_runs", status=503, times=None)
    start = anyio.current_time()
    with anyio.fail_after(600), pytest.raises(afs.RunWaitTimeout) as caught:
        await sdk.wait(run, timeout=20, poll_interval=0.1, max_interval=1)
    assert anyio.current_time() - start == pytest.approx(20)
    assert caught.value.run.run_id == run.run_id
    assert fake.count("list_runs") > 2 * FATAL_AFTER


async def test_listing_retries_back_off_exponentially_up_to_max_interval(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    run = fake.snapshot(fake.add_run(fake.add_group()))
    fake.fail("list_runs", error=httpx.ConnectError, times=None)
    with anyio.fail_after(600), pytest.raises(afs.RunWaitTimeout):
        await sdk.wait(run, timeout=12, poll_interval=0.1, max_interval=2)
    times = fake.times("list_runs")
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    expected = [0.2, 0.4, 0.8, 1.6, 2, 2, 2]  # base * 2**failures, capped; then +-10% jitter
    assert len(gaps) >= len(expected)
    for gap, nominal in zip(gaps, expected, strict=False):
        assert nominal * 0.9 - 1e-9 <= gap <= nominal * 1.1 + 1e-9


async def test_http_level_retries_and_the_watcher_together_ride_out_a_bad_patch(
    fake: FakeFlowserv,
) -> None:
    run = fake.snapshot(fake.add_run(fake.add_group(), end_after_listings=1))
    fake.fail("list_runs", status=503, times=10)
    fake.fail("get_run", error=httpx.ReadError, times=2)
    async with client_for(fake, retries=2) as sdk:
        with anyio.fail_after(600):
            final = await sdk.wait(run, **FIXED)
    assert final.is_success()


@pytest.mark.parametrize(
    ("status", "error"),
    [(500, afs.ServerError), (400, afs.InvalidRequestError), (418, afs.APIStatusError)],
)
async def test_a_listing_that_keeps_failing_ends_the_wait_with_its_error(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv, status: int, error: type[Exception]
) -> None:
    run = fake.snapshot(fake.add_run(fake.add_group()))
    fake.fail("list_runs", status=status, message="kaputt", times=None)
    with anyio.fail_after(600), pytest.raises(error, match="kaputt"):
        await sdk.wait(run, **FIXED)
    assert fake.count("list_runs") == FATAL_AFTER


async def test_a_listing_that_fails_a_few_times_then_recovers_does_not_end_the_wait(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    run = fake.snapshot(fake.add_run(fake.add_group(), end_after_listings=3))
    for after in (0, FATAL_AFTER):  # failures in two bursts, each one short of fatal
        fake.fail("list_runs", status=500, times=FATAL_AFTER - 1, after=after)
    with anyio.fail_after(600):
        final = await sdk.wait(run, **FIXED)
    assert final.is_success()


@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        (403, "not authorized", afs.UnauthorizedError),
        (403, "not logged in", afs.UnauthenticatedError),
        (404, "unknown group 'x'", afs.NotFoundError),
    ],
)
async def test_a_listing_refused_for_good_ends_the_wait_at_once(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv, status: int, message: str,
    error: type[Exception],
) -> None:
    run = fake.snapshot(fake.add_run(fake.add_group()))
    fake.fail("list_runs", status=status, message=message, times=None)
    with anyio.fail_after(600), pytest.raises(error, match=message):
        await sdk.wait(run, **FIXED)
    assert fake.count("list_runs") == 1


async def test_a_failing_group_does_not_disturb_waits_on_another_group(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    broken, healthy = fake.add_group(), fake.add_group()
    lost = fake.snapshot(fake.add_run(broken))
    fine = fake.snapshot(fake.add_run(healthy, end_after_listings=8))
    fake.fail("list_runs", status=404, message="unknown group", target=broken, times=None)
    outcomes = await wait_both(sdk, lost, fine)
    assert isinstance(outcomes[lost.run_id], afs.NotFoundError)
    assert outcomes[fine.run_id].is_success()


async def test_an_unknown_state_in_a_listing_fails_only_that_runs_wait(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    odd = fake.snapshot(fake.add_run(group))
    other = fake.snapshot(fake.add_run(group, end_after_listings=4))

    async def break_state() -> None:
        await fake.wait_for(lambda: fake.count("list_runs") == 1)
        fake.set_state(odd.run_id, "PAUSED")

    async with anyio.create_task_group() as tg:
        tg.start_soon(break_state)
        outcomes = await wait_both(sdk, odd, other)
    assert isinstance(outcomes[odd.run_id], afs.InvalidResponseError)
    assert "PAUSED" in str(outcomes[odd.run_id])
    assert outcomes[other.run_id].is_success()


async def test_a_listing_entry_without_a_state_fails_the_wait(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    run = fake.snapshot(fake.add_run(fake.add_group()))
    fake.fail("list_runs", status=200, body={"runs": [{"id": run.run_id}]}, times=None)
    with anyio.fail_after(600), pytest.raises(afs.InvalidResponseError, match="None"):
        await sdk.wait(run, **FIXED)
    assert fake.count("list_runs") == 1


async def test_an_unknown_state_in_the_run_record_fails_the_wait(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group = fake.add_group()
    run = fake.snapshot(fake.add_run(group, end_after_listings=1))
    odd_record = dict(fake.handle(run.run_id), state="DONE")
    fake.fail("get_run", status=200, body=odd_record, times=None)
    with anyio.fail_after(600), pytest.raises(afs.InvalidResponseError, match="DONE"):
        await sdk.wait(run, **FIXED)


async def test_a_run_record_that_cannot_be_fetched_for_good_ends_the_wait(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    run = fake.snapshot(fake.add_run(fake.add_group(), end_after_listings=1))
    fake.fail("get_run", status=500, message="broken record", times=None)
    with anyio.fail_after(600), pytest.raises(afs.ServerError, match="broken record"):
        await sdk.wait(run, **FIXED)
    assert fake.count("get_run") == FATAL_AFTER


async def test_a_run_record_fetch_that_fails_transiently_is_retried_next_tick(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    run = fake.snapshot(fake.add_run(fake.add_group(), end_after_listings=1))
    fake.fail("get_run", error=httpx.ConnectError, times=FATAL_AFTER + 2)
    with anyio.fail_after(600):
        final = await sdk.wait(run, **FIXED)
    assert final.is_success()
    assert fake.count("get_run") == FATAL_AFTER + 3


async def test_a_failing_on_change_callback_ends_its_wait_with_its_error(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    run = fake.snapshot(fake.add_run(fake.add_group(), state="PENDING", end_after_listings=2))

    def explode(_: afs.Run) -> None:
        raise RuntimeError("callback bug")

    with anyio.fail_after(600), pytest.raises(RuntimeError, match="callback bug"):
        await sdk.wait(run, on_change=explode, **FIXED)
    assert fake.count("cancel_run") == 0  # the run was left alone on the server


async def test_closing_the_client_ends_its_waits(fake: FakeFlowserv) -> None:
    run = fake.snapshot(fake.add_run(fake.add_group()))
    sdk = client_for(fake)
    outcome: list[BaseException] = []

    async def wait() -> None:
        try:
            await sdk.wait(run, **FIXED)
        except afs.FlowservError as exc:
            outcome.append(exc)

    with anyio.fail_after(600):
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await fake.wait_for(lambda: fake.count("list_runs") == 2)
            await sdk.aclose()
    assert isinstance(outcome[0], afs.ClientClosedError)
    assert fake.state(run.run_id) == "RUNNING"
