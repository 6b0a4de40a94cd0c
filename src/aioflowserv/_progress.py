"""Live progress of many runs, for people: counts by state, rate and time left.

``progress=True`` on ``sweep``, ``start_runs`` and ``wait_all`` opens a
:class:`Progress` for the call. It is told each run's snapshot as it starts and
at every state change (:meth:`Progress.update`), and draws where the user
looks: HTML updated in place in a notebook, a live line in a terminal (with
rich), nothing when the output is neither.

This is the interface; the drawing is being built (issue 16, item 3).
"""

from __future__ import annotations

from types import TracebackType

from ._models import Run

__all__ = ["Progress", "open_progress"]


class Progress:
    """The live display of one call: fed with run snapshots, closed when the call ends."""

    def __init__(self, total: int | None, title: str) -> None:
        self.total = total
        self.title = title
        self.runs: dict[str, Run] = {}

    def update(self, run: Run) -> None:
        """A run's latest snapshot (a start or a state change)."""
        self.runs[run.run_id] = run

    def close(self) -> None:
        """The call ended: draw the last state once more and stop."""

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_progress(progress: bool | None, *, total: int | None, title: str) -> Progress | None:
    """The display a call asked for (``progress=True``), or None."""
    if not progress:
        return None
    return Progress(total, title)
