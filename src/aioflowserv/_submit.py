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

A start or an upload once sent is answered even if the caller is cancelled
meanwhile (an anyio or trio cancel scope, or asyncio's own ``Task.cancel()``,
``asyncio.wait_for`` and ``asyncio.timeout``): the run it made is handed to the
caller's ``on_started`` and named in a warning before the cancellation goes on.
On asyncio, a start whose answer never came and whose caller was cancelled is
resolved in the background, before the client closes.

Batches (:meth:`Submitter.submit_all`) go through a :class:`~._limit.Limit`,
fixed or adaptive, and may keep a :class:`~._manifest.Manifest`, from which a
killed batch continues.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import math
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
    APIStatusError,
    FlowservError,
    InvalidResponseError,
    NotFoundError,
    PayloadTooLargeError,
    ServerError,
    SubmissionUncertainError,
)
from ._gather import gather
from ._limit import Limit, Sample
from ._models import Run, UploadedFile
from ._routes import server_filename

if TYPE_CHECKING:
    from ._api import FlowservAPI
    from ._manifest import Manifest, ManifestEntry

__all__ = [
    "RESOLVE_DELAYS", "RESOLVE_SKEW", "OnStarted", "RunBatch", "Submitter", "server_filename",
]

RESOLVE_SKEW = timedelta(seconds=5)
"""Clock difference tolerated between this machine and the server when matching by time."""

RESOLVE_DELAYS = (0.0, 0.25, 0.5, 1.0, 2.0)
"""Pauses before each search: the server may still be committing the run or file."""

T = TypeVar("T")

OnStarted = Callable[[Run], Any]
"""Called with each run as soon as it exists (also when the caller was cancelled meanwhile)."""

logger = logging.getLogger("aioflowserv")


class RunBatch(list[Any]):
    """What ``start_runs`` returns: a list of the runs in input order, and how it went.

    It is a plain ``list`` (of :class:`Run`, and, with ``return_exceptions=True``,
    the errors of the submissions that failed), with two more attributes:
    ``concurrency``, the limit at the end of the batch (with
    ``concurrency="auto"``, what the limit settled on for this server), and
    ``peak_concurrency``, the most submissions that were in flight at once.
    """

    concurrency: int
    peak_concurrency: int
    adaptive: bool

    def __init__(
        self, items: Sequence[Any] = (), *, concurrency: int = 1, peak_concurrency: int = 0,
        adaptive: bool = False,
    ) -> None:
        super().__init__(items)
        self.concurrency = concurrency
        self.peak_concurrency = peak_concurrency
        self.adaptive = adaptive

    def __repr__(self) -> str:
        mode = "auto" if self.adaptive else "fixed"
        return (
            f"RunBatch({list.__repr__(self)}, concurrency={self.concurrency} ({mode}), "
            f"peak_concurrency={self.peak_concurrency})"
        )


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
        self._background: set[asyncio.Task[None]] = set()

    async def aclose(self) -> None:
        """Wait for the resolutions still going on in the background (see :meth:`start`)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

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
                raise PayloadTooLargeError(
                    f"{source.filename!r} is larger than the server accepts ({error.message})",
                    status_code=error.status_code, method=error.method, path=error.path,
                ) from None
            if not ambiguous(error):
                raise error
            return await self._resolve_upload(group_id, source, sent_at, error)

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
            if not ambiguous(error):
                if cancel is not None:
                    raise cancel
                raise error
            if cancelled:
                self._resolve_later(group_id, arguments, sent_at, error, on_started)
                if cancel is not None:
                    raise cancel
                await anyio.lowlevel.checkpoint_if_cancelled()
            run = await self._resolve_start(group_id, arguments, sent_at, error)
            if on_started is not None:
                on_started(run)
            return run

    def _resolve_later(
        self,
        group_id: str,
        arguments: list[dict[str, Any]],
        sent_at: datetime,
        cause: FlowservError,
        on_started: OnStarted | None,
    ) -> None:
        """Resolve an unanswered start whose caller was cancelled, in the background (asyncio).

        Elsewhere (trio) a warning says the run may exist.
        """
        if not _on_asyncio():
            logger.warning(
                "a run start in group %s got no answer and the call was cancelled "
                "before it could be resolved; the run may exist (see list_runs)",
                group_id,
            )
            return
        logger.warning(
            "a run start in group %s got no answer and the call was cancelled; looking for "
            "the run it may have made in the background", group_id,
        )

        async def resolve() -> None:
            with self._sending(start_key(group_id, arguments)):
                try:
                    run = await self._resolve_start(group_id, arguments, sent_at, cause)
                except FlowservError as exc:
                    logger.warning("the cancelled run start in group %s: %s", group_id, exc)
                    return
            logger.warning(
                "the cancelled run start in group %s made run %s; it is left running",
                group_id, run.run_id,
            )
            if on_started is not None:
                on_started(run)

        task = asyncio.get_running_loop().create_task(resolve())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

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

    async def submit_all(
        self,
        group_id: str,
        batch: Sequence[Prepared],
        *,
        limit: Limit,
        on_started: OnStarted | None = None,
        manifest: Manifest | None = None,
    ) -> list[Run | FlowservError]:
        """Submit every argument set, as many at once as ``limit`` allows; outcomes in input order.

        A submission that fails stands in the list as its error; the others go
        on. ``on_started`` is called with each run as soon as it exists. Each
        answer tells ``limit`` how the server is doing (see :mod:`._limit`).
        With a ``manifest``, the runs it already records are fetched instead of
        started again, its unfinished starts are resolved first (see
        :meth:`resume`), and every start is recorded in it. If the batch is
        cancelled, the runs already started keep running (they are named in a
        warning) and the submissions not yet sent are dropped.
        """
        results: list[Run | FlowservError | None] = [None] * len(batch)
        started: list[str] = []

        def note(run: Run) -> None:
            started.append(run.run_id)
            if on_started is not None:
                on_started(run)

        todo: Sequence[int] = range(len(batch))
        if manifest is not None:
            todo = await self.resume(group_id, manifest, results, note)

        async def submit(index: int, load: int, sent_limit: int) -> None:
            pushbacks = self._api.http.pushbacks
            began = anyio.current_time()
            sample: Sample | None = None
            before_start = manifest.intend_for(index) if manifest is not None else None
            try:
                run = await self.submit(group_id, batch[index], note, before_start)
            except FlowservError as exc:
                results[index] = exc
                if _pushed_back(exc) or self._api.http.pushbacks != pushbacks:
                    sample = Sample(load, sent_limit, anyio.current_time() - began, True)
            else:
                results[index] = run
                elapsed = anyio.current_time() - began
                sample = Sample(load, sent_limit, elapsed, self._api.http.pushbacks != pushbacks)
                if manifest is not None:
                    await manifest.started(index, run.run_id)
            finally:
                limit.release(sample)

        try:
            async with anyio.create_task_group() as tg:
                for index in todo:
                    load = await limit.acquire()
                    tg.start_soon(submit, index, load, limit.limit)
        except anyio.get_cancelled_exc_class():
            if started:
                logger.warning(
                    "a batch was cancelled after starting %d of %d runs in group %s: %s",
                    len(started), len(batch), group_id, ", ".join(started),
                )
            raise
        if limit.adaptive:
            logger.info(
                "concurrency auto settled at %d for %d submissions to group %s (at most %d "
                "in flight)", limit.settled, len(todo), group_id, limit.peak,
            )
        return [result for result in results if result is not None]


    async def resume(
        self,
        group_id: str,
        manifest: Manifest,
        results: list[Run | FlowservError | None],
        on_started: OnStarted,
    ) -> list[int]:
        """Fill ``results`` with what a manifest already records; return the indices to start.

        Runs the manifest names are fetched (one that is gone stands as its
        :class:`NotFoundError`). An intent without a run (the batch died
        between sending a start and recording its answer) is looked for among
        the group's runs, as an unanswered start is: a run created after the
        intent with exactly its arguments, not claimed by another entry,
        oldest first. Only argument sets without a run are left to start.
        """
        entries = manifest.entries
        claimed = {entry.run_id for entry in entries.values() if entry.run_id}
        pending = sorted(
            (entry for entry in entries.values() if entry.run_id is None and entry.arguments),
            key=lambda entry: entry.index,
        )
        if pending:
            for index, run in (await self._match_intents(group_id, pending, claimed)).items():
                entries[index].run_id = run.run_id
                await manifest.started(index, run.run_id)
        known = {entry.index: entry.run_id for entry in entries.values() if entry.run_id}
        fetched = await gather(
            [functools.partial(self._fetch, run_id) for run_id in known.values()], limit=8
        )
        for index, outcome in zip(known, fetched, strict=True):
            results[index] = outcome
            if isinstance(outcome, Run):
                self._runs.add(outcome.run_id)
                on_started(outcome)
        if known:
            logger.info(
                "manifest %s: %d of %d runs of group %s were started before; starting the rest",
                manifest.path, len(known), len(results), group_id,
            )
        return [index for index, result in enumerate(results) if result is None]

    async def _fetch(self, run_id: str) -> Run | FlowservError:
        try:
            return await self._api.get_run(run_id)
        except NotFoundError as exc:
            return exc

    async def _match_intents(
        self, group_id: str, pending: Sequence[ManifestEntry], claimed: set[str]
    ) -> dict[int, Run]:
        """The runs that recorded intents made, matched by arguments (one listing)."""
        moments = [entry.sent_at for entry in pending if entry.sent_at is not None]
        earliest = min(moments) - RESOLVE_SKEW if len(moments) == len(pending) else None
        infos = [
            info for info in (await self._api.list_runs(group_id)).infos()
            if info.run_id not in claimed and info.run_id not in self._runs and (
                earliest is None or info.created_at is None
                or _aware(info.created_at) >= earliest
            )
        ]
        candidates = await gather(
            [functools.partial(self._fetch, info.run_id) for info in infos], limit=8
        )
        free = [run for run in candidates if isinstance(run, Run)]
        found: dict[int, Run] = {}
        for entry in pending:
            after = entry.sent_at - RESOLVE_SKEW if entry.sent_at is not None else None
            for run in free:
                created = run.created_at
                if after is not None and created is not None and _aware(created) < after:
                    continue
                if same_arguments(run.doc.get("arguments"), entry.arguments):
                    found[entry.index] = run
                    free.remove(run)
                    logger.info(
                        "manifest: argument set #%d made run %s before the batch stopped",
                        entry.index, run.run_id,
                    )
                    break
        return found


def _pushed_back(error: FlowservError) -> bool:
    """Whether a failed submission says the server is overloaded (or did not answer)."""
    if isinstance(error, SubmissionUncertainError):
        return True
    if isinstance(error, APIStatusError):
        return error.status_code in (429, 502, 503, 504)
    return isinstance(error, APIConnectionError)


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


def _aware(moment: datetime) -> datetime:
    """Treat a timestamp without offset as UTC (flowServ writes UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _on_asyncio() -> bool:
    """True when the running event loop is asyncio's (whose own cancellation needs care)."""
    try:
        asyncio.current_task()
    except RuntimeError:  # no asyncio loop runs here: trio
        return False
    return True
