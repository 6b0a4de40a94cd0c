"""Security: the token stays secret, identifiers stay in their route, TLS is verified,
redirects are not followed."""

from __future__ import annotations

import logging
import ssl
import subprocess
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import pytest

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.canned import API_PATH, Answer, CannedServer, Recorded
from tests.support.realserver import QUICK

TOKEN = "tok-5e1f0c9d2b7a4e68"
DESCRIPTOR = {"name": "fake flowServ", "version": "0.8.1", "routes": []}


# -- the token never leaks ------------------------------------------------------------------


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in ("aioflowserv", "httpx", "httpcore", ""):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.mark.asyncio
async def test_token_and_password_never_appear_in_debug_logs_of_a_full_flow(
    server: FlowservServer, debug_logs: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    username, password = f"secretive-{uuid.uuid4().hex[:8]}", "pa55-w0rd-xyzzy"
    secrets: list[str] = [password]
    async with afs.AsyncFlowserv(server.url) as fs:
        await fs.register_user(username, password)
        token = await fs.login(username, password)
        secrets.append(token)
        await fs.whoami()
        group = await fs.create_group("sleeper", f"g-{uuid.uuid4().hex[:8]}")
        wf = await fs.workflow("sleeper", group.id)
        run = await wf.start_run({"sleep": QUICK, "names": b"Ada\n"}, poll_interval=0.1, timeout=60)
        assert run.is_success()
        await (await wf.get_file(run.run_id, run.files()[0].id)).save(tmp_path)
        await (await wf.get_file(run.run_id)).extract(tmp_path / "archive")
        long = await wf.start_run({"sleep": 60})
        await wf.cancel_run(long.run_id, "not needed")
        await wf.delete_run(long.run_id)
        with pytest.raises(afs.NotFoundError):
            await wf.poll_run(long.run_id)
        await fs.logout()
        with pytest.raises(afs.UnauthenticatedError):
            await fs.whoami()
    records = debug_logs.records
    assert any(r.name.startswith("httpcore") for r in records)  # DEBUG logging was on
    assert any(r.name == "aioflowserv.http" for r in records)  # the request lines
    for secret in secrets:
        assert secret not in debug_logs.text
        for record in records:
            assert secret not in record.getMessage()
            assert secret not in repr(record.args)


@pytest.mark.asyncio
async def test_token_is_not_in_reprs_or_error_messages(
    server: FlowservServer, member: dict[str, Any], tmp_path: Path
) -> None:
    token = member["token"]
    shown: list[str] = []
    async with afs.AsyncFlowserv(server.url, token=token) as fs:
        wf = await fs.workflow("sleeper", member["sleeper"])
        run = await wf.start_run({"sleep": QUICK}, poll_interval=0.1, timeout=60)
        handle = await wf.get_file(run.run_id, run.files()[0].id)
        shown += [repr(fs), str(fs), repr(fs.settings), repr(wf), repr(run), repr(handle)]
        with pytest.raises(afs.FlowservError) as caught:
            await fs.get_run("0" * 32)
        shown += [str(caught.value), repr(caught.value)]
    with afs.Flowserv(server.url, token=token) as sync:
        sync_wf = sync.workflow("sleeper", member["sleeper"])
        shown += [repr(sync), repr(sync_wf), repr(sync_wf.get_file(run.run_id, run.files()[0].id))]
    assert all(shown)
    for text in shown:
        assert token not in text


@pytest.mark.asyncio
async def test_a_login_answer_cut_short_does_not_put_the_token_in_the_error() -> None:
    cut = b'{"id": "c96498aa", "token": "' + TOKEN.encode() + b'", "username": "al'
    routes = {"/users/login": Answer(200, cut, {"Content-Type": "application/json"})}
    async with CannedServer(routes) as fake, afs.AsyncFlowserv(fake.url, retries=0) as fs:
        with pytest.raises(afs.InvalidResponseError) as caught:
            await fs.login("alice", "secret")
    assert "did not answer with JSON" in str(caught.value)
    assert TOKEN[:6] not in str(caught.value)


@pytest.mark.asyncio
async def test_a_server_that_echoes_the_token_in_an_error_does_not_leak_it() -> None:
    def echo(request: Recorded) -> Answer:
        return Answer.json({"message": f"bad key {request.headers.get('api_key')}"}, 400)

    async with CannedServer({"/runs/r1": echo}) as fake, afs.AsyncFlowserv(
        fake.url, token=TOKEN, retries=0
    ) as fs:
        with pytest.raises(afs.InvalidRequestError) as caught:
            await fs.get_run("r1")
    assert fake.requests[0].headers["api_key"] == TOKEN  # it was echoed ...
    assert "bad key ***" in str(caught.value)  # ... and blanked out
    assert TOKEN not in str(caught.value)


# -- identifiers stay in their route -----------------------------------------------------------

Call = Callable[[afs.AsyncFlowserv, str], Awaitable[object]]
ID_CALLS: dict[str, Call] = {
    "get_run": lambda fs, x: fs.get_run(x),
    "cancel_run": lambda fs, x: fs.cancel_run(x, "why"),
    "delete_run": lambda fs, x: fs.delete_run(x),
    "download_run_file/run": lambda fs, x: fs.download_run_file(x, "f1"),
    "download_run_file/file": lambda fs, x: fs.download_run_file("r1", x),
    "download_run_archive": lambda fs, x: fs.download_run_archive(x),
    "get_workflow": lambda fs, x: fs.get_workflow(x),
    "list_groups": lambda fs, x: fs.list_groups(x),
    "create_group": lambda fs, x: fs.create_group(x, "name"),
    "get_group": lambda fs, x: fs.get_group(x),
    "update_group": lambda fs, x: fs.update_group(x, name="n"),
    "delete_group": lambda fs, x: fs.delete_group(x),
    "list_runs": lambda fs, x: fs.list_runs(x),
    "start_run": lambda fs, x: fs.start_run(x, []),
    "upload_file": lambda fs, x: fs.upload_file(x, b"data", filename="a.txt"),
    "list_files": lambda fs, x: fs.list_files(x),
    "delete_file/group": lambda fs, x: fs.delete_file(x, "f1"),
    "delete_file/file": lambda fs, x: fs.delete_file("g1", x),
    "download_file": lambda fs, x: fs.download_file("g1", x),
    "wait": lambda fs, x: fs.wait(x, timeout=1),
    "workflow": lambda fs, x: fs.workflow("sleeper", x),
}
ESCAPES = ["../users", "a/b", "..", ".", "", "x?state=ERROR", "x#frag", "%2e%2e%2fusers",
           "a\\b", "a b", "line\nbreak", "nul\x00"]


@pytest.mark.asyncio
@pytest.mark.parametrize("method", list(ID_CALLS))
async def test_identifiers_with_path_characters_are_refused_before_sending(method: str) -> None:
    async with CannedServer() as fake, afs.AsyncFlowserv(fake.url, token=TOKEN) as fs:
        for bad in ESCAPES:
            with pytest.raises(afs.InvalidArgumentError) as caught:
                await ID_CALLS[method](fs, bad)
            assert repr(bad) in str(caught.value)
    assert fake.requests == []


@pytest.mark.asyncio
@pytest.mark.parametrize("odd", ["a:b", "a;b", "a@b", "a+b=c", "a,b!", "ünï", "~user", "a'b"])
async def test_odd_identifiers_travel_escaped_as_one_path_segment(odd: str) -> None:
    answer = Answer.json({"id": odd, "state": "RUNNING"})
    async with (
        CannedServer(default=answer) as fake,
        afs.AsyncFlowserv(fake.url, token=TOKEN) as fs,
    ):
        run = await fs.get_run(odd)
    assert run.run_id == odd
    (request,) = fake.requests
    assert request.path == f"{API_PATH}/runs/{quote(odd, safe='')}"


# -- redirects --------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_redirects_are_not_followed_so_the_token_stays_with_the_server(status: int) -> None:
    async with CannedServer(default=Answer.json(DESCRIPTOR)) as elsewhere:
        away = Answer(status, b"", {"Location": elsewhere.url + "/runs/r1"})
        async with CannedServer(default=away) as origin, afs.AsyncFlowserv(
            origin.url, token=TOKEN
        ) as fs:
            calls: list[Callable[[], Awaitable[object]]] = [
                lambda: fs.get_run("r1"),
                lambda: fs.start_run("g1", []),
                lambda: fs.download_run_file("r1", "f1"),
                lambda: fs.upload_file("g1", b"data", filename="a.txt"),
            ]
            for call in calls:
                with pytest.raises(afs.APIStatusError) as caught:
                    await call()
                assert caught.value.status_code == status
                assert "redirect" in str(caught.value)
                assert elsewhere.url in str(caught.value)
                assert TOKEN not in str(caught.value)
    assert elsewhere.requests == []
    assert len(origin.requests) == len(calls)  # not retried either


# -- TLS -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server-side TLS context with a self-signed certificate for 127.0.0.1."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.asyncio
async def test_tls_certificates_are_verified_by_default(self_signed: ssl.SSLContext) -> None:
    async with (
        CannedServer(default=Answer.json(DESCRIPTOR), ssl_context=self_signed) as fake,
        afs.AsyncFlowserv(fake.url, token=TOKEN, retries=0) as fs,
    ):
        with pytest.raises(afs.APIConnectionError) as caught:
            await fs.service_info()
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert not any("api_key" in r.headers for r in fake.requests)  # the token never left


@pytest.mark.asyncio
async def test_tls_verification_can_be_turned_off_explicitly(self_signed: ssl.SSLContext) -> None:
    async with (
        CannedServer(default=Answer.json(DESCRIPTOR), ssl_context=self_signed) as fake,
        afs.AsyncFlowserv(fake.url, token=TOKEN, verify=False) as fs,
    ):
        info = await fs.service_info()
    assert info["name"] == "fake flowServ"


@pytest.mark.asyncio
async def test_the_sync_client_verifies_tls_by_default_too(self_signed: ssl.SSLContext) -> None:
    async with CannedServer(default=Answer.json(DESCRIPTOR), ssl_context=self_signed) as fake:
        # The sync client runs its own event loop in a thread; this loop keeps serving.
        def call() -> object:
            with afs.Flowserv(fake.url, token=TOKEN, retries=0) as fs:
                return fs.service_info()

        with pytest.raises(afs.APIConnectionError) as caught:
            await anyio.to_thread.run_sync(call)
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
