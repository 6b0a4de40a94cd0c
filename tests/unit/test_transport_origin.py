"""What the transport says depends on where the URL came from (``Origin``), and on the request made.

A client whose URL is the address of the local server of ``aioflowserv server
start`` (running, or where it last ran: a saved login made against it, say)
says that the local server is not running when nothing answers there, and
leaves out the advice about proxies that drop the token's header (the local
server is started so that it keeps it). A check made on the caller's behalf
(the token's ``whoami`` before a listing) fails as the caller's request. The
token is checked before the reads that flowServ answers whatever the token:
the workflow listing, a workflow, a group's groups, a group.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

import aioflowserv as afs
from aioflowserv import _saved
from aioflowserv._config import resolve_origin
from aioflowserv.testing import free_port
from tests.support.documents import BASE, TOKEN, group_doc, workflow_doc

NOT_LOGGED_IN = {"message": "not logged in"}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fresh XDG directories and no flowServ variables: nothing saved yet."""
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    for name in ("FLOWSERV_URL", "FLOWSERV_ACCESS_TOKEN", "FLOWSERV_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_the_origin_knows_the_local_servers_address_after_it_stopped(home: Path) -> None:
    assert not resolve_origin(BASE).local_server
    _saved.remember_local_url(BASE)
    assert resolve_origin(BASE).local_server
    assert resolve_origin(BASE + "/").local_server
    assert not resolve_origin("http://elsewhere.test/flowserv/api/v1").local_server


@pytest.mark.asyncio
async def test_a_stopped_local_server_is_named_as_such(home: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/flowserv/api/v1"
    _saved.remember_local_url(url)
    async with afs.AsyncFlowserv(url, retries=0) as fs:
        with pytest.raises(afs.APIConnectionError) as caught:
            await fs.list_workflows()
    text = str(caught.value)
    assert text.startswith(
        "GET workflows: the local flowServ server is not running: aioflowserv server start"
    )
    assert url in text


@pytest.mark.asyncio
async def test_another_unreachable_server_is_not_called_the_local_one(home: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/flowserv/api/v1"
    async with afs.AsyncFlowserv(url, retries=0) as fs:
        with pytest.raises(afs.APIConnectionError) as caught:
            await fs.list_workflows()
    assert "local flowServ server" not in str(caught.value)
    assert f"cannot connect to {url}" in str(caught.value)


@pytest.mark.asyncio
async def test_a_failed_token_check_names_the_request_the_caller_made(home: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/flowserv/api/v1"
    _saved.remember_local_url(url)
    async with afs.AsyncFlowserv(url, token=TOKEN, retries=0) as fs:
        with pytest.raises(afs.APIConnectionError) as caught:
            await fs.list_workflows()  # the token is checked first, with whoami
    assert caught.value.method == "GET"
    assert caught.value.path == "workflows"
    assert "whoami" not in str(caught.value)


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False, assert_all_mocked=True) as router:
        yield router


def client(api: respx.MockRouter, **options: object) -> afs.AsyncFlowserv:
    return afs.AsyncFlowserv(
        BASE, token=TOKEN, retries=0, transport=httpx.MockTransport(api.async_handler),
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.asyncio
async def test_a_bad_token_against_the_local_server_is_short_and_gives_no_proxy_advice(
    home: Path, api: respx.MockRouter
) -> None:
    _saved.remember_local_url(BASE)
    api.get("/users/whoami").respond(403, json=NOT_LOGGED_IN)
    async with client(api) as fs:
        with pytest.raises(afs.UnauthenticatedError) as caught:
            await fs.whoami()
    text = str(caught.value)
    assert text == (
        "GET users/whoami: 403 not logged in: the token is invalid or expired: log in again "
        "(fs.login(), `aioflowserv login`) or pass another token"
    )
    assert len(text) < 200


@pytest.mark.asyncio
async def test_a_bad_token_elsewhere_mentions_a_proxy_that_drops_the_header_briefly(
    home: Path, api: respx.MockRouter
) -> None:
    api.get("/users/whoami").respond(403, json=NOT_LOGGED_IN)
    async with client(api) as fs:
        with pytest.raises(afs.UnauthenticatedError) as caught:
            await fs.whoami()
    text = str(caught.value)
    assert "behind a proxy, the 'api_key' header may be dropped" in text
    assert len(text) < 300
    assert TOKEN not in text


@pytest.mark.asyncio
async def test_get_group_checks_the_token_the_server_would_not_check(
    home: Path, api: respx.MockRouter
) -> None:
    api.get("/groups/g1").respond(200, json=group_doc("g1"))  # answered whatever the token
    api.get("/users/whoami").respond(403, json=NOT_LOGGED_IN)
    async with client(api) as fs:
        with pytest.raises(afs.UnauthenticatedError) as caught:
            await fs.get_group("g1")
    assert caught.value.path == "groups/g1"
    assert caught.value.token_rejected


@pytest.mark.asyncio
async def test_loading_a_workflow_checks_the_token_first(
    home: Path, api: respx.MockRouter
) -> None:
    api.get("/workflows/sleeper").respond(200, json=workflow_doc("sleeper"))
    group = api.get("/groups/g1").respond(200, json=group_doc("g1"))
    api.get("/users/whoami").respond(403, json=NOT_LOGGED_IN)
    async with client(api) as fs:
        with pytest.raises(afs.UnauthenticatedError):
            await fs.workflow("sleeper", "g1")
    assert group.call_count == 0


@pytest.mark.asyncio
async def test_a_good_token_is_checked_once_for_many_reads(
    home: Path, api: respx.MockRouter
) -> None:
    api.get("/groups/g1").respond(200, json=group_doc("g1"))
    whoami = api.get("/users/whoami").respond(200, json={"id": "u1", "username": "alice"})
    async with client(api) as fs:
        for _ in range(3):
            await fs.get_group("g1")
    assert whoami.call_count == 1
