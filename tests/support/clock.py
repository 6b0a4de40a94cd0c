"""Virtual clocks: tests with intervals and deadlines run instantly and deterministically.

:class:`VirtualTimeLoop` and :func:`virtual_clock_backend` give asyncio the
same auto-jumping virtual clock that trio's ``MockClock`` gives trio: time
advances only when every task waits. :func:`virtual_clock_backends` makes the
``anyio_backend`` fixture that runs each anyio test under both, on that clock.
"""

from __future__ import annotations

import asyncio
import selectors
from typing import Any

import pytest


class _JumpingSelector(selectors.DefaultSelector):
    """A selector that, instead of sleeping, moves its loop's virtual clock forward."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 1000.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # nothing scheduled: only real I/O can wake the loop
            return super().select(None)
        self.now += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose clock jumps ahead whenever every task is waiting.

    Like trio's ``MockClock(autojump_threshold=0)``: sleeps and timeouts take
    no real time, and the order of events is deterministic. Only for code
    that does no real I/O (the fake transport).
    """

    def __init__(self) -> None:
        self._jumping = _JumpingSelector()
        super().__init__(selector=self._jumping)

    def time(self) -> float:
        """The virtual time."""
        return self._jumping.now


def virtual_clock_backend(name: str) -> tuple[str, dict[str, Any]]:
    """The ``anyio_backend`` value that runs a test on a virtual clock under asyncio or trio."""
    if name == "trio":
        import trio.testing

        return "trio", {"clock": trio.testing.MockClock(autojump_threshold=0)}
    return "asyncio", {"loop_factory": VirtualTimeLoop}


def virtual_clock_backends() -> Any:
    """An ``anyio_backend`` fixture that runs each anyio test on a virtual clock, twice.

    Assign it in a conftest or a test module: ``anyio_backend = virtual_clock_backends()``.
    """

    @pytest.fixture(name="anyio_backend", params=["asyncio", "trio"])
    def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
        """Run each anyio test twice, under asyncio and trio, on a virtual clock."""
        return virtual_clock_backend(request.param)

    return anyio_backend
