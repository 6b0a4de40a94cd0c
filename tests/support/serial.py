"""A fake flowServ that starts one run at a time, as a server with no parallel capacity does."""

from __future__ import annotations

import anyio
import httpx

from aioflowserv.testing import FakeFlowserv


class OneStartAtATime(httpx.AsyncBaseTransport):
    """The fake flowServ behind a lock: each run start takes ``service`` seconds, one after another.

    Concurrent starts only queue up: their latency grows with the number in
    flight and the rate stays ``1 / service``, like flowServ's development
    server on a busy machine. Every other route goes straight to the fake.
    """

    def __init__(self, fake: FakeFlowserv, service: float) -> None:
        self.fake = fake
        self.service = service
        self.started = 0
        self._lock: anyio.Lock | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return await self.fake.handle_async_request(request)
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:
            await anyio.sleep(self.service)
            self.started += 1
            return await self.fake.handle_async_request(request)
