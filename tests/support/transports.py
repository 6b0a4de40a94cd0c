"""An httpx transport for tests against a real server: the normal one, counting what it sends."""

from __future__ import annotations

from collections import Counter

import httpx

ACTIVE = {"PENDING", "RUNNING"}


class CountingTransport(httpx.AsyncBaseTransport):
    """A real HTTP transport that records every request it sends and counts the answered ones.

    - ``requests``: every request that went out, answered or not;
    - ``counts``: answered requests (2xx) by method and path shape (``GET runs/{id}``), so
      that a request retried after a transient failure is counted once;
    - ``ended_in``: for each run, the number of the first group listing that showed it
      ended (run id -> listing number), which is when the SDK could know.
    """

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: list[httpx.Request] = []
        self.counts: Counter[str] = Counter()
        self.listings = 0
        self.ended_in: dict[str, int] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = await self.inner.handle_async_request(request)
        if response.status_code < 300:
            route = request.url.path.split("/api/v1/", 1)[-1]
            shape = "/".join("{id}" if len(part) == 32 else part for part in route.split("/"))
            self.counts[f"{request.method} {shape}"] += 1
            if request.method == "GET" and shape == "groups/{id}/runs":
                await response.aread()
                self.listings += 1
                for item in response.json()["runs"]:
                    if item["state"] not in ACTIVE:
                        self.ended_in.setdefault(item["id"], self.listings)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
