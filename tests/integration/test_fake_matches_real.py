"""FakeFlowserv answers as the real server does: the same run, files and leaderboard shapes.

Users test their code against the fake; these tests keep it honest by doing
the same thing against both and comparing what comes back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv, FlowservServer
from tests.support.realserver import DEADLINE, POLL, QUICK


async def outputs(wf: afs.AsyncWorkflow, names: Path) -> tuple[bytes, bytes, list[str]]:
    """Greetings, result.json and the archive's members of one run with an uploaded names file."""
    run = await wf.start_run(
        {"sleep": QUICK, "names": names, "greeting": "Hi", "mode": "upper"},
        poll_interval=POLL, timeout=DEADLINE,
    )
    assert run.is_success()
    files = {f.name: f.id for f in run.files()}
    greetings = await (await wf.get_file(run.run_id, files["greetings"])).read()
    result = await (await wf.get_file(run.run_id, files["result"])).read()
    archive = await wf.get_file(run.run_id)
    extracted = await archive.extract(names.parent / f"out-{run.run_id}")
    return greetings, result, sorted(p.name for p in extracted)


@pytest.mark.asyncio
async def test_a_runs_files_are_the_same_on_the_fake(
    workflow: afs.AsyncWorkflow, tmp_path: Path
) -> None:
    names = tmp_path / "people.txt"
    names.write_text("Ada\nGrace\n")
    real = await outputs(workflow, names)
    fake = FakeFlowserv()
    async with afs.AsyncFlowserv(fake.url, token=fake.token, transport=fake) as fs:
        faked = await outputs(await fs.workflow("sleeper", fake.add_group()), names)
    assert real[0] == b"HI ADA!\nHI GRACE!\n"
    assert faked == real


def shape(doc: Any) -> Any:
    """Keys, all the way down (values left out; lists by their first element)."""
    if isinstance(doc, dict):
        return {key: shape(value) for key, value in doc.items()}
    if isinstance(doc, list):
        return [shape(doc[0])] if doc else []
    return type(doc).__name__


@pytest.mark.asyncio
async def test_the_leaderboard_has_the_real_shape_on_the_fake(
    server: FlowservServer, workflow: afs.AsyncWorkflow
) -> None:
    await workflow.start_run({"sleep": QUICK}, poll_interval=POLL, timeout=DEADLINE)
    fake = FakeFlowserv()
    async with afs.AsyncFlowserv(fake.url, token=fake.token, transport=fake) as fs:
        wf = await fs.workflow("sleeper", fake.add_group())
        await wf.start_run({"sleep": 0.01}, poll_interval=0.01)
    async with httpx.AsyncClient() as http:
        real = (await http.get(f"{server.url}/workflows/sleeper/leaderboard")).json()
    async with httpx.AsyncClient(transport=fake) as http:
        faked = (await http.get(f"{fake.url}/workflows/sleeper/leaderboard")).json()
    assert faked["schema"] == real["schema"]
    real.pop("postproc", None)  # the session's other tests make post-processing runs
    assert shape(faked) == shape(real)
