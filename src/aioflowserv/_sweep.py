"""Sweeps: argument sets run with at most ``max_active`` runs active, reused, retried, stopped.

:class:`Sweeper` runs one sweep (``AsyncWorkflow.sweep``). It reads the
argument sets lazily: a set is read only once a place for its run is free (at
most ``max_active`` runs of the sweep are active at once; with no cap, once a
submission may be sent), so an endless generator works. A :class:`~._space.Space`
is checked whole first, a list set by set before the first request, any other
iterable set by set as it is read.

Each set then goes through one task: its start goes through the client's
adaptive submission (:meth:`~._batch.Batcher.submissions`, the path
``start_runs`` takes), its end comes from the shared watcher (one listing per
group per tick serves every run of the sweep, and every other wait), and a run
ending in ERROR is started again, up to ``retries`` times, in the same place.
Once ``max_failures`` runs ended in ERROR no new start is made (the runs in
flight finish); with both, a sweep of runs that always fail starts at most
``max_failures + max_active - 1`` runs. A start that fails (the server refused
it, or it stayed uncertain) stops the sweep too: what follows would fail alike.

``reuse="success"`` first reads the group once (a listing, then the record of
each SUCCESS run, concurrently): a set whose checked values (defaults filled
in, on both sides) equal a SUCCESS run's arguments takes that run instead of
starting one; each run serves one set. Sets with file arguments are never
reused (their content is not comparable).

A manifest (:mod:`._manifest`, the sweep kind) records each start (its intent,
with the attempt and the set's digest, then its run); run again with the same
manifest, the sweep takes the recorded runs (waits for the active ones, retries
the failed ones as asked) and starts only the rest; a recorded set that differs
from the one read at its place raises :class:`InvalidArgumentError` naming
``manifest``.

``timeout`` bounds the whole sweep: then nothing more is started, the active
runs are left alone (or cancelled, with ``cancel_remote``) and the result says
why it stopped. Cancelling the awaiting task leaves nothing hidden: every run
is handed to ``on_change`` when it starts, the runs already started are named
in a warning, and ``cancel_remote`` cancels the active ones on the server.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections.abc import (
    Awaitable,
    Callable,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
    Sized,
)
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import attrs

from ._arguments import Declaration, FileSource, Prepared, prepare_arguments
from ._batch import Batcher, Permit, Submissions
from ._callback import check, failure
from ._config import CLEANUP_TIMEOUT, check_count, check_seconds
from ._errors import (
    ArgumentError,
    FlowservError,
    InvalidArgumentError,
    SubmissionUncertainError,
    add_note,
    is_transient,
)
from ._gather import gather_outcomes
from ._manifest import Manifest, set_digest
from ._models import Leaderboard, Run, RunState
from ._progress import Progress, open_progress
from ._space import Space
from ._study import SetOutcome, SweepResult, argument_names, wire_with_defaults
from ._submit import argument_key
from ._watch import WaitOptions, Watcher, notify

if TYPE_CHECKING:
    from ._api import FlowservAPI

__all__ = ["SweepPlan", "Sweeper", "check_plan", "reusable_key"]

logger = logging.getLogger("aioflowserv")

REUSE_CHOICES = ("success",)
"""What ``reuse=`` takes (besides None)."""

START_PAUSES = (1.0, 2.0, 4.0, 8.0)
"""Pauses before a start that failed for a passing reason (the connection, a gateway, an
answer that never came and made no run) is sent again; then the sweep stops."""

FETCH_LIMIT = 8
"""Run records fetched at once when a sweep reads the group for reuse."""


@attrs.frozen
class SweepPlan:
    """A sweep's options, checked (:meth:`check`)."""

    max_active: int | None = None
    reuse: str | None = None
    max_failures: int | None = None
    retries: int = 0
    timeout: float | None = None
    manifest: str | os.PathLike[str] | None = None
    progress: bool | None = None
    title: str = "sweep"


def reusable_key(arguments: Mapping[str, Any]) -> Hashable | None:
    """The key a set of checked values is reused by (None: it has a file argument)."""
    for value in arguments.values():
        if isinstance(value, FileSource) or (
            isinstance(value, Mapping) and value.get("type") == "$file"
        ):
            return None
    return argument_key(arguments)


@attrs.define(eq=False)
class _Set:
    """One argument set as the sweep works on it."""

    index: int
    given: Mapping[str, Any]
    prepared: Prepared
    digest: str | None = None
    run: Run | None = None
    attempts: int = 0
    reused: bool = False
    failed: list[Run] = attrs.field(factory=list)
    error: FlowservError | None = None

    def outcome(self) -> SetOutcome:
        shown = {
            name: value.filename if isinstance(value, FileSource) else value
            for name, value in self.prepared
        }
        return SetOutcome(
            self.index, shown, dict(self.given), self.run, self.attempts, self.reused,
            tuple(self.failed), self.error,
        )


class Sweeper:
    """One sweep over one group: see the module's docstring."""

    def __init__(
        self,
        *,
        api: FlowservAPI,
        batcher: Batcher,
        watcher: Watcher,
        group_id: str,
        parameters: Mapping[str, Declaration],
        plan: SweepPlan,
        options: WaitOptions,
        submissions: Callable[[], Any],
        read_board: Callable[[], Awaitable[Leaderboard | None]],
    ) -> None:
        self._api = api
        self._batcher = batcher
        self._watcher = watcher
        self._group_id = group_id
        self._parameters = parameters
        self._plan = plan
        self._options = options
        self._submissions = submissions
        self._read_board = read_board
        self._sets: list[_Set] = []
        self._by_run: dict[str, _Set] = {}
        self._created: list[str] = []
        self._failures = 0
        self._stopped: str | None = None
        self._progress: Progress | None = None
        self._manifest: Manifest | None = None
        self._recalled: dict[int, Run | FlowservError] = {}
        self._reusable: dict[Hashable, list[Run]] = {}
        self._invalid: ArgumentError | None = None
        self._deadline = math.inf
        self._scope: anyio.CancelScope | None = None
        # The waits see each state change; the sweep's own callback updates its sets. They
        # poll at a steady interval: a run may end at any tick, and its place is to be
        # refilled then (one listing per tick serves every run of the sweep).
        self._wait_options = attrs.evolve(
            options, on_change=self._changed, cancel_remote=None,
            max_interval=options.poll_interval,
        )

    # -- the sweep ---------------------------------------------------------------

    async def run(self, arguments: Iterable[Mapping[str, Any]]) -> SweepResult:
        """Run the sweep over ``arguments`` (see the module's docstring)."""
        source = self._source(arguments)
        plan = self._plan
        if plan.timeout is not None:  # the whole sweep's: reading the group for reuse included
            self._deadline = anyio.current_time() + plan.timeout
        if plan.reuse is not None:
            self._reusable = await self._read_reusable()
        if plan.manifest is not None:
            self._manifest = await Manifest.open_sweep(plan.manifest, self._group_id)
        try:
            if self._manifest is not None and self._manifest.entries:
                self._recalled = await self._batcher.recall(self._group_id, self._manifest)
                # Earlier attempts ended in ERROR: they count towards max_failures.
                self._failures += sum(e.attempt for e in self._manifest.entries.values())
            total = (
                arguments.size if isinstance(arguments, Space)
                else len(arguments) if isinstance(arguments, Sized) else None
            )
            self._progress = open_progress(plan.progress, total=total, title=plan.title)
            await self._run(source)
            check(self._options.on_change, self._created)  # on_change raised: raise it here
            if total is not None and self._invalid is None:
                # A finite input's sets that the sweep stopped before are its not_started.
                for index, given, prepared in source:
                    self._sets.append(_Set(index, given, prepared))
        finally:
            if self._progress is not None:
                self._progress.close()
            if self._manifest is not None:
                self._manifest.close()
        if self._invalid is not None:
            raise self._invalid
        return await self._result()

    def _source(
        self, arguments: Iterable[Mapping[str, Any]]
    ) -> Iterator[tuple[int, Any, Prepared]]:
        """The sets with their checked values, read lazily (a list or a space checked first)."""
        if isinstance(arguments, (Mapping, str, bytes)) or not isinstance(arguments, Iterable):
            raise TypeError(
                "arguments must be an iterable of argument sets (dicts) or an afs.Space, not "
                f"{type(arguments).__name__} (one run: start_run)"
            )
        if isinstance(arguments, Space):
            arguments.check(self._parameters)
        elif isinstance(arguments, Sequence):
            prepared = [self._prepare(index, args) for index, args in enumerate(arguments)]
            return iter(
                (index, args, checked)
                for index, (args, checked) in enumerate(zip(arguments, prepared, strict=True))
            )
        return ((index, args, self._prepare(index, args)) for index, args in enumerate(arguments))

    def _prepare(self, index: int, arguments: Any) -> Prepared:
        try:
            return prepare_arguments(self._parameters, arguments)
        except ArgumentError as exc:
            add_note(exc, f"in argument set #{index} of the sweep")
            raise

    async def _run(self, source: Iterator[tuple[int, Any, Prepared]]) -> None:
        plan = self._plan
        try:
            with self._submissions() as submissions:
                with anyio.CancelScope(deadline=self._deadline) as scope:
                    self._scope = scope
                    async with anyio.create_task_group() as tg:
                        await self._feed(tg, source, submissions)
                if scope.cancelled_caught and failure(self._options.on_change) is None:
                    self._stop(f"timeout: the sweep's {plan.timeout:g} s passed")
                    await self._after_timeout()
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await self._cancel_active(self._options.cancel_remote)
            if self._created:
                logger.warning(
                    "a sweep of group %s was cancelled after starting %d runs: %s",
                    self._group_id, len(self._created), ", ".join(self._created),
                )
            raise

    async def _feed(
        self,
        tg: anyio.abc.TaskGroup,
        source: Iterator[tuple[int, Any, Prepared]],
        submissions: Submissions,
    ) -> None:
        """Read a set each time a place is free and hand it to a task of its own.

        A place is one of ``max_active``; with no cap, a submission's permit
        (read the next set once a start may be sent).
        """
        slots = anyio.Semaphore(self._plan.max_active) if self._plan.max_active else None
        while self._stopped is None:
            permit: Permit | None = None
            if slots is not None:
                await slots.acquire()
            else:
                permit = await submissions.acquire()

            def free(permit: Permit | None = permit) -> None:
                if slots is not None:
                    slots.release()
                if permit is not None:
                    submissions.limit.release(None)

            if self._stopped is not None:
                free()
                break
            try:
                index, given, prepared = next(source)
            except StopIteration:
                free()
                break
            except ArgumentError as exc:
                free()
                self._invalid = exc
                self._stop(f"argument set #{len(self._sets)} is invalid: {exc}")
                break
            item = _Set(index, given, prepared)
            self._sets.append(item)
            try:
                first = self._take_recorded(item)
            except InvalidArgumentError as exc:
                self._sets.pop()
                free()
                self._invalid = exc
                self._stop(f"the manifest does not match argument set #{index}")
                break
            if first is None and self._take_reusable(item):
                free()
                continue
            if first is not None and not first.is_active():
                if first.state is RunState.ERROR:
                    self._failed(first)
                if not self._retry_due(item, first):
                    free()
                    continue
                item.failed.append(first)
                first = None
            if first is not None and permit is not None:
                submissions.limit.release(None)  # a recorded run still active: no start
                permit = None
            tg.start_soon(self._drive, item, first, submissions, permit, slots)
        if self._invalid is not None:
            tg.cancel_scope.cancel()

    def _take_recorded(self, item: _Set) -> Run | None:
        """The run a manifest recorded for a set (and check that it is the same set)."""
        manifest = self._manifest
        if manifest is None:
            return None
        item.digest = set_digest(item.prepared)
        entry = manifest.entries.get(item.index)
        if entry is None:
            return None
        if entry.digest is not None and entry.digest != item.digest:
            raise InvalidArgumentError(
                "manifest",
                f"{str(manifest.path)!r} recorded other arguments for argument set "
                f"#{item.index} than these ({dict(item.given)!r:.120}); use a new manifest "
                "for other arguments",
            )
        item.attempts = entry.attempt  # the earlier attempts' runs ended in ERROR
        outcome = self._recalled.get(item.index)
        if not isinstance(outcome, Run):
            return None  # never made, or gone since: started again
        item.attempts += 1
        self._adopt(item, outcome)
        return outcome

    def _take_reusable(self, item: _Set) -> bool:
        """Take an existing SUCCESS run with the same checked values, if reuse allows one."""
        if not self._reusable:
            return False
        key = reusable_key(dict(item.prepared))
        found = self._reusable.get(key) if key is not None else None
        if not found:
            return False
        item.run = found.pop(0)
        item.reused = True
        if self._progress is not None:
            self._progress.update(item.run)
        return True

    def _retry_due(self, item: _Set, run: Run) -> bool:
        """Whether a set whose run ended in ERROR is to start again."""
        return (
            run.state is RunState.ERROR and item.attempts <= self._plan.retries
            and self._stopped is None
        )

    async def _drive(
        self,
        item: _Set,
        run: Run | None,
        submissions: Submissions,
        permit: Permit | None,
        slots: anyio.Semaphore | None,
    ) -> None:
        """Start a set's run (again, as retries allow) and follow it to its end."""
        try:
            while True:
                if run is None:
                    if self._stopped is not None:
                        break
                    run = await self._start(item, submissions, permit)
                    permit = None
                    if run is None:
                        break
                if run.is_active():
                    try:
                        (run,) = await self._watcher.wait_all([run], self._wait_options)
                    except FlowservError as exc:  # gone (deleted) or unwatchable
                        item.error = exc
                        break
                    item.run = run
                if run.state is RunState.ERROR:
                    self._failed(run)
                    if self._retry_due(item, run):
                        item.failed.append(run)
                        run = None
                        continue
                break
        finally:
            if permit is not None:
                submissions.limit.release(None)
            if slots is not None:
                slots.release()

    async def _start(
        self, item: _Set, submissions: Submissions, permit: Permit | None
    ) -> Run | None:
        attempt = item.attempts
        if permit is None:
            permit = await submissions.acquire()
        manifest = self._manifest
        intend = record = None
        if manifest is not None:  # the run is recorded even when the sweep is cancelled
            intend = manifest.intend_for(item.index, attempt, item.digest)
            record = functools.partial(manifest.record, item.index, attempt=attempt)
        error: FlowservError | None = None
        for pause in (*START_PAUSES, None):
            try:
                return await submissions.send(
                    permit, self._group_id, item.prepared,
                    functools.partial(self._started, item), intend, record,
                )
            except SubmissionUncertainError as exc:
                error = exc
                if len(exc.candidates) > 1:
                    break  # more than one run may be it: sending again could duplicate it
                found = await self._find_started(exc)
                if found is not None:
                    self._started(item, found)
                    if record is not None:
                        with anyio.CancelScope(shield=True):
                            await record(found)
                    return found
            except FlowservError as exc:
                error = exc
                if not is_transient(exc):
                    break
            if pause is None or self._stopped is not None:
                break
            logger.info("sweep of group %s: argument set #%d not started (%s); trying again "
                        "in %g s", self._group_id, item.index, error, pause)
            await anyio.sleep(pause)
            permit = await submissions.acquire()
        assert error is not None
        item.error = error
        self._stop(f"argument set #{item.index} could not be started: {error}")
        return None

    async def _find_started(self, error: SubmissionUncertainError) -> Run | None:
        """The run an uncertain start made, if the group has it by now (else None: resend)."""
        try:
            return await self._batcher.find_started(error)
        except FlowservError:
            return None

    def _started(self, item: _Set, run: Run) -> None:
        item.attempts += 1
        self._created.append(run.run_id)
        self._adopt(item, run)
        self._notify(run)

    def _adopt(self, item: _Set, run: Run) -> None:
        item.run = run
        self._by_run[run.run_id] = item
        if self._progress is not None:
            self._progress.update(run)

    def _changed(self, run: Run) -> None:
        item = self._by_run.get(run.run_id)
        if item is not None:
            item.run = run
        if self._progress is not None:
            self._progress.update(run)
        self._notify(run)

    def _notify(self, run: Run) -> None:
        """Hand a snapshot to the caller's ``on_change``; if it raised, the sweep ends."""
        on_change = self._options.on_change
        if on_change is None:
            return
        notify(on_change, run)
        if failure(on_change) is not None and self._stopped is None:
            self._stop("the on_change callback raised")
            if self._scope is not None:
                self._scope.cancel()  # the runs in flight are left as they are

    def _failed(self, run: Run) -> None:
        self._failures += 1
        limit = self._plan.max_failures
        if limit is not None and self._failures >= limit:
            self._stop(f"max_failures={limit} reached: {self._failures} runs ended in ERROR")

    def _stop(self, why: str) -> None:
        if self._stopped is None:
            self._stopped = why
            logger.info("sweep of group %s stops starting runs: %s", self._group_id, why)

    # -- ends --------------------------------------------------------------------

    def _active(self) -> list[_Set]:
        return [item for item in self._sets if item.run is not None and item.run.is_active()
                and not item.reused]

    async def _after_timeout(self) -> None:
        active = self._active()
        if active and self._options.cancel_remote is None:
            logger.info(
                "sweep of group %s timed out; %d runs left active: %s", self._group_id,
                len(active), ", ".join(item.run.run_id for item in active if item.run),
            )
        await self._cancel_active(self._options.cancel_remote)

    async def _cancel_active(self, reason: str | None) -> None:
        """Cancel the sweep's active runs on the server (with a reason; None: leave them)."""
        if reason is None:
            return
        active = self._active()

        async def cancel(item: _Set) -> None:
            assert item.run is not None
            try:
                run = await self._api.cancel_run(item.run.run_id, reason)
            except FlowservError:  # ended meanwhile (400) or deleted: nothing to cancel
                return
            self._changed(run)

        with anyio.move_on_after(CLEANUP_TIMEOUT):
            await gather_outcomes([functools.partial(cancel, item) for item in active])

    async def _read_reusable(self) -> dict[Hashable, list[Run]]:
        """The group's SUCCESS runs by their arguments' key (defaults filled in), oldest first."""
        infos = (await self._api.list_runs(self._group_id)).infos()
        ids = [info.run_id for info in infos if info.state is RunState.SUCCESS]
        fetched = await gather_outcomes(
            [functools.partial(self._api.get_run, run_id) for run_id in ids], limit=FETCH_LIMIT
        )
        found: dict[Hashable, list[Run]] = {}
        for run in fetched:
            if isinstance(run, Exception):
                if isinstance(run, FlowservError):
                    continue  # deleted meanwhile: nothing to reuse
                raise run
            if run.state is not RunState.SUCCESS:
                continue
            key = reusable_key(wire_with_defaults(run.arguments, self._parameters))
            if key is not None:
                found.setdefault(key, []).append(run)
        return found

    async def _result(self) -> SweepResult:
        outcomes = tuple(item.outcome() for item in self._sets)
        names = argument_names(outcomes, self._parameters)
        columns: tuple[Any, ...] = ()
        results: dict[str, Mapping[str, Any]] = {}
        ids = {row.run.run_id for row in outcomes
               if row.run is not None and row.run.state is RunState.SUCCESS}
        if ids:
            try:
                board = await self._read_board()
            except FlowservError as exc:
                logger.warning("sweep of group %s: its result values could not be read (%s)",
                               self._group_id, exc)
                board = None
            if board is not None:
                columns = board.columns
                results = {row.run_id: row.results for row in board.rows if row.run_id in ids}
        return SweepResult(outcomes, names, columns, results, self._stopped)


def check_plan(
    *,
    max_active: object,
    reuse: object,
    max_failures: object,
    retries: object,
    timeout: object,
) -> dict[str, Any]:
    """The sweep's counts and choices, checked (:class:`InvalidArgumentError` naming each)."""
    checked: dict[str, Any] = {}
    checked["max_active"] = None if max_active is None else check_count(max_active, "max_active")
    if reuse is not None and reuse not in REUSE_CHOICES:
        raise InvalidArgumentError("reuse", f"expected None or \"success\", got {reuse!r}")
    checked["reuse"] = reuse
    checked["max_failures"] = (
        None if max_failures is None else check_count(max_failures, "max_failures")
    )
    checked["retries"] = check_count(retries, "retries", minimum=0)
    checked["timeout"] = None if timeout is None else check_seconds(timeout, "timeout", zero=True)
    return checked

