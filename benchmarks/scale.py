#!/usr/bin/env python3
"""Scale: watching 10,000 active runs in 10 groups, against per-run polling with raw httpx.

Runs live on the in-process fake flowServ (:class:`aioflowserv.testing.FakeFlowserv`,
the real response shapes) and end at random times over ~10 s. Each variant runs in its
own fresh process (so that memory figures do not mix), on the same seed:

- ``sdk``: one ``as_completed`` over all runs (one watcher, one wait);
- ``sdk-tasks``: one ``wait()`` task per run (10,000 waits sharing the watcher);
- ``raw``: the baseline, one task per run polling ``GET /runs/{id}`` with an
  ``httpx.AsyncClient`` every interval, as a hand-written loop would;
- ``sdk-idle``: the watcher's own cost per tick while no run ends.

CPU figures are the client's: the fake server's own CPU time (measured inside
its handler) is subtracted, since a real server runs in another process.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
from typing import Any

import anyio
import httpx

import _common
import aioflowserv as afs
from aioflowserv.testing import BASE_URL, FakeFlowserv

VARIANTS = ("sdk", "sdk-tasks", "raw", "sdk-idle")
TARGETS = {"listings_per_tick": 10, "rss_growth_mb": 30, "cpu_per_tick_ms": 50}
ACTIVE = {"PENDING", "RUNNING"}
"""The run states a hand-written poll loop waits through."""


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    offsets = [rng.uniform(0.5, args.spread) for _ in range(args.runs)]
    fake = FakeFlowserv()
    fake.record_requests = False
    groups = [fake.add_group() for _ in range(args.groups)]
    run_ids = [fake.add_run(groups[i % args.groups]) for i in range(args.runs)]
    snapshots = [fake.snapshot(run_id) for run_id in run_ids] if args.variant != "raw" else []

    async with afs.AsyncFlowserv(
        BASE_URL, token=fake.token, transport=fake, retries=0,
        poll_interval=args.interval, max_interval=args.interval * 5,
    ) as fs:
        raw = httpx.AsyncClient(
            base_url=BASE_URL + "/", transport=fake, headers={"api_key": fake.token}
        )
        gc.collect()
        rss_before = _common.rss_mb()
        sampler = _common.MemorySampler()  # on its own thread; its CPU is left out below
        cpu_before, server_cpu_before = _common.cpu_seconds(), fake.cpu_seconds
        sampler_cpu_before = 0.0
        started = anyio.current_time()
        if args.variant != "sdk-idle":
            for run_id, offset in zip(run_ids, offsets, strict=True):
                fake.end_at(run_id, started + offset)
        polls: dict[str, int] = {}
        with sampler:
            if args.variant == "sdk":
                ended = 0
                async for _ in fs.as_completed(snapshots):
                    ended += 1  # a consumer that handles each run and lets it go
                assert ended == args.runs
            elif args.variant == "sdk-tasks":
                async with anyio.create_task_group() as waits:
                    for snapshot in snapshots:
                        waits.start_soon(fs.wait, snapshot)
            elif args.variant == "sdk-idle":
                # The watcher's own cost per tick: start measuring after the first round
                # (which includes registering the runs), stop after `idle_ticks` more.
                ticks = args.idle_ticks
                async with anyio.create_task_group() as idle:
                    idle.start_soon(lambda: fs.wait_all(snapshots, max_interval=args.interval))
                    await fake.wait_for(lambda: fake.counts["list_runs"] >= args.groups)
                    cpu_before, server_cpu_before = _common.cpu_seconds(), fake.cpu_seconds
                    sampler_cpu_before = sampler.cpu_seconds
                    first_round = dict(fake.counts)
                    await fake.wait_for(
                        lambda: fake.counts["list_runs"] >= args.groups * (ticks + 1)
                    )
                    idle.cancel_scope.cancel()
                fake.counts.subtract(first_round)
            else:
                async with anyio.create_task_group() as pollers:
                    for run_id in run_ids:
                        pollers.start_soon(poll_raw, raw, run_id, args.interval, polls)
            finished = anyio.current_time()
            cpu = _common.cpu_seconds() - cpu_before
            sampler_cpu = sampler.cpu_seconds - sampler_cpu_before
        server_cpu = fake.cpu_seconds - server_cpu_before
        await raw.aclose()
    listings, fetches = fake.counts["list_runs"], fake.counts["get_run"]
    if args.variant == "raw":
        ticks = max(polls.values())
    elif args.variant != "sdk-idle":
        ticks = round(listings / args.groups)
    last_end = started + max(offsets) if args.variant != "sdk-idle" else finished
    client_cpu = cpu - server_cpu - sampler_cpu
    return {
        "variant": args.variant,
        "runs": args.runs,
        "groups": args.groups,
        "interval_s": args.interval,
        "wall_s": finished - started,
        "done_after_last_end_s": finished - last_end,
        "requests": listings + fetches,
        "listings": listings,
        "run_fetches": fetches,
        "ticks": ticks,
        "effective_period_s": (finished - started) / ticks,
        "listings_per_tick": listings / ticks,
        "requests_per_tick": (listings + fetches) / ticks,
        "client_cpu_s": client_cpu,
        "server_cpu_s": server_cpu,
        "cpu_per_tick_ms": client_cpu / ticks * 1000,
        "rss_before_mb": rss_before,
        "sampler_cpu_s": sampler_cpu,
        "rss_growth_mb": sampler.peak - rss_before,
    }


async def poll_raw(
    client: httpx.AsyncClient, run_id: str, interval: float, polls: dict[str, int]
) -> None:
    """The baseline: poll one run until it is no longer active."""
    count = 0
    while True:
        count += 1
        doc = json.loads((await client.get(f"runs/{run_id}")).content)
        if doc["state"] not in ACTIVE:
            polls[run_id] = count
            afs.Run.from_json(doc)  # a final snapshot, as the SDK hands out
            return
        await anyio.sleep(interval)


def run_variant(args: argparse.Namespace, variant: str) -> dict[str, Any]:
    command = [
        sys.executable, __file__, "--variant", variant, "--runs", str(args.runs),
        "--groups", str(args.groups), "--spread", str(args.spread),
        "--interval", str(args.interval), "--seed", str(args.seed),
        "--idle-ticks", str(args.idle_ticks),
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=900)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    sdk, raw = results.get("sdk"), results.get("raw")
    ratios: dict[str, float] = {}
    if sdk and raw:
        ratios = {
            "raw_requests_over_sdk": raw["requests"] / sdk["requests"],
            "raw_requests_per_tick_over_sdk": raw["requests_per_tick"] / sdk["requests_per_tick"],
            "raw_cpu_over_sdk": raw["client_cpu_s"] / sdk["client_cpu_s"],
            "raw_cpu_per_tick_over_sdk": raw["cpu_per_tick_ms"] / sdk["cpu_per_tick_ms"],
            "raw_rss_growth_over_sdk": raw["rss_growth_mb"] / max(sdk["rss_growth_mb"], 0.1),
        }
    headers = [
        "variant", "wall s", "ticks", "s/tick", "listings/tick", "requests/tick", "requests",
        "client CPU s", "CPU/tick ms", "RSS growth MB", "done after last end s",
    ]
    rows = [
        [name, r["wall_s"], r["ticks"], r["effective_period_s"], r["listings_per_tick"],
         r["requests_per_tick"], r["requests"], r["client_cpu_s"], r["cpu_per_tick_ms"],
         r["rss_growth_mb"], r["done_after_last_end_s"]]
        for name, r in results.items()
    ]
    print(f"scale: {args.runs} runs in {args.groups} groups, ending over {args.spread} s, "
          f"poll interval {args.interval} s (in-process fake flowServ)")
    print(_common.table(headers, rows))
    verdicts = {}
    if sdk:
        verdicts = {
            "listings_per_tick": _common.verdict(
                sdk["listings_per_tick"], TARGETS["listings_per_tick"]
            ),
            "rss_growth_mb": _common.verdict(sdk["rss_growth_mb"], TARGETS["rss_growth_mb"]),
            "cpu_per_tick_ms (with fetches)": _common.verdict(
                sdk["cpu_per_tick_ms"], TARGETS["cpu_per_tick_ms"]
            ),
        }
        if "sdk-idle" in results:
            verdicts["cpu_per_tick_ms (watcher alone, idle ticks)"] = _common.verdict(
                results["sdk-idle"]["cpu_per_tick_ms"], TARGETS["cpu_per_tick_ms"]
            )
    for name, value in ratios.items():
        print(f"  {name}: {value:.1f}x")
    for name, value in verdicts.items():
        print(f"  target {name}: {value}")
    return {"results": results, "ratios": ratios, "targets": TARGETS, "verdicts": verdicts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--spread", type=float, default=10.0, help="runs end within this many s")
    parser.add_argument("--interval", type=float, default=1.0, help="poll interval (s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--idle-ticks", type=int, default=8)
    parser.add_argument("--variant", choices=VARIANTS, help="measure one variant (in-process)")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(anyio.run(measure, args)))
        return
    results = {name: run_variant(args, name) for name in args.variants.split(",")}
    doc = report(args, results)
    path = _common.write_result("scale", {
        "parameters": {k: v for k, v in vars(args).items() if k != "variant"},
        **doc,
        "note": "CPU per tick counts the client only (the fake server's CPU is subtracted); "
                "requests per tick include the one GET /runs/{id} of every run that ended; "
                "sdk-idle is the watcher's own cost per tick (no run ends), garbage "
                "collection included.",
    })
    print(f"written {path.relative_to(_common.ROOT)}")


if __name__ == "__main__":
    main()
