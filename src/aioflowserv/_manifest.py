"""Manifests: a JSON Lines record of a batch's starts, from which a killed batch continues.

``start_runs(arguments, manifest=path)`` writes, flushed and fsynced:

- a header, once: ``{"manifest": "aioflowserv", "version": 1, "group_id": ...,
  "count": ..., "batch": ...}`` (``batch`` is a digest of every argument set,
  defaults filled in, so that a manifest is never applied to other arguments);
- before each start, its intent: ``{"index": i, "arguments": [...], "sent_at": ...}``
  (the arguments as sent, file arguments by their upload's id);
- after it, the run: ``{"index": i, "run_id": ...}``.

A sweep's manifest (``sweep(arguments, manifest=path)``) cannot hold a digest of
its input (which may be endless): its header says ``"sweep": true`` and no
count; each intent also holds its attempt (0 first, then one more per retry)
and a digest of its argument set (``"set"``), which the sweep checks against
each set as it reads it, and each run record its attempt. Its entries keep the
latest attempt of each argument set.

A rerun with the same manifest and arguments reads it back: the runs it names
are fetched, an intent without a run is looked for on the server (see
``Submitter.resume``), and only what has no run yet is started. A last line cut
short (the process died while writing it) is dropped; anything else that does
not fit raises :class:`InvalidArgumentError` naming ``manifest``, before any
request.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import attrs

from ._arguments import FileSource, Prepared
from ._errors import InvalidArgumentError

if TYPE_CHECKING:
    from ._models import Run

__all__ = ["MANIFEST_VERSION", "Manifest", "ManifestEntry", "batch_digest", "set_digest"]

MANIFEST_VERSION = 1
"""The version written in a manifest's header."""


@attrs.define
class ManifestEntry:
    """What a manifest says about one argument set: its intent, and the run (once known)."""

    index: int
    arguments: list[dict[str, Any]] | None = None
    sent_at: datetime | None = None
    run_id: str | None = None
    attempt: int = 0
    digest: str | None = None


def _describe(value: Any) -> Any:
    """A JSON form of a prepared argument value; a file argument by where it comes from."""
    if not isinstance(value, FileSource):
        return value
    described: dict[str, Any] = {"file": value.filename, "target": value.target}
    if value.upload_id is not None:
        described["upload_id"] = value.upload_id
    elif value.path is not None:
        described["path"] = str(value.path.resolve())
    elif value.data is not None:
        described["sha256"] = hashlib.sha256(value.data).hexdigest()
    return described


def set_digest(prepared: Prepared) -> str:
    """A digest of one argument set (defaults filled in), as a sweep's manifest records it."""
    return batch_digest([prepared])


def batch_digest(batch: Sequence[Prepared]) -> str:
    """A digest of every argument set of a batch, in order (defaults filled in)."""
    doc = [[[name, _describe(value)] for name, value in prepared] for prepared in batch]
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Manifest:
    """An open manifest file: what it recorded before, and the records of this batch."""

    def __init__(
        self, path: Path, entries: dict[int, ManifestEntry], file: IO[str], sweep: bool = False
    ) -> None:
        self.path = path
        self.entries = entries
        self.sweep = sweep
        """A sweep's manifest: attempts and set digests in its records, no count."""
        self._file = file
        self._lock = threading.Lock()

    @classmethod
    async def open(
        cls, path: str | os.PathLike[str], group_id: str, batch: Sequence[Prepared]
    ) -> Manifest:
        """Read (or create) the manifest of a batch; raises if it was made for another one."""
        header = {
            "manifest": "aioflowserv", "version": MANIFEST_VERSION, "group_id": group_id,
            "count": len(batch), "batch": batch_digest(batch),
        }
        return await anyio.to_thread.run_sync(cls._open, Path(path), header)

    @classmethod
    async def open_sweep(cls, path: str | os.PathLike[str], group_id: str) -> Manifest:
        """Read (or create) the manifest of a sweep; raises if it was made for something else."""
        header = {
            "manifest": "aioflowserv", "version": MANIFEST_VERSION, "group_id": group_id,
            "sweep": True,
        }
        return await anyio.to_thread.run_sync(cls._open, Path(path), header)

    @classmethod
    def _open(cls, path: Path, header: dict[str, Any]) -> Manifest:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raw = b""
        except OSError as exc:
            raise InvalidArgumentError("manifest", f"cannot read {str(path)!r}: {exc}") from None
        lines = raw.split(b"\n")
        complete = raw[: len(raw) - len(lines[-1])]  # a last line without newline was cut short
        entries = _read(path, complete, header) if complete else {}
        try:
            file = path.open("r+" if raw else "w", encoding="utf-8")
        except OSError as exc:
            raise InvalidArgumentError("manifest", f"cannot write {str(path)!r}: {exc}") from None
        if raw:
            file.truncate(len(complete))
            file.seek(len(complete))
        manifest = cls(path, entries, file, sweep=bool(header.get("sweep")))
        if not complete:
            manifest._write(header)
        return manifest

    def intend_for(
        self, index: int, attempt: int = 0, digest: str | None = None
    ) -> Callable[[list[dict[str, Any]]], Awaitable[None]]:
        """A ``before_start`` hook recording the intent of argument set ``index``.

        A sweep's manifest also records the ``attempt`` and the set's ``digest``.
        """

        async def intend(arguments: list[dict[str, Any]]) -> None:
            sent_at = datetime.now(timezone.utc).isoformat()
            record: dict[str, Any] = {"index": index}
            if self.sweep:
                record.update(attempt=attempt, set=digest)
            record.update(arguments=arguments, sent_at=sent_at)
            await anyio.to_thread.run_sync(self._write, record)

        return intend

    async def started(self, index: int, run_id: str, attempt: int = 0) -> None:
        """Record the run that argument set ``index`` made (at ``attempt``, in a sweep's)."""
        record: dict[str, Any] = {"index": index, "run_id": run_id}
        if self.sweep:
            record["attempt"] = attempt
        await anyio.to_thread.run_sync(self._write, record)

    async def record(self, index: int, run: Run, attempt: int = 0) -> None:
        """:meth:`started`, given the run (an ``after_start`` hook of a submission)."""
        await self.started(index, run.run_id, attempt)

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def _write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), default=str) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())


def _read(path: Path, content: bytes, header: dict[str, Any]) -> dict[int, ManifestEntry]:
    """The entries of a manifest's complete lines, checked against this batch's header."""

    def bad(line: int, reason: str) -> InvalidArgumentError:
        return InvalidArgumentError("manifest", f"{str(path)!r}, line {line}: {reason}")

    records: list[Any] = []
    for number, text in enumerate(content.decode("utf-8", errors="replace").splitlines(), 1):
        if not text.strip():
            continue
        try:
            records.append((number, json.loads(text)))
        except ValueError:
            raise bad(number, "not JSON (is this an aioflowserv manifest?)") from None
    if not records or not isinstance(records[0][1], dict) or (
        records[0][1].get("manifest") != "aioflowserv"
    ):
        raise InvalidArgumentError(
            "manifest", f"{str(path)!r} is not an aioflowserv manifest (no header line)"
        )
    recorded = records[0][1]
    if bool(recorded.get("sweep")) != bool(header.get("sweep")):
        made, used = ("a sweep", "a batch") if recorded.get("sweep") else ("a batch", "a sweep")
        raise InvalidArgumentError(
            "manifest", f"{str(path)!r} was recorded for {made}, not {used}; use a new manifest"
        )
    if recorded.get("group_id") != header["group_id"]:
        raise InvalidArgumentError(
            "manifest",
            f"{str(path)!r} was recorded for group {recorded.get('group_id')!r}, "
            f"not {header['group_id']!r}",
        )
    if recorded.get("count") != header.get("count") or recorded.get("batch") != header.get(
        "batch"
    ):
        raise InvalidArgumentError(
            "manifest",
            f"{str(path)!r} was recorded for other arguments ({recorded.get('count')} argument "
            f"sets, not these {header['count']}); use a new manifest for a new batch",
        )
    entries: dict[int, ManifestEntry] = {}
    for number, record in records[1:]:
        index = record.get("index") if isinstance(record, dict) else None
        count = header.get("count")
        if isinstance(index, bool) or not isinstance(index, int) or index < 0 or (
            count is not None and index >= count
        ):
            raise bad(number, f"no argument set #{index!r} in this batch")
        entry = entries.setdefault(index, ManifestEntry(index))
        attempt = record.get("attempt", 0)
        if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 0:
            raise bad(number, f"attempt {attempt!r} is not a count")
        if attempt < entry.attempt:
            continue  # an earlier attempt's record: the latest one counts
        if attempt > entry.attempt:
            entries[index] = entry = ManifestEntry(index, attempt=attempt)
        if isinstance(record.get("set"), str):
            entry.digest = record["set"]
        if "run_id" in record:
            entry.run_id = str(record["run_id"])
        elif isinstance(record.get("arguments"), list):
            entry.arguments = record["arguments"]
            entry.sent_at = _timestamp(record.get("sent_at"))
        else:
            raise bad(number, "neither an intent nor a run")
    return entries


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
