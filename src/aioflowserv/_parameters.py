"""Parameter declarations of a workflow group, as the server sends them.

:class:`Parameter` (one declaration, with flowServ's attribute names) and
:class:`ParameterIndex` (a group's declarations by name), built from JSON in
one function each, plus the parts of a declaration: :class:`RangeConstraint`
and :class:`SelectOption`. What a declaration accepts is decided by
``_arguments`` (:meth:`Parameter.cast` calls down into it); how it shows is
``_display``'s (through :mod:`aioflowserv._presenter`). ``_models`` re-exports
these names.

Layer order: ``_errors``, ``_config``, ``_saved``, ``_presenter``,
``_arguments``, ``_parameters``, ``_models``, ``_display``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from ._arguments import cast as _cast
from ._errors import InvalidResponseError
from ._presenter import Drawn

__all__ = ["Parameter", "ParameterIndex", "RangeConstraint", "SelectOption"]


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
class Parameter(Drawn):
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
        parameters are not handled here (see :func:`prepare_arguments`). The
        rules are flowServ's, kept in ``aioflowserv._arguments``.
        """
        return _cast(self, value)


class ParameterIndex(Drawn, dict[str, Parameter]):
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
