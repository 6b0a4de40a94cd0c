#!/usr/bin/env python3
"""Bulk downloads against a real flowServ server: download_results vs a plain loop, and a resume.

A real server (``aioflowserv.testing.FlowservServer``) gets one group with
``--runs`` finished sleeper runs. Their results are then downloaded into a
fresh directory, ``--rounds`` times per variant, the variants taking turns:

- ``loop``: what users write by hand (reana-client#493 was answered with a
  shell loop): one ``httpx.Client``, the group's listing, then for each run
  its record (for the JSON beside the files) and its archive, unpacked with
  ``tarfile`` (``filter="data"``), one run after the other;
- ``sdk``: ``await fs.download_results(group, directory, concurrency=4)`` (as
  ``aioflowserv download --group`` does);
- ``resume``: the same call again into the directory ``sdk`` just filled
  (every run is complete on disk, so nothing is fetched).

Figures are ratios of wall time against ``loop`` measured in the same rounds.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tarfile
import tempfile
import time
from pathlib import Path

import anyio
import httpx

import _common
import aioflowserv as afs
from aioflowserv.testing import FlowservServer

TARGET_SDK_OVER_LOOP = 1.0
TARGET_RESUME_OVER_SDK = 0.1


def loop(server: FlowservServer, token: str, group: str, directory: Path) -> int:
    """Download every successful run one after the other with plain httpx; returns the runs."""
    count = 0
    with httpx.Client(base_url=server.url + "/", headers={"api_key": token}, timeout=30) as http:
        for entry in http.get(f"groups/{group}/runs").json()["runs"]:
            if entry["state"] != "SUCCESS":
                continue
            folder = directory / entry["id"]
            folder.mkdir(parents=True)
            run = http.get(f"runs/{entry['id']}").json()
            archive = http.get(f"runs/{entry['id']}/downloads/archive")
            with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as tar:
                tar.extractall(folder, filter="data")
            (folder / "run.json").write_text(json.dumps(run))
            count += 1
    return count


async def sdk(server: FlowservServer, token: str, group: str, directory: Path) -> int:
    async with afs.AsyncFlowserv(server.url, token=token) as fs:
        done = await fs.download_results(group, directory, states=["SUCCESS"], concurrency=4)
    return len(done)


def timed(variant: str, *args: object) -> tuple[int, float]:
    started = time.perf_counter()
    count = anyio.run(sdk, *args) if variant == "sdk" else loop(*args)  # type: ignore[arg-type]
    return count, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=40, help="finished runs in the group")
    parser.add_argument("--rounds", type=int, default=5, help="downloads per variant")
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {"loop": [], "sdk": [], "resume": []}
    with FlowservServer() as server, tempfile.TemporaryDirectory() as scratch:
        user = server.create_user()
        token, group = user["token"], server.create_group(user["token"])
        with afs.Flowserv(server.url, token=token) as fs:
            runs = fs.workflow("sleeper", group).start_runs(
                [{"sleep": 0, "greeting": f"Hi {i}"} for i in range(args.runs)],
                concurrency=1, poll_interval=0.1, timeout=300,
            )
        assert all(run.is_success() for run in runs)
        for index in range(args.rounds):
            order = ["loop", "sdk"] if index % 2 == 0 else ["sdk", "loop"]
            for variant in order:
                directory = Path(scratch) / f"{variant}-{index}"
                count, took = timed(variant, server, token, group, directory)
                assert count == args.runs, (variant, count)
                seconds[variant].append(took)
                if variant == "sdk":
                    count, took = timed("sdk", server, token, group, directory)
                    assert count == args.runs
                    seconds["resume"].append(took)
    median = {variant: statistics.median(values) for variant, values in seconds.items()}
    ratios = {
        "sdk_over_loop": median["sdk"] / median["loop"],
        "resume_over_sdk": median["resume"] / median["sdk"],
    }
    print(f"downloads: {args.runs} finished runs, {args.rounds} rounds per variant, "
          "real flowServ on loopback")
    rows = [[variant, *(_common.summary(values)[k] for k in ("min", "median", "max"))]
            for variant, values in seconds.items()]
    print(_common.table(["variant", "min s", "median s", "max s"], rows))
    for name, value in ratios.items():
        print(f"  {name}: {value:.2f}x")
    verdicts = {
        "sdk_over_loop": _common.verdict(ratios["sdk_over_loop"], TARGET_SDK_OVER_LOOP),
        "resume_over_sdk": _common.verdict(ratios["resume_over_sdk"], TARGET_RESUME_OVER_SDK),
    }
    print(f"  target sdk/loop <= {TARGET_SDK_OVER_LOOP}: {verdicts['sdk_over_loop']}")
    print(f"  target resume/sdk <= {TARGET_RESUME_OVER_SDK}: {verdicts['resume_over_sdk']}")
    path = _common.write_result("downloads", {
        "parameters": vars(args), "seconds": seconds,
        "median": median, "ratios": ratios, "verdicts": verdicts,
    })
    print(f"written {path.relative_to(_common.ROOT)}")


if __name__ == "__main__":
    main()
