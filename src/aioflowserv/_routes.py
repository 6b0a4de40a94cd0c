"""flowServ's REST routes, one table: method, path, token and whether a request may be resent.

The endpoint layer (:mod:`aioflowserv._api`) sends every route from this
table, and :class:`aioflowserv.testing.FakeFlowserv` answers requests by
matching them against it, so a route is written down once. A route's name
is the :class:`~aioflowserv._api.FlowservAPI` method that sends it.

``auth`` says whether the server needs a token (a client without one fails
before sending); the real server answers the workflow listing and metadata,
the leaderboard and every download without one. ``idempotent`` says whether
the request may be sent again after it may have reached the server: run
starts, uploads and the other creating POSTs may not.

Also here, the other facts about the server's routes: the default API path
(:data:`API_PATH`) and the name an upload is stored under
(:func:`server_filename`).
"""

from __future__ import annotations

import re
import unicodedata

from ._config import DEFAULT_PATH, check_id

__all__ = ["ALL_ROUTES", "API_PATH", "Route", "Routes", "find_route", "server_filename"]

API_PATH = DEFAULT_PATH
"""The API path of a flowServ server with default settings (``FLOWSERV_API_PATH``)."""

_FIELD = re.compile(r"\{(\w+)\}")


class Route:
    """One REST route: method, path template (relative to the API URL), token, resending.

    Its ``name`` is the attribute of :class:`Routes` it is assigned to.
    ``idempotent`` defaults to what the method means (everything but POST).
    """

    __slots__ = ("_pattern", "auth", "fields", "idempotent", "method", "name", "template")

    def __init__(
        self, method: str, template: str, *, auth: bool, idempotent: bool | None = None
    ) -> None:
        self.name = ""
        self.method = method
        self.template = template
        self.auth = auth
        self.idempotent = method != "POST" if idempotent is None else idempotent
        self.fields: tuple[str, ...] = tuple(_FIELD.findall(template))
        """The ids the path is made of (``group_id``, ...), in path order."""
        self._pattern = re.compile(
            "^" + _FIELD.sub("([^/]+)", template.replace(".", r"\.")) + "$"
        )

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<Route {self.name}: {self.method} /{self.template}>"

    def path(self, *ids: object) -> str:
        """The path for ``ids`` (one per field, in order), each checked as one path segment.

        An id that is empty or has path characters raises
        :class:`InvalidArgumentError` naming the field, before anything is sent.
        """
        if len(ids) != len(self.fields):
            raise TypeError(f"{self.name} takes {len(self.fields)} ids, got {len(ids)}")
        values = iter(ids)
        return _FIELD.sub(lambda field: check_id(next(values), field.group(1)), self.template)

    def match(self, method: str, path: str) -> list[str] | None:
        """The ids of a request of this route (``path`` relative to the API URL), or None."""
        if method != self.method:
            return None
        found = self._pattern.match(path)
        return list(found.groups()) if found is not None else None


class Routes:
    """The routes of flowServ's REST API (rob-flask 0.6 with flowserv-core 0.8), by name."""

    # service and users
    service_info = Route("GET", "", auth=False)
    register_user = Route("POST", "users/register", auth=False)
    activate_user = Route("POST", "users/activate", auth=False)
    login = Route("POST", "users/login", auth=False)
    logout = Route("POST", "users/logout", auth=True, idempotent=True)
    whoami = Route("GET", "users/whoami", auth=True)
    # workflows, their results, and groups
    list_workflows = Route("GET", "workflows", auth=False)
    get_workflow = Route("GET", "workflows/{workflow_id}", auth=False)
    get_leaderboard = Route("GET", "workflows/{workflow_id}/leaderboard", auth=False)
    download_postproc_file = Route(
        "GET", "workflows/{workflow_id}/downloads/files/{file_id}", auth=False
    )
    download_postproc_archive = Route(
        "GET", "workflows/{workflow_id}/downloads/archive", auth=False
    )
    create_group = Route("POST", "workflows/{workflow_id}/groups", auth=True)
    list_groups = Route("GET", "workflows/{workflow_id}/groups", auth=True)
    get_group = Route("GET", "groups/{group_id}", auth=True)
    update_group = Route("PUT", "groups/{group_id}", auth=True)
    delete_group = Route("DELETE", "groups/{group_id}", auth=True)
    # uploads
    upload_file = Route("POST", "uploads/{group_id}/files", auth=True, idempotent=False)
    list_files = Route("GET", "uploads/{group_id}/files", auth=True)
    download_file = Route("GET", "uploads/{group_id}/files/{file_id}", auth=False)
    delete_file = Route("DELETE", "uploads/{group_id}/files/{file_id}", auth=True)
    # runs
    list_runs = Route("GET", "groups/{group_id}/runs", auth=True)
    start_run = Route("POST", "groups/{group_id}/runs", auth=True, idempotent=False)
    get_run = Route("GET", "runs/{run_id}", auth=True)
    cancel_run = Route("PUT", "runs/{run_id}", auth=True)
    delete_run = Route("DELETE", "runs/{run_id}", auth=True)
    download_run_file = Route("GET", "runs/{run_id}/downloads/files/{file_id}", auth=False)
    download_run_archive = Route("GET", "runs/{run_id}/downloads/archive", auth=False)


ALL_ROUTES: tuple[Route, ...] = tuple(r for r in vars(Routes).values() if isinstance(r, Route))
"""Every route, in table order."""

_BY_SHAPE: dict[tuple[str, int], list[Route]] = {}
for _route in ALL_ROUTES:
    _BY_SHAPE.setdefault((_route.method, _route.template.count("/")), []).append(_route)


def find_route(method: str, path: str) -> tuple[Route, list[str]] | None:
    """The route a request is for, and its ids (``path`` relative to the API URL), or None."""
    for route in _BY_SHAPE.get((method, path.count("/")), ()):
        ids = route.match(method, path)
        if ids is not None:
            return route, ids
    return None


def server_filename(name: str) -> str:
    """The name flowServ stores an upload under (Werkzeug's ``secure_filename`` on POSIX).

    Non-ASCII characters are dropped, ``/`` and whitespace become ``_``, other
    characters outside ``[A-Za-z0-9_.-]`` are removed, and leading or trailing
    dots and underscores are stripped.
    """
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    joined = "_".join(text.replace("/", " ").split())
    return re.sub(r"[^A-Za-z0-9_.-]", "", joined).strip("._")
