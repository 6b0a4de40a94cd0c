"""Parameter declarations, and client-side validation and serialization of arguments.

The server accepts some bad arguments (a float for an int is truncated) and
answers others with a 500, so every argument is checked here against the
group's declarations before anything is uploaded or submitted. Errors name the
parameter (and the element, for lists and records: ``nums[2]``, ``point.x``).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any, Union

import attrs

from ._errors import InvalidArgumentError, InvalidResponseError, UnknownParameterError

__all__ = [
    "FileArgument",
    "FileSource",
    "Parameter",
    "ParameterIndex",
    "RangeConstraint",
    "SelectOption",
    "prepare_arguments",
]

FileLike = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes], IO[str]]
"""What a file argument may be: a local path, the content, or an open file."""

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


@attrs.frozen
class FileArgument:
    """A file argument with options: the upload's ``filename`` and a ``target`` path.

    ``source`` is a local path, bytes, or an open file (binary or text), or the
    id of a file already uploaded to the group (``upload_id``).
    """

    source: FileLike | None = None
    filename: str | None = None
    target: str | None = None
    upload_id: str | None = None


@attrs.define
class FileSource:
    """A file argument after validation: ready to upload (or already uploaded)."""

    parameter: str
    filename: str
    data: bytes | None = None
    path: Path | None = None
    stream: IO[bytes] | None = None
    position: int = 0
    target: str | None = None
    upload_id: str | None = None

    def open(self) -> IO[bytes] | bytes:
        """Return the content for one upload attempt (rewinding a stream first)."""
        if self.data is not None:
            return self.data
        if self.path is not None:
            return self.path.open("rb")
        assert self.stream is not None
        self.stream.seek(self.position)
        if self.position:
            # httpx rewinds a file object to 0 before sending it: pass the rest as bytes.
            rest: bytes = self.stream.read()
            return rest
        return self.stream

    def wire(self, file_id: str) -> dict[str, Any]:
        """The argument value that refers to the uploaded file."""
        value: dict[str, Any] = {"fileId": file_id}
        if self.target is not None:
            value["targetPath"] = self.target
        return {"type": "$file", "value": value}


@attrs.frozen
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


def _file_source(para: Parameter, value: Any) -> FileSource:
    name = para.name
    target = None
    filename = None
    if isinstance(value, FileArgument):
        target, filename = value.target, value.filename
        if value.upload_id is not None:
            return FileSource(name, filename or name, upload_id=value.upload_id, target=target)
        value = value.source
    if isinstance(value, (str, os.PathLike)):
        path = Path(os.fspath(value)).expanduser()
        if not path.exists():
            raise _invalid(name, f"no such file: {str(path)!r}")
        if not path.is_file():
            raise _invalid(name, f"not a regular file: {str(path)!r}")
        if not os.access(path, os.R_OK):
            raise _invalid(name, f"file is not readable: {str(path)!r}")
        return FileSource(name, filename or path.name, path=path, target=target)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return FileSource(name, filename or name, data=bytes(value), target=target)
    readable = getattr(value, "readable", None)
    if callable(readable) and not getattr(value, "closed", False) and not readable():
        raise _invalid(name, f"the file {_stream_name(value, '')!r} is not open for reading")
    if isinstance(value, io.TextIOBase):
        if value.closed:
            raise _invalid(name, "the file is closed")
        data = value.read().encode("utf-8")
        return FileSource(name, filename or _stream_name(value, name), data=data, target=target)
    read = getattr(value, "read", None)
    if callable(read):
        if getattr(value, "closed", False):
            raise _invalid(name, "the file is closed")
        stream_name = _stream_name(value, name)
        if getattr(value, "seekable", lambda: False)():
            return FileSource(
                name, filename or stream_name, stream=value, position=value.tell(), target=target
            )
        data = read()
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not isinstance(data, bytes):
            raise _invalid(name, f"reading the file gave {type(data).__name__}, not bytes")
        return FileSource(name, filename or stream_name, data=data, target=target)
    raise _invalid(
        name,
        f"expected a path, bytes or an open file, got {type(value).__name__}",
    )


def _stream_name(stream: Any, fallback: str) -> str:
    name = getattr(stream, "name", None)
    return os.path.basename(name) if isinstance(name, str) and name else fallback


class ParameterIndex(dict[str, Parameter]):
    """The parameter declarations of a group, by name (as flowServ's ``ParameterIndex``)."""

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


Prepared = list[tuple[str, Any]]
"""Arguments ready for the wire: (name, value) pairs; file values are :class:`FileSource`."""


def prepare_arguments(
    parameters: Mapping[str, Parameter], arguments: Mapping[str, Any]
) -> Prepared:
    """Validate ``arguments`` against ``parameters`` and fill in defaults.

    Returns (name, value) pairs in declaration order: cast values, and a
    :class:`FileSource` for each file argument. A file parameter that is left
    out keeps its server-side default (a path in the template, never
    uploaded). Nothing is sent here; every error is raised before any request.
    """
    if not isinstance(arguments, Mapping):
        raise TypeError(
            f"arguments must be a mapping of names to values, not {type(arguments).__name__}"
        )
    for key in arguments:
        if key not in parameters:
            raise UnknownParameterError(str(key), known=list(parameters))
    prepared: Prepared = []
    for para in sorted(parameters.values(), key=lambda p: p.index):
        if para.name in arguments:
            value = arguments[para.name]
            if para.is_file():
                prepared.append((para.name, _file_source(para, value)))
            else:
                prepared.append((para.name, _cast(para, value, para.name)))
        elif para.default is not None:
            if not para.is_file():
                # An odd default in the template is left to the server to apply.
                with contextlib.suppress(InvalidArgumentError):
                    prepared.append((para.name, _cast(para, para.default, para.name)))
        elif para.required:
            raise _invalid(para.name, "a value is required")
    return prepared

