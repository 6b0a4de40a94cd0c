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
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from ._config import RESOLVE_SKEW
from ._display import register
from ._errors import FlowservError, NotFoundError, is_pushback
from ._gather import gather
from ._limit import Limit, Sample
from ._manifest import Manifest
from ._models import Run
from ._presenter import Drawn
from ._submit import OnStarted, Submitter, aware, same_arguments
from ._views import batch_table, batch_text

if TYPE_CHECKING:
    import os

    from ._api import FlowservAPI
    from ._arguments import Prepared
    from ._manifest import ManifestEntry

__all__ = ["Batcher", "PushbackHook", "RunBatch"]

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


class Batcher:
    """The batches of one client: submissions through a limit, with manifests."""

    def __init__(
        self, api: FlowservAPI, submitter: Submitter, observing_pushback: PushbackHook
    ) -> None:
        self._api = api
        self._submitter = submitter
        self._observing_pushback = observing_pushback

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

        pushbacks = 0

        def pushed_back() -> None:
            nonlocal pushbacks
            pushbacks += 1

        async def submit(index: int, load: int, sent_limit: int) -> None:
            before = pushbacks
            began = anyio.current_time()
            sample: Sample | None = None
            before_start = manifest.intend_for(index) if manifest is not None else None
            try:
                run = await self._submitter.submit(group_id, batch[index], note, before_start)
            except FlowservError as exc:
                results[index] = exc
                if is_pushback(exc) or pushbacks != before:
                    sample = Sample(load, sent_limit, anyio.current_time() - began, True)
            else:
                results[index] = run
                elapsed = anyio.current_time() - began
                sample = Sample(load, sent_limit, elapsed, pushbacks != before)
                if manifest is not None:  # recorded even when the batch is being cancelled
                    with anyio.CancelScope(shield=True):
                        await manifest.started(index, run.run_id)
            finally:
                limit.release(sample)

        try:
            with self._observing_pushback(pushed_back):
                async with anyio.create_task_group() as tg:
                    for index in todo:
                        load = await limit.acquire()
                        tg.start_soon(submit, index, load, limit.limit)
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

        Runs the manifest names are fetched (one that is gone stands as its
        :class:`NotFoundError`). An intent without a run (the batch died
        between sending a start and recording its answer) is looked for among
        the group's runs, as an unanswered start is: a run created after the
        intent with exactly its arguments, not claimed by another entry,
        oldest first. Only argument sets without a run are left to start.
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
                await manifest.started(index, run.run_id)
        known = {entry.index: entry.run_id for entry in entries.values() if entry.run_id}
        fetched = await gather(
            [functools.partial(self._fetch, run_id) for run_id in known.values()], limit=8
        )
        for index, outcome in zip(known, fetched, strict=True):
            results[index] = outcome
            if isinstance(outcome, Run):
                self._submitter.claim(outcome)
                on_started(outcome)
        if known:
            logger.info(
                "manifest %s: %d of %d runs of group %s were started before; starting the rest",
                manifest.path, len(known), len(results), group_id,
            )
        return [index for index, result in enumerate(results) if result is None]

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
