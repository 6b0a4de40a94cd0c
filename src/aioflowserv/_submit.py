"""One submission: an upload or a run start, sent at most once, and what to do when no answer came.

A run start or an upload that may have reached the server, but got no answer
(a timeout, a broken connection, a gateway error), is never sent again: that
could create a second run. Instead the group is searched for what the request
may have created: a run made after the request with exactly the submitted
arguments, or an upload made after it with the server's version of the file
name and the same content. Both searches are one resolver (:class:`_Lookup`
says what to list and how to recognise the outcome). Exactly one match is
taken as the outcome; anything else raises :class:`SubmissionUncertainError`,
which carries what is needed to check again later.

Starts of this client that are still in flight with the same arguments (or
uploads of the same name) make a match ambiguous, so the search waits for them
to settle first: otherwise two callers could be handed the same run.

A start or an upload once sent is answered even if the caller is cancelled
meanwhile (an anyio or trio cancel scope, or asyncio's own ``Task.cancel()``,
``asyncio.wait_for`` and ``asyncio.timeout``): the run it made is handed to the
caller's ``on_started`` and named in a warning before the cancellation goes on.
On asyncio, a start whose answer never came and whose caller was cancelled is
resolved in the client's :class:`~._gather.Background`, which closing the
client waits for.

Many submissions at once are :mod:`._batch`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
import anyio.lowlevel
import attrs

from ._arguments import FileSource, Prepared
from ._config import CLEANUP_TIMEOUT, DEFAULT_TIMEOUT, RESOLVE_DELAYS, RESOLVE_SKEW
from ._errors import (
    FlowservError,
    NotFoundError,
    PayloadTooLargeError,
    SubmissionUncertainError,
    may_have_happened,
    with_detail,
)
from ._models import Run, UploadedFile
from ._routes import server_filename

if TYPE_CHECKING:
    from ._api import FlowservAPI
    from ._gather import Background

__all__ = [
    "OnStarted", "Submitter", "argument_key", "aware", "same_arguments"
]



T = TypeVar("T")

OnStarted = Callable[[Run], Any]
"""Called with each run as soon as it exists (also when the caller was cancelled meanwhile)."""

logger = logging.getLogger("aioflowserv")




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


def argument_key(arguments: Mapping[str, Any]) -> Hashable:
    """A hashable form of ``{name: value}`` arguments in which equal ones are equal (1 == 1.0)."""
    key: Hashable = _canonical(dict(arguments))
    return key


def start_key(group_id: str, arguments: list[dict[str, Any]]) -> Hashable:
    """The in-flight key of a run start."""
    return ("run", group_id, _canonical(arguments))


def upload_key(group_id: str, filename: str) -> Hashable:
    """The in-flight key of an upload."""
    return ("upload", group_id, server_filename(filename))


@attrs.frozen
class _Lookup(Generic[T]):
    """How to find what an unanswered submission made: the one resolver's two uses.

    ``listing`` gives the group's candidates (id and creation time), ``check``
    fetches one and returns it if it is the outcome (None if not; a
    :class:`NotFoundError` means it is gone), ``claimed`` holds the ids
    already handed to a caller, ``uncertain`` builds the error for no single match.
    """

    noun: str
    what: str
    key: Hashable
    claimed: set[str]
    listing: Callable[[], Awaitable[list[tuple[str, datetime | None]]]]
    check: Callable[[str], Awaitable[T | None]]
    uncertain: Callable[[list[str], str, FlowservError], SubmissionUncertainError]


class Submitter:
    """Uploads and run starts of one client, each sent at most once.

    It remembers the runs and uploads it got back (so that a resolution never
    hands out one of them twice) and which submissions are in flight.
    """

    def __init__(self, api: FlowservAPI, background: Background) -> None:
        self._api = api
        self._background = background
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

    def claim(self, run: Run) -> None:
        """Note a run as handed out (a batch resumed from a manifest found it)."""
        self._runs.add(run.run_id)

    def claimed(self, run_id: str) -> bool:
        """Whether a run was handed to a caller already."""
        return run_id in self._runs

    def _budget(self) -> float:
        """Seconds a resolution may take in all: its pauses and a few requests."""
        return sum(RESOLVE_DELAYS) + 2 * (self._api.http.settings.timeout or DEFAULT_TIMEOUT)

    async def _resolve(self, lookup: _Lookup[T], sent_at: datetime, cause: FlowservError) -> T:
        """What an unanswered submission created, or :class:`SubmissionUncertainError`."""
        earliest = sent_at - RESOLVE_SKEW
        checked: dict[str, T | None] = {}

        async def look() -> list[tuple[str, T]]:
            for item_id, created in await lookup.listing():
                if item_id in checked or item_id in lookup.claimed:
                    continue
                if created is not None and aware(created) < earliest:
                    continue
                try:
                    checked[item_id] = await lookup.check(item_id)
                except NotFoundError:
                    continue  # deleted in the meantime
            return [
                (item_id, item) for item_id, item in checked.items()
                if item is not None and item_id not in lookup.claimed
            ]

        in_flight = lambda: self._in_flight[lookup.key] > 1  # noqa: E731 - besides the caller's
        matches, why = await _search(look, in_flight, self._budget(), lookup.noun)
        if not why:
            found_id, found = matches[0]
            lookup.claimed.add(found_id)
            logger.info(
                "%s got no answer (%s); it created %s", lookup.what, type(cause).__name__, found_id
            )
            return found
        logger.warning("%s got no answer and stays uncertain: %s", lookup.what, why)
        raise lookup.uncertain([item_id for item_id, _ in matches], why, cause) from cause

    # -- uploads ----------------------------------------------------------------

    async def upload(self, group_id: str, source: FileSource) -> UploadedFile:
        """Upload a file; if no answer comes, find out what the upload did.

        Raises :class:`SubmissionUncertainError` when that stays unclear.
        """
        with self._sending(upload_key(group_id, source.filename)):
            sent_at = datetime.now(timezone.utc)
            (uploaded, error), cancel = await _answered(
                lambda: self._api.upload_file(group_id, source)
            )
            if uploaded is not None:
                self._uploads.add(uploaded.id)
                if cancel is not None:
                    logger.warning(
                        "file %s was uploaded to group %s while the call was being cancelled; "
                        "it is left on the server", uploaded.id, group_id,
                    )
                    raise cancel
                return uploaded
            assert error is not None
            if cancel is not None:
                raise cancel
            if isinstance(error, PayloadTooLargeError):
                raise with_detail(
                    error, f"{source.filename!r} is larger than the server accepts"
                ) from None
            if not may_have_happened(error):
                raise error
            digest = await anyio.to_thread.run_sync(_source_digest, source)
            lookup = self._upload_lookup(group_id, source, digest, sent_at)
            return await self._resolve(lookup, sent_at, error)

    def _upload_lookup(
        self, group_id: str, source: FileSource, digest: bytes, sent_at: datetime
    ) -> _Lookup[UploadedFile]:
        name = server_filename(source.filename)
        listed: dict[str, UploadedFile] = {}

        async def listing() -> list[tuple[str, datetime | None]]:
            uploads = await self._api.list_files(group_id)
            listed.update((upload.id, upload) for upload in uploads if upload.name == name)
            return [(upload.id, upload.created_at) for upload in listed.values()]

        async def check(file_id: str) -> UploadedFile | None:
            handle = await self._api.download_file(group_id, file_id)
            content = hashlib.sha256()
            async for chunk in handle.stream():
                content.update(chunk)
            return listed[file_id] if content.digest() == digest else None

        def uncertain(
            candidates: list[str], why: str, cause: FlowservError
        ) -> SubmissionUncertainError:
            found = f": {', '.join(candidates)}" if candidates else ""
            return SubmissionUncertainError(
                f"the upload of {source.filename!r} to group {group_id} may or may not have "
                f"reached the server ({cause}); it was not sent again, and {why}{found}. List "
                f"the group's files (named {name!r}, created after sent_at) before uploading "
                "it again.",
                group_id=group_id, sent_at=sent_at.isoformat(), candidates=candidates,
                filename=name,
            )

        return _Lookup(
            "files", f"upload to group {group_id}", upload_key(group_id, source.filename),
            self._uploads, listing, check, uncertain,
        )

    # -- run starts ----------------------------------------------------------

    async def start(
        self,
        group_id: str,
        arguments: list[dict[str, Any]],
        on_started: OnStarted | None = None,
    ) -> Run:
        """Start a run from wire arguments; if no answer comes, find out what the start did.

        The request is never cut off half-way: that would leave a run that
        nobody knows of. Its answer is awaited (within the request timeout)
        even if the call is cancelled meanwhile; the run it made is handed to
        ``on_started`` (as every run this returns) and named in a warning.
        Then, under an anyio or trio cancel scope, the run is returned and the
        cancellation takes effect at the caller's next await; a native asyncio
        cancellation (``Task.cancel()``, ``asyncio.wait_for``,
        ``asyncio.timeout``) is raised again at once.

        If no usable answer came, the group's runs are searched for a run
        created after the request with exactly these arguments; if exactly one
        matches it is returned, otherwise :class:`SubmissionUncertainError` is
        raised. If the call was cancelled meanwhile, on asyncio that search
        goes on in the background (the client waits for it when it closes, and
        hands the run to ``on_started``); elsewhere a warning says that the
        run may exist.
        """
        with self._sending(start_key(group_id, arguments)):
            sent_at = datetime.now(timezone.utc)
            (run, error), cancel = await _answered(
                lambda: self._api.start_run(group_id, arguments)
            )
            cancelled = cancel is not None or anyio.current_effective_deadline() == -math.inf
            if run is not None:
                self._runs.add(run.run_id)
                if cancelled:
                    logger.warning(
                        "run %s was started in group %s while the call was being cancelled; "
                        "it is left running", run.run_id, group_id,
                    )
                if on_started is not None:
                    on_started(run)
                if cancel is not None:
                    raise cancel
                return run
            assert error is not None
            if not may_have_happened(error):
                if cancel is not None:
                    raise cancel
                raise error
            lookup = self._start_lookup(group_id, arguments, sent_at)
            if cancelled:
                self._resolve_later(lookup, sent_at, error, on_started)
                if cancel is not None:
                    raise cancel
                await anyio.lowlevel.checkpoint_if_cancelled()
            run = await self._resolve(lookup, sent_at, error)
            if on_started is not None:
                on_started(run)
            return run

    def _start_lookup(
        self, group_id: str, arguments: list[dict[str, Any]], sent_at: datetime
    ) -> _Lookup[Run]:
        async def listing() -> list[tuple[str, datetime | None]]:
            return [
                (info.run_id, info.created_at)
                for info in (await self._api.list_runs(group_id)).infos()
            ]

        async def check(run_id: str) -> Run | None:
            run = await self._api.get_run(run_id)
            return run if same_arguments(run.doc.get("arguments"), arguments) else None

        def uncertain(
            candidates: list[str], why: str, cause: FlowservError
        ) -> SubmissionUncertainError:
            listed = f": {', '.join(candidates)}" if candidates else ""
            return SubmissionUncertainError(
                f"the run start in group {group_id} may or may not have reached the server "
                f"({cause}); it was not sent again, and {why}{listed}. Check the group's runs "
                "(created after sent_at, with these arguments) before starting it again.",
                group_id=group_id, arguments=arguments, sent_at=sent_at.isoformat(),
                candidates=candidates,
            )

        return _Lookup(
            "runs", f"run start in group {group_id}", start_key(group_id, arguments),
            self._runs, listing, check, uncertain,
        )

    def _resolve_later(
        self,
        lookup: _Lookup[Run],
        sent_at: datetime,
        cause: FlowservError,
        on_started: OnStarted | None,
    ) -> None:
        """Resolve an unanswered start whose caller was cancelled, in the background (asyncio).

        Elsewhere (trio) a warning says the run may exist.
        """
        if not _on_asyncio():
            logger.warning(
                "a %s got no answer and the call was cancelled before it could be resolved; "
                "the run may exist (see list_runs)", lookup.what,
            )
            return
        logger.warning(
            "a %s got no answer and the call was cancelled; looking for the run it may have "
            "made in the background", lookup.what,
        )

        async def resolve() -> None:
            with self._sending(lookup.key):
                try:
                    run = await self._resolve(lookup, sent_at, cause)
                except FlowservError as exc:
                    logger.warning("the cancelled %s: %s", lookup.what, exc)
                    return
            logger.warning(
                "the cancelled %s made run %s; it is left running", lookup.what, run.run_id
            )
            if on_started is not None:
                on_started(run)

        self._background.start_soon(resolve)

    # -- whole submissions ---------------------------------------------------

    async def submit(
        self,
        group_id: str,
        prepared: Prepared,
        on_started: OnStarted | None = None,
        before_start: Callable[[list[dict[str, Any]]], Awaitable[None]] | None = None,
    ) -> Run:
        """Upload the file arguments of checked arguments, then start the run.

        ``before_start`` is awaited with the wire arguments just before the
        start is sent (a manifest records its intent there); ``on_started`` as
        for :meth:`start`. If the run is certainly not created, the files
        uploaded for it are deleted again (shielded, within :data:`CLEANUP_TIMEOUT`).
        """
        wire: list[dict[str, Any]] = []
        uploaded: list[str] = []
        sent = False
        try:
            for name, value in prepared:
                if isinstance(value, FileSource):
                    file_id = value.upload_id
                    if file_id is None:
                        file_id = (await self.upload(group_id, value)).id
                        uploaded.append(file_id)
                    value = value.wire(file_id)
                wire.append({"name": name, "value": value})
            if before_start is not None:
                await before_start(wire)
            sent = True
            return await self.start(group_id, wire, on_started)
        except SubmissionUncertainError:
            raise
        except BaseException as exc:
            # A start that was sent and then cancelled may have made the run: keep its files.
            maybe_created = sent and not isinstance(exc, FlowservError)
            if uploaded and not maybe_created:  # do not leave the uploads of no run behind
                with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_TIMEOUT):
                    for file_id in uploaded:
                        with contextlib.suppress(FlowservError):
                            await self._api.delete_file(group_id, file_id)
            raise


async def _answered(
    call: Callable[[], Awaitable[T]],
) -> tuple[tuple[T | None, FlowservError | None], BaseException | None]:
    """Await ``call()`` to its end whatever cancellation comes meanwhile.

    Returns ``((value, None) or (None, error), cancel)``: ``cancel`` is a
    native asyncio cancellation that arrived meanwhile, for the caller to raise
    again once it has handled the answer (an anyio or trio cancellation is held
    back by a shielded scope instead, and takes effect at the next await).
    """

    async def attempt() -> tuple[T | None, FlowservError | None]:
        try:
            return await call(), None
        except FlowservError as exc:
            return None, exc

    if not _on_asyncio():
        with anyio.CancelScope(shield=True):
            return await attempt(), None
    task = asyncio.ensure_future(attempt())
    cancel: BaseException | None = None
    with anyio.CancelScope(shield=True):
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError as exc:
                if task.cancelled():  # the request itself was cancelled (the loop is closing)
                    raise
                cancel = exc
    return task.result(), cancel


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


def aware(moment: datetime) -> datetime:
    """Treat a timestamp without offset as UTC (flowServ writes UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _on_asyncio() -> bool:
    """True when the running event loop is asyncio's (whose own cancellation needs care)."""
    try:
        asyncio.current_task()
    except RuntimeError:  # no asyncio loop runs here: trio
        return False
    return True
