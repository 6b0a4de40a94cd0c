"""Immutable snapshots of server objects: data only, each built from JSON in one function.

The ``from_json`` constructors here are the only places that read the
server's JSON (runs, listings, groups, workflows, the leaderboard, the login
answer; parameter declarations in ``_parameters``, re-exported here); a body
that lacks a key or carries an unknown run state raises
:class:`InvalidResponseError` here instead of failing somewhere later. The
``to_dict`` methods are the way back: the one JSON form of each model (plain
values that ``json.dumps`` writes as they are), which the command line's
``--json``, the download metadata (``flowserv-run.json``) and users' apps share.

Nothing here says how a model is drawn. The models people look at derive from
``_presenter.Described`` (a short ``repr``) or ``_presenter.Drawn`` (also
``_repr_html_`` and ``__rich__``), whose methods ask the presenter that
``_display`` registers when it is imported (``aioflowserv`` imports it);
this module never imports ``_display``.

Layer order: ``_errors``, ``_config``, ``_saved``, ``_presenter``,
``_arguments``, ``_parameters``, ``_models``, ``_display``.
"""

from __future__ import annotations

import copy
import enum
import importlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import attrs

from ._errors import InvalidResponseError
from ._parameters import Parameter, ParameterIndex, RangeConstraint, SelectOption
from ._presenter import Described, Drawn, presenter

__all__ = [
    "Group",
    "Leaderboard",
    "Login",
    "RECORD_FIELDS",
    "Parameter",
    "ParameterIndex",
    "RangeConstraint",
    "RankingEntry",
    "ResultColumn",
    "Run",
    "RunListing",
    "RunFile",
    "RunInfo",
    "RunList",
    "RunSpan",
    "RunState",
    "SelectOption",
    "Timeline",
    "UploadedFile",
    "User",
    "WorkflowInfo",
    "listed_state",
    "parse_list",
    "parse_service",
]

T = TypeVar("T")
R = TypeVar("R", "Run", "RunInfo")


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


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@attrs.frozen(repr=False)
class User(Drawn):
    """A user account: ``id`` and ``username``. Tokens are never kept here."""

    id: str
    username: str

    @classmethod
    def from_json(cls, doc: object) -> User:
        """Build from a user handle."""
        data = _require(doc, "user", "id", "username")
        return cls(id=data["id"], username=data["username"])

    def to_dict(self) -> dict[str, Any]:
        """``{"id", "username"}`` (never a token)."""
        return {"id": self.id, "username": self.username}


@attrs.frozen(repr=False)
class RunFile(Drawn):
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

    def to_dict(self) -> dict[str, Any]:
        """Every field: ``{"id", "name", "title", "caption", "format", "widget"}``."""
        return {
            "id": self.id, "name": self.name, "title": self.title, "caption": self.caption,
            "format": copy.deepcopy(dict(self.format)), "widget": self.widget,
        }


@attrs.frozen(repr=False)
class Run(Drawn):
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
        """The state's name (``SUCCESS``), as flowServ's ``Run`` prints; ``repr`` is the line."""
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

    def to_dict(self) -> dict[str, Any]:
        """The run as plain JSON values: the one JSON form of a run.

        The command line's ``--json`` prints it, a download's
        ``flowserv-run.json`` is it (plus ``local_files``), and apps can
        serve it as it is: ``json.dumps(run.to_dict())`` needs no encoder.
        The keys, always all of them, in this order:

        - ``run_id``: str; ``state``: str, a :class:`RunState` value
        - ``workflow_id``, ``group_id``: str, or None (a post-processing run
          has no group)
        - ``created_at``, ``started_at``, ``finished_at``: ISO 8601 text with
          the time zone, or None while unknown
        - ``seconds``: float, start to finish (rounded to milliseconds), or None
        - ``arguments``: ``{name: value}`` as the server keeps them (a file is
          ``{"type": "$file", "value": {"fileId": ..., "targetPath": ...}}``)
        - ``messages``: list of str, a failed run's output or the cancel reason
        - ``files``: the result files of a successful run, each
          ``{"id", "name", "title", "caption", "format", "widget"}`` (``id``
          downloads it)
        """
        duration = self.duration
        return {
            "run_id": self.run_id,
            "state": self.state.value,
            "workflow_id": self.workflow_id,
            "group_id": self.group_id,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "seconds": None if duration is None else round(duration.total_seconds(), 3),
            "arguments": copy.deepcopy(dict(self.arguments)),
            "messages": list(self._messages),
            "files": [entry.to_dict() for entry in self._files],
        }

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


@attrs.frozen(repr=False)
class RunInfo(Drawn):
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

    def to_dict(self) -> dict[str, Any]:
        """``{"run_id", "state", "created_at"}``, as in :meth:`Run.to_dict`."""
        return {
            "run_id": self.run_id, "state": self.state.value, "created_at": _iso(self.created_at)
        }


@attrs.frozen(repr=False)
class UploadedFile(Drawn):
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

    def to_dict(self) -> dict[str, Any]:
        """``{"id", "name", "created_at"}`` (ISO 8601 text, or None)."""
        return {"id": self.id, "name": self.name, "created_at": _iso(self.created_at)}


@attrs.frozen(repr=False)
class Group(Drawn):
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

    def to_dict(self) -> dict[str, Any]:
        """``{"id", "name", "workflow_id", "members", "files", "runs"}`` as plain values.

        ``members`` are :meth:`User.to_dict`, ``files`` the uploads
        (:meth:`UploadedFile.to_dict`) and ``runs`` :meth:`RunInfo.to_dict`;
        all three are empty for a listing entry. The parameter declarations
        are left out (``aioflowserv params --group G --json`` prints them).
        """
        return {
            "id": self.id, "name": self.name, "workflow_id": self.workflow_id,
            "members": [member.to_dict() for member in self.members],
            "files": [upload.to_dict() for upload in self.files],
            "runs": [run.to_dict() for run in self.runs],
        }


@attrs.frozen(repr=False)
class WorkflowInfo(Drawn):
    """A workflow's metadata. ``postproc`` is its latest post-processing run, if any.

    ``groups`` lists the caller's groups of this workflow (only with a valid
    token). ``parameters`` is None for an entry of a listing
    (:meth:`AsyncFlowserv.list_workflows`): the server sends none there,
    which does not mean the workflow has none; :meth:`AsyncFlowserv.get_workflow`
    has them.
    """

    id: str
    name: str
    description: str | None = None
    instructions: str | None = None
    parameters: ParameterIndex | None = attrs.field(default=None, hash=False)
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
            parameters=(
                ParameterIndex.from_json(_list(data, "parameters", "workflow"))
                if "parameters" in data else None
            ),
            groups=tuple(Group.from_json(g) for g in _list(data, "groups", "workflow")),
            postproc=Run.from_json(postproc) if postproc is not None else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """``{"id", "name", "description", "instructions", "groups", "postproc"}``.

        ``groups`` are :meth:`Group.to_dict` and ``postproc`` the latest
        post-processing run's :meth:`Run.to_dict` (or None). The parameter
        declarations are left out (``aioflowserv params WORKFLOW --json``).
        """
        return {
            "id": self.id, "name": self.name, "description": self.description,
            "instructions": self.instructions,
            "groups": [group.to_dict() for group in self.groups],
            "postproc": self.postproc.to_dict() if self.postproc is not None else None,
        }


class RunList(Drawn, list[R]):
    """A list of runs (:class:`Run` snapshots or :class:`RunInfo` listing entries).

    A plain list in every way, that shows as a summary (``<RunList: 5 runs:
    3 SUCCESS, 2 RUNNING>``), and as a table in a notebook or a rich console;
    full snapshots also show as a :class:`Timeline` below the table (stragglers
    and queueing at a glance).
    """

    def timeline(self, now: datetime | None = None) -> Timeline:
        """The full snapshots on one time axis (``now`` ends the bars of active runs).

        Listing entries (:class:`RunInfo`) have no start or finish times and are
        left out.
        """
        runs: list[Run] = []
        for run in self:
            if isinstance(run, Run):
                runs.append(run)
        return Timeline.from_runs(runs, now)


@attrs.frozen
class RunSpan:
    """One run on the axis, in seconds from the timeline's start.

    ``started`` is None for a run that never started; ``finished`` is None
    for a run still active (its bar reaches the end of the axis).
    """

    run_id: str
    state: RunState
    created: float
    started: float | None
    finished: float | None

    def queued(self, end: float) -> float:
        """Seconds from creation to start (to ``end`` when it has not started)."""
        return (self.started if self.started is not None else self._end(end)) - self.created

    def ran(self, end: float) -> float:
        """Seconds from start to finish (to ``end`` while active); 0 if it never started."""
        return 0.0 if self.started is None else self._end(end) - self.started

    def _end(self, end: float) -> float:
        return self.finished if self.finished is not None else end


@attrs.frozen(repr=False)
class Timeline(Drawn):
    """Runs on one time axis: ``start`` (the earliest creation), ``total`` seconds, spans.

    Each run is a span from its creation through its start to its finish, in
    seconds from the earliest creation, with an open end for runs still
    active; the part before a run started is its time in the queue. In a
    notebook it shows as bars (stragglers as long bars, queueing as long pale
    heads); ``aioflowserv runs GROUP --timeline`` draws the same in a terminal.
    """

    start: datetime
    total: float
    spans: tuple[RunSpan, ...]

    @classmethod
    def from_runs(cls, runs: Iterable[Run], now: datetime | None = None) -> Timeline:
        """Place runs by their times (runs without a creation time are left out).

        The axis ends at the last finish, or at ``now`` (default: the current
        time) when a run is still active.
        """
        placed = [run for run in runs if run.created_at is not None]
        placed.sort(key=lambda run: run.created_at)  # type: ignore[arg-type, return-value]
        if not placed:
            return cls(datetime.now(timezone.utc), 0.0, ())
        start = placed[0].created_at
        assert start is not None
        moments = [
            moment for run in placed
            for moment in (run.created_at, run.started_at, run.finished_at) if moment is not None
        ]
        end = max(moments)
        if any(run.is_active() for run in placed):
            end = max(end, now or datetime.now(timezone.utc))

        def offset(moment: datetime | None) -> float | None:
            return None if moment is None else (moment - start).total_seconds()

        spans = tuple(
            RunSpan(
                run.run_id, run.state, offset(run.created_at) or 0.0, offset(run.started_at),
                None if run.is_active() else offset(run.finished_at or run.started_at),
            )
            for run in placed
        )
        return cls(start, (end - start).total_seconds(), spans)

    def fraction(self, seconds: float) -> float:
        """A moment as a fraction of the axis (0 to 1)."""
        return 0.0 if self.total <= 0 else min(1.0, max(0.0, seconds / self.total))

    def summary(self) -> str:
        """``8 runs: 1 RUNNING, 5 SUCCESS, 2 ERROR; 12.3 s``."""
        return presenter().summary(self)

    def html(self) -> str:
        """The timeline as an HTML table of bars (inline styles, no scripts)."""
        return presenter().html(self)


@attrs.frozen
class RunListing:
    """A group's run listing (``GET /groups/{id}/runs``): each run's state, by run id.

    Reading a listing is on the watcher's hot path (one per group and tick,
    with thousands of runs), so only the ids and states are read here; the
    full :class:`RunInfo` entries are built on demand by :meth:`infos`. A run
    listed with a state this SDK does not know maps to the
    :class:`InvalidResponseError` that reading it raises, so that only the
    waits on that run fail.
    """

    states: Mapping[str, RunState | InvalidResponseError]
    entries: Sequence[Any] = attrs.field(repr=False, eq=False)

    @classmethod
    def from_json(cls, doc: object) -> RunListing:
        """Build from a listing body (``{"runs": [...]}``)."""
        entries = _items(doc, "runs")
        states: dict[str, RunState | InvalidResponseError] = {}
        for entry in entries:
            listed = listed_state(entry)
            if listed is not None:
                states[listed[0]] = listed[1]
        return cls(states, entries)

    def infos(self) -> RunList[RunInfo]:
        """Id, state and creation time of every run, oldest first."""
        return RunList(RunInfo.from_json(entry) for entry in self.entries)


@attrs.frozen(repr=False)
class Login(Described):
    """The answer to a login: the user and the token (which no repr shows)."""

    user_id: str
    username: str
    token: str

    @classmethod
    def from_json(cls, doc: object) -> Login:
        """Build from ``POST /users/login``'s answer."""
        if not isinstance(doc, Mapping) or not isinstance(doc.get("token"), str):
            raise InvalidResponseError("login answer from the server lacks 'token'")
        return cls(
            user_id=str(doc.get("id", "")), username=str(doc.get("username", "")),
            token=doc["token"],
        )


_RESULT_TYPES: dict[str, type] = {"int": int, "float": float, "string": str, "bool": bool}


@attrs.frozen
class ResultColumn:
    """A column of a workflow's results schema: ``name``, a ``label`` and its ``dtype``."""

    name: str
    label: str
    dtype: str

    @classmethod
    def from_json(cls, doc: object) -> ResultColumn:
        """Build from an entry of a leaderboard's ``schema``."""
        data = _require(doc, "result column", "name")
        return cls(
            name=data["name"], label=data.get("label") or data["name"],
            dtype=data.get("dtype") or "string",
        )

    @staticmethod
    def format_value(value: Any) -> str:
        """A result value as table text: floats in their shortest form, a missing one empty."""
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:g}"
        return str(value)

    def convert(self, value: Any) -> Any:
        """A result value as its column's type (the value as given when it does not fit)."""
        kind = _RESULT_TYPES.get(self.dtype)
        if kind is None or value is None or isinstance(value, kind):
            return value
        try:
            return kind(value)
        except (TypeError, ValueError):
            return value


@attrs.frozen(repr=False)
class RankingEntry(Drawn):
    """One row of a leaderboard: a run, its group, its times and its results by column."""

    group_id: str
    group_name: str
    run_id: str
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    results: Mapping[str, Any] = attrs.field(factory=dict, hash=False)

    @classmethod
    def from_json(cls, doc: object, columns: Sequence[ResultColumn] = ()) -> RankingEntry:
        """Build from an entry of a leaderboard's ``ranking``, typed by its ``columns``."""
        data = _require(doc, "ranking entry", "group", "run")
        group = _require(data["group"], "ranking entry's group", "id")
        run = _require(data["run"], "ranking entry's run", "id")
        by_name = {column.name: column for column in columns}
        results: dict[str, Any] = {}
        for item in _list(data, "results", "ranking entry"):
            if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                column = by_name.get(item["name"])
                value = item.get("value")
                results[item["name"]] = column.convert(value) if column else value
        return cls(
            group_id=group["id"], group_name=group.get("name") or "", run_id=run["id"],
            created_at=_timestamp(run.get("createdAt")),
            started_at=_timestamp(run.get("startedAt")),
            finished_at=_timestamp(run.get("finishedAt")),
            results=results,
        )


RECORD_FIELDS = (
    "rank", "group_id", "group_name", "run_id", "created_at", "started_at", "finished_at",
)
"""The keys of a leaderboard record before its result columns."""


@attrs.frozen(repr=False)
class Leaderboard(Drawn):
    """A workflow's ranking of runs by its results schema.

    ``columns`` is the schema, ``rows`` the ranked runs (best first, one per
    group unless every run was asked for) and ``postproc`` the latest
    post-processing run, if any. :meth:`to_records` and :meth:`to_pandas` give
    the rows as a table; in a notebook the leaderboard shows as one.
    """

    columns: tuple[ResultColumn, ...]
    rows: tuple[RankingEntry, ...]
    postproc: Run | None = None

    @classmethod
    def from_json(cls, doc: object) -> Leaderboard | None:
        """Build from ``GET /workflows/{id}/leaderboard``; None for the ``null`` of no schema."""
        if doc is None:
            return None
        data = _require(doc, "leaderboard", "schema")
        columns = tuple(ResultColumn.from_json(c) for c in _list(data, "schema", "leaderboard"))
        postproc = data.get("postproc")
        return cls(
            columns=columns,
            rows=tuple(
                RankingEntry.from_json(entry, columns)
                for entry in _list(data, "ranking", "leaderboard")
            ),
            postproc=Run.from_json(postproc) if postproc is not None else None,
        )

    def run_ids(self) -> set[str]:
        """The ids of the ranked runs."""
        return {row.run_id for row in self.rows}

    def keys(self) -> list[str]:
        """The keys of each record: :data:`RECORD_FIELDS`, then the result columns.

        A result column named like one of the fields is keyed ``results.<name>``.
        """
        return [*RECORD_FIELDS, *(self._key(column.name) for column in self.columns)]

    @staticmethod
    def _key(name: str) -> str:
        return f"results.{name}" if name in RECORD_FIELDS else name

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dict per row, best first (keys as :meth:`keys`; missing results are None)."""
        records = []
        for rank, row in enumerate(self.rows, start=1):
            record: dict[str, Any] = {
                "rank": rank, "group_id": row.group_id, "group_name": row.group_name,
                "run_id": row.run_id, "created_at": row.created_at,
                "started_at": row.started_at, "finished_at": row.finished_at,
            }
            for column in self.columns:
                record[self._key(column.name)] = row.results.get(column.name)
            records.append(record)
        return records

    def to_pandas(self) -> Any:
        """The records as a ``pandas.DataFrame`` (needs the ``pandas`` extra).

        Raises ``ImportError`` naming the extra when pandas is not installed.
        """
        try:
            pandas = importlib.import_module("pandas")
        except ImportError as exc:
            raise ImportError(
                "Leaderboard.to_pandas() needs pandas: pip install 'aioflowserv[pandas]'"
            ) from exc
        return pandas.DataFrame.from_records(self.to_records(), columns=self.keys())

    def to_dict(self) -> dict[str, Any]:
        """``{"columns", "rows", "postproc"}`` as plain values.

        ``columns`` are ``{"name", "label", "dtype"}``, ``rows`` the
        :meth:`to_records` with ISO 8601 times, and ``postproc`` the latest
        post-processing run's :meth:`Run.to_dict` (or None).
        """
        return {
            "columns": [
                {"name": c.name, "label": c.label, "dtype": c.dtype} for c in self.columns
            ],
            "rows": [
                {key: _iso(value) if isinstance(value, datetime) else value
                 for key, value in record.items()}
                for record in self.to_records()
            ],
            "postproc": self.postproc.to_dict() if self.postproc is not None else None,
        }



def listed_state(entry: object) -> tuple[str, RunState | InvalidResponseError] | None:
    """A listing entry's run id and state; None for an entry that describes no run.

    A state this SDK does not know is the :class:`InvalidResponseError` that reading it raises.
    """
    if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
        return None
    raw = entry.get("state")
    state = _STATES.get(raw) if isinstance(raw, str) else None
    if state is None:
        return entry["id"], InvalidResponseError(f"unknown run state {raw!r} from the server")
    return entry["id"], state


def _items(doc: object, key: str) -> list[Any]:
    if not isinstance(doc, Mapping) or not isinstance(doc.get(key), list):
        raise InvalidResponseError(f"the server's answer lacks the list {key!r}")
    return list(doc[key])


def parse_list(model: type[T], doc: object, key: str) -> list[T]:
    """The entries of a listing body ``{key: [...]}``, each built by ``model.from_json``."""
    from_json = model.from_json  # type: ignore[attr-defined]
    return [from_json(entry) for entry in _items(doc, key)]


def parse_service(doc: object, url: str) -> dict[str, Any]:
    """The service descriptor (``GET /``), checked to come from a flowServ API."""
    if not isinstance(doc, dict) or "routes" not in doc:
        raise InvalidResponseError(f"{url} does not look like a flowServ API")
    return doc
