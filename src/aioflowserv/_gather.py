"""Concurrent calls, bounded, whose first failure is raised as itself.

anyio's task groups wrap errors in an ``ExceptionGroup``; callers of the SDK
expect the :class:`FlowservError` itself, so the first error cancels the other
calls and is raised unwrapped (:func:`gather`). Where one failure must not
stop the others, :func:`gather_outcomes` returns each call's result or error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import anyio

__all__ = ["gather", "gather_outcomes"]

T = TypeVar("T")


async def gather(calls: Sequence[Callable[[], Awaitable[T]]], *, limit: int = 8) -> list[T]:
    """Run ``calls`` at most ``limit`` at a time; return their results in order."""
    results: list[T] = []
    if len(calls) == 1:
        return [await calls[0]()]
    slots: list[T | None] = [None] * len(calls)
    errors: list[Exception] = []
    limiter = anyio.CapacityLimiter(limit)

    async def run(index: int) -> None:
        async with limiter:
            try:
                slots[index] = await calls[index]()
            except Exception as exc:
                errors.append(exc)
                tg.cancel_scope.cancel()

    async with anyio.create_task_group() as tg:
        for index in range(len(calls)):
            tg.start_soon(run, index)
    if errors:
        raise errors[0]
    results.extend(slots)  # type: ignore[arg-type]
    return results


async def gather_outcomes(
    calls: Sequence[Callable[[], Awaitable[T]]], *, limit: int = 8
) -> list[T | Exception]:
    """Run ``calls`` at most ``limit`` at a time; each one's result or the error it raised.

    A failing call does not stop the others. Results are in the order of ``calls``.
    """
    outcomes: list[T | Exception | None] = [None] * len(calls)
    limiter = anyio.CapacityLimiter(limit)

    async def run(index: int) -> None:
        async with limiter:
            try:
                outcomes[index] = await calls[index]()
            except Exception as exc:
                outcomes[index] = exc

    if len(calls) == 1:
        await run(0)
    elif calls:
        async with anyio.create_task_group() as tg:
            for index in range(len(calls)):
                tg.start_soon(run, index)
    return outcomes  # type: ignore[return-value]
