"""Constants and helpers for tests against a real flowServ server (integration, hardening)."""

from __future__ import annotations

import time
import uuid

import anyio

import aioflowserv as afs

WORKFLOWS = {"sleeper", "types", "quadratic", "scores"}
"""The session server's workflows: the three shipped templates, and the suite's own ``scores``
template (tests/support/templates/scores), installed through the plugin's ``flowserv_workflows``
ini option in pyproject.toml."""

POLL = 0.05
"""Poll interval (seconds) for waits on runs: sleeper runs of 0 s end within ~0.3 s."""

QUICK = 0.5
"""The ``sleep`` of a quick run that a test waits for.

Not 0: flowServ 0.8.1 commits a new run's RUNNING state in the start request
after it handed the run to its engine, and a run that ends before that commit
(a 0-second run on a loaded machine) is overwritten back to RUNNING for good.
Half a second of sleep keeps the engine behind the request."""

LONG = 30.0
"""The ``sleep`` of a run a test cancels (or leaves behind): it never ends first, however
loaded the machine, so the test asserts what the cancel did, not how fast it was."""

DEADLINE = 30.0
"""Upper bound (seconds) for any wait on a run, so that a stuck run fails a test, never hangs it."""

SMALL_UPLOAD = 64 * 1024
"""The upload limit (bytes) of the hardening tests' restricted server."""

QUIET = 0.5
"""Seconds without a new post-processing run before the workflow counts as settled."""


def unique(prefix: str) -> str:
    """A name no other test uses: users and groups outlive a test on the session's server."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def settle_postproc(workflow: afs.AsyncWorkflow) -> None:
    """Return once the workflow's latest post-processing run has ended and no new
    one appeared for :data:`QUIET` seconds.

    Tests that check the post-processing of their own run call it first: the
    server can drop one of two post-processing runs made at the same moment,
    so earlier tests' post-processing must be over.
    """
    with anyio.fail_after(DEADLINE):
        latest = await workflow.get_postproc_results()
        while True:
            if latest is not None and latest.is_active():
                await workflow.wait(latest, poll_interval=POLL)
            await anyio.sleep(QUIET)
            now = await workflow.get_postproc_results()
            if _settled(latest, now):
                return
            latest = now


def settle_postproc_sync(workflow: afs.Workflow) -> None:
    """:func:`settle_postproc` through the sync facade."""
    give_up = time.monotonic() + DEADLINE
    latest = workflow.get_postproc_results()
    while time.monotonic() < give_up:
        if latest is not None and latest.is_active():
            workflow.wait(latest, timeout=DEADLINE, poll_interval=POLL)
        time.sleep(QUIET)
        now = workflow.get_postproc_results()
        if _settled(latest, now):
            return
        latest = now
    raise TimeoutError("post-processing did not settle")


def _settled(before: afs.Run | None, now: afs.Run | None) -> bool:
    """The same latest post-processing run as before, and it is not running."""
    same = (before and before.run_id) == (now and now.run_id)
    return same and (now is None or not now.is_active())
