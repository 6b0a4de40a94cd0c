"""Small tables for people: HTML for notebooks (``_repr_html_``) and rich for terminals.

The models describe themselves as a :class:`Table` (a title, an optional
header, rows of text); this module only renders it. rich is imported when a
rich console asks for a rendering (``__rich__``), so the SDK does not need it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import attrs

__all__ = ["Cell", "Table", "shorten"]

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
