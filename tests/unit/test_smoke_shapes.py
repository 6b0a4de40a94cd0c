"""Request shapes of the core calls, on a mocked transport."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

import aioflowserv as afs

BASE = "http://flowserv.test/flowserv/api/v1"


@pytest.mark.asyncio
@respx.mock(base_url=BASE, assert_all_called=True)
async def test_cancel_run_forwards_the_reason_as_json(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.put("/runs/r1").mock(
        return_value=httpx.Response(
            200, json={"id": "r1", "state": "CANCELED", "messages": ["stop it"]}
        )
    )
    async with afs.AsyncFlowserv(BASE, token="tok") as fs:
        run = await fs.cancel_run("r1", reason="stop it")
    request = route.calls.last.request
    assert json.loads(request.content) == {"reason": "stop it"}
    assert request.headers["api_key"] == "tok"
    assert run.is_canceled() and run.messages() == ["stop it"]
