"""How many submissions of a batch are in flight at once: a fixed number, or one that adapts.

:class:`AdaptiveLimit` (``concurrency="auto"``) measures the server instead of
guessing. Each submission reports how long the server took (its latency) and
how many submissions were in flight when it was sent (its load). By Little's
law the server then serves ``load / latency`` submissions per second, so the
limit can follow what raises that rate and leave what only adds waiting:

- **Ramp-up.** The first submission goes alone; its latency is the no-load
  latency. Then two go together (the probe): a server with parallel capacity
  answers both as fast as one alone, a server that works one start at a time
  answers the second only after the first (twice the latency), and one that
  slows down under load answers both later. Only a probe whose slower answer
  is within :data:`RAMP_CLEAN` of the no-load latency (the faster of the
  first answer and the probe's, since the first may have been slowed by a
  cold server or a new connection) shows parallel capacity: then the limit
  jumps to :data:`PARALLEL_FACTOR` times the probe. Otherwise the ramp-up ends
  at one, and the steady state tries more only after :data:`MAX_HOLD`
  windows: a short batch against a server that works one start at a time
  sends two at once just once, and is as fast as a plain loop.

  From there the limit moves by rounds: once half of the answers to the
  submissions sent at the current limit are in (all of them, up to four),
  their median is compared
  with the no-load latency (a median, so that one answer held up by a pause
  on the client does not decide). A round as fast as unloaded (within
  :data:`RAMP_CLEAN`) shows that the server serves that load without
  queueing, and the limit rises to :data:`RAMP_FACTOR` times the load (2x for
  a round a little slower). A server with parallel capacity is used within a
  few round trips (a batch of 160 against a parallel server 40 ms away goes
  1, 2, 32, then the rest (96), at a time: four round trips, where 32 at a
  time takes five). A round
  well above the no-load latency (:data:`RAMP_TOLERANCE`) ends the ramp-up at
  the concurrency it says the server sustains (``load * no-load latency /
  latency``, rounded up), or at the last limit whose round was as fast as
  unloaded, if that is higher. A round faster than the first answer (:data:`COLD`)
  shows the first was slowed by something else; its latency becomes the
  no-load latency and the limit only doubles.
- **Steady state: hill climbing on the rate.** The rate is measured over
  windows of submissions sent at the current limit (:data:`MIN_WINDOW`
  answers at least). After a few windows the limiter tries a step up (by a
  quarter, at least one); the step stays while the rate at the higher limit
  is :data:`ACCEPT_UP` of the gain the extra concurrency could give at best,
  checked again after every window, else the limit steps back and waits twice
  as long (up to :data:`MAX_HOLD` windows) before it tries again. Where the
  ramp-up ended above one (it may have judged from a first answer slowed by a
  cold server or a new connection), the limit first steps down while the
  higher limit does not pay by the same measure. So the limit stays at the
  smallest one that gives the server's best rate: against a server that works
  one start at a time, more concurrency only adds latency (and on flowServ
  0.8.1 longer starts let its race leave runs RUNNING for good).
- **Back-off.** An answer 429 or 503, a gateway error or a connection error
  halves the limit (once per window), as TCP and botocore's adaptive retry
  mode do on a loss or a throttle.

The limit never exceeds :data:`~._config.AUTO_MAX_CONCURRENCY` (nor the ``cap`` given).
The ideas come from TCP Vegas and Netflix's concurrency-limits (Vegas and
Gradient2: the limit follows the ratio of the no-load latency to the current
one) and botocore's adaptive retry mode (multiplicative decrease on throttling).
"""

from __future__ import annotations

import logging
import math
import statistics

import anyio
import anyio.lowlevel
import attrs

from ._config import AUTO_MAX_CONCURRENCY
from ._errors import InvalidArgumentError

__all__ = [
    "AdaptiveLimit",
    "FixedLimit",
    "Limit",
    "Sample",
    "limit_for",
]

logger = logging.getLogger("aioflowserv")

RAMP_FACTOR = 4
"""During the ramp-up, a round answered as fast as unloaded raises the limit to this
multiple of the load it was sent at (the load the server just proved it serves)."""

PROBE = 2
"""How many go together after the first submission's answer: enough to tell a server with
parallel capacity (both answered as fast as one) from one that works one start at a time
(the second answered after the first), at the price of one start queued behind another."""

PARALLEL_FACTOR = 16
"""After a probe answered as fast as one submission alone, the limit jumps to this multiple of
the probe."""

RAMP_CLEAN = 1.2
"""A round whose median answer is within this multiple of the no-load latency is unloaded."""

RAMP_TOLERANCE = 1.5
"""A round slower than this multiple of the no-load latency ends the ramp-up."""

COLD = 0.8
"""A round faster than this multiple of the first answer shows that the first answer was
slowed by something else (a cold server, a new connection): it is the no-load latency then."""

MIN_WINDOW = 8
"""The fewest answers a steady-state measurement of the rate is made of."""

MAX_HOLD = 8
"""The most windows the limiter stays at one limit before trying another."""

ACCEPT_UP = 0.15
"""A higher limit pays if its rate is higher by this share of what the extra concurrency
could give at best (for one more on top of one: 15 %); else the lower limit is kept."""


@attrs.frozen
class Sample:
    """One submission as the server answered it.

    ``load`` is how many submissions were in flight when it was sent (itself
    included), ``sent_limit`` the limit then, ``latency`` the seconds until the
    answer, and ``congested`` whether the server pushed back meanwhile (429,
    503, a gateway error or a connection error).
    """

    load: int
    sent_limit: int
    latency: float
    congested: bool = False


class Limit:
    """Permits for submissions in flight: :meth:`acquire` waits while ``limit`` are out."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self.in_flight = 0
        self.peak = 0
        self._changed: anyio.Event | None = None

    @property
    def limit(self) -> int:
        """How many submissions may be in flight now."""
        return self._limit

    @property
    def adaptive(self) -> bool:
        """True if the limit follows the server."""
        return False

    @property
    def settled(self) -> int:
        """The limit the batch settled on (not one it is only trying)."""
        return self._limit

    async def acquire(self) -> int:
        """Wait for a free permit and take it; returns the load (in flight, this one included)."""
        await anyio.lowlevel.checkpoint()
        while self.in_flight >= self._limit:
            if self._changed is None:
                self._changed = anyio.Event()
            await self._changed.wait()
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        return self.in_flight

    def release(self, sample: Sample | None = None) -> None:
        """Give a permit back, with what its submission measured (None: it measured nothing)."""
        self.in_flight -= 1
        if sample is not None:
            self.observe(sample)
        self._wake()

    def observe(self, sample: Sample) -> None:
        """Learn from one answer (a fixed limit learns nothing)."""

    def _set(self, limit: int) -> None:
        if limit != self._limit:
            self._limit = limit
            self._wake()

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None


class FixedLimit(Limit):
    """A limit that stays what it was set to."""


class AdaptiveLimit(Limit):
    """A limit that follows the server's latency and rate (see the module's docstring)."""

    def __init__(self, cap: int = AUTO_MAX_CONCURRENCY) -> None:
        super().__init__(1)
        self.cap = max(1, min(cap, AUTO_MAX_CONCURRENCY))
        self.ramping = True
        self.changes = 0
        self._level = 1.0
        self._base: float | None = None
        self._probed = False
        self._round: list[Sample] = []
        self._proven = 1
        self._window: list[Sample] = []
        self._rates: dict[int, float] = {}
        self._came_from: dict[int, int] = {}
        self._went_down_from: dict[int, int] = {}
        self._descend = False
        self._trying = False
        self._hold = 2
        self._held = 0

    @property
    def adaptive(self) -> bool:
        """True: the limit follows the server."""
        return True

    @property
    def settled(self) -> int:
        """The limit the batch settled on: the one before a step it is still trying.

        Never more than were in flight at once (``peak``, once anything was):
        a batch that ran out of submissions while the limit was still growing
        did not show that the server sustains the limit it had reached.
        """
        if self._limit in self._went_down_from:
            settled = self._went_down_from[self._limit]
        elif self._trying:
            settled = self._came_from.get(self._limit, self._limit)
        else:
            settled = self._limit
        return min(settled, self.peak) if self.peak else settled

    def observe(self, sample: Sample) -> None:
        """Learn from one answer: ramp up, climb, step back or back off."""
        if sample.congested:
            self._back_off(sample)
            return
        if self.ramping:
            self._ramp(sample)
        elif sample.sent_limit == self._limit:
            self._window.append(sample)
            if len(self._window) >= max(MIN_WINDOW, self._limit):
                self._climb(_rate(self._window))
                self._window = []

    def _ramp(self, sample: Sample) -> None:
        """Collect a round of answers sent at the current limit; judge it by its median."""
        if sample.sent_limit != self._limit:
            return  # sent before the last step: the step was judged without it
        self._round.append(sample)
        if len(self._round) < (self._limit if self._limit <= 4 else (self._limit + 1) // 2):
            return
        answers, self._round = self._round, []
        latency = statistics.median(s.latency for s in answers)
        load = self._limit  # what went out together, and came back this fast
        if self._base is None:  # the first submission, alone
            self._base = latency
            self._move(float(PROBE), "probing")
            return
        if not self._probed:
            self._probe(answers)
            return
        if latency < COLD * self._base:  # faster under load than alone: the first was slow
            self._base = latency
            factor = 2
        elif latency <= RAMP_CLEAN * self._base:
            self._proven = load
            factor = RAMP_FACTOR
        elif latency <= RAMP_TOLERANCE * self._base:
            factor = 2
        else:
            self.ramping = False
            sustained = statistics.median(s.load for s in answers) * self._base / latency
            sustained = max(self._proven, math.ceil(sustained - 1e-6))  # (1.0000001 is 1)
            self._move(max(1.0, min(float(self.cap), sustained)), "ramp-up ended")
            self._descend = self._limit > 1  # the first answer may have misled the ramp-up
            return
        self._base = min(self._base, latency)
        self._move(min(self.cap, max(self._level, load * factor)), "ramping up")
        if self._limit >= self.cap:
            self.ramping = False

    def _probe(self, answers: list[Sample]) -> None:
        """Judge the probe (two sent together): parallel capacity, or one start at a time."""
        self._probed = True
        latencies = [s.latency for s in answers]
        assert self._base is not None
        self._base = min(self._base, *latencies)
        if max(latencies) <= RAMP_CLEAN * self._base:
            self._proven = self._limit
            self._move(min(float(self.cap), self._limit * PARALLEL_FACTOR), "ramping up")
            if self._limit >= self.cap:
                self.ramping = False
            return
        self.ramping = False
        self._hold = MAX_HOLD  # try more only once a long batch has shown its rate
        self._move(1.0, "the server answers two at once no faster than one")

    def _step_down(self, level: int) -> None:
        """Try one step below ``level``: kept if the rate stays nearly the same there."""
        lower = level - max(1, level // 4)
        self._went_down_from[lower] = level
        self._move(float(lower), "trying lower")

    def _climb(self, rate: float) -> None:
        """One window measured at the current limit: step back, hold, or try a step up."""
        level = self._limit
        known = self._rates.get(level)
        self._rates[level] = rate if known is None else (known + rate) / 2
        upper = self._went_down_from.pop(level, None)
        if upper is not None:  # judging a step down
            if not self._pays(upper, level):
                if level > 1:
                    self._step_down(level)
                return
            self._came_from[upper] = level  # from now on, upper is checked against this
            self._move(float(upper), f"{level} is slower ({self._rates[level]:.1f}/s, "
                       f"{self._rates[upper]:.1f}/s at {upper})")
            return
        if self._descend:
            self._descend = False
            self._step_down(level)
            return
        lower = self._came_from.get(level)
        if lower is not None and lower in self._rates and not self._pays(level, lower):
            self._hold = min(MAX_HOLD, self._hold * 2)
            self._held = 0
            self._move(float(lower), f"{level} does not pay "
                       f"({self._rates[level]:.1f}/s, {self._rates[lower]:.1f}/s at {lower})")
            return
        if lower is not None and self._trying:
            self._trying = False
            self._hold = 1  # the step paid: try the next one soon
        self._held += 1
        if self._held < self._hold:
            return
        self._held = 0
        upper = level + max(1, level // 4)
        if upper <= self.cap:
            self._came_from[upper] = level
            self._rates.pop(upper, None)  # measure it afresh
            self._trying = True
            self._move(float(upper), "trying")

    def _pays(self, level: int, lower: int) -> bool:
        """Whether ``level`` gives :data:`ACCEPT_UP` of the gain it could give over ``lower``."""
        gain = ACCEPT_UP * (level - lower) / lower
        return self._rates[level] >= self._rates[lower] * (1 + gain)

    def _back_off(self, sample: Sample) -> None:
        """Halve the limit on a push-back (at most once per window of answers)."""
        if sample.sent_limit != self._limit and not self.ramping:
            return  # sent before the last change: that change already reacted
        self.ramping = False
        self._trying = False
        self._descend = False
        self._went_down_from.clear()
        self._window = []
        self._hold = min(MAX_HOLD, self._hold * 2)
        self._move(max(1.0, self._level / 2), "server pushed back")

    def _move(self, level: float, why: str) -> None:
        self._level = level
        limit = max(1, int(level))
        if limit != self._limit:
            self.changes += 1
            self._window = []
            logger.debug("concurrency %d -> %d: %s", self._limit, limit, why)
        self._set(limit)


def _rate(window: list[Sample]) -> float:
    """Submissions per second over a window, by Little's law (mean load over mean latency)."""
    latency = sum(s.latency for s in window) / len(window)
    load = sum(s.load for s in window) / len(window)
    return load / latency if latency > 0 else float("inf")


def limit_for(concurrency: object) -> Limit:
    """The limit of a batch: ``"auto"`` (adaptive), or a fixed int >= 1."""
    if concurrency == "auto":
        return AdaptiveLimit()
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidArgumentError(
            "concurrency", f"expected \"auto\" or an int >= 1, got {concurrency!r}"
        )
    return FixedLimit(concurrency)
