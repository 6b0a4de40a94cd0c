"""Every accepted kind of file argument reaches the run on the real server.

The sleeper greets each name of its ``names`` file; reading the run's
``greetings`` output shows which file the run actually got.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

import aioflowserv as afs
from tests.support.realserver import DEADLINE, POLL, QUICK

CONTENT = "Carol\nDave\n"
EXPECTED = ["Hello Carol!", "Hello Dave!"]


async def greetings_of(workflow: afs.AsyncWorkflow, arguments: dict[str, Any]) -> list[str]:
    """Run the sleeper to the end and return the lines of its greetings file."""
    run = await workflow.start_run(
        {"sleep": QUICK, **arguments}, poll_interval=POLL, timeout=DEADLINE
    )
    assert run.is_success(), run.messages()
    greetings = run.get_file("greetings")
    assert greetings is not None
    handle = await workflow.get_file(run.run_id, greetings.id)
    return (await handle.read()).decode().splitlines()


MakeArgument = Callable[[Path, ExitStack], Any]

KINDS: dict[str, MakeArgument] = {
    "str-path": lambda path, _: str(path),
    "pathlib-path": lambda path, _: path,
    "bytes": lambda path, _: path.read_bytes(),
    "bytesio": lambda path, _: io.BytesIO(path.read_bytes()),
    "stringio": lambda path, _: io.StringIO(path.read_text()),
    "open-binary-file": lambda path, stack: stack.enter_context(path.open("rb")),
    "file-argument": lambda path, _: afs.FileArgument(path, filename="people.txt"),
    "file-argument-with-bytes": lambda path, _: afs.FileArgument(path.read_bytes()),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", list(KINDS))
async def test_file_argument_kind_reaches_the_run(
    kind: str, workflow: afs.AsyncWorkflow, names_file: Path
) -> None:
    names_file.write_text(CONTENT)
    with ExitStack() as stack:
        argument = KINDS[kind](names_file, stack)
        assert await greetings_of(workflow, {"names": argument}) == EXPECTED


@pytest.mark.asyncio
async def test_file_argument_is_uploaded_to_the_group(
    client: afs.AsyncFlowserv, workflow: afs.AsyncWorkflow, group_id: str, names_file: Path
) -> None:
    await greetings_of(workflow, {"names": names_file})
    uploads = await client.list_files(group_id)
    assert [upload.name for upload in uploads] == ["people.txt"]
    downloaded = await client.download_file(group_id, uploads[0].id)
    assert await downloaded.read() == names_file.read_bytes()


@pytest.mark.asyncio
async def test_file_argument_with_an_existing_upload_id_is_not_uploaded_again(
    client: afs.AsyncFlowserv, workflow: afs.AsyncWorkflow, group_id: str
) -> None:
    upload = await client.upload_file(group_id, b"Erin\n", filename="erin.txt")
    argument = afs.FileArgument(upload_id=upload.id)
    assert await greetings_of(workflow, {"names": argument}) == ["Hello Erin!"]
    assert [f.id for f in await client.list_files(group_id)] == [upload.id]


@pytest.mark.asyncio
async def test_names_default_is_the_server_side_file_and_is_not_uploaded(
    client: afs.AsyncFlowserv, workflow: afs.AsyncWorkflow, group_id: str
) -> None:
    assert await greetings_of(workflow, {}) == ["Hello Alice!", "Hello Bob!"]
    assert await client.list_files(group_id) == []


@pytest.mark.asyncio
async def test_string_argument_reaches_the_run(workflow: afs.AsyncWorkflow) -> None:
    lines = await greetings_of(workflow, {"greeting": "Howdy", "shout": True})
    assert lines == ["HOWDY ALICE!", "HOWDY BOB!"]
