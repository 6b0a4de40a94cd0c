"""Bulk downloads: the results of many runs of a group into one directory tree.

Each run gets a folder named by its id, holding its result files (the run's
archive, unpacked safely by :meth:`FileHandle.extract`, each file at the path
the server names it by: ``RUN_ID/results/greetings.txt``) and
:data:`METADATA`, the run's JSON form (:meth:`Run.to_dict`: state, times,
arguments, messages, result files) plus ``local_files``, the files unpacked
in the folder with their sizes. The JSON is written last, atomically: a
folder that has it, with every file it lists at its size, is complete, and
since the results of a finished run never change, a later download skips it
without asking the server anything. An interrupted download therefore
continues where it stopped. Runs are downloaded a few at a time; one that
fails does not stop the others. A failure of the ``on_download`` callback (the
caller's code: a closed output pipe, say) stops the download (no new run is
begun, and the callback is not called again) and is raised, as a failure of
``on_change`` ends a wait.
"""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import attrs

from ._callback import Callback, check, failure
from ._config import DOWNLOAD_CONCURRENCY, check_count
from ._display import register
from ._errors import InvalidArgumentError, UnsafePathError, add_note
from ._gather import gather_outcomes
from ._lifecycle import RunStates, check_states
from ._models import Run, RunState
from ._presenter import Drawn
from ._views import download_table, download_text

if TYPE_CHECKING:
    from ._api import FlowservAPI

__all__ = ["METADATA", "RunDownload", "download_results"]

METADATA = "flowserv-run.json"
"""The file beside a run's results that describes the run (and marks the folder complete)."""


FINAL_STATES = frozenset({RunState.SUCCESS, RunState.ERROR, RunState.CANCELED})

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

OnDownload = Callable[["RunDownload"], Any]
"""Called with each run once its folder is complete (downloaded now or found on disk)."""


@attrs.frozen(repr=False)
class RunDownload(Drawn):
    """The results of one run on disk.

    ``directory`` is the run's folder, ``files`` the result files in it (the
    metadata file :data:`METADATA` not included), and ``skipped`` True when
    the folder was already complete, so nothing was fetched.
    """

    run_id: str
    state: RunState
    directory: Path
    files: tuple[Path, ...] = ()
    skipped: bool = False

    @property
    def metadata(self) -> Path:
        """The run's JSON description: :meth:`Run.to_dict` plus ``local_files`` (path, size)."""
        return self.directory / METADATA


register(RunDownload, text=download_text, table=download_table)


def _folder(root: Path, run_id: str) -> Path:
    if not _RUN_ID.match(run_id):
        raise UnsafePathError(f"run id {run_id!r} from the server is not a safe folder name")
    return root / run_id


def _complete(folder: Path) -> RunDownload | None:
    """The folder's download when it is complete, else None."""
    try:
        doc = json.loads((folder / METADATA).read_text(encoding="utf-8"))
        state = RunState(doc["state"])
        files = []
        for entry in doc["local_files"]:
            path = folder / entry["path"]
            if folder.resolve() not in path.resolve().parents or path.stat().st_size != entry[
                "size"
            ]:
                return None
            files.append(path)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if state.is_active:
        return None
    return RunDownload(doc["run_id"], state, folder, tuple(files), skipped=True)


def _look(root: Path, run_ids: Sequence[str]) -> dict[str, RunDownload | Exception | None]:
    """For each run: its complete folder, None (to fetch), or why it has no safe folder."""
    found: dict[str, RunDownload | Exception | None] = {}
    for run_id in run_ids:
        try:
            found[run_id] = _complete(_folder(root, run_id))
        except UnsafePathError as exc:
            found[run_id] = exc
    return found


def _describe(run: Run, folder: Path, files: Sequence[Path]) -> dict[str, Any]:
    """:data:`METADATA`: the run's JSON form, and the files unpacked in ``folder``."""
    return {
        **run.to_dict(),
        "local_files": [
            {"path": path.relative_to(folder).as_posix(), "size": path.stat().st_size}
            for path in files
        ],
    }


def _write_metadata(folder: Path, doc: dict[str, Any]) -> None:
    """Write :data:`METADATA` through a temporary file: it is there whole or not at all."""
    fd, tmp = tempfile.mkstemp(prefix=f".{METADATA}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(doc, out, indent=2)
            out.write("\n")
        os.replace(tmp, folder / METADATA)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


async def _download_one(api: FlowservAPI, run_id: str, folder: Path) -> RunDownload:
    run = await api.get_run(run_id)
    folder.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    if run.is_success():
        archive = await api.download_run_archive(run_id)
        root = folder.resolve()
        files = sorted((await archive.extract(folder)), key=lambda path: str(path))
        files = [folder / path.relative_to(root) for path in files]
    doc = await anyio.to_thread.run_sync(_describe, run, folder, files)
    await anyio.to_thread.run_sync(_write_metadata, folder, doc)
    return RunDownload(run.run_id, run.state, folder, tuple(files))


async def download_results(
    api: FlowservAPI,
    group_id: str,
    directory: str | os.PathLike[str],
    *,
    states: RunStates = None,
    concurrency: int = DOWNLOAD_CONCURRENCY,
    on_download: OnDownload | None = None,
    return_exceptions: bool = False,
) -> list[Any]:
    """Download the results of a group's finished runs (see ``AsyncWorkflow.download_results``)."""
    wanted = check_states(states) or FINAL_STATES
    active = sorted(state.value for state in wanted if state.is_active)
    if active:
        raise InvalidArgumentError(
            "states", f"runs that are still {', '.join(active)} have no results yet"
        )
    check_count(concurrency, "concurrency")
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    listing = await api.list_runs(group_id)
    chosen = [run_id for run_id, state in listing.states.items() if state in wanted]
    # One look at the disk for every run: those complete there are not fetched again.
    on_disk = await anyio.to_thread.run_sync(_look, root, chosen)

    callback = None if on_download is None else Callback(
        on_download, "on_download", "the runs not downloaded yet are fetched by a new download"
    )

    def report(run_id: str, result: RunDownload) -> RunDownload:
        if callback is not None:
            callback(result)
        return result

    async def fetch(run_id: str) -> RunDownload | None:
        if failure(callback) is not None:
            return None  # the callback failed: no new run is begun (raised below)
        found = on_disk[run_id]
        if isinstance(found, RunDownload):
            return report(run_id, found)
        try:
            if isinstance(found, Exception):
                raise found
            result = await _download_one(api, run_id, _folder(root, run_id))
        except Exception as exc:
            add_note(exc, f"while downloading run {run_id}")
            raise
        return report(run_id, result)  # still within the bound: a cancel here stops the rest

    calls = [functools.partial(fetch, run_id) for run_id in chosen]
    results: list[Any] = await gather_outcomes(calls, limit=concurrency)
    check(callback)
    failures = [item for item in results if isinstance(item, BaseException)]
    if failures and not return_exceptions:
        add_note(
            failures[0], f"{len(failures)} of {len(results)} runs could not be downloaded; the "
            f"others are in {str(root)!r} (a new download fetches only what is missing)",
        )
        raise failures[0]
    return results
