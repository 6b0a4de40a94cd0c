"""FakeFlowserv's state and requests: runs, groups, uploads, faults, records; a request's body.

The data :class:`aioflowserv.testing.FakeFlowserv` keeps (what its users
script and inspect) and the small rules by which its route handlers read a
request, as flowServ reads it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from ._fake_results import Answer, dump

__all__ = [
    "ACTIVE", "BAD_STATE", "SLEEPER_PARAMETERS", "Call", "FakeGroup", "FakeRun", "FakeUpload",
    "Fault", "Record", "Refused", "read_body", "read_json",
]

ACTIVE = frozenset({"PENDING", "RUNNING"})
"""The states of an active run."""

BAD_STATE = (
    "invalid operation for run in state <bound method RunObject.state of "
    "<flowserv.model.base.RunObject object at 0x7f0000000000>>"
)
"""flowServ's (broken) message for canceling an inactive run or deleting an active one."""

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




def result_files() -> list[dict[str, Any]]:
    """The sleeper's output files (made with the run, shown once it succeeded)."""
    return [
        {"caption": "One greeting per name.", "format": {"type": "plaintext"},
         "id": uuid.uuid4().hex, "name": "greetings", "title": "Greetings", "widget": "TextView"},
        {"format": {"type": "json"}, "id": uuid.uuid4().hex, "name": "result", "title": "Result"},
    ]



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
    files: list[dict[str, Any]] = field(default_factory=result_files)
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


@dataclass(frozen=True)
class Call:
    """A request as a route's handler sees it: the route's ids, the request, its token, when."""

    ids: list[str]
    request: httpx.Request
    token: str | None
    now: float


class Refused(Exception):
    """A handler's answer before it got far (an unknown id, a malformed body)."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer[0])
        self.answer = answer


def read_json(request: httpx.Request) -> Any:
    """The request's JSON body (none: an empty object); not JSON: Werkzeug's HTML 400."""
    try:
        return json.loads(request.content or b"{}")
    except ValueError:
        raise Refused((400, b"<title>400 Bad Request</title>")) from None


def read_body(
    request: httpx.Request, required: Iterable[str] = (), optional: Iterable[str] = ()
) -> dict[str, Any]:
    """The request's JSON object, its keys checked as flowServ checks them."""
    doc = read_json(request)
    if not isinstance(doc, dict):
        raise Refused((400, dump({"message": "invalid request body"})))
    required = tuple(required)
    for key in required:
        if key not in doc:
            raise Refused((400, dump({"message": f"missing element '{key}'"})))
    for key in doc:
        if key not in required and key not in optional:
            raise Refused((400, dump({"message": f"unknown element '{key}'"})))
    return doc
