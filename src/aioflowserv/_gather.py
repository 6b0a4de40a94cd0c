"""Concurrent calls, bounded, whose first failure is raised as itself.

anyio's task groups wrap errors in an ``ExceptionGroup``; callers of the SDK
expect the :class:`FlowservError` itself, so the first error cancels the other
calls and is raised unwrapped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import anyio

__all__ = ["gather"]

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
