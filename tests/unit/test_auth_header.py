"""The token travels in exactly one header, ``api_key`` unless configured otherwise.

Calls that need a token fail on the client, with nothing sent, when there is none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx

import aioflowserv as afs

from ._support import BASE, TOKEN, group_doc, run_doc, workflow_doc

pytestmark = pytest.mark.asyncio

Call = Callable[[afs.AsyncFlowserv], Awaitable[Any]]

NEEDS_TOKEN: dict[str, Call] = {
    "logout": lambda fs: fs.logout(),
    "whoami": lambda fs: fs.whoami(),
    "create_group": lambda fs: fs.create_group("sleeper", "team"),
    "get_group": lambda fs: fs.get_group("g1"),
    "list_groups": lambda fs: fs.list_groups("sleeper"),
    "update_group": lambda fs: fs.update_group("g1", name="x"),
    "delete_group": lambda fs: fs.delete_group("g1"),
    "upload_file": lambda fs: fs.upload_file("g1", b"data"),
    "list_files": lambda fs: fs.list_files("g1"),
    "delete_file": lambda fs: fs.delete_file("g1", "f1"),
    "list_runs": lambda fs: fs.list_runs("g1"),
    "get_run": lambda fs: fs.get_run("r1"),
    "start_run": lambda fs: fs.start_run("g1", []),
    "cancel_run": lambda fs: fs.cancel_run("r1"),
    "delete_run": lambda fs: fs.delete_run("r1"),
    "workflow": lambda fs: fs.workflow("sleeper", "g1"),
}
"""Every call whose endpoint answers 403 "not logged in" without a token."""

NO_TOKEN_NEEDED: dict[str, Call] = {
    "service_info": lambda fs: fs.service_info(),
    "list_workflows": lambda fs: fs.list_workflows(),
    "get_workflow": lambda fs: fs.get_workflow("sleeper"),
    "download_file": lambda fs: fs.download_file("g1", "f1"),
    "download_run_file": lambda fs: fs.download_run_file("r1", "f1"),
    "download_run_archive": lambda fs: fs.download_run_archive("r1"),
}


def answer_everything(api: respx.MockRouter) -> None:
    """Route every endpoint used above to a plausible success answer."""
    user = {"id": "u1", "username": "alice", "token": TOKEN}
    api.get("/").respond(200, json={"name": "flowServ", "version": "0.8.1", "routes": []})
    api.post("/users/logout").respond(200, json=user)
    api.get("/users/whoami").respond(200, json=user)
    api.get("/workflows").respond(200, json={"workflows": []})
    api.get("/workflows/sleeper").respond(200, json=workflow_doc())
    api.post("/workflows/sleeper/groups").respond(201, json=group_doc())
    api.get("/workflows/sleeper/groups").respond(200, json={"groups": []})
    api.get("/groups/g1").respond(200, json=group_doc())
    api.put("/groups/g1").respond(200, json=group_doc())
    api.delete("/groups/g1").respond(204)
    api.post("/uploads/g1/files").respond(201, json={"id": "f1", "name": "file"})
    api.get("/uploads/g1/files").respond(200, json={"files": []})
    api.get("/uploads/g1/files/f1").respond(200, content=b"x")
    api.delete("/uploads/g1/files/f1").respond(204)
    api.get("/groups/g1/runs").respond(200, json={"runs": []})
    api.post("/groups/g1/runs").respond(201, json=run_doc())
    api.get("/runs/r1").respond(200, json=run_doc())
    api.put("/runs/r1").respond(200, json=run_doc(state="CANCELED"))
    api.delete("/runs/r1").respond(204)
    api.get("/runs/r1/downloads/files/f1").respond(200, content=b"x")
    api.get("/runs/r1/downloads/archive").respond(200, content=b"x")


@pytest.mark.parametrize("call", list(NEEDS_TOKEN.values()), ids=list(NEEDS_TOKEN))
async def test_token_is_sent_in_exactly_one_api_key_header(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, call: Call
) -> None:
    answer_everything(api)
    await call(fs)
    assert api.calls
    for sent in api.calls:
        assert sent.request.headers.get_list("api_key") == [TOKEN]
        assert "api-key" not in sent.request.headers
        assert "authorization" not in sent.request.headers


@pytest.mark.parametrize("call", list(NEEDS_TOKEN.values()), ids=list(NEEDS_TOKEN))
async def test_call_that_needs_a_token_fails_locally_without_one(
    api: respx.MockRouter, anonymous: afs.AsyncFlowserv, call: Call
) -> None:
    answer_everything(api)
    with pytest.raises(afs.UnauthenticatedError) as caught:
        await call(anonymous)
    assert caught.value.status_code == 403
    assert "not logged in" in str(caught.value)
    assert api.calls.call_count == 0


@pytest.mark.parametrize("call", list(NO_TOKEN_NEEDED.values()), ids=list(NO_TOKEN_NEEDED))
async def test_call_without_token_sends_no_token_header(
    api: respx.MockRouter, anonymous: afs.AsyncFlowserv, call: Call
) -> None:
    answer_everything(api)
    await call(anonymous)
    assert api.calls.call_count == 1
    headers = api.calls.last.request.headers
    assert "api_key" not in headers
    assert "api-key" not in headers


async def test_auth_header_name_is_configurable(
    api: respx.MockRouter, transport: httpx.MockTransport
) -> None:
    route = api.get("/runs/r1").respond(200, json=run_doc())
    async with afs.AsyncFlowserv(
        BASE, token=TOKEN, auth_header="X-Flowserv-Token", transport=transport
    ) as fs:
        await fs.get_run("r1")
    headers = route.calls.last.request.headers
    assert headers.get_list("X-Flowserv-Token") == [TOKEN]
    assert "api_key" not in headers


async def test_setting_the_token_adds_the_header_and_clearing_it_removes_it(
    api: respx.MockRouter, anonymous: afs.AsyncFlowserv
) -> None:
    route = api.get("/workflows").respond(200, json={"workflows": []})
    anonymous.token = "later"
    await anonymous.list_workflows()
    anonymous.token = None
    await anonymous.list_workflows()
    first, second = (call.request.headers for call in route.calls)
    assert first.get_list("api_key") == ["later"]
    assert "api_key" not in second


async def test_logout_without_token_sends_nothing_and_stays_logged_out(
    api: respx.MockRouter, anonymous: afs.AsyncFlowserv
) -> None:
    route = api.post("/users/logout").respond(200, json={"id": "u1", "username": "alice"})
    with pytest.raises(afs.UnauthenticatedError):
        await anonymous.logout()
    assert route.call_count == 0
    assert anonymous.token is None


async def test_token_that_cannot_be_a_header_value_is_refused_without_echoing_it(
    api: respx.MockRouter,
) -> None:
    with pytest.raises(afs.ConfigurationError) as caught:
        afs.AsyncFlowserv(BASE, token="secret with\nnewline")
    assert "secret" not in str(caught.value)
    assert api.calls.call_count == 0


async def test_empty_auth_header_name_is_a_configuration_error() -> None:
    with pytest.raises(afs.ConfigurationError):
        afs.AsyncFlowserv(BASE, token=TOKEN, auth_header=" ")


async def test_token_comes_from_flowserv_access_token(
    api: respx.MockRouter, transport: httpx.MockTransport, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("FLOWSERV_ACCESS_TOKEN", "fromenv")
    route = api.get("/users/whoami").respond(
        200, json={"id": "u1", "username": "alice", "token": "fromenv"}
    )
    async with afs.AsyncFlowserv(BASE, transport=transport) as fs:
        assert fs.token == "fromenv"
        await fs.whoami()
    assert route.calls.last.request.headers.get_list("api_key") == ["fromenv"]


async def test_token_argument_wins_over_the_environment(
    api: respx.MockRouter, transport: httpx.MockTransport, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("FLOWSERV_ACCESS_TOKEN", "fromenv")
    route = api.get("/users/whoami").respond(
        200, json={"id": "u1", "username": "alice", "token": "given"}
    )
    async with afs.AsyncFlowserv(BASE, token="given", transport=transport) as fs:
        await fs.whoami()
    assert route.calls.last.request.headers.get_list("api_key") == ["given"]


async def test_plain_httpx_mock_transport_sees_the_same_single_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=run_doc())

    async with afs.AsyncFlowserv(
        BASE, token=TOKEN, transport=httpx.MockTransport(handler)
    ) as fs:
        await fs.get_run("r1")
    (request,) = seen
    assert request.url == httpx.URL(BASE + "/runs/r1")
    assert request.headers.get_list("api_key") == [TOKEN]
