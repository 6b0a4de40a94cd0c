"""The sync facade (``_sync``): Flowserv and Workflow, plain values over one blocking portal.

A sync client checks its configuration, refuses to work once closed and never
shows the token. Watching behaves as in the async client, with plain values and
a plain iterator. The facade runs the async client in its own event-loop thread,
on real time, so the fake runs on ``time.monotonic`` and its runs end after a
number of listings of their group, not after some time: the tests assert the
order and outcome of events, never their timing (and every wait has a deadline).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import anyio
import httpx
import pytest

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv
from tests.support.documents import BASE, TOKEN
from tests.support.fake import client_for


def test_repr_of_the_sync_client_never_shows_the_token() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(500))
    with afs.Flowserv(BASE, token=TOKEN, transport=transport) as fs:
        assert BASE in repr(fs)
        assert TOKEN not in repr(fs)


def test_sync_client_checks_its_configuration_too() -> None:
    with pytest.raises(afs.ConfigurationError):
        afs.Flowserv("ftp://flowserv.test/api")


def test_closed_sync_client_refuses_to_send() -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"workflows": []})

    fs = afs.Flowserv(BASE, transport=httpx.MockTransport(answer))
    assert fs.list_workflows() == []
    fs.close()
    assert fs.is_closed
    with pytest.raises(afs.ClientClosedError):
        fs.list_workflows()
    assert len(sent) == 1


POLL = {"poll_interval": 0.01, "max_interval": 0.02}

DEADLINE = 20.0


@pytest.fixture
def fake() -> FakeFlowserv:
    """A fake flowServ on the monotonic clock (it is driven from the facade's thread)."""
    return FakeFlowserv(clock=time.monotonic)


@pytest.fixture
def fs(fake: FakeFlowserv) -> Iterator[afs.Flowserv]:
    """A sync client on the fake, without HTTP-level retries."""
    with afs.Flowserv(
        client_for(fake).url, token=fake.token, transport=fake, retries=0
    ) as client:
        yield client


@pytest.fixture
def wf(fake: FakeFlowserv, fs: afs.Flowserv) -> afs.Workflow:
    """The sleeper workflow of a fresh group, through the sync facade."""
    return fs.workflow("sleeper", fake.add_group())


def eventually(condition: object, within: float = 5.0) -> bool:
    """Poll a condition (a callable) until it holds or ``within`` seconds passed."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return bool(condition())  # type: ignore[operator]


def listings_while_waiting_elsewhere(fake: FakeFlowserv, fs: afs.Flowserv, group_id: str) -> int:
    """How often ``group_id`` is listed while ``fs`` waits for a run of another group.

    That wait polls for five listings, long enough for every group still watched
    to be polled too (the watcher lists each watched group at its own intervals,
    at most ``max_interval`` apart): 0 means nothing watches ``group_id`` any more.
    """
    elsewhere = fake.add_run(fake.add_group(), end_after_listings=5)
    before = fake.count("list_runs", target=group_id)
    assert fs.wait(elsewhere, timeout=DEADLINE, **POLL).is_success()
    return fake.count("list_runs", target=group_id) - before


class StartsTogether(httpx.AsyncBaseTransport):
    """The fake, except that no run start goes through before ``width`` of them arrived.

    A client that may have ``width`` starts in flight then has that many, whatever
    the machine's load; :attr:`max_in_flight` counts them here.
    """

    def __init__(self, fake: FakeFlowserv, width: int) -> None:
        self.fake = fake
        self.width = width
        self.arrived = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._together: anyio.Event | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or not request.url.path.endswith("/runs"):
            return await self.fake.handle_async_request(request)
        if self._together is None:
            self._together = anyio.Event()  # made in the client's own event loop
        self.arrived += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.arrived >= self.width:
                self._together.set()
            with anyio.fail_after(DEADLINE):
                await self._together.wait()
            return await self.fake.handle_async_request(request)
        finally:
            self.in_flight -= 1


def test_sync_wait_returns_the_final_run(fake: FakeFlowserv, wf: afs.Workflow) -> None:
    run = fake.snapshot(fake.add_run(wf.group_id, end_after_listings=1))
    final = wf.wait(run, timeout=DEADLINE, **POLL)
    assert isinstance(final, afs.Run)
    assert final.is_success()
    assert final.get_file("result") is not None


def test_sync_as_completed_is_a_plain_iterator_in_completion_order(
    fake: FakeFlowserv, wf: afs.Workflow
) -> None:
    listings = [3, 1, 2]  # the runs end in this order: second, third, first
    runs = [fake.snapshot(fake.add_run(wf.group_id, end_after_listings=n)) for n in listings]
    stream = wf.as_completed(runs, timeout=DEADLINE, **POLL)
    assert isinstance(stream, Iterator)
    yielded = list(stream)
    assert [run.run_id for run in yielded] == [runs[1].run_id, runs[2].run_id, runs[0].run_id]
    assert all(run.is_success() for run in yielded)


def test_sync_service_as_completed_accepts_run_ids(fake: FakeFlowserv, fs: afs.Flowserv) -> None:
    group = fake.add_group()
    run_ids = [fake.add_run(group, end_after_listings=n) for n in (2, 1)]
    yielded = [run.run_id for run in fs.as_completed(run_ids, timeout=DEADLINE, **POLL)]
    assert yielded == run_ids[::-1]


def test_sync_wait_past_its_deadline_raises_with_the_last_seen_run(
    fake: FakeFlowserv, wf: afs.Workflow
) -> None:
    run = fake.snapshot(fake.add_run(wf.group_id, state="PENDING"))
    fake.set_state(run.run_id, "RUNNING")
    with pytest.raises(afs.RunWaitTimeout) as caught:  # the first listing comes at once
        wf.wait(run, timeout=1.0, **POLL)
    assert caught.value.run.run_id == run.run_id
    assert caught.value.run.state is afs.RunState.RUNNING
    assert fake.state(run.run_id) == "RUNNING"


def test_leaving_the_sync_iterator_early_stops_the_watching(
    fake: FakeFlowserv, fs: afs.Flowserv, wf: afs.Workflow
) -> None:
    quick = fake.snapshot(fake.add_run(wf.group_id, end_after_listings=1))
    endless = fake.snapshot(fake.add_run(wf.group_id))
    for run in wf.as_completed([quick, endless], timeout=DEADLINE, **POLL):
        assert run.run_id == quick.run_id
        break
    assert eventually(lambda: fs.async_client.watching.idle)
    assert listings_while_waiting_elsewhere(fake, fs, wf.group_id) == 0
    assert fake.state(endless.run_id) == "RUNNING"


def test_sync_start_runs_returns_final_runs_in_input_order(fake: FakeFlowserv) -> None:
    starts = StartsTogether(fake, width=2)
    arguments = [{"sleep": s, "greeting": f"g{i}"} for i, s in enumerate([0.1, 0.0, 0.05, 0.02])]
    with afs.Flowserv(fake.url, token=fake.token, transport=starts, retries=0) as fs:
        wf = fs.workflow("sleeper", fake.add_group())
        runs = wf.start_runs(arguments, concurrency=2, timeout=DEADLINE, **POLL)
    assert [run.arguments["greeting"] for run in runs] == ["g0", "g1", "g2", "g3"]
    assert all(run.is_success() for run in runs)
    assert starts.max_in_flight == 2


def test_sync_on_change_sees_the_final_run(fake: FakeFlowserv, wf: afs.Workflow) -> None:
    seen: list[afs.Run] = []
    run = fake.snapshot(fake.add_run(wf.group_id, end_after_listings=1, end_state="ERROR"))
    final = wf.wait(run, timeout=DEADLINE, on_change=seen.append, **POLL)
    assert seen == [final]
    assert final.is_error()


def test_ctrl_c_stops_a_sync_wait_and_leaves_the_client_usable(
    fake: FakeFlowserv, fs: afs.Flowserv, wf: afs.Workflow
) -> None:
    endless = fake.snapshot(fake.add_run(wf.group_id))

    def press_ctrl_c_once_the_wait_polls() -> None:
        if eventually(lambda: fake.count("list_runs") >= 2, within=DEADLINE / 2):
            os.kill(os.getpid(), signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c_once_the_wait_polls)
    presser.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            wf.wait(endless, timeout=DEADLINE, **POLL)
    finally:
        presser.join()
    assert eventually(lambda: fs.async_client.watching.idle)
    assert fake.state(endless.run_id) == "RUNNING"
    quick = fake.snapshot(fake.add_run(wf.group_id, end_after_listings=1))
    assert wf.wait(quick, timeout=DEADLINE, **POLL).is_success()


def test_a_missing_argument_names_the_sync_method(wf: afs.Workflow) -> None:
    with pytest.raises(TypeError) as caught:
        wf.start_run()  # type: ignore[call-arg]
    assert str(caught.value).startswith("Workflow.start_run(): missing a required argument")
    assert "AsyncWorkflow" not in str(caught.value)


def test_an_unknown_keyword_names_the_sync_method(fs: afs.Flowserv) -> None:
    with pytest.raises(TypeError, match=r"^Flowserv\.get_run\(\): got an unexpected keyword"):
        fs.get_run("r1", state="x")  # type: ignore[call-arg]


def test_a_sync_call_inside_on_change_says_what_to_do(
    fake: FakeFlowserv, fs: afs.Flowserv, wf: afs.Workflow
) -> None:
    errors: list[BaseException] = []

    def on_change(run: afs.Run) -> None:
        try:
            fs.get_run(run.run_id)
        except afs.BlockingCallError as exc:
            errors.append(exc)

    run = wf.start_run({"sleep": 0.05})
    wf.wait(run, timeout=DEADLINE, on_change=on_change, **POLL)
    assert errors
    assert isinstance(errors[0], RuntimeError)  # as before, but typed and explained
    assert "queue.Queue" in str(errors[0])
    assert "after the wait" in str(errors[0])
    assert fake.snapshot(run.run_id).run_id == run.run_id
ROUND_2 = (
    "leaderboard", "get_postproc_file", "watch", "rerun", "cancel_runs", "download_results",
    "get_runs",
)


@pytest.mark.parametrize("name", ROUND_2)
def test_the_sync_workflow_has_each_results_and_lifecycle_method(name: str) -> None:
    method = getattr(afs.Workflow, name)
    assert method.__doc__ == getattr(afs.AsyncWorkflow, name).__doc__
    assert hasattr(afs.Flowserv, name)


def test_sync_watch_is_a_plain_iterator_of_the_group(
    fake: FakeFlowserv, fs: afs.Flowserv, wf: afs.Workflow
) -> None:
    ended = fake.add_run(wf.group_id, state="SUCCESS")
    # Seen RUNNING by the first listing (and its record), SUCCESS from the third on.
    started = fake.add_run(wf.group_id, end_after_listings=2)
    seen: list[tuple[str, afs.RunState]] = []
    for run in wf.watch(0.01, max_interval=0.02):  # nothing else holds it: leaving closes it
        seen.append((run.run_id, run.state))
        if run.run_id == started and not run.is_active():
            break
    assert seen == [
        (ended, afs.RunState.SUCCESS),
        (started, afs.RunState.RUNNING),
        (started, afs.RunState.SUCCESS),
    ]
    assert listings_while_waiting_elsewhere(fake, fs, wf.group_id) == 0  # the watch stopped


def test_an_open_sync_watch_keeps_its_group_watched_until_it_is_closed(
    fake: FakeFlowserv, fs: afs.Flowserv, wf: afs.Workflow
) -> None:
    run_id = fake.add_run(wf.group_id)
    stream = wf.watch(0.01, max_interval=0.02)
    assert isinstance(stream, Iterator)
    assert next(stream).run_id == run_id
    assert listings_while_waiting_elsewhere(fake, fs, wf.group_id) > 0
    stream.close()  # type: ignore[attr-defined]
    assert listings_while_waiting_elsewhere(fake, fs, wf.group_id) == 0


def test_sync_cancel_runs_returns_the_canceled_runs(fake: FakeFlowserv, wf: afs.Workflow) -> None:
    active = fake.add_run(wf.group_id)
    (canceled,) = wf.cancel_runs(reason="stop")
    assert canceled.run_id == active
    assert canceled.messages() == ["stop"]
