"""Stopping a wait leaves the run alone on the real server: cancel scopes and deadlines.

Also the same start-and-wait under trio, through anyio.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.realserver import DEADLINE, POLL, QUICK


@pytest.mark.asyncio
async def test_wait_cancelled_by_a_cancel_scope_leaves_the_run_running(
    workflow: afs.AsyncWorkflow,
) -> None:
    seen: list[afs.Run] = []
    # The scope ends during the wait (the start itself takes well under 0.1 s).
    with anyio.move_on_after(0.8) as scope:
        seen.append(await workflow.start_run({"sleep": 2}, poll_interval=POLL))
    assert scope.cancelled_caught
    assert seen == []  # start_run never returned
    (listed,) = await workflow.list_runs()
    polled = await workflow.poll_run(listed.run_id)
    assert polled.state is afs.RunState.RUNNING
    await workflow.cancel_run(polled.run_id, reason="cleanup")


@pytest.mark.asyncio
async def test_start_run_timeout_raises_with_the_last_seen_run_and_leaves_it_running(
    workflow: afs.AsyncWorkflow,
) -> None:
    with pytest.raises(afs.RunWaitTimeout) as caught:
        await workflow.start_run({"sleep": 1.5}, poll_interval=POLL, timeout=0.3)
    error = caught.value
    assert isinstance(error, TimeoutError)
    assert error.run.is_active()
    assert error.run.group_id == workflow.group_id
    polled = await workflow.poll_run(error.run.run_id)
    assert polled.state is afs.RunState.RUNNING
    done = await workflow.wait(error.run, timeout=DEADLINE, poll_interval=POLL)
    assert done.is_success()


@pytest.mark.asyncio
async def test_cancelling_the_task_of_a_wait_leaves_the_run_running(
    workflow: afs.AsyncWorkflow,
) -> None:
    run = await workflow.start_run({"sleep": 1.5})
    async with anyio.create_task_group() as tg:
        tg.start_soon(workflow.wait, run, DEADLINE)
        await anyio.sleep(0.2)
        tg.cancel_scope.cancel()
    assert (await workflow.poll_run(run.run_id)).state is afs.RunState.RUNNING
    await workflow.cancel_run(run.run_id, reason="cleanup")


@pytest.fixture
def anyio_backend() -> str:
    """The anyio-marked tests of this module run under trio."""
    return "trio"


@pytest.mark.anyio
@pytest.mark.httpx_only
async def test_start_run_and_read_a_file_under_trio(
    server: FlowservServer, user: dict[str, Any], group_id: str
) -> None:
    async with afs.AsyncFlowserv(server.url, token=user["token"]) as fs:
        workflow = await fs.workflow("sleeper", group_id)
        run = await workflow.start_run(
            {"sleep": QUICK, "greeting": "Ahoy"}, poll_interval=POLL, timeout=DEADLINE
        )
        assert run.is_success()
        greetings = run.get_file("greetings")
        assert greetings is not None
        handle = await workflow.get_file(run.run_id, greetings.id)
        assert await handle.read() == b"Ahoy Alice!\nAhoy Bob!\n"


@pytest.mark.anyio
@pytest.mark.httpx_only
async def test_cancel_scope_stops_a_wait_under_trio(
    server: FlowservServer, user: dict[str, Any], group_id: str
) -> None:
    async with afs.AsyncFlowserv(server.url, token=user["token"]) as fs:
        workflow = await fs.workflow("sleeper", group_id)
        run = await workflow.start_run({"sleep": 1.5})
        with anyio.move_on_after(0.3) as scope:
            await workflow.wait(run, timeout=DEADLINE, poll_interval=POLL)
        assert scope.cancelled_caught
        assert (await workflow.poll_run(run.run_id)).state is afs.RunState.RUNNING
        await workflow.cancel_run(run.run_id, reason="cleanup")
