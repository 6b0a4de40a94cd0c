"""Run watching: one poll loop per client, batched per group.

Every wait registers its runs here. One listing request per *group* and tick
(``GET /groups/{id}/runs``) returns the state of all its runs; a run's full
record (``GET /runs/{id}``) is fetched only once it is no longer active.
Runs without a group (post-processing runs) are fetched one by one.

Watching costs what changed, not what is watched: a listing is read by
difference with the group's last one (:mod:`._listing`), a run registered
since is checked against the whole listing once, and the records of runs that
ended are fetched alongside the listings, a bounded number at a time
(:class:`~._watched.RecordQueue`), so that a tick is never late however many
runs ended. Groups of tens of thousands of runs are listed less often, so
that polling takes a bounded share of the server's time (``poll_share``,
:class:`~._watched.PollCost`).

A whole group can be watched too (:meth:`Watcher.watch_group`): a stream of
every run of the group, new ones included, fed by the same listing. It sees
each run's full record first, then each state change once (a change to a
final state with the full record, fetched once for every wait and stream
that needs it).

There is no background task. The poll loop (and its fetches) runs inside the
waiting tasks themselves: one waiter at a time, the *leader*, polls on behalf
of all and wakes the others; when it leaves (its runs are done, its deadline passed, or
it was cancelled) it hands the lead to another waiter. With no waiter left,
nothing runs and nothing is sent. Cancelling one wait never disturbs another.
"""

from __future__ import annotations

import functools
import logging
import math
import random
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, TypedDict

import anyio
import anyio.abc
import attrs

from ._callback import Callback, failure, guard, notify
from ._config import (
    CLEANUP_TIMEOUT,
    FATAL_AFTER,
    FETCH_CONCURRENCY,
    POLL_GROWTH,
    POLL_JITTER,
    STREAM_GIVE_UP,
    Unpack,
    check_id,
    check_seconds,
)
from ._errors import (
    FlowservError,
    InvalidResponseError,
    NotFoundError,
    copy_error,
    is_permanent,
    is_transient,
)
from ._gather import gather
from ._models import Run, RunInfo, RunState
from ._routes import Routes
from ._watched import (
    Entry,
    Group,
    PollCost,
    RecordQueue,
    Stream,
    Waiter,
    Wanted,
    WatchStats,
    given_up,
    outcome_of,
    timeout_error,
)

if TYPE_CHECKING:
    from ._api import FlowservAPI
    from ._config import Settings
    from ._listing import ListingChange

__all__ = [
    "OnChange", "RunRef", "WaitArgs", "WaitOptions", "WatchStats", "Watcher",
    "notify",
]

logger = logging.getLogger("aioflowserv")



OnChange = Callable[[Run], Any]
"""Called with a snapshot whenever a watched run changes state (the final one included)."""

RunRef = Run | RunInfo | str
"""A run to wait for: a :class:`Run` snapshot, a listing entry (:class:`RunInfo`) or a run id."""

RunSpec = tuple[str, "str | None", "Run | None"]
"""What to watch: run id, group id (None: no group) and the last known snapshot."""

_LARGE_LISTING = 1 << 16
"""A listing body this long (some hundreds of runs) is worth comparing with a bare round trip."""

CANCEL_REASON = "wait cancelled by client"
"""The reason given to runs canceled by ``cancel_remote=True``."""


class WaitArgs(TypedDict, total=False):
    """The keyword options of every wait (``wait``, ``wait_all``, ``as_completed``).

    - ``poll_interval``: seconds before the first poll (the client's by
      default); while nothing changes the interval grows, with jitter,
    - up to ``max_interval`` seconds (the client's by default);
    - ``on_change``: called with a snapshot at each state change of a run;
    - ``cancel_remote``: True, or a reason, to cancel the runs on the server
      too if the waiting task is cancelled (by default they are left alone).
    """

    poll_interval: float | None
    max_interval: float | None
    on_change: OnChange | None
    cancel_remote: bool | str


@attrs.frozen
class WaitOptions:
    """How one wait goes, checked once where the public call enters (see :meth:`Watcher.options`).

    ``deadline`` is on anyio's clock (``math.inf``: none) and ``timeout`` the
    seconds it was made from (for messages). ``cancel_remote`` is the reason to
    cancel the runs on the server with if the wait is cancelled (None: leave
    them alone).
    """

    poll_interval: float
    max_interval: float
    deadline: float = math.inf
    timeout: float | None = None
    on_change: OnChange | None = attrs.field(default=None, converter=guard)
    cancel_remote: str | None = None

    def starting_now(self) -> WaitOptions:
        """The same options with the deadline counted from now (a wait after a submission)."""
        if self.timeout is None:
            return self
        return attrs.evolve(self, deadline=anyio.current_time() + self.timeout)


class Watcher:
    """The per-client registry of waits and the poll loop that serves them."""

    def __init__(self, api: FlowservAPI, settings: Settings) -> None:
        self._api = api
        self.poll_interval = settings.poll_interval
        self.max_interval = settings.max_interval
        self._entries: dict[str, Entry] = {}
        self._groups: dict[str | None, Group] = {}
        self._driving: dict[Waiter, None] = {}
        self._leader: Waiter | None = None
        self._schedule_changed: anyio.Event | None = None
        self._listings = 0
        self._fetches = 0
        self._cost = PollCost(settings.poll_share)
        self._workers: anyio.abc.TaskGroup | None = None
        self._records = RecordQueue(self._get_run, self._deliver, FETCH_CONCURRENCY)

    def close(self, error: BaseException) -> None:
        """End every wait in progress with ``error`` (the client is closing)."""
        for entry in list(self._entries.values()):
            self._finish(entry, error=error)
        for group in list(self._groups.values()):
            for stream in group.streams:
                stream.fail(error)
        if self._schedule_changed is not None:
            self._schedule_changed.set()

    def stats(self) -> WatchStats:
        """What is watched now, and how many requests watching has made."""
        return WatchStats(
            runs=len(self._entries),
            groups=len(self._groups),
            streams=sum(len(group.streams) for group in self._groups.values()),
            polling=self._leader is not None,
            listings=self._listings,
            fetches=self._fetches,
        )

    async def _get_run(self, run_id: str) -> Run:
        """A run's full record (every fetch of the watcher goes through here, counted)."""
        self._fetches += 1
        started = anyio.current_time()
        run = await self._api.get_run(run_id)
        self._cost.round_trip(anyio.current_time() - started)
        return run

    def options(self, timeout: float | None = None, **args: Unpack[WaitArgs]) -> WaitOptions:
        """Check a wait's options (the client's intervals fill in) and fix its deadline now."""
        unknown = sorted(set(args) - set(WaitArgs.__annotations__))
        if unknown:
            raise TypeError(
                f"unexpected keyword argument {unknown[0]!r} (a wait takes timeout, "
                f"{', '.join(WaitArgs.__annotations__)})"
            )
        poll_interval, max_interval = args.get("poll_interval"), args.get("max_interval")
        poll = self.poll_interval if poll_interval is None else check_seconds(
            poll_interval, "poll_interval"
        )
        cap = self.max_interval if max_interval is None else check_seconds(
            max_interval, "max_interval"
        )
        deadline = math.inf
        if timeout is not None:
            timeout = check_seconds(timeout, "timeout", zero=True)
            deadline = anyio.current_time() + timeout
        cancel_remote = args.get("cancel_remote", False)
        reason: str | None = None
        if isinstance(cancel_remote, str):
            reason = cancel_remote or None
        elif cancel_remote:
            reason = CANCEL_REASON
        return WaitOptions(
            poll_interval=poll, max_interval=max(poll, cap), deadline=deadline, timeout=timeout,
            on_change=args.get("on_change"), cancel_remote=reason,
        )

    async def wait_all(
        self,
        runs: Iterable[RunRef],
        options: WaitOptions,
        *,
        group_id: str | None = None,
        return_exceptions: bool = False,
    ) -> list[Any]:
        """Wait until every run is final and return them in input order.

        ``group_id`` is the group of the bare run ids (None: each is looked up
        once). A run that cannot be watched (deleted, say) raises its error,
        or with ``return_exceptions`` stands in the list as that error.
        """
        specs = await self._specs(runs, group_id)
        async with self.cancelling_remote([run_id for run_id, _, _ in specs], options):
            with self._register(specs, options) as waiter:
                with anyio.CancelScope(deadline=options.deadline) as scope:
                    await self._drive(waiter, lambda: waiter.remaining == 0)
                if scope.cancelled_caught and waiter.remaining:
                    raise timeout_error(waiter, options.timeout)
                entries = [waiter.entries[run_id] for run_id, _, _ in specs]
        if return_exceptions:
            return [
                entry.result if entry.error is None else copy_error(entry.error)
                for entry in entries
            ]
        return [outcome_of(entry) for entry in entries]

    async def as_completed(
        self,
        runs: Iterable[RunRef],
        options: WaitOptions,
        *,
        group_id: str | None = None,
    ) -> AsyncGenerator[Run, None]:
        """Yield each run once it is final, in the order they end.

        A run is let go once yielded, so that memory stays bounded by the runs
        still watched; the ``completed`` list of a :class:`RunWaitTimeout` is
        therefore empty here (every run that ended was yielded).
        """
        specs = await self._specs(runs, group_id)
        async with self.cancelling_remote([run_id for run_id, _, _ in specs], options):
            with self._register(specs, options) as waiter:
                while True:
                    while waiter.finished:
                        entry = waiter.finished.popleft()
                        self._drop(waiter, entry)
                        yield outcome_of(entry)
                    if waiter.remaining == 0:
                        if isinstance(waiter.on_change, Callback):
                            waiter.on_change.raise_failure()  # on the last run's final state
                        return
                    # The lead is only held inside this call, never across a yield.
                    with anyio.CancelScope(deadline=options.deadline) as scope:
                        await self._drive(
                            waiter, lambda: bool(waiter.finished) or not waiter.remaining
                        )
                    if scope.cancelled_caught and not waiter.finished:
                        raise timeout_error(waiter, options.timeout)

    async def watch_group(
        self,
        group_id: str,
        options: WaitOptions,
        give_up_after: float = STREAM_GIVE_UP,
        *,
        heartbeat: float | None = None,
        idle_timeout: float | None = None,
    ) -> AsyncGenerator[Run | None, None]:
        """Yield every run of a group (full records first), then each state change once.

        Runs started later, anywhere, are included. A listing that fails is
        retried (with the waits' back-off) and its error raised only when it
        cannot succeed (an unknown group, no access) or has kept failing for
        ``give_up_after`` seconds. Runs that are deleted are dropped silently.
        With ``heartbeat``, ``None`` is yielded whenever that many seconds
        passed without anything else to yield; with ``idle_timeout``, the
        stream ends once that many seconds passed without a run to report.
        Otherwise it never ends by itself.
        """
        check_id(group_id, "group_id")
        waiter = Waiter(options.poll_interval, options.max_interval, None)
        stream = Stream(group_id, waiter, give_up_after)
        with self._subscribe(stream):
            last_run = last_yield = anyio.current_time()
            while True:
                while stream.pending:
                    yield stream.pending.popleft()
                    last_run = last_yield = anyio.current_time()
                if stream.error is not None:
                    raise stream.error
                wake = math.inf
                if idle_timeout is not None:
                    if anyio.current_time() >= last_run + idle_timeout:
                        return
                    wake = last_run + idle_timeout
                if heartbeat is not None:
                    if anyio.current_time() >= last_yield + heartbeat:
                        yield None
                        last_yield = anyio.current_time()
                        continue
                    wake = min(wake, last_yield + heartbeat)
                # The lead is only held inside this call, never across a yield.
                with anyio.CancelScope(deadline=wake):
                    await self._drive(
                        waiter, lambda: bool(stream.pending) or stream.error is not None
                    )

    @contextmanager
    def _subscribe(self, stream: Stream) -> Iterator[None]:
        """Register a group stream: its group is polled at once, then at its intervals."""
        waiter = stream.waiter
        now = anyio.current_time()
        group = self._groups.get(stream.group_id)
        if group is None:
            group = Group(
                stream.group_id, base=waiter.poll_interval, cap=waiter.max_interval,
                interval=waiter.poll_interval, next_poll=now,
            )
            self._groups[stream.group_id] = group
        else:
            group.base = min(group.base, waiter.poll_interval)
            group.cap = max(group.base, min(group.cap, waiter.max_interval))
            group.interval = group.base
            if not group.polling:  # a listing in flight serves the stream too
                group.next_poll = min(group.next_poll, now)
        group.streams.add(stream)
        if self._schedule_changed is not None:
            self._schedule_changed.set()
        try:
            yield
        finally:
            self._driving.pop(waiter, None)
            group.streams.discard(stream)
            if group.unused and self._groups.get(stream.group_id) is group:
                del self._groups[stream.group_id]
            if self._leader is None:
                self._hand_over()

    async def _specs(self, runs: Iterable[RunRef], group_id: str | None) -> list[RunSpec]:
        """What to watch: bare ids of an unknown group are looked up (one fetch each)."""
        if isinstance(runs, (str, Run, RunInfo)):
            raise TypeError("expected an iterable of runs or run ids, not a single run")
        specs: list[RunSpec] = []
        lookups: list[tuple[int, str]] = []
        for run in runs:
            if isinstance(run, Run):
                specs.append((run.run_id, run.group_id, run))
                continue
            run_id = run.run_id if isinstance(run, RunInfo) else run
            check_id(run_id, "run_id")
            if group_id is None:
                lookups.append((len(specs), run_id))
            specs.append((run_id, group_id, None))
        snapshots = await gather(
            [functools.partial(self._get_run, run_id) for _, run_id in lookups]
        )
        for (index, run_id), snapshot in zip(lookups, snapshots, strict=True):
            specs[index] = (run_id, snapshot.group_id, snapshot)
        return specs

    @asynccontextmanager
    async def cancelling_remote(
        self, run_ids: Sequence[str], options: WaitOptions
    ) -> AsyncIterator[None]:
        """With ``cancel_remote``, a block that is cancelled cancels ``run_ids`` on the server.

        ``run_ids`` is read when the cancellation comes (a list may grow while
        the block runs). The cancellations are shielded and take at most
        :data:`CLEANUP_TIMEOUT`; ``on_change`` sees each canceled run. Runs
        that already ended answer 400 and are left as they are.
        """
        if options.cancel_remote is None:
            yield
            return
        try:
            yield
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_TIMEOUT):
                await self._cancel_remote(list(dict.fromkeys(run_ids)), options)
            raise

    async def _cancel_remote(self, run_ids: Sequence[str], options: WaitOptions) -> None:
        assert options.cancel_remote is not None

        async def cancel(run_id: str) -> None:
            try:
                run = await self._api.cancel_run(run_id, options.cancel_remote)
            except FlowservError:  # already final (400) or deleted (404): nothing to cancel
                return
            if options.on_change is not None:
                notify(options.on_change, run)

        await gather([functools.partial(cancel, run_id) for run_id in run_ids])

    @contextmanager
    def _register(self, specs: Sequence[RunSpec], options: WaitOptions) -> Iterator[Waiter]:
        waiter = Waiter(options.poll_interval, options.max_interval, options.on_change)
        now = anyio.current_time()
        for run_id, group_id, snapshot in specs:
            entry = self._entries.get(run_id)
            if entry is None:
                entry = Entry(
                    run_id, group_id, snapshot, snapshot.state if snapshot is not None else None
                )
                self._entries[run_id] = entry
                if snapshot is not None and not snapshot.is_active():
                    entry.result = snapshot
                else:
                    # A snapshot says the run was active a moment ago: poll after one interval.
                    delay = options.poll_interval if snapshot is not None else 0.0
                    self._track(entry, waiter, now + delay)
            elif not entry.done:
                group = self._groups[entry.group_id]
                group.base = min(group.base, waiter.poll_interval)
                group.cap = max(group.base, min(group.cap, waiter.max_interval))
                if snapshot is not None and not snapshot.is_active():
                    self._finish(entry, result=snapshot)
            if waiter not in entry.waiters:
                entry.waiters.append(waiter)
                if entry.done:
                    waiter.finished.append(entry)
                else:
                    waiter.remaining += 1
                waiter.entries[run_id] = entry
        if self._schedule_changed is not None:
            self._schedule_changed.set()
        try:
            yield waiter
        finally:
            self._unregister(waiter)

    def _track(self, entry: Entry, waiter: Waiter | None, poll_at: float) -> None:
        group = self._groups.get(entry.group_id)
        base = waiter.poll_interval if waiter else self.poll_interval
        cap = waiter.max_interval if waiter else self.max_interval
        if group is None:
            group = Group(entry.group_id, base=base, cap=cap, interval=base, next_poll=poll_at)
            self._groups[entry.group_id] = group
        else:
            group.base = min(group.base, base)
            group.cap = max(group.base, min(group.cap, cap))
            group.interval = group.base  # a new run is a change: drop back to the base interval
            group.next_poll = min(group.next_poll, poll_at)
        # Only a listing that starts after this moment can prove the run is gone.
        entry.first_listing = group.listings + 1
        group.entries[entry.run_id] = entry
        group.fresh.append(entry)

    def _unregister(self, waiter: Waiter) -> None:
        self._driving.pop(waiter, None)
        for entry in list(waiter.entries.values()):
            self._drop(waiter, entry)
        if self._leader is None:
            self._hand_over()

    def _drop(self, waiter: Waiter, entry: Entry) -> None:
        """Let go of one run of a wait; forget it when no wait is left on it."""
        del waiter.entries[entry.run_id]
        if waiter in entry.waiters:
            entry.waiters.remove(waiter)
        if not entry.waiters and self._entries.get(entry.run_id) is entry:
            del self._entries[entry.run_id]
            self._untrack(entry)

    def _untrack(self, entry: Entry) -> None:
        group = self._groups.get(entry.group_id)
        if group is None or group.entries.pop(entry.run_id, None) is None:
            return
        group.check.discard(entry)
        if group.unused:
            del self._groups[entry.group_id]

    def _hand_over(self) -> None:
        for candidate in self._driving:
            candidate.wake.set()
            return

    async def _drive(self, waiter: Waiter, condition: Callable[[], bool]) -> None:
        def until() -> bool:  # a failure of the waiter's on_change ends it too (raised below)
            return condition() or failure(waiter.on_change) is not None

        self._driving[waiter] = None
        try:
            while not until():
                if self._leader is None:
                    self._leader = waiter
                    try:
                        await self._lead(until)
                    finally:
                        self._leader = None
                        self._driving.pop(waiter, None)
                        self._hand_over()
                        self._driving[waiter] = None
                else:
                    await waiter.wake.wait()
                    waiter.wake = anyio.Event()
        finally:
            self._driving.pop(waiter, None)
            if self._leader is None:
                # The lead may have been handed to this waiter just as it was done:
                # pass it on, or the others would wait until it comes back.
                self._hand_over()
        if isinstance(waiter.on_change, Callback):
            waiter.on_change.raise_failure()

    async def _lead(self, until: Callable[[], bool]) -> None:
        """Poll on behalf of every wait until ``until()``; record fetches run alongside.

        The fetches of runs that ended run in this task group, at most
        :data:`FETCH_CONCURRENCY` at once, while the listings keep their
        schedule. Once ``until()`` holds, the few fetches queued or in flight
        (no more than run at once: a round trip away, and other waits need
        them) are finished before the lead passes on; with a backlog, no new
        fetch starts and only those in flight are finished.
        """
        records = self._records
        try:
            async with anyio.create_task_group() as workers:
                self._workers = workers
                while not until() or (records.busy and len(records) <= records.limit):
                    records.start(workers)
                    now = anyio.current_time()
                    due = [g for g in self._groups.values() if g.next_poll <= now]
                    if due:
                        clean = not records.in_flight  # no fetch is slowing the listings down
                        if len(records) > records.limit:
                            records.pause()  # a backlog waits: the listings go first
                        try:
                            if len(due) == 1:
                                await self._poll(due[0])
                            else:
                                async with anyio.create_task_group() as tg:
                                    for group in due:
                                        tg.start_soon(self._poll, group)
                        finally:
                            records.resume()
                        if clean:
                            self._cost.tick(due, self._groups.values(), anyio.current_time() - now)
                        continue
                    if not self._groups and not records.busy:
                        return  # nothing left to poll; the caller re-checks its own condition
                    next_poll = min((g.next_poll for g in self._groups.values()), default=math.inf)
                    self._schedule_changed = anyio.Event()
                    with anyio.move_on_after(next_poll - now):
                        await self._schedule_changed.wait()
                    self._schedule_changed = None
                records.stopping = True
        finally:
            self._workers = None
            records.stopping = False
            records.flush()  # answers that came in as the lead was cancelled

    async def _poll(self, group: Group) -> None:
        group.listings += 1
        generation = group.listings
        started = anyio.current_time()
        group.next_poll = math.inf  # not due again while this poll is in flight
        group.polling = True
        try:
            try:
                if group.group_id is None:
                    self._want_each(group)
                else:
                    await self._poll_listing(group, generation)
            finally:
                group.polling = False
        except FlowservError as exc:
            self._listing_failed(group, exc)
            return
        except BaseException:
            if group.next_poll == math.inf:  # cancelled mid-poll: the next leader polls at once
                group.next_poll = anyio.current_time()
            raise
        group.failures = 0
        group.failing_since = None
        if group.changed:
            group.changed = False
            group.interval = group.base
        else:
            grown = group.interval * POLL_GROWTH * random.uniform(1 - POLL_JITTER, 1 + POLL_JITTER)
            group.interval = min(group.cap, grown)
        # A run registered during the poll may have asked for an earlier poll.
        floor = self._cost.floor if group.group_id is not None else 0.0
        group.next_poll = min(group.next_poll, started + max(group.interval, floor))
        now = anyio.current_time()
        records = self._records
        if group.next_poll <= now and records.busy and len(records) <= records.limit:
            # The listing took longer than the interval, and the few records it asked
            # for are on their way: the next listing would mostly tell what they are
            # about to. It waits for them, two round trips at most.
            round_trip = self._cost.bare if self._cost.bare < math.inf else 0.0
            group.next_poll = now + min(max(2 * round_trip, 0.001), group.interval)

    def _want_each(self, group: Group) -> None:
        """A group without a listing (post-processing runs): fetch each of its runs."""
        self._records.new_batch(group.group_id)
        for entry in group.entries.values():
            self._want(entry)

    async def _poll_listing(self, group: Group, generation: int) -> None:
        """List a group; take in what changed since its last listing."""
        assert group.group_id is not None
        self._listings += 1
        route = Routes.list_runs  # read as bytes, by difference with the last listing
        body = await self._api.http.request_body(
            route.method, route.path(group.group_id), auth=route.auth
        )
        change = group.reader.read(body)
        # What watching costs is what a listing costs when nothing changed (a server does
        # the same work for it, and a change is worth its cost): only such a listing, not
        # the first (read whole) nor one checked against newly registered runs, is measured.
        group.steady = group.reader.listings > 1 and not group.fresh and not change
        if self._cost.bare == math.inf and len(body) >= _LARGE_LISTING:
            await self._measure_round_trip()
        # From here on nothing waits: the records this listing asks for are one batch,
        # reported together once they are in (in the order the runs ended), after the
        # batches of this group's earlier listings.
        self._records.new_batch(group.group_id)
        states = group.reader.states
        entries = group.entries
        for run_id, state in change.changed.items():
            entry = entries.get(run_id)
            if entry is not None:
                self._see(group, entry, state)
        for run_id in change.gone:
            entry = entries.get(run_id)
            if entry is not None and not entry.done:
                group.check.add(entry)  # deleted, or moved: its record says which
        if group.fresh:
            fresh, group.fresh = group.fresh, []
            for entry in fresh:
                if entries.get(entry.run_id) is not entry or entry.done:
                    continue
                if entry.first_listing > generation:  # registered while this listing was out
                    group.fresh.append(entry)
                elif (listed := states.get(entry.run_id)) is not None:
                    self._see(group, entry, listed)
                else:
                    group.check.add(entry)
        if group.check:
            check, group.check = group.check, set()
            for entry in check:
                if entries.get(entry.run_id) is entry and not entry.done:
                    self._want(entry)
        if group.streams:
            self._update_streams(group, change)

    async def _measure_round_trip(self) -> None:
        """Time one small request (the service descriptor): a bare round trip to the server."""
        started = anyio.current_time()
        try:
            await self._api.service_info()
        except FlowservError:
            return
        self._cost.round_trip(anyio.current_time() - started)

    def _see(self, group: Group, entry: Entry, state: RunState | InvalidResponseError) -> None:
        """A run's state in a listing: note a change; a final state wants the full record."""
        if isinstance(state, InvalidResponseError):
            self._finish(entry, error=state)
            return
        if state is not entry.state:
            group.changed = True
            entry.state = state
            if state.is_active:  # a final state is reported with the full record
                self._changed(entry, None)
        if not state.is_active:
            self._want(entry)

    def _want(self, entry: Entry) -> None:
        """Fetch a run's full record for its waits (once, however often asked)."""
        if not entry.done:
            self._records.want(entry.run_id).entry = entry
            if self._workers is not None:
                self._records.start(self._workers)  # at once: the waiter is waiting for it

    def _update_streams(self, group: Group, change: ListingChange) -> None:
        """Report a listing's changes to the group's streams.

        A run new to a stream, or one that reached a final state, is reported
        with its full record (fetched once for every wait and stream that
        needs it); a change between active states with the last record, updated.
        """
        for stream in list(group.streams):
            if stream.error is not None:
                continue
            if stream.primed:
                changed: Mapping[str, RunState | InvalidResponseError] = change.changed
            else:
                stream.primed = True
                changed = group.reader.states
            if stream.retry:
                retry, stream.retry = stream.retry, set()
                for run_id in retry:
                    if run_id not in changed:
                        self._records.want(run_id).streams.append(stream)
            for run_id, state in changed.items():
                if isinstance(state, InvalidResponseError):
                    if run_id not in stream.unknown_states:
                        stream.unknown_states.add(run_id)
                        logger.warning("run %s of group %s: %s", run_id, group.group_id, state)
                    continue
                last = stream.known.get(run_id)
                if last is None or (last.is_active() and not state.is_active):
                    self._records.want(run_id).streams.append(stream)
                elif last.is_active() and last.state is not state:
                    group.changed = stream.report(attrs.evolve(last, state=state)) or group.changed

    def _deliver(self, answers: list[tuple[Wanted, Run | FlowservError]]) -> None:
        """Take in a batch of fetched records (in the order the runs ended)."""
        for wanted, outcome in answers:
            if wanted.entry is not None:
                self._take(wanted.entry, outcome)
            for stream in wanted.streams:
                self._to_stream(stream, wanted.run_id, outcome)
        if self._schedule_changed is not None:
            self._schedule_changed.set()  # the leader re-checks whether it is done

    def _to_stream(self, stream: Stream, run_id: str, outcome: Run | FlowservError) -> None:
        if stream.error is not None:
            return
        if isinstance(outcome, Run):
            if stream.report(outcome):
                self._mark_changed(outcome.group_id)
        elif isinstance(outcome, NotFoundError):
            return  # deleted meanwhile: dropped
        elif is_permanent(outcome):
            stream.fail(outcome)
        else:
            stream.retry.add(run_id)
            logger.warning("could not fetch run %s (will try again): %s", run_id, outcome)

    def _take(self, entry: Entry, outcome: Run | FlowservError) -> None:
        """Take in a fetched record for a wait, or its failure.

        An error that will not go away ends the run's waits; others are
        retried at the next tick, up to ``FATAL_AFTER`` times in a row unless
        they are transient.
        """
        if entry.done or not entry.waiters:
            return  # finished or given up meanwhile
        if isinstance(outcome, FlowservError):
            entry.failures += 1
            if (
                is_permanent(outcome) or isinstance(outcome, InvalidResponseError)
                or (not is_transient(outcome) and entry.failures >= FATAL_AFTER)
            ):
                self._finish(entry, error=outcome)
            else:
                logger.warning(
                    "could not fetch run %s (will try again): %s", entry.run_id, outcome
                )
                self._check_next_tick(entry)
            return
        entry.failures = 0
        self._apply(entry, outcome)

    def _check_next_tick(self, entry: Entry) -> None:
        group = self._groups.get(entry.group_id)
        if group is not None and group.group_id is not None:
            group.check.add(entry)

    def _mark_changed(self, group_id: str | None) -> None:
        group = self._groups.get(group_id)
        if group is not None:
            group.changed = True

    def _apply(self, entry: Entry, run: Run) -> None:
        """Take in a fetched record of a run still watched."""
        if run.group_id != entry.group_id and run.group_id is not None:
            # The run belongs to another group than assumed: watch it there.
            self._untrack(entry)
            entry.group_id = run.group_id
            self._track(entry, None, anyio.current_time())
        if not run.is_active():
            if run.state is not entry.state:  # (a listing that showed the end counted it)
                self._mark_changed(entry.group_id)
            self._finish(entry, result=run)
            return
        if run.state is not entry.state:
            self._mark_changed(entry.group_id)
            entry.snapshot, entry.state = run, run.state
            self._changed(entry, run)
        else:
            entry.snapshot = run
        group = self._groups.get(entry.group_id)
        if group is not None and group.group_id is not None:
            listed = group.reader.states.get(entry.run_id)
            if listed is None or listed is not run.state:
                group.check.add(entry)  # the listing disagrees (or lacks it): look again

    def _listing_failed(self, group: Group, exc: FlowservError) -> None:
        group.failures += 1
        now = anyio.current_time()
        if group.failing_since is None:
            group.failing_since = now
        fatal = is_permanent(exc) or (not is_transient(exc) and group.failures >= FATAL_AFTER)
        for stream in list(group.streams):
            if fatal or now - group.failing_since >= stream.give_up_after:
                stream.fail(given_up(exc, group, now - group.failing_since))
        if fatal:
            for entry in list(group.entries.values()):
                self._finish(entry, error=exc)
            return
        delay = min(group.cap, group.base * (2 ** min(group.failures, 16)))
        retry_at = anyio.current_time() + delay * random.uniform(1 - POLL_JITTER, 1 + POLL_JITTER)
        group.next_poll = min(group.next_poll, retry_at)
        logger.warning(
            "listing the runs of group %s failed (%s); trying again in %.1f s",
            group.group_id, exc, delay,
        )

    def _changed(self, entry: Entry, run: Run | None) -> None:
        waiters = [w for w in entry.waiters if w.on_change is not None]
        if not waiters:
            return
        snapshot = run or entry.last_seen()
        for waiter in waiters:
            notify(waiter.on_change, snapshot)  # type: ignore[arg-type]
            if failure(waiter.on_change) is not None:
                waiter.wake.set()  # its wait ends and raises it

    def _finish(self, entry: Entry, *, result: Run | None = None,
                error: BaseException | None = None) -> None:
        if entry.done:
            return
        if result is not None:
            entry.result = result
            entry.state = result.state
            self._changed(entry, result)
        else:
            entry.error = error
        self._untrack(entry)
        for waiter in entry.waiters:
            waiter.finished.append(entry)
            waiter.remaining -= 1
            waiter.wake.set()

