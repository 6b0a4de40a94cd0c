"""What a sweep returns, as data: :class:`SweepResult`, :class:`FailureSummary`, the records table.

A sweep (:mod:`._sweep`) ends with one :class:`SetOutcome` per argument set it
read, in input order, and the workflow's result values of its runs (one
leaderboard request). From these:

- ``result.runs``, ``result.not_started``, ``result.reused``, ``result.stopped``;
- :meth:`SweepResult.failures`: the ERROR runs grouped by cause, the cause
  being the last line of a run's messages with what differs from run to run
  masked (numbers, hex ids, uuids, paths: :func:`failure_cause`);
- :meth:`SweepResult.to_records` / :meth:`~SweepResult.to_pandas`: one row per
  argument set (:func:`records`, which also makes ``aioflowserv results``'s
  table of a group's runs: one place for the columns and their keys).

Data only: how these are drawn is ``_display``'s (through ``_presenter``).
"""

from __future__ import annotations

import contextlib
import importlib
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from ._arguments import Declaration, cast
from ._errors import FlowservError, InvalidArgumentError
from ._models import ResultColumn, Run, RunList, RunState
from ._presenter import Described, Drawn

__all__ = [
    "RECORD_FIELDS",
    "SWEEP_FIELDS",
    "FailureCause",
    "FailureSummary",
    "SetOutcome",
    "SweepResult",
    "argument_names",
    "failure_cause",
    "group_records",
    "record_keys",
    "records",
    "to_dataframe",
    "wire_with_defaults",
]

RECORD_FIELDS = ("state", "run_id", "created_at", "started_at", "finished_at", "seconds")
"""The keys of a record after its arguments and before its result values."""

SWEEP_FIELDS = ("attempts", "reused")
"""The keys a sweep's records have besides :data:`RECORD_FIELDS`."""


def wire_with_defaults(
    arguments: Mapping[str, Any], parameters: Mapping[str, Declaration]
) -> dict[str, Any]:
    """A run's stored arguments with the declared defaults its start left out.

    Runs started elsewhere (another client, the web UI) may lack the
    parameters their starter left to the server's defaults; filled in as
    ``prepare_arguments`` fills them, they compare with checked argument sets.
    File parameters keep what the run has (a default file is never uploaded).
    """
    filled = dict(arguments)
    for para in parameters.values():
        if para.name in filled or para.default is None or para.dtype == "file":
            continue
        with contextlib.suppress(InvalidArgumentError):
            filled[para.name] = cast(para, para.default)
    return filled


def _shown(value: Any) -> Any:
    """An argument value for a table: a file argument by its target path (or file id)."""
    if isinstance(value, Mapping) and value.get("type") == "$file":
        inner = value.get("value")
        if isinstance(inner, Mapping):
            return inner.get("targetPath") or inner.get("fileId")
    return value


@attrs.frozen
class SetOutcome:
    """What became of one argument set of a sweep.

    ``arguments`` are the checked values with defaults filled in (a file
    argument by its name), ``given`` the set as the input gave it. ``run`` is
    the last run of the set (None: never started), ``attempts`` how many runs
    the sweep started for it, ``reused`` whether ``run`` is an existing
    SUCCESS run of the group, ``failed`` the ERROR runs of its earlier
    attempts, ``error`` why a start failed (the sweep stopped then).
    """

    index: int
    arguments: Mapping[str, Any]
    given: Mapping[str, Any]
    run: Run | None = None
    attempts: int = 0
    reused: bool = False
    failed: tuple[Run, ...] = ()
    error: FlowservError | None = None


def _key(name: str, taken: set[str], prefix: str) -> str:
    return f"{prefix}.{name}" if name in taken else name


def record_keys(
    names: Sequence[str], columns: Sequence[ResultColumn], *, sweep: bool
) -> list[str]:
    """The keys of each record: the arguments, the run's fields, then the result columns.

    An argument named like a field is keyed ``arguments.<name>``; a result
    column named like a field or an argument ``results.<name>`` (the
    leaderboard's rule).
    """
    fields = [*RECORD_FIELDS, *(SWEEP_FIELDS if sweep else ())]
    argument_keys = [_key(name, set(fields), "arguments") for name in names]
    taken = {*fields, *argument_keys}
    return [*argument_keys, *fields, *(_key(c.name, taken, "results") for c in columns)]


def records(
    rows: Sequence[SetOutcome],
    names: Sequence[str],
    columns: Sequence[ResultColumn],
    results: Mapping[str, Mapping[str, Any]],
    *,
    sweep: bool,
) -> list[dict[str, Any]]:
    """One flat dict per row (keys as :func:`record_keys`): arguments, state, times, results.

    ``results`` maps run ids to their result values (typed by their columns,
    as the leaderboard reads them); a row without a run has state
    ``"NOT_STARTED"`` and None elsewhere.
    """
    keys = record_keys(names, columns, sweep=sweep)
    table = []
    for row in rows:
        run = row.run
        duration = run.duration if run is not None else None
        values: list[Any] = [_shown(row.arguments.get(name)) for name in names]
        values += [
            run.state.value if run is not None else "NOT_STARTED",
            run.run_id if run is not None else None,
            run.created_at if run is not None else None,
            run.started_at if run is not None else None,
            run.finished_at if run is not None else None,
            None if duration is None else round(duration.total_seconds(), 3),
        ]
        if sweep:
            values += [row.attempts, row.reused]
        found = results.get(run.run_id, {}) if run is not None else {}
        values += [found.get(column.name) for column in columns]
        table.append(dict(zip(keys, values, strict=True)))
    return table


def argument_names(
    rows: Sequence[SetOutcome], parameters: Mapping[str, Declaration]
) -> tuple[str, ...]:
    """The parameters that some row has a value for, in declaration order (then the others)."""
    present = dict.fromkeys(name for row in rows for name in row.arguments)
    declared = [p.name for p in sorted(parameters.values(), key=lambda p: p.index)]
    return (*[n for n in declared if n in present], *[n for n in present if n not in declared])


def group_records(
    runs: Sequence[Run],
    parameters: Mapping[str, Declaration],
    columns: Sequence[ResultColumn],
    results: Mapping[str, Mapping[str, Any]],
) -> tuple[list[str], list[dict[str, Any]]]:
    """The keys and the records of a group's runs (``aioflowserv results``): as a sweep's.

    Each run's arguments get the declared defaults its start left out.
    """
    rows = [
        SetOutcome(index, wire_with_defaults(run.arguments, parameters), {}, run)
        for index, run in enumerate(runs)
    ]
    names = argument_names(rows, parameters)
    table = records(rows, names, columns, results, sweep=False)
    return record_keys(names, columns, sweep=False), table


def to_dataframe(table: list[dict[str, Any]], keys: Sequence[str], caller: str) -> Any:
    """Records as a ``pandas.DataFrame`` (the ``pandas`` extra; ImportError naming it)."""
    try:
        pandas = importlib.import_module("pandas")
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs pandas: pip install 'aioflowserv[pandas]'"
        ) from exc
    return pandas.DataFrame.from_records(table, columns=list(keys))


_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\w.~-]*[/\\])+[\w.~-]*")
_HEX = re.compile(
    r"\b(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*[0-9])[0-9a-fA-F]{8,}\b|\b0x[0-9a-fA-F]+\b"
)
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def failure_cause(run: Run) -> str:
    """The cause of a failed run: the last line of its messages, what varies masked.

    Uuids, paths, hex ids (8 digits or more, or ``0x...``) and numbers become
    ``<uuid>``, ``<path>``, ``<id>`` and ``<n>``, so that runs failing the same
    way share one cause.
    """
    lines = [line.strip() for text in run.messages() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return "(no message)"
    text = _UUID.sub("<uuid>", lines[-1])
    text = _PATH.sub("<path>", text)
    text = _HEX.sub("<id>", text)
    return _NUMBER.sub("<n>", text)[:300]


@attrs.frozen(repr=False)
class FailureCause(Described):
    """ERROR runs that failed the same way: the ``cause``, how many, and an ``example`` run."""

    cause: str
    count: int
    example: Run
    run_ids: tuple[str, ...]


@attrs.frozen(repr=False)
class FailureSummary(Drawn):
    """A sweep's ERROR runs grouped by cause, the most frequent first.

    Iterate it for the :class:`FailureCause` entries; ``total`` counts the runs.
    """

    causes: tuple[FailureCause, ...]

    @classmethod
    def of(cls, runs: Sequence[Run]) -> FailureSummary:
        """Group failed runs by :func:`failure_cause`."""
        groups: dict[str, list[Run]] = {}
        for run in runs:
            groups.setdefault(failure_cause(run), []).append(run)
        causes = [
            FailureCause(cause, len(group), group[0], tuple(r.run_id for r in group))
            for cause, group in groups.items()
        ]
        causes.sort(key=lambda c: -c.count)  # stable: first seen first among equals
        return cls(tuple(causes))

    @property
    def total(self) -> int:
        """How many ERROR runs."""
        return sum(cause.count for cause in self.causes)

    def __len__(self) -> int:
        return len(self.causes)

    def __iter__(self) -> Iterator[FailureCause]:
        return iter(self.causes)

    def __bool__(self) -> bool:
        return bool(self.causes)

    def to_dict(self) -> list[dict[str, Any]]:
        """Each cause as ``{"cause", "count", "example_run_id", "run_ids"}``."""
        return [
            {"cause": c.cause, "count": c.count, "example_run_id": c.example.run_id,
             "run_ids": list(c.run_ids)}
            for c in self.causes
        ]


@attrs.frozen(repr=False)
class SweepResult(Drawn):
    """What a sweep did: every argument set it read, in input order, and its runs' results.

    ``runs`` are the last run of every set that has one, ``not_started`` the
    sets it never started (it stopped early), ``reused`` how many sets took an
    existing SUCCESS run, ``stopped`` why it stopped early (None: it did
    not). :meth:`failures` groups the ERROR runs by cause;
    :meth:`to_records` / :meth:`to_pandas` give one row per argument set.
    """

    sets: tuple[SetOutcome, ...]
    names: tuple[str, ...]
    columns: tuple[ResultColumn, ...] = ()
    results: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    stopped: str | None = None

    @property
    def runs(self) -> RunList[Run]:
        """The last run of every argument set that has one, in input order."""
        return RunList(row.run for row in self.sets if row.run is not None)

    @property
    def not_started(self) -> list[dict[str, Any]]:
        """The argument sets never started (the sweep stopped early), as given, in input order."""
        return [dict(row.given) for row in self.sets if row.run is None]

    @property
    def reused(self) -> int:
        """How many argument sets took an existing SUCCESS run instead of starting one."""
        return sum(1 for row in self.sets if row.reused)

    @property
    def started(self) -> int:
        """How many runs the sweep started (retries included)."""
        return sum(row.attempts for row in self.sets)

    def counts(self) -> dict[str, int]:
        """How many sets' last runs are in each state (and ``NOT_STARTED``), nonzero only."""
        found: dict[str, int] = {}
        for row in self.sets:
            state = row.run.state.value if row.run is not None else "NOT_STARTED"
            found[state] = found.get(state, 0) + 1
        return found

    def failed_runs(self) -> list[Run]:
        """Every ERROR run of the sweep, earlier attempts included, in input order."""
        failed: list[Run] = []
        for row in self.sets:
            failed += row.failed
            if row.run is not None and row.run.state is RunState.ERROR:
                failed.append(row.run)
        return failed

    def failures(self) -> FailureSummary:
        """The ERROR runs (earlier attempts included) grouped by cause, most frequent first."""
        return FailureSummary.of(self.failed_runs())

    def keys(self) -> list[str]:
        """The keys of each record (see :meth:`to_records`)."""
        return record_keys(self.names, self.columns, sweep=True)

    def to_records(self) -> list[dict[str, Any]]:
        """One flat dict per argument set, in input order.

        Keys: the arguments (checked, defaults filled in), ``state`` (or
        ``NOT_STARTED``), ``run_id``, ``created_at``, ``started_at``,
        ``finished_at``, ``seconds``, ``attempts``, ``reused``, then the
        run's value of each result column of the workflow (None without
        one), typed as the leaderboard types them. A name taken twice is
        prefixed (``arguments.<name>``, ``results.<name>``).
        """
        return records(self.sets, self.names, self.columns, self.results, sweep=True)

    def to_pandas(self) -> Any:
        """The records as a ``pandas.DataFrame`` (needs the ``pandas`` extra)."""
        return to_dataframe(self.to_records(), self.keys(), "SweepResult.to_pandas()")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"counts", "reused", "started", "stopped", "failures", "records"}``."""
        rows = [
            {key: value.isoformat() if hasattr(value, "isoformat") else value
             for key, value in record.items()}
            for record in self.to_records()
        ]
        return {
            "counts": self.counts(), "reused": self.reused, "started": self.started,
            "stopped": self.stopped, "failures": self.failures().to_dict(), "records": rows,
        }
