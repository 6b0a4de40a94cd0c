"""Submitting: uploads and run starts, each sent at most once, batches, ambiguity resolution.

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
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.lowlevel

from ._arguments import FileSource, Prepared
from ._config import CLEANUP_TIMEOUT, DEFAULT_TIMEOUT
from ._errors import (
    APIConnectionError,
    FlowservError,
    InvalidResponseError,
    NotFoundError,
    PayloadTooLargeError,
    ServerError,
    SubmissionUncertainError,
)
from ._models import Run, UploadedFile

if TYPE_CHECKING:
    from ._api import FlowservAPI

__all__ = ["RESOLVE_DELAYS", "RESOLVE_SKEW", "Submitter", "server_filename"]

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


_UNCERTAIN_STATUS = frozenset({502, 504})
"""Gateway answers to a run start: the server behind may or may not have made the run."""


def start_key(group_id: str, arguments: list[dict[str, Any]]) -> Hashable:
    """The in-flight key of a run start."""
    return ("run", group_id, _canonical(arguments))


def upload_key(group_id: str, filename: str) -> Hashable:
    """The in-flight key of an upload."""
    return ("upload", group_id, server_filename(filename))


def ambiguous(error: FlowservError) -> bool:
    """Whether a failed run start or upload may still have been carried out by the server.

    True for transport failures after the request went out, gateway errors
    (502, 504) and a success answer that could not be read.
    """
    if isinstance(error, APIConnectionError):
        return error.request_sent
    if isinstance(error, ServerError):
        return error.status_code in _UNCERTAIN_STATUS
    return isinstance(error, InvalidResponseError)


class Submitter:
    """Uploads and run starts of one client, each sent at most once.

    It remembers the runs and uploads it got back (so that a resolution never
    hands out one of them twice) and which submissions are in flight.
    """

    def __init__(self, api: FlowservAPI) -> None:
        self._api = api
        self._runs: set[str] = set()
        self._uploads: set[str] = set()
        self._in_flight: Counter[Hashable] = Counter()

    @contextlib.contextmanager
    def _sending(self, key: Hashable) -> Iterator[None]:
        """Mark a submission as in flight for the duration of the block."""
        self._in_flight[key] += 1
        try:
            yield
        finally:
            self._in_flight[key] -= 1
            if not self._in_flight[key]:
                del self._in_flight[key]

    def _others_in_flight(self, key: Hashable) -> bool:
        """True if another submission with the same key is in flight (besides the caller's)."""
        return self._in_flight[key] > 1

    def _budget(self) -> float:
        """Seconds a resolution may take in all: its pauses and a few requests."""
        return sum(RESOLVE_DELAYS) + 2 * (self._api.http.settings.timeout or DEFAULT_TIMEOUT)

    # -- uploads ----------------------------------------------------------------

    async def upload(self, group_id: str, source: FileSource) -> UploadedFile:
        """Upload a file; if no answer comes, find out what the upload did.

        Raises :class:`SubmissionUncertainError` when that stays unclear.
        """
        with self._sending(upload_key(group_id, source.filename)):
            sent_at = datetime.now(timezone.utc)
            try:
                uploaded = await self._api.upload_file(group_id, source)
            except PayloadTooLargeError as exc:
                raise PayloadTooLargeError(
                    f"{source.filename!r} is larger than the server accepts ({exc.message})",
                    status_code=exc.status_code, method=exc.method, path=exc.path,
                ) from None
            except (APIConnectionError, ServerError, InvalidResponseError) as exc:
                if not ambiguous(exc):
                    raise
                return await self._resolve_upload(group_id, source, sent_at, exc)
            self._uploads.add(uploaded.id)
            return uploaded

    async def _resolve_upload(
        self, group_id: str, source: FileSource, sent_at: datetime, cause: FlowservError
    ) -> UploadedFile:
        """The file an unanswered upload created, or :class:`SubmissionUncertainError`."""
        name = server_filename(source.filename)
        key = upload_key(group_id, source.filename)
        earliest = sent_at - RESOLVE_SKEW
        digest = await anyio.to_thread.run_sync(_source_digest, source)
        checked: dict[str, UploadedFile | None] = {}

        async def look() -> list[UploadedFile]:
            for upload in await self._api.list_files(group_id):
                if upload.id in checked or upload.id in self._uploads or upload.name != name:
                    continue
                if upload.created_at is not None and _aware(upload.created_at) < earliest:
                    continue
                try:
                    handle = await self._api.download_file(group_id, upload.id)
                    content = hashlib.sha256()
                    async for chunk in handle.stream():
                        content.update(chunk)
                except NotFoundError:
                    continue
                checked[upload.id] = upload if content.digest() == digest else None
            return [
                upload for upload_id, upload in checked.items()
                if upload is not None and upload_id not in self._uploads
            ]

        matches, why = await _search(
            look, lambda: self._others_in_flight(key), self._budget(), "files"
        )
        if not why:
            self._uploads.add(matches[0].id)
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

    # -- run starts ----------------------------------------------------------

    async def start(self, group_id: str, arguments: list[dict[str, Any]]) -> Run:
        """Start a run from wire arguments; if no answer comes, find out what the start did.

        The request is shielded: cancelled half-way, it would leave a run that
        nobody knows of. Its answer is awaited (within the request timeout); a
        run it made is returned even if the call was cancelled meanwhile (the
        cancellation then takes effect at the caller's next await) and named in
        a warning. If no usable answer came, the group's runs are searched for
        a run created after the request with exactly these arguments; if
        exactly one matches it is returned, otherwise
        :class:`SubmissionUncertainError` is raised.
        """
        with self._sending(start_key(group_id, arguments)):
            sent_at = datetime.now(timezone.utc)
            with anyio.CancelScope(shield=True):
                try:
                    run: Run | None = await self._api.start_run(group_id, arguments)
                    uncertain: FlowservError | None = None
                except (APIConnectionError, ServerError, InvalidResponseError) as exc:
                    if not ambiguous(exc):
                        raise
                    run, uncertain = None, exc
            cancelled = anyio.current_effective_deadline() == -math.inf
            if run is not None:
                self._runs.add(run.run_id)
                if cancelled:
                    logger.warning(
                        "run %s was started in group %s while the call was being cancelled; "
                        "it is left running", run.run_id, group_id,
                    )
                return run
            if cancelled:
                logger.warning(
                    "a run start in group %s got no answer and the call was cancelled "
                    "before it could be resolved; the run may exist (see list_runs)",
                    group_id,
                )
                await anyio.lowlevel.checkpoint_if_cancelled()
            assert uncertain is not None
            return await self._resolve_start(group_id, arguments, sent_at, uncertain)

    async def _resolve_start(
        self,
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
            for info in (await self._api.list_runs(group_id)).infos():
                if info.run_id in checked or info.run_id in self._runs:
                    continue
                if info.created_at is not None and _aware(info.created_at) < earliest:
                    continue
                try:
                    run = await self._api.get_run(info.run_id)
                except NotFoundError:
                    continue  # deleted in the meantime
                same = same_arguments(run.doc.get("arguments"), arguments)
                checked[info.run_id] = run if same else None
            return [
                run for run_id, run in checked.items()
                if run is not None and run_id not in self._runs
            ]

        matches, why = await _search(
            look, lambda: self._others_in_flight(key), self._budget(), "runs"
        )
        if not why:
            self._runs.add(matches[0].run_id)
            logger.info(
                "run start in group %s got no answer (%s); it created run %s",
                group_id, type(cause).__name__, matches[0].run_id,
            )
            return matches[0]
        candidates = [run.run_id for run in matches]
        logger.warning(
            "run start in group %s got no answer and stays uncertain: %s", group_id, why
        )
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

    # -- whole submissions ---------------------------------------------------

    async def submit(self, group_id: str, prepared: Prepared) -> Run:
        """Upload the file arguments of checked arguments, then start the run.

        If the run is certainly not created, the files uploaded for it are
        deleted again (shielded, within :data:`CLEANUP_TIMEOUT`).
        """
        wire: list[dict[str, Any]] = []
        uploaded: list[str] = []
        try:
            for name, value in prepared:
                if isinstance(value, FileSource):
                    file_id = value.upload_id
                    if file_id is None:
                        file_id = (await self.upload(group_id, value)).id
                        uploaded.append(file_id)
                    value = value.wire(file_id)
                wire.append({"name": name, "value": value})
            return await self.start(group_id, wire)
        except SubmissionUncertainError:
            raise
        except BaseException:
            if uploaded:  # the run was certainly not created: do not leave its uploads behind
                with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_TIMEOUT):
                    for file_id in uploaded:
                        with contextlib.suppress(FlowservError):
                            await self._api.delete_file(group_id, file_id)
            raise

    async def submit_all(
        self,
        group_id: str,
        batch: Sequence[Prepared],
        *,
        concurrency: int,
        on_started: Callable[[Run], Any] | None = None,
    ) -> list[Run | FlowservError]:
        """Submit every argument set, ``concurrency`` at a time; outcomes in input order.

        A submission that fails stands in the list as its error; the others go
        on. ``on_started`` is called with each run as soon as it exists. If
        the batch is cancelled, the runs already started keep running (they
        are named in a warning) and the submissions not yet sent are dropped.
        """
        results: list[Run | FlowservError | None] = [None] * len(batch)
        limiter = anyio.CapacityLimiter(concurrency)

        async def submit(index: int) -> None:
            async with limiter:
                try:
                    results[index] = run = await self.submit(group_id, batch[index])
                except FlowservError as exc:
                    results[index] = exc
                else:
                    if on_started is not None:
                        on_started(run)

        try:
            async with anyio.create_task_group() as tg:
                for index in range(len(batch)):
                    tg.start_soon(submit, index)
        except anyio.get_cancelled_exc_class():
            created = [run.run_id for run in results if isinstance(run, Run)]
            if created:
                logger.warning(
                    "a batch was cancelled after starting %d of %d runs in group %s: %s",
                    len(created), len(batch), group_id, ", ".join(created),
                )
            raise
        return [result for result in results if result is not None]


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

