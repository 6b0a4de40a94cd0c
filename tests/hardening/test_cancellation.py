"""Cancellation hygiene: cancelled waits leave nothing behind; Ctrl-C and fork, sync facade."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.realserver import QUICK

WAITS = 1000


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def living_tasks(backend: str) -> int:
    if backend == "trio":
        import trio

        return int(trio.lowlevel.current_statistics().tasks_living)
    return len(asyncio.all_tasks())


class ListingSignal(httpx.AsyncBaseTransport):
    """The normal transport; sets an event when the third run listing goes out."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.third_listing_sent = anyio.Event()
        self.listings = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith("/runs"):
            self.listings += 1
            if self.listings == 3:
                self.third_listing_sent.set()
        return await self.inner.handle_async_request(request)

    def busy_connections(self) -> list[Any]:
        """Connections of the pool that are neither idle nor closed."""
        pool = self.inner._pool
        return [c for c in pool.connections if not (c.is_idle() or c.is_closed())]

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.anyio
async def test_cancelling_a_thousand_waits_leaves_no_task_and_no_connection(
    server: FlowservServer, member: dict[str, Any], anyio_backend: str
) -> None:
    transport = ListingSignal()
    async with afs.AsyncFlowserv(server.url, token=member["token"], transport=transport) as fs:
        wf = await fs.workflow("sleeper", member["sleeper"])
        runs = [
            await wf.start_run({"sleep": 120, "greeting": f"{anyio_backend}-{i}"})
            for i in range(4)
        ]
        try:
            tasks_before = living_tasks(anyio_backend)
            async with anyio.create_task_group() as tg:
                for index in range(WAITS):
                    wait = partial(wf.wait, runs[index % len(runs)], poll_interval=0.05,
                                   max_interval=0.1)
                    tg.start_soon(wait)
                with anyio.fail_after(30):
                    await transport.third_listing_sent.wait()
                tg.cancel_scope.cancel()  # while the third listing is in flight
            assert fs.watching.idle
            assert living_tasks(anyio_backend) == tasks_before
            assert transport.busy_connections() == []
            states = {r.run_id: r.state for r in await wf.list_runs()}
            assert all(states[run.run_id] is afs.RunState.RUNNING for run in runs)  # left alone
        finally:
            with anyio.CancelScope(shield=True):
                for run in runs:
                    await fs.cancel_run(run.run_id, "test over")


CTRL_C = textwrap.dedent(
    """
    import signal, sys, threading, time
    import aioflowserv as afs

    url, token, group, run_id = sys.argv[1:]
    fs = afs.Flowserv(url, token=token)
    wf = fs.workflow("sleeper", group)
    print("waiting", flush=True)
    try:
        wf.wait(run_id, poll_interval=0.05, max_interval=0.1)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print(f"interrupted at {time.monotonic()}", flush=True)
        print("threads", sorted(t.name for t in threading.enumerate()), flush=True)
        print("still active", wf.poll_run(run_id).is_active(), flush=True)
        time.sleep(0.2)
        print("watcher idle", fs.async_client.watching.idle, flush=True)
    fs.close()
    print("threads after close", sorted(t.name for t in threading.enumerate()), flush=True)
    """
)


def test_ctrl_c_in_a_sync_wait_returns_at_once_and_leaves_no_thread(
    server: FlowservServer, member: dict[str, Any], tmp_path: Path
) -> None:
    script = tmp_path / "ctrl_c.py"
    script.write_text(CTRL_C)
    with afs.Flowserv(server.url, token=member["token"]) as fs:
        run = fs.workflow("sleeper", member["sleeper"]).start_run({"sleep": 120})
        child = subprocess.Popen(
            [sys.executable, str(script), server.url, member["token"], member["sleeper"],
             run.run_id],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "waiting"
            time.sleep(0.5)  # let the wait poll a few times
            sent_at = time.monotonic()
            child.send_signal(signal.SIGINT)
            out, err = child.communicate(timeout=30)
        finally:
            fs.cancel_run(run.run_id, "test over")
            if child.poll() is None:
                child.kill()
                child.communicate()
    lines = dict(line.split(" ", 1) if " " in line else (line, "") for line in out.splitlines())
    assert child.returncode == 0, err
    assert "finished" not in lines
    returned_at = float(lines["interrupted"].removeprefix("at "))
    assert returned_at - sent_at < 1.0  # CLOCK_MONOTONIC is shared by both processes
    assert out.splitlines()[1] == "threads ['MainThread', 'aioflowserv-portal']"
    assert "still active True" in out
    assert "watcher idle True" in out
    assert out.splitlines()[-1] == "threads after close ['MainThread']"


FORK = textwrap.dedent(
    """
    import os, signal, sys
    import aioflowserv as afs

    url, token, group, run_id = sys.argv[1:]
    fs = afs.Flowserv(url, token=token)
    wf = fs.workflow("sleeper", group)
    me = fs.whoami().username
    pid = os.fork()
    if pid == 0:
        signal.alarm(20)  # a hang ends the child (SIGALRM), it does not block the test
        try:
            final = wf.wait(run_id, timeout=20)
            print("child", fs.whoami().username == me, final.state.value, flush=True)
            fs.close()
            os._exit(0)
        except BaseException as exc:
            print("child failed", type(exc).__name__, exc, flush=True)
            os._exit(1)
    print("parent", fs.whoami().username == me, wf.poll_run(run_id).state.value, flush=True)
    fs.close()
    _, status = os.waitpid(pid, 0)
    print("child exit", os.waitstatus_to_exitcode(status), flush=True)
    """
)


def test_a_sync_client_keeps_working_in_a_forked_child(
    server: FlowservServer, member: dict[str, Any], tmp_path: Path
) -> None:
    script = tmp_path / "fork.py"
    script.write_text(FORK)
    with afs.Flowserv(server.url, token=member["token"]) as fs:
        run = fs.workflow("sleeper", member["sleeper"]).start_run(
            {"sleep": QUICK}, poll_interval=0.1, timeout=60
        )
    result = subprocess.run(
        [sys.executable, str(script), server.url, member["token"], member["sleeper"], run.run_id],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "child True SUCCESS" in result.stdout
    assert "parent True SUCCESS" in result.stdout
    assert "child exit 0" in result.stdout
