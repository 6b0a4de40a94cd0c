"""Helpers for tests on the mocked API (respx): what the client sent, and canned routes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import respx

import aioflowserv as afs
from tests.support.documents import group_doc, workflow_doc


def body(request: httpx.Request) -> Any:
    """The decoded JSON body of a request (fails the test if it is not JSON)."""
    assert request.headers["content-type"] == "application/json"
    return json.loads(request.content)


def multipart_parts(request: httpx.Request) -> list[tuple[str, str | None, bytes]]:
    """The parts of a multipart request as (field name, filename, content)."""
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=", 1)[1].encode()
    parts = []
    for chunk in request.content.split(b"--" + boundary)[1:-1]:
        assert chunk.startswith(b"\r\n")
        assert chunk.endswith(b"\r\n")
        head, _, data = chunk[2:-2].partition(b"\r\n\r\n")
        disposition = next(
            line for line in head.decode().split("\r\n")
            if line.lower().startswith("content-disposition")
        )
        fields = dict(
            item.strip().split("=", 1) for item in disposition.split(";")[1:]
        )
        filename = fields.get("filename")
        parts.append(
            (fields["name"].strip('"'), filename.strip('"') if filename else None, data)
        )
    return parts


async def load_workflow(
    api: respx.MockRouter,
    fs: afs.AsyncFlowserv,
    workflow_id: str,
    parameters: list[dict[str, Any]],
    group_id: str = "g1",
) -> afs.AsyncWorkflow:
    """Load a workflow whose group declares ``parameters``; then forget the loading calls.

    Afterwards ``api.calls`` counts only what the test itself caused.
    """
    api.get(f"/workflows/{workflow_id}").respond(200, json=workflow_doc(workflow_id))
    api.get(f"/groups/{group_id}").respond(
        200, json=group_doc(group_id, parameters, workflow_id)
    )
    workflow = await fs.workflow(workflow_id, group_id)
    api.reset()
    return workflow


def upload_route(api: respx.MockRouter, *ids: str) -> respx.Route:
    """Uploads to group g1, answering with the given file ids in turn."""
    return api.post("/uploads/g1/files").mock(
        side_effect=[httpx.Response(201, json={"id": i, "name": "upload"}) for i in ids]
    )
