"""Waits of the client itself: bare run ids, closing the client mid-wait, bad deadlines."""

from __future__ import annotations

import anyio
import httpx
import pytest
import respx

import aioflowserv as afs

from ._support import SLEEPER_PARAMETERS, run_doc


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
async def test_closing_the_client_ends_waits_at_once_with_client_closed(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/groups/g1/runs").mock(
        return_value=httpx.Response(
            200, json={"runs": [{"id": "r1", "state": "RUNNING", "createdAt": None}]}
        )
    )
    running = afs.Run.from_json(run_doc("r1", state="RUNNING"))
    outcome: list[BaseException] = []

    async def wait() -> None:
        try:
            await fs.wait(running, poll_interval=3600)
        except afs.FlowservError as exc:
            outcome.append(exc)

    with anyio.fail_after(10):  # the poll interval is an hour: only the close can end it
        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await anyio.sleep(0.05)
            await fs.aclose()
    assert len(outcome) == 1
    assert isinstance(outcome[0], afs.ClientClosedError)
    assert fs._session.watcher.idle


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


def test_a_run_keeps_its_document_but_not_the_groups_parameter_declarations() -> None:
    doc = run_doc("r1", state="SUCCESS", parameters=SLEEPER_PARAMETERS)
    run = afs.Run.from_json(doc)
    assert "parameters" not in run.doc
    assert run.doc["arguments"] == doc["arguments"]
    assert run.doc["id"] == "r1"
