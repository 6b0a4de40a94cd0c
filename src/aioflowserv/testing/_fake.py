"""FakeFlowserv: an in-process fake flowServ server, for tests of code that uses aioflowserv.

:class:`FakeFlowserv` is an ``httpx.AsyncBaseTransport``: pass it as
``transport=`` to :class:`aioflowserv.AsyncFlowserv` (or the sync facade) with
its ``url`` and ``token``. It answers every REST route the client sends,
matched against the same route table the client sends them from, with the
response shapes of a real flowServ 0.8 server (keys sorted, compact JSON as
Flask writes it), for groups of the ``sleeper`` test workflow that ships with
aioflowserv. Like the real server it needs no token for the workflow listing
and metadata, the leaderboard and downloads, and says "not logged in" without
one elsewhere. In particular:

- a run started with ``POST /groups/{g}/runs`` lasts its ``sleep`` argument;
  ``exitcode`` other than 0 makes it end in ERROR; ``names`` may be an upload;
- uploads take the multipart field ``file``, store names made safe as the
  server does, 16 MiB at most;
- a run's files (``results/greetings.txt``, ``results/result.json``) and
  archive are made from its arguments as the real template makes them; the
  leaderboard (``orderBy``, ``includeAll``) ranks the successful runs, and,
  with ``postproc=``, a post-processing run summarises them
  (``results/summary.json``);
- users: ``alice`` and whoever registers; all of them log in with the fake's
  one token (``whoami`` says alice).

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

Counts, faults and latencies name routes as the client's route table does
(``list_runs``, ``start_run``, ``get_run``, ``cancel_run``, ...: the
``AsyncFlowserv`` method), except nine routes that keep the names the fake
gave them first (:data:`FAKE_NAMES`): ``service``, ``list_uploads``,
``get_upload``, ``delete_upload``, ``download_file`` (a run's result file:
the table's ``download_run_file``; an uploaded file is ``get_upload``),
``download_archive``, ``leaderboard``, ``postproc_file`` and
``postproc_archive``. :data:`ROUTES` lists every name. ``count``, ``times``,
``fail`` and ``latency=`` also take the table's name of those routes (all but
``download_file``, which on the fake stays a run's file). Requests that match
no route count as ``unknown``.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import anyio
import httpx

from .._models import Run
from .._routes import ALL_ROUTES, API_PATH, Route, Routes, find_route, server_filename
from ._fake_model import (
    ACTIVE,
    BAD_STATE,
    SLEEPER_PARAMETERS,
    Call,
    FakeGroup,
    FakeRun,
    FakeUpload,
    Fault,
    Record,
    Refused,
    read_body,
    read_json,
)
from ._fake_results import (
    MAX_UPLOAD,
    RESULT_SCHEMA,
    SUMMARY_PATH,
    Answer,
    dump,
    file_answer,
    file_part,
    files_answer,
    leaderboard_order,
    not_found,
    ranked,
    result_values,
    sleeper_outputs,
    summary,
)

__all__ = [
    "BASE_URL", "FAKE_NAMES", "ROUTES", "SLEEPER_PARAMETERS", "TOKEN", "Fault", "FakeFlowserv",
    "FakeRun", "FakeUpload",
]

BASE_URL = f"http://flowserv.fake{API_PATH}"
TOKEN = "fake0123456789abcdef0123456789ab"
USER_ID = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"
FAKE_NAMES = {
    "service_info": "service", "list_files": "list_uploads", "download_file": "get_upload",
    "delete_file": "delete_upload", "download_run_file": "download_file",
    "download_run_archive": "download_archive", "get_leaderboard": "leaderboard",
    "download_postproc_file": "postproc_file", "download_postproc_archive": "postproc_archive",
}
"""The fake's names of the routes whose table name differs (kept from before the table)."""
ROUTES = tuple(FAKE_NAMES.get(route.name, route.name) for route in ALL_ROUTES)
"""The fake's name of every route, for counts, faults and latencies."""
_BY_TABLE_NAME = {name: fake for name, fake in FAKE_NAMES.items() if name not in ROUTES}


class FakeFlowserv(httpx.AsyncBaseTransport):
    """An in-process flowServ: an httpx transport with scripted runs, counters and faults.

    ``clock`` gives the current time (default: anyio's clock, so it must then
    be read inside the event loop; pass ``time.monotonic`` when the fake is
    driven from a thread, as with the sync facade). ``latency`` delays every
    answer (seconds, half before and half after computing it), or per route
    with a mapping. ``postproc`` (seconds) makes each successful run start a
    post-processing run of that duration, as a workflow with a ``postproc``
    spec does. ``durations`` maps a started run's arguments to how long it
    runs (default: its ``sleep`` argument). Routes are named as the client's
    methods that send them (``list_runs``, ``start_run``, ``get_run``, ...),
    nine of them as the fake first named them (``leaderboard``,
    ``download_file`` for a run's file, ...: the module's ``ROUTES``).
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
        delays = latency if isinstance(latency, Mapping) else dict.fromkeys(ROUTES, latency)
        self.latency: dict[str, float] = dict.fromkeys(ROUTES, 0.0)
        """Seconds each answer of a route is delayed, by the fake's route name."""
        self.latency.update({_fake_name(name): float(delay) for name, delay in delays.items()})
        self.postproc = postproc
        self.postproc_delay = 0.0
        """Seconds between a run's end and the post-processing run it triggers appearing."""
        self.durations = durations or _sleep_argument
        self.token = token
        self.users = {"alice": USER_ID}
        """User ids by name (every user of the fake logs in with its one token)."""
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

        ``route`` is one of :data:`ROUTES` (or the route table's name of one).

        The failure is an answer with ``status`` (JSON ``{"message"}``, an
        HTML page like a proxy's with ``html=True``, or the JSON ``body``
        given), or with ``error`` an ``httpx`` transport error raised as the
        transport would. ``target`` restricts it to one run or group id;
        ``after`` lets that many matching requests through first.
        """
        route = _fake_name(route)
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}: the fake's routes are {', '.join(ROUTES)}")
        if body is not None:
            raw, content_type = dump(body), "application/json"
        elif html:
            raw = f"<html><title>{status} fake</title><p>{message or 'fault'}</p></html>".encode()
            content_type = "text/html"
        else:
            raw = dump({"message": message or f"fake fault {status}"})
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
        route = None if route is None else _fake_name(route)
        if target is None:
            return sum(self.counts.values()) if route is None else self.counts[route]
        return sum(
            1 for r in self.requests
            if r.target == target and (route is None or r.route == route)
        )

    def times(self, route: str, target: str | None = None) -> list[float]:
        """Clock times of the requests of a route (for one target id)."""
        route = _fake_name(route)
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
        table_route, route, ids = _route_of(request)
        target = ids[0] if ids else None
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
                        answer = self._answer(table_route, ids, request)
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

    def _answer(self, route: Route | None, ids: list[str], request: httpx.Request) -> Answer:
        """The answer of the route's handler (``_on_`` + its name), after the token check."""
        now = self.now()
        self._advance(now)
        if route is None:
            return 404, b"<!DOCTYPE html><title>404 Not Found</title><h1>Not Found</h1>"
        token = request.headers.get("api_key")
        if route.auth and token != self.token:
            # whoami is the one route that tells an invalid token from a non-member
            known = token is not None and route is not Routes.whoami
            return 403, dump({"message": "not authorized" if known else "not logged in"})
        handler: Callable[[Call], Answer] | None = getattr(self, f"_on_{route.name}", None)
        if handler is None:  # a route added to the table and not yet to the fake
            return 501, dump({"message": f"FakeFlowserv does not answer {route.name} yet"})
        try:
            return handler(Call(ids, request, token, now))
        except Refused as refused:
            return refused.answer

    def _group(self, group_id: str) -> FakeGroup:
        group = self.groups.get(group_id)
        if group is None:
            raise Refused(not_found("group", group_id))
        return group

    def _run(self, run_id: str) -> FakeRun:
        run = self.runs.get(run_id)
        if run is None:
            raise Refused(not_found("run", run_id))
        return run

    # -- service, users, workflows and groups -------------------------------------------

    def _on_service_info(self, call: Call) -> Answer:
        return 200, dump({"name": "flowServ (fake)", "version": "0.8.1", "routes": []})

    def _on_register_user(self, call: Call) -> Answer:
        doc = read_body(call.request, required=("username", "password"), optional=("verify",))
        if doc["username"] in self.users:
            return 400, dump({"message": f"duplicate user '{doc['username']}'"})
        self.users[doc["username"]] = uuid.uuid4().hex
        return 201, self._user(doc["username"])

    def _on_activate_user(self, call: Call) -> Answer:
        user_id = read_body(call.request, required=("id",))["id"]
        name = next((name for name, known in self.users.items() if known == user_id), None)
        return (200, self._user(name)) if name is not None else not_found("user", user_id)

    def _on_login(self, call: Call) -> Answer:
        name = read_body(call.request, required=("username", "password"))["username"]
        if name not in self.users:
            return not_found("user", name)
        return 200, self._user(name, token=self.token)

    def _on_logout(self, call: Call) -> Answer:
        return 200, self._user("alice")

    def _on_whoami(self, call: Call) -> Answer:
        return 200, self._user("alice", token=self.token)

    def _user(self, name: str, **more: str) -> bytes:
        return dump({"id": self.users[name], "username": name, **more})

    def _on_list_workflows(self, call: Call) -> Answer:
        doc = json.loads(self._workflow("sleeper", None)[1])
        return 200, dump({"workflows": [
            {key: doc[key] for key in ("description", "id", "instructions", "name")}]})

    def _on_get_workflow(self, call: Call) -> Answer:
        return self._workflow(call.ids[0], call.token)

    def _on_create_group(self, call: Call) -> Answer:
        workflow_id = call.ids[0]
        if workflow_id != "sleeper":
            return not_found("workflow", workflow_id)
        name = read_body(call.request, required=("name",), optional=("members",))["name"]
        if any(g.name == name and g.workflow_id == workflow_id for g in self.groups.values()):
            return 400, dump({"message": f"group '{name}' exists"})
        group = self.groups[self.add_group(workflow_id, name)]
        doc = json.loads(self._group_body(group))
        del doc["runs"]
        return 201, dump(doc)

    def _on_list_groups(self, call: Call) -> Answer:
        return 200, dump({"groups": [
            {"id": g.id, "name": g.name, "workflow": g.workflow_id}
            for g in self.groups.values() if g.workflow_id == call.ids[0]]})

    def _on_get_group(self, call: Call) -> Answer:
        return 200, self._group_body(self._group(call.ids[0]))

    def _on_update_group(self, call: Call) -> Answer:
        group = self._group(call.ids[0])
        group.name = read_body(call.request, optional=("name", "members")).get("name", group.name)
        doc = json.loads(self._group_body(group))
        del doc["runs"]
        return 200, dump(doc)

    def _on_delete_group(self, call: Call) -> Answer:
        del self.groups[self._group(call.ids[0]).id]
        return 204, b""

    # -- runs ----------------------------------------------------------------------------

    def _on_list_runs(self, call: Call) -> Answer:
        group = self._group(call.ids[0])
        if group.listing_body is None:
            group.listing_body = dump({"runs": [
                {"createdAt": self._iso(run.created), "id": run.id, "state": run.state}
                for run in group.runs.values()
            ]})
        body = group.listing_body
        group.listings += 1
        for run_id in group.ends_after_listing.pop(group.listings, ()):
            run = self.runs.get(run_id)
            if run is not None and run.active:
                self._end(run, run.end_state, call.now, run.end_messages)
        return 200, body

    def _on_start_run(self, call: Call) -> Answer:
        group = self._group(call.ids[0])
        arguments = read_body(call.request, optional=("arguments",)).get("arguments", [])
        if not isinstance(arguments, list):
            return 500, dump({"error": "500 Internal Server Error: arguments not a list"})
        values: dict[str, Any] = {}
        names = {p["name"] for p in SLEEPER_PARAMETERS}
        for arg in arguments:
            if not isinstance(arg, dict) or "value" not in arg:
                return 500, dump({"error": "500 Internal Server Error: no value"})
            if arg.get("name") not in names:
                return 400, dump({"message": f"unknown parameter '{arg.get('name')}'"})
            if arg["name"] in values:
                return 400, dump({"message": f"non-unique run argument '{arg['name']}'"})
            if arg["name"] == "names":
                value = arg["value"]
                if not isinstance(value, dict) or value.get("type") != "$file":
                    return 400, dump({"message": f"invalid source type '{type(value)}'"})
                file_id = (value.get("value") or {}).get("fileId")
                if file_id not in group.uploads:
                    return not_found("file", str(file_id))
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
        return 201, dump(body)

    def _on_get_run(self, call: Call) -> Answer:
        return 200, self._run_body(self._run(call.ids[0]))

    def _on_cancel_run(self, call: Call) -> Answer:
        run = self._run(call.ids[0])
        doc = read_json(call.request)
        if not isinstance(doc, dict) or (doc and "reason" not in doc):
            return 400, dump({"message": "missing element 'reason'"})
        if not run.active:
            return 400, dump({"message": BAD_STATE})
        reason = doc.get("reason")
        self.cancel_reasons[run.id] = reason
        self._end(run, "CANCELED", call.now, [reason or "canceled at user request"])
        return 200, self._run_body(run)

    def _on_delete_run(self, call: Call) -> Answer:
        run = self._run(call.ids[0])
        if run.active:
            return 400, dump({"message": BAD_STATE})
        self.delete(run.id)
        return 204, b""

    def _on_download_run_file(self, call: Call) -> Answer:
        return files_answer(self._contents(self._run(call.ids[0])), call.ids[1], "run.tar.gz")

    def _on_download_run_archive(self, call: Call) -> Answer:
        run = self.runs.get(call.ids[0])
        if run is None or run.state != "SUCCESS":
            return not_found("run", call.ids[0])
        return files_answer(self._contents(run), None, "run.tar.gz")

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
        return dump(self._run_doc(run))

    def _group_body(self, group: FakeGroup) -> bytes:
        return dump({
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
            return 404, dump({"message": f"unknown workflow '{workflow_id}'"})
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
        return 200, dump(doc)

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

    def _on_upload_file(self, call: Call) -> Answer:
        group = self._group(call.ids[0])
        if len(call.request.content) > MAX_UPLOAD:
            return 413, dump({"error": "413 Request Entity Too Large"})
        part = file_part(call.request.headers.get("content-type", ""), call.request.content)
        if part is None:
            return 400, dump({"message": "no file request"})
        name = server_filename(part[0])
        if not name:
            return 400, dump({"message": "invalid name"})
        upload = FakeUpload(uuid.uuid4().hex, name, call.now, part[1])
        group.uploads[upload.id] = upload
        return 201, dump(self._upload_doc(upload))

    def _on_list_files(self, call: Call) -> Answer:
        uploads = self._group(call.ids[0]).uploads.values()
        return 200, dump({"files": [self._upload_doc(upload) for upload in uploads]})

    def _on_delete_file(self, call: Call) -> Answer:
        if self._group(call.ids[0]).uploads.pop(call.ids[1], None) is None:
            return not_found("file", call.ids[1])
        return 204, b""

    def _on_download_file(self, call: Call) -> Answer:
        group = self.groups.get(call.ids[0])
        upload = group.uploads.get(call.ids[1]) if group is not None else None
        if upload is None:
            return not_found("file", call.ids[1])
        return file_answer(upload.name, upload.content, f"filename={upload.name}")

    def _upload_doc(self, upload: FakeUpload) -> dict[str, Any]:
        return {"createdAt": self._iso(upload.created), "id": upload.id, "name": upload.name,
                "size": 0}  # (flowServ 0.8.1 always says 0)

    def _on_get_leaderboard(self, call: Call) -> Answer:
        _sleeper(call.ids[0])
        order = leaderboard_order(call.request.url.params)
        if not isinstance(order, list):
            return order
        include_all = call.request.url.params.get("includeAll", "false").lower() in ("", "true")
        doc: dict[str, Any] = {"ranking": self._ranking("sleeper", order, include_all),
                               "schema": RESULT_SCHEMA}
        post = self._postproc_doc()
        if post is not None:
            doc["postproc"] = post
        return 200, dump(doc)

    def _on_download_postproc_file(self, call: Call) -> Answer:
        return files_answer(self._postproc_contents(call.ids[0]), call.ids[1], "results.tar.gz")

    def _on_download_postproc_archive(self, call: Call) -> Answer:
        return files_answer(self._postproc_contents(call.ids[0]), None, "results.tar.gz")

    def _postproc_contents(self, workflow_id: str) -> dict[str, tuple[str, bytes]]:
        _sleeper(workflow_id)
        done = [post for post in self.postproc_runs if post.state == "SUCCESS"]
        if not done:
            raise Refused(not_found("file", "no post-processing workflow"))
        return self._contents(done[-1])

    def _contents(self, run: FakeRun) -> dict[str, tuple[str, bytes]]:
        """A run's output files by file id: what the sleeper template writes for its arguments.

        A post-processing run's summary covers the runs ranked when it was made;
        it is made when first asked for, and kept.
        """
        if run.contents is not None or run.state != "SUCCESS":
            return run.contents or {}
        if run.group_id is None:
            ranking = self._ranking(run.workflow_id, [("sleep", False)], False, until=run.created)
            run.contents = summary(run.files[0]["id"], ranking)
            return run.contents
        group = self.groups.get(run.group_id)
        uploads = {u.id: u.content for u in group.uploads.values()} if group is not None else {}
        return sleeper_outputs(run.arguments, uploads, run.files)

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
                result = result_values(self._contents(run))
                entries.append((result, {
                    "group": {"id": group.id, "name": group.name},
                    "results": [{"name": c["name"], "value": result[c["name"]]}
                                for c in RESULT_SCHEMA],
                    "run": {"createdAt": self._iso(run.created), "finishedAt":
                            self._iso(run.finished or run.created), "id": run.id,
                            "startedAt": self._iso(run.started or run.created)},
                }))
        return ranked(entries, order, include_all)

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


def _sleep_argument(arguments: Mapping[str, Any]) -> float:
    return float(arguments.get("sleep") or 0.0)


def _route_of(request: httpx.Request) -> tuple[Route | None, str, list[str]]:
    """The table's route of a request, the fake's name of it (``unknown``: none), its ids."""
    path = request.url.path
    found = None
    if path.startswith(API_PATH + "/"):
        found = find_route(request.method, path[len(API_PATH) + 1:])
    if found is None:
        return None, "unknown", []
    route, ids = found
    return route, FAKE_NAMES.get(route.name, route.name), ids


def _fake_name(route: str) -> str:
    """The fake's name of a route given by the fake's name or by the route table's."""
    return route if route in ROUTES else _BY_TABLE_NAME.get(route, route)


def _sleeper(workflow_id: str) -> None:
    """Refuse any workflow but the sleeper, the one the fake knows, as an unknown one."""
    if workflow_id != "sleeper":
        raise Refused(not_found("workflow", workflow_id))
