"""The synchronous facade: Flowserv and Workflow over one owned event-loop thread.

Each sync client starts one thread running an anyio event loop with a
blocking portal; the ``AsyncFlowserv`` lives in that loop and is never used
from another. Every method is a thin call of the async one through the portal,
so it also works from code that already runs an event loop (a Jupyter cell).
Ctrl-C cancels the call in flight and returns at once. After ``os.fork()``
the child builds a new thread and client on first use.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import anyio
import httpx
from anyio.from_thread import BlockingPortal

from ._client import AsyncFlowserv, RunRef
from ._config import DEFAULT_TIMEOUT, RetryPolicy
from ._errors import ClientClosedError
from ._files import FileHandle
from ._models import Run, WorkflowInfo
from ._parameters import FileArgument, FileLike
from ._watch import DEFAULT_MAX_INTERVAL, DEFAULT_POLL_INTERVAL, OnChange
from ._workflow import AsyncWorkflow

__all__ = ["Flowserv", "SyncFileHandle", "Workflow"]

P = ParamSpec("P")
T = TypeVar("T")


class _Loop:
    """One daemon thread running an event loop with a blocking portal."""

    def __init__(self, backend: str) -> None:
        ready: Future[BlockingPortal] = Future()

        async def serve() -> None:
            async with BlockingPortal() as portal:
                ready.set_result(portal)
                await portal.sleep_until_stopped()

        def run() -> None:
            try:
                anyio.run(serve, backend=backend)
            except BaseException as exc:  # pragma: no cover - the loop failed to start
                if not ready.done():
                    ready.set_exception(exc)

        self.pid = os.getpid()
        self.thread = threading.Thread(target=run, name="aioflowserv-portal", daemon=True)
        self.thread.start()
        self.portal = ready.result()

    def call(self, func: Callable[[], Awaitable[T]]) -> T:
        future = self.portal.start_task_soon(func)
        try:
            return future.result()
        except BaseException:
            if not future.done():
                future.cancel()  # Ctrl-C: cancel the task in the loop, do not wait for it
            raise

    def stop(self) -> None:
        if os.getpid() != self.pid or not self.thread.is_alive():
            return
        with contextlib.suppress(RuntimeError):  # already stopped
            self.portal.call(self.portal.stop, True)
        self.thread.join(timeout=5)


def _stop_loop(loop: _Loop, client: AsyncFlowserv | None) -> None:
    async def close() -> None:
        if client is not None:
            await client.aclose()

    if os.getpid() == loop.pid and loop.thread.is_alive():
        try:
            loop.call(close)
        finally:
            loop.stop()


def _forward(
    method: Callable[Concatenate[AsyncFlowserv, P], Awaitable[T]],
) -> Callable[Concatenate[Flowserv, P], T]:
    """A sync method that runs ``method`` of the async client in the portal."""

    def call(self: Flowserv, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._run(lambda client: method(client, *args, **kwargs))

    return cast("Callable[Concatenate[Flowserv, P], T]", functools.wraps(method)(call))


class Flowserv:
    """The synchronous client: the same methods as :class:`AsyncFlowserv`, plain return values.

    Use it as a context manager, or call :meth:`close` when done (that stops
    its event-loop thread). Arguments are those of :class:`AsyncFlowserv`;
    ``transport`` is an ``httpx.AsyncBaseTransport`` here too.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float | None = DEFAULT_TIMEOUT,
        retries: int | RetryPolicy = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        auth_header: str = "api_key",
        verify: bool = True,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_interval: float = DEFAULT_MAX_INTERVAL,
        backend: str = "asyncio",
    ) -> None:
        self._options: dict[str, Any] = {
            "url": url, "token": token, "timeout": timeout, "retries": retries,
            "transport": transport, "auth_header": auth_header, "verify": verify,
            "poll_interval": poll_interval, "max_interval": max_interval,
        }
        self._backend = backend
        self._closed = False
        self._lock = threading.Lock()
        self._generation = 0
        self._start(token)

    def _start(self, token: str | None) -> None:
        options = dict(self._options, token=token)

        async def create() -> AsyncFlowserv:
            return AsyncFlowserv(**options)

        loop = _Loop(self._backend)
        try:
            client = loop.call(create)
        except BaseException:
            loop.stop()
            raise
        self._loop, self._client = loop, client
        self._generation += 1
        self._finalizer = weakref.finalize(self, _stop_loop, loop, client)

    def _run(self, func: Callable[[AsyncFlowserv], Awaitable[T]]) -> T:
        if self._closed:
            raise ClientClosedError("this client is closed; create a new one")
        if self._loop.pid != os.getpid():
            with self._lock:
                if self._loop.pid != os.getpid():
                    # A forked child: the parent's loop thread does not exist here.
                    self._finalizer.detach()
                    self._start(self._client.token)
        client = self._client
        return self._loop.call(lambda: func(client))

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Flowserv {self._client.url} ({state})>"

    def __enter__(self) -> Flowserv:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections and stop the event-loop thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._finalizer()

    @property
    def url(self) -> str:
        """The API base URL."""
        return self._client.url

    @property
    def token(self) -> str | None:
        """The API token sent with each request, or None."""
        return self._client.token

    @token.setter
    def token(self, value: str | None) -> None:
        self._client.token = value

    @property
    def is_closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    @property
    def async_client(self) -> AsyncFlowserv:
        """The async client behind this facade (lives in the facade's own event loop)."""
        return self._client

    service_info = _forward(AsyncFlowserv.service_info)
    register_user = _forward(AsyncFlowserv.register_user)
    activate_user = _forward(AsyncFlowserv.activate_user)
    login = _forward(AsyncFlowserv.login)
    logout = _forward(AsyncFlowserv.logout)
    whoami = _forward(AsyncFlowserv.whoami)
    list_workflows = _forward(AsyncFlowserv.list_workflows)
    get_workflow = _forward(AsyncFlowserv.get_workflow)
    create_group = _forward(AsyncFlowserv.create_group)
    get_group = _forward(AsyncFlowserv.get_group)
    list_groups = _forward(AsyncFlowserv.list_groups)
    update_group = _forward(AsyncFlowserv.update_group)
    delete_group = _forward(AsyncFlowserv.delete_group)
    list_files = _forward(AsyncFlowserv.list_files)
    delete_file = _forward(AsyncFlowserv.delete_file)
    list_runs = _forward(AsyncFlowserv.list_runs)
    get_run = _forward(AsyncFlowserv.get_run)
    start_run = _forward(AsyncFlowserv.start_run)
    cancel_run = _forward(AsyncFlowserv.cancel_run)
    delete_run = _forward(AsyncFlowserv.delete_run)
    wait = _forward(AsyncFlowserv.wait)
    wait_all = _forward(AsyncFlowserv.wait_all)

    def upload_file(
        self, group_id: str, file: FileLike | FileArgument, *, filename: str | None = None
    ) -> Any:
        """Upload a file (a path, bytes or an open file) to a group."""
        return self._run(lambda c: c.upload_file(group_id, file, filename=filename))

    def download_file(self, group_id: str, file_id: str) -> SyncFileHandle:
        """Download an uploaded file."""
        return SyncFileHandle(self, self._run(lambda c: c.download_file(group_id, file_id)))

    def download_run_file(self, run_id: str, file_id: str) -> SyncFileHandle:
        """Download one result file of a run."""
        return SyncFileHandle(self, self._run(lambda c: c.download_run_file(run_id, file_id)))

    def download_run_archive(self, run_id: str) -> SyncFileHandle:
        """Download a successful run's result files as a ``.tar.gz`` archive."""
        return SyncFileHandle(self, self._run(lambda c: c.download_run_archive(run_id)))

    def workflow(self, workflow_id: str, group_id: str) -> Workflow:
        """A :class:`Workflow` for one group of a workflow, with its metadata loaded."""
        return Workflow(workflow_id, group_id, service=self)

    def as_completed(
        self,
        runs: Iterable[RunRef],
        timeout: float | None = None,
        *,
        poll_interval: float | None = None,
        max_interval: float | None = None,
        on_change: OnChange | None = None,
        group_id: str | None = None,
    ) -> Iterator[Run]:
        """Yield runs as they end, in completion order (see :meth:`AsyncFlowserv.as_completed`)."""
        runs = list(runs)
        return self._iterate(
            lambda c: c.as_completed(
                runs, timeout, poll_interval=poll_interval, max_interval=max_interval,
                on_change=on_change, group_id=group_id,
            )
        )

    def _iterate(self, start: Callable[[AsyncFlowserv], AsyncIterator[T]]) -> Iterator[T]:
        holder: list[AsyncIterator[T]] = []

        async def step() -> tuple[bool, T | None]:
            if not holder:
                holder.append(start(self._client))
            try:
                return True, await holder[0].__anext__()
            except StopAsyncIteration:
                return False, None

        async def close() -> None:
            if holder:
                await holder[0].aclose()  # type: ignore[attr-defined]

        try:
            while True:
                more, item = self._loop.call(step) if not self._closed else (False, None)
                if not more:
                    return
                yield item  # type: ignore[misc]
        finally:
            if not self._closed:
                self._loop.call(close)


class SyncFileHandle:
    """A download, for sync code.

    ``name``, ``mime_type``, ``size``, and blocking :meth:`read`, :meth:`save`,
    :meth:`extract`, :meth:`stream` and :meth:`open`.
    """

    def __init__(self, service: Flowserv, handle: FileHandle) -> None:
        self._service = service
        self._handle = handle
        self.name = handle.name
        self.mime_type = handle.mime_type
        self.size = handle.size

    def __repr__(self) -> str:
        return f"SyncFileHandle(name={self.name!r}, mime_type={self.mime_type!r})"

    def read(self) -> bytes:
        """Return the whole content."""
        return self._service._run(lambda _: self._handle.read())

    def open(self) -> io.BytesIO:
        """The content as a binary file object (flowServ's ``FileHandle.open()``)."""
        return io.BytesIO(self.read())

    def save(self, path: str | os.PathLike[str] = ".") -> Path:
        """Write the content to a file (see :meth:`FileHandle.save`)."""
        return self._service._run(lambda _: self._handle.save(path))

    def extract(self, directory: str | os.PathLike[str]) -> list[Path]:
        """Unpack an archive safely into ``directory`` (see :meth:`FileHandle.extract`)."""
        return self._service._run(lambda _: self._handle.extract(directory))

    def stream(self, chunk_size: int = 1 << 16) -> Iterator[bytes]:
        """Yield the content in chunks."""
        return self._service._iterate(lambda _: self._handle.stream(chunk_size))


def _forward_wf(
    method: Callable[Concatenate[AsyncWorkflow, P], Awaitable[T]],
) -> Callable[Concatenate[Workflow, P], T]:
    """A sync method that runs ``method`` of the async workflow in the portal."""

    def call(self: Workflow, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._run(lambda wf: method(wf, *args, **kwargs))

    return cast("Callable[Concatenate[Workflow, P], T]", functools.wraps(method)(call))


class Workflow:
    """flowServ's ``Workflow`` client, synchronous, for one group of a workflow.

    ``Workflow(workflow_id, group_id, service=fs)`` (as in flowServ) or
    ``fs.workflow(workflow_id, group_id)``; ``service`` is a :class:`Flowserv`.
    Same methods as :class:`AsyncWorkflow`, returning plain values.
    """

    def __init__(self, workflow_id: str, group_id: str, service: Flowserv) -> None:
        if not isinstance(service, Flowserv):
            raise TypeError(f"service must be a Flowserv client, not {type(service).__name__}")
        self._service = service
        self._async = service._run(lambda c: AsyncWorkflow.load(c, workflow_id, group_id))
        self._generation = service._generation

    def __repr__(self) -> str:
        return f"<Workflow {self.identifier!r} group={self.group_id!r}>"

    def _run(self, func: Callable[[AsyncWorkflow], Awaitable[T]]) -> T:
        def bound(client: AsyncFlowserv) -> Awaitable[T]:
            if self._generation != self._service._generation:  # rebuilt after a fork
                self._async = AsyncWorkflow(client, self._async.info, self._async._group)
                self._generation = self._service._generation
            return func(self._async)

        return self._service._run(bound)

    @property
    def identifier(self) -> str:
        """The workflow id."""
        return self._async.identifier

    @property
    def group_id(self) -> str:
        """The id of the group that runs are started in."""
        return self._async.group_id

    @property
    def service(self) -> Flowserv:
        """The client this workflow talks through."""
        return self._service

    @property
    def info(self) -> WorkflowInfo:
        """The workflow metadata loaded when this object was created."""
        return self._async.info

    name = _forward_wf(AsyncWorkflow.name)
    description = _forward_wf(AsyncWorkflow.description)
    instructions = _forward_wf(AsyncWorkflow.instructions)
    parameters = _forward_wf(AsyncWorkflow.parameters)
    start_run = _forward_wf(AsyncWorkflow.start_run)
    start_runs = _forward_wf(AsyncWorkflow.start_runs)
    poll_run = _forward_wf(AsyncWorkflow.poll_run)
    cancel_run = _forward_wf(AsyncWorkflow.cancel_run)
    delete_run = _forward_wf(AsyncWorkflow.delete_run)
    get_postproc_results = _forward_wf(AsyncWorkflow.get_postproc_results)
    list_runs = _forward_wf(AsyncWorkflow.list_runs)
    wait = _forward_wf(AsyncWorkflow.wait)
    wait_all = _forward_wf(AsyncWorkflow.wait_all)

    def get_file(self, run_id: str, file_id: str | None = None) -> SyncFileHandle:
        """A result file of a run, or, without ``file_id``, the run's result archive."""
        return SyncFileHandle(self._service, self._run(lambda wf: wf.get_file(run_id, file_id)))

    def as_completed(
        self,
        runs: Iterable[RunRef],
        timeout: float | None = None,
        *,
        poll_interval: float | None = None,
        max_interval: float | None = None,
        on_change: OnChange | None = None,
    ) -> Iterator[Run]:
        """Yield each run's final snapshot as it ends, in completion order."""
        return self._service.as_completed(
            runs, timeout, poll_interval=poll_interval, max_interval=max_interval,
            on_change=on_change, group_id=self.group_id,
        )

