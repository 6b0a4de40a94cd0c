"""httpx's API over aiohttp's connection pool: ``transport="aiohttp"`` (the ``aiohttp`` extra).

:class:`AiohttpTransport` is an ``httpx.AsyncBaseTransport``: the client keeps
building and reading ``httpx`` requests and responses (so retries, errors and
the fake all stay as they are) while aiohttp sends them. aiohttp's HTTP/1.1
path costs the client about half the CPU of httpcore's per request, which is
most of the SDK's cost against a server on the same machine.

aiohttp runs on asyncio only: under trio the transport raises
:class:`ConfigurationError` (when the client is made inside trio, or at its
first request).

aiohttp's failures become httpx's, so that the one mapping in
:mod:`._transport` applies: only a failure before the request went out (no
connection could be made, or none was free in time) says "not sent". A
connection that broke afterwards is "sent", so a run start is never sent twice
(the ``httpx-aiohttp`` package maps every ``ClientConnectionError``, a server
disconnect after the request included, to ``ConnectTimeout``, which would say
"not sent": that is why this module exists).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import sys
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from ._config import PREFETCH_LIMIT
from ._errors import ConfigurationError

if TYPE_CHECKING:
    import aiohttp

__all__ = ["AiohttpTransport", "check_backend"]

EXTRA_HINT = "install the aiohttp extra: pip install 'aioflowserv[aiohttp]'"

KEEPALIVE_EXPIRY = 5.0
"""Seconds an idle connection is kept for reuse (httpx's default too)."""

MAX_CONNECTIONS = 100
"""The most connections open at once (httpx's default too)."""


def check_backend() -> None:
    """Raise :class:`ConfigurationError` when called inside trio (aiohttp needs asyncio)."""
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_run():
        raise ConfigurationError(
            "transport='aiohttp' runs on asyncio only, and this is trio: use the default "
            "transport (transport='httpx' or no transport=) under trio"
        )


def _aiohttp() -> Any:
    """The aiohttp module, or :class:`ConfigurationError` naming the extra."""
    try:
        return importlib.import_module("aiohttp")
    except ImportError:
        raise ConfigurationError(f"transport='aiohttp' needs aiohttp: {EXTRA_HINT}") from None


class _Body(httpx.AsyncByteStream):
    """A streamed answer's body, read from aiohttp in chunks (its failures mapped)."""

    def __init__(self, response: aiohttp.ClientResponse, chunk_size: int) -> None:
        self._response = response
        self._chunk_size = chunk_size

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _mapped():
            async for chunk in self._response.content.iter_chunked(self._chunk_size):
                yield chunk

    async def aclose(self) -> None:
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport that sends each request with one ``aiohttp.ClientSession``.

    The session (and its pool) is made at the first request, in the running
    event loop, and closed by :meth:`aclose` (``httpx.AsyncClient.aclose``).
    ``verify`` is the client's TLS verification setting.
    """

    def __init__(self, *, verify: bool = True) -> None:
        self._aiohttp = _aiohttp()
        check_backend()
        self._verify = verify
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}
        self._url_type = importlib.import_module("yarl").URL

    def _open(self) -> aiohttp.ClientSession:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            check_backend()
            raise ConfigurationError("transport='aiohttp' runs on asyncio only") from None
        aiohttp = self._aiohttp
        ssl: Any = httpx.create_ssl_context() if self._verify else False
        connector = aiohttp.TCPConnector(
            limit=MAX_CONNECTIONS, keepalive_timeout=KEEPALIVE_EXPIRY, ssl=ssl
        )
        self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    def _timeout(self, request: httpx.Request) -> aiohttp.ClientTimeout:
        """Httpx's per-phase timeouts as aiohttp's (connect, pool and read; no total)."""
        phases = request.extensions.get("timeout") or {}
        key = (phases.get("connect"), phases.get("read"), phases.get("pool"))
        timeout = self._timeouts.get(key)
        if timeout is None:
            connect, read, pool = key
            waiting = None if connect is None or pool is None else connect + pool
            timeout = self._aiohttp.ClientTimeout(
                total=None, connect=waiting, sock_connect=connect, sock_read=read
            )
            self._timeouts[key] = timeout
        return timeout

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through aiohttp; the answer as an httpx response."""
        session = self._session
        if session is None or session.closed:
            session = self._open()
        data: Any
        try:
            data = request.content or None
        except httpx.RequestNotRead:  # a multipart upload: streamed, its length in the headers
            data = request.stream
        headers = request.headers
        if "transfer-encoding" in headers:
            headers = headers.copy()
            del headers["transfer-encoding"]  # aiohttp frames the body itself
        with _mapped():
            response = await session.request(
                request.method, self._url_type(str(request.url), encoded=True),
                headers=headers.multi_items(), data=data, allow_redirects=False,
                timeout=self._timeout(request),
            )
        try:
            length = response.content_length
            if length is not None and length <= PREFETCH_LIMIT:
                with _mapped():
                    body = await response.read()
                response.release()
                return httpx.Response(
                    response.status, headers=response.raw_headers, content=body,
                    request=request,
                )
            return httpx.Response(
                response.status, headers=response.raw_headers,
                stream=_Body(response, 1 << 16), request=request,
            )
        except BaseException:
            response.release()
            raise

    async def aclose(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    """Aiohttp's failures as httpx's.

    Only a failure to get a connection says the request was not sent (httpx's
    connect errors); any other may have come after it went out.
    """
    aiohttp = sys.modules["aiohttp"]
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:  # connecting, or waiting for a free connection
        raise httpx.ConnectTimeout(str(exc) or "timed out connecting") from exc
    except aiohttp.ClientConnectorError as exc:  # refused, unreachable, DNS, TLS handshake
        raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
    except (aiohttp.ServerTimeoutError, asyncio.TimeoutError) as exc:
        raise httpx.ReadTimeout(str(exc) or "timed out reading the answer") from exc
    except aiohttp.ClientPayloadError as exc:
        raise httpx.ReadError(str(exc) or "the answer's body broke off") from exc
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientResponseError) as exc:
        raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__) from exc
    except aiohttp.InvalidURL as exc:
        raise httpx.UnsupportedProtocol(str(exc) or type(exc).__name__) from exc
    except (aiohttp.ClientError, OSError) as exc:
        raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
