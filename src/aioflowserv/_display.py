"""Everything drawn for people: short reprs, tables, timelines and the colours of states.

The models are data; this module draws them. Each drawing exists once and
serves every place that shows it: a model's ``repr``, its HTML in a notebook
(``_repr_html_``), its table in a rich console (``__rich__``) and the command
line's tables. A table is first a :class:`Table` (a title, a header of
:class:`Column`, rows of text or :class:`Cell`, a note), then rendered as HTML
(:meth:`Table.html`) or as a rich table (:meth:`Table.rich`). rich is imported
only inside the functions that make rich objects, so the SDK does not need it.

The models get their drawings through the hook in ``_presenter``: at import,
this module registers its :class:`Drawings` (``set_presenter``), which the
models' ``__repr__``, ``_repr_html_``, ``__rich__`` and ``Timeline.summary`` /
``Timeline.html`` ask. ``aioflowserv`` imports this module, so a loaded package
always draws its models; ``_views`` adds more (:func:`register`). Every
``repr`` is one bounded line (a collection counts its items, never lists
them); HTML tables of collections show their first :data:`HTML_ROWS` rows.

Layer order: below it ``_presenter``, ``_parameters`` and ``_models`` (which
never import it); above it the clients and the command line.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from ._models import (
    Group,
    Leaderboard,
    Login,
    Parameter,
    ParameterIndex,
    Run,
    RunInfo,
    RunList,
    RunSpan,
    RunState,
    Timeline,
    WorkflowInfo,
)
from ._presenter import set_presenter

__all__ = [
    "HTML_ROWS",
    "STATE_COLORS",
    "STATE_STYLES",
    "Cell",
    "Column",
    "Drawings",
    "ProgressFigures",
    "ProgressLine",
    "Table",
    "register",
    "result_text",
    "clock_text",
    "eta_text",
    "last_message",
    "leaderboard_table",
    "parameter_constraint",
    "parameter_default",
    "parameter_table",
    "parameter_type",
    "plural",
    "progress_counts",
    "progress_html",
    "progress_rich",
    "progress_summary",
    "rate_text",
    "runs_table",
    "shorten",
    "state_counts",
    "timeline_table",
    "when",
    "workflow_info_table",
]

_STATE_LOOKS = {
    RunState.PENDING: ("#b58900", "yellow"),
    RunState.RUNNING: ("#268bd2", "cyan"),
    RunState.SUCCESS: ("#2e8b57", "green"),
    RunState.ERROR: ("#dc322f", "red"),
    RunState.CANCELED: ("#d33682", "magenta"),
}
STATE_COLORS: Mapping[RunState, str] = {state: look[0] for state, look in _STATE_LOOKS.items()}
"""The colour of each run state in HTML (a str enum: ``STATE_COLORS["ERROR"]`` works too)."""
STATE_STYLES: Mapping[RunState, str] = {state: look[1] for state, look in _STATE_LOOKS.items()}
"""The rich style of each run state in a terminal (the same hues as :data:`STATE_COLORS`)."""

QUEUE_COLOR = "#c8c8c8"
"""The colour of a run's time in the queue on an HTML timeline."""
MIN_WIDTH = 0.4
"""The narrowest part of a bar drawn in HTML, in percent of the axis (so that it shows)."""
QUEUED = "\u2591"
"""A terminal timeline's character for time in the queue (light shade)."""
RAN = "\u2588"
"""A terminal timeline's character for running time (full block, coloured by state)."""
HTML_ROWS = 100
"""The most rows a collection's HTML table shows in a notebook (the rest are counted)."""


def shorten(text: str, limit: int = 60) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def plural(count: int, noun: str) -> str:
    """``1 run``, ``2 runs``; ``1 fetch``, ``2 fetches``."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {noun}es" if noun.endswith(("s", "sh", "ch", "x")) else f"{count} {noun}s"


def when(moment: datetime | None) -> str:
    """A moment as ``2026-11-26 15:19:06`` (empty when unknown)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment is not None else ""


def last_message(run: Run) -> str:
    """The most telling message line of a run: its last line that is not blank."""
    for line in reversed(run.messages()):
        if line.strip():
            return line.strip()
    return ""


def state_counts(states: Iterable[RunState]) -> str:
    """``1 RUNNING, 3 SUCCESS, 1 ERROR``: how many of each state, in the order of RunState."""
    counts: dict[RunState, int] = {}
    for state in states:
        counts[state] = counts.get(state, 0) + 1
    return ", ".join(f"{counts[state]} {state.value}" for state in RunState if state in counts)


@attrs.frozen
class Cell:
    """A table cell: its text, the run state it shows (coloured), and whether it is verbatim."""

    text: str
    state: RunState | None = None
    pre: bool = False


@attrs.frozen
class Column:
    """A column of a :class:`Table`: its name, numbers to the right, text that never wraps."""

    name: str
    right: bool = False
    wrap: bool = True


def _cell(value: str | Cell) -> Cell:
    return value if isinstance(value, Cell) else Cell(value)


def _column(value: str | Column) -> Column:
    return value if isinstance(value, Column) else Column(value)


@attrs.frozen
class Table:
    """A title, an optional header, rows of cells (text, or a :class:`Cell`) and a note.

    Without a header, the first cell of each row names it (a field: value table).
    """

    title: str
    rows: Sequence[Sequence[str | Cell]]
    header: Sequence[str | Column] | None = None
    note: str | None = None
    max_rows: int | None = None
    """The most rows the HTML shows (the rest are counted in a last row); rich shows all."""

    def html(self) -> str:
        """An HTML table (escaped, inline styles), the title and note in its caption."""
        parts = ["<table>"]
        if self.title or self.note:
            parts.append(f"<caption style='text-align:left'><b>{html.escape(self.title)}</b>")
            if self.note:
                parts.append(f"<br><small>{html.escape(self.note)}</small>")
            parts.append("</caption>")
        if self.header:
            head = "".join(
                f"<th style='text-align:{'right' if column.right else 'left'}'>"
                f"{html.escape(column.name)}</th>"
                for column in map(_column, self.header)
            )
            parts.append(f"<thead><tr>{head}</tr></thead>")
        parts.append("<tbody>")
        shown = self.rows if self.max_rows is None else self.rows[: self.max_rows]
        for row in shown:
            cells = [_html_cell(_cell(value), "td" if i or self.header else "th")
                     for i, value in enumerate(row)]
            parts.append(f"<tr>{''.join(cells)}</tr>")
        if len(shown) < len(self.rows):
            width = max(len(self.header or ()), max((len(row) for row in shown), default=1))
            parts.append(
                f"<tr><td colspan='{width}' style='text-align:left;color:#888'>… and "
                f"{plural(len(self.rows) - len(shown), 'more row')} (of {len(self.rows)})"
                "</td></tr>"
            )
        parts.append("</tbody></table>")
        return "".join(parts)

    def rich(self) -> Any:
        """A ``rich.table.Table`` (rich is imported here)."""
        from rich.table import Table as RichTable
        from rich.text import Text

        table = RichTable(title=self.title or None, title_justify="left",
                          show_header=bool(self.header), caption=self.note,
                          caption_justify="left")
        for column in map(_column, self.header or ("", "")):
            table.add_column(column.name, justify="right" if column.right else "left",
                             no_wrap=not column.wrap, overflow="fold")
        for row in self.rows:
            table.add_row(*(
                Text(cell.text, style=STATE_STYLES[cell.state] if cell.state else "")
                for cell in map(_cell, row)
            ))
        return table


def _html_cell(cell: Cell, tag: str) -> str:
    text = html.escape(cell.text)
    if cell.pre:
        text = f"<pre style='margin:0'>{text}</pre>"
    style = "text-align:left"
    if cell.state is not None:
        style += f";color:{STATE_COLORS[cell.state]};font-weight:bold"
    return f"<{tag} style='{style}'>{text}</{tag}>"


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


def parameter_table(parameters: Iterable[Parameter], title: str = "Parameters") -> Table:
    """Parameter declarations: name, type, default, required, allowed values, label, [help].

    The help column is there when a declaration has a help text.
    """
    declared = list(parameters)
    helps = any(para.help for para in declared)
    rows = [
        (para.name, parameter_type(para), parameter_default(para),
         "yes" if para.required and para.default is None else "",
         parameter_constraint(para), shorten(para.label or "", 40),
         *((shorten(para.help or "", 60),) if helps else ()))
        for para in declared
    ]
    header = ("name", "type", "default", "required", "allowed", "label")
    return Table(title, rows, (*header, "help") if helps else header)


def _parameter_repr(para: Parameter) -> str:
    text = f"{para.name}: {parameter_type(para)}"
    default = parameter_default(para)
    text += f" = {default}" if default else (" (required)" if para.required else "")
    constraint = parameter_constraint(para)
    if constraint:
        text += f" {constraint}"
    if para.label and para.label != para.name:
        text += f" {shorten(para.label, 40)!r}"
    return f"<Parameter {text}>"


def _parameter_index_repr(index: ParameterIndex) -> str:
    if not index:
        return "<ParameterIndex: no parameters>"
    items = []
    for para in index.sorted():
        default = parameter_default(para)
        items.append(f"{para.name}: {parameter_type(para)}" + (f" = {default}" if default else ""))
    return f"<ParameterIndex: {', '.join(items)}>"


def _seconds(run: Run) -> str:
    return f"{run.duration.total_seconds():.2f} s" if run.duration is not None else ""


def _run_repr(run: Run) -> str:
    details = [run.workflow_id] if run.workflow_id else []
    if run.duration is not None:
        details.append(_seconds(run))
    if run.files():
        details.append(shorten(f"files: {', '.join(entry.name for entry in run.files())}", 60))
    elif run.messages():
        details.append(shorten(last_message(run), 60))
    more = f" ({'; '.join(details)})" if details else ""
    return f"<Run {run.run_id} {run.state.value}{more}>"


def _run_table(run: Run) -> Table:
    rows: list[tuple[str, str | Cell]] = [
        ("run", run.run_id), ("state", Cell(run.state.value, run.state)),
    ]
    for label, value in (("workflow", run.workflow_id), ("group", run.group_id)):
        if value:
            rows.append((label, value))
    for label, moment in (("created", run.created_at), ("started", run.started_at),
                          ("finished", run.finished_at)):
        if moment is not None:
            rows.append((label, when(moment)))
    if run.duration is not None:
        rows.append(("duration", _seconds(run)))
    if run.arguments:
        rows.append(("arguments", ", ".join(
            f"{name}={shorten(repr(value), 40)}" for name, value in run.arguments.items()
        )))
    if run.files():
        rows.append(("files", ", ".join(
            entry.name if entry.title == entry.name else f"{entry.name} ({entry.title})"
            for entry in run.files()
        )))
    if run.messages():
        lines = "".join(run.messages()[-10:]).rstrip("\n")
        rows.append(("messages", Cell(lines, pre=True)))
    return Table(f"Run {run.run_id}", rows)


def _run_info_repr(info: RunInfo) -> str:
    created = f" created {when(info.created_at)}" if info.created_at else ""
    return f"<RunInfo {info.run_id} {info.state.value}{created}>"


def result_text(run: Run, results: Mapping[str, str]) -> str:
    """A run's result in a table: ``results[run_id]``, a success's files, or the last message."""
    if run.run_id in results:
        return results[run.run_id]
    if run.is_success():
        return ", ".join(entry.name for entry in run.files())
    return last_message(run)


def runs_table(
    runs: Sequence[Run | RunInfo],
    *,
    title: str = "",
    created: bool = False,
    arguments: Mapping[str, str] | None = None,
    results: Mapping[str, str] | None = None,
    id_width: int | None = None,
    rerun_of: Mapping[str, str] | None = None,
) -> Table:
    """Runs, a row each: [rerun of], run, [arguments], state, [created], seconds, and the result.

    The last column is ``results[run_id]`` when given (headed ``result``),
    else the files of a successful run or the last message of the others
    (headed ``files or message``). ``arguments`` maps a run id to its
    arguments in words, ``rerun_of`` a rerun's id to the run it repeats, and
    ``id_width`` shortens run ids. Listing entries (:class:`RunInfo`) know
    only their id, state and creation: a table of them has those three columns.
    """
    if not runs or not all(isinstance(run, Run) for run in runs):
        return Table(title, [
            (_id(run.run_id, id_width), Cell(run.state.value, run.state), when(run.created_at))
            for run in runs
        ], (Column("run", wrap=False), Column("state", wrap=False), "created"))
    header: list[str | Column] = []
    if rerun_of is not None:
        header.append(Column("rerun of", wrap=False))
    header.append(Column("run", wrap=False))
    if arguments is not None:
        header.append("arguments")
    header.append(Column("state", wrap=False))
    if created:
        header.append(Column("created", wrap=False))
    header.append(Column("seconds", right=True, wrap=False))
    header.append("result" if results is not None else "files or message")
    rows = []
    for run in runs:
        assert isinstance(run, Run)
        row: list[str | Cell] = [] if rerun_of is None else [rerun_of.get(run.run_id, "")]
        row.append(_id(run.run_id, id_width))
        if arguments is not None:
            row.append(arguments.get(run.run_id, ""))
        row.append(Cell(run.state.value, run.state))
        if created:
            row.append(when(run.created_at))
        duration = run.duration
        row.append(f"{duration.total_seconds():.2f}" if duration is not None else "-")
        row.append(shorten(result_text(run, results or {}), 80))
        rows.append(row)
    return Table(title, rows, header)


def _id(run_id: str, width: int | None) -> str:
    return run_id[:width] if width else run_id


def _run_list_summary(runs: RunList[Any]) -> str:
    if not runs:
        return "RunList: no runs"
    return f"RunList: {plural(len(runs), 'run')}: {state_counts(run.state for run in runs)}"


def _run_list_table(runs: RunList[Any]) -> Table:
    return attrs.evolve(
        runs_table(runs, title=_run_list_summary(runs), created=True), max_rows=HTML_ROWS
    )


def _run_list_html(runs: RunList[Any]) -> str:
    page = _run_list_table(runs).html()
    if runs and all(isinstance(run, Run) for run in runs):
        page += _timeline_html(runs.timeline())
    return page


def _group_counts(group: Group) -> str:
    """Members, parameters, files and runs; empty for a listing entry (none were sent)."""
    if not group.members:
        return ""
    counts = [plural(len(group.members), "member"), plural(len(group.parameters), "parameter"),
              plural(len(group.files), "file"), plural(len(group.runs), "run")]
    states = state_counts(run.state for run in group.runs)
    return ", ".join(counts) + (f" ({states})" if states else "")


def _group_repr(group: Group) -> str:
    counts = _group_counts(group)
    return f"<Group {group.name!r} {group.id} of {group.workflow_id}" + (
        f": {counts}>" if counts else ">"
    )


def _group_table(group: Group) -> Table:
    title = f"Group {group.name!r} ({group.id}) of workflow {group.workflow_id!r}"
    if not group.members:
        return Table(title, [], note="a listing entry: fs.get_group(id) has the details")
    members = ", ".join(member.username for member in group.members)
    return attrs.evolve(parameter_table(group.parameters.sorted(), title),
                        note=f"{_group_counts(group)}; members: {members}")


def _workflow_repr(info: WorkflowInfo) -> str:
    if info.parameters is None:
        return (
            f"<WorkflowInfo {info.id!r} {info.name!r} (listing entry: parameters not "
            f"loaded; get_workflow({info.id!r}) has them)>"
        )
    details = [plural(len(info.parameters), "parameter"), plural(len(info.groups), "group")]
    if info.postproc is not None:
        details.append(f"post-processing {info.postproc.state.value}")
    return f"<WorkflowInfo {info.id!r} {info.name!r}: {', '.join(details)}>"


def workflow_info_table(info: WorkflowInfo) -> Table:
    """A workflow's name, description and parameters (a listing entry says it has none loaded)."""
    title = f"Workflow {info.id!r}: {info.name}"
    note = shorten(info.description or "", 200) or None
    if info.parameters is None:
        hint = f"parameters not loaded (a listing entry): get_workflow({info.id!r})"
        return Table(title, [], note=f"{note}; {hint}" if note else hint)
    return attrs.evolve(parameter_table(info.parameters.sorted(), title), note=note)


def _leaderboard_repr(board: Leaderboard) -> str:
    columns = ", ".join(f"{c.name} ({c.dtype})" for c in board.columns) or "none"
    return f"<Leaderboard: {len(board.rows)} rows; columns {columns}>"


def leaderboard_table(board: Leaderboard) -> Table:
    """The ranking, best first: rank, group, run, a column per result (its label), finished."""
    header: list[str | Column] = [
        Column("#", right=True, wrap=False), "group", Column("run", wrap=False),
        *(Column(c.label, right=c.dtype in ("int", "float")) for c in board.columns),
        Column("finished (UTC)", wrap=False),
    ]
    rows = [
        (str(rank), row.group_name, row.run_id,
         *(c.format_value(row.results.get(c.name)) for c in board.columns), when(row.finished_at))
        for rank, row in enumerate(board.rows, start=1)
    ]
    columns = ", ".join(f"{c.label} = {c.name} ({c.dtype})" for c in board.columns)
    return Table(f"Leaderboard: {plural(len(board.rows), 'ranked run')}", rows, header,
                 note=f"best first; columns: {columns}" if columns else "best first",
                 max_rows=HTML_ROWS)


def _login_repr(login: Login) -> str:
    return f"Login(user_id={login.user_id!r}, username={login.username!r})"  # never the token


def _timeline_summary(timeline: Timeline) -> str:
    states = state_counts(span.state for span in timeline.spans) or "none"
    return f"{plural(len(timeline.spans), 'run')}: {states}; {timeline.total:.1f} s"


def _timeline_html(timeline: Timeline) -> str:
    rows = []
    for span in timeline.spans[:HTML_ROWS]:
        color = STATE_COLORS[span.state]
        queued = span.queued(timeline.total)
        bars = [_html_bar(timeline, span.created, queued, QUEUE_COLOR, f"queued {queued:.2f} s")]
        if span.started is not None:
            ran = span.ran(timeline.total)
            still = "" if span.finished is not None else " (still active)"
            bars.append(_html_bar(timeline, span.started, ran, color, f"ran {ran:.2f} s{still}"))
        rows.append(
            f'<tr><td title="{html.escape(span.run_id)}"><code>'
            f"{html.escape(span.run_id[:8])}</code></td>"
            f'<td style="color:{color}">{span.state.value}</td>'
            '<td style="width:480px;padding:2px 6px"><div style="position:relative;'
            f'height:12px;background:#f3f3f3">{"".join(bars)}</div></td>'
            f'<td style="text-align:right">{span.ran(timeline.total):.1f} s</td></tr>'
        )
    more = len(timeline.spans) - HTML_ROWS
    if more > 0:
        rows.append(
            f'<tr><td colspan="4" style="color:#888">… and {plural(more, "more run")} '
            f"(of {len(timeline.spans)})</td></tr>"
        )
    return (
        f"<table><caption style='text-align:left'><b>Timeline: "
        f"{html.escape(_timeline_summary(timeline))}</b><br><small>pale: queued, then "
        f"ran (colour: state); from {timeline.start:%Y-%m-%d %H:%M:%S} UTC</small></caption>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _html_bar(timeline: Timeline, start: float, seconds: float, color: str, title: str) -> str:
    left = timeline.fraction(start)
    width = max(MIN_WIDTH, 100 * (timeline.fraction(start + seconds) - left))
    return (
        f'<div title="{html.escape(title)}" style="position:absolute;top:0;height:100%;'
        f'left:{100 * left:.2f}%;width:{width:.2f}%;background:{color}"></div>'
    )


def timeline_table(timeline: Timeline, width: int) -> Any:
    """The runs as bars on one time axis of ``width`` characters, as a rich table.

    Queued time is pale, running time coloured by the run's state; rich is
    imported here.
    """
    from rich.table import Table as RichTable

    table = RichTable(
        title=_timeline_summary(timeline), title_justify="left",
        caption=f"{QUEUED} queued  {RAN} ran (color: state); axis from "
        f"{timeline.start:%Y-%m-%d %H:%M:%S} UTC", caption_justify="left",
    )
    table.add_column("run", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column(_axis(timeline.total, width), no_wrap=True, min_width=width)
    table.add_column("queued", justify="right", no_wrap=True)
    table.add_column("ran", justify="right", no_wrap=True)
    for span in timeline.spans:
        ran = span.ran(timeline.total)
        table.add_row(
            span.run_id[:8], _styled(span.state.value, STATE_STYLES[span.state]),
            _terminal_bar(span, timeline, width), f"{span.queued(timeline.total):.1f}s",
            f"{ran:.1f}s" + ("+" if span.finished is None else ""),
        )
    return table


def _styled(text: str, style: str) -> Any:
    from rich.text import Text

    return Text(text, style=style)


def _terminal_bar(span: RunSpan, timeline: Timeline, width: int) -> Any:
    """One run's bar on a line of ``width`` characters (a ``rich.text.Text``)."""
    from rich.text import Text

    end = timeline.total

    def column(seconds: float) -> int:
        return round(timeline.fraction(seconds) * width)

    created = column(span.created)
    started = column(span.created + span.queued(end))
    finished = max(started, column(span.created + span.queued(end) + span.ran(end)))
    if span.started is not None and finished == started:
        finished = min(width, started + 1)  # a run that ran shows at least one block
        started = min(started, finished - 1)
    text = Text(" " * created)
    text.append(QUEUED * (started - created), style="dim")
    text.append(RAN * (finished - started), style=STATE_STYLES[span.state])
    text.append(" " * (width - max(finished, started, created)))
    return text


def _axis(total: float, width: int) -> str:
    """``0s ... 12.3s`` spread over ``width`` characters."""
    right = f"{total:.1f}s"
    return "0s" + " " * max(1, width - 2 - len(right)) + right


def register(
    kind: type,
    *,
    text: Callable[[Any], str] | None = None,
    table: Callable[[Any], Table] | None = None,
    page: Callable[[Any], str] | None = None,
) -> None:
    """Draw ``kind``, a class deriving from ``_presenter.Drawn`` (see ``_views``).

    ``text`` writes its ``repr``; ``table`` its table (HTML and rich), or
    ``page`` its HTML directly.
    """
    if text is not None:
        _TEXTS[kind] = text
    if table is not None:
        _TABLES[kind] = table
    if page is not None:
        _PAGES[kind] = page


# -- live progress (``progress=True`` and the command line's live line) --------------------


@attrs.frozen
class ProgressFigures:
    """What a live progress display shows at one moment (made by ``_progress.Tally``).

    ``counts`` are the runs in each state (every state, in the order of
    :class:`RunState`), ``finished`` how many are no longer active, ``total``
    how many are expected (None: unknown), ``rate`` runs ended per second
    while watched (None: none yet), ``eta`` the seconds left at that rate
    (None: unknown) and ``elapsed`` the seconds since the display opened.
    """

    title: str
    counts: tuple[tuple[RunState, int], ...]
    finished: int
    total: int | None
    elapsed: float
    rate: float | None = None
    eta: float | None = None

    @property
    def seen(self) -> int:
        """How many runs the display knows of."""
        return sum(n for _, n in self.counts)


def clock_text(seconds: float, *, round_up: bool = False) -> str:
    """``0:07``, ``12:34``, ``1:02:03``: seconds as a clock (never negative).

    Whole seconds are cut down (an elapsed time), or rounded up (time left).
    """
    whole = max(0, math.ceil(seconds) if round_up else math.floor(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def rate_text(rate: float | None) -> str:
    """``2.5 runs/s``, ``12 runs/min`` below one a second, ``""`` when unknown."""
    if rate is None or rate <= 0:
        return ""
    if rate >= 1:
        return f"{rate:.1f} runs/s"
    per_minute = rate * 60
    return f"{per_minute:.1f} runs/min" if per_minute < 10 else f"{per_minute:.0f} runs/min"


def eta_text(eta: float | None) -> str:
    """``ETA 0:35``, or ``""`` when the time left is unknown."""
    return "" if eta is None else f"ETA {clock_text(eta, round_up=True)}"


def _done_text(figures: ProgressFigures) -> str:
    if figures.total is None:
        return f"{figures.finished} ended"
    return f"{figures.finished}/{figures.total}"


def progress_summary(figures: ProgressFigures) -> str:
    """The live line as plain text: ``title: 3/8, 2 running, 3 success; 0.5 runs/s; ETA 0:10``."""
    counts = ", ".join(f"{n} {state.value.lower()}" for state, n in figures.counts if n)
    parts = [f"{figures.title}: {_done_text(figures)}" + (f", {counts}" if counts else "")]
    parts.extend(text for text in (rate_text(figures.rate), eta_text(figures.eta)) if text)
    parts.append(f"elapsed {clock_text(figures.elapsed)}")
    return "; ".join(parts)


def progress_html(figures: ProgressFigures) -> str:
    """The live display in a notebook: a title, a bar coloured by state, counts, rate and ETA."""
    known = max(figures.total or 0, figures.seen, 1)
    segments = "".join(
        f'<div title="{n} {state.value}" style="width:{100 * n / known:.2f}%;'
        f'background:{STATE_COLORS[state]}"></div>'
        for state, n in figures.counts if n and not state.is_active
    )
    counts = " ".join(
        f'<span style="color:{STATE_COLORS[state]};font-weight:bold">'
        f"{n}&nbsp;{state.value.lower()}</span>"
        for state, n in figures.counts if n
    ) or '<span style="color:#888">no runs yet</span>'
    extra = " · ".join(
        html.escape(text) for text in (
            rate_text(figures.rate), eta_text(figures.eta),
            f"elapsed {clock_text(figures.elapsed)}",
        ) if text
    )
    return (
        '<div style="font-family:monospace;line-height:1.5">'
        f"<b>{html.escape(figures.title)}</b> {html.escape(_done_text(figures))}"
        '<div style="display:flex;width:360px;height:10px;background:#eee;margin:2px 0">'
        f"{segments}</div>{counts}"
        f' <span style="color:#888">{extra}</span></div>'
    )


def progress_counts(figures: ProgressFigures) -> Any:
    """The counts by state as a ``rich.text.Text`` (``3 running  2 success``), coloured."""
    from rich.text import Text

    text = Text()
    for state, n in figures.counts:
        if n:
            if text:
                text.append("  ")
            text.append(f"{n} {state.value.lower()}", style=STATE_STYLES[state])
    return text


BAR = "\u2501"
"""The character of a terminal progress bar (a heavy horizontal line)."""
BAR_WIDTH = 20
"""The widest progress bar drawn in a terminal, in characters."""
MIN_BAR_WIDTH = 6
"""A narrower bar is left out."""
MIN_TITLE_WIDTH = 12
"""The title keeps this many characters before the bar gives way."""


def _progress_figures_text(figures: ProgressFigures) -> Any:
    """``3/8  2 running  3 success  0.5 runs/s  ETA 0:10  elapsed 0:06`` (a rich Text)."""
    from rich.text import Text

    text = Text(_done_text(figures))
    counts = progress_counts(figures)
    if counts:
        text.append("  ")
        text.append_text(counts)
    for part in (rate_text(figures.rate), eta_text(figures.eta)):
        if part:
            text.append(f"  {part}")
    text.append(f"  elapsed {clock_text(figures.elapsed)}", style="dim")
    return text


def _progress_bar(figures: ProgressFigures, width: int) -> Any:
    """The ended runs as a bar of ``width`` characters, coloured by final state (a rich Text)."""
    from rich.text import Text

    known = max(figures.total or 0, figures.seen, 1)
    bar = Text()
    for state, n in figures.counts:
        if n and not state.is_active:
            bar.append(BAR * round(width * n / known), style=STATE_STYLES[state])
    bar.truncate(width)
    bar.append(BAR * (width - bar.cell_len), style="grey23")
    return bar


@attrs.frozen
class ProgressLine:
    """The live line in a terminal: title, bar, figures; the title gives way when narrow.

    A rich renderable (rich is imported only when it is drawn).
    """

    figures: ProgressFigures

    def __rich_console__(self, console: Any, options: Any) -> Any:
        """One line as wide as the console allows: the figures whole, the title cut to fit."""
        from rich.text import Text

        figures = _progress_figures_text(self.figures)
        room = options.max_width - figures.cell_len - 1  # for the title and the bar
        title = Text(self.figures.title, style="bold")
        title_width = min(title.cell_len, room)
        bar_width = 0
        if self.figures.total is not None:
            title_width = min(title.cell_len, room,
                              max(room - MIN_BAR_WIDTH - 1, MIN_TITLE_WIDTH))
            bar_width = min(BAR_WIDTH, room - title_width - 1)
            bar_width = bar_width if bar_width >= MIN_BAR_WIDTH else 0
        line = Text(no_wrap=True, overflow="ellipsis")
        if title_width > 0:
            title.truncate(title_width, overflow="ellipsis")
            line.append_text(title)
            line.append(" ")
        if bar_width:
            line.append_text(_progress_bar(self.figures, bar_width))
            line.append(" ")
        line.append_text(figures)
        yield line


def progress_rich(figures: ProgressFigures) -> Any:
    """The live line in a terminal, as a rich renderable (:class:`ProgressLine`)."""
    return ProgressLine(figures)


_TEXTS: dict[type, Callable[[Any], str]] = {
    Parameter: _parameter_repr,
    ParameterIndex: _parameter_index_repr,
    Run: _run_repr,
    RunInfo: _run_info_repr,
    RunList: lambda runs: f"<{_run_list_summary(runs)}>",
    Group: _group_repr,
    WorkflowInfo: _workflow_repr,
    Leaderboard: _leaderboard_repr,
    Login: _login_repr,
    Timeline: lambda timeline: f"<Timeline: {_timeline_summary(timeline)}>",
}
_TABLES: dict[type, Callable[[Any], Table]] = {
    Parameter: lambda para: parameter_table([para]),
    ParameterIndex: lambda index: parameter_table(index.sorted()),
    Run: _run_table,
    RunList: _run_list_table,
    Group: _group_table,
    WorkflowInfo: workflow_info_table,
    Leaderboard: leaderboard_table,
}
_PAGES: dict[type, Callable[[Any], str]] = {RunList: _run_list_html, Timeline: _timeline_html}
_RICH: dict[type, Callable[[Any], Any]] = {
    Timeline: lambda timeline: timeline_table(timeline, 40),
}


def _find(drawings: Mapping[type, Callable[[Any], Any]], model: object) -> Any:
    """The drawing for ``model``'s class, or for the nearest base class that has one."""
    for kind in type(model).__mro__:
        if kind in drawings:
            return drawings[kind]
    return None


class Drawings:
    """How the models show themselves: the presenter registered in ``_presenter``."""

    def text(self, model: Any) -> str:
        """The short ``repr`` of a model."""
        draw = _find(_TEXTS, model)
        return draw(model) if draw is not None else object.__repr__(model)

    def html(self, model: Any) -> str:
        """A model as HTML: its page, else its table."""
        page = _find(_PAGES, model)
        if page is not None:
            return str(page(model))
        table = _find(_TABLES, model)
        return table(model).html() if table is not None else html.escape(self.text(model))

    def rich(self, model: Any) -> Any:
        """A model as a rich renderable: its own, else its table, else its repr."""
        draw = _find(_RICH, model)
        if draw is not None:
            return draw(model)
        table = _find(_TABLES, model)
        return table(model).rich() if table is not None else self.text(model)

    def summary(self, model: Any) -> str:
        """A line of words about a timeline or a run list."""
        if isinstance(model, Timeline):
            return _timeline_summary(model)
        return _run_list_summary(model)


set_presenter(Drawings())
