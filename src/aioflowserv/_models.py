"""Immutable snapshots of server objects, each built from JSON in one function.

The ``from_json`` constructors here are the only places that read the
server's JSON (runs, listings, groups, workflows, parameter declarations, the
leaderboard, the login answer); a body that lacks a key or carries an unknown
run state raises :class:`InvalidResponseError` here instead of failing
somewhere later. Parameter declarations also carry flowServ's rules for the
values they accept (:meth:`Parameter.cast`).

Every model reads well where people look at it: a ``repr`` of a line or two
(ids, names, state, counts), a small HTML table in a notebook
(``_repr_html_``) and a table in a rich console (``__rich__``).
"""

from __future__ import annotations

import enum
import html
import importlib
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs

from ._display import Cell, Table, Timeline, shorten
from ._errors import InvalidArgumentError, InvalidResponseError

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
    "RunState",
    "SelectOption",
    "UploadedFile",
    "User",
    "WorkflowInfo",
    "parameter_constraint",
    "parameter_default",
    "parameter_type",
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


_TRUE = frozenset({"1", "t", "true"})
_FALSE = frozenset({"", "0", "f", "false"})


@attrs.frozen
class RangeConstraint:
    """An interval of valid numbers, parsed from flowServ's ``[a,b]`` / ``(a,b)`` notation."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    @classmethod
    def parse(cls, text: str) -> RangeConstraint:
        """Parse an interval string; empty bounds are infinite."""
        try:
            left, right = (part.strip() for part in text.split(","))
            if left[0] not in "[(" or right[-1] not in ")]":
                raise ValueError(text)
            return cls(
                low=float(left[1:] or "-inf"),
                high=float(right[:-1] or "inf"),
                low_open=left[0] == "(",
                high_open=right[-1] == ")",
            )
        except (ValueError, IndexError):
            raise InvalidResponseError(f"invalid range {text!r} in a parameter") from None

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        return (
            f"{'(' if self.low_open else '['}{self.low},{self.high}{')' if self.high_open else ']'}"
        )


@attrs.frozen
class SelectOption:
    """One choice of a select parameter: ``name`` is the label, ``value`` what is sent."""

    name: str
    value: Any
    is_default: bool = False


@attrs.frozen(repr=False)
class Parameter:
    """A parameter declaration of a workflow group (one entry of its ``parameters``).

    Attribute names follow flowServ's ``Parameter``: ``name``, ``dtype``,
    ``index``, ``label``, ``help``, ``default``, ``required``, ``group``, plus
    ``range`` (numbers), ``values`` (select), ``target`` (file), ``para``
    (the element of a list) and ``fields`` (a record's fields).
    """

    name: str
    dtype: str
    index: int = 0
    required: bool = False
    label: str | None = None
    help: str | None = None
    default: Any = attrs.field(default=None, hash=False)
    group: str | None = None
    range: RangeConstraint | None = None
    values: tuple[SelectOption, ...] = ()
    target: str | None = None
    para: Parameter | None = None
    fields: tuple[Parameter, ...] = ()

    @classmethod
    def from_json(cls, doc: object) -> Parameter:
        """Build from a parameter declaration."""
        if not isinstance(doc, Mapping) or "name" not in doc or "dtype" not in doc:
            raise InvalidResponseError("parameter declaration lacks 'name' or 'dtype'")
        values = []
        for option in doc.get("values") or []:
            if isinstance(option, Mapping) and "value" in option:
                values.append(
                    SelectOption(
                        name=str(option.get("name", option["value"])),
                        value=option["value"],
                        is_default=bool(option.get("isDefault", False)),
                    )
                )
        para = doc.get("para")
        return cls(
            name=doc["name"],
            dtype=doc["dtype"],
            index=int(doc.get("index") or 0),
            required=bool(doc.get("isRequired", "defaultValue" not in doc)),
            label=doc.get("label"),
            help=doc.get("help"),
            default=doc.get("defaultValue"),
            group=doc.get("group"),
            range=RangeConstraint.parse(doc["range"]) if doc.get("range") else None,
            values=tuple(values),
            target=doc.get("target"),
            para=cls.from_json(para) if para is not None else None,
            fields=tuple(cls.from_json(f) for f in doc.get("fields") or []),
        )

    def display_name(self) -> str:
        """The label, or the name when there is no label."""
        return self.label if self.label is not None else self.name

    def __repr__(self) -> str:
        text = f"{self.name}: {parameter_type(self)}"
        default = parameter_default(self)
        text += f" = {default}" if default else (" (required)" if self.required else "")
        constraint = parameter_constraint(self)
        if constraint:
            text += f" {constraint}"
        if self.label and self.label != self.name:
            text += f" {shorten(self.label, 40)!r}"
        return f"<Parameter {text}>"

    def _repr_html_(self) -> str:
        return parameter_table([self]).html()

    def __rich__(self) -> Any:
        return parameter_table([self]).rich()

    def is_bool(self) -> bool:
        """True for a bool parameter."""
        return self.dtype == "bool"

    def is_file(self) -> bool:
        """True for a file parameter."""
        return self.dtype == "file"

    def is_float(self) -> bool:
        """True for a float parameter."""
        return self.dtype == "float"

    def is_int(self) -> bool:
        """True for an int parameter."""
        return self.dtype == "int"

    def is_list(self) -> bool:
        """True for a list parameter."""
        return self.dtype == "list"

    def is_numeric(self) -> bool:
        """True for an int or float parameter."""
        return self.dtype in ("int", "float")

    def is_record(self) -> bool:
        """True for a record parameter."""
        return self.dtype == "record"

    def is_select(self) -> bool:
        """True for a select parameter."""
        return self.dtype == "select"

    def is_string(self) -> bool:
        """True for a string parameter."""
        return self.dtype == "string"

    def cast(self, value: Any) -> Any:
        """Check ``value`` against this declaration and return what is sent to the server.

        Raises :class:`InvalidArgumentError` naming the parameter. File
        parameters are not handled here (see :func:`prepare_arguments`).
        """
        return _cast(self, value, self.name)


def _invalid(path: str, reason: str) -> InvalidArgumentError:
    return InvalidArgumentError(path, reason)


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _cast_number(para: Parameter, value: Any, path: str) -> Any:
    if isinstance(value, bool) or value is None:
        raise _invalid(path, f"expected a number, got {_describe(value)}")
    number: float
    if isinstance(value, str):
        text = value.strip()
        try:
            number = int(text) if para.dtype == "int" else float(text)
        except ValueError:
            raise _invalid(path, f"no {para.dtype} {_describe(value)}") from None
    elif isinstance(value, (int, float)):
        number = value
    else:
        raise _invalid(path, f"expected a number, got {type(value).__name__}")
    if isinstance(number, float) and math.isnan(number):
        raise _invalid(path, "NaN is not a valid value")
    if para.dtype == "int":
        if isinstance(number, float):
            if not number.is_integer():
                raise _invalid(path, f"expected an int, got {_describe(value)}")
            number = int(number)
    else:
        number = float(number)
    if para.range is not None and number not in para.range:
        raise _invalid(path, f"{number} not in {para.range}")
    if isinstance(number, float) and math.isinf(number):
        return "inf" if number > 0 else "-inf"  # JSON has no infinity; the server parses these
    return number


def _cast_bool(value: Any, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise _invalid(path, f"not a Boolean {_describe(value)}")


def _cast_record(para: Parameter, value: Any, path: str) -> list[dict[str, Any]]:
    if isinstance(value, Mapping):
        items = dict(value)
    elif isinstance(value, (list, tuple)) and all(
        isinstance(item, Mapping) and set(item) == {"name", "value"} for item in value
    ):
        items = {}
        for item in value:
            if item["name"] in items:
                raise _invalid(path, f"field {item['name']!r} given twice")
            items[item["name"]] = item["value"]
    else:
        raise _invalid(path, f"expected a mapping of field values, got {type(value).__name__}")
    fields = {f.name: f for f in para.fields}
    for key in items:
        if key not in fields:
            raise _invalid(f"{path}.{key}", f"unknown field (fields: {', '.join(fields)})")
    wire = []
    for field in para.fields:
        if field.name in items:
            value = _cast(field, items[field.name], f"{path}.{field.name}")
            wire.append({"name": field.name, "value": value})
        elif field.required and field.default is None:
            raise _invalid(f"{path}.{field.name}", "a value is required")
    return wire


def _cast(para: Parameter, value: Any, path: str) -> Any:
    dtype = para.dtype
    if dtype in ("int", "float"):
        return _cast_number(para, value, path)
    if dtype == "bool":
        return _cast_bool(value, path)
    if dtype == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise _invalid(path, f"expected a string, got {type(value).__name__}")
    if dtype == "select":
        allowed = [option.value for option in para.values]
        for option in allowed:
            if type(option) is type(value) and option == value:
                return value
        choices = ", ".join(repr(v) for v in allowed)
        raise _invalid(path, f"unknown value {_describe(value)} (choose one of {choices})")
    if dtype == "list":
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise _invalid(path, f"expected a list, got {type(value).__name__}")
        if para.para is None:
            return list(value)
        return [_cast(para.para, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if dtype == "record":
        return _cast_record(para, value, path)
    if dtype == "file":
        raise _invalid(path, "file values are uploaded, not cast")
    return value  # a type this SDK does not know (``actor``): sent as given


def parameter_table(parameters: Iterable[Parameter], title: str = "Parameters") -> Table:
    """Parameter declarations as a small table: type, default, required, allowed values."""
    rows = [
        (para.name, parameter_type(para), parameter_default(para),
         "yes" if para.required and para.default is None else "",
         parameter_constraint(para), shorten(para.label or "", 40),
         shorten(para.help or "", 60))
        for para in parameters
    ]
    return Table(title, rows, ("name", "type", "default", "required", "allowed", "label", "help"))


def parameter_type(para: Parameter) -> str:
    """The declared type, in words: ``float``, ``list of int``, ``record (x, tag)``."""
    if para.dtype == "list" and para.para is not None:
        return f"list of {parameter_type(para.para)}"
    if para.dtype == "record" and para.fields:
        return f"record ({', '.join(field.name for field in para.fields)})"
    return para.dtype


def parameter_default(para: Parameter) -> str:
    """The default value as it would be written in Python, or ``""`` when there is none."""
    if para.default is None:
        return ""
    return shorten(repr(para.default), 40)


def parameter_constraint(para: Parameter) -> str:
    """What values are allowed beyond the type: a range, the choices, a file's target."""
    if para.range is not None:
        return f"in {para.range}"
    if para.values:
        return "one of " + ", ".join(repr(option.value) for option in para.values)
    if para.target:
        return f"copied to {para.target}"
    return ""


class ParameterIndex(dict[str, Parameter]):
    """The parameter declarations of a group, by name (as flowServ's ``ParameterIndex``)."""

    def __repr__(self) -> str:
        if not self:
            return "<ParameterIndex: no parameters>"
        items = []
        for para in self.sorted():
            default = parameter_default(para)
            items.append(f"{para.name}: {parameter_type(para)}" + (f" = {default}" if default
                                                                    else ""))
        return f"<ParameterIndex: {', '.join(items)}>"

    def _repr_html_(self) -> str:
        return parameter_table(self.sorted()).html()

    def __rich__(self) -> Any:
        return parameter_table(self.sorted()).rich()

    @classmethod
    def from_json(cls, docs: Iterable[object]) -> ParameterIndex:
        """Build from a list of declarations."""
        index = cls()
        for doc in docs:
            para = Parameter.from_json(doc)
            index[para.name] = para
        return index

    def sorted(self) -> list[Parameter]:
        """The declarations in display order."""
        return sorted(self.values(), key=lambda para: para.index)


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


@attrs.frozen(repr=False)
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

    def __repr__(self) -> str:
        details = [self.workflow_id] if self.workflow_id else []
        if self.duration is not None:
            details.append(f"{self.duration.total_seconds():.2f} s")
        if self._files:
            names = ", ".join(entry.name for entry in self._files)
            details.append(shorten(f"files: {names}", 60))
        elif self._messages:
            details.append(shorten(_last_line(self._messages), 60))
        more = f" ({'; '.join(details)})" if details else ""
        return f"<Run {self.run_id} {self.state.value}{more}>"

    def _table(self) -> Table:
        rows: list[tuple[str, str | Cell]] = [
            ("run", self.run_id), ("state", Cell(self.state.value, self.state.value)),
        ]
        for label, value in (("workflow", self.workflow_id), ("group", self.group_id)):
            if value:
                rows.append((label, value))
        for label, moment in (("created", self.created_at), ("started", self.started_at),
                              ("finished", self.finished_at)):
            if moment is not None:
                rows.append((label, _when(moment)))
        if self.duration is not None:
            rows.append(("duration", f"{self.duration.total_seconds():.2f} s"))
        if self.arguments:
            rows.append(("arguments", ", ".join(
                f"{name}={shorten(repr(value), 40)}" for name, value in self.arguments.items()
            )))
        if self._files:
            rows.append(("files", ", ".join(
                entry.name if entry.title == entry.name else f"{entry.name} ({entry.title})"
                for entry in self._files
            )))
        if self._messages:
            lines = "".join(self._messages[-10:]).rstrip("\n")
            rows.append(("messages", Cell(lines, pre=True)))
        return Table(f"Run {self.run_id}", rows)

    def _repr_html_(self) -> str:
        return self._table().html()

    def __rich__(self) -> Any:
        return self._table().rich()

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


@attrs.frozen(repr=False)
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

    def __repr__(self) -> str:
        created = f" created {_when(self.created_at)}" if self.created_at else ""
        return f"<RunInfo {self.run_id} {self.state.value}{created}>"


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


@attrs.frozen(repr=False)
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

    def _counts(self) -> str:
        """Members, parameters, files and runs; empty for a listing entry (none were sent)."""
        if not self.members:
            return ""
        counts = [_count(len(self.members), "member"), _count(len(self.parameters), "parameter"),
                  _count(len(self.files), "file"), _count(len(self.runs), "run")]
        states = _state_counts(self.runs)
        return ", ".join(counts) + (f" ({states})" if states else "")

    def __repr__(self) -> str:
        counts = self._counts()
        return f"<Group {self.name!r} {self.id} of {self.workflow_id}" + (
            f": {counts}>" if counts else ">"
        )

    def _table(self) -> Table:
        title = f"Group {self.name!r} ({self.id}) of workflow {self.workflow_id!r}"
        if not self.members:
            return Table(title, [], note="a listing entry: fs.get_group(id) has the details")
        table = parameter_table(self.parameters.sorted(), title)
        members = ", ".join(member.username for member in self.members)
        note = f"{self._counts()}; members: {members}"
        return attrs.evolve(table, note=note)

    def _repr_html_(self) -> str:
        return self._table().html()

    def __rich__(self) -> Any:
        return self._table().rich()


@attrs.frozen(repr=False)
class WorkflowInfo:
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

    def __repr__(self) -> str:
        if self.parameters is None:
            return (
                f"<WorkflowInfo {self.id!r} {self.name!r} (listing entry: parameters not "
                f"loaded; get_workflow({self.id!r}) has them)>"
            )
        details = [_count(len(self.parameters), "parameter"), _count(len(self.groups), "group")]
        if self.postproc is not None:
            details.append(f"post-processing {self.postproc.state.value}")
        return f"<WorkflowInfo {self.id!r} {self.name!r}: {', '.join(details)}>"

    def _table(self) -> Table:
        title = f"Workflow {self.id!r}: {self.name}"
        note = shorten(self.description or "", 200) or None
        if self.parameters is None:
            hint = f"parameters not loaded (a listing entry): get_workflow({self.id!r})"
            return Table(title, [], note=f"{note}; {hint}" if note else hint)
        return attrs.evolve(parameter_table(self.parameters.sorted(), title), note=note)

    def _repr_html_(self) -> str:
        return self._table().html()

    def __rich__(self) -> Any:
        return self._table().rich()


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _last_line(messages: Sequence[str]) -> str:
    for line in reversed(messages):
        if line.strip():
            return line.strip()
    return ""


def _state_counts(runs: Iterable[Run | RunInfo]) -> str:
    """``3 SUCCESS, 1 ERROR``, in the order of :class:`RunState`."""
    counts: dict[RunState, int] = {}
    for run in runs:
        counts[run.state] = counts.get(run.state, 0) + 1
    return ", ".join(f"{counts[state]} {state.value}" for state in RunState if state in counts)


class RunList(list[R]):
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

    def __repr__(self) -> str:
        if not self:
            return "<RunList: no runs>"
        return f"<RunList: {_count(len(self), 'run')}: {_state_counts(self)}>"

    def _table(self) -> Table:
        rows: list[tuple[str | Cell, ...]] = []
        full = all(isinstance(run, Run) for run in self)
        for run in self:
            state = Cell(run.state.value, run.state.value)
            created = _when(run.created_at) if run.created_at else ""
            if isinstance(run, Run) and full:
                seconds = run.duration.total_seconds() if run.duration is not None else None
                result = (", ".join(entry.name for entry in run.files()) if run.is_success()
                          else _last_line(run.messages()))
                rows.append((run.run_id, state, created,
                             "" if seconds is None else f"{seconds:.2f}", shorten(result, 60)))
            else:
                rows.append((run.run_id, state, created))
        header = ("run", "state", "created", "seconds", "files or message") if full and self \
            else ("run", "state", "created")
        return Table(repr(self)[1:-1], rows, header)

    def _repr_html_(self) -> str:
        page = self._table().html()
        if self and all(isinstance(run, Run) for run in self):
            page += self.timeline().html()
        return page

    def __rich__(self) -> Any:
        return self._table().rich()


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
            if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
                continue  # not a run entry: no run of ours is described by it
            raw = entry.get("state")
            state = _STATES.get(raw) if isinstance(raw, str) else None
            states[entry["id"]] = state if state is not None else InvalidResponseError(
                f"unknown run state {raw!r} from the server"
            )
        return cls(states, entries)

    def infos(self) -> RunList[RunInfo]:
        """Id, state and creation time of every run, oldest first."""
        return RunList(RunInfo.from_json(entry) for entry in self.entries)


@attrs.frozen(repr=False)
class Login:
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

    def __repr__(self) -> str:
        return f"Login(user_id={self.user_id!r}, username={self.username!r})"


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


@attrs.frozen
class RankingEntry:
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
class Leaderboard:
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

    def __repr__(self) -> str:
        columns = ", ".join(f"{c.name} ({c.dtype})" for c in self.columns) or "none"
        return f"<Leaderboard: {len(self.rows)} rows; columns {columns}>"

    def _repr_html_(self) -> str:
        """The ranking as an HTML table (labels of the schema as headers), for notebooks."""
        esc = html.escape
        head = "".join(
            f'<th title="{esc(c.name)} ({esc(c.dtype)})">{esc(c.label)}</th>' for c in self.columns
        )
        body = []
        for rank, row in enumerate(self.rows, start=1):
            cells = "".join(
                f"<td>{esc(c.format_value(row.results.get(c.name)))}</td>" for c in self.columns
            )
            finished = row.finished_at.strftime("%Y-%m-%d %H:%M:%S") if row.finished_at else ""
            body.append(
                f"<tr><td>{rank}</td><td>{esc(row.group_name)}</td>"
                f'<td title="{esc(row.run_id)}"><code>{esc(row.run_id[:8])}</code></td>'
                f"{cells}<td>{finished}</td></tr>"
            )
        return (
            "<table><thead><tr><th>#</th><th>group</th><th>run</th>"
            f"{head}<th>finished (UTC)</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
        )


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
