"""AsyncFlowserv: the service calls of the flowServ REST API."""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
import httpx

from ._config import (
    DEFAULT_TIMEOUT,
    RetryPolicy,
    Settings,
    check_seconds,
    resolve_token,
    resolve_url,
)
from ._errors import (
    APIConnectionError,
    ClientClosedError,
    ConfigurationError,
    FlowservError,
    InvalidResponseError,
    PayloadTooLargeError,
    ServerError,
)
from ._files import FileHandle, open_download
from ._gather import gather
from ._http import HTTPClient, request_sent, segment
from ._models import Group, Run, RunInfo, UploadedFile, User, WorkflowInfo
from ._parameters import FileArgument, FileLike, FileSource, Parameter, _file_source
from ._resolve import Submissions, resolve_start, resolve_upload, start_key, upload_key
from ._watch import DEFAULT_MAX_INTERVAL, DEFAULT_POLL_INTERVAL, OnChange, RunSpec, Watcher

if TYPE_CHECKING:
    from ._workflow import AsyncWorkflow

__all__ = ["AsyncFlowserv", "RunRef"]

RunRef = Run | str
"""A run to wait for: a :class:`Run` snapshot or a run id."""

logger = logging.getLogger("aioflowserv")

_UNCERTAIN_STATUS = frozenset({502, 504})
"""Gateway answers to a run start: the server behind may or may not have made the run."""


def _check_timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ConfigurationError(f"timeout must be a number of seconds or None, got {timeout!r}")
    if not timeout > 0 or math.isinf(timeout):
        raise ConfigurationError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


class AsyncFlowserv:
    """An async client of one flowServ server.

    ``url`` is the API base URL including its path (for example
    ``http://127.0.0.1:5005/flowserv/api/v1``) and ``token`` an API token; both
    fall back to flowServ's environment variables (``FLOWSERV_URL`` or
    ``FLOWSERV_API_PROTOCOL/HOST/PORT/PATH``, and ``FLOWSERV_ACCESS_TOKEN``).
    ``timeout`` bounds each phase of each request (seconds), ``retries`` is a
    count or a :class:`RetryPolicy` for idempotent requests, and ``transport``
    an ``httpx.AsyncBaseTransport`` for tests or custom networking. The token
    is sent in the ``auth_header`` header (flowServ's ``api_key``).

    Use it as an async context manager, or call :meth:`aclose` when done.
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
    ) -> None:
        if not isinstance(auth_header, str) or not auth_header.strip():
            raise ConfigurationError("auth_header must be a non-empty header name")
        self._settings = Settings(
            url=resolve_url(url),
            timeout=_check_timeout(timeout),
            retry=RetryPolicy.from_retries(retries),
            auth_header=auth_header,
            verify=verify,
        )
        self.poll_interval = check_seconds(poll_interval, "poll_interval")
        self.max_interval = check_seconds(max_interval, "max_interval")
        self._http = HTTPClient(self._settings, resolve_token(token), transport)
        self._watcher = Watcher(self._list_run_states, self.get_run)
        self._submissions = Submissions()

    def __repr__(self) -> str:
        state = "closed" if self._http.closed else "open"
        logged = "with token" if self._http.token else "no token"
        return f"<AsyncFlowserv {self.url} ({state}, {logged})>"

    @property
    def url(self) -> str:
        """The API base URL."""
        return self._settings.url

    @property
    def settings(self) -> Settings:
        """The client's settings (the token is not part of them)."""
        return self._settings

    @property
    def token(self) -> str | None:
        """The API token sent with each request, or None."""
        return self._http.token

    @token.setter
    def token(self, value: str | None) -> None:
        self._http.token = value

    @property
    def is_closed(self) -> bool:
        """True once the client was closed."""
        return self._http.closed

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
        self._watcher.close(ClientClosedError("the client was closed while waiting"))
        await self._http.aclose()

    # -- service and users -------------------------------------------------

    async def service_info(self) -> dict[str, Any]:
        """The service descriptor (``GET /``): name, version (flowserv-core's) and routes."""
        doc = await self._http.request("GET", "")
        if not isinstance(doc, dict) or "routes" not in doc:
            raise InvalidResponseError(f"{self.url} does not look like a flowServ API")
        return doc

    async def register_user(self, username: str, password: str, *, verify: bool = False) -> User:
        """Create a user. With ``verify=False`` (the default here) it is active at once."""
        body = {"username": username, "password": password, "verify": verify}
        return User.from_json(await self._http.request("POST", "users/register", json_body=body))

    async def activate_user(self, user_id: str) -> User:
        """Activate a user registered with ``verify=True``."""
        doc = await self._http.request("POST", "users/activate", json_body={"id": user_id})
        return User.from_json(doc)

    async def login(self, username: str, password: str) -> str:
        """Log in, keep the token on this client, and return it.

        flowServ keeps one token per user: logging in again returns the same
        token, and a logout ends every session of that user.
        """
        body = {"username": username, "password": password}
        doc = await self._http.request("POST", "users/login", json_body=body)
        if not isinstance(doc, dict) or not isinstance(doc.get("token"), str):
            raise InvalidResponseError("login answer from the server lacks 'token'")
        token: str = doc["token"]
        self.token = token
        return token

    async def logout(self) -> None:
        """End the session on the server (for every client of this user) and forget the token."""
        await self._http.request("POST", "users/logout", auth=True, idempotent=True)
        self.token = None

    async def whoami(self) -> User:
        """The user the token belongs to; the one reliable check that a token is valid."""
        return User.from_json(await self._http.request("GET", "users/whoami", auth=True))

    # -- workflows and groups ----------------------------------------------

    async def list_workflows(self) -> list[WorkflowInfo]:
        """All workflows of the server (without parameters)."""
        doc = await self._http.request("GET", "workflows")
        return [WorkflowInfo.from_json(item) for item in _items(doc, "workflows")]

    async def get_workflow(self, workflow_id: str) -> WorkflowInfo:
        """A workflow's metadata, parameters, the caller's groups and its post-processing run."""
        path = f"workflows/{segment(workflow_id, 'workflow_id')}"
        return WorkflowInfo.from_json(await self._http.request("GET", path))

    async def workflow(self, workflow_id: str, group_id: str) -> AsyncWorkflow:
        """An :class:`AsyncWorkflow` for one group of a workflow, with its metadata loaded."""
        from ._workflow import AsyncWorkflow

        return await AsyncWorkflow.load(self, workflow_id, group_id)

    async def create_group(
        self, workflow_id: str, name: str, members: Sequence[str] | None = None
    ) -> Group:
        """Create a group of a workflow; the caller becomes a member.

        ``members`` are user ids of further members.
        """
        body: dict[str, Any] = {"name": name}
        if members is not None:
            body["members"] = list(members)
        path = f"workflows/{segment(workflow_id, 'workflow_id')}/groups"
        return Group.from_json(await self._http.request("POST", path, json_body=body, auth=True))

    async def get_group(self, group_id: str) -> Group:
        """A group with its members, parameters, uploaded files and runs."""
        path = f"groups/{segment(group_id, 'group_id')}"
        return Group.from_json(await self._http.request("GET", path, auth=True))

    async def list_groups(self, workflow_id: str) -> list[Group]:
        """The caller's groups of a workflow (id, name and workflow only)."""
        path = f"workflows/{segment(workflow_id, 'workflow_id')}/groups"
        doc = await self._http.request("GET", path, auth=True)
        return [Group.from_json(item) for item in _items(doc, "groups")]

    async def update_group(
        self, group_id: str, *, name: str | None = None, members: Sequence[str] | None = None
    ) -> Group:
        """Rename a group or replace its member list (user ids)."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if members is not None:
            body["members"] = list(members)
        path = f"groups/{segment(group_id, 'group_id')}"
        return Group.from_json(await self._http.request("PUT", path, json_body=body, auth=True))

    async def delete_group(self, group_id: str) -> None:
        """Delete a group (runs still active in it keep executing on the server)."""
        path = f"groups/{segment(group_id, 'group_id')}"
        await self._http.request("DELETE", path, auth=True)

    # -- uploads -------------------------------------------------------------

    async def upload_file(
        self, group_id: str, file: FileLike | FileArgument, *, filename: str | None = None
    ) -> UploadedFile:
        """Upload a file (a path, bytes or an open file) to a group.

        An upload that may have reached the server is never sent twice: if no
        answer comes, :class:`SubmissionUncertainError` is raised.
        """
        placeholder = Parameter(name="file", dtype="file")
        source = _file_source(placeholder, file)
        if filename is not None:
            source.filename = filename
        return await self._upload(group_id, source)

    async def _upload(self, group_id: str, source: FileSource) -> UploadedFile:
        path = f"uploads/{segment(group_id, 'group_id')}/files"
        with self._submissions.sending(upload_key(group_id, source.filename)):
            sent_at = datetime.now(timezone.utc)
            try:
                doc = await self._http.request(
                    "POST", path, upload=source, auth=True, idempotent=False
                )
                uploaded = UploadedFile.from_json(doc)
            except PayloadTooLargeError as exc:
                raise PayloadTooLargeError(
                    f"{source.filename!r} is larger than the server accepts ({exc.message})",
                    status_code=exc.status_code, method=exc.method, path=exc.path,
                ) from None
            except (APIConnectionError, ServerError, InvalidResponseError) as exc:
                if not _ambiguous(exc):
                    raise
                return await resolve_upload(
                    self, self._submissions, group_id, source, sent_at, exc
                )
            self._submissions.uploads.add(uploaded.id)
            return uploaded

    async def list_files(self, group_id: str) -> list[UploadedFile]:
        """The files uploaded to a group."""
        path = f"uploads/{segment(group_id, 'group_id')}/files"
        doc = await self._http.request("GET", path, auth=True)
        return [UploadedFile.from_json(item) for item in _items(doc, "files")]

    async def delete_file(self, group_id: str, file_id: str) -> None:
        """Delete an uploaded file (runs that used it are not affected)."""
        path = f"uploads/{segment(group_id, 'group_id')}/files/{segment(file_id, 'file_id')}"
        await self._http.request("DELETE", path, auth=True)

    async def download_file(self, group_id: str, file_id: str) -> FileHandle:
        """Download an uploaded file."""
        path = f"uploads/{segment(group_id, 'group_id')}/files/{segment(file_id, 'file_id')}"
        return await open_download(self._http, path, file_id)

    # -- runs ----------------------------------------------------------------

    async def list_runs(self, group_id: str) -> list[RunInfo]:
        """Id, state and creation time of every run of a group, oldest first."""
        return [RunInfo.from_json(item) for item in await self._list_run_states(group_id)]

    async def _list_run_states(self, group_id: str) -> list[Any]:
        path = f"groups/{segment(group_id, 'group_id')}/runs"
        return _items(await self._http.request("GET", path, auth=True), "runs")

    async def get_run(self, run_id: str) -> Run:
        """The current snapshot of a run."""
        path = f"runs/{segment(run_id, 'run_id')}"
        return Run.from_json(await self._http.request("GET", path, auth=True))

    async def start_run(self, group_id: str, arguments: list[dict[str, Any]]) -> Run:
        """Start a run from arguments in wire form (``[{"name", "value"}, ...]``).

        Most code calls :meth:`AsyncWorkflow.start_run`, which validates the
        arguments and uploads files first. The start is never sent twice: if
        it may have reached the server and no usable answer came, the group's
        runs are searched for a run created after the request with exactly
        these arguments; if exactly one matches it is returned, otherwise
        :class:`SubmissionUncertainError` is raised.
        """
        path = f"groups/{segment(group_id, 'group_id')}/runs"
        with self._submissions.sending(start_key(group_id, arguments)):
            sent_at = datetime.now(timezone.utc)
            # The request is shielded: cancelled half-way, it would leave a run that
            # nobody knows of. Its answer is awaited (within the request timeout);
            # a run it made is returned even if the call was cancelled meanwhile
            # (the cancellation then takes effect at the caller's next await).
            with anyio.CancelScope(shield=True):
                try:
                    doc = await self._http.request(
                        "POST", path, json_body={"arguments": arguments}, auth=True,
                        idempotent=False,
                    )
                    run: Run | None = Run.from_json(doc)
                    uncertain: FlowservError | None = None
                except (APIConnectionError, ServerError, InvalidResponseError) as exc:
                    if not _ambiguous(exc):
                        raise
                    run, uncertain = None, exc
            cancelled = anyio.current_effective_deadline() == -math.inf
            if run is not None:
                self._submissions.runs.add(run.run_id)
                if cancelled:
                    logger.warning(
                        "run %s was started in group %s while the call was being cancelled; "
                        "it is left running", run.run_id, group_id,
                    )
                return run
            if cancelled:
                logger.warning(
                    "a run start in group %s got no answer and the call was cancelled "
                    "before it could be resolved; the run may exist (see list_runs)",
                    group_id,
                )
                await anyio.lowlevel.checkpoint_if_cancelled()
            assert uncertain is not None
            return await resolve_start(
                self, self._submissions, group_id, arguments, sent_at, uncertain
            )

    async def cancel_run(self, run_id: str, reason: str | None = None) -> Run:
        """Cancel an active run, with an optional reason (kept in its messages)."""
        body = {"reason": reason} if reason is not None else {}
        path = f"runs/{segment(run_id, 'run_id')}"
        return Run.from_json(await self._http.request("PUT", path, json_body=body, auth=True))

    async def delete_run(self, run_id: str) -> None:
        """Delete a run that is no longer active."""
        path = f"runs/{segment(run_id, 'run_id')}"
        await self._http.request("DELETE", path, auth=True)

    async def download_run_file(self, run_id: str, file_id: str) -> FileHandle:
        """Download one result file of a run."""
        path = f"runs/{segment(run_id, 'run_id')}/downloads/files/{segment(file_id, 'file_id')}"
        return await open_download(self._http, path, file_id)

    async def download_run_archive(self, run_id: str) -> FileHandle:
        """Download all result files of a successful run as a ``.tar.gz`` archive."""
        path = f"runs/{segment(run_id, 'run_id')}/downloads/archive"
        return await open_download(self._http, path, "run.tar.gz")

    # -- watching --------------------------------------------------------------

    async def wait(
        self,
        run: RunRef,
        timeout: float | None = None,
        *,
        poll_interval: float | None = None,
        max_interval: float | None = None,
        on_change: OnChange | None = None,
        cancel_remote: bool | str = False,
    ) -> Run:
        """Wait until a run is no longer active and return its final snapshot.

        See :meth:`AsyncWorkflow.wait`. A bare run id is looked up once to
        learn its group.
        """
        (result,) = await self.wait_all(
            [run], timeout, poll_interval=poll_interval, max_interval=max_interval,
            on_change=on_change, cancel_remote=cancel_remote,
        )
        return result

    async def wait_all(
        self,
        runs: Iterable[RunRef],
        timeout: float | None = None,
        *,
        poll_interval: float | None = None,
        max_interval: float | None = None,
        on_change: OnChange | None = None,
        cancel_remote: bool | str = False,
        group_id: str | None = None,
    ) -> list[Run]:
        """Wait until all runs are final; return them in input order."""
        poll, cap = self._intervals(poll_interval, max_interval)
        if timeout is not None:
            check_seconds(timeout, "timeout", zero=True)
        specs = await self._specs(runs, group_id)
        waiting = self._watcher.wait_all(
            specs, timeout=timeout, on_change=on_change, poll_interval=poll, max_interval=cap
        )
        if not cancel_remote:
            return await waiting
        try:
            return await waiting
        except anyio.get_cancelled_exc_class():
            reason = cancel_remote if isinstance(cancel_remote, str) else "wait cancelled by client"
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                await self._cancel_active([run_id for run_id, _, _ in specs], reason)
            raise

    async def as_completed(
        self,
        runs: Iterable[RunRef],
        timeout: float | None = None,
        *,
        poll_interval: float | None = None,
        max_interval: float | None = None,
        on_change: OnChange | None = None,
        group_id: str | None = None,
    ) -> AsyncGenerator[Run, None]:
        """Yield runs as they end (final snapshots), in completion order.

        With ``timeout``, :class:`RunWaitTimeout` is raised when the deadline
        passes with runs still active; the runs are left alone on the server.
        """
        poll, cap = self._intervals(poll_interval, max_interval)
        if timeout is not None:
            check_seconds(timeout, "timeout", zero=True)
        specs = await self._specs(runs, group_id)
        stream = self._watcher.as_completed(
            specs, timeout=timeout, on_change=on_change, poll_interval=poll, max_interval=cap
        )
        try:
            async for run in stream:
                yield run
        finally:
            await stream.aclose()

    def _intervals(
        self, poll_interval: float | None, max_interval: float | None
    ) -> tuple[float, float]:
        """The checked (poll_interval, max_interval) of a wait, with the client's defaults."""
        poll = self.poll_interval if poll_interval is None else check_seconds(
            poll_interval, "poll_interval"
        )
        cap = self.max_interval if max_interval is None else check_seconds(
            max_interval, "max_interval"
        )
        return poll, max(poll, cap)

    async def _specs(self, runs: Iterable[RunRef], group_id: str | None) -> list[RunSpec]:
        if isinstance(runs, (str, Run)):
            raise TypeError("expected an iterable of runs or run ids, not a single run")
        specs: list[RunSpec] = []
        lookups: list[tuple[int, str]] = []
        for run in runs:
            if isinstance(run, Run):
                specs.append((run.run_id, run.group_id, run))
            else:
                segment(run, "run_id")
                if group_id is None:
                    lookups.append((len(specs), run))
                specs.append((run, group_id, None))
        # Unknown group: one fetch tells the group and the current state.
        snapshots = await gather([functools.partial(self.get_run, run_id) for _, run_id in lookups])
        for (index, run_id), snapshot in zip(lookups, snapshots, strict=True):
            specs[index] = (run_id, snapshot.group_id, snapshot)
        return specs

    async def _cancel_active(self, run_ids: Sequence[str], reason: str) -> None:
        async def cancel(run_id: str) -> None:
            # Already final (400) or deleted (404): nothing to cancel.
            with contextlib.suppress(FlowservError):
                await self.cancel_run(run_id, reason)

        await gather([functools.partial(cancel, run_id) for run_id in dict.fromkeys(run_ids)])


def _ambiguous(error: FlowservError) -> bool:
    """Whether a failed run start or upload may still have been carried out by the server.

    True for transport failures after the request went out, gateway errors
    (502, 504) and a success answer that could not be read.
    """
    if isinstance(error, APIConnectionError):
        return request_sent(error)
    if isinstance(error, ServerError):
        return error.status_code in _UNCERTAIN_STATUS
    return isinstance(error, InvalidResponseError)


def _items(doc: object, key: str) -> list[Any]:
    if not isinstance(doc, Mapping) or not isinstance(doc.get(key), list):
        raise InvalidResponseError(f"the server's answer lacks the list {key!r}")
    return list(doc[key])

