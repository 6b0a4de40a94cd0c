"""A workflow's results: its leaderboard, and what its post-processing produced.

The leaderboard's ``order_by`` is checked before anything is sent: the
server's syntax (``col``, ``col:asc``, ``col:desc``, joined by commas), and
columns of the results schema only (flowServ answers an unknown column with a
500). The schema of a workflow does not change, so it is read once per
:class:`WorkflowResults` (one extra request, before the first ordered
leaderboard). Post-processing outputs are downloads like a run's results; a
workflow without any gets a :class:`NotFoundError` that says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._errors import InvalidArgumentError, NotFoundError, with_detail

if TYPE_CHECKING:
    from ._api import FlowservAPI
    from ._files import FileHandle
    from ._models import Leaderboard, ResultColumn

__all__ = ["OrderBy", "WorkflowResults", "order_terms"]

OrderBy = str | Sequence[str] | None
"""A leaderboard order: ``"col"``, ``"col:asc"``, ``"col:desc"``, a comma-joined list, or a list."""

_TERM = re.compile(r"^(?P<column>[^,:\s]+)(?::(?P<direction>[A-Za-z]+))?$")

NO_POSTPROC = "no post-processing workflow"
"""The server's 404 text for post-processing downloads of a workflow without outputs."""


def order_terms(order_by: OrderBy) -> tuple[str, ...]:
    """Check ``order_by`` and return its terms as the server reads them (``col:asc|desc``).

    A bare column sorts in descending order, as flowServ does; ``asc`` and
    ``desc`` may be in any case. Raises :class:`InvalidArgumentError`.
    """
    if order_by is None:
        return ()
    if isinstance(order_by, str):
        parts = order_by.split(",")
    elif isinstance(order_by, Sequence) and all(isinstance(term, str) for term in order_by):
        parts = [part for term in order_by for part in term.split(",")]
    else:
        raise InvalidArgumentError(
            "order_by", f"expected a string or a list of strings, got {type(order_by).__name__}"
        )
    terms = []
    for part in parts:
        match = _TERM.match(part.strip())
        direction = (match.group("direction") or "desc").lower() if match else None
        if match is None or direction not in ("asc", "desc"):
            raise InvalidArgumentError(
                "order_by", f"{part.strip()!r} is not COLUMN, COLUMN:asc or COLUMN:desc"
            )
        terms.append(f"{match.group('column')}:{direction}")
    return tuple(terms)


class WorkflowResults:
    """The leaderboard and the post-processing outputs of one workflow."""

    def __init__(self, api: FlowservAPI, workflow_id: str) -> None:
        self._api = api
        self.workflow_id = workflow_id
        self._columns: tuple[ResultColumn, ...] | None = None

    async def leaderboard(
        self, order_by: OrderBy = None, include_all: bool = False
    ) -> Leaderboard | None:
        """The ranking (None: the workflow has no results schema); see AsyncWorkflow."""
        terms = order_terms(order_by)
        if not isinstance(include_all, bool):
            raise InvalidArgumentError(
                "include_all", f"expected True or False, got {include_all!r}"
            )
        if terms:
            columns = await self._schema()
            if columns is None:
                return None  # no results schema: nothing to order
            names = [column.name for column in columns]
            for term in terms:
                column = term.rpartition(":")[0]
                if column not in names:
                    raise InvalidArgumentError(
                        "order_by",
                        f"unknown column {column!r} (the results schema has {', '.join(names)})",
                    )
        board = await self._api.get_leaderboard(self.workflow_id, terms, include_all)
        if board is not None:
            self._columns = board.columns
        return board

    async def _schema(self) -> tuple[ResultColumn, ...] | None:
        if self._columns is None:
            board = await self._api.get_leaderboard(self.workflow_id)
            if board is None:
                return None
            self._columns = board.columns
        return self._columns

    async def postproc_file(self, file_id: str | None = None) -> FileHandle:
        """An output file of the latest post-processing run, or all of them as an archive."""
        try:
            if file_id is None:
                return await self._api.download_postproc_archive(self.workflow_id)
            return await self._api.download_postproc_file(self.workflow_id, file_id)
        except NotFoundError as exc:
            if NO_POSTPROC not in exc.message:
                raise
            raise with_detail(
                exc, message=f"workflow {self.workflow_id!r} has no post-processing results: "
                "it has no post-processing step, or no run has been ranked yet",
            ) from None
