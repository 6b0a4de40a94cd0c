"""Run arguments: flowServ's rules for values, checked before anything is sent.

The server accepts some bad arguments (a float for an int is truncated) and
answers others with a 500, so every argument is checked here against the
group's declarations before anything is uploaded or submitted: :func:`cast`
holds flowServ's rules for the values a declaration accepts (numbers in their
range, Booleans, select choices, lists and records element by element), and
:func:`prepare_arguments` applies them to a user's arguments and fills in
defaults. File arguments become :class:`FileSource` objects, ready to upload.
Errors name the parameter (and the element, for lists and records: ``nums[2]``,
``point.x``).

Layering: this module sits below the models (``_errors``, ``_config``,
``_saved``, ``_presenter``, ``_arguments``, ``_parameters``, ``_models``,
``_display``, ...). The rules are written against :class:`Declaration`, the
few attributes of a parameter declaration they read, which
``_parameters.Parameter`` has; ``Parameter.cast`` calls down into
:func:`cast`, and nothing here imports the models.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Protocol, Union

import attrs

from ._errors import InvalidArgumentError, UnknownParameterError

__all__ = [
    "Choice",
    "Declaration",
    "FileArgument",
    "FileLike",
    "FileSource",
    "Interval",
    "Prepared",
    "cast",
    "check_wire_arguments",
    "file_source",
    "prepare_arguments",
]


class Interval(Protocol):
    """The valid numbers of a numeric declaration (a ``RangeConstraint``)."""

    def __contains__(self, value: float) -> bool:
        """True when ``value`` lies in the interval."""


class Choice(Protocol):
    """One choice of a select declaration (a ``SelectOption``)."""

    @property
    def value(self) -> Any:
        """What is sent when this choice is made."""


class Declaration(Protocol):
    """What the rules read of a parameter declaration (``Parameter`` has it all).

    ``range`` bounds numbers, ``values`` are a select's choices, ``para`` the
    declaration of a list's elements and ``fields`` a record's fields.
    """

    @property
    def name(self) -> str:
        """The parameter's name (errors name it)."""

    @property
    def dtype(self) -> str:
        """``int``, ``float``, ``bool``, ``string``, ``select``, ``list``, ``record``, ``file``."""

    @property
    def index(self) -> int:
        """Its position in the declaration order."""

    @property
    def required(self) -> bool:
        """True when a value must be given (unless there is a default)."""

    @property
    def default(self) -> Any:
        """The default value, or None."""

    @property
    def range(self) -> Interval | None:
        """The valid numbers, if bounded."""

    @property
    def values(self) -> Sequence[Choice]:
        """A select's choices."""

    @property
    def para(self) -> Declaration | None:
        """A list's element declaration."""

    @property
    def fields(self) -> Sequence[Declaration]:
        """A record's field declarations."""


_TRUE = frozenset({"1", "t", "true"})
_FALSE = frozenset({"", "0", "f", "false"})


def cast(declaration: Declaration, value: Any, path: str | None = None) -> Any:
    """Check ``value`` against ``declaration`` and return what is sent to the server.

    Raises :class:`InvalidArgumentError` naming ``path`` (the parameter's
    name by default; ``nums[2]`` or ``point.x`` inside lists and records).
    File values are not cast (see :func:`file_source`); a type this SDK does
    not know (``actor``) is sent as given.
    """
    path = declaration.name if path is None else path
    dtype = declaration.dtype
    if dtype in ("int", "float"):
        return _cast_number(declaration, value, path)
    if dtype == "bool":
        return _cast_bool(value, path)
    if dtype == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise InvalidArgumentError(path, f"expected a string, got {type(value).__name__}")
    if dtype == "select":
        allowed = [option.value for option in declaration.values]
        for option in allowed:
            if type(option) is type(value) and option == value:
                return value
        choices = ", ".join(repr(v) for v in allowed)
        raise InvalidArgumentError(
            path, f"unknown value {_describe(value)} (choose one of {choices})"
        )
    if dtype == "list":
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise InvalidArgumentError(path, f"expected a list, got {type(value).__name__}")
        if declaration.para is None:
            return list(value)
        return [cast(declaration.para, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if dtype == "record":
        return _cast_record(declaration, value, path)
    if dtype == "file":
        raise InvalidArgumentError(path, "file values are uploaded, not cast")
    return value


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _cast_number(declaration: Declaration, value: Any, path: str) -> Any:
    if isinstance(value, bool) or value is None:
        raise InvalidArgumentError(path, f"expected a number, got {_describe(value)}")
    number: float
    if isinstance(value, str):
        text = value.strip()
        try:
            number = int(text) if declaration.dtype == "int" else float(text)
        except ValueError:
            raise InvalidArgumentError(
                path, f"no {declaration.dtype} {_describe(value)}"
            ) from None
    elif isinstance(value, (int, float)):
        number = value
    else:
        raise InvalidArgumentError(path, f"expected a number, got {type(value).__name__}")
    if isinstance(number, float) and math.isnan(number):
        raise InvalidArgumentError(path, "NaN is not a valid value")
    if declaration.dtype == "int":
        if isinstance(number, float):
            if not number.is_integer():
                raise InvalidArgumentError(path, f"expected an int, got {_describe(value)}")
            number = int(number)
    else:
        number = float(number)
    if declaration.range is not None and number not in declaration.range:
        raise InvalidArgumentError(path, f"{number} not in {declaration.range}")
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
    raise InvalidArgumentError(path, f"not a Boolean {_describe(value)}")


def _cast_record(declaration: Declaration, value: Any, path: str) -> list[dict[str, Any]]:
    if isinstance(value, Mapping):
        items = dict(value)
    elif isinstance(value, (list, tuple)) and all(
        isinstance(item, Mapping) and set(item) == {"name", "value"} for item in value
    ):
        items = {}
        for item in value:
            if item["name"] in items:
                raise InvalidArgumentError(path, f"field {item['name']!r} given twice")
            items[item["name"]] = item["value"]
    else:
        raise InvalidArgumentError(
            path, f"expected a mapping of field values, got {type(value).__name__}"
        )
    fields = {f.name: f for f in declaration.fields}
    for key in items:
        if key not in fields:
            raise InvalidArgumentError(
                f"{path}.{key}", f"unknown field (fields: {', '.join(fields)})"
            )
    wire = []
    for field in declaration.fields:
        if field.name in items:
            value = cast(field, items[field.name], f"{path}.{field.name}")
            wire.append({"name": field.name, "value": value})
        elif field.required and field.default is None:
            raise InvalidArgumentError(f"{path}.{field.name}", "a value is required")
    return wire


FileLike = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, IO[bytes], IO[str]]
"""What a file argument may be: a local path, the content, or an open file."""


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


def file_source(para: Declaration, value: Any) -> FileSource:
    """Check a file argument's value and describe where its content comes from."""
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
            raise InvalidArgumentError(name, f"no such file: {str(path)!r}")
        if not path.is_file():
            raise InvalidArgumentError(name, f"not a regular file: {str(path)!r}")
        if not os.access(path, os.R_OK):
            raise InvalidArgumentError(name, f"file is not readable: {str(path)!r}")
        return FileSource(name, filename or path.name, path=path, target=target)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return FileSource(name, filename or name, data=bytes(value), target=target)
    readable = getattr(value, "readable", None)
    if callable(readable) and not getattr(value, "closed", False) and not readable():
        raise InvalidArgumentError(
            name, f"the file {_stream_name(value, '')!r} is not open for reading"
        )
    if isinstance(value, io.TextIOBase):
        if value.closed:
            raise InvalidArgumentError(name, "the file is closed")
        data = value.read().encode("utf-8")
        return FileSource(name, filename or _stream_name(value, name), data=data, target=target)
    read = getattr(value, "read", None)
    if callable(read):
        if getattr(value, "closed", False):
            raise InvalidArgumentError(name, "the file is closed")
        stream_name = _stream_name(value, name)
        if getattr(value, "seekable", lambda: False)():
            return FileSource(
                name, filename or stream_name, stream=value, position=value.tell(), target=target
            )
        data = read()
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not isinstance(data, bytes):
            raise InvalidArgumentError(
                name, f"reading the file gave {type(data).__name__}, not bytes"
            )
        return FileSource(name, filename or stream_name, data=data, target=target)
    raise InvalidArgumentError(
        name,
        f"expected a path, bytes or an open file, got {type(value).__name__}",
    )


def _stream_name(stream: Any, fallback: str) -> str:
    name = getattr(stream, "name", None)
    return os.path.basename(name) if isinstance(name, str) and name else fallback


Prepared = list[tuple[str, Any]]
"""Arguments ready for the wire: (name, value) pairs; file values are :class:`FileSource`."""


def prepare_arguments(
    parameters: Mapping[str, Declaration], arguments: Mapping[str, Any]
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
            if para.dtype == "file":
                prepared.append((para.name, file_source(para, value)))
            else:
                prepared.append((para.name, cast(para, value)))
        elif para.default is not None:
            if para.dtype != "file":
                # An odd default in the template is left to the server to apply.
                with contextlib.suppress(InvalidArgumentError):
                    prepared.append((para.name, cast(para, para.default)))
        elif para.required:
            raise InvalidArgumentError(para.name, "a value is required")
    return prepared


def check_wire_arguments(arguments: object) -> list[dict[str, Any]]:
    """Check the shape of arguments in wire form, ``[{"name": ..., "value": ...}, ...]``.

    The server answers some malformed lists with a 500; this refuses them
    first (the values themselves are the server's to check in this form).
    """
    if isinstance(arguments, (str, bytes)) or not isinstance(arguments, (list, tuple)):
        raise InvalidArgumentError(
            "arguments",
            f"expected a mapping of parameter names to values, got {type(arguments).__name__}",
        )
    seen: set[str] = set()
    for index, item in enumerate(arguments):
        if not isinstance(item, Mapping) or set(item) != {"name", "value"}:
            raise InvalidArgumentError(
                "arguments",
                f"item {index} of a wire-form list must be {{'name': ..., 'value': ...}} "
                f"(or pass a mapping of names to values instead), got {item!r:.80}",
            )
        name = item["name"]
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError("arguments", f"item {index}: invalid name {name!r}")
        if name in seen:
            raise InvalidArgumentError(name, "given twice")
        seen.add(name)
    return [dict(item) for item in arguments]
