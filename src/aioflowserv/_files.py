"""Downloads: the FileHandle, safe saving and safe archive extraction.

Names in server answers are untrusted. Saving never writes outside the
directory the caller chose, and never leaves a partial file behind: content
goes to a temporary file next to the target, which is renamed into place
only when complete.

One layout rule for every archive: a file lands at the path the server names
it by, under the directory chosen. A run's ``results/greetings.txt`` (the
path its workflow writes it to, and its :attr:`FileHandle.name`) is unpacked
to ``DIR/results/greetings.txt`` by
``get_file(run_id).extract(DIR)`` and by ``aioflowserv download RUN -o DIR``;
post-processing outputs likewise (``extract`` of ``get_postproc_file()``,
``download --postproc``); a group's bulk download puts each run's files in a
folder of its own (``DIR/RUN_ID/results/greetings.txt``). A single file
saved with :meth:`FileHandle.save` into a directory takes its base name.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tarfile
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath
from typing import IO

import anyio
import attrs

from ._config import CHUNK_SIZE, PREFETCH_LIMIT
from ._errors import UnsafePathError
from ._transport import HTTPClient, StreamedBody

__all__ = ["FileHandle", "open_download", "safe_name"]



_DISPOSITION_NAME = re.compile(r"""filename\*?=(?:UTF-8'')?("?)([^";]*)\1""", re.IGNORECASE)


def safe_name(name: str, fallback: str = "download") -> str:
    """Reduce a server-given file name to a plain base name that is safe to create."""
    base = re.split(r"[/\\]", name or "")[-1].strip().replace("\x00", "")
    if base in ("", ".", ".."):
        return fallback
    return base


def _content_name(body: StreamedBody, fallback: str) -> str:
    match = _DISPOSITION_NAME.search(body.headers.get("content-disposition", ""))
    return match.group(2) if match and match.group(2) else fallback


@attrs.define(eq=False, repr=False)
class FileHandle:
    """A downloadable file: a run result, a run archive or an uploaded file.

    ``name`` is the name the server gives (for run files, the relative path,
    such as ``results/greetings.txt``), ``mime_type`` its content type and
    ``size`` its length when the server says. The content is read with
    :meth:`read`, streamed with :meth:`stream`, written to disk with
    :meth:`save`, or, for archives, unpacked with :meth:`extract`.
    Small files arrive with the first request; larger ones are fetched again,
    streamed, when read.
    """

    name: str
    mime_type: str
    size: int | None
    _http: HTTPClient
    _path: str
    _content: bytes | None = None

    def __repr__(self) -> str:
        return f"FileHandle(name={self.name!r}, mime_type={self.mime_type!r}, size={self.size!r})"

    async def read(self) -> bytes:
        """Return the whole content."""
        if self._content is not None:
            return self._content
        return b"".join([chunk async for chunk in self.stream()])

    async def stream(self, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        """Yield the content in chunks, without holding it all in memory."""
        if self._content is not None:
            for start in range(0, len(self._content), chunk_size):
                yield self._content[start : start + chunk_size]
            return
        async with self._http.stream(self._path) as body:
            async for chunk in body.chunks(chunk_size):
                yield chunk

    async def save(self, path: str | os.PathLike[str] = ".") -> Path:
        """Write the content to ``path`` and return the file's path.

        If ``path`` is an existing directory the file is created in it under
        the base name of :attr:`name` (a name from the server never leads
        outside it). The content is streamed to a temporary file that is
        renamed into place when complete; on any failure nothing is left.
        """
        target = Path(path)
        if target.is_dir():
            target = target / safe_name(self.name)
        parent = target.parent
        if not parent.is_dir():
            raise FileNotFoundError(f"no such directory: {str(parent)!r}")
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in self.stream():
                    await anyio.to_thread.run_sync(out.write, chunk)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        return target

    async def extract(
        self, directory: str | os.PathLike[str], *, strip_common_dir: bool = False
    ) -> list[Path]:
        """Unpack a ``.tar.gz`` archive (a run's results) into ``directory``.

        Each file keeps the path the server names it by: a run's
        ``results/greetings.txt`` lands at ``directory/results/greetings.txt``
        (the rule of every download, see the module docstring). Every member
        is checked before anything is written: only regular files and
        directories, no absolute paths, no ``..``, nothing that would land
        outside ``directory``. The files are unpacked into a staging
        directory and moved into place once all are on disk, so a failure
        half-way leaves ``directory`` as it was. Returns the files written.

        With ``strip_common_dir``, the one top directory that holds every
        member (a run's ``results/``) is left out: ``results/greetings.txt``
        lands in ``directory/greetings.txt``. Members in several top
        directories keep their paths.
        """
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile() as spool:
            async for chunk in self.stream():
                await anyio.to_thread.run_sync(spool.write, chunk)
            spool.seek(0)
            return await anyio.to_thread.run_sync(_extract_tar, spool, root, strip_common_dir)


def _common_dir(members: list[tarfile.TarInfo]) -> bool:
    """True if every member lies inside one top directory (files one level down at least)."""
    paths = [PurePosixPath(member.name).parts for member in members]
    tops = {parts[0] for parts in paths if parts}
    return len(tops) == 1 and all(
        len(parts) >= 2 for member, parts in zip(members, paths, strict=True) if member.isfile()
    )


def _extract_tar(spool: IO[bytes], root: Path, strip_common_dir: bool = False) -> list[Path]:
    base = root.resolve()
    try:
        archive = tarfile.open(fileobj=spool, mode="r:*")  # noqa: SIM115 - closed below
    except tarfile.TarError as exc:
        raise UnsafePathError(f"not a tar archive: {exc}") from None
    with archive:
        plan: list[tuple[tarfile.TarInfo, Path]] = []
        members = archive.getmembers()
        strip = 1 if strip_common_dir and _common_dir(members) else 0
        for member in members:
            name = member.name
            parts = PurePosixPath(name).parts
            if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
                raise UnsafePathError(f"archive member {name!r} points outside the directory")
            if not (member.isfile() or member.isdir()):
                raise UnsafePathError(
                    f"archive member {name!r} is a link or a special file; refusing to extract"
                )
            parts = parts[strip:]
            target = (base / Path(*parts)).resolve() if parts else base
            if target != base and base not in target.parents:
                raise UnsafePathError(f"archive member {name!r} points outside the directory")
            plan.append((member, target))
        _check_layout(plan, base)
        # Everything is written into a staging directory first and moved into
        # place only once the whole archive is on disk: a failure half-way
        # (a full disk, a corrupt member) leaves nothing behind.
        staging = Path(tempfile.mkdtemp(prefix=".extract-", suffix=".part", dir=base))
        try:
            staged: list[tuple[Path, Path]] = []
            for index, (member, target) in enumerate(plan):
                if member.isfile():
                    staged.append((_stage(archive, member, staging / str(index)), target))
            for member, target in plan:
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
            for tmp, target in staged:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return [target for _, target in staged]


def _stage(archive: tarfile.TarFile, member: tarfile.TarInfo, tmp: Path) -> Path:
    """Write one member's content to ``tmp``, with safe permissions."""
    source = archive.extractfile(member)
    assert source is not None
    with open(tmp, "xb") as out, source:
        while chunk := source.read(CHUNK_SIZE):
            out.write(chunk)
    os.chmod(tmp, stat.S_IMODE(member.mode) & 0o644 | 0o600)
    return tmp


def _check_layout(plan: list[tuple[tarfile.TarInfo, Path]], base: Path) -> None:
    """Refuse an archive whose members cannot all be written as planned.

    A file that another member needs as a directory, or a member that would
    replace an existing directory (or need an existing file as a directory),
    would fail half-way and leave a partial extraction behind.
    """
    needed_dirs: dict[Path, str] = {}
    for member, target in plan:
        for directory in [target] if member.isdir() else list(target.parents):
            needed_dirs.setdefault(directory, member.name)
    for member, target in plan:
        if member.isfile() and target in needed_dirs:
            raise UnsafePathError(
                f"archive member {member.name!r} is a file, but member "
                f"{needed_dirs[target]!r} needs it as a directory"
            )
        if member.isfile() and target.is_dir():
            raise UnsafePathError(
                f"archive member {member.name!r} would replace an existing directory"
            )
    for directory in needed_dirs:
        if (directory == base or base in directory.parents) and (
            directory.exists() and not directory.is_dir()
        ):
            raise UnsafePathError(
                f"archive needs {str(directory.relative_to(base))!r} as a directory, "
                "but a file of that name exists"
            )


async def open_download(http: HTTPClient, path: str, fallback_name: str) -> FileHandle:
    """Start a download: read the headers, and the body too when it is small."""
    async with http.stream(path) as body:
        length = body.headers.get("content-length")
        size = int(length) if length and length.isdigit() else None
        content = None
        if size is not None and size <= PREFETCH_LIMIT:
            content = await body.read()
        mime_type = body.headers.get("content-type", "application/octet-stream")
        return FileHandle(
            name=_content_name(body, fallback_name),
            mime_type=mime_type.split(";")[0].strip(),
            size=size,
            http=http,
            path=path,
            content=content,
        )
