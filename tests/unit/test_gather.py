"""Concurrent calls (``_gather``): results in input order, a bounded number in flight.

:func:`gather` raises the first failure as itself (no ``ExceptionGroup``) and
cancels the calls still running; :func:`gather_outcomes` lets every call
finish and returns each one's result or error. The calls sleep on the suite's
virtual clock (asyncio and trio), so "first" and "still running" are exact.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import pytest

from aioflowserv._gather import gather, gather_outcomes

pytestmark = pytest.mark.anyio


class Calls:
    """Calls that sleep a given time, then return a value or raise; it notes what happened."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self.finished: list[str] = []
        self.cancelled: list[str] = []

    def call(
        self, name: str, seconds: float = 1.0, error: Exception | None = None
    ) -> Callable[[], Awaitable[str]]:
        async def run() -> str:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await anyio.sleep(seconds)
            except anyio.get_cancelled_exc_class():
                self.cancelled.append(name)
                raise
            finally:
                self.in_flight -= 1
            self.finished.append(name)
            if error is not None:
                raise error
            return name

        return run


async def test_results_come_in_input_order_whatever_order_the_calls_end_in() -> None:
    calls = Calls()
    results = await gather([calls.call("slow", 3), calls.call("quick", 1), calls.call("mid", 2)])
    assert results == ["slow", "quick", "mid"]
    assert calls.finished == ["quick", "mid", "slow"]


async def test_the_first_failure_is_raised_as_itself_and_cancels_the_rest() -> None:
    calls = Calls()
    first, second = LookupError("first"), ValueError("second")
    with pytest.raises(LookupError) as caught:
        await gather([
            calls.call("long", 10),
            calls.call("fails first", 1, first),
            calls.call("fails later", 2, second),
            calls.call("done before", 0.5),
        ])
    assert caught.value is first
    assert calls.finished == ["done before", "fails first"]
    assert sorted(calls.cancelled) == ["fails later", "long"]


async def test_at_most_limit_calls_are_in_flight_and_the_limit_is_used() -> None:
    calls = Calls()
    results = await gather([calls.call(f"c{i}", 1 + i % 3) for i in range(10)], limit=3)
    assert results == [f"c{i}" for i in range(10)]
    assert calls.max_in_flight == 3


async def test_outcomes_keep_going_after_a_failure_in_input_order() -> None:
    calls = Calls()
    error = RuntimeError("boom")
    outcomes = await gather_outcomes(
        [calls.call("a", 3), calls.call("b", 1, error), calls.call("c", 2)]
    )
    assert outcomes == ["a", error, "c"]
    assert outcomes[1] is error
    assert calls.finished == ["b", "c", "a"]
    assert calls.cancelled == []


async def test_outcomes_respect_the_limit_too() -> None:
    calls = Calls()
    outcomes = await gather_outcomes(
        [calls.call(f"c{i}", 1, KeyError(i) if i % 2 else None) for i in range(7)], limit=2
    )
    assert [o if isinstance(o, str) else o.args[0] for o in outcomes] == [
        "c0", 1, "c2", 3, "c4", 5, "c6",
    ]
    assert calls.max_in_flight == 2


async def test_no_calls_give_no_results() -> None:
    assert await gather([]) == []
    assert await gather_outcomes([]) == []


async def test_a_single_call_gives_its_result() -> None:
    calls = Calls()
    assert await gather([calls.call("only")]) == ["only"]
    assert await gather_outcomes([calls.call("only")]) == ["only"]


async def test_a_single_failing_call_raises_or_returns_its_error_as_itself() -> None:
    calls = Calls()
    error = ValueError("alone")
    with pytest.raises(ValueError, match="alone") as caught:
        await gather([calls.call("only", error=error)])
    assert caught.value is error
    assert await gather_outcomes([calls.call("only", error=error)]) == [error]


async def test_cancelling_the_caller_cancels_every_call() -> None:
    calls = Calls()
    with anyio.move_on_after(1.5):
        await gather([calls.call("quick", 1), calls.call("a", 5), calls.call("b", 5)])
    assert calls.finished == ["quick"]
    assert sorted(calls.cancelled) == ["a", "b"]
    with anyio.move_on_after(1.5):
        await gather_outcomes([calls.call("c", 5), calls.call("d", 5)])
    assert sorted(calls.cancelled) == ["a", "b", "c", "d"]
