#!/usr/bin/env python3
"""Scale: watching 1,000, 10,000 and 100,000 active runs in 10 groups, as a growth table.

Runs live on the in-process fake flowServ (:class:`aioflowserv.testing.FakeFlowserv`,
the real response shapes) and end at random times over ~10 s. Each variant runs in its
own fresh process (so that memory figures do not mix), on the same seed, at each size
of ``--sizes``; ``sdk-tasks`` and ``raw`` only at ``--compare-size`` (10,000):

- ``sdk``: one ``as_completed`` over all runs (one watcher, one wait);
- ``sdk-tasks``: one ``wait()`` task per run (10,000 waits sharing the watcher);
- ``raw``: the baseline, one task per run polling ``GET /runs/{id}`` with an
  ``httpx.AsyncClient`` every interval, as a hand-written loop would;
- ``sdk-idle``: the watcher's own cost per tick while no run ends.

CPU figures are the client's: the fake server's own CPU time (measured inside
its handler) is subtracted, since a real server runs in another process.

``sdk`` also reports how late the ticks were (the gaps between a group's
listings, against the poll interval) and how long after its end each run was
reported (``as_completed`` yielded it), in intervals; and how fast the full
records of ended runs were fetched, against how fast runs ended: when runs end
faster than records can be fetched, that rate, not the ticks, bounds the
reporting. The targets (issue 18): at 100,000 runs ticks on time (no gap over
1.5 intervals while runs end), idle CPU per tick <= 100 ms, RSS growth <= 150 MB,
every run reported within 2 intervals of its end once the records can be
fetched; at 10,000 idle CPU per tick <= 15 ms.
"""

from __future__ import annotations

import argparse
import gc
import itertools
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
SIZE_VARIANTS = ("sdk", "sdk-idle")
TARGETS = {
    100_000: {"idle_cpu_per_tick_ms": 100, "rss_growth_mb": 150, "max_gap_intervals": 1.5,
              "report_intervals": 2},
    10_000: {"idle_cpu_per_tick_ms": 15},
}
ACTIVE = {"PENDING", "RUNNING"}
"""The run states a hand-written poll loop waits through."""


class Noting(httpx.AsyncBaseTransport):
    """The fake flowServ, noting when each group was listed and each record answered."""

    def __init__(self, fake: FakeFlowserv) -> None:
        self.fake = fake
        self.listed: dict[str, list[float]] = {}
        self.fetched: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/runs") and "/groups/" in path:
            self.listed.setdefault(path, []).append(anyio.current_time())
        response = await self.fake.handle_async_request(request)
        if "/runs/" in path and request.method == "GET":
            self.fetched.append(anyio.current_time())
        return response


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    offsets = [rng.uniform(0.5, args.spread) for _ in range(args.runs)]
    fake = FakeFlowserv()
    fake.record_requests = False
    groups = [fake.add_group() for _ in range(args.groups)]
    run_ids = [fake.add_run(groups[i % args.groups]) for i in range(args.runs)]
    snapshots = [fake.snapshot(run_id) for run_id in run_ids] if args.variant != "raw" else []
    noting = Noting(fake)
    reported: list[float] = []

    async with afs.AsyncFlowserv(
        BASE_URL, token=fake.token, transport=noting, retries=0,
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
                async for run in fs.as_completed(snapshots):
                    ended += 1  # a consumer that handles each run and lets it go
                    end = fake.run(run.run_id).finished
                    assert end is not None
                    reported.append(anyio.current_time() - end)
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
    extra: dict[str, Any] = {}
    if args.variant == "sdk":
        # Gaps between a group's listings while runs were ending (after the first listing).
        gaps = [
            later - earlier
            for times in noting.listed.values()
            for earlier, later in itertools.pairwise(times)
            if earlier < last_end
        ]
        reported.sort()
        ending = [t for t in noting.fetched if t <= last_end + 1]
        extra = {
            "listing_gap_s": _common.summary(gaps) if gaps else None,
            "max_gap_intervals": max(gaps) / args.interval if gaps else None,
            "reported_after_end_s": {
                **_common.summary(reported), "p99": reported[int(0.99 * (len(reported) - 1))],
            },
            "max_report_intervals": reported[-1] / args.interval,
            "runs_ending_per_s": args.runs / (max(offsets) - min(offsets)),
            "records_fetched_per_s": len(noting.fetched) / max(
                1e-9, max(noting.fetched) - min(noting.fetched)) if noting.fetched else 0.0,
            "records_fetched_by_last_end_plus_1s": len(ending),
        }
    return {
        **extra,
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


def run_variant(args: argparse.Namespace, variant: str, runs: int) -> dict[str, Any]:
    command = [
        sys.executable, __file__, "--variant", variant, "--runs", str(runs),
        "--groups", str(args.groups), "--spread", str(args.spread),
        "--interval", str(args.interval), "--seed", str(args.seed),
        "--idle-ticks", str(args.idle_ticks),
    ]
    out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=1800)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def growth_table(args: argparse.Namespace, sizes: dict[int, dict[str, dict[str, Any]]]) -> None:
    headers = [
        "active runs", "CPU/tick idle ms", "CPU/tick ending ms", "RSS growth idle MB",
        "RSS growth ending MB", "listing gap max (intervals)", "reported after end median s",
        "max s", "runs ending/s", "records fetched/s", "done after last end s",
    ]
    rows = []
    for runs, results in sizes.items():
        sdk, idle = results.get("sdk", {}), results.get("sdk-idle", {})
        rows.append([
            f"{runs:,}", idle.get("cpu_per_tick_ms", "-"), sdk.get("cpu_per_tick_ms", "-"),
            idle.get("rss_growth_mb", "-"), sdk.get("rss_growth_mb", "-"),
            sdk.get("max_gap_intervals") or "-",
            sdk["reported_after_end_s"]["median"] if sdk else "-",
            sdk["reported_after_end_s"]["max"] if sdk else "-",
            sdk.get("runs_ending_per_s", "-"), sdk.get("records_fetched_per_s", "-"),
            sdk.get("done_after_last_end_s", "-"),
        ])
    print(f"scale: runs in {args.groups} groups, ending over {args.spread} s, poll interval "
          f"{args.interval} s (in-process fake flowServ); one as_completed over every run")
    print(_common.table(headers, rows))


def compare_table(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> dict[str, float]:
    sdk, raw = results.get("sdk"), results.get("raw")
    ratios: dict[str, float] = {}
    if sdk and raw:
        ratios = {
            "raw_requests_over_sdk": raw["requests"] / sdk["requests"],
            "raw_cpu_over_sdk": raw["client_cpu_s"] / sdk["client_cpu_s"],
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
    print(f"\nat {args.compare_size:,} runs: the SDK against one task per run (sdk-tasks) and "
          "per-run polling with raw httpx (raw)")
    print(_common.table(headers, rows))
    for name, value in ratios.items():
        print(f"  {name}: {value:.1f}x")
    return ratios


def verdicts_for(args: argparse.Namespace,
                 sizes: dict[int, dict[str, dict[str, Any]]]) -> dict[str, str]:
    verdicts: dict[str, str] = {}
    for runs, targets in TARGETS.items():
        results = sizes.get(runs)
        if not results:
            continue
        idle, sdk = results.get("sdk-idle"), results.get("sdk")
        if idle:
            verdicts[f"{runs:,}: idle CPU per tick <= {targets['idle_cpu_per_tick_ms']} ms"] = (
                _common.verdict(idle["cpu_per_tick_ms"], targets["idle_cpu_per_tick_ms"]))
        if sdk and "rss_growth_mb" in targets:
            growth = max(sdk["rss_growth_mb"], idle["rss_growth_mb"] if idle else 0.0)
            verdicts[f"{runs:,}: RSS growth <= {targets['rss_growth_mb']} MB"] = (
                _common.verdict(growth, targets["rss_growth_mb"]))
            verdicts[f"{runs:,}: ticks on time (gaps <= {targets['max_gap_intervals']} "
                     "intervals)"] = _common.verdict(
                sdk["max_gap_intervals"], targets["max_gap_intervals"])
            bound = sdk["records_fetched_per_s"] < sdk["runs_ending_per_s"]
            verdict = _common.verdict(sdk["max_report_intervals"], targets["report_intervals"])
            if bound and not verdict.startswith("meets"):
                fetched, ending = sdk["records_fetched_per_s"], sdk["runs_ending_per_s"]
                verdict += (f" (bounded by fetching the records: {fetched:,.0f}/s against "
                            f"{ending:,.0f} runs ending/s)")
            verdicts[f"{runs:,}: every run reported within {targets['report_intervals']} "
                     "intervals of its end"] = verdict
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--runs", type=int, default=10_000, help="(with --variant) runs")
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--spread", type=float, default=10.0, help="runs end within this many s")
    parser.add_argument("--interval", type=float, default=1.0, help="poll interval (s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--idle-ticks", type=int, default=8)
    parser.add_argument("--compare-size", type=int, default=10_000,
                        help="the size at which sdk-tasks and raw run too (0: never)")
    parser.add_argument("--variant", choices=VARIANTS, help="measure one variant (in-process)")
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(anyio.run(measure, args)))
        return
    sizes: dict[int, dict[str, dict[str, Any]]] = {}
    for runs in args.sizes:
        names = VARIANTS if runs == args.compare_size else SIZE_VARIANTS
        sizes[runs] = {name: run_variant(args, name, runs) for name in names}
    growth_table(args, sizes)
    ratios = compare_table(args, sizes[args.compare_size]) if args.compare_size in sizes else {}
    verdicts = verdicts_for(args, sizes)
    for name, value in verdicts.items():
        print(f"  target {name}: {value}")
    path = _common.write_result("scale", {
        "parameters": {k: v for k, v in vars(args).items() if k not in ("variant", "runs")},
        "sizes": {str(runs): results for runs, results in sizes.items()},
        "ratios": ratios, "targets": {str(k): v for k, v in TARGETS.items()},
        "verdicts": verdicts,
        "note": "CPU per tick counts the client only (the fake server's CPU is subtracted); "
                "sdk-idle is the watcher's own cost per tick (no run ends), garbage collection "
                "included; RSS growth is the peak over the run; reported after end = from a "
                "run's end on the fake's clock to as_completed yielding it.",
    })
    print(f"written {path.relative_to(_common.ROOT)}")


if __name__ == "__main__":
    main()
