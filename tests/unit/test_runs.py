"""The orchestration layer (``_runs``): what a start, a rerun and a batch do after sending.

Whether a call waits is decided once, from flowServ's ``poll_interval``
(``None`` or 0: no wait), and every wait option is checked either way, before
anything is sent. A client-level rerun follows only the new run; a
workflow's start follows the run, then its post-processing. Everything runs
against the fake flowServ on a virtual clock, under asyncio and trio.
"""

from __future__ import annotations

import anyio
import pytest

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("poll_interval", [None, 0])
async def test_a_start_without_a_poll_interval_does_not_wait(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow, poll_interval: float | None
) -> None:
    run = await workflow.start_run({"sleep": 5}, poll_interval=poll_interval)
    assert run.is_active()
    assert fake.count("list_runs") == 0


async def test_wait_options_are_checked_even_when_the_start_does_not_wait(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    with pytest.raises(afs.InvalidArgumentError, match="timeout"):
        await workflow.start_run({"sleep": 5}, timeout=-1)
    with pytest.raises(afs.InvalidArgumentError, match="max_interval"):
        await workflow.start_runs([{"sleep": 5}], max_interval=float("nan"))
    assert fake.count("start_run") == 0


async def test_a_start_that_waits_follows_the_run_then_its_post_processing() -> None:
    fake = FakeFlowserv(postproc=3.0)
    async with afs.AsyncFlowserv(fake.url, token=fake.token, transport=fake) as fs:
        wf = await fs.workflow("sleeper", fake.add_group())
        with anyio.fail_after(600):
            run = await wf.start_run({"sleep": 1}, poll_interval=0.5)
            postproc = await wf.get_postproc_results()
    assert run.is_success()
    assert postproc is not None
    assert postproc.is_success()


async def test_a_client_rerun_follows_only_the_new_run() -> None:
    fake = FakeFlowserv(postproc=1000.0)
    async with afs.AsyncFlowserv(fake.url, token=fake.token, transport=fake) as fs:
        wf = await fs.workflow("sleeper", fake.add_group())
        first = await wf.start_run({"sleep": 1, "greeting": "again"})
        with anyio.fail_after(600):
            second = await fs.rerun(first, poll_interval=0.5)
            postproc = await wf.get_postproc_results()
    assert second.run_id != first.run_id
    assert second.is_success()
    assert second.arguments["greeting"] == "again"
    assert postproc is not None
    assert postproc.is_active()  # not waited for
