"""Saving and extracting downloads: never outside the chosen directory, never half a file."""

from __future__ import annotations

import errno
import io
import os
import tarfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

import aioflowserv as afs
from aioflowserv import _files
from tests.support.canned import Answer, CannedServer

CONTENT = b"Hello Ada!\nHello Grace!\n"
BIG = 3 * (1 << 20)
"""Larger than what is read with the first request: saving streams it again."""


def tree(root: Path) -> list[str]:
    """Every path below ``root`` (files, directories, links), relative, sorted."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def download(name: str, body: bytes = CONTENT, cut_at: int | None = None) -> Answer:
    disposition = f'attachment; filename="{name}"'
    headers = {"Content-Type": "text/plain", "Content-Disposition": disposition}
    return Answer(200, body, headers, cut_at)


# -- FileHandle.save ------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("server_name", "saved_as"),
    [
        ("../../evil.txt", "evil.txt"),
        ("/etc/evil.txt", "evil.txt"),
        ("..\\\\..\\\\evil.txt", "evil.txt"),
        ("results/../..", "download"),
        ("..", "download"),
        ("results/greetings.txt", "greetings.txt"),
        ("%2e%2e%2fevil.txt", "%2e%2e%2fevil.txt"),
    ],
)
async def test_save_keeps_a_hostile_server_name_inside_the_directory(
    tmp_path: Path, server_name: str, saved_as: str
) -> None:
    dest = tmp_path / "a" / "b" / "dest"
    dest.mkdir(parents=True)
    async with (
        CannedServer({"/runs/r1/downloads/files/f1": download(server_name)}) as fake,
        afs.AsyncFlowserv(fake.url) as fs,
    ):
        handle = await fs.download_run_file("r1", "f1")
        saved = await handle.save(dest)
    assert saved == dest / saved_as
    assert saved.read_bytes() == CONTENT
    assert tree(tmp_path) == ["a", "a/b", "a/b/dest", f"a/b/dest/{saved_as}"]


@pytest.mark.asyncio
async def test_save_replaces_a_symlink_in_the_way_instead_of_writing_through_it(
    tmp_path: Path,
) -> None:
    dest, outside = tmp_path / "dest", tmp_path / "outside.txt"
    dest.mkdir()
    outside.write_bytes(b"keep me")
    (dest / "evil.txt").symlink_to(outside)
    async with (
        CannedServer({"/runs/r1/downloads/files/f1": download("evil.txt")}) as fake,
        afs.AsyncFlowserv(fake.url) as fs,
    ):
        saved = await (await fs.download_run_file("r1", "f1")).save(dest)
    assert not saved.is_symlink()
    assert saved.read_bytes() == CONTENT
    assert outside.read_bytes() == b"keep me"


@pytest.mark.asyncio
async def test_a_download_broken_mid_stream_leaves_no_file_behind(tmp_path: Path) -> None:
    body = os.urandom(BIG)
    answer = download("big.bin", body, cut_at=BIG // 2)
    async with (
        CannedServer({"/runs/r1/downloads/files/f1": answer}) as fake,
        afs.AsyncFlowserv(fake.url, retries=0) as fs,
    ):
        handle = await fs.download_run_file("r1", "f1")
        with pytest.raises(afs.APIConnectionError):
            await handle.save(tmp_path)
    assert len(fake.requests) == 2  # the headers first, then the streamed body
    assert tree(tmp_path) == []


@pytest.mark.asyncio
async def test_a_small_download_broken_on_arrival_writes_nothing(tmp_path: Path) -> None:
    answer = download("small.txt", CONTENT, cut_at=5)
    async with (
        CannedServer({"/runs/r1/downloads/files/f1": answer}) as fake,
        afs.AsyncFlowserv(fake.url, retries=0) as fs,
    ):
        with pytest.raises(afs.APIConnectionError):
            await (await fs.download_run_file("r1", "f1")).save(tmp_path)
    assert tree(tmp_path) == []


class Stalling(httpx.AsyncByteStream):
    """A body that sends one chunk and then nothing, for ever."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"x" * 65536
        await anyio.sleep_forever()


@pytest.mark.asyncio
async def test_a_save_cancelled_mid_stream_leaves_no_file_behind(tmp_path: Path) -> None:
    def stalling(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Length": str(BIG), "Content-Disposition": 'filename="big.bin"'}
        return httpx.Response(200, headers=headers, stream=Stalling())

    transport = httpx.MockTransport(stalling)
    async with afs.AsyncFlowserv("http://flowserv.test/api", transport=transport) as fs:
        handle = await fs.download_run_file("r1", "f1")
        with anyio.move_on_after(0.5) as scope:
            await handle.save(tmp_path)
    assert scope.cancelled_caught
    assert tree(tmp_path) == []


# -- FileHandle.extract ----------------------------------------------------------------------


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"x", link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


def archive(*members: tuple) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


GOOD = member("results/ok.txt", data=b"fine")
HOSTILE = {
    "parent": member("../evil.txt"),
    "parent-nested": member("results/../../evil.txt"),
    "absolute": member("/tmp/aioflowserv-evil.txt"),
    "windows-drive": member("C:/evil.txt"),
    "symlink-out": member("results/link", tarfile.SYMTYPE, link="/etc/passwd"),
    "symlink-in": member("results/link", tarfile.SYMTYPE, link="ok.txt"),
    "hardlink": member("results/hard", tarfile.LNKTYPE, link="/etc/passwd"),
    "char-device": member("dev/null", tarfile.CHRTYPE),
    "block-device": member("dev/sda", tarfile.BLKTYPE),
    "fifo": member("results/pipe", tarfile.FIFOTYPE),
    "file-needed-as-directory": member("results/ok.txt/inner.txt"),
}


@pytest.fixture
def places(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(the chosen directory, a sibling directory that must stay untouched)."""
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    outside.mkdir()
    yield dest, outside
    assert not Path("/tmp/aioflowserv-evil.txt").exists()


async def extract(body: bytes, dest: Path, cut_at: int | None = None) -> list[Path]:
    answer = Answer(200, body, {"Content-Type": "application/gzip"}, cut_at)
    async with (
        CannedServer({"/runs/r1/downloads/archive": answer}) as fake,
        afs.AsyncFlowserv(fake.url, retries=0) as fs,
    ):
        return await (await fs.download_run_archive("r1")).extract(dest)


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", list(HOSTILE))
async def test_extract_refuses_a_hostile_member_and_writes_nothing(
    places: tuple[Path, Path], kind: str
) -> None:
    dest, outside = places
    with pytest.raises(afs.UnsafePathError) as caught:
        await extract(archive(GOOD, HOSTILE[kind]), dest)
    assert repr(HOSTILE[kind][0].name) in str(caught.value)
    assert tree(dest) == []
    assert tree(outside) == []


@pytest.mark.asyncio
async def test_extract_does_not_follow_a_symlink_already_in_the_directory(
    places: tuple[Path, Path],
) -> None:
    dest, outside = places
    dest.mkdir()
    (dest / "results").symlink_to(outside, target_is_directory=True)
    with pytest.raises(afs.UnsafePathError):
        await extract(archive(GOOD), dest)
    assert tree(outside) == []


@pytest.mark.asyncio
async def test_extract_refuses_what_is_not_an_archive(places: tuple[Path, Path]) -> None:
    dest, _ = places
    with pytest.raises(afs.UnsafePathError) as caught:
        await extract(b"<html>not an archive</html>", dest)
    assert "not a tar archive" in str(caught.value)
    assert tree(dest) == []


@pytest.mark.asyncio
async def test_an_archive_broken_mid_download_extracts_nothing(places: tuple[Path, Path]) -> None:
    dest, _ = places
    body = archive(GOOD, member("results/big.bin", data=os.urandom(BIG)))
    with pytest.raises(afs.APIConnectionError):
        await extract(body, dest, cut_at=len(body) // 2)
    assert tree(dest) == []


@pytest.mark.asyncio
async def test_a_disk_error_half_way_through_extraction_leaves_the_directory_as_it_was(
    places: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    dest, _ = places
    dest.mkdir()
    (dest / "results").mkdir()
    (dest / "results" / "greetings.txt").write_bytes(b"old")
    real_stage = _files._stage
    calls = []

    def stage_then_fill_the_disk(*args: Any) -> Path:
        calls.append(args)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_stage(*args)

    monkeypatch.setattr(_files, "_stage", stage_then_fill_the_disk)
    body = archive(
        member("results/greetings.txt", data=CONTENT),
        member("results/deeper/result.json", data=b"{}"),
        member("results/third.txt", data=b"3"),
    )
    with pytest.raises(OSError, match="No space left"):
        await extract(body, dest)
    assert len(calls) == 2
    assert tree(dest) == ["results", "results/greetings.txt"]
    assert (dest / "results" / "greetings.txt").read_bytes() == b"old"


@pytest.mark.asyncio
async def test_extract_writes_an_honest_archive_inside_the_directory(
    places: tuple[Path, Path],
) -> None:
    dest, outside = places
    body = archive(
        member("results", tarfile.DIRTYPE),
        member("results/greetings.txt", data=CONTENT),
        member("results/deeper/result.json", data=b"{}"),
    )
    written = await extract(body, dest)
    assert sorted(written) == [dest / "results/deeper/result.json", dest / "results/greetings.txt"]
    assert (dest / "results/greetings.txt").read_bytes() == CONTENT
    assert tree(outside) == []
