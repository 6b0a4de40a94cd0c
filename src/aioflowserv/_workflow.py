"""AsyncWorkflow: flowServ's ``Workflow`` client, awaitable, for one group of a workflow.

A thin resource: each method checks what its caller gave and hands it to the
client's :class:`~._runs.Runs` (the orchestration) with this group's id, its
parameter declarations and its workflow's post-processing follower. It holds
no policy, and never needs the client that made it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncGenerator, Iterable, Mapping
from typing import Any, Literal, overload

from ._batch import RunBatch
from ._config import CANCEL_CONCURRENCY, DOWNLOAD_CONCURRENCY, STREAM_GIVE_UP, Unpack
from ._display import register
from ._downloads import OnDownload, RunDownload
from ._errors import InvalidArgumentError
from ._files import FileHandle
from ._lifecycle import RunStates
from ._models import Group, Leaderboard, ParameterIndex, Run, RunInfo, RunList, WorkflowInfo
from ._optimize import optimize
from ._presenter import Drawn
from ._results import OrderBy, WorkflowResults
from ._runs import Runs
from ._study import SweepResult
from ._views import workflow_table, workflow_text
from ._watch import OnChange, RunRef, WaitArgs

__all__ = ["AsyncWorkflow"]


class AsyncWorkflow(Drawn):
    """One workflow, seen through one of its groups: run it, watch runs, fetch results.

    Every method of flowServ's ``Workflow`` is here with the same name and
    parameters, awaitable (``identifier`` is a property). Create it with
    ``await fs.workflow(workflow_id, group_id)``, which loads the workflow's
    metadata and the group's parameter declarations once.
    """

    def __init__(self, runs: Runs, info: WorkflowInfo, group: Group, *, owner: Any) -> None:
        self._runs = runs
        self._api = runs.api
        self._postproc = runs.postproc(info.id)
        self._results = WorkflowResults(runs.api, info.id)
        self._info = info
        self._group = group
        self._owner = owner

    @property
    def identifier(self) -> str:
        """The workflow id."""
        return self._info.id

    @property
    def group_id(self) -> str:
        """The id of the group that runs are started in."""
        return self._group.id

    @property
    def service(self) -> Any:
        """The client this workflow talks through (the :class:`AsyncFlowserv` that made it)."""
        return self._owner

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
        options, wait = self._runs.follow(
            poll_interval, timeout=timeout, max_interval=max_interval, on_change=on_change
        )
        return await self._runs.start(
            self.group_id, self._group.parameters, arguments, options, wait=wait,
            postproc=self._postproc,
        )

    async def rerun(
        self,
        run: RunRef,
        poll_interval: float | None = None,
        *,
        timeout: float | None = None,
        max_interval: float | None = None,
        on_change: OnChange | None = None,
    ) -> Run:
        """Start a new run with the same arguments as ``run`` (a run of this group, or its id).

        File arguments reuse the files uploaded for the original run; if one
        was deleted from the group since, :class:`InvalidArgumentError` names
        the parameter before anything is sent. The start is never sent twice.
        ``poll_interval`` and the other options work as for :meth:`start_run`.
        Returns the new run (final when waited for).
        """
        options, wait = self._runs.follow(
            poll_interval, timeout=timeout, max_interval=max_interval, on_change=on_change
        )
        return await self._runs.rerun(
            run, options, wait=wait, group_id=self.group_id, postproc=self._postproc
        )

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
        progress: bool | None = None,
    ) -> RunBatch:
        """Start one run per argument set; returns the runs in input order.

        ``concurrency="auto"`` (the default) adapts how many submissions are
        in flight to the server: it grows while the server answers as fast as
        it does unloaded and shrinks when more concurrency only adds latency,
        never above 96 (``AUTO_MAX_CONCURRENCY``); an int fixes it. The result
        is a :class:`RunBatch` (a list) whose ``concurrency`` says where the
        limit settled (also logged at INFO by the ``aioflowserv`` logger).

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

        ``progress=True`` shows a live display of the runs (counts by state,
        rate, time left): HTML updated in place in a notebook, a live line on
        a terminal (with rich), nothing when the output is neither.
        """
        options, wait = self._runs.follow(
            poll_interval, timeout=timeout, max_interval=max_interval, on_change=on_change,
            cancel_remote=cancel_remote,
        )
        return await self._runs.start_batch(
            self.group_id, self._group.parameters, arguments, options,
            concurrency=concurrency, wait=wait, postproc=self._postproc if postproc else None,
            return_exceptions=return_exceptions, manifest=manifest, progress=progress,
        )

    async def optimize(
        self,
        study: Any,
        *,
        objective: str,
        n_trials: int,
        max_active: int = 1,
        space: Mapping[str, Any] | None = None,
        worker: str | None = None,
        poll_interval: float | None = None,
        max_interval: float | None = None,
        progress: bool | None = None,
    ) -> Any:
        """Optimize the arguments with an optuna study: each trial is one run of this group.

        Needs the ``optuna`` extra. Up to ``max_active`` trials are in flight:
        a trial's arguments are suggested from ``space``, its run started and
        waited for (the client's shared watcher), and the study told the run's
        value of ``objective``, a result column of the workflow (checked
        before the first run: :class:`InvalidArgumentError` lists the
        columns), as the leaderboard reports it. A run that ends in ERROR or
        CANCELED is a failed trial. ``trial.user_attrs["run_id"]`` (and
        ``["group_id"]``) name each trial's run.

        ``space=None`` explores the declared ranges (float and int parameters
        with a finite ``range``) and choices (select parameters); the others
        keep their defaults. A mapping overrides parameter by parameter: an
        optuna distribution, a ``(low, high)`` tuple (two ints: integers), a
        list of choices, ``None`` (keep the default) or a value to fix. Bounds
        and choices are checked against the declarations first.

        ``n_trials`` is the study's total: trials already in it count, and
        several processes or machines sharing the study through an optuna
        storage (journal file, PostgreSQL...) create exactly ``n_trials``
        trials between them, one run each. A process started again with the
        same study, group and ``worker`` (default: the group id; processes
        sharing a group need distinct names) attaches to its trials' runs
        instead of starting them again. ``poll_interval``/``max_interval``
        pace the waits; ``progress=True`` shows a live display (see
        :meth:`start_runs`). Returns the study (``study.best_trial``...).
        """
        options = self._runs.options(poll_interval=poll_interval, max_interval=max_interval)
        return await optimize(
            self._runs, self._results, self.group_id, self._group.parameters, study,
            objective=objective, n_trials=n_trials, max_active=max_active, space=space,
            worker=worker, options=options, progress=progress,
        )

    async def sweep(
        self,
        arguments: Iterable[Mapping[str, Any]],
        *,
        max_active: int | None = None,
        reuse: Literal["success"] | None = None,
        max_failures: int | None = None,
        retries: int = 0,
        concurrency: int | Literal["auto"] = "auto",
        poll_interval: float | None = None,
        timeout: float | None = None,
        manifest: str | os.PathLike[str] | None = None,
        on_change: OnChange | None = None,
        progress: bool | None = None,
        cancel_remote: bool | str = False,
    ) -> SweepResult:
        """Run every argument set of a study and wait for the runs; returns a :class:`SweepResult`.

        ``arguments`` is an :class:`afs.Space` (``afs.grid``, ``afs.sample``,
        ...; checked whole against the group's parameter declarations first),
        a list of dicts (each checked before the first request), or any
        iterable of dicts, read lazily: a set is read only when a run may
        start for it, so a generator may be endless (the sweep then ends by
        ``max_failures``, ``timeout`` or cancellation). A bad set raises what
        ``start_run`` would, with a note naming the set.

        - ``max_active``: at most that many runs of the sweep are active on
          the server at once (None: no cap); the next set starts when one
          ends. Starts go through the adaptive submission of ``start_runs``
          (``concurrency``), ends come from the client's shared watcher: one
          listing of the group per tick serves every run, every
          ``poll_interval`` seconds (the client's by default), steadily (a
          sweep does not slow its polling while it waits: a run may end at
          any tick, and its place is refilled then).
        - ``reuse="success"``: a set whose checked values, defaults filled
          in, equal the arguments of a SUCCESS run of the group takes that
          run instead of starting one (one listing of the group, then the
          records of its SUCCESS runs; each run serves one set). Sets with
          file arguments are never reused.
        - ``retries=N``: a run ending in ERROR is started again with the
          same arguments, up to N times. ``max_failures=N``: once N runs
          ended in ERROR, no new run is started (those in flight finish);
          ``result.stopped`` says so.
        - ``timeout``: seconds for the whole sweep; then nothing more is
          started, the active runs are left running (cancelled, with
          ``cancel_remote``) and ``result.stopped`` says why.
        - ``manifest``: a JSON Lines file recording every start (attempts
          included); run again with the same manifest and arguments, the
          sweep starts only what has no run yet. A recorded set that differs
          from the input raises :class:`InvalidArgumentError` naming it.
        - ``on_change`` sees each run as it starts, then each state change;
          ``progress=True`` shows a live display of the sweep.

        A start that fails for good (the server refuses it, or it stays
        uncertain) stops the sweep: ``result.stopped`` names it. If the
        awaiting task is cancelled, the runs started keep running (each was
        handed to ``on_change``, and a warning names them) unless
        ``cancel_remote`` (True, or a reason) cancels them on the server.
        """
        options = self._runs.options(
            poll_interval=poll_interval, on_change=on_change, cancel_remote=cancel_remote
        )
        read_board = functools.partial(self._results.leaderboard, None, True)
        return await self._runs.sweep(
            self.group_id, self._group.parameters, arguments, options,
            concurrency=concurrency, read_board=read_board,
            title=f"sweep of {self.identifier} in group {self._group.name or self.group_id}",
            max_active=max_active, reuse=reuse, max_failures=max_failures, retries=retries,
            timeout=timeout, manifest=manifest, progress=progress,
        )

    async def poll_run(self, run_id: str) -> Run:
        """The current snapshot of a run."""
        return await self._api.get_run(run_id)

    async def cancel_run(self, run_id: str, reason: str | None = None) -> Run:
        """Cancel an active run; ``reason`` becomes its message. Returns the canceled run.

        A run that already ended raises :class:`RunNotActiveError` naming its state.
        """
        return await self._runs.cancel_run(run_id, reason)

    async def cancel_runs(
        self,
        states: RunStates = None,
        reason: str | None = None,
        *,
        concurrency: int = CANCEL_CONCURRENCY,
    ) -> list[Run]:
        """Cancel the group's active runs, or those in ``states`` (PENDING and/or RUNNING).

        One listing finds them; they are canceled ``concurrency`` at a time,
        each with ``reason`` as its message. Returns the canceled runs, oldest
        first; a run that ended before its cancel arrived is left out.
        """
        return await self._runs.cancel_runs(
            self.group_id, states, reason, concurrency=concurrency
        )

    async def delete_run(self, run_id: str) -> None:
        """Delete a run that is no longer active (an active one: the error says its state)."""
        await self._runs.delete_run(run_id)

    async def get_file(self, run_id: str, file_id: str | None = None) -> FileHandle:
        """A result file of a run, or, without ``file_id``, the run's result archive."""
        if file_id is None:
            return await self._api.download_run_archive(run_id)
        return await self._api.download_run_file(run_id, file_id)

    async def get_postproc_results(self) -> Run | None:
        """The workflow's latest post-processing run, or None if there is none yet."""
        return await self._postproc.latest()

    async def get_postproc_file(self, file_id: str | None = None) -> FileHandle:
        """An output file of the latest post-processing run; without ``file_id``, the archive.

        The archive is a ``.tar.gz`` of every output (``extract()`` unpacks it
        safely). The file ids are those of :meth:`get_postproc_results`'s ``files()``. A
        workflow without post-processing outputs (none declared, or no run
        ranked yet) raises :class:`NotFoundError` saying so.
        """
        return await self._results.postproc_file(file_id)

    async def leaderboard(
        self, order_by: OrderBy = None, include_all: bool = False
    ) -> Leaderboard | None:
        """The workflow's ranking of successful runs by its results schema.

        None when the workflow has no results schema. By default the
        schema's own order, best run of each group only; ``include_all=True``
        ranks every run. ``order_by`` takes the server's syntax: ``"col"``,
        ``"col:asc"``, ``"col:desc"`` (a bare column sorts descending, as
        flowServ does), or a list of them; it is checked against the schema
        before the leaderboard is asked for (:class:`InvalidArgumentError`).
        """
        return await self._results.leaderboard(order_by, include_all)

    async def list_runs(self) -> RunList[RunInfo]:
        """Id, state and creation time of every run of the group."""
        return await self._runs.list_runs(self.group_id)

    async def get_runs(self, run_ids: Iterable[str] | None = None) -> RunList[Run]:
        """Full snapshots of runs (default: every run of the group, oldest first).

        Fetched concurrently; the :class:`RunList` shows as a timeline in a notebook.
        """
        return await self._runs.get_runs(run_ids, self.group_id)

    async def download_results(
        self,
        directory: str | os.PathLike[str],
        *,
        states: RunStates = None,
        concurrency: int = DOWNLOAD_CONCURRENCY,
        on_download: OnDownload | None = None,
        return_exceptions: bool = False,
    ) -> list[RunDownload]:
        """Download the results of the group's finished runs into ``directory``.

        Each run gets a folder named by its id with its result files (the
        archive, unpacked safely) and ``flowserv-run.json`` (state, times,
        arguments, messages, files). ``states`` chooses the runs (default:
        SUCCESS, ERROR and CANCELED; failed runs get just the JSON). A run
        whose folder is already complete is skipped without a request, so
        calling this again after an interruption fetches only what is
        missing. ``concurrency`` runs are fetched at once; ``on_download`` is
        called with each :class:`RunDownload` as it is done. A run that fails
        does not stop the others: the first error is raised at the end, or
        with ``return_exceptions=True`` stands in the list in its place.
        Returns one entry per run, oldest first.
        """
        return await self._runs.download_results(
            self.group_id, directory, states=states, concurrency=concurrency,
            on_download=on_download, return_exceptions=return_exceptions,
        )

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
        return await self._runs.wait(
            run, self._runs.options(timeout, **options), group_id=self.group_id,
            postproc=self._postproc if postproc else None,
        )

    async def wait_all(
        self,
        runs: Iterable[RunRef],
        timeout: float | None = None,
        *,
        progress: bool | None = None,
        **options: Unpack[WaitArgs],
    ) -> RunList[Run]:
        """Wait until every run ended; return the final snapshots in input order.

        Options as for :meth:`wait`; ``progress=True`` shows a live display
        (as for :meth:`start_runs`).
        """
        return await self._runs.wait_all(
            runs, self._runs.options(timeout, **options), group_id=self.group_id,
            progress=progress,
        )

    def as_completed(
        self, runs: Iterable[RunRef], timeout: float | None = None, **options: Unpack[WaitArgs]
    ) -> AsyncGenerator[Run, None]:
        """Yield each run's final snapshot as it ends, in completion order.

        ``async for run in wf.as_completed(runs, timeout=60): ...``. Past the
        deadline :class:`RunWaitTimeout` is raised (runs are left alone).
        Options as for :meth:`wait`; with ``cancel_remote``, runs still active
        are canceled on the server if the iterating task is cancelled.
        """
        return self._runs.as_completed(runs, timeout, group_id=self.group_id, **options)

    @overload
    def watch(
        self,
        poll_interval: float | None = None,
        *,
        max_interval: float | None = None,
        give_up_after: float = STREAM_GIVE_UP,
        heartbeat: None = None,
        idle_timeout: float | None = None,
    ) -> AsyncGenerator[Run, None]: ...

    @overload
    def watch(
        self,
        poll_interval: float | None = None,
        *,
        max_interval: float | None = None,
        give_up_after: float = STREAM_GIVE_UP,
        heartbeat: float,
        idle_timeout: float | None = None,
    ) -> AsyncGenerator[Run | None, None]: ...

    def watch(
        self,
        poll_interval: float | None = None,
        *,
        max_interval: float | None = None,
        give_up_after: float = STREAM_GIVE_UP,
        heartbeat: float | None = None,
        idle_timeout: float | None = None,
    ) -> AsyncGenerator[Run | None, None]:
        """Every run of the group as it is now, then each state change, as they happen.

        ``async for run in wf.watch(): ...`` yields each run's full record
        first (oldest first), then a snapshot at each change of state (once
        per change; a final state with the full record), runs started later
        by anyone included. It never ends by itself: stop iterating to stop
        it. The group's listing is shared with every wait of the client (one
        request per tick). When the server cannot be reached, it retries with
        back-off and raises the error after ``give_up_after`` seconds of
        failures (at once when the group is gone or access is refused).

        ``heartbeat`` and ``idle_timeout`` suit a web app streaming the runs
        (server-sent events): with ``heartbeat`` (seconds), ``None`` is
        yielded whenever that long passed with nothing to report, so the app
        can send a keep-alive and notice a client that left or a server
        shutting down; with ``idle_timeout`` (seconds), the stream ends once
        that long passed without a run to report.
        """
        return self._runs.watch(
            self.group_id, poll_interval, max_interval=max_interval,
            give_up_after=give_up_after, heartbeat=heartbeat, idle_timeout=idle_timeout,
        )


register(AsyncWorkflow, text=workflow_text, table=workflow_table)
