"""AsyncWorkflow: flowServ's ``Workflow`` client, awaitable, for one group of a workflow."""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import anyio

from ._config import check_seconds
from ._errors import (
    ArgumentError,
    BatchSubmissionError,
    FlowservError,
    InvalidArgumentError,
    SubmissionUncertainError,
)
from ._files import FileHandle
from ._gather import gather
from ._http import segment
from ._models import Group, Run, RunInfo, WorkflowInfo
from ._parameters import FileSource, ParameterIndex, Prepared, prepare_arguments
from ._watch import OnChange, notify

if TYPE_CHECKING:
    from ._client import AsyncFlowserv, RunRef

logger = logging.getLogger("aioflowserv")

__all__ = ["AsyncWorkflow"]

POSTPROC_GRACE = 10.0
"""Seconds to wait for the server to create the post-processing run a ranked run triggered."""

FIRST_POSTPROC_GRACE = 2.0
"""The same while the workflow has no post-processing run yet (it may have none at all)."""


class AsyncWorkflow:
    """One workflow, seen through one of its groups: run it, watch runs, fetch results.

    Every method of flowServ's ``Workflow`` is here with the same name and
    parameters, awaitable (``identifier`` is a property). Create it with
    ``await fs.workflow(workflow_id, group_id)``, which loads the workflow's
    metadata and the group's parameter declarations once.
    """

    def __init__(self, service: AsyncFlowserv, info: WorkflowInfo, group: Group) -> None:
        self._service = service
        self._info = info
        self._group = group
        self._postproc_absent = False  # no post-processing run appeared after a ranked run

    @classmethod
    async def load(cls, service: AsyncFlowserv, workflow_id: str, group_id: str) -> AsyncWorkflow:
        """Fetch the workflow's metadata and the group's parameters (two requests, concurrently)."""
        segment(workflow_id, "workflow_id")
        segment(group_id, "group_id")
        # Reading the group needs a token: without one, fail before either request goes out.
        service._http.check_ready("GET", f"groups/{group_id}", auth=True)
        calls: list[Callable[[], Awaitable[Any]]] = [
            functools.partial(service.get_workflow, workflow_id),
            functools.partial(service.get_group, group_id),
        ]
        info, group = await gather(calls)
        return cls(service, info, group)

    def __repr__(self) -> str:
        return f"<AsyncWorkflow {self.identifier!r} group={self.group_id!r}>"

    @property
    def identifier(self) -> str:
        """The workflow id."""
        return self._info.id

    @property
    def group_id(self) -> str:
        """The id of the group that runs are started in."""
        return self._group.id

    @property
    def service(self) -> AsyncFlowserv:
        """The client this workflow talks through."""
        return self._service

    @property
    def info(self) -> WorkflowInfo:
        """The workflow metadata loaded when this object was created."""
        return self._info

    async def name(self) -> str:
        """The workflow's name."""
        return self._info.name

    async def description(self) -> str | None:
        """The workflow's description, or None."""
        return self._info.description

    async def instructions(self) -> str | None:
        """The workflow's instructions (Markdown), or None."""
        return self._info.instructions

    async def parameters(self) -> ParameterIndex:
        """The group's parameter declarations, by name."""
        return self._group.parameters

    # -- runs ---------------------------------------------------------------

    async def start_run(
        self,
        arguments: Mapping[str, Any],
        config: Mapping[str, Any] | None = None,
        poll_interval: float | None = None,
        *,
        timeout: float | None = None,
        max_interval: float | None = None,
        on_change: OnChange | None = None,
    ) -> Run:
        """Start a run; with ``poll_interval``, wait until it (and post-processing) ended.

        Arguments are checked against the group's parameters and defaults are
        filled in before any request: an unknown name raises
        :class:`UnknownParameterError`, a bad value :class:`InvalidArgumentError`.
        A file argument may be a path, bytes, ``io.BytesIO``/``io.StringIO``,
        an open file or a :class:`FileArgument`; it is uploaded first. A file
        parameter left out keeps its default, a file on the server.

        ``config`` cannot travel over the REST API: passing one raises instead
        of being silently dropped. With ``poll_interval`` (seconds), the run is
        watched until it is no longer active, then the workflow's
        post-processing run, if any, as flowServ's client does; ``timeout``
        bounds that wait (:class:`RunWaitTimeout`; the run is left alone).
        Cancelling the awaiting task stops the wait and leaves the run running;
        a start request already sent is still answered first, so that the run
        it made is known (and named in a warning of the ``aioflowserv`` logger).
        ``on_change`` is called with the run once it is started, then at every
        state change. Returns the run (final when waited for).
        """
        if config is not None:
            raise InvalidArgumentError(
                "config",
                "engine configuration cannot be sent over flowServ's REST API "
                "(the server rejects it); leave config=None",
            )
        prepared = prepare_arguments(self._group.parameters, arguments)
        intervals = (
            self._service._intervals(poll_interval, max_interval) if poll_interval else None
        )
        _deadline(timeout)  # check it before anything is sent
        run = await self._submit(prepared)
        if on_change is not None:
            notify(on_change, run)
        if intervals is None:
            return run
        deadline = _deadline(timeout)
        run = await self._service.wait(
            run, _remaining(deadline, timeout), on_change=on_change,
            poll_interval=intervals[0], max_interval=intervals[1],
        )
        await self._wait_postproc(deadline, timeout, intervals, [run])
        return run

    async def _submit(self, prepared: Prepared) -> Run:
        wire: list[dict[str, Any]] = []
        uploaded: list[str] = []
        try:
            for name, value in prepared:
                if isinstance(value, FileSource):
                    file_id = value.upload_id
                    if file_id is None:
                        file_id = (await self._service._upload(self.group_id, value)).id
                        uploaded.append(file_id)
                    value = value.wire(file_id)
                wire.append({"name": name, "value": value})
            return await self._service.start_run(self.group_id, wire)
        except SubmissionUncertainError:
            raise
        except BaseException:
            if uploaded:  # the run was certainly not created: do not leave its uploads behind
                with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                    for file_id in uploaded:
                        with contextlib.suppress(FlowservError):
                            await self._service.delete_file(self.group_id, file_id)
            raise

    async def _wait_postproc(
        self,
        deadline: float,
        timeout: float | None,
        intervals: tuple[float, float],
        runs: Iterable[Run] = (),
    ) -> None:
        finished = {
            run.run_id: run.finished_at
            for run in runs
            if run.is_success() and run.finished_at is not None
        }
        postproc = await self._postproc_for(finished, deadline, intervals[0])
        while postproc is not None and postproc.is_active():
            waited = await self._service.wait(
                postproc, _remaining(deadline, timeout),
                poll_interval=intervals[0], max_interval=intervals[1],
            )
            if _covers(waited, max(finished.values(), default=None)):
                return
            # That one started before the runs ended: look for the one they triggered.
            postproc = await self._postproc_for(finished, deadline, intervals[0])

    async def _postproc_for(
        self, finished: Mapping[str, datetime], deadline: float, poll_interval: float
    ) -> Run | None:
        """The post-processing run that covers ``finished``, else the latest, or None.

        ``finished`` maps the successful runs' ids to when they finished.

        The server commits a successful run's state first and only then, if the
        run entered the ranking, creates the post-processing run: for a moment
        the workflow still shows the previous one (or none). So while the
        latest post-processing run is final but older than a ranked run, keep
        looking for the new one, within the deadline and :data:`POSTPROC_GRACE`.
        An active post-processing run is returned as it is (to be waited for).
        """
        postproc = await self.get_postproc_results()
        if _covers(postproc, max(finished.values(), default=None)):
            return postproc
        if postproc is not None and postproc.is_active():
            return postproc  # an older one, still running: waited for, then asked again
        if postproc is None and self._postproc_absent:
            return None
        ranked = await self._ranked_run_ids()
        due = [at for run_id, at in finished.items() if run_id in ranked]
        if not due:
            return postproc
        since = max(due)
        # Without any post-processing run yet, the workflow may have none at all.
        grace = POSTPROC_GRACE if postproc is not None else FIRST_POSTPROC_GRACE
        limit = min(deadline, anyio.current_time() + grace)
        while not _covers(postproc, since) and anyio.current_time() < limit:
            await anyio.sleep(min(poll_interval, max(0.0, limit - anyio.current_time())))
            postproc = await self.get_postproc_results()
        if postproc is None and limit < deadline:  # the whole grace passed: none comes
            self._postproc_absent = True
        return postproc

    async def _ranked_run_ids(self) -> set[str]:
        """Ids of the runs in the workflow's ranking (none without a results schema)."""
        path = f"workflows/{segment(self.identifier, 'workflow_id')}/leaderboard"
        doc = await self._service._http.request("GET", path)
        entries = doc.get("ranking") if isinstance(doc, Mapping) else None
        return {
            entry["run"]["id"]
            for entry in entries or []
            if isinstance(entry, Mapping)
            and isinstance(entry.get("run"), Mapping)
            and isinstance(entry["run"].get("id"), str)
        }

    async def start_runs(
        self,
        arguments: Iterable[Mapping[str, Any]],
        concurrency: int = 8,
        poll_interval: float | None = None,
        *,
        timeout: float | None = None,
        max_interval: float | None = None,
        on_change: OnChange | None = None,
        postproc: bool = False,
        return_exceptions: bool = False,
    ) -> list[Run]:
        """Start one run per argument set, ``concurrency`` at a time; runs in input order.

        Every argument set is checked before the first request. Submissions do
        not cancel each other: if some fail, :class:`BatchSubmissionError`
        carries, in input order, each created run and each error (or, with
        ``return_exceptions=True``, that list is returned). With
        ``poll_interval``, waits until all runs ended (not for
        post-processing unless ``postproc=True``), within ``timeout``.

        ``on_change`` is called with each run as soon as it is started, then at
        every state change, so a caller always knows which runs exist: if the
        batch is cancelled, the runs already started keep running (they are
        also listed in a warning of the ``aioflowserv`` logger) and the
        submissions not yet sent are dropped.
        """
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InvalidArgumentError("concurrency", f"expected an int >= 1, got {concurrency!r}")
        batch: list[Prepared] = []
        for index, args in enumerate(arguments):
            try:
                batch.append(prepare_arguments(self._group.parameters, args))
            except ArgumentError as exc:
                _note(exc, f"in argument set #{index} of the batch")
                raise
        intervals = (
            self._service._intervals(poll_interval, max_interval) if poll_interval else None
        )
        _deadline(timeout)  # check it before anything is sent
        results: list[Any] = [None] * len(batch)
        limiter = anyio.CapacityLimiter(concurrency)

        async def submit(index: int) -> None:
            async with limiter:
                try:
                    results[index] = run = await self._submit(batch[index])
                except FlowservError as exc:
                    results[index] = exc
                else:
                    if on_change is not None:
                        notify(on_change, run)

        try:
            async with anyio.create_task_group() as tg:
                for index in range(len(batch)):
                    tg.start_soon(submit, index)
        except anyio.get_cancelled_exc_class():
            created = [run.run_id for run in results if isinstance(run, Run)]
            if created:
                logger.warning(
                    "start_runs was cancelled after starting %d of %d runs in group %s: %s",
                    len(created), len(batch), self.group_id, ", ".join(created),
                )
            raise
        if intervals is not None:
            deadline = _deadline(timeout)
            started = [(i, r) for i, r in enumerate(results) if isinstance(r, Run)]
            finals = await self._service._watcher.wait_all(
                [(run.run_id, run.group_id, run) for _, run in started],
                timeout=_remaining(deadline, timeout), on_change=on_change,
                return_exceptions=True, poll_interval=intervals[0], max_interval=intervals[1],
            )
            for (index, _), final in zip(started, finals, strict=True):
                results[index] = final
            if postproc:
                finished = [run for run in results if isinstance(run, Run)]
                await self._wait_postproc(deadline, timeout, intervals, finished)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures and not return_exceptions:
            raise BatchSubmissionError(
                f"{len(failures)} of {len(results)} runs could not be started or watched; "
                f"first error: {failures[0]}",
                results,
            )
        return results

    async def poll_run(self, run_id: str) -> Run:
        """The current snapshot of a run."""
        return await self._service.get_run(run_id)

    async def cancel_run(self, run_id: str, reason: str | None = None) -> Run:
        """Cancel an active run; ``reason`` becomes its message. Returns the canceled run."""
        return await self._service.cancel_run(run_id, reason)

    async def delete_run(self, run_id: str) -> None:
        """Delete a run that is no longer active."""
        await self._service.delete_run(run_id)

    async def get_file(self, run_id: str, file_id: str | None = None) -> FileHandle:
        """A result file of a run, or, without ``file_id``, the run's result archive."""
        if file_id is None:
            return await self._service.download_run_archive(run_id)
        return await self._service.download_run_file(run_id, file_id)

    async def get_postproc_results(self) -> Run | None:
        """The workflow's latest post-processing run, or None if there is none yet."""
        return (await self._service.get_workflow(self.identifier)).postproc

    async def list_runs(self) -> list[RunInfo]:
        """Id, state and creation time of every run of the group."""
        return await self._service.list_runs(self.group_id)

    # -- watching ---------------------------------------------------------------

    async def wait(
        self,
        run: RunRef,
        timeout: float | None = None,
        *,
        poll_interval: float | None = None,
        max_interval: float | None = None,
        on_change: OnChange | None = None,
        cancel_remote: bool | str = False,
        postproc: bool = False,
    ) -> Run:
        """Wait until a run is no longer active; return its final snapshot.

        ``run`` is a :class:`Run` or a run id (of this group). The wait joins
        the client's watcher: one listing per group and tick serves every
        wait. The first poll comes after ``poll_interval``; while nothing
        changes the interval grows (with jitter) up to ``max_interval``.
        ``timeout`` is a deadline for the whole wait: past it,
        :class:`RunWaitTimeout` carries the last seen snapshot and the run is
        left alone. Cancelling the waiting task stops only this wait; with
        ``cancel_remote=True`` (or a reason string) the run is then canceled
        on the server too. ``on_change`` is called with a snapshot at each
        state change. With ``postproc=True``, also waits for the workflow's
        post-processing run.
        """
        deadline = _deadline(timeout)
        (final,) = await self._service.wait_all(
            [run], timeout, poll_interval=poll_interval, max_interval=max_interval,
            on_change=on_change, cancel_remote=cancel_remote, group_id=self.group_id,
        )
        if postproc:
            await self._wait_postproc(
                deadline, timeout, self._service._intervals(poll_interval, max_interval), [final]
            )
        return final

    async def wait_all(
        self,
        runs: Iterable[RunRef],
        timeout: float | None = None,
        *,
        poll_interval: float | None = None,
        max_interval: float | None = None,
        on_change: OnChange | None = None,
        cancel_remote: bool | str = False,
    ) -> list[Run]:
        """Wait until every run ended; return the final snapshots in input order."""
        return await self._service.wait_all(
            runs, timeout, poll_interval=poll_interval, max_interval=max_interval,
            on_change=on_change, cancel_remote=cancel_remote, group_id=self.group_id,
        )

    async def as_completed(
        self,
        runs: Iterable[RunRef],
        timeout: float | None = None,
        *,
        poll_interval: float | None = None,
        max_interval: float | None = None,
        on_change: OnChange | None = None,
    ) -> AsyncGenerator[Run, None]:
        """Yield each run's final snapshot as it ends, in completion order.

        ``async for run in wf.as_completed(runs, timeout=60): ...``. Past the
        deadline :class:`RunWaitTimeout` is raised (runs are left alone).
        """
        stream = self._service.as_completed(
            runs, timeout, poll_interval=poll_interval, max_interval=max_interval,
            on_change=on_change, group_id=self.group_id,
        )
        try:
            async for run in stream:
                yield run
        finally:
            await stream.aclose()


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


def _note(exc: BaseException, note: str) -> None:
    add_note = getattr(exc, "add_note", None)
    if add_note is not None:
        add_note(note)


def _deadline(timeout: float | None) -> float:
    if timeout is None:
        return math.inf
    return anyio.current_time() + check_seconds(timeout, "timeout", zero=True)


def _remaining(deadline: float, timeout: float | None) -> float | None:
    if timeout is None:
        return None
    return max(0.0, deadline - anyio.current_time())

