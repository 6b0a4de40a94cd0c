"""Group-scoped orchestration: what the clients do with runs, over the layers below.

A :class:`Session` is what one client is made of, bottom up: HTTP, the REST
routes, the background jobs, single submissions, batches and the watcher.
:class:`Runs` composes them into what users ask for: start a run and follow it
(its wait, then the workflow's post-processing), rerun one, start a batch
(limit, manifest, remote cancellation, wait, post-processing, the errors of
the submissions that failed), run a sweep (:mod:`._sweep`), wait for runs,
watch a group, cancel a group's active runs, download a group's results.
Both :class:`~._client.AsyncFlowserv` and :class:`~._workflow.AsyncWorkflow`
are thin faces over one ``Runs``: neither holds policy of its own, and nothing
here calls back up into them.

Whether to wait after a start is a flag of its own (``wait``), never read from
a poll interval; the public ``poll_interval=None`` of flowServ's ``start_run``
is turned into that flag once, where a public call enters (:meth:`Runs.follow`).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import TYPE_CHECKING, Any

import attrs

from ._api import FlowservAPI
from ._arguments import Prepared, check_wire_arguments, prepare_arguments
from ._batch import Batcher, RunBatch
from ._callback import check
from ._config import (
    CANCEL_CONCURRENCY,
    DOWNLOAD_CONCURRENCY,
    STREAM_GIVE_UP,
    ClientOptions,
    Origin,
    Settings,
    check_id,
    check_seconds,
)
from ._downloads import OnDownload, RunDownload, download_results
from ._errors import (
    ArgumentError,
    BatchSubmissionError,
    ClientClosedError,
    InvalidArgumentError,
    add_note,
)
from ._gather import Background, gather
from ._lifecycle import RunStates, cancel_run, cancel_runs, create_group, delete_run, rerun
from ._limit import Limit, limit_for
from ._models import Group, Leaderboard, Parameter, Run, RunInfo, RunList, WorkflowInfo
from ._postproc import PostprocFollower
from ._progress import Progress, open_progress
from ._routes import Routes
from ._study import SweepResult
from ._submit import Submitter
from ._sweep import Sweeper, SweepPlan, check_plan
from ._transport import HTTPClient
from ._watch import OnChange, RunRef, WaitArgs, WaitOptions, Watcher, notify

if TYPE_CHECKING:
    from ._config import Unpack

__all__ = ["Runs", "Session"]


@attrs.frozen
class Session:
    """What one client is made of, bottom up: HTTP, routes, submissions, batches, watching."""

    http: HTTPClient
    api: FlowservAPI
    background: Background
    submitter: Submitter
    batcher: Batcher
    watcher: Watcher

    @classmethod
    def open(
        cls, settings: Settings, options: ClientOptions, token: str | None, *,
        origin: Origin | None = None,
    ) -> Session:
        """Build the layers for checked settings (``options`` gives the transport).

        ``origin`` says where the URL and token came from, for error messages.
        """
        http = HTTPClient(settings, token, options.get("transport"), origin=origin)
        api = FlowservAPI(http)
        background = Background()
        submitter = Submitter(api, background)
        batcher = Batcher(api, submitter, http.observing_pushback)
        return cls(http, api, background, submitter, batcher, Watcher(api, settings))

    async def aclose(self) -> None:
        """End the waits in progress with :class:`ClientClosedError`; close the connections.

        Run starts still being resolved in the background (their callers were
        cancelled) are finished first.
        """
        self.watcher.close(ClientClosedError("the client was closed while waiting"))
        await self.background.aclose()
        await self.http.aclose()


class Runs:
    """Everything done with runs, for any group: the one place that holds the policy."""

    def __init__(self, session: Session) -> None:
        self.api = session.api
        """The REST routes, for what is just one request (a resource's plain reads)."""
        self._submitter = session.submitter
        self._batcher = session.batcher
        self._watcher = session.watcher

    # -- options ---------------------------------------------------------------

    def options(self, timeout: float | None = None, **args: Unpack[WaitArgs]) -> WaitOptions:
        """A wait's options, checked (the client's intervals fill in); the deadline starts now."""
        return self._watcher.options(timeout, **args)

    def follow(
        self,
        poll_interval: float | None,
        *,
        timeout: float | None,
        max_interval: float | None,
        on_change: OnChange | None,
        cancel_remote: bool | str = False,
    ) -> tuple[WaitOptions, bool]:
        """The options of a start's wait, and whether to wait at all.

        flowServ's ``start_run`` waits when it is given a ``poll_interval``
        (``None`` or 0: it does not); every option is checked either way.
        """
        options = self._watcher.options(
            timeout, poll_interval=poll_interval or None, max_interval=max_interval,
            on_change=on_change, cancel_remote=cancel_remote,
        )
        return options, bool(poll_interval)

    # -- workflows ---------------------------------------------------------------

    async def load(self, workflow_id: str, group_id: str) -> tuple[WorkflowInfo, Group]:
        """A workflow's metadata and one of its groups (two requests, concurrently).

        A group of another workflow is refused (:class:`InvalidArgumentError`
        naming both) before anything else is done with it.
        """
        check_id(workflow_id, "workflow_id")
        check_id(group_id, "group_id")
        # Reading the group needs a token: without one, fail before either request goes out;
        # the server answers it even for a wrong token, which is checked first (once).
        self.api.check_auth(Routes.get_group, group_id)
        await self.api.http.check_token("GET", Routes.get_group.path(group_id))
        calls: list[Callable[[], Awaitable[Any]]] = [
            functools.partial(self.api.get_workflow, workflow_id),
            functools.partial(self.api.get_group, group_id),
        ]
        info, group = await gather(calls)
        if group.workflow_id and group.workflow_id != info.id:
            raise InvalidArgumentError(
                "group_id",
                f"group {group.name!r} ({group.id}) belongs to workflow {group.workflow_id!r}, "
                f"not to {info.id!r}: use workflow({group.workflow_id!r}, {group.id!r}), or a "
                f"group of {info.id!r} (list_groups({info.id!r}) lists yours)",
            )
        return info, group

    def postproc(self, workflow_id: str) -> PostprocFollower:
        """The follower of a workflow's post-processing runs."""
        return PostprocFollower(self.api, self._watcher, workflow_id)

    # -- starting ----------------------------------------------------------------

    async def start(
        self,
        group_id: str,
        parameters: Mapping[str, Parameter],
        arguments: Mapping[str, Any],
        options: WaitOptions,
        *,
        wait: bool = False,
        postproc: PostprocFollower | None = None,
    ) -> Run:
        """Check the arguments, upload the file arguments and start the run.

        With ``wait``, follow it to its end (and then the post-processing it
        triggered, with ``postproc``).
        """
        prepared = prepare_arguments(parameters, arguments)
        on_change = options.on_change
        started = functools.partial(notify, on_change) if on_change is not None else None
        run = await self._submitter.submit(group_id, prepared, started)
        return await self._finish(run, options, wait, postproc)

    async def start_in(
        self, group_id: str, arguments: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> Run:
        """Start a run in a group given by id: a mapping is checked against its declarations.

        A list in wire form is sent as it is, after a check of its shape.
        """
        if isinstance(arguments, Mapping):
            group = await self.api.get_group(group_id)
            return await self.start(group_id, group.parameters, arguments, self.options())
        return await self._submitter.start(group_id, check_wire_arguments(arguments))

    async def rerun(
        self,
        run: RunRef,
        options: WaitOptions,
        *,
        wait: bool = False,
        group_id: str | None = None,
        postproc: PostprocFollower | None = None,
    ) -> Run:
        """Start a run with the arguments of ``run`` (in ``group_id``, when given)."""
        started = await rerun(self.api, self._submitter, run, group_id)
        if options.on_change is not None:
            notify(options.on_change, started)
        return await self._finish(started, options, wait, postproc)

    async def _finish(
        self, run: Run, options: WaitOptions, wait: bool, postproc: PostprocFollower | None
    ) -> Run:
        """With ``wait``, wait for a started run, then for the post-processing it triggered.

        A failure of ``on_change`` (at the start, or in the wait) is raised here.
        """
        if not wait:
            check(options.on_change, [run.run_id])
            return run
        options = options.starting_now()  # the timeout bounds the wait, not the start
        (final,) = await self._watcher.wait_all([run], options)
        if postproc is not None:
            await postproc.wait_after([final], options)
        final_run: Run = final
        return final_run

    async def start_batch(
        self,
        group_id: str,
        parameters: Mapping[str, Parameter],
        arguments: Iterable[Mapping[str, Any]],
        options: WaitOptions,
        *,
        concurrency: object,
        wait: bool,
        postproc: PostprocFollower | None,
        return_exceptions: bool,
        manifest: str | os.PathLike[str] | None,
        progress: bool | None = None,
    ) -> RunBatch:
        """Start one run per argument set (see :meth:`AsyncWorkflow.start_runs`).

        Every argument set is checked first; then the submissions go through
        the batch's limit (and manifest); with ``wait`` the runs are waited for
        (and, with ``postproc``, the post-processing they triggered). The runs
        started are cancelled on the server if the batch is cancelled and the
        options say ``cancel_remote``. With ``progress``, a live display
        follows the starts and the waits (see :mod:`._progress`).
        """
        limit = limit_for(concurrency)
        batch: list[Prepared] = []
        for index, args in enumerate(arguments):
            try:
                batch.append(prepare_arguments(parameters, args))
            except ArgumentError as exc:
                add_note(exc, f"in argument set #{index} of the batch")
                raise
        display = open_progress(progress, total=len(batch), title=f"runs of group {group_id}")
        with _showing(display, options) as options:
            return await self._start_batch(
                group_id, batch, options, limit=limit, wait=wait, postproc=postproc,
                return_exceptions=return_exceptions, manifest=manifest,
            )

    async def _start_batch(
        self,
        group_id: str,
        batch: list[Prepared],
        options: WaitOptions,
        *,
        limit: Limit,
        wait: bool,
        postproc: PostprocFollower | None,
        return_exceptions: bool,
        manifest: str | os.PathLike[str] | None,
    ) -> RunBatch:
        started: list[str] = []

        def on_started(run: Run) -> None:
            started.append(run.run_id)
            if options.on_change is not None:
                notify(options.on_change, run)

        async with self._watcher.cancelling_remote(started, options):
            results: list[Any] = await self._batcher.run(
                group_id, batch, limit=limit, on_started=on_started, manifest=manifest
            )
            check(options.on_change, started)  # on_change failed: raise, naming the runs
            if wait:
                waiting = options.starting_now()  # the timeout bounds the wait, not the starts
                await self._wait_in_place(results, attrs.evolve(waiting, cancel_remote=None))
                if postproc is not None:
                    finished = [run for run in results if isinstance(run, Run)]
                    await postproc.wait_after(finished, waiting)
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

    async def sweep(
        self,
        group_id: str,
        parameters: Mapping[str, Parameter],
        arguments: Iterable[Mapping[str, Any]],
        options: WaitOptions,
        *,
        concurrency: object,
        read_board: Callable[[], Awaitable[Leaderboard | None]],
        title: str,
        **plan: Any,
    ) -> SweepResult:
        """Run a sweep (see :meth:`AsyncWorkflow.sweep` and :mod:`._sweep`).

        ``plan`` holds the sweep's own options (``max_active``, ``reuse``,
        ``max_failures``, ``retries``, ``timeout``, ``manifest``,
        ``progress``), checked here before anything is sent.
        """
        limit = limit_for(concurrency)
        manifest, progress = plan.pop("manifest", None), plan.pop("progress", None)
        checked = check_plan(**plan)
        sweeper = Sweeper(
            api=self.api, batcher=self._batcher, watcher=self._watcher, group_id=group_id,
            parameters=parameters, options=options, read_board=read_board,
            submissions=functools.partial(self._batcher.submissions, limit),
            plan=SweepPlan(manifest=manifest, progress=progress, title=title, **checked),
        )
        return await sweeper.run(arguments)

    async def _wait_in_place(self, results: list[Any], options: WaitOptions) -> None:
        """Replace each started run in ``results`` by its final snapshot (or its error)."""
        started = [(i, r) for i, r in enumerate(results) if isinstance(r, Run)]
        finals = await self._watcher.wait_all(
            [run for _, run in started], options, return_exceptions=True
        )
        for (index, _), final in zip(started, finals, strict=True):
            results[index] = final

    # -- watching ----------------------------------------------------------------

    async def wait(
        self,
        run: RunRef,
        options: WaitOptions,
        *,
        group_id: str | None = None,
        postproc: PostprocFollower | None = None,
    ) -> Run:
        """Wait until a run ended (then, with ``postproc``, its post-processing)."""
        (final,) = await self._watcher.wait_all([run], options, group_id=group_id)
        if postproc is not None:
            await postproc.wait_after([final], options)
        final_run: Run = final
        return final_run

    async def wait_all(
        self,
        runs: Iterable[RunRef],
        options: WaitOptions,
        *,
        group_id: str | None = None,
        progress: bool | None = None,
    ) -> RunList[Run]:
        """Wait until every run ended; the final snapshots in input order.

        With ``progress``, a live display follows the runs (see :mod:`._progress`).
        """
        if not progress:
            return RunList(await self._watcher.wait_all(runs, options, group_id=group_id))
        refs = list(runs)
        display = open_progress(progress, total=len(refs), title=f"waiting for {len(refs)} runs")
        with _showing(display, options) as options:
            if display is not None:
                for ref in refs:
                    if not isinstance(ref, str):
                        display.update(ref)
            finals = await self._watcher.wait_all(refs, options, group_id=group_id)
            if display is not None:
                for run in finals:
                    display.update(run)
        return RunList(finals)

    async def as_completed(
        self,
        runs: Iterable[RunRef],
        timeout: float | None = None,
        *,
        group_id: str | None = None,
        **options: Unpack[WaitArgs],
    ) -> AsyncGenerator[Run, None]:
        """Each run's final snapshot as it ends, in completion order.

        The options are checked, and the deadline starts, at the first step.
        """
        checked = self._watcher.options(timeout, **options)
        stream = self._watcher.as_completed(runs, checked, group_id=group_id)
        try:
            async for run in stream:
                yield run
        finally:
            await stream.aclose()

    async def watch(
        self,
        group_id: str,
        poll_interval: float | None = None,
        *,
        max_interval: float | None = None,
        give_up_after: float = STREAM_GIVE_UP,
        heartbeat: float | None = None,
        idle_timeout: float | None = None,
    ) -> AsyncGenerator[Run | None, None]:
        """Every run of a group, then each state change (see :meth:`AsyncWorkflow.watch`)."""
        options = self._watcher.options(poll_interval=poll_interval, max_interval=max_interval)
        patience = check_seconds(give_up_after, "give_up_after")
        beat = None if heartbeat is None else check_seconds(heartbeat, "heartbeat")
        idle = None if idle_timeout is None else check_seconds(idle_timeout, "idle_timeout")
        stream = self._watcher.watch_group(
            group_id, options, patience, heartbeat=beat, idle_timeout=idle
        )
        try:
            async for run in stream:
                yield run
        finally:
            await stream.aclose()

    # -- groups ------------------------------------------------------------------

    async def create_group(
        self, workflow_id: str, name: str, members: Sequence[str] | None, *, exist_ok: bool
    ) -> Group:
        """Create a group (with ``exist_ok``: the caller's group of that name, if it exists)."""
        return await create_group(self.api, workflow_id, name, members, exist_ok=exist_ok)

    async def get_group(self, group_id: str) -> Group:
        """A group's full record, the token checked first (the server would not check it)."""
        self.api.check_auth(Routes.get_group, group_id)
        await self.api.http.check_token("GET", Routes.get_group.path(group_id))
        return await self.api.get_group(group_id)

    # -- reading, cancelling, downloading -----------------------------------------

    async def cancel_run(self, run_id: str, reason: str | None = None) -> Run:
        """Cancel a run (one that already ended: :class:`RunNotActiveError` with its state)."""
        return await cancel_run(self.api, run_id, reason)

    async def delete_run(self, run_id: str) -> None:
        """Delete a run (an active one: the error says its state)."""
        await delete_run(self.api, run_id)

    async def list_runs(self, group_id: str) -> RunList[RunInfo]:
        """Id, state and creation time of every run of a group, oldest first."""
        return (await self.api.list_runs(group_id)).infos()

    async def get_runs(
        self, run_ids: Iterable[str] | None, group_id: str | None = None
    ) -> RunList[Run]:
        """Full snapshots of runs, fetched concurrently, in the order given.

        ``None`` with a ``group_id``: every run of the group, oldest first.
        """
        if run_ids is None:
            assert group_id is not None
            run_ids = [info.run_id for info in await self.list_runs(group_id)]
        calls = [functools.partial(self.api.get_run, run_id) for run_id in run_ids]
        return RunList(await gather(calls))

    async def cancel_runs(
        self,
        group_id: str,
        states: RunStates = None,
        reason: str | None = None,
        *,
        concurrency: int = CANCEL_CONCURRENCY,
    ) -> list[Run]:
        """Cancel a group's active runs (see :meth:`AsyncWorkflow.cancel_runs`)."""
        return await cancel_runs(self.api, group_id, states, reason, concurrency=concurrency)

    async def download_results(
        self,
        group_id: str,
        directory: str | os.PathLike[str],
        *,
        states: RunStates = None,
        concurrency: int = DOWNLOAD_CONCURRENCY,
        on_download: OnDownload | None = None,
        return_exceptions: bool = False,
    ) -> list[RunDownload]:
        """The results of a group's finished runs (see :meth:`AsyncWorkflow.download_results`)."""
        return await download_results(
            self.api, group_id, directory, states=states, concurrency=concurrency,
            on_download=on_download, return_exceptions=return_exceptions,
        )


@contextlib.contextmanager
def _showing(display: Progress | None, options: WaitOptions) -> Iterator[WaitOptions]:
    """Options whose ``on_change`` also feeds ``display``; the display closed after the block."""
    if display is None:
        yield options
        return
    with display:
        callback = options.on_change

        def on_change(run: Run) -> None:
            if callback is not None:
                notify(callback, run)  # the caller's failure is logged, the display goes on
            display.update(run)

        yield attrs.evolve(options, on_change=on_change)
