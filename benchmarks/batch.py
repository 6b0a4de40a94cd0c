#!/usr/bin/env python3
"""Batch submission against a real flowServ server: start_runs vs raw httpx vs a sequential loop.

A real server (``aioflowserv.testing.FlowservServer``, the pinned flowServ on
loopback) gets ``--runs`` runs of the sleeper workflow with ``sleep=1`` three
ways, each into its own fresh group:

- ``sdk``: ``await wf.start_runs(arguments, concurrency=16)``;
- ``raw``: ``httpx.AsyncClient`` posting the same wire arguments, 16 at a time;
- ``sequential``: one ``POST`` after the other with a plain ``httpx.Client``,
  as flowServ's own client starts runs.

The variants take turns in chunks (``--chunk`` runs per submission call, the
order rotating), so that the server's drift over the benchmark (its database
grows, other load comes and goes) hits them alike. Throughput is runs started
per second of submission, summed over a variant's chunks. After each chunk the
script waits (with a deadline) until its runs ended, so that the next chunk
does not compete with them, and reports runs the server left RUNNING: under
concurrent starts a POST can take longer than the 1 s run, and the server's
known race then overwrites the run's final state with RUNNING for good.
"""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter

import anyio
import httpx

import _common
import aioflowserv as afs
from aioflowserv.testing import FlowservServer

VARIANTS = ("sdk", "raw", "sequential")
TARGET_SDK_OVER_RAW = 0.9


Submitted = tuple[list[str], list[str]]
"""Ids of the runs started, and a short description of each failure."""


async def submit_sdk(server: FlowservServer, token: str, group: str, count: int,
                     concurrency: int) -> Submitted:
    async with afs.AsyncFlowserv(server.url, token=token) as fs:
        workflow = await fs.workflow("sleeper", group)
        results = await workflow.start_runs(
            [{"sleep": 1}] * count, concurrency=concurrency, return_exceptions=True
        )
    return (
        [run.run_id for run in results if isinstance(run, afs.Run)],
        [_describe(item) for item in results if not isinstance(item, afs.Run)],
    )


async def submit_raw(server: FlowservServer, token: str, group: str, count: int,
                     concurrency: int) -> Submitted:
    limiter = anyio.CapacityLimiter(concurrency)
    run_ids: list[str] = []
    errors: list[str] = []
    async with httpx.AsyncClient(
        base_url=server.url + "/", headers={"api_key": token}, timeout=30.0
    ) as client:

        async def submit() -> None:
            async with limiter:
                try:
                    answer = await client.post(f"groups/{group}/runs", json={"arguments": WIRE})
                except httpx.HTTPError as exc:
                    errors.append(_describe(exc))
                    return
                if answer.status_code == 201:
                    run_ids.append(answer.json()["id"])
                else:
                    errors.append(f"HTTP {answer.status_code}")

        async with anyio.create_task_group() as tg:
            for _ in range(count):
                tg.start_soon(submit)
    return run_ids, errors


def submit_sequential(server: FlowservServer, token: str, group: str, count: int,
                      concurrency: int) -> Submitted:
    run_ids: list[str] = []
    errors: list[str] = []
    with httpx.Client(base_url=server.url + "/", headers={"api_key": token}, timeout=30.0) as c:
        for _ in range(count):
            try:
                answer = c.post(f"groups/{group}/runs", json={"arguments": WIRE})
            except httpx.HTTPError as exc:
                errors.append(_describe(exc))
                continue
            if answer.status_code == 201:
                run_ids.append(answer.json()["id"])
            else:
                errors.append(f"HTTP {answer.status_code}")
    return run_ids, errors


def _describe(error: object) -> str:
    status = getattr(error, "status_code", None)
    return f"{type(error).__name__}" + (f" {status}" if status else "")


WIRE = [
    {"name": "sleep", "value": 1.0}, {"name": "greeting", "value": "Hello"},
    {"name": "exitcode", "value": 0}, {"name": "mode", "value": "plain"},
    {"name": "shout", "value": False},
]
"""What start_runs sends for {"sleep": 1}: every default filled in (checked below)."""


async def settle(server: FlowservServer, token: str, run_ids: list[str],
                 deadline: float) -> list[str]:
    """Wait for the runs to end; return those still active at the deadline."""
    async with afs.AsyncFlowserv(server.url, token=token) as fs:
        try:
            await fs.wait_all(run_ids, timeout=deadline, poll_interval=0.5)
        except afs.RunWaitTimeout as exc:
            return [run.run_id for run in exc.pending]
    return []


def submit(server: FlowservServer, variant: str, token: str, group: str, count: int,
           concurrency: int) -> tuple[Submitted, float]:
    started = time.perf_counter()
    if variant == "sequential":
        submitted = submit_sequential(server, token, group, count, concurrency)
    else:
        call = submit_sdk if variant == "sdk" else submit_raw
        submitted = anyio.run(call, server, token, group, count, concurrency)
    return submitted, time.perf_counter() - started


async def check_wire(server: FlowservServer) -> None:
    """Make sure the raw variants send exactly what start_runs sends."""
    user = server.create_user()
    group = server.create_group(user["token"])
    async with afs.AsyncFlowserv(server.url, token=user["token"]) as fs:
        workflow = await fs.workflow("sleeper", group)
        (run,) = await workflow.start_runs([{"sleep": 1}])
        sent = (await fs.get_run(run.run_id)).doc["arguments"]
    if sent != WIRE:
        raise SystemExit(f"raw variants would send {WIRE}, start_runs sends {sent}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="runs per variant")
    parser.add_argument("--chunk", type=int, default=50,
                        help="runs per submission call; the variants take turns chunk by chunk")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--settle", type=float, default=15.0,
                        help="seconds to wait for a chunk's runs to end before the next chunk")
    args = parser.parse_args()
    totals = {
        variant: {"started": 0, "failed": 0, "seconds": 0.0, "errors": Counter(), "stuck": []}
        for variant in VARIANTS
    }
    chunks = []
    with FlowservServer() as server:
        anyio.run(check_wire, server)
        accounts = {}
        for variant in VARIANTS:
            user = server.create_user()
            accounts[variant] = (user["token"], server.create_group(user["token"]))
        for index in range(math.ceil(args.runs / args.chunk)):
            count = min(args.chunk, args.runs - index * args.chunk)
            for variant in VARIANTS[index % 3:] + VARIANTS[:index % 3]:
                token, group = accounts[variant]
                (run_ids, errors), seconds = submit(
                    server, variant, token, group, count, args.concurrency
                )
                stuck = anyio.run(settle, server, token, run_ids, args.settle)
                total = totals[variant]
                total["started"] += len(run_ids)
                total["failed"] += len(errors)
                total["seconds"] += seconds
                total["errors"].update(errors)
                total["stuck"].extend(stuck)
                chunks.append({"variant": variant, "runs": count, "started": len(run_ids),
                               "seconds": seconds, "errors": errors, "stuck": len(stuck)})
    for total in totals.values():
        total["runs_per_s"] = total["started"] / total["seconds"]
        total["errors"] = dict(total["errors"])
    rate = {variant: totals[variant]["runs_per_s"] for variant in VARIANTS}
    ratios = {
        "sdk_over_raw": rate["sdk"] / rate["raw"],
        "sdk_over_sequential": rate["sdk"] / rate["sequential"],
        "raw_over_sequential": rate["raw"] / rate["sequential"],
    }
    headers = ["variant", "started", "failed", "submission s", "runs/s", "left RUNNING", "errors"]
    rows = [
        [name, t["started"], t["failed"], t["seconds"], t["runs_per_s"], len(t["stuck"]),
         ", ".join(f"{k} x{v}" for k, v in t["errors"].items()) or "-"]
        for name, t in totals.items()
    ]
    print(f"batch: {args.runs} runs of sleep=1 per variant against a real flowServ on loopback, "
          f"concurrency {args.concurrency}, in turns of {args.chunk}")
    print(_common.table(headers, rows))
    for name, value in ratios.items():
        print(f"  {name}: {value:.2f}x")
    verdict = _common.verdict(ratios["sdk_over_raw"], TARGET_SDK_OVER_RAW, at_most=False)
    print(f"  target sdk/raw throughput >= {TARGET_SDK_OVER_RAW}: {verdict}")
    path = _common.write_result("batch", {
        "parameters": vars(args), "totals": totals, "chunks": chunks, "ratios": ratios,
        "target_sdk_over_raw": TARGET_SDK_OVER_RAW, "verdict": verdict,
        "note": "Throughput of submissions only (POSTs until every run was created), summed "
                "over the chunks of each variant; the variants take turns so that the "
                "server's drift hits them alike. 'left RUNNING' counts runs still active "
                "when their chunk's settle time ran out (the server's race).",
    })
    print(f"written {path.relative_to(_common.ROOT)}")


if __name__ == "__main__":
    main()
