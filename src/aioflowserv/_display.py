"""Small tables and timelines for people: HTML for notebooks and rich for terminals.

The models describe themselves as a :class:`Table` (a title, an optional
header, rows of text); this module only renders it. rich is imported when a
rich console asks for a rendering (``__rich__``), so the SDK does not need it.

:class:`Timeline` puts runs on one time axis: each run a bar from creation
through start to finish, seconds from the earliest creation, with an open end
for runs still active. It serves both pictures: the HTML a run list shows in
a notebook and the terminal bars of ``aioflowserv runs GROUP --timeline``; no
plotting library is needed. The part before a run started is its time in the
queue; stragglers show as long bars, queueing as long pale heads.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from ._models import Run, RunState

__all__ = ["STATE_COLORS", "Cell", "RunSpan", "Table", "Timeline", "shorten"]

STATE_COLORS = {
    "PENDING": "#b58900",
    "RUNNING": "#268bd2",
    "SUCCESS": "#2e8b57",
    "ERROR": "#dc322f",
    "CANCELED": "#d33682",
}
"""Colours of the run states (as in the command line's tables)."""

_RICH_STYLES = {
    "PENDING": "yellow", "RUNNING": "cyan", "SUCCESS": "green", "ERROR": "red",
    "CANCELED": "magenta",
}


def shorten(text: str, limit: int = 60) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


@attrs.frozen
class Cell:
    """A table cell: its text, and the run state it shows (coloured), if any."""

    text: str
    state: str | None = None
    pre: bool = False


def _cell(value: str | Cell) -> Cell:
    return value if isinstance(value, Cell) else Cell(value)


@attrs.frozen
class Table:
    """A title, an optional header, and rows of cells (text, or a :class:`Cell`)."""

    title: str
    rows: Sequence[Sequence[str | Cell]]
    header: Sequence[str] | None = None
    note: str | None = None

    def html(self) -> str:
        """An HTML table (escaped), for ``_repr_html_``."""
        parts = [f"<table><caption style='text-align:left'><b>{html.escape(self.title)}</b>"]
        if self.note:
            parts.append(f"<br><small>{html.escape(self.note)}</small>")
        parts.append("</caption>")
        if self.header:
            head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>"
                           for h in self.header)
            parts.append(f"<thead><tr>{head}</tr></thead>")
        parts.append("<tbody>")
        for row in self.rows:
            # Without a header, the first cell of a row names it (a field: value table).
            cells = [_html_cell(_cell(value), "td" if i or self.header else "th")
                     for i, value in enumerate(row)]
            parts.append(f"<tr>{''.join(cells)}</tr>")
        parts.append("</tbody></table>")
        return "".join(parts)

    def rich(self) -> Any:
        """A ``rich.table.Table``, for ``__rich__`` (rich is imported here)."""
        from rich.table import Table as RichTable
        from rich.text import Text

        table = RichTable(title=self.title, title_justify="left",
                          show_header=bool(self.header), caption=self.note,
                          caption_justify="left")
        for name in self.header or ("", ""):
            table.add_column(name, overflow="fold")
        for row in self.rows:
            table.add_row(*(
                Text(cell.text, style=_RICH_STYLES.get(cell.state or "", ""))
                for cell in map(_cell, row)
            ))
        return table


def _html_cell(cell: Cell, tag: str) -> str:
    text = html.escape(cell.text)
    if cell.pre:
        text = f"<pre style='margin:0'>{text}</pre>"
    style = "text-align:left"
    if cell.state in STATE_COLORS:
        style += f";color:{STATE_COLORS[cell.state]};font-weight:bold"
    return f"<{tag} style='{style}'>{text}</{tag}>"


QUEUE_COLOR = "#c8c8c8"
MIN_WIDTH = 0.4
"""The narrowest part of a bar drawn in HTML, in percent of the axis (so that it shows)."""


@attrs.frozen
class RunSpan:
    """One run on the axis, in seconds from the timeline's start.

    ``started`` is None for a run that never started; ``finished`` is None
    for a run still active (its bar reaches the end of the axis).
    """

    run_id: str
    state: RunState
    created: float
    started: float | None
    finished: float | None

    def queued(self, end: float) -> float:
        """Seconds from creation to start (to ``end`` when it has not started)."""
        return (self.started if self.started is not None else self._end(end)) - self.created

    def ran(self, end: float) -> float:
        """Seconds from start to finish (to ``end`` while active); 0 if it never started."""
        return 0.0 if self.started is None else self._end(end) - self.started

    def _end(self, end: float) -> float:
        return self.finished if self.finished is not None else end


@attrs.frozen
class Timeline:
    """Runs on one time axis: ``start`` (the earliest creation), ``total`` seconds, spans."""

    start: datetime
    total: float
    spans: tuple[RunSpan, ...]

    @classmethod
    def from_runs(cls, runs: Iterable[Run], now: datetime | None = None) -> Timeline:
        """Place runs by their times (runs without a creation time are left out).

        The axis ends at the last finish, or at ``now`` (default: the current
        time) when a run is still active.
        """
        placed = [run for run in runs if run.created_at is not None]
        placed.sort(key=lambda run: run.created_at)  # type: ignore[arg-type, return-value]
        if not placed:
            return cls(datetime.now(timezone.utc), 0.0, ())
        start = placed[0].created_at
        assert start is not None
        moments = [
            moment for run in placed
            for moment in (run.created_at, run.started_at, run.finished_at) if moment is not None
        ]
        end = max(moments)
        if any(run.is_active() for run in placed):
            end = max(end, now or datetime.now(timezone.utc))

        def offset(moment: datetime | None) -> float | None:
            return None if moment is None else (moment - start).total_seconds()

        spans = tuple(
            RunSpan(
                run.run_id, run.state, offset(run.created_at) or 0.0, offset(run.started_at),
                None if run.is_active() else offset(run.finished_at or run.started_at),
            )
            for run in placed
        )
        return cls(start, (end - start).total_seconds(), spans)

    def fraction(self, seconds: float) -> float:
        """A moment as a fraction of the axis (0 to 1)."""
        return 0.0 if self.total <= 0 else min(1.0, max(0.0, seconds / self.total))

    def summary(self) -> str:
        """``8 runs: 5 SUCCESS, 2 ERROR, 1 RUNNING; 12.3 s``."""
        counts = Counter(span.state.value for span in self.spans)
        states = ", ".join(f"{counts[state]} {state}" for state in STATE_COLORS if counts[state])
        noun = "run" if len(self.spans) == 1 else "runs"
        return f"{len(self.spans)} {noun}: {states or 'none'}; {self.total:.1f} s"

    def html(self) -> str:
        """The timeline as an HTML table of bars (inline styles, no scripts)."""
        rows = []
        for span in self.spans:
            queued = self.fraction(span.created), self.fraction(span.created + span.queued(
                self.total))
            bars = [_bar(queued, QUEUE_COLOR, f"queued {span.queued(self.total):.2f} s")]
            if span.started is not None:
                ran = self.fraction(span.started), self.fraction(span.started + span.ran(
                    self.total))
                still = "" if span.finished is not None else " (still active)"
                bars.append(_bar(
                    ran, STATE_COLORS[span.state.value], f"ran {span.ran(self.total):.2f} s{still}"
                ))
            rows.append(
                f'<tr><td title="{html.escape(span.run_id)}"><code>'
                f"{html.escape(span.run_id[:8])}</code></td>"
                f'<td style="color:{STATE_COLORS[span.state.value]}">{span.state.value}</td>'
                '<td style="width:480px;padding:2px 6px"><div style="position:relative;'
                f'height:12px;background:#f3f3f3">{"".join(bars)}</div></td>'
                f'<td style="text-align:right">{span.ran(self.total):.1f} s</td></tr>'
            )
        return (
            f"<div><div><b>{html.escape(self.summary())}</b> "
            f'<span style="color:#888">(pale: queued; from {self.start:%H:%M:%S} UTC)</span>'
            f"</div><table>{''.join(rows)}</table></div>"
        )


def _bar(part: tuple[float, float], color: str, title: str) -> str:
    left = 100 * part[0]
    width = max(MIN_WIDTH, 100 * (part[1] - part[0]))
    return (
        f'<div title="{html.escape(title)}" style="position:absolute;top:0;height:100%;'
        f'left:{left:.2f}%;width:{width:.2f}%;background:{color}"></div>'
    )
