"""FileHandle against the real server: read, save (streamed to disk), stream."""

from __future__ import annotations

from pathlib import Path

import pytest

import aioflowserv as afs
from aioflowserv import _files
from tests.support.realserver import DEADLINE, POLL, QUICK

BIG_NAMES = 70_000
"""Enough names that the greetings file is larger than the prefetch limit (streamed)."""


async def greetings_handle(
    workflow: afs.AsyncWorkflow, arguments: dict[str, object] | None = None
) -> afs.FileHandle:
    """Run the sleeper to the end and open its greetings file."""
    arguments = {"sleep": QUICK, **(arguments or {})}
    run = await workflow.start_run(arguments, poll_interval=POLL, timeout=DEADLINE)
    assert run.is_success(), run.messages()
    greetings = run.get_file("greetings")
    assert greetings is not None
    return await workflow.get_file(run.run_id, greetings.id)


@pytest.fixture
def big_names() -> bytes:
    """A names file whose greetings file is over 1 MiB."""
    return "".join(f"person{i:06d}\n" for i in range(BIG_NAMES)).encode()


def big_greetings() -> bytes:
    return "".join(f"Hello person{i:06d}!\n" for i in range(BIG_NAMES)).encode()


@pytest.mark.asyncio
async def test_read_returns_the_whole_content(workflow: afs.AsyncWorkflow) -> None:
    handle = await greetings_handle(workflow)
    assert handle.name == "results/greetings.txt"
    assert handle.mime_type == "text/plain"
    assert handle.size == len(b"Hello Alice!\nHello Bob!\n")
    assert await handle.read() == b"Hello Alice!\nHello Bob!\n"
    assert await handle.read() == b"Hello Alice!\nHello Bob!\n"  # readable again


@pytest.mark.asyncio
async def test_save_to_a_file_path_writes_the_content(
    workflow: afs.AsyncWorkflow, tmp_path: Path
) -> None:
    handle = await greetings_handle(workflow)
    target = tmp_path / "hello.txt"
    assert await handle.save(target) == target
    assert target.read_bytes() == b"Hello Alice!\nHello Bob!\n"
    assert [p.name for p in tmp_path.iterdir()] == ["hello.txt"]  # no temporary file left


@pytest.mark.asyncio
async def test_save_into_a_directory_uses_the_base_name(
    workflow: afs.AsyncWorkflow, tmp_path: Path
) -> None:
    handle = await greetings_handle(workflow)
    saved = await handle.save(tmp_path)
    assert saved == tmp_path / "greetings.txt"  # not results/greetings.txt
    assert saved.read_bytes() == b"Hello Alice!\nHello Bob!\n"


@pytest.mark.asyncio
async def test_save_into_a_missing_directory_raises(
    workflow: afs.AsyncWorkflow, tmp_path: Path
) -> None:
    handle = await greetings_handle(workflow)
    with pytest.raises(FileNotFoundError):
        await handle.save(tmp_path / "nowhere" / "greetings.txt")


@pytest.mark.asyncio
async def test_large_file_is_streamed_to_disk(
    workflow: afs.AsyncWorkflow, big_names: bytes, tmp_path: Path
) -> None:
    handle = await greetings_handle(workflow, {"names": big_names})
    expected = big_greetings()
    assert handle.size == len(expected)
    assert handle.size > _files.PREFETCH_LIMIT  # not held in memory: fetched when saved
    saved = await handle.save(tmp_path)
    assert saved.read_bytes() == expected


@pytest.mark.asyncio
async def test_stream_yields_the_content_in_chunks(workflow: afs.AsyncWorkflow) -> None:
    handle = await greetings_handle(workflow)
    chunks = [chunk async for chunk in handle.stream(chunk_size=5)]
    assert len(chunks) == 5
    assert all(len(chunk) <= 5 for chunk in chunks)
    assert b"".join(chunks) == b"Hello Alice!\nHello Bob!\n"


@pytest.mark.asyncio
async def test_stream_of_a_large_file_comes_from_the_server_in_chunks(
    workflow: afs.AsyncWorkflow, big_names: bytes
) -> None:
    handle = await greetings_handle(workflow, {"names": big_names})
    chunks = [chunk async for chunk in handle.stream()]
    assert len(chunks) > 1
    assert b"".join(chunks) == big_greetings()
    assert await handle.read() == big_greetings()
