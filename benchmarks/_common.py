"""Helpers shared by the benchmark scripts: paths, measurements, tables and JSON results."""

from __future__ import annotations

import json
import os
import platform
import resource
import shlex
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

_PAGE = os.sysconf("SC_PAGE_SIZE")
_LOAD_AT_START = os.getloadavg()


def rss_mb() -> float:
    """The process's resident memory now, in MiB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE / 2**20


class MemorySampler:
    """Samples the process's RSS every ``every`` seconds on its own thread.

    The thread's own CPU time so far (``cpu_seconds``) is kept apart, so
    that a benchmark can leave the sampling out of the CPU it charges to the
    code under test.
    """

    def __init__(self, every: float = 0.02) -> None:
        self.every = every
        self.peak = rss_mb()
        self.cpu_seconds = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, rss_mb())
            self.cpu_seconds = time.thread_time()


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time (user + system) used by this process so far."""
    return time.process_time()


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in _LOAD_AT_START],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def summary(values: Sequence[float]) -> dict[str, float]:
    """min / median / mean / max of a sample."""
    return {
        "min": min(values),
        "median": statistics.median(values),
        "mean": statistics.fmean(values),
        "max": max(values),
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table with aligned columns."""
    cells = [[str(h) for h in headers]] + [[_cell(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def write_result(name: str, doc: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/<name>.json`` with the command and machine added."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    doc = {
        "benchmark": name,
        "command": shlex.join([Path(sys.executable).name, _relative(sys.argv[0]), *sys.argv[1:]]),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        **doc,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def _relative(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return path


def verdict(value: float, target: float, *, at_most: bool = True) -> str:
    """'meets' or 'misses (by x%)' for a figure against its target."""
    ok = value <= target if at_most else value >= target
    if ok:
        return "meets"
    return f"misses by {abs(value - target) / target:.0%}"
