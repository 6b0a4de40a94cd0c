"""Behaviours that matter to both clients, each run for the async client and the sync facade.

openai-python writes a ``TestX`` and a ``TestAsyncX`` class per resource;
here each behaviour is written once and the ``kind`` fixture runs it with a
client of each kind over the fake. :func:`resolve` awaits what the async
client returns (the sync client returns plain values already) and
:func:`take` reads either kind of iterator, so a test reads the same for both.

The sync client drives the fake from its own event-loop thread, on the real
clock (small intervals, deadlines on every wait); the async client runs on the
test's virtual clock.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any, TypeVar

import pytest

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv
from tests.support.fake import client_for

pytestmark = pytest.mark.anyio

T = TypeVar("T")

POLL = {"poll_interval": 0.01, "max_interval": 0.02}
DEADLINE = 20.0

Client = Any
"""An ``afs.AsyncFlowserv`` or an ``afs.Flowserv`` (their methods have the same names)."""


async def resolve(value: Awaitable[T] | T) -> T:
    """The value of an async client's call (awaited) or of a sync client's (as it is)."""
    if inspect.isawaitable(value):
        return await value  # type: ignore[no-any-return]
    return value  # type: ignore[return-value]


async def take(items: Iterator[T] | AsyncIterator[T], count: int) -> list[T]:
    """The first ``count`` items of a sync or async iterator, which is then closed."""
    taken: list[T] = []
    if isinstance(items, AsyncIterator):
        try:
            async for item in items:
                taken.append(item)
                if len(taken) == count:
                    break
        finally:
            await items.aclose()  # type: ignore[attr-defined]
        return taken
    try:
        for item in items:
            taken.append(item)
            if len(taken) == count:
                break
    finally:
        items.close()  # type: ignore[attr-defined]
    return taken


@pytest.fixture(params=["async", "sync"])
def kind(request: pytest.FixtureRequest) -> str:
    """Which client the test runs with."""
    return str(request.param)


@pytest.fixture
def fake(kind: str) -> FakeFlowserv:
    """The fake, on the clock of the loop that drives it."""
    return FakeFlowserv(clock=time.monotonic) if kind == "sync" else FakeFlowserv()


@pytest.fixture
async def client(kind: str, fake: FakeFlowserv) -> AsyncIterator[Client]:
    """A client of the given kind on the fake, without HTTP-level retries."""
    if kind == "sync":
        with afs.Flowserv(fake.url, token=fake.token, transport=fake, retries=0) as fs:
            yield fs
    else:
        async with client_for(fake) as fs:
            yield fs


@pytest.fixture
async def wf(fake: FakeFlowserv, client: Client) -> Any:
    """The sleeper workflow of a fresh group (an ``AsyncWorkflow`` or a ``Workflow``)."""
    return await resolve(client.workflow("sleeper", fake.add_group()))


async def test_start_run_with_a_poll_interval_returns_the_final_run(
    fake: FakeFlowserv, wf: Any
) -> None:
    # (it then waits a grace period for the workflow's post-processing, in vain here)
    run = await resolve(wf.start_run({"sleep": 0.05}, timeout=DEADLINE, **POLL))
    assert run.is_success()
    assert fake.count("start_run") == 1


async def test_wait_returns_the_final_snapshot_of_a_started_run(wf: Any) -> None:
    started = await resolve(wf.start_run({"sleep": 0.05, "greeting": "Hi"}))
    assert started.is_active()
    final = await resolve(wf.wait(started, timeout=DEADLINE, **POLL))
    assert (final.run_id, final.state) == (started.run_id, afs.RunState.SUCCESS)
    assert final.get_file("greetings") is not None


async def test_list_runs_lists_the_groups_runs_oldest_first(
    fake: FakeFlowserv, client: Client, wf: Any
) -> None:
    ids = [fake.add_run(wf.group_id, state="SUCCESS"), fake.add_run(wf.group_id)]
    listed = await resolve(client.list_runs(wf.group_id))
    assert [(info.run_id, info.state) for info in listed] == [
        (ids[0], afs.RunState.SUCCESS), (ids[1], afs.RunState.RUNNING)]
    assert [info.run_id for info in await resolve(wf.list_runs())] == ids


async def test_cancel_run_sends_the_reason(fake: FakeFlowserv, wf: Any) -> None:
    run_id = fake.add_run(wf.group_id)
    canceled = await resolve(wf.cancel_run(run_id, reason="enough"))
    assert canceled.state is afs.RunState.CANCELED
    assert canceled.messages() == ["enough"]
    assert fake.cancel_reasons[run_id] == "enough"


async def finished(wf: Any, *argument_sets: dict[str, Any]) -> list[afs.Run]:
    """Start a run per argument set and wait for them all (no post-processing wait)."""
    runs = [await resolve(wf.start_run(arguments)) for arguments in argument_sets]
    return list(await resolve(wf.wait_all(runs, timeout=DEADLINE, **POLL)))


async def test_get_file_reads_a_result_file(wf: Any) -> None:
    (run,) = await finished(wf, {"greeting": "Hi"})
    handle = await resolve(wf.get_file(run.run_id, run.get_file("greetings").id))
    assert handle.name == "results/greetings.txt"
    assert await resolve(handle.read()) == b"Hi Alice!\nHi Bob!\n"


async def test_a_wait_past_its_deadline_raises_with_the_last_seen_run(
    fake: FakeFlowserv, wf: Any
) -> None:
    run_id = fake.add_run(wf.group_id)  # never ends
    with pytest.raises(afs.RunWaitTimeout) as caught:
        await resolve(wf.wait(run_id, timeout=0.2, **POLL))
    assert (caught.value.run.run_id, caught.value.run.state) == (run_id, afs.RunState.RUNNING)
    assert fake.state(run_id) == "RUNNING"  # left alone


async def test_a_bad_argument_is_refused_before_any_request(fake: FakeFlowserv, wf: Any) -> None:
    sent = fake.count()
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await resolve(wf.start_run({"sleep": "long"}))
    assert caught.value.parameter == "sleep"
    with pytest.raises(afs.UnknownParameterError):
        await resolve(wf.start_run({"slep": 1}))
    assert fake.count() == sent


async def test_the_leaderboard_ranks_the_successful_runs(fake: FakeFlowserv, wf: Any) -> None:
    await finished(wf, {"sleep": 0.03}, {"sleep": 0.01}, {"exitcode": 1})  # the last not ranked
    board = await resolve(wf.leaderboard(include_all=True))
    assert [row.results["sleep"] for row in board.rows] == [0.01, 0.03]


async def test_watch_yields_the_groups_runs_then_their_changes(
    fake: FakeFlowserv, wf: Any
) -> None:
    done = fake.add_run(wf.group_id, state="SUCCESS")
    active = fake.add_run(wf.group_id, end_after_listings=2)
    seen = await take(wf.watch(0.01, max_interval=0.02), 3)
    assert [(run.run_id, run.state) for run in seen] == [
        (done, afs.RunState.SUCCESS), (active, afs.RunState.RUNNING),
        (active, afs.RunState.SUCCESS)]


async def test_get_runs_returns_snapshots_in_the_order_given(
    fake: FakeFlowserv, client: Client, wf: Any
) -> None:
    ids = [fake.add_run(wf.group_id) for _ in range(3)]
    fake.finish(ids[1], "ERROR", ["boom"])
    runs = await resolve(client.get_runs(ids[::-1]))
    assert [run.run_id for run in runs] == ids[::-1]
    assert runs[1].messages() == ["boom"]


async def test_rerun_starts_a_new_run_with_the_same_arguments(fake: FakeFlowserv, wf: Any) -> None:
    (first,) = await finished(wf, {"sleep": 0.01, "greeting": "Yo"})
    again = await resolve(wf.rerun(first))
    assert again.run_id != first.run_id
    assert (await resolve(wf.wait(again, timeout=DEADLINE, **POLL))).is_success()
    assert fake.run(again.run_id).arguments == fake.run(first.run_id).arguments
