#!/usr/bin/env python3
"""A sweep with max_active=K against a hand-written asyncio loop keeping K runs active (raw REST).

``--sets`` argument sets of the sleeper workflow (``sleep`` from ``--sleep``
to twice that, in a fixed pattern; each set its own greeting) run two ways,
each into its own fresh group:

- ``sweep``: ``await wf.sweep(sets, max_active=K, poll_interval=P)``, which
  also reads the result values at the end (one leaderboard request);
- ``loop``: ``httpx.AsyncClient`` and the REST API by hand: K runs started,
  then one listing of the group every P seconds (a steady tick); each run
  seen ended is fetched once (its final record: messages, files) and the next
  set is started in its place, in a task of its own, until every set ran;
  then the result values are read (one leaderboard request), as the sweep
  reads them. (A loop that awaits its starts before its next tick polls less
  often, and refills later, on a server whose starts are slow.)

Both sides are measured on the real development server (loopback) and on the
in-process fake flowServ, the two variants taking turns (``--rounds``, the
order alternating) so that the server's drift hits them alike. The figures:
wall time of each variant (sum over its rounds), the sweep's wall time over
the loop's (target: at most 1.05), and requests per finished run, counted
from the first start to the last end (the sweep's client counts through its
transport; the workflow's loading, two requests, is left out): target, the
sweep's at most the loop's.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx

import _common
import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv, FlowservServer

TARGET_WALL = 1.05
"""The sweep's wall time over the loop's, at most."""


class Counting(httpx.AsyncBaseTransport):
    """A transport that counts the requests it passes on."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def argument_sets(count: int, sleep: float, tag: str) -> list[dict[str, Any]]:
    """``count`` sets lasting from ``sleep`` to twice that (the same for both variants)."""
    return [
        {"sleep": round(sleep * (1 + (i * 7 % 11) / 10), 3), "greeting": f"{tag}-{i:03d}"}
        for i in range(count)
    ]


async def run_sweep(url: str, token: str, group: str, sets: list[dict[str, Any]], k: int,
                    poll: float, inner: httpx.AsyncBaseTransport) -> tuple[float, int, int]:
    """(seconds, requests, finished runs) of one sweep."""
    counting = Counting(inner)
    async with afs.AsyncFlowserv(url, token=token, transport=counting) as fs:
        workflow = await fs.workflow("sleeper", group)
        counting.requests = 0
        began = time.perf_counter()
        result = await workflow.sweep(sets, max_active=k, poll_interval=poll)
        seconds = time.perf_counter() - began
    finished = sum(1 for run in result.runs if not run.is_active())
    return seconds, counting.requests, finished


async def run_loop(url: str, token: str, group: str, sets: list[dict[str, Any]], k: int,
                   poll: float, inner: httpx.AsyncBaseTransport) -> tuple[float, int, int]:
    """(seconds, requests, finished runs) of the hand-written loop."""
    counting = Counting(inner)
    wire = [[{"name": "sleep", "value": float(s["sleep"])},
             {"name": "greeting", "value": s["greeting"]}] for s in sets]
    async with httpx.AsyncClient(base_url=url + "/", headers={"api_key": token},
                                 transport=counting, timeout=30.0) as client:
        began = time.perf_counter()
        pending = iter(wire)
        active: set[str] = set()
        finished = 0

        async def start_next() -> None:
            arguments = next(pending, None)
            if arguments is not None:
                answer = await client.post(f"groups/{group}/runs", json={"arguments": arguments})
                answer.raise_for_status()
                active.add(answer.json()["id"])

        async with anyio.create_task_group() as tg:
            for _ in range(k):
                tg.start_soon(start_next)
            # One listing per tick, on a steady schedule: the fetches and the starts that
            # refill the places run as tasks of their own, never holding up the next tick.
            next_tick = anyio.current_time() + poll
            while finished < len(wire):
                await anyio.sleep_until(next_tick)
                next_tick += poll
                listing = (await client.get(f"groups/{group}/runs")).json()
                for run in listing["runs"]:
                    if run["id"] in active and run["state"] not in ("PENDING", "RUNNING"):
                        active.discard(run["id"])
                        finished += 1

                        async def collect_and_refill(run_id: str = run["id"]) -> None:
                            (await client.get(f"runs/{run_id}")).raise_for_status()
                            await start_next()

                        tg.start_soon(collect_and_refill)
        # The result values of the runs, as the sweep reads them for its records.
        board = await client.get("workflows/sleeper/leaderboard", params={"includeAll": "true"})
        board.raise_for_status()
        seconds = time.perf_counter() - began
    return seconds, counting.requests, finished



def measure(name: str, url: str, new_account: Callable[[], tuple[str, str]],
            transport: Callable[[], httpx.AsyncBaseTransport], args: argparse.Namespace
            ) -> dict[str, Any]:
    per_round = max(1, args.sets // args.rounds)
    totals = {variant: {"seconds": 0.0, "requests": 0, "finished": 0} for variant in
              ("sweep", "loop")}
    for index in range(args.rounds):
        order = ("sweep", "loop") if index % 2 == 0 else ("loop", "sweep")
        for variant in order:
            token, group = new_account()
            sets = argument_sets(per_round, args.sleep, f"{variant}{index}")
            runner = run_sweep if variant == "sweep" else run_loop
            seconds, requests, finished = anyio.run(
                runner, url, token, group, sets, args.max_active, args.poll, transport()
            )
            total = totals[variant]
            total["seconds"] += seconds
            total["requests"] += requests
            total["finished"] += finished
    for total in totals.values():
        total["requests_per_run"] = total["requests"] / max(total["finished"], 1)
    wall = totals["sweep"]["seconds"] / totals["loop"]["seconds"]
    per_run = totals["sweep"]["requests_per_run"], totals["loop"]["requests_per_run"]
    return {
        "server": name, "totals": totals, "wall_ratio": wall,
        "wall_verdict": _common.verdict(wall, TARGET_WALL),
        "requests_verdict": _common.verdict(per_run[0], per_run[1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", type=int, default=200, help="argument sets per variant")
    parser.add_argument("--max-active", type=int, default=4, help="K: runs active at once")
    parser.add_argument("--sleep", type=float, default=0.5, help="seconds each run lasts")
    parser.add_argument("--poll", type=float, default=0.25, help="poll interval of both sides")
    parser.add_argument("--rounds", type=int, default=2,
                        help="turns per variant (the sets are split among them)")
    parser.add_argument("--only", choices=("real", "fake"), help="one server only")
    args = parser.parse_args()
    found: list[dict[str, Any]] = []
    if args.only in (None, "fake"):
        fake = FakeFlowserv(clock=time.monotonic)
        found.append(measure(
            "fake", fake.url, lambda: (fake.token, fake.add_group()), lambda: fake, args
        ))
    if args.only in (None, "real"):
        with FlowservServer() as server:

            def account() -> tuple[str, str]:
                user = server.create_user()
                return user["token"], server.create_group(user["token"])

            found.append(measure("real (dev server)", server.url, account,
                                 httpx.AsyncHTTPTransport, args))
    headers = ["server", "variant", "finished", "wall s", "requests", "requests/run"]
    rows = [
        [doc["server"], variant, t["finished"], t["seconds"], t["requests"], t["requests_per_run"]]
        for doc in found for variant, t in doc["totals"].items()
    ]
    print(f"sweep: {args.sets} sets of sleep={args.sleep}..{2 * args.sleep} per variant, "
          f"max_active={args.max_active}, poll {args.poll} s, {args.rounds} rounds")
    print(_common.table(headers, rows))
    for doc in found:
        sweep_rate, loop_rate = (doc["totals"][v]["requests_per_run"] for v in ("sweep", "loop"))
        print(f"  {doc['server']}: sweep/loop wall time {doc['wall_ratio']:.3f}x "
              f"(target <= {TARGET_WALL}: {doc['wall_verdict']}); requests per finished run "
              f"{sweep_rate:.2f} vs {loop_rate:.2f} (target sweep <= loop: "
              f"{doc['requests_verdict']})")
    path = _common.write_result("sweep", {
        "parameters": vars(args), "results": found, "target_wall_ratio": TARGET_WALL,
        "note": "Wall time from the first start to the result values read; requests counted "
                "at each side's transport over the same span (both read each ended run's "
                "record and, at the end, the leaderboard once).",
    })
    print(f"written {path.relative_to(_common.ROOT)}")


if __name__ == "__main__":
    main()
