"""AsyncWorkflow: flowServ's ``Workflow`` client, awaitable, for one group of a workflow."""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import attrs

from ._arguments import Prepared, prepare_arguments
from ._config import Unpack
from ._errors import ArgumentError, BatchSubmissionError, InvalidArgumentError
from ._files import FileHandle
from ._gather import gather
from ._limit import AdaptiveLimit, FixedLimit, Limit
from ._manifest import Manifest
from ._models import Group, ParameterIndex, Run, RunInfo, WorkflowInfo
from ._postproc import PostprocFollower
from ._submit import RunBatch
from ._transport import segment
from ._watch import OnChange, RunRef, WaitArgs, WaitOptions, notify

if TYPE_CHECKING:
    from ._client import AsyncFlowserv, Session

__all__ = ["AsyncWorkflow"]


class AsyncWorkflow:
    """One workflow, seen through one of its groups: run it, watch runs, fetch results.

    Every method of flowServ's ``Workflow`` is here with the same name and
    parameters, awaitable (``identifier`` is a property). Create it with
    ``await fs.workflow(workflow_id, group_id)``, which loads the workflow's
    metadata and the group's parameter declarations once.
    """

    def __init__(
        self, service: AsyncFlowserv, session: Session, info: WorkflowInfo, group: Group
    ) -> None:
        self._service = service
        self._api = session.api
        self._submitter = session.submitter
        self._watcher = session.watcher
        self._postproc = PostprocFollower(session.api, session.watcher, info.id)
        self._info = info
        self._group = group

    @classmethod
    async def load(
        cls, service: AsyncFlowserv, session: Session, workflow_id: str, group_id: str
    ) -> AsyncWorkflow:
        """Fetch the workflow's metadata and the group's parameters (two requests, concurrently)."""
        segment(workflow_id, "workflow_id")
        segment(group_id, "group_id")
        # Reading the group needs a token: without one, fail before either request goes out.
        session.api.check_auth(f"groups/{group_id}")
        calls: list[Callable[[], Awaitable[Any]]] = [
            functools.partial(session.api.get_workflow, workflow_id),
            functools.partial(session.api.get_group, group_id),
        ]
        info, group = await gather(calls)
        return cls(service, session, info, group)

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
        it made is known: it is named in a warning of the ``aioflowserv``
        logger and handed to ``on_change``, whichever way the call was
        cancelled (a cancel scope, ``Task.cancel()``, ``asyncio.wait_for``,
        ``asyncio.timeout``). ``on_change`` is called with the run once it is
        started, then at every state change. Returns the run (final when
        waited for).
        """
        if config is not None:
            raise InvalidArgumentError(
                "config",
                "engine configuration cannot be sent over flowServ's REST API "
                "(the server rejects it); leave config=None",
            )
        prepared = prepare_arguments(self._group.parameters, arguments)
        options = self._watcher.options(
            timeout, poll_interval=poll_interval or None, max_interval=max_interval,
            on_change=on_change,
        )
        started = functools.partial(notify, on_change) if on_change is not None else None
        run = await self._submitter.submit(self.group_id, prepared, started)
        if not poll_interval:
            return run
        (run,) = await self._watcher.wait_all([run], options)
        assert isinstance(run, Run)
        await self._postproc.wait_after([run], options)
        return run

    async def start_runs(
        self,
        arguments: Iterable[Mapping[str, Any]],
        concurrency: int | Literal["auto"] = "auto",
        poll_interval: float | None = None,
        *,
        timeout: float | None = None,
        max_interval: float | None = None,
        on_change: OnChange | None = None,
        postproc: bool = False,
        return_exceptions: bool = False,
        cancel_remote: bool | str = False,
        manifest: str | os.PathLike[str] | None = None,
    ) -> RunBatch:
        """Start one run per argument set; returns the runs in input order.

        ``concurrency="auto"`` (the default) adapts how many submissions are
        in flight to the server: it grows while the server answers as fast as
        it does unloaded and shrinks when more concurrency only adds latency,
        never above 64; an int fixes it. The result is a :class:`RunBatch` (a
        list) whose ``concurrency`` says where the limit settled (also logged
        at INFO by the ``aioflowserv`` logger).

        Every argument set is checked before the first request. Submissions do
        not cancel each other: if some fail, :class:`BatchSubmissionError`
        carries, in input order, each created run and each error (or, with
        ``return_exceptions=True``, that list is returned). With
        ``poll_interval``, waits until all runs ended (not for
        post-processing unless ``postproc=True``), within ``timeout``.

        ``on_change`` is called with each run as soon as it is started, then at
        every state change, so a caller always knows which runs exist: if the
        batch is cancelled (by a cancel scope or natively, as ``asyncio.wait_for``
        does), the submissions not yet sent are dropped and the runs already
        started keep running (they are also listed in a warning of the
        ``aioflowserv`` logger), unless ``cancel_remote`` (True, or a reason)
        asks to cancel them on the server too.

        ``manifest`` is the path of a JSON Lines file that records each start
        (its intent before, its run after; flushed and fsynced). Run again
        with the same manifest and arguments (after the process was killed,
        say), the batch starts only what has no run yet and returns every run
        in input order. A manifest recorded for other arguments or another
        group raises :class:`InvalidArgumentError` before any request.
        """
        limit = _limit(concurrency)
        batch: list[Prepared] = []
        for index, args in enumerate(arguments):
            try:
                batch.append(prepare_arguments(self._group.parameters, args))
            except ArgumentError as exc:
                _note(exc, f"in argument set #{index} of the batch")
                raise
        options = self._watcher.options(
            timeout, poll_interval=poll_interval or None, max_interval=max_interval,
            on_change=on_change, cancel_remote=cancel_remote,
        )
        started: list[str] = []

        def on_started(run: Run) -> None:
            started.append(run.run_id)
            if on_change is not None:
                notify(on_change, run)

        journal = await Manifest.open(manifest, self.group_id, batch) if manifest else None
        async with self._watcher.cancelling_remote(started, options):
            try:
                results: list[Any] = await self._submitter.submit_all(
                    self.group_id, batch, limit=limit, on_started=on_started, manifest=journal
                )
            finally:
                if journal is not None:
                    journal.close()
            if poll_interval:
                await self._wait_for_batch(results, attrs.evolve(options, cancel_remote=None))
            if poll_interval and postproc:
                finished = [run for run in results if isinstance(run, Run)]
                await self._postproc.wait_after(finished, options)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures and not return_exceptions:
            raise BatchSubmissionError(
                f"{len(failures)} of {len(results)} runs could not be started or watched; "
                f"first error: {failures[0]}",
                results,
            )
        return RunBatch(
            results, concurrency=limit.settled, peak_concurrency=limit.peak,
            adaptive=limit.adaptive,
        )

    async def _wait_for_batch(self, results: list[Any], options: WaitOptions) -> None:
        """Replace each started run in ``results`` by its final snapshot (or its error)."""
        started = [(i, r) for i, r in enumerate(results) if isinstance(r, Run)]
        finals = await self._watcher.wait_all(
            [run for _, run in started], options, return_exceptions=True
        )
        for (index, _), final in zip(started, finals, strict=True):
            results[index] = final

    async def poll_run(self, run_id: str) -> Run:
        """The current snapshot of a run."""
        return await self._api.get_run(run_id)

    async def cancel_run(self, run_id: str, reason: str | None = None) -> Run:
        """Cancel an active run; ``reason`` becomes its message. Returns the canceled run."""
        return await self._api.cancel_run(run_id, reason)

    async def delete_run(self, run_id: str) -> None:
        """Delete a run that is no longer active."""
        await self._api.delete_run(run_id)

    async def get_file(self, run_id: str, file_id: str | None = None) -> FileHandle:
        """A result file of a run, or, without ``file_id``, the run's result archive."""
        if file_id is None:
            return await self._api.download_run_archive(run_id)
        return await self._api.download_run_file(run_id, file_id)

    async def get_postproc_results(self) -> Run | None:
        """The workflow's latest post-processing run, or None if there is none yet."""
        return await self._postproc.latest()

    async def list_runs(self) -> list[RunInfo]:
        """Id, state and creation time of every run of the group."""
        return (await self._api.list_runs(self.group_id)).infos()

    # -- watching ---------------------------------------------------------------

    async def wait(
        self, run: RunRef, timeout: float | None = None, *, postproc: bool = False,
        **options: Unpack[WaitArgs],
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
        post-processing run. (The options are those of :class:`WaitArgs`.)
        """
        checked = self._watcher.options(timeout, **options)
        final: Run
        (final,) = await self._watcher.wait_all([run], checked, group_id=self.group_id)
        if postproc:
            await self._postproc.wait_after([final], checked)
        return final

    async def wait_all(
        self, runs: Iterable[RunRef], timeout: float | None = None, **options: Unpack[WaitArgs]
    ) -> list[Run]:
        """Wait until every run ended; return the final snapshots in input order.

        Options as for :meth:`wait`.
        """
        return await self._service.wait_all(runs, timeout, group_id=self.group_id, **options)

    def as_completed(
        self, runs: Iterable[RunRef], timeout: float | None = None, **options: Unpack[WaitArgs]
    ) -> AsyncGenerator[Run, None]:
        """Yield each run's final snapshot as it ends, in completion order.

        ``async for run in wf.as_completed(runs, timeout=60): ...``. Past the
        deadline :class:`RunWaitTimeout` is raised (runs are left alone).
        Options as for :meth:`wait`; with ``cancel_remote``, runs still active
        are canceled on the server if the iterating task is cancelled.
        """
        return self._service.as_completed(runs, timeout, group_id=self.group_id, **options)


def _limit(concurrency: object) -> Limit:
    """The limit of a batch: ``"auto"``, or a fixed int >= 1."""
    if concurrency == "auto":
        return AdaptiveLimit()
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidArgumentError(
            "concurrency", f"expected \"auto\" or an int >= 1, got {concurrency!r}"
        )
    return FixedLimit(concurrency)


def _note(exc: BaseException, note: str) -> None:
    add_note = getattr(exc, "add_note", None)
    if add_note is not None:
        add_note(note)
