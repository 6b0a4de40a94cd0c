"""FakeFlowserv: an in-process fake flowServ server, for tests of code that uses aioflowserv.

:class:`FakeFlowserv` is an ``httpx.AsyncBaseTransport``: pass it as
``transport=`` to :class:`aioflowserv.AsyncFlowserv` (or the sync facade) with
its ``url`` and ``token``. It answers the routes that running, watching,
batch submission, uploads, downloads and the leaderboard use, with the
response shapes of a real flowServ 0.8 server (keys sorted, compact JSON as
Flask writes it), for groups of the ``sleeper`` test workflow that ships with
aioflowserv:

- ``GET /groups/{g}/runs``, ``GET /groups/{g}``, ``GET /workflows/{wf}``,
  ``GET /users/whoami`` and the service descriptor ``GET /``;
- ``POST /groups/{g}/runs`` (a run lasts its ``sleep`` argument; ``exitcode``
  other than 0 makes it end in ERROR; ``names`` may be an uploaded file);
- ``GET``, ``PUT`` (cancel, with reason) and ``DELETE /runs/{id}``;
- ``POST``/``GET /uploads/{g}/files`` and ``GET``/``DELETE
  /uploads/{g}/files/{f}`` (multipart field ``file``, names made safe as
  Werkzeug does, 16 MiB at most);
- ``GET /runs/{id}/downloads/files/{f}`` and ``/runs/{id}/downloads/archive``:
  the sleeper's ``results/greetings.txt`` and ``results/result.json``, made
  from the run's arguments as the real template makes them;
- ``GET /workflows/sleeper/leaderboard`` (``orderBy``, ``includeAll``) over
  the successful runs, and, with ``postproc=``, ``GET
  /workflows/sleeper/downloads/archive`` and ``.../downloads/files/{f}``
  (``results/summary.json``).

Runs end at scripted times on the fake's clock (by default anyio's clock, so
that virtual clocks such as trio's ``MockClock`` work), after a given number
of listings of their group, or when the test says so. The fake counts every
request (per route, with the clock time and the in-flight maximum), can
inject faults (error statuses, connection errors) and delays, and can run a
post-processing run after each successful run::

    fake = FakeFlowserv()
    group_id = fake.add_group()
    async with afs.AsyncFlowserv(fake.url, token=fake.token, transport=fake) as fs:
        wf = await fs.workflow("sleeper", group_id)
        run = await wf.start_run({"sleep": 2}, poll_interval=0.5)   # ends 2 s later
    assert fake.count("start_run") == 1
"""

from __future__ import annotations

import heapq
import io
import itertools
import json
import mimetypes
import re
import tarfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import httpx

from .._models import Run

__all__ = [
    "BASE_URL", "SLEEPER_PARAMETERS", "TOKEN", "Fault", "FakeFlowserv", "FakeRun", "FakeUpload",
]

API_PATH = "/flowserv/api/v1"
BASE_URL = f"http://flowserv.fake{API_PATH}"
TOKEN = "fake0123456789abcdef0123456789ab"
USER_ID = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"
ACTIVE = frozenset({"PENDING", "RUNNING"})
ROUTES = (
    "list_runs", "start_run", "get_run", "cancel_run", "delete_run", "get_group", "get_workflow",
    "upload_file", "list_uploads", "get_upload", "delete_upload", "download_file",
    "download_archive", "leaderboard", "postproc_file", "postproc_archive",
)
UNAUTHENTICATED_ROUTES = frozenset({
    "get_upload", "download_file", "download_archive", "leaderboard", "postproc_file",
    "postproc_archive",
})
"""Routes a real server answers without a token (downloads and the leaderboard)."""
MAX_UPLOAD = 16 * 1024 * 1024
RESULT_SCHEMA: list[dict[str, Any]] = [
    {"dtype": "float", "label": "Sleep time", "name": "sleep"},
    {"dtype": "int", "label": "Names greeted", "name": "count"},
]
"""The sleeper's results schema, as the leaderboard lists it."""
OUTPUT_PATHS = {"greetings": "results/greetings.txt", "result": "results/result.json"}
SUMMARY_PATH = "results/summary.json"

SLEEPER_PARAMETERS: list[dict[str, Any]] = [
    {"defaultValue": 0.0, "dtype": "float", "group": "main",
     "help": "Seconds the step sleeps before writing results", "index": 0, "isRequired": False,
     "label": "Sleep time (s)", "name": "sleep", "range": "[0.0,3600.0]"},
    {"defaultValue": "Hello", "dtype": "string", "group": "main", "index": 1,
     "isRequired": False, "label": "Greeting", "name": "greeting"},
    {"defaultValue": "data/names.txt", "dtype": "file", "group": "main", "index": 2,
     "isRequired": False, "label": "Names file", "name": "names", "target": "data/names.txt"},
    {"defaultValue": 0, "dtype": "int", "group": "main", "index": 3, "isRequired": False,
     "label": "Exit code", "name": "exitcode"},
    {"defaultValue": "plain", "dtype": "select", "group": "main", "index": 4,
     "isRequired": False, "label": "Mode", "name": "mode",
     "values": [{"isDefault": True, "name": "Plain", "value": "plain"},
                {"name": "Upper case", "value": "upper"}]},
    {"defaultValue": False, "dtype": "bool", "group": "main", "index": 5, "isRequired": False,
     "label": "Shout", "name": "shout"},
]
"""The sleeper declarations exactly as the real server lists them (``GET /groups/{g}``)."""


def _dump(doc: object) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n"


@dataclass(eq=False)
class FakeRun:
    """One run on the fake server. ``state`` is the raw state string the server reports."""

    id: str
    group_id: str | None
    workflow_id: str
    arguments: list[dict[str, Any]]
    created: float
    state: str = "RUNNING"
    started: float | None = None
    finished: float | None = None
    end_at: float | None = None
    end_state: str = "SUCCESS"
    end_messages: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=lambda: _result_files())
    contents: dict[str, tuple[str, bytes]] | None = None
    """Output files by file id: (relative path, bytes); None: made when asked for."""

    @property
    def active(self) -> bool:
        """True while PENDING or RUNNING."""
        return self.state in ACTIVE


@dataclass(eq=False)
class FakeUpload:
    """A file uploaded to a group."""

    id: str
    name: str
    created: float
    content: bytes


@dataclass(eq=False)
class FakeGroup:
    """A workflow group: its runs, oldest first, and how often it was listed."""

    id: str
    name: str
    workflow_id: str
    runs: dict[str, FakeRun] = field(default_factory=dict)
    listings: int = 0
    ends_after_listing: dict[int, list[str]] = field(default_factory=dict)
    listing_body: bytes | None = None
    uploads: dict[str, FakeUpload] = field(default_factory=dict)


@dataclass(frozen=True)
class Record:
    """One request the fake answered (or failed on purpose)."""

    time: float
    method: str
    route: str
    target: str | None


@dataclass(eq=False)
class Fault:
    """An injected failure of one route: an error status, or a transport error raised."""

    route: str
    status: int = 503
    body: bytes = b""
    content_type: str = "application/json"
    error: type[httpx.TransportError] | None = None
    times: int | None = 1
    target: str | None = None
    after: int = 0
    seen: int = 0
    hits: int = 0

    def applies(self, route: str, target: str | None) -> bool:
        """Count a matching request; True if this one is to fail."""
        if self.route != route or (self.target is not None and self.target != target):
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        self.seen += 1
        if self.seen <= self.after:
            return False
        self.hits += 1
        return True


class FakeFlowserv(httpx.AsyncBaseTransport):
    """An in-process flowServ: an httpx transport with scripted runs, counters and faults.

    ``clock`` gives the current time (default: anyio's clock, so it must then
    be read inside the event loop; pass ``time.monotonic`` when the fake is
    driven from a thread, as with the sync facade). ``latency`` delays every
    answer (seconds, half before and half after computing it), or per route
    with a mapping. ``postproc`` (seconds) makes each successful run start a
    post-processing run of that duration, as a workflow with a ``postproc``
    spec does. ``durations`` maps a started run's arguments to how long it
    runs (default: its ``sleep`` argument).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] | None = None,
        latency: float | Mapping[str, float] = 0.0,
        postproc: float | None = None,
        durations: Callable[[Mapping[str, Any]], float] | None = None,
        token: str = TOKEN,
    ) -> None:
        self.clock = clock or anyio.current_time
        self.latency: dict[str, float] = (
            {route: float(latency) for route in ROUTES}
            if isinstance(latency, (int, float)) else {r: latency.get(r, 0.0) for r in ROUTES}
        )
        self.postproc = postproc
        self.postproc_delay = 0.0
        """Seconds between a run's end and the post-processing run it triggers appearing."""
        self.durations = durations or _sleep_argument
        self.token = token
        self.groups: dict[str, FakeGroup] = {}
        self.runs: dict[str, FakeRun] = {}
        self.postproc_runs: list[FakeRun] = []
        self.requests: list[Record] = []
        self.counts: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.cancel_reasons: dict[str, str | None] = {}
        self.faults: list[Fault] = []
        self.cpu_seconds = 0.0
        self.record_requests = True
        self._ends: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._origin: tuple[float, datetime] | None = None
        self._lock = threading.RLock()
        self._events: list[anyio.Event] = []

    @property
    def url(self) -> str:
        """The API base URL to give the client along with this transport."""
        return BASE_URL

    # -- scripting -------------------------------------------------------------

    def now(self) -> float:
        """The fake's clock."""
        return self.clock()

    def add_group(self, workflow_id: str = "sleeper", name: str | None = None) -> str:
        """Create a group; returns its id."""
        group_id = uuid.uuid4().hex
        with self._lock:
            name = name or f"group-{group_id[:8]}"
            self.groups[group_id] = FakeGroup(group_id, name, workflow_id)
        return group_id

    def add_run(
        self,
        group_id: str | None,
        *,
        state: str = "RUNNING",
        duration: float | None = None,
        end_at: float | None = None,
        end_after_listings: int | None = None,
        end_state: str = "SUCCESS",
        messages: Iterable[str] = (),
        arguments: list[dict[str, Any]] | None = None,
        workflow_id: str = "sleeper",
    ) -> str:
        """Create a run, active unless ``state`` says otherwise; returns its id.

        It ends (in ``end_state``, with ``messages``) ``duration`` seconds from
        now, at clock time ``end_at``, or right after its group was listed
        ``end_after_listings`` more times; with none of these it stays active
        until :meth:`finish` is called.
        """
        with self._lock:
            now = self.now()
            group = self.groups[group_id] if group_id is not None else None
            run = FakeRun(
                id=uuid.uuid4().hex,
                group_id=group_id,
                workflow_id=group.workflow_id if group else workflow_id,
                arguments=list(arguments or []),
                created=now,
                state="PENDING" if state == "PENDING" else "RUNNING",
                started=None if state == "PENDING" else now,
                end_state=end_state,
                end_messages=list(messages),
            )
            self.runs[run.id] = run
            if group is not None:
                group.runs[run.id] = run
                group.listing_body = None
            if state not in ACTIVE:
                self._end(run, state, now, list(messages))
            if duration is not None:
                end_at = now + duration
            if end_at is not None:
                self._schedule(run, end_at)
            if end_after_listings is not None:
                assert group is not None, "only runs of a group are listed"
                when = group.listings + end_after_listings
                group.ends_after_listing.setdefault(when, []).append(run.id)
            self._notify()
            return run.id

    def end_at(self, run_id: str, when: float) -> None:
        """Make an active run end (in its ``end_state``) at clock time ``when``."""
        with self._lock:
            self._schedule(self.runs[run_id], when)

    def finish(
        self, run_id: str, state: str = "SUCCESS", messages: Iterable[str] | None = None
    ) -> None:
        """End an active run now."""
        with self._lock:
            run = self.runs[run_id]
            self._end(run, state, self.now(), list(messages or run.end_messages))
            self._notify()

    def set_state(self, run_id: str, raw_state: str) -> None:
        """Report any raw state string for a run from now on (for unknown-state tests)."""
        with self._lock:
            run = self.runs[run_id]
            run.state = raw_state
            run.end_at = None
            self._invalidate(run)
            self._notify()

    def delete(self, run_id: str) -> None:
        """Remove a run, as ``DELETE /runs/{id}`` does (even an active one)."""
        with self._lock:
            run = self.runs.pop(run_id)
            if run.group_id is not None:
                group = self.groups[run.group_id]
                del group.runs[run_id]
                group.listing_body = None
            self._notify()

    def state(self, run_id: str) -> str:
        """The run's current raw state."""
        with self._lock:
            self._advance(self.now())
            return self.runs[run_id].state

    def run(self, run_id: str) -> FakeRun:
        """The run object (with its timing: ``created``, ``finished`` on the fake's clock)."""
        with self._lock:
            self._advance(self.now())
            return self.runs[run_id]

    def handle(self, run_id: str) -> dict[str, Any]:
        """The run handle ``GET /runs/{id}`` would return now (for building snapshots)."""
        with self._lock:
            self._advance(self.now())
            return json.loads(self._run_body(self.runs[run_id]))  # type: ignore[no-any-return]

    def snapshot(self, run_id: str) -> Run:
        """The run as a client would have it after ``GET /runs/{id}`` (no request is counted)."""
        return Run.from_json(self.handle(run_id))

    def fail(
        self,
        route: str,
        *,
        status: int = 503,
        message: str | None = None,
        error: type[httpx.TransportError] | None = None,
        times: int | None = 1,
        target: str | None = None,
        after: int = 0,
        html: bool = False,
        body: object = None,
    ) -> Fault:
        """Make ``times`` requests of a route fail (``times=None``: until removed).

        The failure is an answer with ``status`` (JSON ``{"message"}``, an
        HTML page like a proxy's with ``html=True``, or the JSON ``body``
        given), or with ``error`` an ``httpx`` transport error raised as the
        transport would. ``target`` restricts it to one run or group id;
        ``after`` lets that many matching requests through first.
        """
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}")
        if body is not None:
            raw, content_type = _dump(body), "application/json"
        elif html:
            raw = f"<html><title>{status} fake</title><p>{message or 'fault'}</p></html>".encode()
            content_type = "text/html"
        else:
            raw = _dump({"message": message or f"fake fault {status}"})
            content_type = "application/json"
        fault = Fault(route, status, raw, content_type, error, times, target, after)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self.faults.clear()

    # -- counting ----------------------------------------------------------------

    def count(self, route: str | None = None, target: str | None = None) -> int:
        """How many requests (of a route, for a target id) were received so far."""
        if target is None:
            return sum(self.counts.values()) if route is None else self.counts[route]
        return sum(
            1 for r in self.requests
            if r.target == target and (route is None or r.route == route)
        )

    def times(self, route: str, target: str | None = None) -> list[float]:
        """Clock times of the requests of a route (for one target id)."""
        return [
            r.time for r in self.requests
            if r.route == route and (target is None or r.target == target)
        ]

    def reset_counts(self) -> None:
        """Forget the requests counted so far."""
        with self._lock:
            self.requests.clear()
            self.counts.clear()
            self.max_in_flight.clear()
            self.cpu_seconds = 0.0

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Wait (in the fake's event loop) until ``predicate()`` holds; re-checked on each request.

        Give it a deadline (``anyio.fail_after``): it waits forever otherwise.
        """
        while not predicate():
            event = anyio.Event()
            self._events.append(event)
            await event.wait()

    # -- the transport -------------------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as flowServ would."""
        method = request.method
        route, target, ids = _route(method, request.url.path)
        await request.aread()
        delay = self.latency.get(route, 0.0)
        with self._lock:
            self.counts[route] += 1
            if self.record_requests:
                self.requests.append(Record(self.now(), method, route, target))
            self.in_flight[route] += 1
            self.max_in_flight[route] = max(self.max_in_flight[route], self.in_flight[route])
        try:
            if delay:
                await anyio.sleep(delay / 2)
            started = time.process_time()
            extra: dict[str, str] = {}
            with self._lock:
                try:
                    fault = next((f for f in self.faults if f.applies(route, target)), None)
                    if fault is not None:
                        if fault.error is not None:
                            raise fault.error("fake transport failure", request=request)
                        status, body, content_type = fault.status, fault.body, fault.content_type
                    else:
                        answer = self._answer(route, ids, request)
                        status, body = answer[0], answer[1]
                        content_type = answer[2] if len(answer) > 2 else "application/json"
                        extra = answer[3] if len(answer) > 3 else {}
                finally:
                    self.cpu_seconds += time.process_time() - started
                    self._notify()
            if delay:
                await anyio.sleep(delay / 2)
        finally:
            with self._lock:
                self.in_flight[route] -= 1
        headers = {"Content-Type": content_type, "Access-Control-Allow-Origin": "*", **extra}
        return httpx.Response(status, content=body, headers=headers, request=request)

    def _answer(self, route: str, ids: list[str], request: httpx.Request) -> _Answer:
        now = self.now()
        self._advance(now)
        token = request.headers.get("api_key")
        if route == "get_workflow":
            return self._workflow(ids[0], token)
        if route in UNAUTHENTICATED_ROUTES:
            return self._download(route, ids, request)
        if route == "unknown":
            return 404, b"<!DOCTYPE html><title>404 Not Found</title><h1>Not Found</h1>"
        if route == "service":
            return 200, _dump({"name": "flowServ (fake)", "version": "0.8.1", "routes": []})
        if route == "whoami":  # the one route that tells an invalid token from a non-member
            if token != self.token:
                return 403, _dump({"message": "not logged in"})
            return 200, _dump({"id": USER_ID, "username": "alice"})
        if token is None:
            return 403, _dump({"message": "not logged in"})
        if token != self.token:
            return 403, _dump({"message": "not authorized"})
        if route in ("list_runs", "start_run", "get_group", "upload_file", "list_uploads",
                     "delete_upload"):
            group = self.groups.get(ids[0])
            if group is None:
                return 404, _dump({"message": f"unknown group '{ids[0]}'"})
            if route == "list_runs":
                return 200, self._listing(group, now)
            if route == "get_group":
                return 200, self._group_body(group)
            if route == "start_run":
                return self._start(group, request, now)
            return self._uploads(route, group, ids, request, now)
        run = self.runs.get(ids[0])
        if run is None:
            return 404, _dump({"message": f"unknown run '{ids[0]}'"})
        if route == "get_run":
            return 200, self._run_body(run)
        if route == "cancel_run":
            return self._cancel(run, request, now)
        if run.active:
            return 400, _dump({"message": _BAD_STATE})
        self.delete(run.id)
        return 204, b""

    def _listing(self, group: FakeGroup, now: float) -> bytes:
        if group.listing_body is None:
            group.listing_body = _dump({"runs": [
                {"createdAt": self._iso(run.created), "id": run.id, "state": run.state}
                for run in group.runs.values()
            ]})
        body = group.listing_body
        group.listings += 1
        for run_id in group.ends_after_listing.pop(group.listings, ()):
            run = self.runs.get(run_id)
            if run is not None and run.active:
                self._end(run, run.end_state, now, run.end_messages)
        return body

    def _start(self, group: FakeGroup, request: httpx.Request, now: float) -> tuple[int, bytes]:
        try:
            doc = json.loads(request.content or b"{}")
        except ValueError:
            return 400, b"<title>400 Bad Request</title>"
        for key in doc:
            if key != "arguments":
                return 400, _dump({"message": f"unknown element '{key}'"})
        arguments = doc.get("arguments", [])
        if not isinstance(arguments, list):
            return 500, _dump({"error": "500 Internal Server Error: arguments not a list"})
        values: dict[str, Any] = {}
        names = {p["name"] for p in SLEEPER_PARAMETERS}
        for arg in arguments:
            if not isinstance(arg, dict) or "value" not in arg:
                return 500, _dump({"error": "500 Internal Server Error: no value"})
            if arg.get("name") not in names:
                return 400, _dump({"message": f"unknown parameter '{arg.get('name')}'"})
            if arg["name"] in values:
                return 400, _dump({"message": f"non-unique run argument '{arg['name']}'"})
            if arg["name"] == "names":
                value = arg["value"]
                if not isinstance(value, dict) or value.get("type") != "$file":
                    return 400, _dump({"message": f"invalid source type '{type(value)}'"})
                file_id = (value.get("value") or {}).get("fileId")
                if file_id not in group.uploads:
                    return 404, _dump({"message": f"unknown file '{file_id}'"})
            values[arg["name"]] = arg["value"]
        exitcode = int(values.get("exitcode") or 0)
        sleep = float(values.get("sleep") or 0.0)
        messages = [f"sleeper: sleeping {sleep}s\n"]
        if exitcode:
            messages.append(f"sleeper: failing on purpose with exit code {exitcode}\n")
        run_id = self.add_run(
            group.id, duration=self.durations(values), arguments=arguments,
            end_state="ERROR" if exitcode else "SUCCESS", messages=messages,
        )
        run = self.runs[run_id]
        body = self._run_doc(run)
        body["state"] = "RUNNING"  # the POST answers RUNNING even if the run already ended
        body.pop("finishedAt", None)
        body.pop("files", None)
        body.pop("messages", None)
        return 201, _dump(body)

    def _cancel(self, run: FakeRun, request: httpx.Request, now: float) -> tuple[int, bytes]:
        try:
            doc = json.loads(request.content or b"{}")
        except ValueError:
            return 400, b"<title>400 Bad Request</title>"
        if not isinstance(doc, dict) or (doc and "reason" not in doc):
            return 400, _dump({"message": "missing element 'reason'"})
        if not run.active:
            return 400, _dump({"message": _BAD_STATE})
        reason = doc.get("reason")
        self.cancel_reasons[run.id] = reason
        self._end(run, "CANCELED", now, [reason or "canceled at user request"])
        return 200, self._run_body(run)

    # -- documents -------------------------------------------------------------------

    def _iso(self, clock_time: float) -> str:
        if self._origin is None:
            self._origin = (self.now(), datetime.now(timezone.utc))
        start, wall = self._origin
        return (wall + timedelta(seconds=clock_time - start)).isoformat(timespec="microseconds")

    def _run_doc(self, run: FakeRun) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "arguments": run.arguments,
            "createdAt": self._iso(run.created),
            "id": run.id,
            "state": run.state,
            "workflowId": run.workflow_id,
        }
        if run.group_id is not None:
            doc["groupId"] = run.group_id
            doc["parameters"] = SLEEPER_PARAMETERS
        if run.started is not None:
            doc["startedAt"] = self._iso(run.started)
        if run.finished is not None:
            doc["finishedAt"] = self._iso(run.finished)
        if run.state == "SUCCESS":
            doc["files"] = run.files
        elif run.state in ("ERROR", "CANCELED"):
            doc["messages"] = run.messages
        return doc

    def _run_body(self, run: FakeRun) -> bytes:
        return _dump(self._run_doc(run))

    def _group_body(self, group: FakeGroup) -> bytes:
        return _dump({
            "config": None,
            "files": [self._upload_doc(upload) for upload in group.uploads.values()],
            "id": group.id,
            "members": [{"id": USER_ID, "username": "alice"}],
            "name": group.name,
            "parameters": SLEEPER_PARAMETERS,
            "runs": [
                {"createdAt": self._iso(run.created), "id": run.id, "state": run.state}
                for run in group.runs.values()
            ],
            "workflow": group.workflow_id,
        })

    def _workflow(self, workflow_id: str, token: str | None) -> tuple[int, bytes]:
        if workflow_id != "sleeper":
            return 404, _dump({"message": f"unknown workflow '{workflow_id}'"})
        doc: dict[str, Any] = {
            "description": "Test workflow: sleeps N seconds (fake server)",
            "id": "sleeper",
            "instructions": "# Sleeper\n\nSleeps `sleep` seconds.",
            "name": "Sleeper",
            "parameterGroups": [{"index": 0, "name": "main", "title": "Main step"}],
            "parameters": SLEEPER_PARAMETERS,
        }
        if token == self.token:
            doc["groups"] = [
                {"id": g.id, "name": g.name, "workflow": g.workflow_id}
                for g in self.groups.values()
            ]
        post = self._postproc_doc()
        if post is not None:
            doc["postproc"] = post
        return 200, _dump(doc)

    def _postproc_doc(self) -> dict[str, Any] | None:
        """The handle of the latest post-processing run made so far (None: none yet)."""
        made = [post for post in self.postproc_runs if post.created <= self.now()]
        if not made:
            return None
        doc = self._run_doc(made[-1])
        doc["arguments"] = [{"name": "runs", "value": {"type": "$file", "value": {
            "fileId": "/tmp/fake-postproc", "targetPath": "runs/"}}}]
        return doc

    # -- uploads, downloads and the leaderboard ------------------------------------------

    def _uploads(
        self, route: str, group: FakeGroup, ids: list[str], request: httpx.Request, now: float
    ) -> _Answer:
        if route == "list_uploads":
            return 200, _dump({"files": [self._upload_doc(u) for u in group.uploads.values()]})
        if route == "delete_upload":
            if group.uploads.pop(ids[1], None) is None:
                return 404, _dump({"message": f"unknown file '{ids[1]}'"})
            return 204, b""
        if len(request.content) > MAX_UPLOAD:
            return 413, _dump({"error": "413 Request Entity Too Large"})
        part = _file_part(request)
        if part is None:
            return 400, _dump({"message": "no file request"})
        name = _secure_filename(part[0])
        if not name:
            return 400, _dump({"message": "invalid name"})
        upload = FakeUpload(uuid.uuid4().hex, name, now, part[1])
        group.uploads[upload.id] = upload
        return 201, _dump(self._upload_doc(upload))

    def _upload_doc(self, upload: FakeUpload) -> dict[str, Any]:
        return {"createdAt": self._iso(upload.created), "id": upload.id, "name": upload.name,
                "size": 0}  # (flowServ 0.8.1 always says 0)

    def _download(self, route: str, ids: list[str], request: httpx.Request) -> _Answer:
        if route == "get_upload":
            group = self.groups.get(ids[0])
            upload = group.uploads.get(ids[1]) if group is not None else None
            if upload is None:
                return 404, _dump({"message": f"unknown file '{ids[1]}'"})
            return _file_answer(upload.name, upload.content, f"filename={upload.name}")
        if route in ("download_file", "download_archive"):
            run = self.runs.get(ids[0])
            if run is None or (route == "download_archive" and run.state != "SUCCESS"):
                return 404, _dump({"message": f"unknown run '{ids[0]}'"})
            return _files_answer(self._contents(run), ids[1:], "run.tar.gz")
        if ids[0] != "sleeper":
            return 404, _dump({"message": f"unknown workflow '{ids[0]}'"})
        if route == "leaderboard":
            return self._leaderboard(request)
        done = [p for p in self.postproc_runs if p.state == "SUCCESS"]
        if not done:
            return 404, _dump({"message": "unknown file 'no post-processing workflow'"})
        return _files_answer(self._contents(done[-1]), ids[1:], "results.tar.gz")

    def _contents(self, run: FakeRun) -> dict[str, tuple[str, bytes]]:
        """A run's output files by file id: what the sleeper template writes for its arguments.

        A post-processing run's summary covers the runs ranked when it was made;
        it is made when first asked for, and kept.
        """
        if run.contents is not None or run.state != "SUCCESS":
            return run.contents or {}
        if run.group_id is None:
            ranked = self._ranking(run.workflow_id, [("sleep", False)], False, until=run.created)
            summary = [{"group": entry["group"]["name"], "run": entry["run"]["id"],
                        "sleep": entry["results"][0]["value"]} for entry in ranked]
            run.contents = {run.files[0]["id"]: (SUMMARY_PATH, json.dumps(summary).encode())}
            return run.contents
        values = {a.get("name"): a.get("value") for a in run.arguments if isinstance(a, dict)}
        names = ["Alice", "Bob"]
        source = values.get("names")
        group = self.groups.get(run.group_id or "")
        if isinstance(source, dict) and group is not None:
            upload = group.uploads.get(str((source.get("value") or {}).get("fileId")))
            if upload is not None:
                text = upload.content.decode(errors="replace")
                names = [line.strip() for line in text.splitlines() if line.strip()]
        lines = [f"{values.get('greeting', 'Hello')} {name}!" for name in names]
        if values.get("mode") == "upper" or str(values.get("shout")).lower() in ("1", "t", "true"):
            lines = [line.upper() for line in lines]
        result = {"sleep": float(values.get("sleep") or 0.0), "count": len(names),
                  "mode": values.get("mode", "plain"),
                  "exitcode": int(values.get("exitcode") or 0)}
        made = {"greetings": ("\n".join(lines) + "\n").encode(),
                "result": json.dumps(result).encode()}
        return {f["id"]: (OUTPUT_PATHS[f["name"]], made[f["name"]])
                for f in run.files if f["name"] in made}

    def _leaderboard(self, request: httpx.Request) -> _Answer:
        params = request.url.params
        order = [("sleep", False)]  # the template's orderBy: sleep, ascending
        if "orderBy" in params:
            if not params["orderBy"]:
                return 500, _dump({"error": "500 Internal Server Error"})
            order = []
            for item in params["orderBy"].split(","):
                column, _, direction = item.partition(":")
                if column not in ("sleep", "count") or direction not in ("", "asc", "desc"):
                    return 400, _dump({"message": f"invalid order '{item}'"})
                order.append((column, direction != "asc"))  # a bare column: descending
        include_all = params.get("includeAll", "false").lower() in ("", "true")
        doc: dict[str, Any] = {"ranking": self._ranking("sleeper", order, include_all),
                               "schema": RESULT_SCHEMA}
        post = self._postproc_doc()
        if post is not None:
            doc["postproc"] = post
        return 200, _dump(doc)

    def _ranking(
        self, workflow_id: str, order: list[tuple[str, bool]], include_all: bool,
        until: float | None = None,
    ) -> list[dict[str, Any]]:
        """Leaderboard entries of the workflow's successful runs (ended by ``until``, if given)."""
        entries: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for group in self.groups.values():
            if group.workflow_id != workflow_id:
                continue
            for run in group.runs.values():
                if run.state != "SUCCESS" or (
                    until is not None and (run.finished is None or run.finished > until)
                ):
                    continue
                result = next((json.loads(content) for path, content
                               in self._contents(run).values() if path == OUTPUT_PATHS["result"]),
                              {"sleep": 0.0, "count": 0})
                entries.append((result, {
                    "group": {"id": group.id, "name": group.name},
                    "results": [{"name": c["name"], "value": result[c["name"]]}
                                for c in RESULT_SCHEMA],
                    "run": {"createdAt": self._iso(run.created), "finishedAt":
                            self._iso(run.finished or run.created), "id": run.id,
                            "startedAt": self._iso(run.started or run.created)},
                }))
        for column, descending in reversed(order):
            entries.sort(key=lambda entry: entry[0][column], reverse=descending)
        seen: set[str] = set()
        ranking = []
        for _, entry in entries:
            if include_all or entry["group"]["id"] not in seen:
                seen.add(entry["group"]["id"])
                ranking.append(entry)
        return ranking

    # -- state changes -------------------------------------------------------------------

    def _schedule(self, run: FakeRun, end_at: float) -> None:
        run.end_at = end_at
        heapq.heappush(self._ends, (end_at, next(self._seq), run.id))

    def _advance(self, now: float) -> None:
        while self._ends and self._ends[0][0] <= now:
            end_at, _, run_id = heapq.heappop(self._ends)
            run = self.runs.get(run_id)
            if run is not None and run.active and run.end_at == end_at:
                self._end(run, run.end_state, end_at, run.end_messages)

    def _end(self, run: FakeRun, state: str, at: float, messages: list[str]) -> None:
        run.state = state
        run.end_at = None
        run.finished = at
        if run.started is None:
            run.started = at
        if state in ("ERROR", "CANCELED"):
            run.messages = list(messages)
        self._invalidate(run)
        if state == "SUCCESS" and run.group_id is not None and self.postproc is not None:
            created = at + self.postproc_delay
            post = FakeRun(
                id=uuid.uuid4().hex, group_id=None, workflow_id=run.workflow_id,
                arguments=[], created=created, started=created,
                files=[{"caption": "Sleep time of every run in the ranking.",
                        "format": {"type": "json"}, "id": uuid.uuid4().hex,
                        "name": SUMMARY_PATH, "title": "Summary"}],
            )
            self.runs[post.id] = post
            self.postproc_runs.append(post)
            self._schedule(post, created + self.postproc)

    def _invalidate(self, run: FakeRun) -> None:
        if run.group_id is not None and run.group_id in self.groups:
            self.groups[run.group_id].listing_body = None

    def _notify(self) -> None:
        events, self._events = self._events, []
        for event in events:
            event.set()


_BAD_STATE = (
    "invalid operation for run in state <bound method RunObject.state of "
    "<flowserv.model.base.RunObject object at 0x7f0000000000>>"
)


def _result_files() -> list[dict[str, Any]]:
    """The sleeper's output files (made with the run, shown once it succeeded)."""
    return [
        {"caption": "One greeting per name.", "format": {"type": "plaintext"},
         "id": uuid.uuid4().hex, "name": "greetings", "title": "Greetings", "widget": "TextView"},
        {"format": {"type": "json"}, "id": uuid.uuid4().hex, "name": "result", "title": "Result"},
    ]


_Answer = tuple[int, bytes] | tuple[int, bytes, str, dict[str, str]]
"""Status and body, and for downloads the content type and more headers."""


def _file_answer(path: str, content: bytes, disposition: str) -> _Answer:
    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if kind.startswith("text/"):
        kind += "; charset=utf-8"
    return 200, content, kind, {"Content-Disposition": f"attachment; {disposition}"}


def _files_answer(contents: dict[str, tuple[str, bytes]], file_id: list[str],
                  archive: str) -> _Answer:
    """One output file (``file_id`` given) or all of them as a gzipped tar archive."""
    if file_id:
        if file_id[0] not in contents:
            return 404, _dump({"message": f"unknown file '{file_id[0]}'"})
        path, content = contents[file_id[0]]
        return _file_answer(path, content, f'filename="{path}"')
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, content in contents.values():
            member = tarfile.TarInfo(path)
            member.size = len(content)
            tar.addfile(member, io.BytesIO(content))
    return 200, buffer.getvalue(), "application/gzip", {
        "Content-Disposition": f"attachment; filename={archive}"}


def _file_part(request: httpx.Request) -> tuple[str, bytes] | None:
    """(file name, content) of the multipart field ``file``, the only one flowServ reads."""
    match = re.search(r"boundary=\"?([^\";]+)", request.headers.get("content-type", ""))
    if match is None:
        return None
    for part in request.content.split(b"--" + match.group(1).encode()):
        head, _, body = part.partition(b"\r\n\r\n")
        disposition = re.search(rb'name="([^"]*)"(?:; filename="([^"]*)")?', head)
        if disposition and disposition.group(1) == b"file" and disposition.group(2) is not None:
            return disposition.group(2).decode(errors="replace"), body.removesuffix(b"\r\n")
    return None


def _secure_filename(name: str) -> str:
    """The name as Werkzeug's ``secure_filename`` stores it (ASCII, no path)."""
    name = name.encode("ascii", "ignore").decode().replace("/", " ").replace("\\", " ")
    return re.sub(r"[^A-Za-z0-9_.-]", "", "_".join(name.split())).strip("._")


def _sleep_argument(arguments: Mapping[str, Any]) -> float:
    return float(arguments.get("sleep") or 0.0)


def _route(method: str, path: str) -> tuple[str, str | None, list[str]]:
    """(route name, target id, path ids) of a request path."""
    if not path.startswith(API_PATH + "/"):
        return "unknown", None, []
    if path == API_PATH + "/" and method == "GET":
        return "service", None, []
    parts = path[len(API_PATH) + 1:].split("/")
    if parts == ["users", "whoami"] and method == "GET":
        return "whoami", None, []
    if parts[0] == "uploads" and len(parts) in (3, 4) and parts[2] == "files":
        if len(parts) == 3:
            route = {"POST": "upload_file", "GET": "list_uploads"}.get(method)
        else:
            route = {"GET": "get_upload", "DELETE": "delete_upload"}.get(method)
        if route:
            return route, parts[1], parts[1::2]
    if method == "GET" and len(parts) >= 3 and parts[0] in ("runs", "workflows"):
        kind = "download" if parts[0] == "runs" else "postproc"
        if parts[2:] == ["downloads", "archive"]:
            return f"{kind}_archive", parts[1], [parts[1]]
        if parts[2:4] == ["downloads", "files"] and len(parts) == 5:
            return f"{kind}_file", parts[1], [parts[1], parts[4]]
        if parts[0] == "workflows" and parts[2:] == ["leaderboard"]:
            return "leaderboard", parts[1], [parts[1]]
    if len(parts) == 3 and parts[0] == "groups" and parts[2] == "runs":
        if method == "GET":
            return "list_runs", parts[1], [parts[1]]
        if method == "POST":
            return "start_run", parts[1], [parts[1]]
    elif len(parts) == 2 and parts[0] == "runs":
        route = {"GET": "get_run", "PUT": "cancel_run", "DELETE": "delete_run"}.get(method)
        if route:
            return route, parts[1], [parts[1]]
    elif len(parts) == 2 and parts[0] == "groups" and method == "GET":
        return "get_group", parts[1], [parts[1]]
    elif len(parts) == 2 and parts[0] == "workflows" and method == "GET":
        return "get_workflow", parts[1], [parts[1]]
    return "unknown", None, []
