"""Seeing what the client does, against the real server: the request log and OpenTelemetry.

``AIOFLOWSERV_LOG=debug`` alone (no logging code in the program) writes a
line per request to stderr, without the token; OpenTelemetry's httpx
instrumentation wraps the client's transport and records a span per request.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import httpx
import pytest
from opentelemetry.instrumentation.httpx import AsyncOpenTelemetryTransport
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import aioflowserv as afs
from aioflowserv.testing import FlowservServer

PROGRAM = """
import aioflowserv as afs
with afs.Flowserv() as fs:
    print(fs.whoami().username)
"""


def test_the_log_setting_alone_shows_each_request_without_the_token(
    server: FlowservServer, user: dict[str, Any]
) -> None:
    env = {**os.environ, "FLOWSERV_URL": server.url, "FLOWSERV_ACCESS_TOKEN": user["token"],
           "AIOFLOWSERV_LOG": "debug"}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == user["username"]
    (line,) = [line for line in done.stderr.splitlines() if "aioflowserv.http" in line]
    assert "DEBUG aioflowserv.http: GET users/whoami -> 200 (try 1, " in line
    assert user["token"] not in done.stderr


def test_without_the_setting_nothing_is_written(
    server: FlowservServer, user: dict[str, Any]
) -> None:
    env = {**os.environ, "FLOWSERV_URL": server.url, "FLOWSERV_ACCESS_TOKEN": user["token"]}
    env.pop("AIOFLOWSERV_LOG", None)
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


@pytest.mark.asyncio
async def test_opentelemetry_records_a_span_per_request(
    server: FlowservServer, user: dict[str, Any], group_id: str
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    traced = AsyncOpenTelemetryTransport(httpx.AsyncHTTPTransport(), tracer_provider=provider)
    async with afs.AsyncFlowserv(server.url, token=user["token"], transport=traced) as fs:
        wf = await fs.workflow("sleeper", group_id)
        await wf.list_runs()
    spans = exporter.get_finished_spans()
    assert sorted(span.name for span in spans) == ["GET", "GET", "GET", "GET"]
    urls = sorted(str(span.attributes.get("url.full") or span.attributes.get("http.url"))
                  for span in spans)
    assert [url.removeprefix(server.url + "/") for url in urls] == sorted(  # whoami: the token
        ["users/whoami", "workflows/sleeper", f"groups/{group_id}", f"groups/{group_id}/runs"]
    )
    assert all(span.attributes.get("http.response.status_code", span.attributes.get(
        "http.status_code")) == 200 for span in spans)
    for span in spans:
        assert user["token"] not in repr(dict(span.attributes))


def test_an_event_hook_sees_the_sync_clients_requests(
    server: FlowservServer, user: dict[str, Any]
) -> None:
    seen: list[str] = []
    hooks = {"response": [lambda r: seen.append(f"{r.request.method} {r.status_code}")]}
    with afs.Flowserv(server.url, token=user["token"], event_hooks=hooks) as fs:
        fs.whoami()
    assert seen == ["GET 200"]
