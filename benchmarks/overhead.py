#!/usr/bin/env python3
"""Overhead of one call through the SDK against the same request made with raw httpx.

1. async, in process: ``await wf.poll_run(id)`` (``GET /runs/{id}`` plus a
   ``Run`` built from the answer) against ``httpx.AsyncClient.get`` plus
   ``json.loads``, both on the same transport: a canned one (a fixed real run
   document, no server work, so only client code is timed) and the fake flowServ.
2. sync facade over real loopback HTTP: ``Workflow.poll_run(id)`` of the sync
   facade (a hop into its event-loop thread, then the async path) against
   ``httpx.Client.get`` plus ``json.loads``; against a tiny fast keep-alive
   server (``_canned_server.py``, the harshest case) and, with ``--real``,
   against a real flowServ server (which closes the connection after every
   answer, as deployed).

3. transports: the same ``get_run`` through the async client on httpx and on
   aiohttp (``transport="aiohttp"``), through the sync facade on each, and raw
   ``httpx.Client``, over real loopback TCP (the canned server, and with
   ``--real`` a real flowServ): wall time and CPU time per call, in rotating
   rounds. The targets: the sync facade within 1.5x an async call, and
   whether aiohttp makes a case (less CPU and less wall time per call).

The two sides are measured in alternating rounds (the order flips each round)
so that drifting machine load hits both alike; the ratio of the medians of
the per-round means is the figure, the ratio of the minima is printed too.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
from anyio.from_thread import start_blocking_portal

import _common
import aioflowserv as afs
from _canned_server import GROUP_ID, RUN_ID, canned_documents
from aioflowserv.testing import BASE_URL, FakeFlowserv, FlowservServer

TARGETS = {"async": 1.15, "sync": 1.3}
SYNC_OVER_ASYNC = 1.5
"""The sync facade against an async call on the same loopback server (issue 18)."""


class CannedTransport(httpx.AsyncBaseTransport):
    """Answers every request with the same finished-run document."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Return the canned run."""
        return httpx.Response(
            200, content=self.body, headers={"Content-Type": "application/json"}, request=request
        )


def compare(
    sdk: Callable[[], float], raw: Callable[[], float], rounds: int
) -> dict[str, Any]:
    """Alternate rounds of the two timers (each returns seconds per call)."""
    sdk_times: list[float] = []
    raw_times: list[float] = []
    for index in range(rounds):
        pair = (sdk, raw) if index % 2 == 0 else (raw, sdk)
        for timer in pair:
            (sdk_times if timer is sdk else raw_times).append(timer())
    sdk_us = [t * 1e6 for t in sdk_times]
    raw_us = [t * 1e6 for t in raw_times]
    return {
        "sdk_us": _common.summary(sdk_us),
        "raw_us": _common.summary(raw_us),
        "ratio_median": statistics.median(sdk_us) / statistics.median(raw_us),
        "ratio_min": min(sdk_us) / min(raw_us),
        "rounds": rounds,
    }


async def async_case(transport: httpx.AsyncBaseTransport, run_id: str, group_id: str,
                     rounds: int, calls: int) -> dict[str, Any]:
    token = getattr(transport, "token", "x" * 32)
    async with afs.AsyncFlowserv(BASE_URL, token=token, transport=transport) as fs, \
            httpx.AsyncClient(
                base_url=BASE_URL + "/", transport=transport, headers={"api_key": token}
            ) as raw:
        results: dict[str, list[float]] = {"sdk": [], "raw": []}

        async def time_sdk() -> None:
            start = time.perf_counter()
            for _ in range(calls):
                await fs.get_run(run_id)  # what AsyncWorkflow.poll_run sends, the same path
            results["sdk"].append((time.perf_counter() - start) / calls)

        async def time_raw() -> None:
            start = time.perf_counter()
            for _ in range(calls):
                json.loads((await raw.get(f"runs/{run_id}")).content)
            results["raw"].append((time.perf_counter() - start) / calls)

        await time_sdk()  # warm up both paths
        await time_raw()
        results = {"sdk": [], "raw": []}
        for index in range(rounds):
            pair: tuple[Callable[[], Awaitable[None]], ...] = (
                (time_sdk, time_raw) if index % 2 == 0 else (time_raw, time_sdk)
            )
            for timer in pair:
                await timer()
    return compare(iter(results["sdk"]).__next__, iter(results["raw"]).__next__, rounds)


def sync_case(url: str, token: str, run_id: str, group_id: str, rounds: int,
              calls: int) -> dict[str, Any]:
    with afs.Flowserv(url, token=token, retries=3) as fs, httpx.Client(
        base_url=url + "/", headers={"api_key": token}, timeout=30.0
    ) as raw:
        workflow = fs.workflow("sleeper", group_id)

        def time_sdk() -> float:
            start = time.perf_counter()
            for _ in range(calls):
                workflow.poll_run(run_id)
            return (time.perf_counter() - start) / calls

        def time_raw() -> float:
            start = time.perf_counter()
            for _ in range(calls):
                json.loads(raw.get(f"runs/{run_id}").content)
            return (time.perf_counter() - start) / calls

        time_sdk()  # warm up (connections, caches)
        time_raw()
        return compare(time_sdk, time_raw, rounds)


Timer = Callable[[], tuple[float, float]]
"""Runs one round of calls; returns (wall seconds, CPU seconds) per call."""


def transports_case(url: str, token: str, run_id: str, rounds: int, calls: int) -> dict[str, Any]:
    """get_run through each client and transport, in rotating rounds: wall and CPU per call."""
    with start_blocking_portal("asyncio") as portal, \
            afs.Flowserv(url, token=token, transport="httpx") as sync_httpx, \
            afs.Flowserv(url, token=token, transport="aiohttp") as sync_aiohttp, \
            httpx.Client(base_url=url + "/", headers={"api_key": token}) as raw:
        clients = {
            name: portal.call(lambda name=name: _open_async(url, token, name))
            for name in ("httpx", "aiohttp")
        }

        def async_timer(name: str) -> Timer:
            async def go() -> tuple[float, float]:
                fs = clients[name]
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(calls):
                    await fs.get_run(run_id)
                return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls
            return lambda: portal.call(go)

        def sync_timer(fs: afs.Flowserv) -> Timer:
            def go() -> tuple[float, float]:
                wall, cpu = time.perf_counter(), time.process_time()
                for _ in range(calls):
                    fs.get_run(run_id)
                return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls
            return go

        def raw_timer() -> tuple[float, float]:
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(calls):
                json.loads(raw.get(f"runs/{run_id}").content)
            return (time.perf_counter() - wall) / calls, (time.process_time() - cpu) / calls

        timers: dict[str, Timer] = {
            "async httpx": async_timer("httpx"),
            "async aiohttp": async_timer("aiohttp"),
            "sync httpx": sync_timer(sync_httpx),
            "sync aiohttp": sync_timer(sync_aiohttp),
            "raw httpx.Client": raw_timer,
        }
        for timer in timers.values():  # warm up (connections, caches)
            timer()
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in timers}
        names = list(timers)
        for index in range(rounds):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                samples[name].append(timers[name]())
        for fs in clients.values():
            portal.call(fs.aclose)
    wall = {name: statistics.median(w for w, _ in values) * 1e6 for name, values in samples.items()}
    cpu = {name: statistics.median(c for _, c in values) * 1e6 for name, values in samples.items()}

    def paired(a: str, b: str, which: int) -> float:
        return statistics.median(x[which] / y[which] for x, y in zip(samples[a], samples[b],
                                                                      strict=True))

    return {
        "wall_us": wall, "cpu_us": cpu, "rounds": rounds, "calls": calls,
        "ratios": {
            "aiohttp / httpx, async, wall": paired("async aiohttp", "async httpx", 0),
            "aiohttp / httpx, async, CPU": paired("async aiohttp", "async httpx", 1),
            "sync / async, httpx, wall": paired("sync httpx", "async httpx", 0),
            "sync / async, aiohttp, wall": paired("sync aiohttp", "async aiohttp", 0),
            "sync aiohttp / async httpx, wall": paired("sync aiohttp", "async httpx", 0),
            "sync httpx / raw httpx.Client, wall": paired("sync httpx", "raw httpx.Client", 0),
            "sync aiohttp / raw httpx.Client, wall": paired(
                "sync aiohttp", "raw httpx.Client", 0),
        },
    }


async def _open_async(url: str, token: str, transport: str) -> afs.AsyncFlowserv:
    return afs.AsyncFlowserv(url, token=token, transport=transport)  # type: ignore[arg-type]


def real_flowserv(work: Callable[[str, str, str, str], Any]) -> Any:
    """Run ``work(url, token, run_id, group_id)`` against a fresh real flowServ with one run."""
    with FlowservServer() as server:
        user = server.create_user()
        group_id = server.create_group(user["token"])
        with httpx.Client(base_url=server.url + "/", headers={"api_key": user["token"]}) as c:
            run = c.post(f"groups/{group_id}/runs", json={"arguments": []}).json()
            deadline = time.monotonic() + 30
            while c.get(f"runs/{run['id']}").json()["state"] in ("PENDING", "RUNNING"):
                if time.monotonic() > deadline:
                    raise RuntimeError("the benchmark run did not finish (server race?)")
                time.sleep(0.05)
        return work(server.url, user["token"], run["id"], group_id)


def canned_server() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, str(_common.ROOT / "benchmarks" / "_canned_server.py")],
        stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    port = int(process.stdout.readline().split()[1])
    return process, f"http://127.0.0.1:{port}/flowserv/api/v1"


def real_server_case(rounds: int, calls: int) -> dict[str, Any]:
    return real_flowserv(  # type: ignore[no-any-return]
        lambda url, token, run_id, group_id: sync_case(url, token, run_id, group_id, rounds, calls)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--calls", type=int, default=250, help="calls per round (in process)")
    parser.add_argument("--sync-calls", type=int, default=100, help="calls per round (loopback)")
    parser.add_argument("--real", action="store_true", help="also against a real flowServ")
    args = parser.parse_args()

    cases: dict[str, dict[str, Any]] = {}
    body = canned_documents()["runs"]
    cases["async, canned transport"] = anyio.run(
        async_case, CannedTransport(body), RUN_ID, GROUP_ID, args.rounds, args.calls
    )

    async def on_fake() -> dict[str, Any]:
        fake = FakeFlowserv()
        fake.record_requests = False
        group = fake.add_group()
        run_id = fake.add_run(group, state="SUCCESS")
        return await async_case(fake, run_id, group, args.rounds, args.calls)

    cases["async, fake flowServ transport"] = anyio.run(on_fake)
    transports: dict[str, dict[str, Any]] = {}
    process, url = canned_server()
    try:
        cases["sync facade, loopback canned server"] = sync_case(
            url, "x" * 32, RUN_ID, GROUP_ID, args.rounds, args.sync_calls
        )
        transports["loopback canned server"] = transports_case(
            url, "x" * 32, RUN_ID, max(6, args.rounds // 2), args.sync_calls
        )
    finally:
        process.terminate()
        process.wait(timeout=10)
    if args.real:
        cases["sync facade, real flowServ"] = real_server_case(
            max(6, args.rounds // 4), max(10, args.sync_calls // 5)
        )
        transports["real flowServ"] = real_flowserv(
            lambda url, token, run_id, group_id: transports_case(
                url, token, run_id, max(6, args.rounds // 4), max(20, args.sync_calls // 4)
            )
        )

    headers = ["case", "SDK median us", "raw median us", "SDK min us", "raw min us",
               "ratio (median)", "ratio (min)", "target"]
    rows = []
    verdicts = {}
    for name, case in cases.items():
        target = TARGETS["async" if name.startswith("async") else "sync"]
        case["target_ratio"] = target
        verdicts[name] = _common.verdict(case["ratio_median"], target)
        rows.append([name, case["sdk_us"]["median"], case["raw_us"]["median"],
                     case["sdk_us"]["min"], case["raw_us"]["min"], case["ratio_median"],
                     case["ratio_min"], f"<= {target}"])
    print("overhead: one poll_run through the SDK vs the same GET with raw httpx + json.loads")
    print(_common.table(headers, rows))
    for name, value in verdicts.items():
        print(f"  target {name}: {value}")
    for where, case in transports.items():
        print(f"\ntransports on the {where}: get_run per call (median over rounds), us")
        print(_common.table(
            ["client", "wall us", "CPU us"],
            [[name, case["wall_us"][name], case["cpu_us"][name]] for name in case["wall_us"]],
        ))
        for name, value in case["ratios"].items():
            print(f"  {name}: {value:.2f}x")
        sync_ratio = min(case["ratios"]["sync / async, httpx, wall"],
                         case["ratios"]["sync aiohttp / async httpx, wall"])
        verdicts[f"sync facade <= {SYNC_OVER_ASYNC}x an async call, {where}"] = _common.verdict(
            sync_ratio, SYNC_OVER_ASYNC)
        print(f"  target sync facade <= {SYNC_OVER_ASYNC}x an async call (best transport): "
              f"{verdicts[f'sync facade <= {SYNC_OVER_ASYNC}x an async call, {where}']}")
    path = _common.write_result("overhead", {
        "parameters": vars(args), "cases": cases, "transports": transports, "verdicts": verdicts,
        "note": "async cases run in process (no network); sync cases over real loopback TCP. "
                "The canned server keeps connections alive; flowServ closes them each time.",
    })
    print(f"written {path.relative_to(_common.ROOT)}")


if __name__ == "__main__":
    main()
