#!/usr/bin/env python3
"""Run every benchmark (`make bench`); gather the results in benchmarks/results/latest.json.

Each benchmark runs as its own process, prints its table and writes
``benchmarks/results/<name>.json``; this script collects those files. The
scale benchmark takes about a minute, batch (a real flowServ server, 1,200
runs) a few minutes, submit (every concurrency and auto on the development
server, gunicorn + PostgreSQL and a fake; a fresh server per batch) about a
quarter of an hour; the figures are ratios against baselines measured in the
same run, so a quiet machine gives the most trustworthy ones.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import _common

BENCHMARKS: dict[str, list[str]] = {
    "overhead": ["overhead.py", "--real"],
    "latency": ["latency.py"],
    "scale": ["scale.py"],
    "batch": ["batch.py"],
    "downloads": ["downloads.py"],
    "submit": ["submit.py", "--rounds", "10"],
    "sweep": ["sweep.py"],
}


def target_lines(collected: dict[str, object]) -> list[str]:
    """Every target a benchmark judged, as ``benchmark: target: met|missed (...)``."""
    lines: list[str] = []

    def add(prefix: str, verdicts: object) -> None:
        if isinstance(verdicts, str):
            lines.append(f"{prefix}: {_met(verdicts)}")
        elif isinstance(verdicts, dict):
            for name, value in verdicts.items():
                add(f"{prefix}: {name}", value)

    for name, doc in collected.items():
        if isinstance(doc, dict):
            add(name, doc.get("verdicts", doc.get("verdict")))
    return lines


def _met(verdict: str) -> str:
    """``meets`` -> ``met``; anything else is a miss, with what the benchmark said about it."""
    return "met" if verdict == "meets" else f"missed ({verdict})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), default=list(BENCHMARKS))
    args = parser.parse_args()
    collected: dict[str, object] = {}
    failed: list[str] = []
    for name in args.only:
        script, *options = BENCHMARKS[name]
        print(f"== {name} ==", flush=True)
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, str(_common.ROOT / "benchmarks" / script), *options],
            cwd=_common.ROOT,
        )
        if result.returncode != 0:
            failed.append(name)
            print(f"!! {name} failed with exit code {result.returncode}", flush=True)
            continue
        collected[name] = json.loads((_common.RESULTS / f"{name}.json").read_text())
        print(f"({name} took {time.monotonic() - started:.0f} s)\n", flush=True)
    targets = target_lines(collected)
    print("== targets (met / missed, measured in this run) ==")
    for line in targets:
        print(f"  {line}")
    path = _common.write_result(
        "latest", {"benchmarks": collected, "targets": targets, "failed": failed}
    )
    print(f"written {path.relative_to(_common.ROOT)}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
