#!/usr/bin/env python3
"""Batch submission against a real flowServ server: start_runs vs raw httpx vs a sequential loop.

A real server (``aioflowserv.testing.FlowservServer``, the pinned flowServ on
loopback) gets ``--runs`` runs of the sleeper workflow with ``sleep=1`` three
ways, each into its own fresh group:

- ``sdk``: ``await wf.start_runs(arguments, concurrency=16)``;
- ``raw``: ``httpx.AsyncClient`` posting the same wire arguments, 16 at a time;
- ``sequential``: one ``POST`` after the other with a plain ``httpx.Client``,
  as flowServ's own client starts runs.

Throughput is runs started per second of submission; the ratios use each
variant's best round. After each variant the script waits (with a deadline)
until its runs ended, so that the next one does not compete with them, and
reports runs the server left RUNNING: under concurrent starts a POST can take
longer than the 1 s run, and the server's known race then overwrites the
run's final state with RUNNING for good.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import anyio
import httpx

import _common
import aioflowserv as afs
from aioflowserv.testing import FlowservServer

VARIANTS = ("sdk", "raw", "sequential")
TARGET_SDK_OVER_RAW = 0.9


async def submit_sdk(server: FlowservServer, token: str, group: str, args: Any) -> list[str]:
    async with afs.AsyncFlowserv(server.url, token=token) as fs:
        workflow = await fs.workflow("sleeper", group)
        results = await workflow.start_runs(
            [{"sleep": 1}] * args.runs, concurrency=args.concurrency, return_exceptions=True
        )
    return [run.run_id for run in results if isinstance(run, afs.Run)]


async def submit_raw(server: FlowservServer, token: str, group: str, args: Any) -> list[str]:
    limiter = anyio.CapacityLimiter(args.concurrency)
    run_ids: list[str] = []
    async with httpx.AsyncClient(
        base_url=server.url + "/", headers={"api_key": token}, timeout=60.0
    ) as client:

        async def submit() -> None:
            async with limiter:
                answer = await client.post(f"groups/{group}/runs", json={"arguments": WIRE})
                if answer.status_code == 201:
                    run_ids.append(answer.json()["id"])

        async with anyio.create_task_group() as tg:
            for _ in range(args.runs):
                tg.start_soon(submit)
    return run_ids


def submit_sequential(server: FlowservServer, token: str, group: str, args: Any) -> list[str]:
    run_ids = []
    with httpx.Client(base_url=server.url + "/", headers={"api_key": token}, timeout=60.0) as c:
        for _ in range(args.runs):
            answer = c.post(f"groups/{group}/runs", json={"arguments": WIRE})
            if answer.status_code == 201:
                run_ids.append(answer.json()["id"])
    return run_ids


WIRE = [
    {"name": "sleep", "value": 1.0}, {"name": "greeting", "value": "Hello"},
    {"name": "exitcode", "value": 0}, {"name": "mode", "value": "plain"},
    {"name": "shout", "value": False},
]
"""What start_runs sends for {"sleep": 1}: every default filled in (checked below)."""


async def settle(server: FlowservServer, token: str, run_ids: list[str], deadline: float) -> dict:
    """Wait for the runs to end; report those still active at the deadline."""
    async with afs.AsyncFlowserv(server.url, token=token) as fs:
        try:
            finals = await fs.wait_all(run_ids, timeout=deadline, poll_interval=0.5)
        except afs.RunWaitTimeout as exc:
            return {"ended": len(exc.completed), "stuck": [run.run_id for run in exc.pending]}
    states: dict[str, int] = {}
    for run in finals:
        states[run.state.value] = states.get(run.state.value, 0) + 1
    return {"ended": len(finals), "stuck": [], "states": states}


def measure(server: FlowservServer, variant: str, args: Any) -> dict[str, Any]:
    user = server.create_user()
    group = server.create_group(user["token"])
    token = user["token"]
    started = time.perf_counter()
    if variant == "sdk":
        run_ids = anyio.run(submit_sdk, server, token, group, args)
    elif variant == "raw":
        run_ids = anyio.run(submit_raw, server, token, group, args)
    else:
        run_ids = submit_sequential(server, token, group, args)
    seconds = time.perf_counter() - started
    settled = anyio.run(settle, server, token, run_ids, args.deadline)
    return {
        "variant": variant,
        "submitted": len(run_ids),
        "failed": args.runs - len(run_ids),
        "seconds": seconds,
        "runs_per_s": len(run_ids) / seconds,
        **settled,
    }


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
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2,
                        help="each round runs every variant (the order rotates)")
    parser.add_argument("--deadline", type=float, default=45.0,
                        help="seconds to wait for a variant's runs to end")
    args = parser.parse_args()
    rounds: list[dict[str, dict[str, Any]]] = []
    with FlowservServer() as server:
        anyio.run(check_wire, server)
        for index in range(args.rounds):
            order = VARIANTS[index % 3:] + VARIANTS[:index % 3]
            rounds.append({variant: measure(server, variant, args) for variant in order})
    best = {
        variant: max(r[variant]["runs_per_s"] for r in rounds) for variant in VARIANTS
    }
    ratios = {
        "sdk_over_raw": best["sdk"] / best["raw"],
        "sdk_over_sequential": best["sdk"] / best["sequential"],
        "raw_over_sequential": best["raw"] / best["sequential"],
    }
    headers = ["round", "variant", "started", "failed", "seconds", "runs/s", "ended", "stuck"]
    rows = [
        [index + 1, name, r["submitted"], r["failed"], r["seconds"], r["runs_per_s"],
         r["ended"], len(r["stuck"])]
        for index, by_variant in enumerate(rounds) for name, r in by_variant.items()
    ]
    print(f"batch: {args.runs} runs of sleep=1 against a real flowServ on loopback, "
          f"concurrency {args.concurrency}")
    print(_common.table(headers, rows))
    for name, value in ratios.items():
        print(f"  {name}: {value:.2f}x")
    verdict = _common.verdict(ratios["sdk_over_raw"], TARGET_SDK_OVER_RAW, at_most=False)
    print(f"  target sdk/raw throughput >= {TARGET_SDK_OVER_RAW}: {verdict}")
    path = _common.write_result("batch", {
        "parameters": vars(args), "rounds": rounds, "best_runs_per_s": best, "ratios": ratios,
        "target_sdk_over_raw": TARGET_SDK_OVER_RAW, "verdict": verdict,
        "note": "Throughput of submissions only (POSTs until every run was created). "
                "'stuck' lists runs still active at the deadline (the server's race).",
    })
    print(f"written {path.relative_to(_common.ROOT)}")


if __name__ == "__main__":
    main()
