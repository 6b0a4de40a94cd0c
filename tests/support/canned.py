"""A tiny HTTP server on 127.0.0.1 with canned answers, for answers no real server gives.

Routes map a path (below the API path, as the client sends it) to an
:class:`Answer`; unknown paths get the default answer. Every request is
recorded with its headers, so tests can check what reached the server (or
that nothing did).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

API_PATH = "/flowserv/api/v1"


@dataclass
class Answer:
    """One canned answer. ``cut_at`` sends only that many body bytes, then closes."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    cut_at: int | None = None

    @classmethod
    def json(cls, doc: Any, status: int = 200) -> Answer:
        return cls(status, json.dumps(doc).encode(), {"Content-Type": "application/json"})

    @classmethod
    def html(cls, text: str = "<html><body>Welcome</body></html>", status: int = 200) -> Answer:
        return cls(status, text.encode(), {"Content-Type": "text/html; charset=utf-8"})


@dataclass
class Recorded:
    """A request as the fake server received it."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class CannedServer:
    """Serve canned answers over HTTP/1.0 (one request per connection, like flowServ)."""

    routes: dict[str, Answer | Callable[[Recorded], Answer]] = field(default_factory=dict)
    default: Answer = field(default_factory=lambda: Answer.html("<html>Not Found</html>", 404))
    ssl_context: ssl.SSLContext | None = None
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0
    _server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> CannedServer:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", 0, ssl=self.ssl_context
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.close()

    @property
    def origin(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """An API base URL on this server."""
        return self.origin + API_PATH

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target = lines[0].split(" ")[:2]
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or "0")
            if length:
                await reader.readexactly(length)
            recorded = Recorded(method, target, headers)
            self.requests.append(recorded)
            path = target[len(API_PATH):] if target.startswith(API_PATH) else target
            answer = self.routes.get(path.split("?")[0], self.default)
            if callable(answer):
                answer = answer(recorded)
            body = answer.body if answer.cut_at is None else answer.body[: answer.cut_at]
            head_lines = [f"HTTP/1.0 {answer.status} X"]
            head_lines += [f"{k}: {v}" for k, v in answer.headers.items()]
            head_lines.append(f"Content-Length: {len(answer.body)}")
            writer.write(("\r\n".join(head_lines) + "\r\n\r\n").encode("latin-1") + body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()
