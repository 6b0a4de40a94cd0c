"""A loopback TCP proxy that injects network faults between the SDK and a real server.

The proxy understands just enough HTTP/1.x to see each request's method and
path: flowServ's server answers in HTTP/1.0 and closes the connection after
every response, so one client connection carries one request. For each
request the proxy either forwards it unchanged or applies a fault:

- ``reset_request``: reset the connection after reading the request head; the
  request never reaches the server;
- ``reset_response``: forward the request, then send only part of the
  server's answer and reset the connection (the request *did* reach it);
- ``delay``: wait ``delay`` seconds, then forward;
- ``slow_answer``: forward at once, but pass the answer on only after ``delay``
  seconds (the server has acted; the client is still waiting);
- ``hold``: forward the request, then hold the answer for ``hold`` seconds
  (longer than the client's timeout) and drop it;
- ``status_502`` / ``status_503``: answer with that status (an HTML page, as
  a gateway would) without forwarding;

and on command it stops listening (:meth:`FaultProxy.refuse`), so that
connection attempts are refused. Faults come from explicit one-shot rules
(:meth:`FaultProxy.inject`) or at random from a seeded generator
(:meth:`FaultProxy.random_faults`). When the server itself is down, the
client connection is reset (counted as ``upstream_down``, not as a fault).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

FAULT_KINDS = (
    "reset_request", "reset_response", "delay", "slow_answer", "hold", "status_502", "status_503"
)

Matcher = Callable[[str, str], bool]
"""Decides from (method, path) whether a rule applies to a request."""


@dataclass
class Rule:
    """A one-shot (or n-shot) fault for requests that match."""

    kind: str
    matches: Matcher
    times: int = 1


@dataclass
class Seen:
    """One request as the proxy saw it, and what it did with it."""

    method: str
    path: str
    fault: str | None


@dataclass
class RandomFaults:
    """Random faults: with probability ``rate`` a request gets one of ``kinds`` (by weight)."""

    rng: random.Random
    rate: float
    kinds: Sequence[str]
    weights: Sequence[float]
    matches: Matcher | None = None

    def pick(self, method: str, path: str) -> str | None:
        if self.matches is not None and not self.matches(method, path):
            return None
        if self.rng.random() >= self.rate:
            return None
        return self.rng.choices(list(self.kinds), weights=list(self.weights))[0]


@dataclass
class FaultProxy:
    """A fault-injecting proxy on 127.0.0.1 in front of ``upstream_port``.

    Use ``async with FaultProxy(port) as proxy`` and point the client at
    :meth:`url`. ``hold`` should exceed the client's timeout; ``delay`` stay
    below it.
    """

    upstream_port: int
    upstream_host: str = "127.0.0.1"
    hold: float = 3.0
    delay: float = 0.3
    port: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    seen: list[Seen] = field(default_factory=list)
    upstream_down: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    _rules: list[Rule] = field(default_factory=list)
    _random: RandomFaults | None = None
    _server: asyncio.AbstractServer | None = None
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)

    async def __aenter__(self) -> FaultProxy:
        await self.listen()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def url(self, api_path: str = "/flowserv/api/v1") -> str:
        """The API base URL through the proxy."""
        return f"http://127.0.0.1:{self.port}{api_path}"

    @property
    def injected(self) -> int:
        """How many faults were injected so far."""
        return sum(self.faults.values())

    def requests(self, method: str, path_part: str) -> list[Seen]:
        """The requests seen with this method whose path contains ``path_part``."""
        return [s for s in self.seen if s.method == method and path_part in s.path]

    async def listen(self) -> None:
        """Start (or resume) listening, on the same port as before."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def refuse(self) -> None:
        """Stop listening: new connections are refused until :meth:`listen`."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            self.faults["refuse"] += 1

    async def aclose(self) -> None:
        """Stop listening and drop the connections in progress."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)

    def inject(self, kind: str, matches: Matcher | None = None, *, times: int = 1) -> None:
        """Apply fault ``kind`` to the next ``times`` requests that match."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}")
        self._rules.append(Rule(kind, matches or (lambda method, path: True), times))

    def random_faults(
        self,
        seed: int,
        rate: float,
        kinds: dict[str, float] | None = None,
        matches: Matcher | None = None,
    ) -> None:
        """Inject faults at random (seeded) into a share ``rate`` of requests."""
        weights = kinds or {kind: 1.0 for kind in FAULT_KINDS if kind != "slow_answer"}
        self._random = RandomFaults(
            random.Random(seed), rate, list(weights), list(weights.values()), matches
        )

    def calm(self) -> None:
        """Stop injecting random faults (explicit rules stay)."""
        self._random = None

    # -- connection handling ---------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            _reset(writer)
        except asyncio.CancelledError:
            _reset(writer)
            raise
        finally:
            self._handlers.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    def _choose(self, method: str, path: str) -> str | None:
        for rule in self._rules:
            if rule.times > 0 and rule.matches(method, path):
                rule.times -= 1
                if rule.times == 0:
                    self._rules.remove(rule)
                return rule.kind
        if self._random is not None:
            return self._random.pick(method, path)
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return  # the client went away before sending a request
        method, path, headers = _parse_head(head)
        fault = self._choose(method, path)
        self.seen.append(Seen(method, path, fault))
        if fault is not None:
            self.faults[fault] += 1
        if fault == "reset_request":
            _reset(writer)
            return
        if fault in ("status_502", "status_503"):
            writer.write(_gateway_answer(int(fault[-3:])))
            await writer.drain()
            return
        body = await _read_body(reader, headers)
        if fault == "delay":
            await asyncio.sleep(self.delay)
        try:
            answer = await self._forward(head + body)
        except OSError:
            self.upstream_down += 1
            _reset(writer)
            return
        if fault == "slow_answer":
            await asyncio.sleep(self.delay)
        if fault == "hold":
            await asyncio.sleep(self.hold)
            _reset(writer)
            return
        if fault == "reset_response":
            cut = self.rng.randint(1, max(1, len(answer) - 1))
            writer.write(answer[:cut])
            await writer.drain()
            _reset(writer)
            return
        writer.write(answer)
        await writer.drain()

    async def _forward(self, request: bytes) -> bytes:
        """Send one request upstream and return the whole answer (the server closes after it)."""
        up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        try:
            up_writer.write(request)
            await up_writer.drain()
            return await up_reader.read()
        finally:
            up_writer.close()
            with contextlib.suppress(Exception):
                await up_writer.wait_closed()


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    method, path = (parts[0], parts[1]) if len(parts) >= 2 else ("?", "?")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return method, path, headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            chunk = await reader.readexactly(size + 2)
            body += size_line + chunk
            if size == 0:
                return body
    length = int(headers.get("content-length", "0") or "0")
    return await reader.readexactly(length) if length else b""


def _gateway_answer(status: int) -> bytes:
    reason = {502: "Bad Gateway", 503: "Service Unavailable"}[status]
    page = f"<html><head><title>{status} {reason}</title></head><body>{reason}</body></html>"
    data = page.encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    ).encode() + data


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (RST) instead of an orderly shutdown."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
