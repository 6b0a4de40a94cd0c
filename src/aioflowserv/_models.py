"""Immutable snapshots of server objects, each built from JSON in one function.

The ``from_json`` constructors are the only places that read response bodies;
a body that lacks a key or carries an unknown run state raises
:class:`InvalidResponseError` here instead of failing somewhere later.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from ._errors import InvalidResponseError
from ._parameters import ParameterIndex

__all__ = [
    "Group",
    "Run",
    "RunFile",
    "RunInfo",
    "RunState",
    "UploadedFile",
    "User",
    "WorkflowInfo",
]


class RunState(str, enum.Enum):
    """The state of a workflow run. PENDING and RUNNING are active; the rest are final."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    ERROR = "ERROR"
    CANCELED = "CANCELED"

    @property
    def is_active(self) -> bool:
        """True for PENDING and RUNNING."""
        return self is RunState.PENDING or self is RunState.RUNNING

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: object) -> RunState:
        """Return the state named by a server value; an unknown value is an invalid response."""
        try:
            return _STATES[value]  # type: ignore[index]
        except (KeyError, TypeError):
            raise InvalidResponseError(f"unknown run state {value!r} from the server") from None


_STATES: dict[str, RunState] = {state.value: state for state in RunState}


def _require(doc: object, what: str, *keys: str) -> Mapping[str, Any]:
    if not isinstance(doc, Mapping):
        raise InvalidResponseError(f"expected a JSON object for {what}, got {type(doc).__name__}")
    for key in keys:
        if key not in doc:
            raise InvalidResponseError(f"{what} from the server lacks {key!r}")
    return doc


def _timestamp(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidResponseError(f"invalid timestamp {value!r} from the server") from None


def _list(doc: Mapping[str, Any], key: str, what: str) -> Sequence[Any]:
    value = doc.get(key) or []
    if not isinstance(value, list):
        raise InvalidResponseError(f"{what} from the server: {key!r} is not a list")
    return value


@attrs.frozen
class User:
    """A user account: ``id`` and ``username``. Tokens are never kept here."""

    id: str
    username: str

    @classmethod
    def from_json(cls, doc: object) -> User:
        """Build from a user handle."""
        data = _require(doc, "user", "id", "username")
        return cls(id=data["id"], username=data["username"])


@attrs.frozen
class RunFile:
    """One result file of a run.

    ``id`` is used for downloads, ``name`` is the output key (or the relative
    path), and the rest is the display metadata of the workflow's output spec.
    """

    id: str
    name: str
    title: str
    caption: str | None = None
    format: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    widget: str | None = None

    @property
    def file_id(self) -> str:
        """The file's id (flowServ's ``DataFile.file_id``)."""
        return self.id

    @classmethod
    def from_json(cls, doc: object) -> RunFile:
        """Build from an entry of a run's ``files`` list."""
        data = _require(doc, "run file", "id", "name")
        fmt = data.get("format") or {}
        return cls(
            id=data["id"],
            name=data["name"],
            title=data.get("title") or data["name"],
            caption=data.get("caption"),
            format=dict(fmt) if isinstance(fmt, Mapping) else {},
            widget=data.get("widget"),
        )


@attrs.frozen
class Run:
    """An immutable snapshot of a workflow run.

    ``str(run)`` is the state name, as with flowServ's ``Run``. The raw server
    document is kept in ``doc`` (not compared), without the group's parameter
    declarations (see :meth:`AsyncWorkflow.parameters`).
    """

    run_id: str
    state: RunState
    workflow_id: str | None = None
    group_id: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    arguments: Mapping[str, Any] = attrs.field(factory=dict, hash=False)
    _messages: tuple[str, ...] = attrs.field(default=(), alias="messages")
    _files: tuple[RunFile, ...] = attrs.field(default=(), alias="files")
    doc: Mapping[str, Any] = attrs.field(factory=dict, eq=False, repr=False, hash=False)

    @classmethod
    def from_json(cls, doc: object) -> Run:
        """Build from a run handle (``GET /runs/{id}``, run start, cancel, post-processing)."""
        data = _require(doc, "run", "id", "state")
        arguments: dict[str, Any] = {}
        for arg in _list(data, "arguments", "run"):
            if isinstance(arg, Mapping) and "name" in arg:
                arguments[arg["name"]] = arg.get("value")
        messages = _list(data, "messages", "run")
        return cls(
            run_id=data["id"],
            state=RunState.parse(data["state"]),
            workflow_id=data.get("workflowId"),
            group_id=data.get("groupId"),
            created_at=_timestamp(data.get("createdAt")),
            started_at=_timestamp(data.get("startedAt")),
            finished_at=_timestamp(data.get("finishedAt")),
            arguments=arguments,
            messages=tuple(str(line) for line in messages),
            files=tuple(RunFile.from_json(entry) for entry in _list(data, "files", "run")),
            # The group's parameter declarations (most of a run document) are left out:
            # they belong to the group, and thousands of runs would each carry a copy.
            doc={key: value for key, value in data.items() if key != "parameters"},
        )

    def __str__(self) -> str:
        return self.state.value

    @property
    def duration(self) -> timedelta | None:
        """Time from start to finish, when both are known."""
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    def messages(self) -> list[str]:
        """Messages of a failed or canceled run (the failed step's output, or the reason)."""
        return list(self._messages)

    def files(self) -> list[RunFile]:
        """Result files of a successful run."""
        return list(self._files)

    def get_file(self, key: str) -> RunFile | None:
        """Find a result file by name (output key or path) or by id; None when absent."""
        for entry in self._files:
            if entry.name == key:
                return entry
        for entry in self._files:
            if entry.id == key:
                return entry
        return None

    def is_active(self) -> bool:
        """True while the run is PENDING or RUNNING."""
        return self.state.is_active

    def is_pending(self) -> bool:
        """True if the run is PENDING."""
        return self.state is RunState.PENDING

    def is_running(self) -> bool:
        """True if the run is RUNNING."""
        return self.state is RunState.RUNNING

    def is_success(self) -> bool:
        """True if the run ended successfully."""
        return self.state is RunState.SUCCESS

    def is_error(self) -> bool:
        """True if the run failed."""
        return self.state is RunState.ERROR

    def is_canceled(self) -> bool:
        """True if the run was canceled."""
        return self.state is RunState.CANCELED


@attrs.frozen
class RunInfo:
    """An entry of a group's run listing: id, state and creation time."""

    run_id: str
    state: RunState
    created_at: datetime | None = None

    @classmethod
    def from_json(cls, doc: object) -> RunInfo:
        """Build from an entry of ``GET /groups/{id}/runs``."""
        data = _require(doc, "run listing entry", "id", "state")
        return cls(
            run_id=data["id"],
            state=RunState.parse(data["state"]),
            created_at=_timestamp(data.get("createdAt")),
        )

    def is_active(self) -> bool:
        """True while the run is PENDING or RUNNING."""
        return self.state.is_active


@attrs.frozen
class UploadedFile:
    """A file uploaded to a group. ``name`` is the server's sanitized file name."""

    id: str
    name: str
    created_at: datetime | None = None

    @classmethod
    def from_json(cls, doc: object) -> UploadedFile:
        """Build from an upload file handle."""
        data = _require(doc, "uploaded file", "id", "name")
        return cls(
            id=data["id"], name=data["name"], created_at=_timestamp(data.get("createdAt"))
        )


@attrs.frozen
class Group:
    """A workflow group (a "submission"): members, parameters, uploads and runs.

    Listings carry only ``id``, ``name`` and ``workflow_id``; the other fields
    are then empty.
    """

    id: str
    name: str
    workflow_id: str
    members: tuple[User, ...] = ()
    parameters: ParameterIndex = attrs.field(factory=ParameterIndex, hash=False)
    files: tuple[UploadedFile, ...] = ()
    runs: tuple[RunInfo, ...] = ()

    @classmethod
    def from_json(cls, doc: object) -> Group:
        """Build from a group handle or a group listing entry."""
        data = _require(doc, "group", "id", "name")
        return cls(
            id=data["id"],
            name=data["name"],
            workflow_id=data.get("workflow", ""),
            members=tuple(User.from_json(m) for m in _list(data, "members", "group")),
            parameters=ParameterIndex.from_json(_list(data, "parameters", "group")),
            files=tuple(UploadedFile.from_json(f) for f in _list(data, "files", "group")),
            runs=tuple(RunInfo.from_json(r) for r in _list(data, "runs", "group")),
        )


@attrs.frozen
class WorkflowInfo:
    """A workflow's metadata. ``postproc`` is its latest post-processing run, if any.

    ``groups`` lists the caller's groups of this workflow (only with a valid
    token). Listings carry no parameters.
    """

    id: str
    name: str
    description: str | None = None
    instructions: str | None = None
    parameters: ParameterIndex = attrs.field(factory=ParameterIndex, hash=False)
    groups: tuple[Group, ...] = ()
    postproc: Run | None = None

    @classmethod
    def from_json(cls, doc: object) -> WorkflowInfo:
        """Build from a workflow handle or a workflow listing entry."""
        data = _require(doc, "workflow", "id", "name")
        postproc = data.get("postproc")
        return cls(
            id=data["id"],
            name=data["name"],
            description=data.get("description"),
            instructions=data.get("instructions"),
            parameters=ParameterIndex.from_json(_list(data, "parameters", "workflow")),
            groups=tuple(Group.from_json(g) for g in _list(data, "groups", "workflow")),
            postproc=Run.from_json(postproc) if postproc is not None else None,
        )
