"""A batch killed half-way (SIGKILL) continues from its manifest: one run per argument set.

A separate process submits a batch with a manifest and is killed while it is
submitting; the same command run again starts only what has no run yet.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aioflowserv as afs
from aioflowserv.testing import FlowservServer

COUNT = 40

SCRIPT = """
import asyncio, json, sys
import aioflowserv as afs

async def main():
    url, token, group, manifest = sys.argv[1:5]
    async with afs.AsyncFlowserv(url, token=token) as fs:
        wf = await fs.workflow("sleeper", group)
        batch = [{"sleep": 1, "greeting": f"hi {n}"} for n in range(int(sys.argv[5]))]
        runs = await wf.start_runs(batch, manifest=manifest)
    print(json.dumps([run.run_id for run in runs]))

asyncio.run(main())
"""


def submit(server: FlowservServer, user: dict[str, Any], group: str, manifest: Path
           ) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", SCRIPT, server.url, user["token"], group, str(manifest),
         str(COUNT)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def recorded_runs(manifest: Path) -> int:
    try:
        lines = manifest.read_text().splitlines()
    except FileNotFoundError:
        return 0
    return sum(1 for line in lines if '"run_id"' in line)


def test_a_batch_killed_half_way_continues_and_leaves_one_run_per_argument_set(
    server: FlowservServer, user: dict[str, Any], group_id: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "batch.jsonl"
    first = submit(server, user, group_id, manifest)
    deadline = time.monotonic() + 60
    while recorded_runs(manifest) < 3 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(first.pid, signal.SIGKILL)
    first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL
    assert 3 <= recorded_runs(manifest) < COUNT  # killed while it was submitting

    again = submit(server, user, group_id, manifest)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    run_ids = json.loads(out)
    assert len(run_ids) == COUNT

    with afs.Flowserv(server.url, token=user["token"]) as fs:
        listed = [info.run_id for info in fs.list_runs(group_id)]
        runs = fs.get_runs(listed)
    assert sorted(listed) == sorted(run_ids)
    greetings = sorted(run.arguments["greeting"] for run in runs)
    assert greetings == sorted(f"hi {n}" for n in range(COUNT))
    assert [run.arguments["greeting"] for run in fs_order(runs, run_ids)] == [
        f"hi {n}" for n in range(COUNT)
    ]


def fs_order(runs: list[afs.Run], run_ids: list[str]) -> list[afs.Run]:
    by_id = {run.run_id: run for run in runs}
    return [by_id[run_id] for run_id in run_ids]
