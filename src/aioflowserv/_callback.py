"""The ``on_change`` callback of one call: its first failure ends the call and is raised by it.

A callback runs in the client's event loop (in the sync facade, in the loop's
thread): inside the poll that whichever wait leads makes on behalf of all, or
right after a run was started. An exception there must neither break that other
wait nor vanish (a :class:`~aioflowserv.BlockingCallError`, say: a sync call
made in the callback). :class:`Callback` keeps the first one, is not called
again, and the call it was given to raises it at its next step: a wait ends
and raises it, a start or a batch raises it once its starts were answered.

Runs are never hidden by it: each run started was handed to the callback
before it failed, or is named in the error's note and in a WARNING of the
``aioflowserv`` logger; the runs are left as they are on the server (a
callback's failure is not a cancellation, so ``cancel_remote`` does not
apply).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from ._errors import add_note

__all__ = ["Callback", "check", "failure", "guard", "notify"]

logger = logging.getLogger("aioflowserv")


class Callback:
    """A user's ``on_change``, called with each snapshot until it raises, then keeping the error."""

    __slots__ = ("error", "function", "left", "name", "run_id")

    def __init__(
        self,
        function: Callable[[Any], Any],
        name: str = "on_change",
        left: str = "the runs were left as they are on the server",
    ) -> None:
        self.function = function
        self.name = name
        """The parameter the callback was given as, for the note on its error."""
        self.left = left
        """What the note says was left when the call ended (without runs started)."""
        self.error: Exception | None = None
        """The first exception the callback raised (None: none yet)."""
        self.run_id: str | None = None
        """The run whose snapshot it was called with when it raised."""

    def __repr__(self) -> str:
        return f"Callback({self.function!r}, failed={self.error is not None})"

    def __call__(self, run: Any) -> None:
        if self.error is not None:
            return
        try:
            self.function(run)
        except Exception as exc:
            self.error = exc
            self.run_id = getattr(run, "run_id", None)

    def raise_failure(self, started: Sequence[str] = ()) -> None:
        """Raise the callback's exception, if it raised one, with a note on what was left.

        ``started`` are the runs the call started (named in the note and in a
        WARNING: they keep running on the server).
        """
        error = self.error
        if error is None:
            return
        where = f" for run {self.run_id}" if self.run_id else ""
        note = f"raised by the {self.name} callback{where}; the call ended there"
        if started:
            ids = ", ".join(started)
            logger.warning(
                "the %s callback raised %s; %d runs were started and keep running: %s",
                self.name, type(error).__name__, len(started), ids,
            )
            note += f"; the runs it started keep running: {ids}"
        else:
            note += f"; {self.left}"
        if note not in getattr(error, "__notes__", ()):
            add_note(error, note)
        raise error


def guard(callback: Callable[[Any], Any] | None) -> Callback | None:
    """``callback`` as a :class:`Callback` (one already is stays as it is; None stays None)."""
    if callback is None or isinstance(callback, Callback):
        return callback
    return Callback(callback)


def check(callback: object, started: Sequence[str] = ()) -> None:
    """Raise the failure a :class:`Callback` keeps (see :meth:`Callback.raise_failure`), if any."""
    if isinstance(callback, Callback):
        callback.raise_failure(started)


def failure(callback: object) -> Exception | None:
    """The exception a :class:`Callback` keeps, None for any other callable or none yet."""
    return callback.error if isinstance(callback, Callback) else None


def notify(callback: Callable[[Any], Any], run: Any) -> None:
    """Call an ``on_change`` callback with a run snapshot; never raises into its caller.

    A call's callback (a :class:`Callback`, as every ``WaitOptions`` holds)
    keeps its first failure, which ends that call and is raised by it; any
    other callable's failure is logged.
    """
    if isinstance(callback, Callback):
        callback(run)
        return
    try:
        callback(run)
    except Exception:
        logger.exception("on_change callback failed for run %s", getattr(run, "run_id", run))
