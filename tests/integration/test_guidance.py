"""A newcomer's mistakes against the real server: errors that say what to do, readable objects.

Each case of a first hour with the SDK: a bad token (the server says "not
authorized" or answers as if it were fine), a group of another workflow, a
mapping given to the client-level start, a URL without the API path, an
unknown workflow's groups, a server that accepts connections and never
answers; then the reprs and HTML tables of what the server returns.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.realserver import DEADLINE, POLL, QUICK, WORKFLOWS

BAD_TOKEN = "0" * 32


@pytest.mark.asyncio
async def test_a_bad_token_on_a_run_is_unauthenticated_not_unauthorized(
    server: FlowservServer, group_id: str
) -> None:
    async with afs.AsyncFlowserv(server.url, token=BAD_TOKEN) as fs:
        with pytest.raises(afs.UnauthenticatedError) as caught:
            await fs.list_runs(group_id)  # the server answers 403 "not authorized"
    assert "the token is invalid or expired" in str(caught.value)
    assert caught.value.token_rejected


@pytest.mark.asyncio
async def test_a_valid_token_of_a_non_member_stays_unauthorized(
    server: FlowservServer, group_id: str
) -> None:
    other = server.create_user()
    async with afs.AsyncFlowserv(server.url, token=other["token"]) as fs:
        with pytest.raises(afs.UnauthorizedError):
            await fs.list_runs(group_id)


@pytest.mark.asyncio
async def test_listing_workflows_with_a_bad_token_does_not_succeed_silently(
    server: FlowservServer,
) -> None:
    async with afs.AsyncFlowserv(server.url, token=BAD_TOKEN) as fs:
        with pytest.raises(afs.UnauthenticatedError, match="invalid or expired"):
            await fs.list_workflows()
    async with afs.AsyncFlowserv(server.url) as anonymous:  # no token: a public listing
        assert {info.id for info in await anonymous.list_workflows()} == WORKFLOWS


@pytest.mark.asyncio
async def test_listing_groups_with_a_bad_token_does_not_list_everyones(
    server: FlowservServer, group_id: str
) -> None:
    async with afs.AsyncFlowserv(server.url, token=BAD_TOKEN) as fs:
        with pytest.raises(afs.UnauthenticatedError):
            await fs.list_groups("sleeper")  # the server would list all groups of everyone


@pytest.mark.asyncio
async def test_groups_of_an_unknown_workflow_are_not_found(client: afs.AsyncFlowserv) -> None:
    with pytest.raises(afs.NotFoundError, match="unknown workflow 'sleepr'"):
        await client.list_groups("sleepr")


@pytest.mark.asyncio
async def test_a_group_of_another_workflow_is_refused_before_anything_else(
    client: afs.AsyncFlowserv, group_id: str
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await client.workflow("types", group_id)
    assert "belongs to workflow 'sleeper', not to 'types'" in str(caught.value)
    assert await client.list_runs(group_id) == []


def test_the_sync_workflow_refuses_a_group_of_another_workflow(
    sync_client: afs.Flowserv, group_id: str
) -> None:
    with pytest.raises(afs.InvalidArgumentError, match="not to 'types'"):
        afs.Workflow("types", group_id, service=sync_client)


@pytest.mark.asyncio
async def test_the_client_level_start_checks_a_mapping(
    client: afs.AsyncFlowserv, group_id: str
) -> None:
    with pytest.raises(afs.InvalidArgumentError, match="'sleep'"):
        await client.start_run(group_id, {"sleep": "abc"})
    with pytest.raises(afs.UnknownParameterError):
        await client.start_run(group_id, {"slep": 1})
    assert await client.list_runs(group_id) == []  # nothing was started
    run = await client.start_run(group_id, {"sleep": QUICK, "greeting": "Hi"})
    final = await client.wait(run, timeout=DEADLINE, poll_interval=POLL)
    assert final.is_success()
    assert final.arguments["greeting"] == "Hi"


def test_the_sync_client_level_start_takes_a_mapping(
    sync_client: afs.Flowserv, group_id: str
) -> None:
    run = sync_client.start_run(group_id, {"sleep": QUICK, "mode": "upper"})
    assert sync_client.wait(run, timeout=DEADLINE, poll_interval=POLL).is_success()


@pytest.mark.asyncio
async def test_a_url_without_the_api_path_is_explained(server: FlowservServer) -> None:
    parts = urlsplit(server.url)
    root = f"{parts.scheme}://{parts.netloc}"
    async with afs.AsyncFlowserv(root) as fs:
        with pytest.raises(afs.ConfigurationError) as caught:
            await fs.list_workflows()
    assert f"did you mean {server.url}?" in str(caught.value)
    async with afs.AsyncFlowserv(root + "/api") as fs:
        with pytest.raises(afs.ConfigurationError, match="/flowserv/api/v1"):
            await fs.list_workflows()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/flowserv/api/v1"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


@pytest.mark.asyncio
async def test_a_server_that_never_answers_fails_within_the_retry_time_limit(
    silent_server: str,
) -> None:
    policy = afs.RetryPolicy(attempts=10, initial_wait=0, jitter=0, timeout=1.0)
    async with afs.AsyncFlowserv(silent_server, timeout=0.4, retries=policy) as fs:
        with pytest.raises(afs.APITimeoutError) as caught:
            await fs.list_workflows()
    error = caught.value
    assert 2 <= error.attempts < 10  # the limit, not the count, ended the retries
    assert f"{error.attempts} attempts in" in str(error)
    assert "the retry policy's time limit of 1 s was reached" in str(error)


# -- objects that read well -------------------------------------------------------------


@pytest.mark.asyncio
async def test_real_objects_have_short_reprs_and_html_tables(
    client: afs.AsyncFlowserv, workflow: afs.AsyncWorkflow, group_id: str
) -> None:
    run = await workflow.start_run({"sleep": QUICK}, poll_interval=POLL,
                                   timeout=DEADLINE)
    group = await client.get_group(group_id)
    listing = await client.list_workflows()
    info = await client.get_workflow("sleeper")
    runs = await workflow.list_runs()
    for obj in (run, group, info, await workflow.parameters(), runs, *listing):
        text = repr(obj)
        assert text.startswith("<")
        assert len(text) <= 200, text
    assert "parameters not loaded" in repr(next(i for i in listing if i.id == "sleeper"))
    assert repr(runs) == "<RunList: 1 run: 1 SUCCESS>"
    assert repr(group).endswith("6 parameters, 0 files, 1 run (1 SUCCESS)>")
    for obj in (run, group, info, await workflow.parameters(), runs):
        assert obj._repr_html_().startswith("<table>")
    assert run.run_id in runs._repr_html_()


def test_sync_errors_name_the_sync_method(sync_client: afs.Flowserv, group_id: str) -> None:
    wf = sync_client.workflow("sleeper", group_id)
    with pytest.raises(TypeError, match=r"^Workflow\.start_run\(\): missing a required"):
        wf.start_run()  # type: ignore[call-arg]
