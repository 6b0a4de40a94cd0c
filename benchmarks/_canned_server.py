#!/usr/bin/env python3
"""A tiny, fast HTTP/1.1 server on loopback that answers flowServ reads with canned JSON.

It keeps connections alive and does no work per request beyond routing, so
that a benchmark against it measures the client. Run it as a script: it
prints ``port <n>`` once listening and serves until killed. Canned answers
(the fake flowServ's documents, same shapes as the real server):
``GET .../runs/{id}`` (a finished run), ``GET .../groups/{id}`` and
``GET .../workflows/{id}``; anything else gets a JSON 404.
"""

from __future__ import annotations

import asyncio
import json
import sys

from aioflowserv.testing import FakeFlowserv

RUN_ID = "0123456789abcdef0123456789abcdef"
GROUP_ID = "fedcba9876543210fedcba9876543210"


def canned_documents() -> dict[str, bytes]:
    """Response bodies by route kind, taken from the fake flowServ."""
    fake = FakeFlowserv(clock=lambda: 0.0)
    group = fake.add_group()
    run = fake.handle(fake.add_run(group, state="SUCCESS"))
    run.update(id=RUN_ID, groupId=GROUP_ID)
    group_doc = json.loads(fake._group_body(fake.groups[group]))
    group_doc.update(id=GROUP_ID, runs=[])
    workflow = json.loads(fake._workflow("sleeper", None)[1])
    return {"runs": _dump(run), "groups": _dump(group_doc), "workflows": _dump(workflow)}


def _dump(doc: object) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def _response(status: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def serve() -> None:
    answers = {kind: _response("200 OK", body) for kind, body in canned_documents().items()}
    missing = _response("404 NOT FOUND", b'{"message":"unknown route"}\n')

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                parts = path.split("?")[0].rstrip("/").split("/")
                kind = parts[-2] if len(parts) >= 2 else ""
                writer.write(answers.get(kind, missing))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"port {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        sys.exit(0)
