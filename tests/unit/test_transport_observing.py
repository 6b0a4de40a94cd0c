"""Seeing what the client sends: the request lines of the log, and the user's event hooks.

Each try of each request is one DEBUG line of the ``aioflowserv.http`` logger
(method, path, status or failure, try, milliseconds; never the token), and
``AIOFLOWSERV_LOG`` switches the loggers on without code. ``event_hooks=``
hands every request and response to the user's functions (tracing, metrics).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import pytest

import aioflowserv as afs
from aioflowserv import _config
from aioflowserv.testing import FakeFlowserv
from tests.support.documents import BASE, TOKEN
from tests.support.fake import client_for

pytestmark = pytest.mark.anyio


def request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == _config.REQUEST_LOGGER]


async def test_each_try_is_one_line_with_method_path_status_try_and_time(
    fake: FakeFlowserv, caplog: pytest.LogCaptureFixture
) -> None:
    group_id = fake.add_group()
    fake.fail("list_runs", status=503)
    no_pause = afs.RetryPolicy(initial_wait=0, jitter=0)
    with caplog.at_level(logging.DEBUG, logger=_config.REQUEST_LOGGER):
        async with client_for(fake, retries=no_pause) as fs:
            await fs.list_runs(group_id)
    lines = request_lines(caplog)
    assert [line.getMessage().split(" (")[0] for line in lines] == [
        f"GET groups/{group_id}/runs -> 503", f"GET groups/{group_id}/runs -> 200",
    ]
    assert [line.getMessage().split("(")[1].split(",")[0] for line in lines] == [
        "try 1", "try 2",
    ]
    assert all(line.getMessage().endswith(" ms)") for line in lines)
    first = lines[0]
    assert (first.http_method, first.http_path, first.http_status, first.attempt) == (  # type: ignore[attr-defined]
        "GET", f"groups/{group_id}/runs", 503, 1,
    )
    assert isinstance(first.elapsed_ms, float)  # type: ignore[attr-defined]


async def test_a_failure_on_the_wire_is_a_line_naming_it(
    fake: FakeFlowserv, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail("service_info", error=httpx.ConnectError)
    with caplog.at_level(logging.DEBUG, logger=_config.REQUEST_LOGGER):
        async with client_for(fake) as fs:
            with pytest.raises(afs.APIConnectionError):
                await fs.service_info()
    (line,) = request_lines(caplog)
    assert line.getMessage().startswith("GET  -> APIConnectionError (try 1, ")


async def test_no_line_carries_the_token(
    fake: FakeFlowserv, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="aioflowserv"):
        async with client_for(fake) as fs:
            await fs.login("alice", "secret")
            await fs.whoami()
            await fs.workflow("sleeper", fake.add_group())
    assert request_lines(caplog)
    for record in caplog.records:
        assert fake.token not in record.getMessage()
        assert fake.token not in repr(vars(record))


async def test_nothing_is_written_unless_asked_for(
    fake: FakeFlowserv, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="aioflowserv"):
        async with client_for(fake) as fs:
            await fs.whoami()
    assert request_lines(caplog) == []


async def test_event_hooks_see_every_request_and_response_sync_or_async(
    fake: FakeFlowserv,
) -> None:
    seen: list[str] = []

    def on_request(request: httpx.Request) -> None:
        seen.append(f"{request.method} {request.url.path.rsplit('/v1/', 1)[1]}")

    async def on_response(response: httpx.Response) -> None:
        seen.append(str(response.status_code))

    group_id = fake.add_group()
    hooks = {"request": [on_request], "response": [on_response]}
    async with client_for(fake, event_hooks=hooks) as fs:
        await fs.workflow("sleeper", group_id)
        await fs.list_runs(group_id)
    # The token is checked once (whoami), then the workflow and the group are read together.
    assert seen[:2] == ["GET users/whoami", "200"]
    assert sorted(seen[2:6]) == sorted(
        ["GET workflows/sleeper", "200", f"GET groups/{group_id}", "200"]
    )
    assert seen[6:] == [f"GET groups/{group_id}/runs", "200"]


async def test_a_hook_may_add_a_header_to_every_request() -> None:
    received: list[httpx.Headers] = []

    def server(request: httpx.Request) -> httpx.Response:
        received.append(request.headers)
        return httpx.Response(200, json={"id": "u1", "username": "alice"})

    def trace(request: httpx.Request) -> None:
        request.headers["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    async with afs.AsyncFlowserv(
        BASE, token=TOKEN, transport=httpx.MockTransport(server), event_hooks={"request": trace}
    ) as fs:
        await fs.whoami()
    (headers,) = received
    assert headers["traceparent"].startswith("00-0af76519")
    assert headers["api_key"] == TOKEN


@pytest.mark.parametrize(("hooks", "words"), [
    ({"send": [print]}, "unknown event 'send'"),
    ({"request": ["not a function"]}, "must be functions"),
    ([print], "must map 'request'"),
])
def test_bad_event_hooks_are_refused_before_anything_is_sent(hooks: Any, words: str) -> None:
    with pytest.raises(afs.ConfigurationError, match=words):
        afs.AsyncFlowserv("http://localhost:5000/flowserv/api/v1", event_hooks=hooks)


def test_the_sync_client_takes_the_same_hooks() -> None:
    fake = FakeFlowserv(clock=time.monotonic)
    seen: list[int] = []
    hooks = {"response": [lambda response: seen.append(response.status_code)]}
    with afs.Flowserv(fake.url, token=fake.token, transport=fake, event_hooks=hooks) as fs:
        fs.whoami()
    assert seen == [200]


def test_the_log_setting_names_the_levels_it_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(_config.ENV_LOG, "loud")
    with pytest.raises(afs.ConfigurationError, match="AIOFLOWSERV_LOG='loud' is not a log level"):
        afs.AsyncFlowserv("http://localhost:5000/flowserv/api/v1")


def test_the_log_setting_sets_the_loggers_level(monkeypatch: pytest.MonkeyPatch) -> None:
    package = logging.getLogger("aioflowserv")
    before = package.level
    monkeypatch.setenv(_config.ENV_LOG, "DEBUG")
    try:
        afs.AsyncFlowserv("http://localhost:5000/flowserv/api/v1")
        assert package.level == logging.DEBUG
        assert logging.getLogger(_config.REQUEST_LOGGER).isEnabledFor(logging.DEBUG)
    finally:
        package.setLevel(before)
