"""Concurrent calls, bounded, whose first failure is raised as itself.

anyio's task groups wrap errors in an ``ExceptionGroup``; callers of the SDK
expect the :class:`FlowservError` itself, so the first error cancels the other
calls and is raised unwrapped (:func:`gather`). Where one failure must not
stop the others, :func:`gather_outcomes` returns each call's result or error.
:class:`Background` holds the few jobs that must go on after their caller was
cancelled, until the client closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import anyio
import anyio.abc

logger = logging.getLogger("aioflowserv")

__all__ = ["Background", "gather", "gather_outcomes"]

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


class Background:
    """Work that outlives the call that started it, owned by the client that closes it.

    A run start whose caller was cancelled (natively, on asyncio) before its
    answer came is resolved here. The jobs run in one task group, hosted by a
    task of their own that exists only while there are jobs; :meth:`aclose`
    waits for that task, and so for every job, by structure. A job must not
    raise (its failures are its own to report).
    """

    def __init__(self) -> None:
        self._group: anyio.abc.TaskGroup | None = None
        self._queued: list[Callable[[], Awaitable[None]]] = []
        self._host: asyncio.Task[None] | None = None
        self._running = 0
        self._settled: anyio.Event | None = None

    def start_soon(self, job: Callable[[], Awaitable[None]]) -> None:
        """Start ``job`` (asyncio only: on trio, cancel scopes make it unnecessary)."""
        if self._group is not None:
            self._running += 1
            self._group.start_soon(self._run, job)
            return
        self._queued.append(job)
        if self._host is None:
            self._host = asyncio.get_running_loop().create_task(self._host_jobs())

    async def _host_jobs(self) -> None:
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                while self._queued or self._running:
                    while self._queued:
                        self._running += 1
                        group.start_soon(self._run, self._queued.pop(0))
                    self._settled = anyio.Event()
                    await self._settled.wait()
                self._group = None  # no job left: a new one starts a new host
        finally:
            self._group = None
            self._host = None
            if self._queued:  # a job came while the last host was ending
                self._host = asyncio.get_running_loop().create_task(self._host_jobs())

    async def _run(self, job: Callable[[], Awaitable[None]]) -> None:
        try:
            await job()
        except Exception:  # a bug: report it, and let the other jobs go on
            logger.exception("a background job of the aioflowserv client failed")
        finally:
            self._running -= 1
            if not self._running and self._settled is not None:
                self._settled.set()

    async def aclose(self) -> None:
        """Wait until every job ended."""
        while self._host is not None:
            await asyncio.shield(self._host)
