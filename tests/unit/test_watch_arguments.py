"""Waits through the client, on the mocked API: arguments checked before any request, bare run ids.

A bad timeout or poll interval is an :class:`InvalidArgumentError` before
anything is sent; a run id the server does not know raises
:class:`NotFoundError` itself, not an exception group.
"""

from __future__ import annotations

import httpx
import pytest
import respx

import aioflowserv as afs
from tests.support.documents import run_doc


@pytest.mark.asyncio
async def test_waiting_on_an_unknown_run_id_raises_not_found_itself(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/runs/known").mock(return_value=httpx.Response(200, json=run_doc("known")))
    api.get("/runs/gone").mock(
        return_value=httpx.Response(404, json={"message": "unknown run 'gone'"})
    )
    with pytest.raises(afs.NotFoundError) as caught:  # not an ExceptionGroup
        await fs.wait_all(["known", "gone"], timeout=5)
    assert caught.value.status_code == 404
    assert "gone" in caught.value.message


@pytest.mark.asyncio
@pytest.mark.parametrize("timeout", [-1, float("nan"), float("inf"), "5", True])
async def test_a_bad_wait_timeout_is_an_argument_error_before_any_request(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, timeout: object
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await fs.wait("r1", timeout=timeout)  # type: ignore[arg-type]
    assert caught.value.parameter == "timeout"
    assert isinstance(caught.value, ValueError)
    assert not api.calls


@pytest.mark.asyncio
@pytest.mark.parametrize("interval", [0, -0.5, float("inf")])
async def test_a_bad_poll_interval_is_an_argument_error_before_any_request(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, interval: float
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await fs.wait("r1", poll_interval=interval)
    assert caught.value.parameter == "poll_interval"
    assert not api.calls
