"""The synchronous facade: Flowserv, Workflow and SyncFileHandle over one blocking portal.

Each sync client starts anyio's blocking portal (an event loop in a thread of
its own); the ``AsyncFlowserv`` lives in that loop and is never used from
another. Every method forwards to the async one through the portal (one
generic forwarder, so the signatures and docstrings are the async ones), so
it also works from code that already runs an event loop (a Jupyter cell).
Ctrl-C cancels the call in flight and returns at once. After ``os.fork()``
the child builds a new portal and client on first use. Callbacks (``on_change``)
run in the portal's thread: a sync call from there raises
:class:`BlockingCallError`, which says what to do instead; like any exception of
a callback, it ends the call the callback was given to and is raised by that
call, to the caller (see :mod:`aioflowserv._callback`).

The sync classes are derived from the async ones: when a class is made, every
public member of its async twin that it does not define itself becomes a
blocking method (a coroutine), a method returning a plain iterator (an async
iterator), one returning a :class:`SyncFileHandle` (a :class:`FileHandle`), or
a property read (and set) through. Adding a member to ``AsyncFlowserv`` or
``AsyncWorkflow`` therefore needs nothing here at run time; type checkers,
which cannot derive a sync signature from an async one, read the
``TYPE_CHECKING`` declarations, and ``tests/unit/test_sync_parity.py`` says
which line is missing there.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import os
import re
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from anyio.from_thread import BlockingPortal, start_blocking_portal

from ._client import AsyncFlowserv
from ._config import ClientOptions, Unpack
from ._display import register
from ._errors import BlockingCallError, ClientClosedError
from ._files import FileHandle
from ._presenter import Drawn
from ._views import workflow_table, workflow_text
from ._workflow import AsyncWorkflow

if TYPE_CHECKING:
    from ._config import Settings
    from ._models import WorkflowInfo
    from ._watch import WatchStats

__all__ = ["Flowserv", "SyncFileHandle", "Workflow"]

P = ParamSpec("P")
T = TypeVar("T")
A = TypeVar("A")

THREAD_NAME = "aioflowserv-portal"

_INHERITED: list[_Portal] = []
"""Portals of a parent process, in a forked child: kept so that nothing tries to close them."""


class _Portal:
    """anyio's blocking portal, owned by one sync client (in the process that made it)."""

    def __init__(self, backend: str) -> None:
        self._stack = contextlib.ExitStack()
        self.portal: BlockingPortal = self._stack.enter_context(start_blocking_portal(backend))
        self.pid = os.getpid()
        self.portal.call(lambda: setattr(threading.current_thread(), "name", THREAD_NAME))
        self.thread_id = self.portal.call(threading.get_ident)

    def call(self, func: Callable[[], Awaitable[T]]) -> T:
        """Run ``func`` in the loop and wait for it; Ctrl-C cancels it and returns at once."""
        if threading.get_ident() == self.thread_id:
            raise BlockingCallError(
                "a blocking call of the sync client was made from the client's own event-loop "
                "thread, where callbacks such as on_change run: it would wait for the loop it "
                "blocks. In the callback, only record what you need (append the run to a "
                "list, or put it on a queue.Queue) and call the client after the wait "
                "returns; or use AsyncFlowserv and await the calls."
            )
        future = self.portal.start_task_soon(func)
        try:
            return future.result()
        except BaseException:
            if not future.done():
                future.cancel()  # Ctrl-C: cancel the task in the loop, do not wait for it
            raise

    def close(self, client: AsyncFlowserv | None = None) -> None:
        """Close ``client`` in the loop, then stop the loop (only in the owning process)."""
        if os.getpid() != self.pid:
            return  # a forked child: the parent's loop thread does not exist here
        try:
            if client is not None:
                self.call(client.aclose)
        finally:
            self._stack.close()


class _Facade(Generic[A]):
    """A sync object whose methods run those of an async object in its client's portal.

    A subclass made with ``twin_of=AsyncClass`` gets a twin of every public
    member of ``AsyncClass`` that it does not define itself, except those
    named in ``without`` (members with no sync twin, such as ``aclose``).
    """

    _flowserv: Flowserv
    _no_twin: frozenset[str] = frozenset()

    def __init_subclass__(
        cls, *, twin_of: type | None = None, without: Iterable[str] = (), **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        cls._no_twin = cls._no_twin | frozenset(without)
        if twin_of is None:
            return
        own = set(dir(cls)) | cls._no_twin  # defined here (or inherited): kept as it is
        for name in _public_members(twin_of):
            if name not in own:
                setattr(cls, name, _twin_of(twin_of, name))

    def _target(self) -> A:
        """The async object behind this facade (for this process: see :meth:`Flowserv._here`)."""
        raise NotImplementedError

    def _call(self, func: Callable[[A], Awaitable[T]]) -> T:
        portal = self._flowserv._here()
        target = self._target()
        return portal.call(lambda: func(target))

    def _iterate(self, func: Callable[[A], AsyncIterator[T]]) -> Iterator[T]:
        """Step through an async iterator in the portal, one blocking call per item."""
        portal = self._flowserv._here()
        iterator = func(self._target())  # made here, first run in the portal's loop

        async def step() -> tuple[bool, T | None]:
            try:
                return True, await iterator.__anext__()
            except StopAsyncIteration:
                return False, None

        try:
            while True:
                more, item = self._flowserv._here().call(step)
                if not more:
                    return
                yield item  # type: ignore[misc]
        finally:
            if not self._flowserv.is_closed:
                portal.call(iterator.aclose)  # type: ignore[attr-defined]


def _binder(method: Callable[..., Any]) -> Callable[..., None]:
    """Check a call's arguments against ``method`` in the caller's thread.

    A missing or unknown argument then raises a ``TypeError`` that names the
    sync method called (``Workflow.start_run()``), not the async one behind it.
    """
    signature = inspect.signature(method)

    def bind(facade: _Facade[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            signature.bind(facade, *args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{type(facade).__name__}.{method.__name__}(): {exc}") from None

    return bind


def _sync(
    method: Callable[Concatenate[A, P], Awaitable[T]],
) -> Callable[Concatenate[_Facade[A], P], T]:
    """A blocking method that runs ``method`` of the async object in the portal."""
    bind = _binder(method)

    def call(self: _Facade[A], /, *args: P.args, **kwargs: P.kwargs) -> T:
        bind(self, args, kwargs)
        return self._call(lambda target: method(target, *args, **kwargs))

    functools.update_wrapper(call, method)  # the async method's name, docstring and signature
    return call


def _sync_iter(
    method: Callable[Concatenate[A, P], AsyncIterator[T]],
) -> Callable[Concatenate[_Facade[A], P], Iterator[T]]:
    """A method returning a plain iterator over ``method``'s async iterator."""
    bind = _binder(method)

    def call(self: _Facade[A], /, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        bind(self, args, kwargs)
        return self._iterate(lambda target: method(target, *args, **kwargs))

    functools.update_wrapper(call, method)  # the async method's name, docstring and signature
    return call


def _sync_file(
    method: Callable[Concatenate[A, P], Awaitable[FileHandle]],
) -> Callable[Concatenate[_Facade[A], P], SyncFileHandle]:
    """A blocking download method returning a :class:`SyncFileHandle`."""
    bind = _binder(method)

    def call(self: _Facade[A], /, *args: P.args, **kwargs: P.kwargs) -> SyncFileHandle:
        bind(self, args, kwargs)
        handle = self._call(lambda target: method(target, *args, **kwargs))
        return SyncFileHandle(self._flowserv, handle)

    functools.update_wrapper(call, method)  # the async method's name, docstring and signature
    return call


@overload
def _twin(  # FileHandle first: it is an Awaitable[T] too
    method: Callable[Concatenate[A, P], Awaitable[FileHandle]],
) -> Callable[Concatenate[_Facade[A], P], SyncFileHandle]: ...


@overload
def _twin(
    method: Callable[Concatenate[A, P], AsyncIterator[T]],
) -> Callable[Concatenate[_Facade[A], P], Iterator[T]]: ...


@overload
def _twin(
    method: Callable[Concatenate[A, P], Awaitable[T]],
) -> Callable[Concatenate[_Facade[A], P], T]: ...


def _twin(method: Callable[..., Any]) -> Callable[..., Any]:
    """The sync twin of an async method: blocking, a plain iterator, or a SyncFileHandle.

    The kind follows the method: an async generator function, or one
    annotated to return an async iterator, gets a plain iterator; a coroutine
    annotated to return a :class:`FileHandle` a :class:`SyncFileHandle`;
    any other coroutine blocks until it returns.
    """
    annotation = inspect.get_annotations(method).get("return", "")
    returns = annotation if isinstance(annotation, str) else getattr(
        annotation, "__name__", str(annotation)
    )
    if inspect.isasyncgenfunction(method) or _ASYNC_ITERATOR.match(returns):
        return _sync_iter(method)
    if not inspect.iscoroutinefunction(method):
        raise TypeError(f"{method.__qualname__} is neither a coroutine nor an async iterator")
    if returns == FileHandle.__name__:
        return _sync_file(method)
    return _sync(method)


_ASYNC_ITERATOR = re.compile(r"^(collections\.abc\.|typing\.)?Async(Generator|Iterator|Iterable)\b")
"""Return annotations of async iterator methods (as written: the async modules postpone them)."""


def _public_members(cls: type) -> list[str]:
    """The public members of a class (its own and inherited, ``object``'s aside), sorted."""
    return sorted(
        name for name in dir(cls) if not name.startswith("_") and not hasattr(object, name)
    )


def _twin_of(owner: type, name: str) -> Any:
    """The sync twin of ``owner``'s public member ``name`` (a method or a property)."""
    member = inspect.getattr_static(owner, name)
    if isinstance(member, property):
        return _Same[Any](owner, name, settable=member.fset is not None)
    if inspect.isfunction(member):
        return _twin(member)
    raise TypeError(
        f"{owner.__name__}.{name} is neither a method nor a property: give its sync facade "
        f"an explicit twin, or name it in the facade's without="
    )


class _Same(Generic[T]):
    """An attribute of the async object behind a facade, read (and set) as it is."""

    def __init__(self, owner: type, name: str, *, settable: bool = False) -> None:
        self._name = name
        self._settable = settable
        self.__doc__ = getattr(owner, name).__doc__

    @overload
    def __get__(self, instance: None, owner: type) -> _Same[T]: ...

    @overload
    def __get__(self, instance: _Facade[Any], owner: type) -> T: ...

    def __get__(self, instance: _Facade[Any] | None, owner: type) -> T | _Same[T]:
        if instance is None:
            return self
        value: T = getattr(instance._target(), self._name)
        return value

    def __set__(self, instance: _Facade[Any], value: T) -> None:
        if not self._settable:
            raise AttributeError(f"{self._name} is read-only")
        setattr(instance._target(), self._name, value)


class Flowserv(_Facade[AsyncFlowserv], twin_of=AsyncFlowserv, without=("aclose",)):
    """The synchronous client: the same methods as :class:`AsyncFlowserv`, plain return values.

    Use it as a context manager, or call :meth:`close` when done (that stops
    its event-loop thread). The arguments are those of :class:`AsyncFlowserv`
    (``transport`` is an ``httpx.AsyncBaseTransport`` here too), plus the
    ``backend`` of the event loop: ``"asyncio"`` or ``"trio"``.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        backend: str = "asyncio",
        **options: Unpack[ClientOptions],
    ) -> None:
        self._flowserv = self
        self._backend = backend
        self._closed = False
        self._lock = threading.Lock()
        self._make = functools.partial(AsyncFlowserv, url, **options)
        self._start(token)

    def _start(self, token: str | None) -> None:
        async def create() -> AsyncFlowserv:
            return self._make(token)

        portal = _Portal(self._backend)
        try:
            client = portal.call(create)
        except BaseException:
            portal.close()
            raise
        self._portal, self._client = portal, client
        self._finalizer = weakref.finalize(self, portal.close, client)

    def _here(self) -> _Portal:
        """The portal of the calling process: a forked child builds its own (and its client)."""
        if self._closed:
            raise ClientClosedError("this client is closed; create a new one")
        if self._portal.pid != os.getpid():
            with self._lock:
                if self._portal.pid != os.getpid():
                    # The parent's portal is kept, never closed: its thread does not
                    # exist here, and closing it would wait for that thread forever.
                    self._finalizer.detach()
                    _INHERITED.append(self._portal)
                    self._start(self._client.token)
        return self._portal

    def _target(self) -> AsyncFlowserv:
        return self._client

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
    def is_closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    @property
    def async_client(self) -> AsyncFlowserv:
        """The async client behind this facade (lives in the facade's own event loop)."""
        return self._client

    def workflow(self, workflow_id: str, group_id: str, *, refresh: bool = False) -> Workflow:
        """A :class:`Workflow` for one group of a workflow, with its metadata loaded.

        Kept by the client as :meth:`AsyncFlowserv.workflow` keeps it: a pair
        seen before costs no request, unless ``refresh=True``.
        """
        return Workflow(workflow_id, group_id, service=self, refresh=refresh)

    if TYPE_CHECKING:  # the twins made from AsyncFlowserv, as type checkers are to see them
        url = _Same[str](AsyncFlowserv, "url")
        settings = _Same[Settings](AsyncFlowserv, "settings")
        watching = _Same[WatchStats](AsyncFlowserv, "watching")
        poll_interval = _Same[float](AsyncFlowserv, "poll_interval")
        max_interval = _Same[float](AsyncFlowserv, "max_interval")
        token = _Same[str | None](AsyncFlowserv, "token", settable=True)

        service_info = _twin(AsyncFlowserv.service_info)
        register_user = _twin(AsyncFlowserv.register_user)
        activate_user = _twin(AsyncFlowserv.activate_user)
        login = _twin(AsyncFlowserv.login)
        logout = _twin(AsyncFlowserv.logout)
        whoami = _twin(AsyncFlowserv.whoami)
        list_workflows = _twin(AsyncFlowserv.list_workflows)
        get_workflow = _twin(AsyncFlowserv.get_workflow)
        create_group = _twin(AsyncFlowserv.create_group)
        get_group = _twin(AsyncFlowserv.get_group)
        list_groups = _twin(AsyncFlowserv.list_groups)
        update_group = _twin(AsyncFlowserv.update_group)
        delete_group = _twin(AsyncFlowserv.delete_group)
        leaderboard = _twin(AsyncFlowserv.leaderboard)
        get_postproc_file = _twin(AsyncFlowserv.get_postproc_file)
        upload_file = _twin(AsyncFlowserv.upload_file)
        list_files = _twin(AsyncFlowserv.list_files)
        delete_file = _twin(AsyncFlowserv.delete_file)
        download_file = _twin(AsyncFlowserv.download_file)
        list_runs = _twin(AsyncFlowserv.list_runs)
        get_run = _twin(AsyncFlowserv.get_run)
        get_runs = _twin(AsyncFlowserv.get_runs)
        start_run = _twin(AsyncFlowserv.start_run)
        rerun = _twin(AsyncFlowserv.rerun)
        cancel_run = _twin(AsyncFlowserv.cancel_run)
        cancel_runs = _twin(AsyncFlowserv.cancel_runs)
        delete_run = _twin(AsyncFlowserv.delete_run)
        download_run_file = _twin(AsyncFlowserv.download_run_file)
        download_run_archive = _twin(AsyncFlowserv.download_run_archive)
        download_results = _twin(AsyncFlowserv.download_results)
        wait = _twin(AsyncFlowserv.wait)
        wait_all = _twin(AsyncFlowserv.wait_all)
        as_completed = _twin(AsyncFlowserv.as_completed)
        watch = _twin(AsyncFlowserv.watch)



class SyncFileHandle(_Facade[FileHandle]):
    """A download, for sync code.

    ``name``, ``mime_type``, ``size``, and blocking :meth:`read`, :meth:`save`,
    :meth:`extract`, :meth:`stream` and :meth:`open`.
    """

    def __init__(self, service: Flowserv, handle: FileHandle) -> None:
        self._flowserv = service
        self._handle = handle
        self.name = handle.name
        self.mime_type = handle.mime_type
        self.size = handle.size

    def __repr__(self) -> str:
        return f"SyncFileHandle(name={self.name!r}, mime_type={self.mime_type!r})"

    def _target(self) -> FileHandle:
        return self._handle

    read = _twin(FileHandle.read)
    save = _twin(FileHandle.save)
    extract = _twin(FileHandle.extract)
    stream = _twin(FileHandle.stream)

    def open(self) -> io.BytesIO:
        """The content as a binary file object (flowServ's ``FileHandle.open()``)."""
        return io.BytesIO(self.read())


class Workflow(Drawn, _Facade[AsyncWorkflow], twin_of=AsyncWorkflow, without=("load",)):
    """flowServ's ``Workflow`` client, synchronous, for one group of a workflow.

    ``Workflow(workflow_id, group_id, service=fs)`` (as in flowServ) or
    ``fs.workflow(workflow_id, group_id)``; ``service`` is a :class:`Flowserv`.
    Same methods as :class:`AsyncWorkflow`, returning plain values.
    """

    def __init__(
        self, workflow_id: str, group_id: str, service: Flowserv, *, refresh: bool = False
    ) -> None:
        if not isinstance(service, Flowserv):
            raise TypeError(f"service must be a Flowserv client, not {type(service).__name__}")
        self._flowserv = service
        self._async = service._here().call(
            lambda: service.async_client.workflow(workflow_id, group_id, refresh=refresh)
        )

    def _target(self) -> AsyncWorkflow:
        client = self._flowserv.async_client
        if self._async.service is not client:  # the client was rebuilt after a fork
            old = self._async
            self._async = self._flowserv._here().call(
                lambda: client.workflow(old.identifier, old.group_id)
            )
        return self._async

    @property
    def service(self) -> Flowserv:
        """The client this workflow talks through."""
        return self._flowserv

    if TYPE_CHECKING:  # the twins made from AsyncWorkflow, as type checkers are to see them
        identifier = _Same[str](AsyncWorkflow, "identifier")
        group_id = _Same[str](AsyncWorkflow, "group_id")
        info = _Same[WorkflowInfo](AsyncWorkflow, "info")

        name = _twin(AsyncWorkflow.name)
        description = _twin(AsyncWorkflow.description)
        instructions = _twin(AsyncWorkflow.instructions)
        parameters = _twin(AsyncWorkflow.parameters)
        start_run = _twin(AsyncWorkflow.start_run)
        start_runs = _twin(AsyncWorkflow.start_runs)
        sweep = _twin(AsyncWorkflow.sweep)
        rerun = _twin(AsyncWorkflow.rerun)
        poll_run = _twin(AsyncWorkflow.poll_run)
        cancel_run = _twin(AsyncWorkflow.cancel_run)
        cancel_runs = _twin(AsyncWorkflow.cancel_runs)
        delete_run = _twin(AsyncWorkflow.delete_run)
        get_file = _twin(AsyncWorkflow.get_file)
        get_postproc_results = _twin(AsyncWorkflow.get_postproc_results)
        get_postproc_file = _twin(AsyncWorkflow.get_postproc_file)
        leaderboard = _twin(AsyncWorkflow.leaderboard)
        list_runs = _twin(AsyncWorkflow.list_runs)
        get_runs = _twin(AsyncWorkflow.get_runs)
        download_results = _twin(AsyncWorkflow.download_results)
        wait = _twin(AsyncWorkflow.wait)
        wait_all = _twin(AsyncWorkflow.wait_all)
        optimize = _twin(AsyncWorkflow.optimize)
        as_completed = _twin(AsyncWorkflow.as_completed)
        watch = _twin(AsyncWorkflow.watch)


register(Workflow, text=workflow_text, table=workflow_table)
