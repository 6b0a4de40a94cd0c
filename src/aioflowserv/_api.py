"""The endpoint layer: one coroutine per route of flowServ's REST API, returning models.

The client hands most of these to its users as they are, so their docstrings
speak to users.

Every route is sent as :class:`aioflowserv._routes.Routes` describes it
(method, path, whether it needs a token, whether it may be resent): nothing
about a route is written here but its body and its answer's model.

Nothing here waits, resolves or decides: a route is sent once through the
transport (which retries only what is safe to resend) and its answer is
turned into a model by :mod:`aioflowserv._models`. Run starts and uploads are
plain POSTs here; never sending them twice is :mod:`aioflowserv._submit`'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._errors import APIConnectionError, ServerError, with_detail
from ._files import FileHandle, open_download
from ._models import (
    Group,
    Leaderboard,
    Login,
    Run,
    RunListing,
    UploadedFile,
    User,
    WorkflowInfo,
    parse_list,
    parse_service,
)
from ._routes import Route, Routes
from ._transport import HTTPClient

if TYPE_CHECKING:
    from ._arguments import FileSource

__all__ = ["CANCEL_HANG", "FlowservAPI"]

CANCEL_HANG = (
    "flowServ 0.8.1 behind gunicorn hangs a cancel that reaches the worker process which "
    "started the run (the run's pool process ignores the SIGTERM meant to stop it): sync "
    "workers answer only once gunicorn's worker timeout (30 s by default) kills that worker, "
    "threaded workers never, and the run may then stay RUNNING. Check the run (poll_run) and "
    "cancel it again; the fix on the server is in the README, 'Deploying flowServ'"
)
"""Added to the error of a cancel that got no (usable) answer: what triggers it, what to do."""


class FlowservAPI:
    """flowServ's REST routes over one :class:`HTTPClient`."""

    def __init__(self, http: HTTPClient) -> None:
        self.http = http

    @property
    def url(self) -> str:
        """The API base URL."""
        return self.http.settings.url

    def check_auth(self, route: Route | str, *ids: str) -> None:
        """Raise before anything is sent when the client is closed or lacks a needed token.

        ``route`` is a route of :class:`Routes` with its ids (checked too); a
        path string is taken as a GET that needs a token.
        """
        if isinstance(route, str):
            self.http.check_ready("GET", route, auth=True)
        else:
            self.http.check_ready(route.method, route.path(*ids), auth=route.auth)

    async def _send(
        self,
        route: Route,
        *ids: str,
        json_body: Any = None,
        upload: FileSource | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """Send one route (its method, path, token need and resending from the table)."""
        return await self.http.request(
            route.method, route.path(*ids), json_body=json_body, upload=upload, params=params,
            auth=route.auth, idempotent=route.idempotent,
        )

    async def _download(self, route: Route, *ids: str, fallback_name: str) -> FileHandle:
        """Open a download route (a GET) as a :class:`FileHandle`."""
        path = route.path(*ids)
        self.http.check_ready(route.method, path, auth=route.auth)
        return await open_download(self.http, path, fallback_name)

    # -- service and users ---------------------------------------------------

    async def service_info(self) -> dict[str, Any]:
        """The service descriptor (``GET /``): name, version (flowserv-core's) and routes."""
        return parse_service(await self._send(Routes.service_info), self.url)

    async def register_user(self, username: str, password: str, *, verify: bool = False) -> User:
        """Create a user (``POST /users/register``); with ``verify=False`` it is active at once."""
        body = {"username": username, "password": password, "verify": verify}
        return User.from_json(await self._send(Routes.register_user, json_body=body))

    async def activate_user(self, user_id: str) -> User:
        """Activate a user registered with ``verify=True`` (``POST /users/activate``)."""
        return User.from_json(await self._send(Routes.activate_user, json_body={"id": user_id}))

    async def login(self, username: str, password: str) -> Login:
        """Log in (``POST /users/login``): the user and the token."""
        body = {"username": username, "password": password}
        return Login.from_json(await self._send(Routes.login, json_body=body))

    async def logout(self) -> None:
        """End the session (``POST /users/logout``): every session of the user."""
        await self._send(Routes.logout)

    async def whoami(self) -> User:
        """The user the token belongs to (``GET /users/whoami``): the one sure check of a token."""
        return User.from_json(await self._send(Routes.whoami))

    # -- workflows and groups ------------------------------------------------

    async def list_workflows(self) -> list[WorkflowInfo]:
        """All workflows of the server, without parameters (``GET /workflows``)."""
        return parse_list(WorkflowInfo, await self._send(Routes.list_workflows), "workflows")

    async def get_workflow(self, workflow_id: str) -> WorkflowInfo:
        """A workflow's metadata, parameters, the caller's groups and post-processing run."""
        return WorkflowInfo.from_json(await self._send(Routes.get_workflow, workflow_id))

    async def get_leaderboard(
        self, workflow_id: str, order_by: Sequence[str] = (), include_all: bool = False
    ) -> Leaderboard | None:
        """A workflow's ranking of runs (None: the workflow has no results schema)."""
        params = {}
        if order_by:  # an empty orderBy= makes the server fail with a 500
            params["orderBy"] = ",".join(order_by)
        if include_all:
            params["includeAll"] = "true"
        doc = await self._send(Routes.get_leaderboard, workflow_id, params=params or None)
        return Leaderboard.from_json(doc)

    async def download_postproc_file(self, workflow_id: str, file_id: str) -> FileHandle:
        """Download one output file of a workflow's latest post-processing run."""
        route = Routes.download_postproc_file
        return await self._download(route, workflow_id, file_id, fallback_name=file_id)

    async def download_postproc_archive(self, workflow_id: str) -> FileHandle:
        """Download the outputs of a workflow's latest post-processing run as ``.tar.gz``."""
        route = Routes.download_postproc_archive
        return await self._download(route, workflow_id, fallback_name="results.tar.gz")

    async def create_group(
        self, workflow_id: str, name: str, members: Sequence[str] | None = None
    ) -> Group:
        """Create a group of a workflow; the caller becomes a member.

        ``members`` are user ids of further members.
        """
        body: dict[str, Any] = {"name": name}
        if members is not None:
            body["members"] = list(members)
        return Group.from_json(await self._send(Routes.create_group, workflow_id, json_body=body))

    async def list_groups(self, workflow_id: str) -> list[Group]:
        """The caller's groups of a workflow (id, name and workflow only)."""
        return parse_list(Group, await self._send(Routes.list_groups, workflow_id), "groups")

    async def get_group(self, group_id: str) -> Group:
        """A group with its members, parameters, uploaded files and runs."""
        return Group.from_json(await self._send(Routes.get_group, group_id))

    async def update_group(
        self, group_id: str, *, name: str | None = None, members: Sequence[str] | None = None
    ) -> Group:
        """Rename a group or replace its member list (user ids)."""
        body: dict[str, Any] = {}
        if name is not None:
            body["name"] = name
        if members is not None:
            body["members"] = list(members)
        return Group.from_json(await self._send(Routes.update_group, group_id, json_body=body))

    async def delete_group(self, group_id: str) -> None:
        """Delete a group (runs still active in it keep executing on the server)."""
        await self._send(Routes.delete_group, group_id)

    # -- uploads -------------------------------------------------------------

    async def upload_file(self, group_id: str, source: FileSource) -> UploadedFile:
        """Upload a file: sent once, never again once it may have arrived."""
        return UploadedFile.from_json(await self._send(Routes.upload_file, group_id, upload=source))

    async def list_files(self, group_id: str) -> list[UploadedFile]:
        """The files uploaded to a group."""
        return parse_list(UploadedFile, await self._send(Routes.list_files, group_id), "files")

    async def delete_file(self, group_id: str, file_id: str) -> None:
        """Delete an uploaded file (runs that used it are not affected)."""
        await self._send(Routes.delete_file, group_id, file_id)

    async def download_file(self, group_id: str, file_id: str) -> FileHandle:
        """Download an uploaded file."""
        return await self._download(Routes.download_file, group_id, file_id, fallback_name=file_id)

    # -- runs ----------------------------------------------------------------

    async def list_runs(self, group_id: str) -> RunListing:
        """The states of a group's runs."""
        return RunListing.from_json(await self._send(Routes.list_runs, group_id))

    async def start_run(self, group_id: str, arguments: list[dict[str, Any]]) -> Run:
        """Start a run from wire arguments: sent once, never again once it may have arrived."""
        body = {"arguments": arguments}
        return Run.from_json(await self._send(Routes.start_run, group_id, json_body=body))

    async def get_run(self, run_id: str) -> Run:
        """The current snapshot of a run."""
        return Run.from_json(await self._send(Routes.get_run, run_id))

    async def cancel_run(self, run_id: str, reason: str | None = None) -> Run:
        """Cancel an active run, with an optional reason (kept in its messages)."""
        body = {"reason": reason} if reason is not None else {}
        try:
            doc = await self._send(Routes.cancel_run, run_id, json_body=body)
        except (ServerError, APIConnectionError) as exc:
            if isinstance(exc, APIConnectionError) and not exc.request_sent:
                raise
            raise with_detail(exc, CANCEL_HANG) from None
        return Run.from_json(doc)

    async def delete_run(self, run_id: str) -> None:
        """Delete a run that is no longer active."""
        await self._send(Routes.delete_run, run_id)

    async def download_run_file(self, run_id: str, file_id: str) -> FileHandle:
        """Download one result file of a run."""
        route = Routes.download_run_file
        return await self._download(route, run_id, file_id, fallback_name=file_id)

    async def download_run_archive(self, run_id: str) -> FileHandle:
        """Download all result files of a successful run as a ``.tar.gz`` archive."""
        route = Routes.download_run_archive
        return await self._download(route, run_id, fallback_name="run.tar.gz")
