"""What the watcher keeps between ticks: runs waited for, waits, groups, streams, and the fetches.

Data and small rules only; the watcher (:mod:`._watch`) drives them. Memory
is what someone waits for: an :class:`Entry` exists only while a wait holds
its run, a :class:`Group` only while a wait or a stream needs its listing, and
a group's listing is kept as its run states (:class:`~._listing.ListingReader`).

:class:`RecordQueue` fetches full run records (of runs that ended, or that a
listing no longer shows) off the listing's path: a tick lists its groups on
time whatever the backlog of fetches, and at most ``limit`` fetches are in
flight (a real flowServ answers about 110 requests a second on a 2-core
machine). Answers are handed over in batches of up to :data:`FETCH_BATCH`,
each sorted by the runs' finish times, so that runs seen ending in the same
tick are reported in the order they ended, and in the order of the listings
of their group that showed them ended (a slow fetch holds back the group's
answers after it, not another group's).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
import attrs

from ._config import FETCH_BATCH
from ._errors import FlowservError, RunWaitTimeout, add_note, copy_error
from ._listing import ListingReader
from ._models import Run, RunState
from ._presenter import Drawn

__all__ = [
    "WatchStats",
    "Entry", "Group", "PollCost", "RecordQueue", "Stream", "Waiter", "Wanted", "given_up",
    "outcome_of", "timeout_error",
]


@attrs.define(eq=False)
class Entry:
    """A run someone waits for: its last snapshot and state, and how its watch ended."""

    run_id: str
    group_id: str | None
    snapshot: Run | None
    state: RunState | None
    first_listing: int = 0
    failures: int = 0
    result: Run | None = None
    error: BaseException | None = None
    waiters: list[Waiter] = attrs.Factory(list)  # (a list: most runs have one wait)

    @property
    def done(self) -> bool:
        """True once the run's final record (or an error) is in."""
        return self.result is not None or self.error is not None

    def last_seen(self) -> Run:
        """The latest snapshot with the latest state seen in a listing."""
        if self.result is not None:
            return self.result
        state = self.state or RunState.PENDING
        if self.snapshot is None:
            return Run(run_id=self.run_id, state=state, group_id=self.group_id)
        if self.snapshot.state is state:
            return self.snapshot
        return attrs.evolve(self.snapshot, state=state)


@attrs.define(eq=False)
class Waiter:
    """One wait (or stream) in progress: its runs, those finished, and its wake-up event."""

    poll_interval: float
    max_interval: float
    on_change: Callable[[Run], Any] | None
    entries: dict[str, Entry] = attrs.Factory(dict)
    remaining: int = 0
    finished: deque[Entry] = attrs.Factory(deque)
    wake: anyio.Event = attrs.Factory(anyio.Event)


@attrs.define(eq=False)
class Stream:
    """A watch of a whole group: the last snapshot reported of each run, and what to report.

    ``primed`` is False until the stream saw its first listing (every run of
    the group is new to it then); ``retry`` holds the runs whose record could
    not be fetched, tried again at the next tick.
    """

    group_id: str
    waiter: Waiter
    give_up_after: float
    known: dict[str, Run] = attrs.Factory(dict)
    pending: deque[Run] = attrs.Factory(deque)
    error: BaseException | None = None
    unknown_states: set[str] = attrs.Factory(set)
    primed: bool = False
    retry: set[str] = attrs.Factory(set)

    def report(self, run: Run) -> bool:
        """Queue a snapshot unless its state was reported already; True if queued."""
        last = self.known.get(run.run_id)
        if last is not None and (last.state is run.state or not last.is_active()):
            return False
        self.known[run.run_id] = run
        self.pending.append(run)
        self.waiter.wake.set()
        return True

    def fail(self, error: BaseException) -> None:
        """End the stream with ``error`` (raised once the queued snapshots were taken)."""
        if self.error is None:
            self.error = error
            self.waiter.wake.set()


@attrs.define(eq=False)
class Group:
    """A group polled for waits and streams: its schedule, its listing, its runs to check.

    ``fresh`` holds runs registered since the last listing (checked against
    the whole listing once), ``check`` runs to fetch at the next tick (a run
    the listing does not show, a fetch that failed). ``cost`` is the part of
    a listing's time beyond a bare round trip (its size at work), which sets
    the least interval of all listings (see ``poll_share`` in :mod:`._config`).
    """

    group_id: str | None
    base: float
    cap: float
    interval: float
    next_poll: float
    entries: dict[str, Entry] = attrs.Factory(dict)
    streams: set[Stream] = attrs.Factory(set)
    listings: int = 0
    failures: int = 0
    failing_since: float | None = None
    polling: bool = False
    changed: bool = False
    reader: ListingReader = attrs.Factory(ListingReader)
    fresh: list[Entry] = attrs.Factory(list)
    check: set[Entry] = attrs.Factory(set)
    cost: float = 0.0
    steady: bool = False

    @property
    def unused(self) -> bool:
        """True when no wait and no stream needs this group polled."""
        return not self.entries and not self.streams


@attrs.define(eq=False)
class Wanted:
    """A run whose full record is wanted: by the wait of ``entry``, by ``streams``, or both."""

    run_id: str
    batch: int = 0
    lane: Hashable = None
    entry: Entry | None = None
    streams: list[Stream] = attrs.Factory(list)


Outcome = Run | FlowservError
"""A fetch's answer: the run's record, or why it could not be fetched."""


class RecordQueue:
    """Full records to fetch, at most ``limit`` at a time, handed over in sorted batches.

    ``fetch`` gets one record; ``deliver`` takes a batch of answers (in the
    order the runs ended; errors last): the records one listing asked for
    (:meth:`new_batch`), once all of them are in, or :data:`FETCH_BATCH` of
    them at a time when there are many. The batches of one group (its
    *lane*) are handed over in the order of its listings: a run a listing
    showed ended is never reported after one a later listing of the group
    showed ended, however long its fetch took; lanes do not wait for each
    other. Workers run in the task group of whoever leads the watching
    (:meth:`start`); a fetch cancelled with its leader goes back to the front
    of the queue for the next one.
    """

    def __init__(
        self,
        fetch: Callable[[str], Awaitable[Run]],
        deliver: Callable[[list[tuple[Wanted, Outcome]]], None],
        limit: int,
    ) -> None:
        self._fetch = fetch
        self._deliver = deliver
        self.limit = limit
        self._queue: deque[str] = deque()
        self._wanted: dict[str, Wanted] = {}
        self._ready: dict[int, list[tuple[Wanted, Outcome]]] = {}
        self._pending: dict[int, int] = {}
        """Answers still to come, by batch, for each batch not handed over yet."""
        self._lanes: dict[Hashable, deque[int]] = {}
        """The batches of each lane not handed over yet, oldest first."""
        self._lane: Hashable = None
        self.batch = 0
        self.in_flight = 0
        self.workers = 0
        self.stopping = False
        self.since = 0.0
        """When the queue last went from empty to busy (on anyio's clock)."""
        self._resumed: anyio.Event | None = None

    def __len__(self) -> int:
        """Runs waiting for a fetch or being fetched."""
        return len(self._wanted)

    @property
    def busy(self) -> bool:
        """True while a fetch is queued or in flight."""
        return bool(self._wanted)

    def new_batch(self, lane: Hashable = None) -> None:
        """The records wanted from now on are a new batch: those a listing of ``lane`` asks for."""
        self.batch += 1
        self._lane = lane

    def want(self, run_id: str) -> Wanted:
        """The record of ``run_id`` is wanted (once, however often asked, until fetched)."""
        wanted = self._wanted.get(run_id)
        if wanted is None:
            if not self._wanted:
                self.since = anyio.current_time()
            batch = self.batch
            wanted = self._wanted[run_id] = Wanted(run_id, batch, self._lane)
            if batch not in self._pending:
                self._pending[batch] = 0
                self._lanes.setdefault(self._lane, deque()).append(batch)
            self._pending[batch] += 1
            self._queue.append(run_id)
        return wanted

    def start(self, task_group: anyio.abc.TaskGroup) -> None:
        """Start workers in ``task_group`` for what is queued (up to the limit)."""
        while (
            self.workers < self.limit
            and self.workers - self.in_flight < len(self._queue)  # a worker free for each
            and not self.stopping
        ):
            self.workers += 1
            task_group.start_soon(self._work)

    def pause(self) -> None:
        """Start no new fetch until :meth:`resume` (those in flight go on): listings go first."""
        if self._resumed is None:
            self._resumed = anyio.Event()

    def resume(self) -> None:
        """Let fetches start again."""
        if self._resumed is not None:
            self._resumed.set()
            self._resumed = None

    async def _work(self) -> None:
        try:
            while self._queue and not self.stopping:
                if self._resumed is not None:
                    await self._resumed.wait()
                    continue
                run_id = self._queue.popleft()
                wanted = self._wanted[run_id]
                self.in_flight += 1
                try:
                    outcome: Outcome = await self._fetch(run_id)
                except FlowservError as exc:
                    outcome = exc
                except BaseException:
                    self._queue.appendleft(run_id)  # cancelled: the next leader fetches it
                    raise
                finally:
                    self.in_flight -= 1
                del self._wanted[run_id]
                batch = wanted.batch
                ready = self._ready.setdefault(batch, [])
                ready.append((wanted, outcome))
                self._pending[batch] -= 1
                self._release(wanted.lane)
                # A transport that answers without waiting (an in-process fake) must not
                # let one worker keep the event loop from the listings and the waits.
                await anyio.lowlevel.checkpoint()
        finally:
            self.workers -= 1

    def flush(self) -> None:
        """Hand over every answer that may go (the lead is passing on)."""
        for lane in list(self._lanes):
            self._release(lane)

    def _release(self, lane: Hashable) -> None:
        """Hand over the batches of ``lane`` that are complete, oldest first, up to one that is not.

        Of that one, what is in goes :data:`FETCH_BATCH` answers at a time.
        """
        order = self._lanes[lane]
        while order:
            oldest = order[0]
            if self._pending[oldest]:
                if len(self._ready.get(oldest, ())) >= FETCH_BATCH:
                    self._flush(oldest)
                return
            order.popleft()
            del self._pending[oldest]
            self._flush(oldest)
        del self._lanes[lane]

    def _flush(self, batch: int) -> None:
        """Hand over the answers of ``batch`` that are in, sorted by the runs' finish times."""
        ready = self._ready.pop(batch, None)
        if ready:
            ready.sort(key=lambda item: _end_time(item[1]))
            self._deliver(ready)


def _end_time(outcome: Outcome) -> float:
    if isinstance(outcome, Run) and outcome.finished_at is not None:
        return outcome.finished_at.timestamp()
    return math.inf


class PollCost:
    """What polling costs the server and the client, and the least interval that bounds it.

    ``bare`` is the shortest round trip seen (a record fetch, or the service
    descriptor). A tick's listings that took longer than that, on a tick
    where nothing changed (what polling costs, as opposed to reporting
    changes) and no fetch was in flight (which slows every answer alike),
    show the listings' size at work: the server's query and encoding, the
    transfer, the client's reading. That extra time, shared among the groups
    listed together and added up over every group, sets ``floor``: listing
    every group at least that far apart keeps polling within ``share`` of
    the server's (and the client's) time. A listing that costs no more than
    a round trip (a group of ordinary size) adds nothing.
    """

    def __init__(self, share: float) -> None:
        self.share = share
        self.bare = math.inf
        self.floor = 0.0

    def round_trip(self, elapsed: float) -> None:
        """A small request took ``elapsed`` seconds."""
        self.bare = min(self.bare, elapsed)

    def tick(self, polled: Iterable[Group], groups: Iterable[Group], elapsed: float) -> None:
        """The groups ``polled`` together took ``elapsed`` seconds; ``groups`` are all polled."""
        listed = [group for group in polled if group.group_id is not None]
        if not listed or self.bare == math.inf or not all(group.steady for group in listed):
            return
        extra = max(0.0, elapsed - self.bare) / len(listed)
        if extra < self.bare:
            extra = 0.0
        for group in listed:
            group.cost = extra if not group.cost else (group.cost + extra) / 2
        self.floor = sum(group.cost for group in groups) / self.share


def given_up(exc: FlowservError, group: Group, failing_for: float) -> BaseException:
    """The error a group stream ends with: the listing's, with a note on how long it failed."""
    error = copy_error(exc)
    add_note(
        error, f"watching group {group.group_id}: listing its runs failed "
        f"{group.failures} times in {failing_for:.1f} s; gave up",
    )
    return error


def outcome_of(entry: Entry) -> Run:
    """The final record of a finished run, or its error raised."""
    if entry.error is not None:
        raise copy_error(entry.error)
    assert entry.result is not None
    return entry.result


def timeout_error(waiter: Waiter, timeout: float | None) -> RunWaitTimeout:
    """The error of a wait past its deadline: the runs still active, the last seen first."""
    pending = [entry.last_seen() for entry in waiter.entries.values() if not entry.done]
    completed = [entry.result for entry in waiter.entries.values() if entry.result]
    first = pending[0]
    more = f" (and {len(pending) - 1} more)" if len(pending) > 1 else ""
    return RunWaitTimeout(
        f"run {first.run_id}{more} still {first.state.value} after {timeout} s; "
        "it was left running on the server",
        run=first,
        pending=pending,
        completed=completed,
    )


@attrs.frozen(repr=False)
class WatchStats(Drawn):
    """What a client's watcher is doing, and has done: a read-only view (``fs.watching``).

    ``runs`` is how many runs are waited for, ``groups`` how many groups are
    polled for them and for ``streams`` (``watch()``), ``polling`` whether a
    waiter is polling on behalf of all right now. ``listings`` and
    ``fetches`` count the group listings and the runs' full records asked for
    since the client was made.
    """

    runs: int
    groups: int
    streams: int
    polling: bool
    listings: int
    fetches: int

    @property
    def idle(self) -> bool:
        """True when nothing is watched, so nothing is polled or sent."""
        return not self.runs and not self.groups and not self.polling

