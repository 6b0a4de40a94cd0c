"""More drawings: the small models (users, files, listing entries, ranked runs) and what lies above.

The small models are drawn here and registered at import (``_display.register``).
The classes of the modules above ``_display`` (``_batch``, ``_downloads``,
``_watch``, ``_workflow``, ``_sync``: a batch, a download, the watcher's
statistics, a workflow) cannot be imported here: their drawings are written
against protocols of what each shows, and each class's module registers them
next to the class. Both use the tables and words of ``_display``. Like every
``repr`` of the package, the lines are bounded: a batch of a thousand runs
prints as short as one of two.

Layer order: above ``_display``, below the modules whose classes it draws.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs

from ._display import (
    HTML_ROWS,
    Cell,
    Column,
    Table,
    plural,
    register,
    result_text,
    shorten,
    state_counts,
    when,
    workflow_info_table,
)
from ._models import (
    RankingEntry,
    ResultColumn,
    Run,
    RunFile,
    RunInfo,
    RunState,
    UploadedFile,
    User,
    WorkflowInfo,
)
from ._space import Space
from ._study import FailureCause, FailureSummary, SweepResult
from ._watched import WatchStats

__all__ = [
    "BatchView",
    "DownloadView",
    "WorkflowView",
    "batch_table",
    "batch_text",
    "download_table",
    "download_text",
    "field_table",
    "watch_table",
    "watch_text",
    "workflow_table",
    "workflow_text",
]


def field_table(title: str, rows: Iterable[tuple[str, str | Cell | None]],
            note: str | None = None) -> Table:
    """A field: value table of the rows whose value is known."""
    return Table(title, [(name, value) for name, value in rows if value not in (None, "")],
                 note=note)


def _user_repr(user: User) -> str:
    return f"<User {user.username!r} {user.id}>"


def _user_table(user: User) -> Table:
    return field_table(f"User {user.username!r}", [("id", user.id), ("username", user.username)])


def _run_file_repr(entry: RunFile) -> str:
    title = f" {shorten(entry.title, 40)!r}" if entry.title != entry.name else ""
    return f"<RunFile {shorten(entry.name, 80)!r} {entry.id}{title}>"


def _run_file_table(entry: RunFile) -> Table:
    return field_table(f"Result file {entry.name!r}", [
        ("id", entry.id), ("name", entry.name), ("title", entry.title),
        ("caption", shorten(entry.caption or "", 80)), ("widget", entry.widget),
        ("format", shorten(", ".join(f"{k}={v!r}" for k, v in entry.format.items()), 80)),
    ], note="download: wf.get_file(run_id, file.id)")


def _uploaded_repr(upload: UploadedFile) -> str:
    created = f" uploaded {when(upload.created_at)}" if upload.created_at else ""
    return f"<UploadedFile {shorten(upload.name, 80)!r} {upload.id}{created}>"


def _uploaded_table(upload: UploadedFile) -> Table:
    return field_table(f"Uploaded file {upload.name!r}", [
        ("id", upload.id), ("name", upload.name), ("uploaded", when(upload.created_at)),
    ])


def _run_info_table(info: RunInfo) -> Table:
    return field_table(f"Run {info.run_id}", [
        ("run", info.run_id), ("state", Cell(info.state.value, info.state)),
        ("created", when(info.created_at)),
    ], note="a listing entry: fs.get_run(run_id) has the details")


def _results_words(results: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={shorten(repr(value), 30)}" for name, value in results.items())


def _ranking_repr(entry: RankingEntry) -> str:
    results = f": {shorten(_results_words(entry.results), 120)}" if entry.results else ""
    return f"<RankingEntry {entry.run_id} of {shorten(entry.group_name, 40)!r}{results}>"


def _ranking_table(entry: RankingEntry) -> Table:
    return field_table(f"Ranked run {entry.run_id}", [
        ("run", entry.run_id), ("group", f"{entry.group_name} ({entry.group_id})"),
        ("created", when(entry.created_at)), ("started", when(entry.started_at)),
        ("finished", when(entry.finished_at)),
        *((name, shorten(ResultColumn.format_value(value), 80))
          for name, value in entry.results.items()),
    ])


register(User, text=_user_repr, table=_user_table)
register(RunFile, text=_run_file_repr, table=_run_file_table)
register(UploadedFile, text=_uploaded_repr, table=_uploaded_table)
register(RankingEntry, text=_ranking_repr, table=_ranking_table)
register(RunInfo, table=_run_info_table)


class BatchView(Protocol):
    """What a batch of run starts shows (``_batch.RunBatch``): a list, and its concurrency."""

    concurrency: int
    peak_concurrency: int
    adaptive: bool

    def __len__(self) -> int: ...

    def __iter__(self) -> Any: ...


def _concurrency_words(batch: BatchView) -> str:
    if batch.adaptive:
        return (f"concurrency auto settled at {batch.concurrency} "
                f"(peak {batch.peak_concurrency})")
    return f"concurrency {batch.concurrency} (peak {batch.peak_concurrency})"


def _batch_summary(batch: BatchView) -> str:
    items = list(batch)
    runs = [item for item in items if isinstance(item, Run)]
    failed = len(items) - len(runs)
    words = [plural(len(runs), "run") + (f": {state_counts(r.state for r in runs)}" if runs
                                         else "")]
    if failed:
        words.append(f"{failed} not started")
    return "; ".join(words)


def batch_text(batch: BatchView) -> str:
    """``<RunBatch: 20 runs: 18 SUCCESS, 2 ERROR; concurrency auto settled at 8 (peak 12)>``."""
    return f"<RunBatch: {_batch_summary(batch)}; {_concurrency_words(batch)}>"


def batch_table(batch: BatchView) -> Table:
    """The batch in input order: #, run, state, seconds, files or message (or why not started)."""
    header = (Column("#", right=True, wrap=False), Column("run", wrap=False),
              Column("state", wrap=False), Column("seconds", right=True, wrap=False),
              "files or message")
    rows: list[tuple[str | Cell, ...]] = []
    for index, item in enumerate(batch):
        if isinstance(item, Run):
            duration = item.duration
            rows.append((str(index), item.run_id, Cell(item.state.value, item.state),
                         f"{duration.total_seconds():.2f}" if duration is not None else "-",
                         shorten(result_text(item, {}), 80)))
        else:
            rows.append((str(index), "", "not started", "-",
                         shorten(f"{type(item).__name__}: {item}", 80)))
    return Table(f"RunBatch: {_batch_summary(batch)}", rows, header,
                 note=_concurrency_words(batch), max_rows=HTML_ROWS)


class DownloadView(Protocol):
    """What a run's download shows (``_downloads.RunDownload``)."""

    run_id: str
    state: RunState
    directory: Path
    files: tuple[Path, ...]
    skipped: bool


def download_text(item: DownloadView) -> str:
    """``<RunDownload r1 SUCCESS: 2 files in results/r1>`` (``; already on disk`` if skipped)."""
    skipped = "; already on disk" if item.skipped else ""
    where = shorten(str(item.directory), 80)
    return (f"<RunDownload {item.run_id} {item.state.value}: "
            f"{plural(len(item.files), 'file')} in {where}{skipped}>")


def download_table(item: DownloadView) -> Table:
    """The run, its state, its folder and its files (relative to the folder)."""
    names = []
    for path in item.files[:20]:
        try:
            names.append(str(path.relative_to(item.directory)))
        except ValueError:
            names.append(str(path))
    if len(item.files) > 20:
        names.append(f"… and {len(item.files) - 20} more")
    return field_table(f"Download of run {item.run_id}", [
        ("run", item.run_id), ("state", Cell(item.state.value, item.state)),
        ("folder", str(item.directory)), ("files", ", ".join(names) or "none"),
    ], note="already on disk: nothing was fetched" if item.skipped else None)


def watch_text(stats: WatchStats) -> str:
    """``<WatchStats: 3 runs, 1 group, 0 streams; polling; 12 listings, 4 fetches>``."""
    now = "idle" if stats.idle else "polling" if stats.polling else "waiting"
    return (f"<WatchStats: {plural(stats.runs, 'run')}, {plural(stats.groups, 'group')}, "
            f"{plural(stats.streams, 'stream')}; {now}; {plural(stats.listings, 'listing')}, "
            f"{plural(stats.fetches, 'fetch')}>")


def watch_table(stats: WatchStats) -> Table:
    """The watcher's counts, a row each."""
    rows = [("runs waited for", str(stats.runs)), ("groups polled", str(stats.groups)),
            ("streams (watch)", str(stats.streams)),
            ("polling now", "yes" if stats.polling else "no"),
            ("listings so far", str(stats.listings)), ("fetches so far", str(stats.fetches))]
    return Table("Watcher", rows, note="idle: nothing is polled" if stats.idle else None)


class WorkflowView(Protocol):
    """What a workflow resource shows (``AsyncWorkflow``, the sync ``Workflow``)."""

    @property
    def identifier(self) -> str: ...

    @property
    def group_id(self) -> str: ...

    @property
    def info(self) -> WorkflowInfo: ...


def workflow_text(workflow: WorkflowView) -> str:
    """``<AsyncWorkflow 'sleeper' group='1f6d...'>`` (the class's own name)."""
    return f"<{type(workflow).__name__} {workflow.identifier!r} group={workflow.group_id!r}>"


def workflow_table(workflow: WorkflowView) -> Table:
    """The workflow's name, description and parameters, and the group runs start in."""
    info = workflow.info
    table = workflow_info_table(info)
    title = f"{type(workflow).__name__} {info.id!r} ({info.name}), group {workflow.group_id}"
    return attrs.evolve(table, title=title)


# -- studies: spaces, sweep results, failures -------------------------------------------------


SHOWN_NAMES = 5
"""The most parameter names a space's repr lists."""
SHOWN_ROWS = 20
"""The most rows a study's table shows (the rest is counted in a note)."""


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:SHOWN_NAMES])
    more = len(names) - SHOWN_NAMES
    return f"{shown} (+{more} more)" if more > 0 else shown


def _space_kinds(space: Space) -> str:
    first, second = getattr(space, "first", None), getattr(space, "second", None)
    if isinstance(first, Space) and isinstance(second, Space):
        return f"{_space_kinds(first)} + {_space_kinds(second)}"
    outer, inner = getattr(space, "outer", None), getattr(space, "inner", None)
    if isinstance(outer, Space) and isinstance(inner, Space):
        return f"({_space_kinds(outer)}) * ({_space_kinds(inner)})"
    seed = getattr(space, "seed", None)
    return f"{space.kind} (seed {seed})" if seed is not None else space.kind


def _space_repr(space: Space) -> str:
    return f"<Space {_space_kinds(space)}: {plural(space.size, 'set')} of {_names(space.names)}>"


def _space_table(space: Space) -> Table:
    dimensions = space.dimensions()
    rows = [[name, shorten(values, 80)] for name, values in dimensions[:SHOWN_ROWS]]
    more = len(dimensions) - SHOWN_ROWS
    return Table(
        f"Space {_space_kinds(space)}: {plural(space.size, 'argument set')}", rows,
        ["Parameter", "Values"], note=f"and {more} more" if more > 0 else None,
    )


def _failure_repr(summary: FailureSummary) -> str:
    if not summary:
        return "<FailureSummary: no failed runs>"
    shown = "; ".join(f"{shorten(c.cause, 40)!r} x{c.count}" for c in summary.causes[:3])
    more = f"; +{len(summary) - 3} more" if len(summary) > 3 else ""
    return (
        f"<FailureSummary: {plural(summary.total, 'ERROR run')}, "
        f"{plural(len(summary), 'cause')}: {shown}{more}>"
    )


def failure_table(summary: FailureSummary) -> Table:
    """A sweep's failures by cause: the cause, how many, an example run."""
    rows: list[list[str | Cell]] = [
        [shorten(cause.cause, 100), str(cause.count), cause.example.run_id]
        for cause in summary.causes[:SHOWN_ROWS]
    ]
    more = len(summary) - SHOWN_ROWS
    return Table(
        f"Failures: {plural(summary.total, 'ERROR run')} by cause", rows,
        ["Cause", Column("Runs", right=True), "Example run"],
        note=f"and {plural(more, 'more cause')}" if more > 0 else None,
    )


def _sweep_line(result: SweepResult) -> str:
    counts = ", ".join(f"{count} {state}" for state, count in result.counts().items())
    parts = [f"{plural(len(result.sets), 'argument set')}: {counts or 'none'}"]
    if result.reused:
        parts.append(f"{result.reused} reused")
    if result.stopped:
        parts.append(f"stopped: {shorten(result.stopped, 80)}")
    return "; ".join(parts)


def _sweep_repr(result: SweepResult) -> str:
    return f"<SweepResult: {_sweep_line(result)}>"


def sweep_table(result: SweepResult) -> Table:
    """A sweep's records, the first :data:`SHOWN_ROWS` of them: arguments, state, results."""
    records = result.to_records()
    hidden = ("created_at", "started_at", "finished_at", "reused")
    every = result.keys()
    keys = [key for key in every if key not in hidden]
    rows: list[list[str | Cell]] = []
    for record in records[:SHOWN_ROWS]:
        row: list[str | Cell] = []
        for key in keys:
            value = record[key]
            if key == "state":
                known = value in RunState.__members__
                row.append(Cell(value, RunState(value)) if known else value)
            else:
                row.append(shorten(ResultColumn.format_value(value), 30))
        rows.append(row)
    notes = [_sweep_line(result)]
    if len(records) > SHOWN_ROWS:
        notes.append(f"first {SHOWN_ROWS} of {len(records)} rows (to_records() has all)")
    return Table("Sweep", rows, keys, note="; ".join(notes))


register(Space, text=_space_repr, table=_space_table)
register(FailureSummary, text=_failure_repr, table=failure_table)
register(SweepResult, text=_sweep_repr, table=sweep_table)
register(FailureCause, text=lambda cause: (
    f"<FailureCause x{cause.count}: {shorten(cause.cause, 80)!r} (e.g. {cause.example.run_id})>"
))

register(WatchStats, text=watch_text, table=watch_table)
