"""Watching many runs: ticks on time whatever the fetches, and a bounded share of time on polling.

Every test runs under asyncio and trio on a virtual clock against the fake
flowServ, whose answers take exactly the latency a test gives them.
"""

from __future__ import annotations

import itertools

import anyio
import pytest

import aioflowserv as afs
from aioflowserv._config import FETCH_CONCURRENCY
from aioflowserv.testing import FakeFlowserv
from tests.support.fake import FIXED, client_for

pytestmark = pytest.mark.anyio


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


async def test_a_backlog_of_record_fetches_does_not_make_a_tick_late(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    fake.latency["get_run"] = 0.05
    busy, quiet = fake.add_group(), fake.add_group()
    ending = [fake.snapshot(fake.add_run(busy, end_after_listings=1)) for _ in range(200)]
    later = fake.snapshot(fake.add_run(quiet, end_after_listings=20))
    with anyio.fail_after(600):
        finals = await sdk.wait_all([*ending, later], **FIXED)
    assert all(run.is_success() for run in finals)
    assert fake.max_in_flight["get_run"] == FETCH_CONCURRENCY
    # 200 records 8 at a time take 1.25 s; the quiet group is listed every 0.1 s all along.
    fetching_until = max(fake.times("get_run"))
    assert fetching_until > 1.0 + min(fake.times("get_run"))
    listed = [t for t in fake.times("list_runs", quiet) if t <= fetching_until]
    assert len(listed) > 10
    assert max(gaps(listed)) == pytest.approx(0.1)


async def test_each_run_is_reported_once_its_record_is_in_not_after_the_whole_backlog(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    fake.latency["get_run"] = 0.05
    group = fake.add_group()
    runs = [fake.snapshot(fake.add_run(group, end_after_listings=1)) for _ in range(200)]
    first_report: list[float] = []
    with anyio.fail_after(600):
        async for _ in sdk.as_completed(runs, **FIXED):
            first_report.append(anyio.current_time())
    started = min(fake.times("get_run"))
    # Reported in batches as the records come in (32 at a time), not all at the end.
    assert first_report[0] - started < 0.5
    assert first_report[-1] - started > 1.0


@pytest.mark.parametrize(("share", "least_gap"), [(0.1, 5.0), (1.0, 1.0)])
async def test_a_huge_listing_is_polled_less_often_to_keep_its_share_of_time(
    fake: FakeFlowserv, share: float, least_gap: float
) -> None:
    # A listing that takes half a second more than a record fetch (the server's work for
    # a group of tens of thousands of runs): with poll_share=0.1 it is listed 5 s apart.
    fake.latency["list_runs"] = 0.5
    group = fake.add_group()
    ended = fake.snapshot(fake.add_run(group, end_after_listings=1))
    endless = fake.snapshot(fake.add_run(group))
    async with client_for(fake, poll_share=share) as fs:
        with anyio.fail_after(600):
            assert (await fs.wait(ended, poll_interval=1, max_interval=1)).is_success()
            with pytest.raises(afs.RunWaitTimeout):
                await fs.wait(endless, timeout=60, poll_interval=1, max_interval=1)
    steady = gaps(fake.times("list_runs"))[4:]
    assert steady
    assert min(steady) == pytest.approx(least_gap, rel=0.05)


async def test_poll_share_is_checked() -> None:
    with pytest.raises(afs.ConfigurationError, match="poll_share"):
        afs.AsyncFlowserv("http://127.0.0.1:9/flowserv/api/v1", poll_share=0)
    with pytest.raises(afs.ConfigurationError, match="poll_share"):
        afs.AsyncFlowserv("http://127.0.0.1:9/flowserv/api/v1", poll_share=1.5)
