"""Test support around :class:`aioflowserv.testing.FakeFlowserv`: virtual clocks and fixtures.

:class:`VirtualTimeLoop` and :func:`virtual_clock_backend` give asyncio the
same auto-jumping virtual clock that trio's ``MockClock`` gives trio: time
advances only when every task waits, so tests with intervals and deadlines
run instantly and deterministically.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import AsyncIterator
from typing import Any

import pytest

import aioflowserv as afs
from aioflowserv.testing import BASE_URL, SLEEPER_PARAMETERS, TOKEN, FakeFlowserv
from aioflowserv.testing._fake import ACTIVE

__all__ = [
    "ACTIVE", "BASE_URL", "SLEEPER_PARAMETERS", "TOKEN", "FakeFlowserv", "VirtualTimeLoop",
    "client_for", "virtual_clock_backend",
]


# -- virtual time --------------------------------------------------------------------------


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


# -- fixtures (import them into a test module by these names) ---------------------------------


FIXED = {"poll_interval": 0.1, "max_interval": 0.1}
"""Wait options for ticks of exactly 0.1 s: no growth, so listing times line up across groups."""


def client_for(fake: FakeFlowserv, **options: Any) -> afs.AsyncFlowserv:
    """An AsyncFlowserv on the fake, logged in, without HTTP-level retries (unless given)."""
    options.setdefault("retries", 0)
    return afs.AsyncFlowserv(BASE_URL, token=fake.token, transport=fake, **options)


@pytest.fixture(name="anyio_backend", params=["asyncio", "trio"])
def virtual_clock_backends(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """Run each anyio test twice, under asyncio and trio, on a virtual clock."""
    return virtual_clock_backend(request.param)


@pytest.fixture(name="fake")
def fake_server() -> FakeFlowserv:
    """A fresh fake flowServ on anyio's (virtual) clock."""
    return FakeFlowserv()


@pytest.fixture(name="sdk")
async def sdk_client(fake: FakeFlowserv) -> AsyncIterator[afs.AsyncFlowserv]:
    """An AsyncFlowserv on ``fake``, without HTTP-level retries: the watcher sees every fault."""
    async with client_for(fake) as client:
        yield client
