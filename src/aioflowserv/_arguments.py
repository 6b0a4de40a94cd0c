"""Run arguments: checked against the group's declarations and made ready to send.

The server accepts some bad arguments (a float for an int is truncated) and
answers others with a 500, so every argument is checked here against the
group's declarations (:meth:`Parameter.cast`) before anything is uploaded or
submitted. File arguments become :class:`FileSource` objects, ready to upload.
Errors name the parameter (and the element, for lists and records: ``nums[2]``,
``point.x``).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Union

import attrs

from ._errors import InvalidArgumentError, UnknownParameterError
from ._models import Parameter

__all__ = [
    "FileArgument",
    "FileLike",
    "FileSource",
    "Prepared",
    "check_wire_arguments",
    "file_source",
    "prepare_arguments",
]

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


def file_source(para: Parameter, value: Any) -> FileSource:
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
                prepared.append((para.name, file_source(para, value)))
            else:
                prepared.append((para.name, para.cast(value)))
        elif para.default is not None:
            if not para.is_file():
                # An odd default in the template is left to the server to apply.
                with contextlib.suppress(InvalidArgumentError):
                    prepared.append((para.name, para.cast(para.default)))
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
