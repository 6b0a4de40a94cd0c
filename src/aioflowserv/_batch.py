"""Many submissions: as many in flight as a limit allows, recorded in a manifest, cancellable.

:meth:`Batcher.submit_all` sends one :class:`~._submit.Submitter` submission
per argument set through a :class:`~._limit.Limit`, fixed or adaptive: each
answer tells the limit how long the server took and whether it pushed back
(an answer that asks to back off, or none at all, seen through the HTTP
layer's push-back hook while the submission was in flight). A
:class:`~._manifest.Manifest` records every start (its intent before, its run
after), so that a killed batch continues where it stopped (:meth:`Batcher.resume`).

If the batch is cancelled, the submissions not yet sent are dropped, the runs
already started keep running (they are named in a warning) and each one is in
the manifest, the start that was in flight included.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

import anyio

from ._config import RESOLVE_SKEW
from ._display import register
from ._errors import FlowservError, NotFoundError, SubmissionUncertainError, is_pushback
from ._gather import gather
from ._limit import Limit, Sample
from ._manifest import Manifest, ManifestEntry
from ._models import Run
from ._presenter import Drawn
from ._submit import OnStarted, Submitter, aware, same_arguments
from ._views import batch_table, batch_text

if TYPE_CHECKING:
    import os

    from ._api import FlowservAPI
    from ._arguments import Prepared

__all__ = ["Batcher", "Permit", "PushbackHook", "RunBatch", "Submissions"]

logger = logging.getLogger("aioflowserv")

PushbackHook = Callable[[Callable[[], None]], contextlib.AbstractContextManager[None]]
"""Calls a callback at each push-back of the server while a block runs
(:meth:`~._transport.HTTPClient.observing_pushback`)."""


class RunBatch(Drawn, list[Any]):
    """What ``start_runs`` returns: a list of the runs in input order, and how it went.

    It is a plain ``list`` (of :class:`Run`, and, with ``return_exceptions=True``,
    the errors of the submissions that failed), with two more attributes:
    ``concurrency``, the limit at the end of the batch (with
    ``concurrency="auto"``, what the limit settled on for this server), and
    ``peak_concurrency``, the most submissions that were in flight at once.
    Its ``repr`` is one line however long the batch (``<RunBatch: 20 runs: 18
    SUCCESS, 2 ERROR; concurrency auto settled at 8 (peak 12)>``); in a notebook
    it shows as a table of the runs.
    """

    concurrency: int
    peak_concurrency: int
    adaptive: bool

    def __init__(
        self, items: Sequence[Any] = (), *, concurrency: int = 1, peak_concurrency: int = 0,
        adaptive: bool = False,
    ) -> None:
        super().__init__(items)
        self.concurrency = concurrency
        self.peak_concurrency = peak_concurrency
        self.adaptive = adaptive


register(RunBatch, text=batch_text, table=batch_table)


class Permit(NamedTuple):
    """A submission's place in a limit: the load it is sent at (itself included), the limit then."""

    load: int
    limit: int


class Submissions:
    """Submissions through one :class:`~._limit.Limit`, each measured for it.

    The one per-submission path of batches and sweeps: :meth:`acquire` waits
    for a permit, :meth:`send` submits one argument set with it and tells the
    limit how the server answered (its latency, and whether it pushed back
    meanwhile: an answer asking to back off, or a push-back the HTTP layer
    saw while the submission was in flight; :meth:`Batcher.submissions`
    connects :meth:`pushed_back` to it).
    """

    def __init__(self, submitter: Submitter, limit: Limit) -> None:
        self._submitter = submitter
        self.limit = limit
        self._pushbacks = 0

    def pushed_back(self) -> None:
        """The server pushed back on some request (the HTTP layer's hook)."""
        self._pushbacks += 1

    async def acquire(self) -> Permit:
        """Wait for a free place in the limit and take it."""
        load = await self.limit.acquire()
        return Permit(load, self.limit.limit)

    async def send(
        self,
        permit: Permit,
        group_id: str,
        prepared: Prepared,
        on_started: OnStarted | None = None,
        before_start: Callable[[list[dict[str, Any]]], Awaitable[None]] | None = None,
        after_start: Callable[[Run], Awaitable[None]] | None = None,
    ) -> Run:
        """Submit one argument set with ``permit`` (given back at the end, with what it measured).

        ``before_start`` is awaited with the wire arguments before the start
        is sent, ``after_start`` with the run once it exists (shielded: a
        manifest records it even while the call is being cancelled), both
        while the permit is held, so that records keep the order of starts.
        Raises what :meth:`Submitter.submit` raises.
        """
        before = self._pushbacks
        began = anyio.current_time()
        sample: Sample | None = None
        try:
            run = await self._submitter.submit(group_id, prepared, on_started, before_start)
        except FlowservError as exc:
            if is_pushback(exc) or self._pushbacks != before:
                sample = Sample(permit.load, permit.limit, anyio.current_time() - began, True)
            raise
        else:
            elapsed = anyio.current_time() - began
            sample = Sample(permit.load, permit.limit, elapsed, self._pushbacks != before)
            if after_start is not None:
                with anyio.CancelScope(shield=True):
                    await after_start(run)
            return run
        finally:
            self.limit.release(sample)


class Batcher:
    """The batches of one client: submissions through a limit, with manifests."""

    def __init__(
        self, api: FlowservAPI, submitter: Submitter, observing_pushback: PushbackHook
    ) -> None:
        self._api = api
        self._submitter = submitter
        self._observing_pushback = observing_pushback

    @contextlib.contextmanager
    def submissions(self, limit: Limit) -> Iterator[Submissions]:
        """Submissions through ``limit``, with the server's push-back seen while the block runs."""
        submissions = Submissions(self._submitter, limit)
        with self._observing_pushback(submissions.pushed_back):
            yield submissions

    async def run(
        self,
        group_id: str,
        batch: Sequence[Prepared],
        *,
        limit: Limit,
        on_started: OnStarted | None = None,
        manifest: str | os.PathLike[str] | None = None,
    ) -> list[Run | FlowservError]:
        """:meth:`submit_all`, with the manifest at ``manifest`` (a path) opened and closed."""
        if manifest is None:
            return await self.submit_all(group_id, batch, limit=limit, on_started=on_started)
        journal = await Manifest.open(manifest, group_id, batch)
        try:
            return await self.submit_all(
                group_id, batch, limit=limit, on_started=on_started, manifest=journal
            )
        finally:
            journal.close()

    async def submit_all(
        self,
        group_id: str,
        batch: Sequence[Prepared],
        *,
        limit: Limit,
        on_started: OnStarted | None = None,
        manifest: Manifest | None = None,
    ) -> list[Run | FlowservError]:
        """Submit every argument set, as many at once as ``limit`` allows; outcomes in input order.

        A submission that fails stands in the list as its error; the others go
        on. ``on_started`` is called with each run as soon as it exists. Each
        answer tells ``limit`` how the server is doing (see :mod:`._limit`).
        With a ``manifest``, the runs it already records are fetched instead of
        started again, its unfinished starts are resolved first (see
        :meth:`resume`), and every start is recorded in it. If the batch is
        cancelled, the runs already started keep running (they are named in a
        warning) and the submissions not yet sent are dropped.
        """
        results: list[Run | FlowservError | None] = [None] * len(batch)
        started: list[str] = []

        def note(run: Run) -> None:
            started.append(run.run_id)
            if on_started is not None:
                on_started(run)

        todo: Sequence[int] = range(len(batch))
        if manifest is not None:
            todo = await self.resume(group_id, manifest, results, note)

        async def submit(index: int, permit: Permit) -> None:
            before_start = after_start = None
            if manifest is not None:  # the run is recorded even when the batch is cancelled
                before_start = manifest.intend_for(index)
                after_start = functools.partial(manifest.record, index)
            try:
                results[index] = await submissions.send(
                    permit, group_id, batch[index], note, before_start, after_start
                )
            except FlowservError as exc:
                results[index] = exc

        try:
            with self.submissions(limit) as submissions:
                async with anyio.create_task_group() as tg:
                    for index in todo:
                        tg.start_soon(submit, index, await submissions.acquire())
        except anyio.get_cancelled_exc_class():
            if started:
                logger.warning(
                    "a batch was cancelled after starting %d of %d runs in group %s: %s",
                    len(started), len(batch), group_id, ", ".join(started),
                )
            raise
        if limit.adaptive:
            logger.info(
                "concurrency auto settled at %d for %d submissions to group %s (at most %d "
                "in flight)", limit.settled, len(todo), group_id, limit.peak,
            )
        return [result for result in results if result is not None]

    async def resume(
        self,
        group_id: str,
        manifest: Manifest,
        results: list[Run | FlowservError | None],
        on_started: OnStarted,
    ) -> list[int]:
        """Fill ``results`` with what a manifest already records; return the indices to start.

        See :meth:`recall`; only argument sets without a run are left to start.
        """
        recalled = await self.recall(group_id, manifest)
        for index, outcome in recalled.items():
            results[index] = outcome
            if isinstance(outcome, Run):
                on_started(outcome)
        if recalled:
            logger.info(
                "manifest %s: %d of %d runs of group %s were started before; starting the rest",
                manifest.path, len(recalled), len(results), group_id,
            )
        return [index for index, result in enumerate(results) if result is None]

    async def recall(self, group_id: str, manifest: Manifest) -> dict[int, Run | FlowservError]:
        """The run each argument set of a manifest made, by index (for batches and sweeps).

        Runs the manifest names are fetched (one that is gone stands as its
        :class:`NotFoundError`). An intent without a run (the batch died
        between sending a start and recording its answer) is looked for among
        the group's runs, as an unanswered start is: a run created after the
        intent with exactly its arguments, not claimed by another entry,
        oldest first; a run found so is recorded. Each run is claimed, so that
        no resolution hands it out again.
        """
        entries = manifest.entries
        claimed = {entry.run_id for entry in entries.values() if entry.run_id}
        pending = sorted(
            (entry for entry in entries.values() if entry.run_id is None and entry.arguments),
            key=lambda entry: entry.index,
        )
        if pending:
            for index, run in (await self._match_intents(group_id, pending, claimed)).items():
                entries[index].run_id = run.run_id
                await manifest.started(index, run.run_id, entries[index].attempt)
        known = {entry.index: entry.run_id for entry in entries.values() if entry.run_id}
        fetched = await gather(
            [functools.partial(self._fetch, run_id) for run_id in known.values()], limit=8
        )
        recalled: dict[int, Run | FlowservError] = {}
        for index, outcome in zip(known, fetched, strict=True):
            recalled[index] = outcome
            if isinstance(outcome, Run):
                self._submitter.claim(outcome)
        return recalled

    async def find_started(self, error: SubmissionUncertainError) -> Run | None:
        """The run an uncertain start made, looked for once more (None: no run of it found).

        As a manifest's intent is matched (:meth:`recall`): a run of the group
        created after the start was sent, with exactly its arguments, that no
        caller was handed yet. The run found is claimed.
        """
        sent_at = None
        if error.sent_at is not None:
            with contextlib.suppress(ValueError):
                sent_at = datetime.fromisoformat(error.sent_at)
        entry = ManifestEntry(0, arguments=error.arguments, sent_at=sent_at)
        found = (await self._match_intents(error.group_id, [entry], set())).get(0)
        if found is not None:
            self._submitter.claim(found)
        return found

    async def _fetch(self, run_id: str) -> Run | FlowservError:
        try:
            return await self._api.get_run(run_id)
        except NotFoundError as exc:
            return exc

    async def _match_intents(
        self, group_id: str, pending: Sequence[ManifestEntry], claimed: set[str]
    ) -> dict[int, Run]:
        """The runs that recorded intents made, matched by arguments (one listing)."""
        moments = [entry.sent_at for entry in pending if entry.sent_at is not None]
        earliest = min(moments) - RESOLVE_SKEW if len(moments) == len(pending) else None
        infos = [
            info for info in (await self._api.list_runs(group_id)).infos()
            if info.run_id not in claimed and not self._submitter.claimed(info.run_id) and (
                earliest is None or info.created_at is None
                or aware(info.created_at) >= earliest
            )
        ]
        candidates = await gather(
            [functools.partial(self._fetch, info.run_id) for info in infos], limit=8
        )
        free = [run for run in candidates if isinstance(run, Run)]
        found: dict[int, Run] = {}
        for entry in pending:
            after = entry.sent_at - RESOLVE_SKEW if entry.sent_at is not None else None
            for run in free:
                created = run.created_at
                if after is not None and created is not None and aware(created) < after:
                    continue
                if same_arguments(run.doc.get("arguments"), entry.arguments):
                    found[entry.index] = run
                    free.remove(run)
                    logger.info(
                        "manifest: argument set #%d made run %s before the batch stopped",
                        entry.index, run.run_id,
                    )
                    break
        return found
