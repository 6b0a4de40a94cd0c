"""``transport="aiohttp"``: the option, and httpx's requests sent by aiohttp over real loopback TCP.

A tiny asyncio server on 127.0.0.1 answers with canned bytes (or breaks the
connection where a test says so). aiohttp's failures must reach the caller as
the SDK's own errors, with ``request_sent`` telling a failure before the
request went out from one after: a run start is never sent twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

import aioflowserv as afs
from aioflowserv._config import ENV_TRANSPORT, Settings, check_transport
from tests.support.documents import TOKEN, run_doc

Handler = Callable[[bytes, asyncio.StreamWriter], Awaitable[None]]


async def serve(handler: Handler, work: Callable[[str], Awaitable[Any]]) -> Any:
    """Run ``work(url)`` against a loopback server that calls ``handler`` with each request."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length) if length else b""
                await handler(head + body, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        return await work(f"http://127.0.0.1:{port}/flowserv/api/v1")
    finally:
        server.close()


def answer(doc: Any, status: int = 200) -> bytes:
    body = json.dumps(doc).encode()
    return (
        f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def client(url: str, **options: Any) -> afs.AsyncFlowserv:
    return afs.AsyncFlowserv(url, token=TOKEN, transport="aiohttp", retries=0, **options)


def test_requests_go_out_and_answers_come_back() -> None:
    seen: list[bytes] = []

    async def handler(request: bytes, writer: asyncio.StreamWriter) -> None:
        seen.append(request)
        writer.write(answer(run_doc("r1", "SUCCESS")))
        await writer.drain()

    async def work(url: str) -> Any:
        async with client(url) as fs:
            first = await fs.get_run("r1")
            second = await fs.cancel_run("r1", reason="enough")
            return first, second

    first, second = anyio.run(serve, handler, work, backend="asyncio")
    assert first.run_id == "r1"
    assert first.state is afs.RunState.SUCCESS
    assert second.state is afs.RunState.SUCCESS
    assert seen[0].startswith(b"GET /flowserv/api/v1/runs/r1 HTTP/1.1")
    assert f"api_key: {TOKEN}".encode() in seen[0]
    assert seen[1].startswith(b"PUT /flowserv/api/v1/runs/r1 ")
    assert seen[1].endswith(b'{"reason":"enough"}')


def test_a_streamed_answer_is_read_in_chunks() -> None:
    payload = bytes(range(256)) * 5000  # above the size read with the first request

    async def handler(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        for start in range(0, len(payload), 100_000):
            chunk = payload[start:start + 100_000]
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def work(url: str) -> bytes:
        async with client(url) as fs:
            handle = await fs.download_run_archive("r1")
            return await handle.read()

    assert anyio.run(serve, handler, work, backend="asyncio") == payload


def test_a_refused_connection_was_not_sent() -> None:
    async def work() -> afs.APIConnectionError:
        with anyio.fail_after(30):
            listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
            port = listener.extra(anyio.abc.SocketAttribute.local_port)
            await listener.aclose()  # nothing listens there any more
            async with client(f"http://127.0.0.1:{port}/flowserv/api/v1") as fs:
                with pytest.raises(afs.APIConnectionError) as caught:
                    await fs.start_run("g1", [])
            return caught.value

    error = anyio.run(work, backend="asyncio")
    assert error.request_sent is False
    assert "cannot connect" in str(error)


def test_a_connection_broken_after_the_request_may_have_started_a_run() -> None:
    async def handler(request: bytes, writer: asyncio.StreamWriter) -> None:
        writer.close()  # the request arrived; no answer

    async def work(url: str) -> tuple[BaseException, BaseException]:
        async with client(url) as fs:
            with pytest.raises(afs.APIConnectionError) as read:
                await fs.get_run("r1")
            with pytest.raises(afs.SubmissionUncertainError) as start:
                await fs.start_run("g1", [])
            return read.value, start.value

    read, start = anyio.run(serve, handler, work, backend="asyncio")
    assert isinstance(read, afs.APIConnectionError)
    assert read.request_sent is True
    assert not isinstance(read, afs.APITimeoutError)
    assert "it was not sent again" in str(start)


def test_a_slow_answer_times_out() -> None:
    async def handler(request: bytes, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async def work(url: str) -> afs.APITimeoutError:
        async with client(url, timeout=0.2) as fs:
            with pytest.raises(afs.APITimeoutError) as caught:
                await fs.get_run("r1")
            return caught.value

    error = anyio.run(serve, handler, work, backend="asyncio")
    assert error.request_sent is True


def test_aiohttp_under_trio_is_a_configuration_error() -> None:
    async def work() -> None:
        with pytest.raises(afs.ConfigurationError, match="asyncio only"):
            afs.AsyncFlowserv("http://127.0.0.1:9/flowserv/api/v1", transport="aiohttp")

    anyio.run(work, backend="trio")


def test_the_sync_facade_on_trio_refuses_aiohttp() -> None:
    with pytest.raises(afs.ConfigurationError, match="asyncio only"):
        afs.Flowserv("http://127.0.0.1:9/flowserv/api/v1", transport="aiohttp", backend="trio")


def test_the_transport_name_is_checked() -> None:
    assert check_transport("aiohttp") == "aiohttp"
    assert check_transport(" HTTPX ") == "httpx"
    assert check_transport(None, {}) == "httpx"
    assert check_transport(None, {ENV_TRANSPORT: "aiohttp"}) == "aiohttp"
    with pytest.raises(afs.ConfigurationError, match="unknown transport 'curl'"):
        check_transport("curl")
    with pytest.raises(afs.ConfigurationError, match=ENV_TRANSPORT):
        check_transport(None, {ENV_TRANSPORT: "requests"})


def test_the_environment_chooses_the_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_TRANSPORT, "aiohttp")
    settings = Settings.create("http://127.0.0.1:9/flowserv/api/v1", "AsyncFlowserv")
    assert settings.transport == "aiohttp"
    assert "transport='aiohttp'" in repr(settings)
    explicit = Settings.create("http://x/flowserv/api/v1", "AsyncFlowserv", transport="httpx")
    assert explicit.transport == "httpx"


def test_a_transport_object_is_custom() -> None:
    fake = afs.testing.FakeFlowserv()
    settings = Settings.create(fake.url, "AsyncFlowserv", transport=fake)
    assert settings.transport == "custom"
