"""Ambiguous submissions: finding out what an unanswered run start or upload did.

A run start or an upload that may have reached the server, but got no answer
(a timeout, a broken connection, a gateway error), is never sent again: that
could create a second run. Instead the group is searched for what the request
may have created: a run made after the request with exactly the submitted
arguments, or an upload made after it with the server's version of the file
name and the same content. Exactly one match is taken as the outcome; anything
else raises :class:`SubmissionUncertainError`, which carries what is needed to
check again later.

Starts of this client that are still in flight with the same arguments (or
uploads of the same name) make a match ambiguous, so the search waits for them
to settle first: otherwise two callers could be handed the same run.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable, Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from ._config import DEFAULT_TIMEOUT
from ._errors import FlowservError, NotFoundError, SubmissionUncertainError
from ._models import Run, UploadedFile

if TYPE_CHECKING:
    from ._client import AsyncFlowserv
    from ._parameters import FileSource

__all__ = ["RESOLVE_DELAYS", "RESOLVE_SKEW", "Submissions", "server_filename"]

RESOLVE_SKEW = timedelta(seconds=5)
"""Clock difference tolerated between this machine and the server when matching by time."""

RESOLVE_DELAYS = (0.0, 0.25, 0.5, 1.0, 2.0)
"""Pauses before each search: the server may still be committing the run or file."""

T = TypeVar("T")

logger = logging.getLogger("aioflowserv")


def server_filename(name: str) -> str:
    """The name flowServ stores an upload under (Werkzeug's ``secure_filename`` on POSIX).

    Non-ASCII characters are dropped, ``/`` and whitespace become ``_``, other
    characters outside ``[A-Za-z0-9_.-]`` are removed, and leading or trailing
    dots and underscores are stripped.
    """
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    joined = "_".join(text.replace("/", " ").split())
    return re.sub(r"[^A-Za-z0-9_.-]", "", joined).strip("._")


def _canonical(value: Any) -> Any:
    """A form of a JSON value in which equal arguments compare equal (1 == 1.0, True != 1)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, (int, float)):
        return ("number", float(value))
    if isinstance(value, dict):
        return ("object", tuple(sorted((str(k), _canonical(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return ("array", tuple(_canonical(item) for item in value))
    return ("other", repr(value))


def same_arguments(left: object, right: object) -> bool:
    """True if two wire argument lists are the same (as the server repeats them)."""
    return bool(_canonical(left) == _canonical(right))


class Submissions:
    """What one client submitted: the runs and uploads it got back, and what is in flight."""

    def __init__(self) -> None:
        self.runs: set[str] = set()
        self.uploads: set[str] = set()
        self._in_flight: Counter[Hashable] = Counter()

    @contextlib.contextmanager
    def sending(self, key: Hashable) -> Iterator[None]:
        """Mark a submission as in flight for the duration of the block."""
        self._in_flight[key] += 1
        try:
            yield
        finally:
            self._in_flight[key] -= 1
            if not self._in_flight[key]:
                del self._in_flight[key]

    def others_in_flight(self, key: Hashable) -> bool:
        """True if another submission with the same key is in flight (besides the caller's)."""
        return self._in_flight[key] > 1


def start_key(group_id: str, arguments: list[dict[str, Any]]) -> Hashable:
    """The in-flight key of a run start."""
    return ("run", group_id, _canonical(arguments))


def upload_key(group_id: str, filename: str) -> Hashable:
    """The in-flight key of an upload."""
    return ("upload", group_id, server_filename(filename))


def budget(timeout: float | None) -> float:
    """Seconds a resolution may take in all: its pauses and a few requests."""
    return sum(RESOLVE_DELAYS) + 2 * (timeout or DEFAULT_TIMEOUT)


async def _search(
    look: Callable[[], Awaitable[list[T]]],
    busy: Callable[[], bool],
    seconds: float,
    noun: str,
) -> tuple[list[T], str]:
    """Search until exactly one match turns up; return the last matches and why it stopped."""
    matches: list[T] = []
    why = "nothing matching it was found"
    with anyio.move_on_after(seconds):
        for delay in RESOLVE_DELAYS:
            if delay:
                await anyio.sleep(delay)
            if busy():
                why = "another submission with the same content was in flight"
                continue
            try:
                matches = await look()
            except FlowservError as exc:
                why = f"searching for it failed ({exc})"
                continue
            if busy():
                why = "another submission with the same content was in flight"
                continue
            if len(matches) == 1:
                return matches, ""
            if len(matches) > 1:
                return matches, f"{len(matches)} {noun} match it"
            why = "nothing matching it was found"
    return matches, why


async def resolve_start(
    service: AsyncFlowserv,
    submissions: Submissions,
    group_id: str,
    arguments: list[dict[str, Any]],
    sent_at: datetime,
    cause: FlowservError,
) -> Run:
    """The run an unanswered start created, or :class:`SubmissionUncertainError`."""
    key = start_key(group_id, arguments)
    earliest = sent_at - RESOLVE_SKEW
    checked: dict[str, Run | None] = {}

    async def look() -> list[Run]:
        for info in await service.list_runs(group_id):
            if info.run_id in checked or info.run_id in submissions.runs:
                continue
            if info.created_at is not None and _aware(info.created_at) < earliest:
                continue
            try:
                run = await service.get_run(info.run_id)
            except NotFoundError:
                continue  # deleted in the meantime
            same = same_arguments(run.doc.get("arguments"), arguments)
            checked[info.run_id] = run if same else None
        return [
            run for run_id, run in checked.items()
            if run is not None and run_id not in submissions.runs
        ]

    matches, why = await _search(
        look, lambda: submissions.others_in_flight(key), budget(service.settings.timeout), "runs"
    )
    if not why:
        submissions.runs.add(matches[0].run_id)
        logger.info(
            "run start in group %s got no answer (%s); it created run %s",
            group_id, type(cause).__name__, matches[0].run_id,
        )
        return matches[0]
    candidates = [run.run_id for run in matches]
    logger.warning("run start in group %s got no answer and stays uncertain: %s", group_id, why)
    listed = f": {', '.join(candidates)}" if candidates else ""
    raise SubmissionUncertainError(
        f"the run start in group {group_id} may or may not have reached the server "
        f"({cause}); it was not sent again, and {why}{listed}. Check the group's runs "
        "(created after sent_at, with these arguments) before starting it again.",
        group_id=group_id,
        arguments=arguments,
        sent_at=sent_at.isoformat(),
        candidates=candidates,
    ) from cause


async def resolve_upload(
    service: AsyncFlowserv,
    submissions: Submissions,
    group_id: str,
    source: FileSource,
    sent_at: datetime,
    cause: FlowservError,
) -> UploadedFile:
    """The file an unanswered upload created, or :class:`SubmissionUncertainError`."""
    name = server_filename(source.filename)
    key = upload_key(group_id, source.filename)
    earliest = sent_at - RESOLVE_SKEW
    digest = await anyio.to_thread.run_sync(_source_digest, source)
    checked: dict[str, UploadedFile | None] = {}

    async def look() -> list[UploadedFile]:
        for upload in await service.list_files(group_id):
            if upload.id in checked or upload.id in submissions.uploads or upload.name != name:
                continue
            if upload.created_at is not None and _aware(upload.created_at) < earliest:
                continue
            try:
                handle = await service.download_file(group_id, upload.id)
                content = hashlib.sha256()
                async for chunk in handle.stream():
                    content.update(chunk)
            except NotFoundError:
                continue
            checked[upload.id] = upload if content.digest() == digest else None
        return [
            upload for upload_id, upload in checked.items()
            if upload is not None and upload_id not in submissions.uploads
        ]

    matches, why = await _search(
        look, lambda: submissions.others_in_flight(key), budget(service.settings.timeout), "files"
    )
    if not why:
        submissions.uploads.add(matches[0].id)
        logger.info(
            "upload to group %s got no answer (%s); it created file %s",
            group_id, type(cause).__name__, matches[0].id,
        )
        return matches[0]
    candidates = [upload.id for upload in matches]
    logger.warning("upload to group %s got no answer and stays uncertain: %s", group_id, why)
    listed = f": {', '.join(candidates)}" if candidates else ""
    raise SubmissionUncertainError(
        f"the upload of {source.filename!r} to group {group_id} may or may not have reached "
        f"the server ({cause}); it was not sent again, and {why}{listed}. List the group's "
        f"files (named {name!r}, created after sent_at) before uploading it again.",
        group_id=group_id,
        sent_at=sent_at.isoformat(),
        candidates=candidates,
        filename=name,
    ) from cause


def _source_digest(source: FileSource) -> bytes:
    content = source.open()
    digest = hashlib.sha256()
    if isinstance(content, bytes):
        digest.update(content)
        return digest.digest()
    try:
        while chunk := content.read(1 << 16):
            digest.update(chunk)
    finally:
        if source.path is not None:
            content.close()
    return digest.digest()


def _aware(moment: datetime) -> datetime:
    """Treat a timestamp without offset as UTC (flowServ writes UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)

