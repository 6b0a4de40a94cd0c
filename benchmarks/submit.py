#!/usr/bin/env python3
"""Batch submission: concurrency 1 to 32, a plain loop and ``"auto"``, on three deployments.

Three deployments, each gets every variant in turns:

- ``dev``: the flask development server over SQLite (what ``make demo`` runs);
- ``gunicorn-postgresql``: gunicorn with 4 sync workers over PostgreSQL 16
  (``FlowservServer(workers=4, database="postgresql")``);
- ``fake``: the in-process fake flowServ with 40 ms latency per request and
  unlimited parallel capacity (a server far away that scales).

Variants: ``loop`` (``for args in batch: await wf.start_run(args)``),
``start_runs(concurrency=N)`` for N in 1, 2, 4, 8, 16, 32, and
``start_runs(concurrency="auto")`` (on the real servers only those of
``--variants``: by default loop, c1 and auto). Each batch is ``--runs`` runs of
``sleep=1`` (40 by default: a short batch, where a ramp-up costs most; 160 on the
fake) through a fresh client, as a script would, into
a fresh group. Every round starts a fresh server, warmed up by one run start:
flowServ 0.8.1 slows down as runs pile up in one server, and its very first
run start is several times slower than the next ones, which a server in use
has long behind it. The variants take turns, the order rotating every round
(every variant runs first once in eight rounds), so that the server's drift
within a round and other load on the machine hit them alike. Throughput is runs started per
second of submission, summed over a variant's batches. On the real servers
each batch is followed until its runs ended (with a deadline); runs still
active then are "stuck": flowServ 0.8.1's race leaves a run RUNNING for good
when its start took longer than the run. The figures: each variant's runs/s
and stuck runs, auto over the best fixed concurrency and over the loop, and
the limit auto settled on.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import time
from collections import Counter
from typing import Any

import anyio

import _common
import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv, FlowservServer

FIXED = (1, 2, 4, 8, 16, 32)
VARIANTS = ("loop", *(f"c{n}" for n in FIXED), "auto")
DEPLOYMENTS = ("dev", "gunicorn-postgresql", "fake")
TARGET = 0.95
TARGET_LOOP = 0.97
"""auto against a plain loop on the real servers (median over rounds of the paired ratio)."""
FAKE_LATENCY = 0.04


async def submit(fs: afs.AsyncFlowserv, group: str, variant: str, count: int) -> dict[str, Any]:
    """One batch; returns run ids, failures, seconds and (auto) the limit it settled on."""
    wf = await fs.workflow("sleeper", group)
    batch = [{"sleep": 1}] * count
    started = time.perf_counter()
    settled = peak = None
    if variant == "loop":
        runs: list[Any] = []
        for args in batch:
            try:
                runs.append(await wf.start_run(args))
            except afs.FlowservError as exc:
                runs.append(exc)
    else:
        concurrency: Any = "auto" if variant == "auto" else int(variant[1:])
        result = await wf.start_runs(batch, concurrency=concurrency, return_exceptions=True)
        runs, settled, peak = list(result), result.concurrency, result.peak_concurrency
    seconds = time.perf_counter() - started
    return {
        "run_ids": [run.run_id for run in runs if isinstance(run, afs.Run)],
        "errors": [type(run).__name__ for run in runs if not isinstance(run, afs.Run)],
        "seconds": seconds, "settled": settled, "peak": peak,
    }


async def stuck_runs(fs: afs.AsyncFlowserv, run_ids: list[str], deadline: float) -> list[str]:
    """Wait for the runs to end; those still active at the deadline."""
    try:
        await fs.wait_all(run_ids, timeout=deadline, poll_interval=0.5)
    except afs.RunWaitTimeout as exc:
        return [run.run_id for run in exc.pending]
    return []


def warm_up(server: FlowservServer) -> str:
    """A user of a fresh server, after one run start and its end; returns the token."""
    token: str = server.create_user()["token"]

    async def go() -> None:
        async with afs.AsyncFlowserv(server.url, token=token) as fs:
            wf = await fs.workflow("sleeper", (await fs.create_group("sleeper", "warm-up")).id)
            await wf.start_run({"sleep": 0.5}, poll_interval=0.2, timeout=30)

    anyio.run(go)
    return token


def real_batch(server: FlowservServer, token: str, variant: str, count: int,
               settle: float) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        async with afs.AsyncFlowserv(server.url, token=token) as fs:
            group = (await fs.create_group("sleeper", f"{variant}-{time.time_ns()}")).id
            outcome = await submit(fs, group, variant, count)
            outcome["stuck"] = await stuck_runs(fs, outcome["run_ids"], settle)
        return outcome

    return anyio.run(go)


def fake_batch(variant: str, count: int) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        fake = FakeFlowserv(latency=FAKE_LATENCY)
        group = fake.add_group()
        async with afs.AsyncFlowserv(fake.url, token=fake.token, transport=fake) as fs:
            outcome = await submit(fs, group, variant, count)
        outcome["stuck"] = []
        return outcome

    return anyio.run(go)


def measure(
    deployment: str, rounds: int, count: int, settle: float, variants: tuple[str, ...] = VARIANTS
) -> dict[str, Any]:
    """Every variant, ``rounds`` times, in rotating order, on one deployment."""
    totals: dict[str, dict[str, Any]] = {
        v: {"started": 0, "seconds": 0.0, "stuck": 0, "errors": Counter(), "settled": [],
            "peak": [], "batch_rates": []}
        for v in variants
    }

    def record(variant: str, outcome: dict[str, Any]) -> None:
        total = totals[variant]
        total["started"] += len(outcome["run_ids"])
        total["seconds"] += outcome["seconds"]
        total["stuck"] += len(outcome["stuck"])
        total["errors"].update(outcome["errors"])
        total["batch_rates"].append(len(outcome["run_ids"]) / outcome["seconds"])
        if outcome["settled"] is not None:
            total["settled"].append(outcome["settled"])
            total["peak"].append(outcome["peak"])
        print(f"  {deployment} {variant:5} {len(outcome['run_ids']) / outcome['seconds']:8.1f} "
              f"runs/s  stuck {len(outcome['stuck'])}"
              + (f"  settled {outcome['settled']} (peak {outcome['peak']})"
                 if variant == "auto" else ""), flush=True)

    def rotation(index: int) -> tuple[str, ...]:
        shift = index % len(variants)
        return variants[shift:] + variants[:shift]

    shape = {} if deployment == "dev" else {"workers": 4, "database": "postgresql"}
    for index in range(rounds):
        if deployment == "fake":
            for variant in rotation(index):
                record(variant, fake_batch(variant, count))
            continue
        with FlowservServer(**shape) as server:
            token = warm_up(server)
            for variant in rotation(index):
                record(variant, real_batch(server, token, variant, count, settle))
    for total in totals.values():
        total["runs_per_s"] = total["started"] / total["seconds"] if total["seconds"] else 0.0
        total["errors"] = dict(total["errors"])
    rate = {v: totals[v]["runs_per_s"] for v in variants}
    fixed = [n for n in FIXED if f"c{n}" in variants]
    median = {v: statistics.median(totals[v]["batch_rates"]) for v in variants}
    result: dict[str, Any] = {"variants": totals, "median_rates": median,
                              "stuck_auto": totals["auto"]["stuck"]}
    # The paired ratios: auto against another variant in the same round (same server,
    # same moment), their median over rounds; drifting load hits both sides of a pair.
    def paired(other: str) -> float:
        return statistics.median(
            a / b for a, b in zip(totals["auto"]["batch_rates"], totals[other]["batch_rates"],
                                  strict=True)
        )

    if fixed:
        best = max(fixed, key=lambda n: rate[f"c{n}"])
        best_median = max(fixed, key=lambda n: median[f"c{n}"])
        result.update({
            "best_fixed": best,
            "auto_over_best_fixed": rate["auto"] / rate[f"c{best}"],
            "best_fixed_by_median": best_median,
            "auto_over_best_fixed_by_median": median["auto"] / median[f"c{best_median}"],
            "auto_over_best_fixed_paired": paired(f"c{best_median}"),
        })
    if "loop" in variants:
        result.update({
            "auto_over_loop": rate["auto"] / rate["loop"],
            "auto_over_loop_by_median": median["auto"] / median["loop"],
            "auto_over_loop_paired": paired("loop"),
            "stuck_loop": totals["loop"]["stuck"],
        })
    return result


def main() -> None:
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))  # stop the servers too
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deployments", nargs="+", choices=DEPLOYMENTS, default=DEPLOYMENTS)
    parser.add_argument("--runs", type=int, default=40, help="runs per batch on the real servers")
    parser.add_argument("--fake-runs", type=int, default=160, help="runs per batch on the fake")
    parser.add_argument("--rounds", type=int, default=8, help="batches per variant (real servers)")
    parser.add_argument("--fake-rounds", type=int, default=10, help="batches per variant (fake)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=["loop", "c1", "auto"],
                        help="the variants on the real servers (the fake runs every one)")
    parser.add_argument("--settle", type=float, default=10.0,
                        help="seconds a batch's runs may take to end before they count as stuck")
    args = parser.parse_args()
    results = {}
    for deployment in args.deployments:
        fake = deployment == "fake"
        variants = VARIANTS if fake else tuple(v for v in VARIANTS if v in args.variants)
        if "auto" not in variants:
            parser.error("--variants must include auto")
        print(f"== {deployment} ==", flush=True)
        results[deployment] = measure(
            deployment, args.fake_rounds if fake else args.rounds,
            args.fake_runs if fake else args.runs, args.settle, variants,
        )
    headers = ["deployment", "runs/s (stuck) per variant", "auto settled", "auto / loop",
               "auto / best fixed"]
    rows = []
    for deployment, result in results.items():
        totals = result["variants"]
        settled = Counter(totals["auto"]["settled"])
        rows.append([
            deployment,
            ", ".join(f"{v} {totals[v]['runs_per_s']:.1f}" + (f" ({totals[v]['stuck']})"
                                                             if totals[v]["stuck"] else "")
                      for v in totals),
            ", ".join(f"{limit}" + (f" x{n}" if n > 1 else "")
                      for limit, n in sorted(settled.items())),
            f"{result['auto_over_loop_paired']:.2f}" if "auto_over_loop_paired" in result
            else "-",
            f"{result['auto_over_best_fixed_paired']:.2f} (c{result['best_fixed_by_median']})"
            if "auto_over_best_fixed_paired" in result else "-",
        ])
    print("submit: runs/s (runs left stuck) per variant; auto's ratios, median over rounds of "
          "the ratio within each round")
    print(_common.table(headers, rows))
    verdicts: dict[str, dict[str, str]] = {}
    for deployment, result in results.items():
        checks: dict[str, str] = {}
        if deployment == "fake":
            checks["auto_over_best_fixed"] = _common.verdict(
                result["auto_over_best_fixed_paired"], TARGET, at_most=False)
        else:
            checks["auto_over_loop"] = _common.verdict(
                result["auto_over_loop_paired"], TARGET_LOOP, at_most=False)
        stuck_base = result.get("stuck_loop", 0)
        checks["stuck"] = "meets" if result["stuck_auto"] <= stuck_base else (
            f"misses ({result['stuck_auto']} vs {stuck_base})")
        verdicts[deployment] = checks
        print(f"  {deployment}: " + ", ".join(f"{k} {v}" for k, v in checks.items()))
    path = _common.write_result("submit", {
        "parameters": vars(args), "results": results, "target": TARGET,
        "target_loop": TARGET_LOOP, "verdicts": verdicts,
        "note": "runs/s = runs started per second of submission, summed over a variant's "
                "batches (fresh warmed-up server per round, fresh group and client per batch, "
                "variants in rotating turns); the ratios are the median over rounds of auto's "
                "rate over the other's in the same round; stuck = runs still active when their "
                "batch's settle time ran out.",
    })
    print(f"written {path.relative_to(_common.ROOT)}")


if __name__ == "__main__":
    main()
