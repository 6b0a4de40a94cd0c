"""Following a workflow's post-processing: the run that ranks the runs, after they ended.

A workflow with a results schema and a ``postproc`` step runs its
post-processing after each successful run that entered the ranking. The
server commits the run's state first and only then creates the
post-processing run: for a moment the workflow still shows the previous one
(or none). :class:`PostprocFollower` waits for the one that covers the runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

import anyio
import attrs

from ._config import FIRST_POSTPROC_GRACE, POSTPROC_GRACE
from ._models import Run

if TYPE_CHECKING:
    from ._api import FlowservAPI
    from ._watch import WaitOptions, Watcher

__all__ = ["FIRST_POSTPROC_GRACE", "POSTPROC_GRACE", "PostprocFollower"]




class PostprocFollower:
    """The post-processing runs of one workflow."""

    def __init__(self, api: FlowservAPI, watcher: Watcher, workflow_id: str) -> None:
        self._api = api
        self._watcher = watcher
        self.workflow_id = workflow_id
        self._absent = False  # no post-processing run appeared after a ranked run

    async def latest(self) -> Run | None:
        """The workflow's latest post-processing run, or None if there is none yet."""
        return (await self._api.get_workflow(self.workflow_id)).postproc

    async def wait_after(self, runs: Iterable[Run], options: WaitOptions) -> None:
        """Wait until the post-processing that ``runs`` triggered (if any) is no longer active.

        Waits within ``options``' deadline; the post-processing wait reports
        nothing to ``on_change`` and cancels nothing on the server.
        """
        options = attrs.evolve(options, on_change=None, cancel_remote=None)
        finished = {
            run.run_id: run.finished_at
            for run in runs
            if run.is_success() and run.finished_at is not None
        }
        since = max(finished.values(), default=None)
        postproc = await self._covering(finished, since, options)
        while postproc is not None and postproc.is_active():
            (waited,) = await self._watcher.wait_all([postproc], options)
            if _covers(waited, since):
                return
            # That one started before the runs ended: look for the one they triggered.
            postproc = await self._covering(finished, since, options)

    async def _covering(
        self, finished: Mapping[str, datetime], since: datetime | None, options: WaitOptions
    ) -> Run | None:
        """The post-processing run that covers ``finished``, else the latest, or None.

        ``finished`` maps the successful runs' ids to when they finished, and
        ``since`` is the last of these times. While the latest post-processing
        run is final but older than a ranked run, keep looking for the new one,
        within the deadline and :data:`POSTPROC_GRACE`. An active
        post-processing run is returned as it is (to be waited for).
        """
        postproc = await self.latest()
        if _covers(postproc, since):
            return postproc
        if postproc is not None and postproc.is_active():
            return postproc  # an older one, still running: waited for, then asked again
        if postproc is None and self._absent:
            return None
        board = await self._api.get_leaderboard(self.workflow_id)
        ranked = board.run_ids() if board is not None else set()
        due = [at for run_id, at in finished.items() if run_id in ranked]
        if not due:
            return postproc
        ranked_since = max(due)
        # Without any post-processing run yet, the workflow may have none at all.
        grace = POSTPROC_GRACE if postproc is not None else FIRST_POSTPROC_GRACE
        limit = min(options.deadline, anyio.current_time() + grace)
        while not _covers(postproc, ranked_since) and anyio.current_time() < limit:
            await anyio.sleep(min(options.poll_interval, max(0.0, limit - anyio.current_time())))
            postproc = await self.latest()
        if postproc is None and limit < options.deadline:  # the whole grace passed: none comes
            self._absent = True
        return postproc


def _covers(postproc: Run | None, finished_at: datetime | None) -> bool:
    """True if ``postproc`` was created after a run that finished at ``finished_at``.

    With no such run (``None``), any post-processing run covers.
    """
    if finished_at is None:
        return True
    return (
        postproc is not None
        and postproc.created_at is not None
        and postproc.created_at >= finished_at
    )
