"""Following post-processing (``_postproc``): the workflow's post-processing run, and waits for it.

Through :class:`AsyncWorkflow`: on the mocked API for what is sent, and on the
fake flowServ under asyncio and trio on a virtual clock for the timing (the
fake, like the server, makes a post-processing run a moment after the run that
triggered it ended).
"""

from __future__ import annotations

import anyio
import httpx
import pytest
import respx

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv
from tests.support.documents import run_doc, workflow_doc
from tests.support.fake import FIXED

AFTER_RUN = "2026-11-26T15:19:07.301202+00:00"
"""When the post-processing run that r1 (finished at ``FINISHED``) triggered was created."""


@pytest.mark.asyncio
async def test_start_run_with_poll_interval_waits_for_the_run_and_post_processing(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    api.post("/groups/g1/runs").respond(201, json=run_doc())
    api.get("/groups/g1/runs").respond(
        200, json={"runs": [{"id": "r1", "state": "SUCCESS"}]}
    )
    api.get("/runs/r1").respond(200, json=run_doc(state="SUCCESS", files=[]))
    api.get("/workflows/sleeper").mock(
        side_effect=[
            httpx.Response(
                200,
                json=workflow_doc(
                    postproc=run_doc("pp", state="RUNNING", group_id=None, createdAt=AFTER_RUN)
                ),
            )
        ]
    )
    postproc = api.get("/runs/pp").respond(
        200, json=run_doc("pp", state="SUCCESS", group_id=None, createdAt=AFTER_RUN)
    )
    with anyio.fail_after(5):
        run = await sleeper.start_run({"sleep": 0}, poll_interval=0.01)
    assert run.is_success()
    assert postproc.call_count >= 1


@pytest.mark.asyncio
async def test_get_postproc_results_is_none_before_any_post_processing(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    route = api.get("/workflows/sleeper").respond(200, json=workflow_doc())
    assert await sleeper.get_postproc_results() is None
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_get_postproc_results_returns_the_post_processing_run(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    postproc = run_doc(
        "pp", state="SUCCESS", group_id=None,
        files=[{"id": "s1", "name": "results/summary.json", "title": "Summary",
                "format": {"type": "json"}}],
    )
    del postproc["groupId"]
    api.get("/workflows/sleeper").respond(200, json=workflow_doc(postproc=postproc))
    run = await sleeper.get_postproc_results()
    assert run is not None
    assert run.run_id == "pp"
    assert run.group_id is None
    assert [f.title for f in run.files()] == ["Summary"]


@pytest.mark.anyio
async def test_start_runs_does_not_wait_for_post_processing_unless_asked(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    fake.postproc = 5.0
    with anyio.fail_after(600):
        runs = await workflow.start_runs([{"sleep": 0.2}], poll_interval=0.1)
    assert runs[0].is_success()
    assert fake.postproc_runs[-1].active
    with anyio.fail_after(600):
        await workflow.start_runs([{"sleep": 0.2}], poll_interval=0.1, postproc=True)
    assert not fake.postproc_runs[-1].active


@pytest.mark.anyio
async def test_start_run_with_poll_interval_also_waits_for_the_post_processing_run(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    fake.postproc = 2.0
    with anyio.fail_after(600):
        run = await workflow.start_run({"sleep": 1}, poll_interval=0.1)
    assert run.is_success()
    assert run.files()
    (post,) = fake.postproc_runs
    assert post.state == "SUCCESS"
    assert anyio.current_time() >= post.finished  # type: ignore[operator]
    assert fake.count("get_run", post.id) >= 1
    postproc = await workflow.get_postproc_results()
    assert postproc is not None
    assert postproc.run_id == post.id
    assert postproc.is_success()


@pytest.mark.anyio
async def test_wait_with_postproc_waits_for_the_post_processing_run(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    fake.postproc = 3.0
    run = await workflow.start_run({"sleep": 0.5})
    with anyio.fail_after(600):
        final = await workflow.wait(run, postproc=True, **FIXED)
    assert final.is_success()
    assert not fake.postproc_runs[-1].active


@pytest.mark.anyio
async def test_wait_with_postproc_looks_past_an_older_post_processing_run_still_active(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    # The server makes a post-processing run a moment after the run that
    # triggered it ended. Run 1 ends at 0.3 s, its post-processing runs from
    # 0.8 to 2.8 s; run 2 ends at 1.0 s, its post-processing appears at 1.5 s
    # and runs to 3.5 s. At run 2's end the workflow shows run 1's, active.
    fake.postproc, fake.postproc_delay = 2.0, 0.5
    started = anyio.current_time()
    await workflow.start_run({"sleep": 0.3})
    second = await workflow.start_run({"sleep": 1.0})
    with anyio.fail_after(600):
        final = await workflow.wait(second, postproc=True, **FIXED)
    assert final.is_success()
    assert anyio.current_time() - started >= 3.5
    _, second_post = fake.postproc_runs
    postproc = await workflow.get_postproc_results()
    assert postproc is not None
    assert postproc.run_id == second_post.id
    assert postproc.is_success()
