"""Run arguments from the command line: ``-a name=value`` and batch files.

Text values are converted by the group's parameter declarations (``sleep=2``
becomes the float 2.0, ``shout=yes`` the bool True, ``nums=1,2,3`` a list of
ints), file parameters take local paths, and every argument set is then
checked exactly as :meth:`AsyncWorkflow.start_run` checks it, before anything
is sent. Errors name the argument and, for batch files, the line.

Batch files hold one argument set per line: JSON Lines (one JSON object per
line) or CSV (a header row with parameter names, then one row per run; an
empty cell leaves that parameter at its default). Relative file paths in a
batch file are relative to the batch file's directory.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from .. import ArgumentError, InvalidArgumentError, Parameter, UnknownParameterError
from .._arguments import prepare_arguments
from .output import CLIError, ExitCode

__all__ = [
    "BATCH_FORMATS",
    "ArgumentSet",
    "check",
    "coerce",
    "parse_assignments",
    "read_batch",
]

TRUE_WORDS = frozenset({"1", "t", "true", "y", "yes", "on"})
FALSE_WORDS = frozenset({"0", "f", "false", "n", "no", "off"})
BATCH_FORMATS = ("jsonl", "csv")


@attrs.frozen
class ArgumentSet:
    """The arguments of one run, and where they came from (for messages)."""

    arguments: Mapping[str, Any]
    origin: str
    line: int | None = None


def _bool(name: str, text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InvalidArgumentError(name, f"expected true or false, got {text!r}")


def _number(para: Parameter, name: str, text: str) -> int | float:
    word = text.strip()
    try:
        if para.dtype == "int":
            try:
                return int(word)
            except ValueError:
                value = float(word)
                if not value.is_integer():
                    raise
                return int(value)
        value = float(word)
    except ValueError:
        article = "an" if para.dtype == "int" else "a"
        raise InvalidArgumentError(name, f"expected {article} {para.dtype}, got {text!r}") from None
    if math.isnan(value):
        raise InvalidArgumentError(name, "NaN is not a valid value")
    return value


def coerce(para: Parameter, text: str, base: Path | None = None, name: str | None = None) -> Any:
    """Turn the text of one argument into the value its declaration asks for.

    ``base`` is the directory relative file paths start from (the current
    directory when None).
    """
    name = name or para.name
    dtype = para.dtype
    if dtype in ("int", "float"):
        return _number(para, name, text)
    if dtype == "bool":
        return _bool(name, text)
    if dtype == "string":
        return text
    if dtype == "file":
        path = Path(text).expanduser()
        return base / path if base is not None and not path.is_absolute() else path
    if dtype == "select":
        return _select(para, name, text)
    if dtype == "list":
        return _list(para, name, text, base)
    if dtype == "record":
        value = _json(name, text)
        if not isinstance(value, dict):
            raise InvalidArgumentError(
                name, 'expected a JSON object of field values, such as {"x": 1}'
            )
        return value
    try:
        return json.loads(text)
    except ValueError:
        return text


def _select(para: Parameter, name: str, text: str) -> Any:
    """The value of the option given by its value, else by its name (any case)."""
    for option in para.values:
        if str(option.value) == text:
            return option.value
    for option in para.values:
        if option.name.lower() == text.strip().lower():
            return option.value
    choices = ", ".join(str(option.value) for option in para.values)
    raise InvalidArgumentError(name, f"unknown value {text!r} (choose one of {choices})")


def _list(para: Parameter, name: str, text: str, base: Path | None) -> list[Any]:
    """A JSON list, or comma-separated items; text items converted by the element type."""
    stripped = text.strip()
    if stripped.startswith("["):
        items = _json(name, stripped)
        if not isinstance(items, list):
            raise InvalidArgumentError(name, "expected a JSON list")
    else:
        items = [item.strip() for item in stripped.split(",")] if stripped else []
    if para.para is None:
        return items
    return [
        coerce(para.para, item, base, f"{name}[{i}]") if isinstance(item, str) else item
        for i, item in enumerate(items)
    ]


def _json(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidArgumentError(name, f"not valid JSON ({exc})") from None


def _typed(para: Parameter, value: Any, base: Path | None) -> Any:
    """A value from a JSON document: text is converted, everything else kept as given."""
    if isinstance(value, str) and para.dtype != "string":
        return coerce(para, value, base)
    return value


def parse_assignments(
    parameters: Mapping[str, Parameter], assignments: Sequence[str]
) -> dict[str, Any]:
    """Parse ``-a name=value`` options into typed arguments."""
    arguments: dict[str, Any] = {}
    for assignment in assignments:
        name, sep, text = assignment.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CLIError(f"-a {assignment!r}: expected name=value", ExitCode.USAGE)
        if name not in parameters:
            raise UnknownParameterError(name, known=list(parameters))
        if name in arguments:
            raise CLIError(f"-a {name}=...: given more than once", ExitCode.USAGE)
        arguments[name] = coerce(parameters[name], text)
    return arguments


def check(parameters: Mapping[str, Parameter], arguments: Mapping[str, Any]) -> None:
    """Validate one argument set as ``start_run`` will (nothing is sent)."""
    prepare_arguments(parameters, arguments)


def detect_format(path: Path, text: str, given: str | None) -> str:
    """The batch format: as given, else by extension, else by the first character."""
    if given is not None:
        return given
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    return "jsonl" if text.lstrip().startswith("{") else "csv"


def read_batch(
    path: Path,
    parameters: Mapping[str, Parameter],
    *,
    fmt: str | None = None,
    defaults: Mapping[str, Any] | None = None,
    text: str | None = None,
) -> list[ArgumentSet]:
    """Read and check every argument set of a batch file.

    ``defaults`` (from ``-a`` options) apply to every line; a line's own
    values win. Raises :class:`CLIError` naming the first bad line; nothing
    has been sent at that point.
    """
    if text is None:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise CLIError(f"batch file not found: {path}", ExitCode.USAGE) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CLIError(f"cannot read batch file {path}: {exc}", ExitCode.USAGE) from None
    fmt = detect_format(path, text, fmt)
    base = path.parent if str(path) != "-" else None
    rows = _jsonl_rows(path, text) if fmt == "jsonl" else _csv_rows(path, text, parameters)
    sets: list[ArgumentSet] = []
    for line, row in rows:
        where = f"{path}, line {line}"
        try:
            arguments = dict(defaults or {})
            for name, value in row.items():
                if name not in parameters:
                    raise UnknownParameterError(str(name), known=list(parameters))
                arguments[name] = _typed(parameters[name], value, base)
            check(parameters, arguments)
        except ArgumentError as exc:
            raise CLIError(f"{where}: {exc}", ExitCode.USAGE) from None
        sets.append(ArgumentSet(arguments, where, line))
    if not sets:
        raise CLIError(f"batch file {path} holds no argument sets", ExitCode.USAGE)
    return sets


def _jsonl_rows(path: Path, text: str) -> Iterable[tuple[int, Mapping[str, Any]]]:
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise CLIError(
                f"{path}, line {number}: not valid JSON ({exc})", ExitCode.USAGE
            ) from None
        if not isinstance(doc, dict):
            raise CLIError(
                f"{path}, line {number}: expected a JSON object of argument names to values, "
                f"got {type(doc).__name__}",
                ExitCode.USAGE,
            )
        yield number, doc


def _csv_rows(
    path: Path, text: str, parameters: Mapping[str, Parameter]
) -> Iterable[tuple[int, Mapping[str, Any]]]:
    dialect: type[csv.Dialect] = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    header: list[str] | None = None
    header_line = 0
    last_line = 0
    try:
        for row in reader:
            first_line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = [cell.strip() for cell in row]
                header_line = first_line
                _check_header(path, header_line, header, parameters)
                continue
            if len(row) != len(header):
                raise CLIError(
                    f"{path}, line {first_line}: {len(row)} fields, but the header "
                    f"(line {header_line}) has {len(header)}",
                    ExitCode.USAGE,
                )
            yield first_line, {
                name: cell for name, cell in zip(header, row, strict=True) if cell != ""
            }
    except csv.Error as exc:
        raise CLIError(f"{path}, line {reader.line_num}: bad CSV ({exc})", ExitCode.USAGE) from None


def _check_header(
    path: Path, line: int, header: list[str], parameters: Mapping[str, Parameter]
) -> None:
    seen: set[str] = set()
    for name in header:
        if not name:
            raise CLIError(f"{path}, line {line}: empty column name in the header", ExitCode.USAGE)
        if name in seen:
            raise CLIError(f"{path}, line {line}: column {name!r} given twice", ExitCode.USAGE)
        if name not in parameters:
            raise CLIError(
                f"{path}, line {line}: {UnknownParameterError(name, known=list(parameters))}",
                ExitCode.USAGE,
            )
        seen.add(name)
