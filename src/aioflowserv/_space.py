"""Argument spaces: the argument sets of a study, built from a few lines and checked whole.

A :class:`Space` is an iterable of argument sets (dicts), the same every time
it is iterated, with a ``len()``:

- :func:`grid` takes every combination of its dimensions' values (the last
  dimension varies fastest, as :func:`itertools.product`);
- :func:`zipped` takes them element by element;
- :func:`sample` draws ``n`` sets at random from distributions
  (:func:`uniform`, :func:`integers`) and choices (a list), from a seed;
- ``a + b`` is ``a``'s sets, then ``b``'s; ``a * b`` every combination of one
  set of each (their names must differ).

A dimension given a single value (not a list) has that value in every set.
Spaces are lazy: iterating a grid of a million sets never holds them all,
and a sample draws each set as it is read. :meth:`Space.check` checks a space
against a workflow's parameter declarations before anything is sent (a sweep
does it first): an unknown name, a value of the wrong type or out of its
declared range, or a distribution reaching outside it raises the error
``start_run`` would (:class:`UnknownParameterError`,
:class:`InvalidArgumentError`), with a note naming the first argument set
concerned. Every dimension is checked value by value (or by its bounds), not
set by set, so a check stays cheap for a large grid.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from ._arguments import Declaration, cast, prepare_arguments
from ._errors import ArgumentError, InvalidArgumentError, UnknownParameterError, add_note
from ._presenter import Drawn

__all__ = [
    "Distribution",
    "Integers",
    "Space",
    "Uniform",
    "grid",
    "integers",
    "sample",
    "uniform",
    "zipped",
]


@attrs.frozen
class Uniform:
    """Numbers drawn uniformly from ``[low, high]`` (with ``log``, uniformly in their log)."""

    low: float
    high: float
    log: bool = False

    def draw(self, rng: random.Random) -> float:
        """One value."""
        if self.log:
            return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        return rng.uniform(self.low, self.high)

    def __str__(self) -> str:
        return f"uniform({self.low:g}, {self.high:g}{', log' if self.log else ''})"


@attrs.frozen
class Integers:
    """Integers drawn uniformly from ``low`` to ``high``, both included."""

    low: int
    high: int

    def draw(self, rng: random.Random) -> int:
        """One value."""
        return self.low + rng.randrange(self.high - self.low + 1)

    def __str__(self) -> str:
        return f"integers({self.low}, {self.high})"


Distribution = Uniform | Integers
"""What :func:`sample` draws a dimension from, besides a list of choices."""


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise InvalidArgumentError(name, f"expected a number, got {value!r}")
    return value


def uniform(low: float, high: float, log: bool = False) -> Uniform:
    """Floats drawn uniformly from ``[low, high]``; with ``log=True`` uniformly in log space.

    ``log`` needs ``0 < low``. Raises :class:`InvalidArgumentError` for bounds
    that are not numbers or not in order.
    """
    low, high = _number(low, "low"), _number(high, "high")
    if not low <= high:
        raise InvalidArgumentError("high", f"uniform({low}, {high}): high is below low")
    if log and low <= 0:
        raise InvalidArgumentError("low", f"uniform({low}, {high}, log=True) needs low > 0")
    if math.isinf(low) or math.isinf(high):
        raise InvalidArgumentError("low", "uniform() needs finite bounds")
    return Uniform(float(low), float(high), bool(log))


def integers(low: int, high: int) -> Integers:
    """Integers drawn uniformly from ``low`` to ``high``, both included."""
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidArgumentError(name, f"integers() takes ints, got {value!r}")
    if low > high:
        raise InvalidArgumentError("high", f"integers({low}, {high}): high is below low")
    return Integers(low, high)


def _choices(name: str, value: object) -> tuple[Any, ...]:
    """A dimension's values: a list or tuple as they are, anything else as the one value."""
    if isinstance(value, (Uniform, Integers)):
        raise InvalidArgumentError(
            name, f"{value} is a distribution: draw from it with afs.sample(n, {name}=...)"
        )
    if isinstance(value, (list, tuple, range)):
        values = tuple(value)
        if not values:
            raise InvalidArgumentError(name, "an empty list of values")
        return values
    if isinstance(value, (set, frozenset, dict, Iterator)):
        raise InvalidArgumentError(
            name, f"give the values as a list (a {type(value).__name__} has no fixed order)"
        )
    return (value,)


def _describe(values: object) -> str:
    if isinstance(values, (Uniform, Integers)):
        return str(values)
    assert isinstance(values, tuple)
    shown = ", ".join(repr(v) for v in values[:4])
    return f"[{shown}{', ...' if len(values) > 4 else ''}]" if len(values) != 1 else shown


class Space(Drawn):
    """Argument sets for a sweep: iterable (the same sets every time), with ``len()``.

    Build one with :func:`grid`, :func:`zipped` or :func:`sample`, and combine
    them with ``+`` (one after the other) and ``*`` (every combination).
    ``list(space)`` gives the sets as dicts.
    """

    kind: str = "space"

    @property
    def size(self) -> int:
        """How many argument sets the space gives, exactly, however large.

        ``len()`` gives the same, up to ``sys.maxsize``, which a grid of many
        dimensions can pass.
        """
        raise NotImplementedError

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    @property
    def names(self) -> tuple[str, ...]:
        """The parameter names the sets give values for (in the order first given)."""
        raise NotImplementedError

    def dimensions(self) -> list[tuple[str, str]]:
        """Each dimension as (name, description of its values or distribution), for display."""
        raise NotImplementedError

    def __add__(self, other: object) -> Space:
        if not isinstance(other, Space):
            return NotImplemented
        return _Chain(self, other)

    def __mul__(self, other: object) -> Space:
        if not isinstance(other, Space):
            return NotImplemented
        overlap = [name for name in self.names if name in other.names]
        if overlap:
            raise InvalidArgumentError(
                overlap[0], "both spaces of a product give it values (use + to chain them)"
            )
        return _Product(self, other)

    def check(self, parameters: Mapping[str, Declaration]) -> None:
        """Check every set against a workflow's parameter declarations, without sending anything.

        Raises what ``start_run`` would for one of the sets
        (:class:`UnknownParameterError`, :class:`InvalidArgumentError`), with
        a note naming the first argument set concerned ("in argument set #i").
        Each dimension is checked by its values (a distribution by its
        bounds), and the first set of each part of a chain whole (for a
        parameter that is required and given nowhere).
        """
        try:
            for name, values in self._leaves():
                para = parameters.get(name)
                if para is None:
                    raise UnknownParameterError(name, known=list(parameters))
                _check_values(para, values)
        except ArgumentError as exc:
            self._locate(parameters, exc)
            raise
        for offset, part in self._parts(0):
            first = next(iter(part), None)
            if first is None:
                continue
            try:
                prepare_arguments(parameters, first)
            except ArgumentError as exc:
                add_note(exc, f"in argument set #{offset} of the space")
                raise

    def _locate(self, parameters: Mapping[str, Declaration], error: ArgumentError) -> None:
        """Note on ``error`` the first set it concerns (one whose own check fails on its parameter).

        Only sets up to :data:`SEARCH_LIMIT` are looked at; a distribution that
        reaches out of range may draw no bad value at all: then the note names
        the dimension. The caller raises ``error``.
        """
        for index, arguments in enumerate(itertools.islice(self, SEARCH_LIMIT)):
            try:
                prepare_arguments(parameters, arguments)
            except ArgumentError as found:
                if found.parameter.split("[")[0].split(".")[0] == error.parameter:
                    add_note(error, f"in argument set #{index} of the space")
                    return
        add_note(error, f"in the space's dimension {error.parameter!r}")

    # -- for subclasses ---------------------------------------------------------

    def _parts(self, offset: int) -> Iterator[tuple[int, Space]]:
        """The spaces chained in this one, each with the index of its first set."""
        yield offset, self

    def _leaves(self) -> Iterator[tuple[str, tuple[Any, ...] | Distribution]]:
        """Every dimension of the space (of its parts too), with its values or distribution."""
        raise NotImplementedError


SEARCH_LIMIT = 100_000
"""The most sets a failed check reads to name the first set with the bad value."""


def _check_values(para: Declaration, values: tuple[Any, ...] | Distribution) -> None:
    if isinstance(values, tuple):
        for value in values:
            if para.dtype == "file":
                continue  # a file argument is checked when its set is prepared
            cast(para, value)
        return
    if para.dtype not in ("int", "float"):
        raise InvalidArgumentError(
            para.name, f"{values} draws numbers, but {para.name!r} is a {para.dtype} "
            "parameter (give a list of choices)",
        )
    if para.dtype == "int" and isinstance(values, Uniform):
        raise InvalidArgumentError(
            para.name, f"{values} draws floats, but {para.name!r} is an int parameter "
            "(use afs.integers)",
        )
    for bound in (values.low, values.high):
        try:
            cast(para, bound)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(
                para.name, f"{values} reaches outside what it accepts ({exc.reason})"
            ) from None


def _dims(kind: str, dims: Mapping[str, object]) -> dict[str, tuple[Any, ...]]:
    if not dims:
        raise TypeError(f"{kind}() needs at least one dimension (name=values)")
    return {name: _choices(name, value) for name, value in dims.items()}


class _Dimensions(Space):
    """A space made of named dimensions (``_dims``: choices, or a distribution)."""

    _dims: Mapping[str, Any]  # choices (tuples), or distributions in a sample

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._dims)

    def dimensions(self) -> list[tuple[str, str]]:
        return [(name, _describe(values)) for name, values in self._dims.items()]

    def _leaves(self) -> Iterator[tuple[str, tuple[Any, ...] | Distribution]]:
        yield from self._dims.items()


class _Grid(_Dimensions):
    kind = "grid"

    def __init__(self, dims: Mapping[str, tuple[Any, ...]]) -> None:
        self._dims = dict(dims)

    @property
    def size(self) -> int:
        return math.prod(len(values) for values in self._dims.values())

    def __iter__(self) -> Iterator[dict[str, Any]]:
        names = list(self._dims)
        for combination in itertools.product(*self._dims.values()):
            yield dict(zip(names, combination, strict=True))



class _Zipped(_Grid):
    kind = "zipped"

    def __init__(self, dims: Mapping[str, tuple[Any, ...]]) -> None:
        super().__init__(dims)
        lengths = {len(v) for v in self._dims.values() if len(v) != 1}
        if len(lengths) > 1:
            shown = ", ".join(f"{name}: {len(v)}" for name, v in self._dims.items())
            raise InvalidArgumentError(
                next(iter(self._dims)), f"zipped() needs lists of one length ({shown})"
            )
        self._length = lengths.pop() if lengths else 1

    @property
    def size(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for index in range(self._length):
            yield {
                name: values[index if len(values) > 1 else 0]
                for name, values in self._dims.items()
            }


class _Sample(_Dimensions):
    kind = "sample"

    def __init__(self, count: int, seed: int, dims: Mapping[str, object]) -> None:
        self._count = count
        self.seed = seed
        self._dims: dict[str, tuple[Any, ...] | Distribution] = {
            name: value if isinstance(value, (Uniform, Integers)) else _choices(name, value)
            for name, value in dims.items()
        }

    @property
    def size(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[dict[str, Any]]:
        rng = random.Random(self.seed)
        for _ in range(self._count):
            drawn: dict[str, Any] = {}
            for name, values in self._dims.items():
                if isinstance(values, tuple):
                    drawn[name] = values[rng.randrange(len(values))] if len(values) > 1 \
                        else values[0]
                else:
                    drawn[name] = values.draw(rng)
            yield drawn



class _Chain(Space):
    kind = "chain"

    def __init__(self, first: Space, second: Space) -> None:
        self.first = first
        self.second = second

    @property
    def size(self) -> int:
        return self.first.size + self.second.size

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield from self.first
        yield from self.second

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.first.names, *self.second.names)))

    def dimensions(self) -> list[tuple[str, str]]:
        return [*self.first.dimensions(), *self.second.dimensions()]

    def _parts(self, offset: int) -> Iterator[tuple[int, Space]]:
        yield from self.first._parts(offset)
        yield from self.second._parts(offset + self.first.size)

    def _leaves(self) -> Iterator[tuple[str, tuple[Any, ...] | Distribution]]:
        yield from self.first._leaves()
        yield from self.second._leaves()


class _Product(Space):
    kind = "product"

    def __init__(self, outer: Space, inner: Space) -> None:
        self.outer = outer
        self.inner = inner

    @property
    def size(self) -> int:
        return self.outer.size * self.inner.size

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for left in self.outer:
            for right in self.inner:
                yield {**left, **right}

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.outer.names, *self.inner.names)

    def dimensions(self) -> list[tuple[str, str]]:
        return [*self.outer.dimensions(), *self.inner.dimensions()]

    def _leaves(self) -> Iterator[tuple[str, tuple[Any, ...] | Distribution]]:
        yield from self.outer._leaves()
        yield from self.inner._leaves()


def grid(**dims: Any) -> Space:
    """Every combination of the dimensions' values: ``grid(sleep=[0.1, 0.2], greeting=["a", "b"])``.

    The last dimension varies fastest. A single value (not a list) is the
    same in every set.
    """
    return _Grid(_dims("grid", dims))


def zipped(**dims: Any) -> Space:
    """The dimensions' values element by element: ``zipped(x=[1, 2], y=[3, 4])`` is two sets.

    The lists must have one length; a single value is the same in every set.
    """
    return _Zipped(_dims("zipped", dims))


def sample(n: int, /, *, seed: int | None = None, **dims: Any) -> Space:
    """``n`` argument sets drawn at random, the same ones every time for one seed.

    Each dimension is a distribution (:func:`uniform`, :func:`integers`), a
    list of choices (drawn with equal chances), or a single value. Without a
    ``seed`` one is chosen when the space is made (``space.seed`` tells it),
    so iterating the same space twice gives the same sets.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise InvalidArgumentError("n", f"expected an int >= 0, got {n!r}")
    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    elif isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidArgumentError("seed", f"expected an int, got {seed!r}")
    if not dims:
        raise TypeError("sample() needs at least one dimension (name=distribution or values)")
    return _Sample(n, seed, dims)


