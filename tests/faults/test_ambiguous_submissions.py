"""Run starts and uploads whose answer never came, against the real server.

A submission that may have reached the server is never sent twice. The client
searches the group for what it may have created: exactly one match is the
outcome, anything else is :class:`SubmissionUncertainError` with what is
needed to check later.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import anyio
import pytest
import pytest_asyncio

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.proxy import FaultProxy

TIMEOUT = 2.0
NAMES = b"Ada\nGrace\n"


def run_start(method: str, path: str) -> bool:
    return method == "POST" and path.endswith("/runs")


def upload(method: str, path: str) -> bool:
    return method == "POST" and "/uploads/" in path


class Setup:
    """A group on the fault server, a client through the proxy and one straight to the server."""

    def __init__(
        self, group_id: str, proxy: FaultProxy, fs: afs.AsyncFlowserv, direct: afs.AsyncFlowserv
    ) -> None:
        self.group_id = group_id
        self.proxy = proxy
        self.fs = fs
        self.direct = direct

    async def workflow(self) -> afs.AsyncWorkflow:
        return await self.fs.workflow("sleeper", self.group_id)

    async def server_runs(self) -> list[afs.Run]:
        listing = await self.direct.list_runs(self.group_id)
        return [await self.direct.get_run(info.run_id) for info in listing]

    def posts(self, path_part: str) -> int:
        return len(self.proxy.requests("POST", path_part))


@pytest_asyncio.fixture
async def setup(
    fault_server: FlowservServer, fault_user: dict[str, Any]
) -> AsyncIterator[Setup]:
    token = fault_user["token"]
    group_id = fault_server.create_group(token, "sleeper")
    async with (
        FaultProxy(fault_server.port, hold=TIMEOUT + 1.0, delay=1.5) as proxy,
        afs.AsyncFlowserv(proxy.url(), token=token, timeout=TIMEOUT) as fs,
        afs.AsyncFlowserv(fault_server.url, token=token) as direct,
    ):
        yield Setup(group_id, proxy, fs, direct)


@pytest.mark.asyncio
async def test_run_start_lost_on_the_way_raises_uncertain_with_what_to_check(
    setup: Setup,
) -> None:
    wf = await setup.workflow()
    setup.proxy.inject("reset_request", run_start)
    before = datetime.now().astimezone()
    with pytest.raises(afs.SubmissionUncertainError) as caught:
        await wf.start_run({"greeting": "lost", "sleep": 1.0})
    error = caught.value
    assert setup.posts("/runs") == 1
    assert await setup.server_runs() == []
    assert error.group_id == setup.group_id
    assert error.candidates == []
    assert {"name": "greeting", "value": "lost"} in (error.arguments or [])
    assert error.sent_at is not None
    assert datetime.fromisoformat(error.sent_at) >= before
    assert "may or may not" in str(error)


@pytest.mark.asyncio
async def test_run_start_cut_off_mid_answer_resolves_to_the_run_it_made(setup: Setup) -> None:
    wf = await setup.workflow()
    setup.proxy.inject("reset_response", run_start)
    run = await wf.start_run({"greeting": "cut", "sleep": 1.0})
    assert setup.posts("/runs") == 1
    assert [r.run_id for r in await setup.server_runs()] == [run.run_id]
    assert run.arguments["greeting"] == "cut"


@pytest.mark.asyncio
async def test_run_start_answered_by_a_gateway_error_is_not_sent_again(
    setup: Setup,
) -> None:
    wf = await setup.workflow()
    setup.proxy.inject("status_502", run_start)
    with pytest.raises(afs.SubmissionUncertainError) as caught:
        await wf.start_run({"greeting": "gateway", "sleep": 1.0})
    assert setup.posts("/runs") == 1
    assert "502" in str(caught.value)
    assert await setup.server_runs() == []


@pytest.mark.asyncio
async def test_identical_run_from_elsewhere_makes_a_lost_start_uncertain(setup: Setup) -> None:
    wf = await setup.workflow()
    arguments = {"greeting": "twin", "sleep": 1.0}
    other = await (await setup.direct.workflow("sleeper", setup.group_id)).start_run(arguments)
    setup.proxy.inject("hold", run_start)
    with pytest.raises(afs.SubmissionUncertainError) as caught:
        await wf.start_run(arguments)
    on_server = {r.run_id for r in await setup.server_runs()}
    assert len(on_server) == 2
    assert other.run_id in on_server
    assert set(caught.value.candidates) == on_server


@pytest.mark.asyncio
async def test_lost_start_does_not_take_the_run_of_an_identical_start_in_flight(
    setup: Setup,
) -> None:
    wf = await setup.workflow()
    arguments = {"greeting": "replica", "sleep": 1.0}
    # One replica never arrives; the other arrives at once but its answer is slow.
    setup.proxy.inject("reset_request", run_start)
    setup.proxy.inject("slow_answer", run_start)
    outcomes: list[afs.Run | afs.FlowservError] = []

    async def start() -> None:
        try:
            outcomes.append(await wf.start_run(arguments))
        except afs.FlowservError as exc:
            outcomes.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(start)
        tg.start_soon(start)
    runs = [o for o in outcomes if isinstance(o, afs.Run)]
    errors = [o for o in outcomes if isinstance(o, afs.FlowservError)]
    assert [r.run_id for r in await setup.server_runs()] == [r.run_id for r in runs]
    assert len(runs) == 1
    assert len(errors) == 1
    assert isinstance(errors[0], afs.SubmissionUncertainError)
    assert errors[0].candidates == []


@pytest.mark.asyncio
async def test_upload_lost_on_the_way_stops_the_run_start_as_uncertain(setup: Setup) -> None:
    wf = await setup.workflow()
    setup.proxy.inject("reset_request", upload)
    with pytest.raises(afs.SubmissionUncertainError) as caught:
        await wf.start_run(
            {"greeting": "no-upload", "names": afs.FileArgument(NAMES, "my names.txt")}
        )
    error = caught.value
    assert error.filename == "my_names.txt"
    assert error.candidates == []
    assert error.arguments is None
    assert await setup.direct.list_files(setup.group_id) == []
    assert await setup.server_runs() == []
    assert setup.posts("/runs") == 0


@pytest.mark.asyncio
async def test_upload_cut_off_mid_answer_resolves_to_the_file_with_its_content(
    setup: Setup,
) -> None:
    wf = await setup.workflow()
    # Same name, other content, uploaded just before: not taken for ours.
    decoy = await setup.direct.upload_file(setup.group_id, b"Someone\n", filename="names.txt")
    setup.proxy.inject("reset_response", upload)
    run = await wf.start_run(
        {"greeting": "cut-upload", "names": afs.FileArgument(NAMES, "names.txt")}
    )
    files = await setup.direct.list_files(setup.group_id)
    assert len(files) == 2
    (mine,) = [f for f in files if f.id != decoy.id]
    assert run.arguments["names"]["value"]["fileId"] == mine.id
    assert setup.posts("/uploads/") == 1


@pytest.mark.asyncio
async def test_identical_upload_from_elsewhere_makes_a_lost_upload_uncertain(
    setup: Setup,
) -> None:
    twin = await setup.direct.upload_file(setup.group_id, NAMES, filename="names.txt")
    setup.proxy.inject("hold", upload)
    with pytest.raises(afs.SubmissionUncertainError) as caught:
        await setup.fs.upload_file(setup.group_id, NAMES, filename="names.txt")
    files = {f.id for f in await setup.direct.list_files(setup.group_id)}
    assert len(files) == 2
    assert twin.id in files
    assert set(caught.value.candidates) == files
