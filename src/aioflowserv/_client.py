"""AsyncFlowserv: a client of one flowServ server, composed of the layers below.

A client is a :class:`Session` (HTTP, the REST routes, the submitter and the
watcher) behind a public face: the routes are handed through as they are,
run starts and uploads go through the submitter, waits through the watcher.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

import attrs

from ._api import FlowservAPI
from ._arguments import FileArgument, FileLike, file_source
from ._config import ClientOptions, Settings, Unpack, resolve_token
from ._errors import ClientClosedError
from ._gather import gather
from ._models import Parameter, Run, RunInfo, UploadedFile
from ._submit import Submitter
from ._transport import HTTPClient
from ._watch import RunRef, WaitArgs, Watcher
from ._workflow import AsyncWorkflow

__all__ = ["AsyncFlowserv", "RunRef", "Session"]

P = ParamSpec("P")
T = TypeVar("T")


@attrs.frozen
class Session:
    """What one client is made of, bottom up: HTTP, the routes, submitting and watching."""

    http: HTTPClient
    api: FlowservAPI
    submitter: Submitter
    watcher: Watcher

    @classmethod
    def open(cls, settings: Settings, options: ClientOptions, token: str | None) -> Session:
        """Build the layers for checked settings (``options`` gives the transport)."""
        http = HTTPClient(settings, token, options.get("transport"))
        api = FlowservAPI(http)
        return cls(http, api, Submitter(api), Watcher(api, settings))

    async def aclose(self) -> None:
        """End the waits in progress with :class:`ClientClosedError`; close the connections.

        Run starts still being resolved in the background (their callers were
        cancelled) are finished first.
        """
        self.watcher.close(ClientClosedError("the client was closed while waiting"))
        await self.submitter.aclose()
        await self.http.aclose()


def _route(
    method: Callable[Concatenate[FlowservAPI, P], Awaitable[T]],
) -> Callable[Concatenate[AsyncFlowserv, P], Awaitable[T]]:
    """A client method that is one REST route as it is (same signature and docstring)."""

    async def call(self: AsyncFlowserv, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await method(self._session.api, *args, **kwargs)

    functools.update_wrapper(call, method)  # the route's name, docstring and signature
    return call


class AsyncFlowserv:
    """An async client of one flowServ server.

    ``url`` is the API base URL including its path (for example
    ``http://127.0.0.1:5005/flowserv/api/v1``) and ``token`` an API token; both
    fall back to flowServ's environment variables (``FLOWSERV_URL`` or
    ``FLOWSERV_API_PROTOCOL/HOST/PORT/PATH``, and ``FLOWSERV_ACCESS_TOKEN``).
    The keyword options (:class:`ClientOptions`) are ``timeout`` (seconds
    each phase of each request may take), ``retries`` (a count or a
    :class:`RetryPolicy` for idempotent requests), ``transport`` (an
    ``httpx.AsyncBaseTransport`` for tests or custom networking),
    ``auth_header`` (flowServ's ``api_key``), ``verify`` (TLS), and the
    default ``poll_interval`` and ``max_interval`` of waits.

    Use it as an async context manager, or call :meth:`aclose` when done.
    """

    def __init__(
        self, url: str | None = None, token: str | None = None, **options: Unpack[ClientOptions]
    ) -> None:
        settings = Settings.create(url, type(self).__name__, **options)
        self._session = Session.open(settings, options, resolve_token(token))

    def __repr__(self) -> str:
        state = "closed" if self.is_closed else "open"
        logged = "with token" if self.token else "no token"
        return f"<AsyncFlowserv {self.url} ({state}, {logged})>"

    @property
    def url(self) -> str:
        """The API base URL."""
        return self.settings.url

    @property
    def settings(self) -> Settings:
        """The client's settings (the token is not part of them)."""
        return self._session.http.settings

    @property
    def poll_interval(self) -> float:
        """Seconds before a wait's first poll, unless the wait says otherwise."""
        return self.settings.poll_interval

    @property
    def max_interval(self) -> float:
        """The most seconds between a wait's polls, unless the wait says otherwise."""
        return self.settings.max_interval

    @property
    def token(self) -> str | None:
        """The API token sent with each request, or None."""
        return self._session.http.token

    @token.setter
    def token(self, value: str | None) -> None:
        self._session.http.token = value

    @property
    def is_closed(self) -> bool:
        """True once the client was closed."""
        return self._session.http.closed

    async def __aenter__(self) -> AsyncFlowserv:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections. Waits still in progress fail with ClientClosedError."""
        await self._session.aclose()

    # -- service and users -------------------------------------------------

    service_info = _route(FlowservAPI.service_info)
    register_user = _route(FlowservAPI.register_user)
    activate_user = _route(FlowservAPI.activate_user)
    whoami = _route(FlowservAPI.whoami)

    async def login(self, username: str, password: str) -> str:
        """Log in, keep the token on this client, and return it.

        flowServ keeps one token per user: logging in again returns the same
        token, and a logout ends every session of that user.
        """
        self.token = (await self._session.api.login(username, password)).token
        return self.token

    async def logout(self) -> None:
        """End the session on the server (for every client of this user) and forget the token."""
        await self._session.api.logout()
        self.token = None

    # -- workflows and groups ----------------------------------------------

    list_workflows = _route(FlowservAPI.list_workflows)
    get_workflow = _route(FlowservAPI.get_workflow)
    create_group = _route(FlowservAPI.create_group)
    get_group = _route(FlowservAPI.get_group)
    list_groups = _route(FlowservAPI.list_groups)
    update_group = _route(FlowservAPI.update_group)
    delete_group = _route(FlowservAPI.delete_group)

    async def workflow(self, workflow_id: str, group_id: str) -> AsyncWorkflow:
        """An :class:`AsyncWorkflow` for one group of a workflow, with its metadata loaded."""
        return await AsyncWorkflow.load(self, self._session, workflow_id, group_id)

    # -- uploads -------------------------------------------------------------

    async def upload_file(
        self, group_id: str, file: FileLike | FileArgument, *, filename: str | None = None
    ) -> UploadedFile:
        """Upload a file (a path, bytes or an open file) to a group.

        An upload that may have reached the server is never sent twice: if no
        answer comes, :class:`SubmissionUncertainError` is raised.
        """
        source = file_source(Parameter(name="file", dtype="file"), file)
        if filename is not None:
            source.filename = filename
        return await self._session.submitter.upload(group_id, source)

    list_files = _route(FlowservAPI.list_files)
    delete_file = _route(FlowservAPI.delete_file)
    download_file = _route(FlowservAPI.download_file)

    # -- runs ----------------------------------------------------------------

    async def list_runs(self, group_id: str) -> list[RunInfo]:
        """Id, state and creation time of every run of a group, oldest first."""
        return (await self._session.api.list_runs(group_id)).infos()

    get_run = _route(FlowservAPI.get_run)

    async def get_runs(self, run_ids: Iterable[str]) -> list[Run]:
        """The current snapshots of several runs, fetched concurrently, in the order given.

        The first failure (an unknown run, say) is raised as itself.
        """
        api = self._session.api
        return await gather([functools.partial(api.get_run, run_id) for run_id in run_ids])

    async def start_run(self, group_id: str, arguments: list[dict[str, Any]]) -> Run:
        """Start a run from arguments in wire form (``[{"name", "value"}, ...]``).

        Most code calls :meth:`AsyncWorkflow.start_run`, which validates the
        arguments and uploads files first. The start is never sent twice: if
        it may have reached the server and no usable answer came, the group's
        runs are searched for a run created after the request with exactly
        these arguments; if exactly one matches it is returned, otherwise
        :class:`SubmissionUncertainError` is raised.
        """
        return await self._session.submitter.start(group_id, arguments)

    cancel_run = _route(FlowservAPI.cancel_run)
    delete_run = _route(FlowservAPI.delete_run)
    download_run_file = _route(FlowservAPI.download_run_file)
    download_run_archive = _route(FlowservAPI.download_run_archive)

    # -- watching --------------------------------------------------------------

    async def wait(
        self, run: RunRef, timeout: float | None = None, **options: Unpack[WaitArgs]
    ) -> Run:
        """Wait until a run is no longer active and return its final snapshot.

        See :meth:`AsyncWorkflow.wait`. A bare run id is looked up once to
        learn its group.
        """
        (result,) = await self.wait_all([run], timeout, **options)
        return result

    async def wait_all(
        self,
        runs: Iterable[RunRef],
        timeout: float | None = None,
        *,
        group_id: str | None = None,
        **options: Unpack[WaitArgs],
    ) -> list[Run]:
        """Wait until all runs are final; return them in input order.

        ``group_id`` is the group of the bare run ids (each is looked up once
        when it is not given). Options as for :meth:`AsyncWorkflow.wait`.
        """
        watcher = self._session.watcher
        return await watcher.wait_all(runs, watcher.options(timeout, **options), group_id=group_id)

    async def as_completed(
        self,
        runs: Iterable[RunRef],
        timeout: float | None = None,
        *,
        group_id: str | None = None,
        **options: Unpack[WaitArgs],
    ) -> AsyncGenerator[Run, None]:
        """Yield runs as they end (final snapshots), in completion order.

        With ``timeout``, :class:`RunWaitTimeout` is raised when the deadline
        passes with runs still active; the runs are left alone on the server.
        """
        watcher = self._session.watcher
        stream = watcher.as_completed(runs, watcher.options(timeout, **options), group_id=group_id)
        try:
            async for run in stream:
                yield run
        finally:
            await stream.aclose()
