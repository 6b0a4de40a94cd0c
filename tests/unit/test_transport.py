"""The HTTP layer (``_transport``): the token header, retries, and failures mapped to exceptions.

The token travels in exactly one header, ``api_key`` unless configured
otherwise; calls that need a token fail on the client, with nothing sent, when
there is none. Idempotent requests are retried with capped backoff; no test
here really sleeps (the ``sleeps`` fixture records the waits instead). Whatever
goes wrong on the wire, the caller sees a :class:`FlowservError`, never an
httpx or json exception.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio
import respx

import aioflowserv as afs
from tests.support.documents import BASE, TOKEN, group_doc, run_doc, workflow_doc
from tests.support.mocked import body

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
    api.get("/users/whoami").respond(200, json={"id": "u1", "username": "alice"})
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


@pytest_asyncio.fixture
async def slow(transport: httpx.MockTransport) -> AsyncIterator[afs.AsyncFlowserv]:
    """A client with a real backoff (0.1 s doubling up to 1 s, no jitter), 5 attempts."""
    policy = afs.RetryPolicy(attempts=5, initial_wait=0.1, max_wait=1.0, jitter=0)
    async with afs.AsyncFlowserv(BASE, token=TOKEN, retries=policy, transport=transport) as fs:
        yield fs


@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_get_is_retried_on_a_retryable_status(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, status: int
) -> None:
    route = api.get("/runs/r1").mock(
        side_effect=[httpx.Response(status), httpx.Response(200, json=run_doc())]
    )
    run = await fs.get_run("r1")
    assert run.run_id == "r1"
    assert route.call_count == 2


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ReadError("reset"), httpx.ReadTimeout("slow"),
     httpx.RemoteProtocolError("server disconnected without sending a response")],
    ids=lambda exc: type(exc).__name__,
)
async def test_get_is_retried_on_a_connection_failure(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, failure: Exception
) -> None:
    route = api.get("/runs/r1").mock(side_effect=[failure, httpx.Response(200, json=run_doc())])
    assert (await fs.get_run("r1")).run_id == "r1"
    assert route.call_count == 2


async def test_cancel_is_retried_with_the_same_body(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.put("/runs/r1").mock(
        side_effect=[httpx.ReadError("reset"), httpx.Response(503),
                     httpx.Response(200, json=run_doc(state="CANCELED", messages=["why"]))]
    )
    run = await fs.cancel_run("r1", "why")
    assert run.is_canceled()
    assert [body(call.request) for call in route.calls] == [{"reason": "why"}] * 3


async def test_delete_is_retried(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> None:
    route = api.delete("/runs/r1").mock(
        side_effect=[httpx.Response(502), httpx.ConnectError("refused"), httpx.Response(204)]
    )
    await fs.delete_run("r1")
    assert route.call_count == 3


async def test_download_is_retried(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> None:
    route = api.get("/runs/r1/downloads/archive").mock(
        side_effect=[httpx.Response(503), httpx.Response(200, content=b"archive")]
    )
    handle = await fs.download_run_archive("r1")
    assert await handle.read() == b"archive"
    assert route.call_count == 2


@pytest.mark.parametrize("status", [400, 403, 404, 500])
async def test_get_is_not_retried_on_other_errors(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, status: int
) -> None:
    route = api.get("/runs/r1").respond(status, json={"message": "no"})
    api.get("/users/whoami").respond(200, json={"id": "u1", "username": "alice"})
    with pytest.raises(afs.APIStatusError):
        await fs.get_run("r1")
    assert route.call_count == 1


async def test_attempts_are_bounded_by_the_policy(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.get("/runs/r1").respond(503, json={"message": "busy"})
    with pytest.raises(afs.ServerError) as caught:
        await fs.get_run("r1")
    assert caught.value.status_code == 503
    assert route.call_count == fs.settings.retry.attempts == 4


@pytest.mark.parametrize(("retries", "attempts"), [(0, 1), (1, 2), (5, 6)])
async def test_retries_count_is_the_number_of_extra_attempts(
    api: respx.MockRouter, transport: httpx.MockTransport, sleeps: list[float],
    retries: int, attempts: int,
) -> None:
    route = api.get("/runs/r1").mock(side_effect=httpx.ConnectError("refused"))
    async with afs.AsyncFlowserv(BASE, token=TOKEN, retries=retries, transport=transport) as fs:
        with pytest.raises(afs.APIConnectionError):
            await fs.get_run("r1")
    assert route.call_count == attempts
    assert len(sleeps) == attempts - 1


async def test_waits_between_attempts_grow_and_are_capped(
    api: respx.MockRouter, slow: afs.AsyncFlowserv, sleeps: list[float]
) -> None:
    api.get("/runs/r1").respond(502)
    with pytest.raises(afs.ServerError):
        await slow.get_run("r1")
    assert sleeps == pytest.approx([0.1, 0.2, 0.4, 0.8])


async def test_retry_after_seconds_is_honoured(
    api: respx.MockRouter, slow: afs.AsyncFlowserv, sleeps: list[float]
) -> None:
    api.get("/runs/r1").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "0.7"}),
                     httpx.Response(200, json=run_doc())]
    )
    await slow.get_run("r1")
    assert sleeps == [0.7]


async def test_retry_after_is_capped_by_max_wait(
    api: respx.MockRouter, slow: afs.AsyncFlowserv, sleeps: list[float]
) -> None:
    api.get("/runs/r1").mock(
        side_effect=[httpx.Response(503, headers={"Retry-After": "120"}),
                     httpx.Response(200, json=run_doc())]
    )
    await slow.get_run("r1")
    assert sleeps == [1.0]


async def test_retry_after_http_date_is_honoured(
    api: respx.MockRouter, slow: afs.AsyncFlowserv, sleeps: list[float]
) -> None:
    soon = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    api.get("/runs/r1").mock(
        side_effect=[httpx.Response(503, headers={"Retry-After": soon}),
                     httpx.Response(200, json=run_doc())]
    )
    await slow.get_run("r1")
    assert sleeps == [1.0]  # 30 s away, capped at max_wait


async def test_unparsable_retry_after_falls_back_to_backoff(
    api: respx.MockRouter, slow: afs.AsyncFlowserv, sleeps: list[float]
) -> None:
    api.get("/runs/r1").mock(
        side_effect=[httpx.Response(503, headers={"Retry-After": "soon-ish"}),
                     httpx.Response(200, json=run_doc())]
    )
    await slow.get_run("r1")
    assert sleeps == pytest.approx([0.1])


async def test_status_codes_of_the_policy_choose_what_is_retried(
    api: respx.MockRouter, transport: httpx.MockTransport
) -> None:
    policy = afs.RetryPolicy(initial_wait=0, jitter=0, status_codes={500})
    route = api.get("/runs/r1").mock(
        side_effect=[httpx.Response(500), httpx.Response(200, json=run_doc())]
    )
    async with afs.AsyncFlowserv(BASE, token=TOKEN, retries=policy, transport=transport) as fs:
        await fs.get_run("r1")
    assert route.call_count == 2


async def test_logout_is_retried_although_it_is_a_post(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.post("/users/logout").mock(
        side_effect=[httpx.ReadTimeout("slow"),
                     httpx.Response(200, json={"id": "u1", "username": "alice"})]
    )
    await fs.logout()
    assert route.call_count == 2


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
    api.get("/users/whoami").respond(200, json={"id": "u1", "username": "alice"})
    with pytest.raises(afs.FlowservError) as caught:
        await once.get_run("r1")
    assert not isinstance(caught.value, (httpx.HTTPError, json.JSONDecodeError))
    assert type(caught.value).__module__ == "aioflowserv._errors"


# -- errors that say what to do ----------------------------------------------------------

ALICE = {"id": "u1", "username": "alice"}


async def test_not_authorized_for_an_invalid_token_is_unauthenticated(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/runs/r1").respond(403, json={"message": "not authorized"})
    whoami = api.get("/users/whoami").respond(403, json={"message": "not logged in"})
    with pytest.raises(afs.UnauthenticatedError) as caught:
        await fs.get_run("r1")
    assert "the token is invalid or expired" in str(caught.value)
    assert "log in again" in str(caught.value)
    assert whoami.call_count == 1


async def test_not_authorized_for_a_valid_token_stays_unauthorized(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/runs/r1").respond(403, json={"message": "not authorized"})
    whoami = api.get("/users/whoami").respond(200, json=ALICE)
    with pytest.raises(afs.UnauthorizedError) as caught:
        await fs.get_run("r1")
    assert caught.value.message == "not authorized"
    assert whoami.call_count == 1


async def test_not_logged_in_with_a_token_says_the_token_is_invalid_or_expired(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/users/whoami").respond(403, json={"message": "not logged in"})
    with pytest.raises(afs.UnauthenticatedError) as caught:
        await fs.whoami()
    text = str(caught.value)
    assert text.startswith("GET users/whoami: 403 not logged in: the token is invalid or expired")
    assert "aioflowserv login" in text


async def test_no_token_says_how_to_log_in(anonymous: afs.AsyncFlowserv) -> None:
    with pytest.raises(afs.UnauthenticatedError, match=r"no token .*aioflowserv login"):
        await anonymous.get_run("r1")


async def test_listing_workflows_with_an_invalid_token_fails(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/workflows").respond(200, json={"workflows": []})  # the server ignores the token
    api.get("/users/whoami").respond(403, json={"message": "not logged in"})
    with pytest.raises(afs.UnauthenticatedError, match="invalid or expired"):
        await fs.list_workflows()


async def test_a_token_is_checked_once_per_client(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/workflows").respond(200, json={"workflows": []})
    whoami = api.get("/users/whoami").respond(200, json=ALICE)
    for _ in range(3):
        assert await fs.list_workflows() == []
    assert whoami.call_count == 1
    fs.token = "another-token"
    await fs.list_workflows()
    assert whoami.call_count == 2


async def test_listing_workflows_without_a_token_checks_nothing(
    api: respx.MockRouter, anonymous: afs.AsyncFlowserv
) -> None:
    api.get("/workflows").respond(200, json={"workflows": []})
    assert await anonymous.list_workflows() == []


WEB_404 = "<!doctype html><title>404 Not Found</title><p>The requested URL was not found.</p>"


async def test_a_url_without_the_api_path_is_explained() -> None:
    root = "http://flowserv.test"
    with respx.mock(assert_all_mocked=True) as router:
        router.get(f"{root}/workflows").respond(404, text=WEB_404, headers={"Content-Type":
                                                                           "text/html"})
        router.get(f"{root}/").respond(404, text=WEB_404, headers={"Content-Type": "text/html"})
        router.get(f"{BASE}/").respond(200, json={"name": "flowServ", "routes": []})
        async with afs.AsyncFlowserv(root, transport=httpx.MockTransport(router.async_handler),
                                     retries=0) as fs:
            with pytest.raises(afs.ConfigurationError) as caught:
                await fs.list_workflows()
    message = str(caught.value)
    assert "http://flowserv.test is not a flowServ API URL" in message
    assert "/flowserv/api/v1" in message
    assert f"did you mean {BASE}?" in message


async def test_a_url_with_a_wrong_path_gets_flowservs_default_path_as_a_hint() -> None:
    url = "http://flowserv.test/api"
    with respx.mock(assert_all_mocked=False) as router:
        router.route().respond(404, text=WEB_404, headers={"Content-Type": "text/html"})
        async with afs.AsyncFlowserv(url, transport=httpx.MockTransport(router.async_handler),
                                     retries=0) as fs:
            with pytest.raises(afs.ConfigurationError, match="flowServ's default is " + BASE):
                await fs.list_workflows()


async def test_requests_say_which_aioflowserv_sent_them(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.get("/runs/r1").respond(200, json=run_doc())
    await fs.get_run("r1")
    assert route.calls.last.request.headers["User-Agent"] == f"aioflowserv/{afs.__version__}"


async def test_status_errors_after_retries_say_how_many_attempts(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/runs/r1").respond(503, json={"message": "busy"})
    with pytest.raises(afs.ServerError, match=r"503 busy \(4 attempts in") as caught:
        await fs.get_run("r1")
    assert caught.value.attempts == 4


async def test_the_retry_time_limit_is_checked() -> None:
    with pytest.raises(afs.ConfigurationError, match="RetryPolicy timeout"):
        afs.RetryPolicy(timeout=-1)
    assert afs.RetryPolicy(timeout=None).timeout is None
async def test_not_logged_in_with_a_fresh_token_names_the_header_a_proxy_may_drop(
    api: respx.MockRouter, anonymous: afs.AsyncFlowserv
) -> None:
    api.post("/users/login").respond(200, json={"id": "u1", "username": "alice", "token": TOKEN})
    api.get("/groups/g1").respond(403, json={"message": "not logged in"})
    await anonymous.login("alice", "secret")
    with pytest.raises(afs.UnauthenticatedError) as caught:
        await anonymous.get_group("g1")
    error = caught.value
    assert error.message == "not logged in"
    text = str(error)
    assert "behind a proxy, the 'api_key' header may be dropped" in text
    assert "--header-map dangerous" in text
    assert "underscores_in_headers" in text
    assert TOKEN not in text


async def test_not_logged_in_after_the_token_was_accepted_says_it_expired(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/groups/g1").mock(side_effect=[
        httpx.Response(200, json=group_doc()),
        httpx.Response(403, json={"message": "not logged in"}),
    ])
    await fs.get_group("g1")
    with pytest.raises(afs.UnauthenticatedError) as caught:
        await fs.get_group("g1")
    assert "expired" in str(caught.value)
    assert "underscores" not in str(caught.value)


async def test_not_logged_in_through_a_header_without_underscores_does_not_blame_them(
    api: respx.MockRouter, transport: httpx.MockTransport
) -> None:
    api.get("/users/whoami").respond(403, json={"message": "not logged in"})
    async with afs.AsyncFlowserv(
        BASE, token=TOKEN, transport=transport, auth_header="api-key"
    ) as client:
        with pytest.raises(afs.UnauthenticatedError) as caught:
            await client.get_group("g1")
    assert "invalid or expired" in str(caught.value)
    assert "header" not in str(caught.value)
