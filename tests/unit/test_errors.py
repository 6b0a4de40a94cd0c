"""How server answers and transport failures become aioflowserv exceptions.

flowServ's error bodies are JSON ``{"message": ...}``, JSON ``{"error": ...}``
or, for errors raised by Werkzeug itself, HTML. Whatever goes wrong, the
caller sees a :class:`FlowservError`, never an httpx or json exception.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
import respx

import aioflowserv as afs

from ._support import BASE, TOKEN, group_doc, run_doc, workflow_doc

pytestmark = pytest.mark.asyncio

WERKZEUG_404 = """<!doctype html>
<html lang=en>
<title>404 Not Found</title>
<h1>Not Found</h1>
<p>The requested URL was not found on the server. If you entered the URL manually please check \
your spelling and try again.</p>
"""

WERKZEUG_405 = """<!doctype html>
<html lang=en>
<title>405 Method Not Allowed</title>
<h1>Method Not Allowed</h1>
<p>The method is not allowed for the requested URL.</p>
"""


@pytest_asyncio.fixture
async def once(transport: httpx.MockTransport) -> AsyncIterator[afs.AsyncFlowserv]:
    """A client that never retries, so each failure is seen after exactly one request."""
    async with afs.AsyncFlowserv(BASE, token=TOKEN, retries=0, transport=transport) as client:
        yield client


# -- status codes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "payload", "error_type", "message"),
    [
        (400, {"message": "duplicate user 'alice'"}, afs.InvalidRequestError,
         "duplicate user 'alice'"),
        (403, {"message": "not logged in"}, afs.UnauthenticatedError, "not logged in"),
        (403, {"message": "not authorized"}, afs.UnauthorizedError, "not authorized"),
        (404, {"message": "unknown run 'r1'"}, afs.NotFoundError, "unknown run 'r1'"),
        (413, {"error": "413 Request Entity Too Large: The data value transmitted exceeds "
                        "the capacity limit."},
         afs.PayloadTooLargeError, "413 Request Entity Too Large: The data value transmitted "
                                   "exceeds the capacity limit."),
        (500, {"error": "500 Internal Server Error: The server encountered an internal error"},
         afs.ServerError, "500 Internal Server Error: The server encountered an internal error"),
        (502, {"message": "bad gateway"}, afs.ServerError, "bad gateway"),
        (503, {"message": "unavailable"}, afs.ServerError, "unavailable"),
        (504, {"message": "gateway timeout"}, afs.ServerError, "gateway timeout"),
    ],
    ids=["400", "403-not-logged-in", "403-not-authorized", "404", "413", "500", "502", "503",
         "504"],
)
async def test_error_status_maps_to_its_exception_with_the_server_message(
    api: respx.MockRouter,
    once: afs.AsyncFlowserv,
    status: int,
    payload: dict[str, str],
    error_type: type[afs.APIStatusError],
    message: str,
) -> None:
    api.get("/runs/r1").respond(status, json=payload)
    with pytest.raises(error_type) as caught:
        await once.get_run("r1")
    error = caught.value
    assert type(error) is error_type
    assert error.status_code == status
    assert error.message == message
    assert (error.method, error.path) == ("GET", "runs/r1")
    assert message in str(error)


async def test_413_is_also_an_invalid_request(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.post("/uploads/g1/files").respond(413, json={"error": "413 Request Entity Too Large"})
    with pytest.raises(afs.InvalidRequestError) as caught:
        await once.upload_file("g1", b"x" * 10)
    assert isinstance(caught.value, afs.PayloadTooLargeError)


async def test_every_status_error_is_a_flowserv_error(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.get("/runs/r1").respond(404, json={"message": "unknown run 'r1'"})
    with pytest.raises(afs.FlowservError):
        await once.get_run("r1")


async def test_html_error_page_gives_its_text_as_the_message(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.get("/runs/r1").respond(404, text=WERKZEUG_404, headers={"Content-Type": "text/html"})
    with pytest.raises(afs.NotFoundError) as caught:
        await once.get_run("r1")
    assert "The requested URL was not found on the server" in caught.value.message
    assert "<" not in caught.value.message


async def test_unmapped_status_gives_the_base_status_error(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.post("/groups/g1/runs").respond(
        405, text=WERKZEUG_405, headers={"Content-Type": "text/html; charset=utf-8"}
    )
    with pytest.raises(afs.APIStatusError) as caught:
        await once.start_run("g1", [])
    assert type(caught.value) is afs.APIStatusError
    assert caught.value.status_code == 405
    assert "The method is not allowed for the requested URL." in caught.value.message


async def test_empty_error_body_still_names_the_status(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.delete("/runs/r1").respond(400)
    with pytest.raises(afs.InvalidRequestError) as caught:
        await once.delete_run("r1")
    assert caught.value.message == "HTTP 400"


async def test_plain_text_error_body_is_the_message(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.get("/runs/r1").respond(500, text="Internal failure\n")
    with pytest.raises(afs.ServerError) as caught:
        await once.get_run("r1")
    assert caught.value.message == "Internal failure"


async def test_error_messages_never_contain_the_token(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.get("/runs/r1").respond(403, json={"message": "not authorized"})
    with pytest.raises(afs.UnauthorizedError) as caught:
        await once.get_run("r1")
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)


async def test_redirect_is_not_followed_and_raises_a_status_error(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    target = api.get("/other").respond(200, json={"name": "x", "routes": []})
    api.get("/").respond(308, headers={"Location": f"{BASE}/other"})
    with pytest.raises(afs.APIStatusError) as caught:
        await once.service_info()
    assert type(caught.value) is afs.APIStatusError
    assert caught.value.status_code == 308
    assert "redirect" in caught.value.message
    assert target.call_count == 0


async def test_failing_group_load_raises_the_error_itself(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/workflows/sleeper").respond(200, json=workflow_doc())
    api.get("/groups/nope").respond(404, json={"message": "unknown group 'nope'"})
    with pytest.raises(afs.NotFoundError) as caught:
        await fs.workflow("sleeper", "nope")
    assert caught.value.message == "unknown group 'nope'"


async def test_failing_workflow_load_raises_the_error_itself(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/workflows/nope").respond(404, json={"message": "unknown workflow 'nope'"})
    api.get("/groups/g1").respond(200, json=group_doc())
    with pytest.raises(afs.NotFoundError) as caught:
        await fs.workflow("nope", "g1")
    assert caught.value.message == "unknown workflow 'nope'"


# -- bodies that are not what flowServ sends ------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"<html><body>Welcome to nginx</body></html>", b"plain text", b'{"id": "r1", "sta'],
    ids=["html", "text", "truncated-json"],
)
async def test_success_body_that_is_not_json_is_an_invalid_response(
    api: respx.MockRouter, once: afs.AsyncFlowserv, content: bytes
) -> None:
    api.get("/runs/r1").respond(200, content=content)
    with pytest.raises(afs.InvalidResponseError):
        await once.get_run("r1")


@pytest.mark.parametrize(
    "payload",
    [
        {"state": "RUNNING"},
        {"id": "r1"},
        {"id": "r1", "state": "DONE"},
        {"id": "r1", "state": None},
        {"id": "r1", "state": "RUNNING", "files": {"not": "a list"}},
        {"id": "r1", "state": "SUCCESS", "files": [{"name": "no id"}]},
        {"id": "r1", "state": "RUNNING", "createdAt": "yesterday"},
        ["not", "an", "object"],
        None,
    ],
    ids=["no-id", "no-state", "unknown-state", "null-state", "files-not-list", "file-no-id",
         "bad-timestamp", "list", "null"],
)
async def test_malformed_run_is_an_invalid_response(
    api: respx.MockRouter, once: afs.AsyncFlowserv, payload: object
) -> None:
    api.get("/runs/r1").respond(200, json=payload)
    with pytest.raises(afs.InvalidResponseError):
        await once.get_run("r1")


async def test_listing_without_its_list_is_an_invalid_response(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.get("/groups/g1/runs").respond(200, json={"items": []})
    with pytest.raises(afs.InvalidResponseError):
        await once.list_runs("g1")


async def test_listing_entry_with_unknown_state_is_an_invalid_response(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.get("/groups/g1/runs").respond(200, json={"runs": [{"id": "r1", "state": "WAITING"}]})
    with pytest.raises(afs.InvalidResponseError, match="WAITING"):
        await once.list_runs("g1")


async def test_login_answer_without_token_is_an_invalid_response(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.post("/users/login").respond(200, json={"id": "u1", "username": "alice"})
    with pytest.raises(afs.InvalidResponseError):
        await once.login("alice", "secret")
    assert once.token == TOKEN


async def test_service_descriptor_without_routes_is_an_invalid_response(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.get("/").respond(200, json={"status": "ok"})
    with pytest.raises(afs.InvalidResponseError):
        await once.service_info()


async def test_group_with_malformed_range_is_an_invalid_response(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    bad = [{"name": "n", "dtype": "int", "range": "0..10", "index": 0}]
    api.get("/groups/g1").respond(200, json=group_doc(parameters=bad))
    with pytest.raises(afs.InvalidResponseError):
        await once.get_group("g1")


# -- transport failures -------------------------------------------------------------


@pytest.mark.parametrize(
    ("failure", "error_type"),
    [
        (httpx.ConnectError("connection refused"), afs.APIConnectionError),
        (httpx.ReadError("connection reset"), afs.APIConnectionError),
        (httpx.RemoteProtocolError("server disconnected"), afs.APIConnectionError),
        (httpx.ConnectTimeout("connect timed out"), afs.APITimeoutError),
        (httpx.ReadTimeout("read timed out"), afs.APITimeoutError),
        (httpx.WriteTimeout("write timed out"), afs.APITimeoutError),
        (httpx.PoolTimeout("pool timed out"), afs.APITimeoutError),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else value.__name__,
)
async def test_transport_failure_maps_to_a_connection_error(
    api: respx.MockRouter,
    once: afs.AsyncFlowserv,
    failure: httpx.HTTPError,
    error_type: type[afs.APIConnectionError],
) -> None:
    api.get("/runs/r1").mock(side_effect=failure)
    with pytest.raises(error_type) as caught:
        await once.get_run("r1")
    assert type(caught.value) is error_type
    assert (caught.value.method, caught.value.path) == ("GET", "runs/r1")
    assert not isinstance(caught.value, httpx.HTTPError)
    assert caught.value.__cause__ is None


async def test_timeout_error_is_also_a_builtin_timeout_error(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.get("/runs/r1").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(TimeoutError):
        await once.get_run("r1")


class _BrokenStream(httpx.AsyncByteStream):
    """A body that delivers one chunk and then loses the connection."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"partial"
        raise httpx.ReadError("connection reset by peer")


def _broken_download(length: str | None) -> Iterator[httpx.Response]:
    headers = {"Content-Type": "text/plain"}
    if length is not None:
        headers["Content-Length"] = length
    while True:
        yield httpx.Response(200, headers=headers, stream=_BrokenStream())


async def test_download_that_breaks_off_while_prefetching_is_a_connection_error() -> None:
    answers = _broken_download("100")
    transport = httpx.MockTransport(lambda request: next(answers))
    async with afs.AsyncFlowserv(BASE, token=TOKEN, retries=0, transport=transport) as fs:
        with pytest.raises(afs.APIConnectionError, match="broke off"):
            await fs.download_run_file("r1", "f1")


async def test_download_that_breaks_off_while_streaming_is_a_connection_error() -> None:
    answers = _broken_download(None)
    transport = httpx.MockTransport(lambda request: next(answers))
    async with afs.AsyncFlowserv(BASE, token=TOKEN, retries=0, transport=transport) as fs:
        handle = await fs.download_run_file("r1", "f1")
        with pytest.raises(afs.APIConnectionError, match="broke off"):
            await handle.read()


async def test_download_of_a_failed_runs_archive_is_not_found(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.get("/runs/r1/downloads/archive").respond(404, json={"message": "unknown run 'r1'"})
    with pytest.raises(afs.NotFoundError):
        await once.download_run_archive("r1")


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, content=b"\xff\xfe not json"),
        httpx.Response(200, content=b"[1, 2"),
        httpx.Response(500, content=b"\xff\xfe\x00"),
        httpx.Response(400, content=b'{"message": '),
        httpx.Response(403, json={"message": 42}),
        httpx.Response(404, json=["unknown run"]),
        httpx.Response(200, json={"id": "r1", "state": "RUNNING", "arguments": "x"}),
        httpx.Response(200, json={"id": "r1", "state": "RUNNING", "messages": "x"}),
    ],
)
async def test_no_httpx_or_json_exception_reaches_the_caller(
    api: respx.MockRouter, once: afs.AsyncFlowserv, answer: httpx.Response
) -> None:
    api.get("/runs/r1").mock(return_value=answer)
    with pytest.raises(afs.FlowservError) as caught:
        await once.get_run("r1")
    assert not isinstance(caught.value, (httpx.HTTPError, json.JSONDecodeError))
    assert type(caught.value).__module__ == "aioflowserv._errors"


async def test_run_document_with_extra_keys_is_accepted(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.get("/runs/r1").respond(200, json=run_doc(newKey={"from": "a newer server"}))
    assert (await once.get_run("r1")).is_running()
