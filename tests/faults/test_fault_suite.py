"""The fault suite: real server, real SDK, a faulty network in between.

Every scenario runs against the fault suite's own flowServ server, through a
:class:`FaultProxy`, and ends by comparing what the client believes with what
the server holds (read directly, without the proxy). The totals of all
scenarios are printed as one line at the end of the session::

    faults N, submitted S, on server S', finished F, lost L, duplicated D

What "finished" means: a wait ended with a final state (SUCCESS, ERROR,
CANCELED) that is the run's true state on the server. Runs that the server
itself can never finish (the serial engine keeps running runs in memory, so a
run that was RUNNING when the server was killed stays RUNNING in its database
for ever; a rare race can do the same) are not waited for without end: every
wait has a deadline and ends with :class:`RunWaitTimeout` carrying the state
last seen, which then has to be the server's. In the restart scenario the
application does what it must do with such orphans: it cancels them, and the
waits end with CANCELED.

Scenarios: a batch of 50 runs submitted and watched while seeded random faults
hit every kind of request (resets before and after the server saw the
request, delays, held answers, 502/503 answers and bursts of them, refusal
windows); the server killed with SIGKILL and restarted on the same port and
state mid-watch; a run start and an upload whose answers are held past the
client's timeout; a sweep (``max_active``, ``reuse``, ``retries``) under
random faults with the server killed and restarted mid-sweep.

Random faults are seeded (``AIOFLOWSERV_FAULT_SEED``); which request gets
which fault still depends on the order in which concurrent requests arrive.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import anyio
import pytest

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.proxy import FaultProxy
from tests.support.tally import Tally

SEED = int(os.environ.get("AIOFLOWSERV_FAULT_SEED", "20240521"))
TIMEOUT = 2.0
"""The faulty client's request timeout; held answers are held longer than this."""
POLICY = afs.RetryPolicy(attempts=6, initial_wait=0.05, max_wait=0.5, jitter=0.05)
WAIT_DEADLINE = 30.0
"""No wait of the suite may take longer (a run the server never finishes ends here)."""
SETTLE_ROUNDS = 6

Outcome = afs.Run | afs.FlowservError


def run_start(method: str, path: str) -> bool:
    return method == "POST" and path.endswith("/runs")


def upload(method: str, path: str) -> bool:
    return method == "POST" and "/uploads/" in path


def faulty_client(proxy: FaultProxy, token: str) -> afs.AsyncFlowserv:
    return afs.AsyncFlowserv(proxy.url(), token=token, timeout=TIMEOUT, retries=POLICY)


# -- what an application does under faults -------------------------------------------


def certainly_not_processed(error: BaseException) -> bool:
    """The server certainly did not act on the request: safe to send it again."""
    if isinstance(error, afs.APIConnectionError):
        return getattr(error, "request_sent", True) is False
    return isinstance(error, afs.APIStatusError) and error.status_code in (429, 503)


async def find_later(
    fs: afs.AsyncFlowserv, error: afs.SubmissionUncertainError, known: set[str]
) -> list[afs.Run]:
    """Check an uncertain run start again, with only what the error carries."""
    assert error.sent_at is not None
    assert error.arguments is not None
    earliest = datetime.fromisoformat(error.sent_at) - timedelta(seconds=5)
    found = []
    for info in await fs.list_runs(error.group_id):
        if info.run_id in known or (info.created_at and info.created_at < earliest):
            continue
        run = await fs.get_run(info.run_id)
        if list(run.doc.get("arguments") or []) == error.arguments:
            found.append(run)
    return found


async def submit_all(
    wf: afs.AsyncWorkflow, arguments: Sequence[Mapping[str, Any]]
) -> tuple[dict[int, afs.Run], dict[int, BaseException]]:
    """Get every argument set onto the server exactly once, as an application should.

    The batch goes out with ``start_runs``. A start whose outcome is uncertain is
    checked again later with what :class:`SubmissionUncertainError` carries, and sent
    again only when nothing matching exists; a start that certainly was not processed
    is sent again. Anything else stays unresolved (and fails the scenario).
    """
    results = await wf.start_runs(arguments, concurrency=8, return_exceptions=True)
    runs = {i: r for i, r in enumerate(results) if isinstance(r, afs.Run)}
    pending: dict[int, BaseException] = {
        i: r for i, r in enumerate(results) if not isinstance(r, afs.Run)
    }
    for _ in range(SETTLE_ROUNDS):
        if not pending:
            break
        await anyio.sleep(0.5)
        for index, error in sorted(pending.items()):
            known = {run.run_id for run in runs.values()}
            if isinstance(error, afs.SubmissionUncertainError):
                try:
                    found = await find_later(wf.service, error, known)
                except afs.FlowservError:
                    continue  # try again next round
                if found:
                    runs[index] = found[0]  # more than one would show up as duplicated
                    del pending[index]
                    continue
            elif not certainly_not_processed(error):
                continue
            try:
                runs[index] = await wf.start_run(arguments[index])
                del pending[index]
            except afs.FlowservError as exc:
                pending[index] = exc
    return runs, pending


async def watch(
    wf: afs.AsyncWorkflow, runs: Mapping[int, afs.Run], ended: dict[int, float] | None = None
) -> dict[int, Outcome]:
    """Wait for every run at once; each wait ends with its final run or a typed error.

    ``ended`` receives the time (``anyio.current_time()``) at which each wait ended.
    """
    outcomes: dict[int, Outcome] = {}

    async def wait_one(index: int, run: afs.Run) -> None:
        try:
            outcomes[index] = await wf.wait(
                run, timeout=WAIT_DEADLINE, poll_interval=0.2, max_interval=1.0
            )
        except afs.FlowservError as exc:
            outcomes[index] = exc
        if ended is not None:
            ended[index] = anyio.current_time()

    async with anyio.create_task_group() as tg:
        for index, run in runs.items():
            tg.start_soon(wait_one, index, run)
    return outcomes


async def judge(
    direct: afs.AsyncFlowserv,
    group_id: str,
    arguments: Sequence[Mapping[str, Any]],
    runs: Mapping[int, afs.Run],
    outcomes: Mapping[int, Outcome],
    tally: Tally,
    faults: int,
) -> list[str]:
    """Compare the client's view with the server's; add to the tally; return the problems.

    A wait that ended with :class:`RunWaitTimeout` is fine when the run is still active
    on the server too (the server never finished it); it is not counted as finished.
    """
    listing = await direct.list_runs(group_id)
    truth = {info.run_id: await direct.get_run(info.run_id) for info in listing}
    per_greeting = Counter(run.arguments.get("greeting") for run in truth.values())
    duplicated = sum(count - 1 for count in per_greeting.values() if count > 1)
    problems = [f"{n} runs for greeting {g!r}" for g, n in per_greeting.items() if n > 1]
    finished = lost = 0
    for index, args in enumerate(arguments):
        run = runs.get(index)
        if run is None or run.run_id not in truth:
            lost += 1
            problems.append(f"submission {args['greeting']!r}: no run the client knows of")
            continue
        true_state = truth[run.run_id].state
        outcome = outcomes.get(index)
        if isinstance(outcome, afs.Run) and not outcome.is_active() and outcome.state is true_state:
            finished += 1
        elif isinstance(outcome, afs.RunWaitTimeout) and outcome.run.state is true_state:
            pass  # a typed error with the true (still active) state: the server's doing
        else:
            lost += 1
            problems.append(f"wait for {run.run_id}: {outcome!r}, but the server says {true_state}")
    known = {run.run_id for run in runs.values()}
    strays = [run_id for run_id in truth if run_id not in known]
    lost += len(strays)
    problems += [f"run {run_id} on the server is unknown to the client" for run_id in strays]
    tally.faults += faults
    tally.submitted += len(arguments)
    tally.on_server += len(truth)
    tally.finished += finished
    tally.lost += lost
    tally.duplicated += duplicated
    return problems


async def refusal_windows(proxy: FaultProxy, seed: int) -> None:
    """Now and then stop accepting connections for a moment (until cancelled)."""
    import random

    rng = random.Random(seed)
    while True:
        await anyio.sleep(rng.uniform(1.0, 3.0))
        await proxy.refuse()
        try:
            await anyio.sleep(rng.uniform(0.1, 0.4))
        finally:
            await proxy.listen()


async def wait_until_final(direct: afs.AsyncFlowserv, run_ids: Sequence[str]) -> None:
    with anyio.fail_after(WAIT_DEADLINE):
        while True:
            runs = [await direct.get_run(run_id) for run_id in run_ids]
            if not any(run.is_active() for run in runs):
                return
            await anyio.sleep(0.2)


# -- scenarios -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_batch_under_random_faults_is_neither_lost_nor_duplicated(
    fault_server: FlowservServer, fault_user: dict[str, Any], tally: Tally
) -> None:
    token = fault_user["token"]
    group_id = fault_server.create_group(token, "sleeper")
    arguments = [
        {"greeting": f"batch-{i:02d}", "sleep": 2.5, "exitcode": 3 if i % 10 == 9 else 0}
        for i in range(50)
    ]
    async with (
        FaultProxy(fault_server.port, hold=TIMEOUT + 1.0) as proxy,
        faulty_client(proxy, token) as fs,
        afs.AsyncFlowserv(fault_server.url, token=token) as direct,
    ):
        wf = await fs.workflow("sleeper", group_id)
        # Every kind of fault hits a few run starts for sure; the rest comes at random.
        for kind in ("reset_request", "reset_response", "status_502", "status_503", "hold"):
            proxy.inject(kind, run_start, times=2)
        proxy.random_faults(SEED, rate=0.2)
        async with anyio.create_task_group() as background:
            background.start_soon(refusal_windows, proxy, SEED)
            runs, unresolved = await submit_all(wf, arguments)
            # Bursts of gateway errors while the watch begins.
            proxy.inject("status_503", lambda method, path: method == "GET", times=6)
            proxy.inject("status_502", lambda method, path: method == "GET", times=6)
            outcomes = await watch(wf, runs)
            background.cancel_scope.cancel()
        proxy.calm()
        problems = await judge(
            direct, group_id, arguments, runs, outcomes, tally, proxy.injected
        )
    print("faults by kind:", dict(proxy.faults), "upstream down:", proxy.upstream_down)
    assert not unresolved, unresolved
    assert proxy.injected >= 10  # the scenario did inject faults
    assert problems == []


@pytest.mark.asyncio
async def test_server_restart_mid_watch_loses_no_wait(
    fault_server: FlowservServer, fault_user: dict[str, Any], tally: Tally
) -> None:
    token = fault_user["token"]
    group_id = fault_server.create_group(token, "sleeper")
    short = [{"greeting": f"restart-short-{i}", "sleep": 1.0} for i in range(10)]
    orphans = [{"greeting": f"restart-long-{i}", "sleep": 600.0} for i in range(3)]
    arguments = short + orphans
    async with (
        FaultProxy(fault_server.port) as proxy,
        faulty_client(proxy, token) as fs,
        afs.AsyncFlowserv(fault_server.url, token=token) as direct,
    ):
        wf = await fs.workflow("sleeper", group_id)
        started = await wf.start_runs(arguments, concurrency=4)
        runs = dict(enumerate(started))
        outcomes: dict[int, Outcome] = {}

        ended: dict[int, float] = {}

        async def watch_all() -> None:
            outcomes.update(await watch(wf, runs, ended))

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch_all)
            # The client goes blind; the short runs end; the server crashes and comes back.
            await proxy.refuse()
            await wait_until_final(direct, [run.run_id for run in started[: len(short)]])
            assert fault_server.pid is not None
            os.killpg(fault_server.pid, signal.SIGKILL)
            await anyio.to_thread.run_sync(lambda: fault_server.stop(cleanup=False))
            await proxy.listen()  # the client reaches the proxy, the proxy no server
            await anyio.sleep(1.5)
            await anyio.to_thread.run_sync(fault_server.start)
            restarted = anyio.current_time()
            # The restarted server can never finish the runs it lost: end them.
            for run in started[len(short):]:
                orphan = await direct.get_run(run.run_id)
                assert orphan.is_running()
                await direct.cancel_run(run.run_id, "orphaned by a server restart")
        problems = await judge(
            direct, group_id, arguments, runs, outcomes, tally, proxy.injected + 1
        )
    assert proxy.upstream_down > 0  # some polls did hit the dead server
    assert problems == []
    assert sum(ended[i] > restarted for i in range(len(short))) > 0  # waits resumed
    assert all(ended[i] > restarted for i in range(len(short), len(arguments)))
    assert [outcomes[i].state for i in range(len(arguments))] == (  # type: ignore[union-attr]
        [afs.RunState.SUCCESS] * len(short) + [afs.RunState.CANCELED] * len(orphans)
    )


@pytest.mark.asyncio
async def test_run_start_answer_held_past_the_timeout_resolves_to_the_one_run(
    fault_server: FlowservServer, fault_user: dict[str, Any], tally: Tally
) -> None:
    token = fault_user["token"]
    group_id = fault_server.create_group(token, "sleeper")
    arguments = [{"greeting": "held-start", "sleep": 1.0}]
    async with (
        FaultProxy(fault_server.port, hold=TIMEOUT + 1.0) as proxy,
        faulty_client(proxy, token) as fs,
        afs.AsyncFlowserv(fault_server.url, token=token) as direct,
    ):
        wf = await fs.workflow("sleeper", group_id)
        proxy.inject("hold", run_start)
        run = await wf.start_run(arguments[0])
        outcomes = await watch(wf, {0: run})
        problems = await judge(
            direct, group_id, arguments, {0: run}, outcomes, tally, proxy.injected
        )
    assert len(proxy.requests("POST", f"/groups/{group_id}/runs")) == 1
    assert proxy.faults["hold"] == 1
    assert problems == []


@pytest.mark.asyncio
async def test_upload_answer_held_past_the_timeout_resolves_to_the_one_file(
    fault_server: FlowservServer, fault_user: dict[str, Any], tally: Tally
) -> None:
    token = fault_user["token"]
    group_id = fault_server.create_group(token, "sleeper")
    arguments = [{"greeting": "held-upload", "sleep": 1.0}]
    async with (
        FaultProxy(fault_server.port, hold=TIMEOUT + 1.0) as proxy,
        faulty_client(proxy, token) as fs,
        afs.AsyncFlowserv(fault_server.url, token=token) as direct,
    ):
        wf = await fs.workflow("sleeper", group_id)
        proxy.inject("hold", upload)
        run = await wf.start_run({**arguments[0], "names": b"Ada\nGrace\n"})
        outcomes = await watch(wf, {0: run})
        problems = await judge(
            direct, group_id, arguments, {0: run}, outcomes, tally, proxy.injected
        )
        files = await direct.list_files(group_id)
    assert len(proxy.requests("POST", f"/uploads/{group_id}/files")) == 1
    assert len(files) == 1
    assert run.arguments["names"]["value"]["fileId"] == files[0].id
    assert problems == []


@pytest.mark.asyncio
async def test_sweep_under_faults_and_a_server_restart_loses_and_duplicates_nothing(
    fault_server: FlowservServer, fault_user: dict[str, Any], tally: Tally
) -> None:
    """A sweep (max_active, reuse, retries) through random faults and a SIGKILL of the server.

    Four sets already have a SUCCESS run (reused, never started again); every
    eighth set fails (started once more: ``retries=1``). Mid-sweep the server is
    killed and restarted; the runs it lost are cancelled as an application must.
    At the end every run on the server is one the sweep reports, and no set has
    more runs than its attempts allow.
    """
    token = fault_user["token"]
    group_id = fault_server.create_group(token, "sleeper")
    retries = 1
    sets = [
        {"greeting": f"sweep-{i:02d}", "sleep": 1.0, "exitcode": 3 if i % 8 == 7 else 0}
        for i in range(24)
    ]
    async with afs.AsyncFlowserv(fault_server.url, token=token) as direct:
        done_before = await (await direct.workflow("sleeper", group_id)).start_runs(
            sets[:4], poll_interval=0.2, timeout=WAIT_DEADLINE
        )
    assert all(run.is_success() for run in done_before)
    restarted = 0.0
    async with (
        FaultProxy(fault_server.port, hold=TIMEOUT + 1.0) as proxy,
        faulty_client(proxy, token) as fs,
        afs.AsyncFlowserv(fault_server.url, token=token) as direct,
    ):
        wf = await fs.workflow("sleeper", group_id)
        proxy.random_faults(SEED + 16, rate=0.15)
        result: afs.SweepResult | None = None
        seen: set[str] = set()
        eight_started = anyio.Event()

        def on_change(run: afs.Run) -> None:
            seen.add(run.run_id)
            if len(seen) >= 8:
                eight_started.set()

        async def sweep() -> None:
            nonlocal result
            with anyio.fail_after(240):
                result = await wf.sweep(
                    sets, max_active=4, reuse="success", retries=retries, poll_interval=0.2,
                    on_change=on_change,
                )

        async def kill_and_restart() -> None:
            nonlocal restarted
            with anyio.fail_after(120):
                await eight_started.wait()
            assert fault_server.pid is not None
            os.killpg(fault_server.pid, signal.SIGKILL)
            await anyio.to_thread.run_sync(lambda: fault_server.stop(cleanup=False))
            await anyio.sleep(1.5)
            await anyio.to_thread.run_sync(fault_server.start)
            restarted = anyio.current_time()
            since = datetime.now().astimezone()
            # The restarted server never finishes the runs it had in flight: cancel them.
            for _ in range(10):
                for info in await direct.list_runs(group_id):
                    if info.is_active() and info.created_at and info.created_at < since:
                        with contextlib.suppress(afs.FlowservError):
                            await direct.cancel_run(info.run_id, "orphaned by a server restart")
                await anyio.sleep(0.5)

        async with anyio.create_task_group() as tg:
            tg.start_soon(refusal_windows, proxy, SEED + 16)
            tg.start_soon(kill_and_restart)
            await sweep()
            tg.cancel_scope.cancel()
        proxy.calm()
        assert result is not None
        truth = {info.run_id: await direct.get_run(info.run_id)
                 for info in await direct.list_runs(group_id)}
    known: dict[str, str] = {}
    problems: list[str] = []
    finished = lost = duplicated = 0
    for given, row in zip(sets, result.sets, strict=True):
        greeting = str(given["greeting"])
        if row.run is None:
            lost += 1
            problems.append(f"{greeting}: never started ({row.error})")
            continue
        for run in (*row.failed, row.run):
            known[run.run_id] = greeting
        true_state = truth[row.run.run_id].state if row.run.run_id in truth else None
        if not row.run.is_active() and row.run.state is true_state:
            finished += 1
        else:
            lost += 1
            problems.append(f"{greeting}: sweep says {row.run.state}, server {true_state}")
        allowed = 1 + (retries if given["exitcode"] else 0)
        on_server = [r for r in truth.values() if r.arguments.get("greeting") == greeting]
        if len(on_server) > allowed:
            duplicated += len(on_server) - allowed
            problems.append(f"{greeting}: {len(on_server)} runs, at most {allowed} asked")
    strays = [run_id for run_id in truth if run_id not in known]
    lost += len(strays)
    problems += [f"run {run_id} on the server is unknown to the sweep" for run_id in strays]
    tally.faults += proxy.injected + 1
    tally.submitted += len(sets)
    tally.on_server += len(truth)
    tally.finished += finished
    tally.lost += lost
    tally.duplicated += duplicated
    print("sweep under faults:", dict(proxy.faults), "reused:", result.reused,
          "stopped:", result.stopped)
    assert result.stopped is None, result.stopped
    assert result.reused == 4
    assert {row.run.run_id for row in result.sets[:4] if row.run} == {
        run.run_id for run in done_before
    }
    assert restarted > 0
    assert problems == []
