"""Adaptive concurrency (``_limit``): the limit follows the server's latency and rate.

The limiter's rules are driven with samples directly; batches run against the
fake flowServ on a virtual clock: a parallel server 40 ms away (every start
takes 40 ms however many are in flight) and one that starts one run at a time.
"""

from __future__ import annotations

import anyio
import httpx
import pytest
import respx

import aioflowserv as afs
from aioflowserv._config import AUTO_MAX_CONCURRENCY
from aioflowserv._limit import (
    MAX_HOLD,
    MIN_WINDOW,
    PARALLEL_FACTOR,
    PROBE,
    RAMP_FACTOR,
    AdaptiveLimit,
    FixedLimit,
    Sample,
)
from aioflowserv.testing import FakeFlowserv
from tests.support.documents import BASE, SLEEPER_PARAMETERS, TOKEN, run_doc
from tests.support.fake import client_for
from tests.support.mocked import load_workflow
from tests.support.serial import OneStartAtATime

pytestmark = pytest.mark.anyio


def answered(limit: AdaptiveLimit, latency: float, *, load: int | None = None) -> None:
    """One answer to a submission sent at the current limit."""
    limit.observe(Sample(load or limit.limit, limit.limit, latency))


def a_round(limit: AdaptiveLimit, *latencies: float) -> None:
    """Answers to submissions sent together at the current limit."""
    sent = limit.limit
    for latency in latencies:
        limit.observe(Sample(sent, sent, latency))


def test_the_first_submission_goes_alone_and_its_answer_lets_a_probe_of_two_out() -> None:
    limit = AdaptiveLimit()
    assert limit.limit == 1
    answered(limit, 0.05, load=1)
    assert limit.limit == PROBE == 2
    assert limit.ramping


def test_a_probe_answered_as_fast_as_one_alone_shows_parallel_capacity() -> None:
    limit = AdaptiveLimit()
    answered(limit, 0.05)
    a_round(limit, 0.05, 0.055)
    assert limit.limit == PROBE * PARALLEL_FACTOR
    assert limit.ramping


def test_a_probe_whose_second_answer_waited_for_the_first_ends_the_ramp_up_at_one() -> None:
    limit = AdaptiveLimit()
    answered(limit, 0.05)
    a_round(limit, 0.05, 0.10)  # one start after the other
    assert (limit.limit, limit.ramping) == (1, False)


def test_a_probe_answered_later_than_one_alone_ends_the_ramp_up_at_one() -> None:
    limit = AdaptiveLimit()
    answered(limit, 0.05)
    a_round(limit, 0.08, 0.08)  # both slowed down by the other: no capacity to spare
    assert (limit.limit, limit.ramping) == (1, False)


def test_a_slow_first_answer_does_not_make_a_serial_server_look_parallel() -> None:
    limit = AdaptiveLimit()
    answered(limit, 0.15)  # a cold server, or a new connection
    a_round(limit, 0.05, 0.10)  # then one start after the other, each 50 ms
    assert limit.limit == 1


def test_a_slow_first_answer_does_not_hide_parallel_capacity() -> None:
    limit = AdaptiveLimit()
    answered(limit, 0.15)  # a cold server, or a new connection
    a_round(limit, 0.05, 0.05)
    assert limit.limit == PROBE * PARALLEL_FACTOR


def test_after_a_serial_probe_more_is_tried_only_after_a_long_hold() -> None:
    limit = AdaptiveLimit()
    answered(limit, 0.05)
    a_round(limit, 0.05, 0.10)
    for _ in range(MAX_HOLD * MIN_WINDOW - 1):  # as many as a short batch has
        answered(limit, 0.05)
        assert limit.limit == 1
    answered(limit, 0.05)
    assert limit.limit == 2  # a long batch tries a step up


def test_rounds_answered_as_fast_as_unloaded_grow_the_limit_fourfold() -> None:
    limit = AdaptiveLimit()
    answered(limit, 0.05)
    a_round(limit, 0.05, 0.05)
    assert limit.limit == PROBE * PARALLEL_FACTOR
    a_round(limit, *[0.05] * (limit.limit // 2))  # half of a larger round decides
    assert limit.limit == min(AUTO_MAX_CONCURRENCY, PROBE * PARALLEL_FACTOR * RAMP_FACTOR)


def test_answers_as_fast_as_unloaded_grow_the_limit_up_to_the_cap_and_never_past_it() -> None:
    limit = AdaptiveLimit()
    answered(limit, 0.05, load=1)
    for _ in range(400):
        answered(limit, 0.05)
    assert limit.limit == AUTO_MAX_CONCURRENCY
    assert not limit.ramping


def test_a_smaller_cap_is_kept_too() -> None:
    limit = AdaptiveLimit(cap=10)
    answered(limit, 0.05, load=1)
    for _ in range(50):
        answered(limit, 0.05)
    assert limit.limit == 10


def test_a_slow_round_ends_the_ramp_up_at_what_the_server_sustains() -> None:
    limit = AdaptiveLimit()
    answered(limit, 0.05)
    a_round(limit, 0.05, 0.05)
    in_flight = limit.limit
    a_round(limit, *[0.2] * (in_flight // 2))  # each 4x slower: it serves a quarter at a time
    assert not limit.ramping
    assert limit.limit == in_flight // 4


def test_one_slow_answer_does_not_end_the_ramp_up() -> None:
    limit = AdaptiveLimit()
    answered(limit, 0.05)
    a_round(limit, 0.05, 0.05)
    a_round(limit, 0.50, *[0.05] * (limit.limit // 2 - 1))  # one held up by a pause
    assert limit.limit == min(AUTO_MAX_CONCURRENCY, PROBE * PARALLEL_FACTOR * RAMP_FACTOR)


def test_a_round_faster_than_the_no_load_latency_only_doubles_the_limit() -> None:
    limit = AdaptiveLimit()
    answered(limit, 0.15)
    a_round(limit, 0.15, 0.15)
    a_round(limit, *[0.10] * (limit.limit // 2))  # faster than before: the first were slowed
    assert limit.limit == 2 * PROBE * PARALLEL_FACTOR


def test_a_push_back_halves_the_limit_once_per_change() -> None:
    limit = AdaptiveLimit()
    answered(limit, 0.05)
    a_round(limit, 0.05, 0.05)
    before = limit.limit
    sent_at = limit.limit
    limit.observe(Sample(sent_at, sent_at, 0.05, congested=True))
    assert limit.limit == before // 2
    assert not limit.ramping
    limit.observe(Sample(sent_at, sent_at, 0.05, congested=True))  # sent before the change
    assert limit.limit == before // 2


def test_a_step_up_that_does_not_raise_the_rate_is_taken_back() -> None:
    limit = AdaptiveLimit()
    answered(limit, 0.05)
    a_round(limit, 0.05, 0.10)
    assert limit.limit == 1
    tried = set()
    for _ in range(120):  # a server that works one at a time: latency grows with the load
        tried.add(limit.limit)
        answered(limit, 0.05 * limit.limit)
    assert 2 in tried
    assert limit.settled == 1  # (it may be trying 2 again: that is not where it settled)
    assert limit.limit <= 2


def test_a_ramp_up_misled_by_a_slow_probe_comes_back_down() -> None:
    limit = AdaptiveLimit()
    answered(limit, 0.05)
    a_round(limit, 0.05, 0.05)  # two at once as fast as one: it looks parallel
    in_flight = limit.limit
    a_round(limit, *[0.05 * in_flight] * (in_flight // 2))  # one at a time after all
    assert not limit.ramping
    assert limit.limit == PROBE  # the last limit whose round was as fast as unloaded
    for _ in range(120):
        answered(limit, 0.05 * limit.limit)
    assert limit.settled == 1


def test_a_step_up_that_raises_the_rate_stays() -> None:
    limit = AdaptiveLimit()
    answered(limit, 0.05)
    a_round(limit, 0.05, 0.10)
    assert limit.limit == 1
    for _ in range(150):  # from now on the server answers as fast at any load
        answered(limit, 0.05)
    assert limit.settled > 2


async def test_a_batch_that_ends_while_the_limit_grows_settles_on_no_more_than_it_used() -> None:
    limit = AdaptiveLimit()
    await limit.acquire()
    limit.release(Sample(1, 1, 0.05))  # the first, alone: then two at once
    for _ in range(2):
        await limit.acquire()
    for _ in range(2):
        limit.release(Sample(2, 2, 0.05))  # answered as fast as unloaded: the limit grows
    assert limit.limit > 2
    assert (limit.peak, limit.settled) == (2, 2)  # the batch had no more to send


def test_a_fixed_limit_learns_nothing() -> None:
    limit = FixedLimit(3)
    limit.observe(Sample(3, 3, 10.0, congested=True))
    assert (limit.limit, limit.settled, limit.adaptive) == (3, 3, False)


async def test_auto_uses_a_parallel_server_within_a_few_round_trips() -> None:
    fake = FakeFlowserv(latency={"start_run": 0.04})
    async with client_for(fake) as fs:
        wf = await fs.workflow("sleeper", fake.add_group())
        started = anyio.current_time()
        batch = await wf.start_runs([{"sleep": 1}] * 160)
        seconds = anyio.current_time() - started
    assert len(batch) == 160
    assert batch.adaptive
    assert batch.peak_concurrency == AUTO_MAX_CONCURRENCY
    assert batch.concurrency == AUTO_MAX_CONCURRENCY
    # 1, 2, 32 and the rest (96) at a time: four round trips; 32 at a time needs five.
    assert seconds <= 5 * 0.04 + 1e-6


async def test_auto_against_a_server_that_starts_one_run_at_a_time_stays_low() -> None:
    fake = FakeFlowserv()
    serial = OneStartAtATime(fake, service=0.05)
    async with afs.AsyncFlowserv(fake.url, token=fake.token, transport=serial) as fs:
        wf = await fs.workflow("sleeper", fake.add_group())
        batch = await wf.start_runs([{"sleep": 1}] * 80)
    assert serial.started == 80
    assert batch.concurrency == 1
    assert batch.peak_concurrency <= PROBE


async def test_fixed_concurrency_is_kept_and_reported() -> None:
    fake = FakeFlowserv(latency={"start_run": 0.04})
    async with client_for(fake) as fs:
        wf = await fs.workflow("sleeper", fake.add_group())
        batch = await wf.start_runs([{"sleep": 1}] * 20, concurrency=3)
    assert (batch.concurrency, batch.peak_concurrency, batch.adaptive) == (3, 3, False)
    assert fake.max_in_flight["start_run"] == 3
    assert isinstance(batch, list)
    assert {run.run_id for run in batch} == set(fake.runs)


async def test_auto_backs_off_when_the_server_answers_503() -> None:
    fake = FakeFlowserv(latency={"start_run": 0.04})
    async with client_for(fake) as fs:
        wf = await fs.workflow("sleeper", fake.add_group())
        fake.fail("start_run", status=503, times=3, after=150)
        batch = await wf.start_runs([{"sleep": 1}] * 200, return_exceptions=True)
    assert sum(isinstance(item, afs.ServerError) for item in batch) == 3
    assert batch.peak_concurrency == AUTO_MAX_CONCURRENCY
    assert batch.concurrency == AUTO_MAX_CONCURRENCY // 2


@pytest.mark.parametrize("concurrency", [0, -1, True, 1.5, "fast", None])
async def test_a_bad_concurrency_is_refused_before_anything_is_sent(concurrency: object) -> None:
    fake = FakeFlowserv()
    async with client_for(fake) as fs:
        wf = await fs.workflow("sleeper", fake.add_group())
        fake.reset_counts()
        with pytest.raises(afs.InvalidArgumentError) as caught:
            await wf.start_runs([{"sleep": 1}], concurrency=concurrency)  # type: ignore[arg-type]
    assert caught.value.parameter == "concurrency"
    assert fake.count() == 0


async def test_a_submission_holds_its_permit_through_its_uploads_and_its_start(
    api: respx.MockRouter,
) -> None:
    in_flight = 0
    most = 0

    async def slowly(answer: httpx.Response) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await anyio.sleep(0.01)
        in_flight -= 1
        return answer

    uploads = iter(range(100))
    api.post("/uploads/g1/files").mock(side_effect=lambda request: slowly(
        httpx.Response(201, json={"id": f"f{next(uploads)}", "name": "names"})
    ))
    api.post("/groups/g1/runs").mock(side_effect=lambda request: slowly(
        httpx.Response(201, json=run_doc())
    ))
    async with afs.AsyncFlowserv(
        BASE, token=TOKEN, transport=httpx.MockTransport(api.async_handler)
    ) as fs:
        wf = await load_workflow(api, fs, "sleeper", SLEEPER_PARAMETERS)
        await wf.start_runs([{"names": b"Ada\n"}] * 5, concurrency=1)
    assert most == 1
    assert len(api.calls) == 10
