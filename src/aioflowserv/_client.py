"""AsyncFlowserv: a client of one flowServ server, composed of the layers below.

A client is a :class:`~._runs.Session` (HTTP, the REST routes, submissions
and the watcher) behind a public face: routes are handed through as they are,
everything done with runs goes to the session's :class:`~._runs.Runs`, and
:meth:`AsyncFlowserv.workflow` makes the :class:`AsyncWorkflow` resources.
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar, overload

from ._api import FlowservAPI
from ._arguments import FileArgument, FileLike, file_source
from ._config import (
    CANCEL_CONCURRENCY,
    DOWNLOAD_CONCURRENCY,
    STREAM_GIVE_UP,
    ClientOptions,
    Settings,
    Unpack,
    check_id,
    resolve_origin,
)
from ._downloads import OnDownload, RunDownload
from ._files import FileHandle
from ._lifecycle import RunStates
from ._models import (
    Group,
    Leaderboard,
    Parameter,
    Run,
    RunInfo,
    RunList,
    UploadedFile,
    WorkflowInfo,
)
from ._results import OrderBy, WorkflowResults
from ._routes import Routes
from ._runs import Runs, Session
from ._watch import OnChange, RunRef, WaitArgs, WatchStats
from ._workflow import AsyncWorkflow

__all__ = ["AsyncFlowserv", "RunRef"]

P = ParamSpec("P")
T = TypeVar("T")


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
    ``http://127.0.0.1:5005/flowserv/api/v1``) and ``token`` an API token.
    Without them, they come from flowServ's environment variables
    (``FLOWSERV_URL`` or ``FLOWSERV_API_PROTOCOL/HOST/PORT/PATH``, and
    ``FLOWSERV_ACCESS_TOKEN``), then from what the ``aioflowserv`` command
    saved (``aioflowserv login``, ``aioflowserv server start``), in the
    order the README's Configuration section tabulates; ``profile`` picks a
    saved login by name. The keyword options (:class:`ClientOptions`) are
    ``timeout`` (seconds each phase of each request may take), ``retries``
    (a count or a :class:`RetryPolicy` for idempotent requests),
    ``transport`` (an ``httpx.AsyncBaseTransport`` for tests or custom
    networking), ``auth_header`` (flowServ's ``api_key``), ``verify`` (TLS),
    the default ``poll_interval`` and ``max_interval`` of waits, and
    ``profile``.

    Use it as an async context manager, or call :meth:`aclose` when done.
    """

    def __init__(
        self, url: str | None = None, token: str | None = None, **options: Unpack[ClientOptions]
    ) -> None:
        origin = resolve_origin(url, token, profile=options.get("profile"))
        settings = Settings.create(origin.url, type(self).__name__, **options)
        self._session = Session.open(settings, options, origin.token, origin=origin)
        self._runs = Runs(self._session)
        self._workflows: dict[tuple[str, str], AsyncWorkflow] = {}

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
        self._workflows.clear()  # what one user was shown is not another's

    @property
    def watching(self) -> WatchStats:
        """What the client's watcher is doing: runs waited for, groups polled, requests made.

        A read-only snapshot (:class:`WatchStats`); ``fs.watching.idle`` is
        True when nothing is watched, so nothing is polled.
        """
        return self._session.watcher.stats()

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
        self._session.http.trust_token()
        return self.token

    async def logout(self) -> None:
        """End the session on the server (for every client of this user) and forget the token."""
        await self._session.api.logout()
        self.token = None

    # -- workflows and groups ----------------------------------------------

    async def list_workflows(self) -> list[WorkflowInfo]:
        """All workflows of the server: id, name, description (``parameters`` is None here).

        The server answers this whatever the token; a token the client holds
        is checked first (once per client), so that a wrong one is not missed.
        :meth:`get_workflow` has a workflow's parameters.
        """
        await self._session.http.check_token("GET", Routes.list_workflows.path())
        return await self._session.api.list_workflows()

    async def get_workflow(self, workflow_id: str) -> WorkflowInfo:
        """A workflow's metadata, parameters, the caller's groups and post-processing run.

        Without a valid token the server leaves the groups out silently: a
        token the client holds is checked first (once per client).
        """
        path = Routes.get_workflow.path(workflow_id)
        await self._session.http.check_token("GET", path)
        return await self._session.api.get_workflow(workflow_id)

    async def list_groups(self, workflow_id: str) -> list[Group]:
        """The caller's groups of a workflow (id, name and workflow only).

        An unknown workflow raises :class:`NotFoundError` (the server would
        list no groups), and so does an invalid token raise
        :class:`UnauthenticatedError` (the server would list everyone's).
        """
        check_id(workflow_id, "workflow_id")
        self._session.api.check_auth(Routes.list_groups, workflow_id)
        await self._session.http.check_token("GET", Routes.list_groups.path(workflow_id))
        groups = await self._session.api.list_groups(workflow_id)
        if not groups:
            await self._session.api.get_workflow(workflow_id)  # NotFoundError if unknown
        return groups

    async def create_group(
        self,
        workflow_id: str,
        name: str,
        members: Sequence[str] | None = None,
        *,
        exist_ok: bool = False,
    ) -> Group:
        """Create a group of a workflow; the caller becomes a member.

        ``members`` are user ids of further members. Group names are unique
        per workflow: a name in use raises :class:`InvalidRequestError`,
        unless ``exist_ok`` is True and the group is the caller's, which is
        then returned as it is (found with one listing; ``members`` are not
        applied to it). Scripts and examples that make their group by name
        can so run twice.
        """
        return await self._runs.create_group(workflow_id, name, members, exist_ok=exist_ok)

    async def get_group(self, group_id: str) -> Group:
        """A group with its members, parameters, uploaded files and runs.

        The server answers this whatever the token: a token the client holds
        is checked first (once per client), so that a wrong one is not missed.
        """
        return await self._runs.get_group(group_id)

    async def update_group(
        self, group_id: str, *, name: str | None = None, members: Sequence[str] | None = None
    ) -> Group:
        """Rename a group or replace its member list (user ids).

        A workflow of this group that :meth:`workflow` keeps is loaded anew
        the next time it is asked for.
        """
        group = await self._session.api.update_group(group_id, name=name, members=members)
        self._forget(group_id)
        return group

    async def delete_group(self, group_id: str) -> None:
        """Delete a group (runs still active in it keep executing on the server)."""
        await self._session.api.delete_group(group_id)
        self._forget(group_id)

    async def workflow(
        self, workflow_id: str, group_id: str, *, refresh: bool = False
    ) -> AsyncWorkflow:
        """An :class:`AsyncWorkflow` for one group of a workflow, with its metadata loaded.

        The first call for a (workflow, group) pair loads the workflow's
        metadata and the group's parameter declarations (two requests, made
        together); the client keeps the result, so later calls for the same
        pair cost no request and return the same object (an app may call
        ``fs.workflow(...)`` in every request handler). ``refresh=True``
        loads it again and keeps the new one.

        What is kept is dropped when this client changes the group
        (:meth:`update_group`, :meth:`delete_group`) or its token (a login, a
        logout). A group's parameters change only when the workflow is
        updated on the server, which no client sees: after that, ask with
        ``refresh=True`` (until then arguments are checked against the
        declarations loaded first).
        """
        key = (workflow_id, group_id)
        cached = self._workflows.get(key)
        if cached is not None and not refresh:
            return cached
        token = self.token
        info, group = await self._runs.load(workflow_id, group_id)
        loaded = AsyncWorkflow(self._runs, info, group, owner=self)
        if self.token == token:  # a login while loading: what was loaded is not kept
            self._workflows[key] = loaded
        return loaded

    def _forget(self, group_id: str) -> None:
        """Drop the workflows kept for a group."""
        for key in [key for key in self._workflows if key[1] == group_id]:
            del self._workflows[key]

    async def leaderboard(
        self, workflow_id: str, order_by: OrderBy = None, include_all: bool = False
    ) -> Leaderboard | None:
        """A workflow's ranking of runs (no token needed); see :meth:`AsyncWorkflow.leaderboard`."""
        results = WorkflowResults(self._session.api, workflow_id)
        return await results.leaderboard(order_by, include_all)

    async def get_postproc_file(self, workflow_id: str, file_id: str | None = None) -> FileHandle:
        """A post-processing output of a workflow; see :meth:`AsyncWorkflow.get_postproc_file`."""
        return await WorkflowResults(self._session.api, workflow_id).postproc_file(file_id)

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

    async def list_runs(self, group_id: str) -> RunList[RunInfo]:
        """Id, state and creation time of every run of a group, oldest first."""
        return await self._runs.list_runs(group_id)

    get_run = _route(FlowservAPI.get_run)

    async def get_runs(self, run_ids: Iterable[str]) -> RunList[Run]:
        """The current snapshots of several runs, fetched concurrently, in the order given.

        The first failure (an unknown run, say) is raised as itself. The
        :class:`RunList` shows as a timeline in a notebook.
        """
        return await self._runs.get_runs(run_ids)

    async def start_run(
        self, group_id: str, arguments: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> Run:
        """Start a run in a group.

        ``arguments`` maps parameter names to values, checked against the
        group's declarations (fetched first) exactly as
        :meth:`AsyncWorkflow.start_run` checks them, defaults filled in and
        file arguments uploaded, before the run is started: a bad argument
        raises :class:`UnknownParameterError` or :class:`InvalidArgumentError`
        with nothing started. A list in wire form (``[{"name", "value"},
        ...]``) is sent as it is, after a check of its shape.

        The start is never sent twice: if it may have reached the server and
        no usable answer came, the group's runs are searched for a run created
        after the request with exactly these arguments; if exactly one matches
        it is returned, otherwise :class:`SubmissionUncertainError` is raised.
        """
        return await self._runs.start_in(group_id, arguments)

    async def rerun(
        self,
        run: RunRef,
        poll_interval: float | None = None,
        *,
        timeout: float | None = None,
        max_interval: float | None = None,
        on_change: OnChange | None = None,
    ) -> Run:
        """Start a new run with the arguments of ``run``, in its group.

        See :meth:`AsyncWorkflow.rerun`; with ``poll_interval`` this waits for
        the new run only (not for post-processing).
        """
        options, wait = self._runs.follow(
            poll_interval, timeout=timeout, max_interval=max_interval, on_change=on_change
        )
        return await self._runs.rerun(run, options, wait=wait)

    async def cancel_run(self, run_id: str, reason: str | None = None) -> Run:
        """Cancel an active run, with an optional reason (kept in its messages).

        A run that already ended raises :class:`RunNotActiveError`, whose
        ``state`` is the run's (the server does not say it; the run is read
        once to tell).
        """
        return await self._runs.cancel_run(run_id, reason)

    async def cancel_runs(
        self,
        group_id: str,
        states: RunStates = None,
        reason: str | None = None,
        *,
        concurrency: int = CANCEL_CONCURRENCY,
    ) -> list[Run]:
        """Cancel a group's active runs; see :meth:`AsyncWorkflow.cancel_runs`."""
        return await self._runs.cancel_runs(group_id, states, reason, concurrency=concurrency)

    async def delete_run(self, run_id: str) -> None:
        """Delete a run that is no longer active (an active one: the error says its state)."""
        await self._runs.delete_run(run_id)
    download_run_file = _route(FlowservAPI.download_run_file)
    download_run_archive = _route(FlowservAPI.download_run_archive)

    async def download_results(
        self,
        group_id: str,
        directory: str | os.PathLike[str],
        *,
        states: RunStates = None,
        concurrency: int = DOWNLOAD_CONCURRENCY,
        on_download: OnDownload | None = None,
        return_exceptions: bool = False,
    ) -> list[RunDownload]:
        """The results of a group's finished runs, one folder per run, resumable.

        See :meth:`AsyncWorkflow.download_results`.
        """
        return await self._runs.download_results(
            group_id, directory, states=states, concurrency=concurrency,
            on_download=on_download, return_exceptions=return_exceptions,
        )

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
        progress: bool | None = None,
        **options: Unpack[WaitArgs],
    ) -> RunList[Run]:
        """Wait until all runs are final; return them in input order.

        ``group_id`` is the group of the bare run ids (each is looked up once
        when it is not given). Options as for :meth:`AsyncWorkflow.wait`;
        ``progress=True`` shows a live display (see :meth:`AsyncWorkflow.start_runs`).
        """
        checked = self._runs.options(timeout, **options)
        return await self._runs.wait_all(runs, checked, group_id=group_id, progress=progress)

    def as_completed(
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
        return self._runs.as_completed(runs, timeout, group_id=group_id, **options)

    @overload
    def watch(
        self,
        group_id: str,
        poll_interval: float | None = None,
        *,
        max_interval: float | None = None,
        give_up_after: float = STREAM_GIVE_UP,
        heartbeat: None = None,
        idle_timeout: float | None = None,
    ) -> AsyncGenerator[Run, None]: ...

    @overload
    def watch(
        self,
        group_id: str,
        poll_interval: float | None = None,
        *,
        max_interval: float | None = None,
        give_up_after: float = STREAM_GIVE_UP,
        heartbeat: float,
        idle_timeout: float | None = None,
    ) -> AsyncGenerator[Run | None, None]: ...

    def watch(
        self,
        group_id: str,
        poll_interval: float | None = None,
        *,
        max_interval: float | None = None,
        give_up_after: float = STREAM_GIVE_UP,
        heartbeat: float | None = None,
        idle_timeout: float | None = None,
    ) -> AsyncGenerator[Run | None, None]:
        """Every run of a group, then each state change; see :meth:`AsyncWorkflow.watch`."""
        return self._runs.watch(
            group_id, poll_interval, max_interval=max_interval, give_up_after=give_up_after,
            heartbeat=heartbeat, idle_timeout=idle_timeout,
        )
