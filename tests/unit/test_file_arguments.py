"""File arguments of ``AsyncWorkflow.start_run``: the accepted kinds and what is uploaded.

Each accepted kind is uploaded as one multipart part named ``file``; the
part's filename is the local base name, or the parameter name for content
without a name. A bad file argument is refused before any request.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import respx

import aioflowserv as afs

from ._support import body, load_workflow, multipart_parts, run_doc

pytestmark = pytest.mark.asyncio

FILES: list[dict[str, Any]] = [
    {"name": "names", "dtype": "file", "index": 0, "isRequired": True},
    {"name": "extra", "dtype": "file", "target": "data/extra.txt",
     "defaultValue": "data/extra.txt", "index": 1, "isRequired": False},
]
"""A required file without default (as hello world's ``names``) and one with a server default."""

CONTENT = b"Alice\nBob\n"


@pytest_asyncio.fixture
async def files(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> afs.AsyncWorkflow:
    """A workflow whose group declares :data:`FILES`; uploads answer f1, f2, ..."""
    workflow = await load_workflow(api, fs, "files", FILES)
    counter = iter(range(1, 100))
    api.post("/uploads/g1/files").mock(
        side_effect=lambda request: httpx.Response(
            201, json={"id": f"f{next(counter)}", "name": "upload"}
        )
    )
    api.post("/groups/g1/runs").respond(201, json=run_doc())
    return workflow


@pytest.fixture
def names_file(tmp_path: Path) -> Path:
    """A local file ``names.txt`` holding :data:`CONTENT`."""
    path = tmp_path / "names.txt"
    path.write_bytes(CONTENT)
    return path


@pytest.fixture
def open_files() -> Iterator[list[io.IOBase]]:
    """Files opened by a test, closed afterwards."""
    opened: list[io.IOBase] = []
    yield opened
    for handle in opened:
        handle.close()


def uploads(api: respx.MockRouter) -> list[tuple[str, str | None, bytes]]:
    """The parts of every upload sent, in order."""
    return [
        part
        for call in api.calls
        if call.request.url.path.endswith("/uploads/g1/files")
        for part in multipart_parts(call.request)
    ]


def started_with(api: respx.MockRouter) -> list[dict[str, Any]]:
    """The ``arguments`` of the run start."""
    (start,) = [c for c in api.calls if c.request.url.path.endswith("/groups/g1/runs")]
    arguments: list[dict[str, Any]] = body(start.request)["arguments"]
    return arguments


KINDS: dict[str, tuple[Callable[[Path, list[io.IOBase]], Any], str]] = {
    "str path": (lambda path, opened: str(path), "names.txt"),
    "pathlib.Path": (lambda path, opened: path, "names.txt"),
    "bytes": (lambda path, opened: CONTENT, "names"),
    "bytearray": (lambda path, opened: bytearray(CONTENT), "names"),
    "memoryview": (lambda path, opened: memoryview(CONTENT), "names"),
    "io.BytesIO": (lambda path, opened: io.BytesIO(CONTENT), "names"),
    "io.StringIO": (lambda path, opened: io.StringIO(CONTENT.decode()), "names"),
    "open binary file": (
        lambda path, opened: opened.append(path.open("rb")) or opened[-1], "names.txt"
    ),
    "open text file": (
        lambda path, opened: opened.append(path.open(encoding="utf-8")) or opened[-1],
        "names.txt",
    ),
    "FileArgument": (lambda path, opened: afs.FileArgument(path), "names.txt"),
    "FileArgument with filename": (
        lambda path, opened: afs.FileArgument(CONTENT, filename="people.txt"), "people.txt"
    ),
}


@pytest.mark.parametrize(("make", "filename"), list(KINDS.values()), ids=list(KINDS))
async def test_accepted_kind_is_uploaded_as_one_part_named_file(
    api: respx.MockRouter,
    files: afs.AsyncWorkflow,
    names_file: Path,
    open_files: list[io.IOBase],
    make: Callable[[Path, list[io.IOBase]], Any],
    filename: str,
) -> None:
    await files.start_run({"names": make(names_file, open_files)})
    assert uploads(api) == [("file", filename, CONTENT)]
    assert started_with(api) == [
        {"name": "names", "value": {"type": "$file", "value": {"fileId": "f1"}}}
    ]


async def test_file_argument_target_is_sent_as_target_path(
    api: respx.MockRouter, files: afs.AsyncWorkflow
) -> None:
    await files.start_run({"names": afs.FileArgument(CONTENT, target="inputs/names.csv")})
    assert started_with(api) == [
        {"name": "names",
         "value": {"type": "$file", "value": {"fileId": "f1", "targetPath": "inputs/names.csv"}}}
    ]


async def test_file_parameter_with_a_server_default_is_not_uploaded_when_left_out(
    api: respx.MockRouter, files: afs.AsyncWorkflow
) -> None:
    await files.start_run({"names": CONTENT})
    assert len(uploads(api)) == 1
    assert [a["name"] for a in started_with(api)] == ["names"]


async def test_two_file_arguments_are_uploaded_in_declaration_order(
    api: respx.MockRouter, files: afs.AsyncWorkflow
) -> None:
    await files.start_run({"extra": b"second", "names": b"first"})
    assert [part[2] for part in uploads(api)] == [b"first", b"second"]
    assert started_with(api) == [
        {"name": "names", "value": {"type": "$file", "value": {"fileId": "f1"}}},
        {"name": "extra", "value": {"type": "$file", "value": {"fileId": "f2"}}},
    ]


async def test_stream_is_uploaded_from_its_current_position(
    api: respx.MockRouter, files: afs.AsyncWorkflow
) -> None:
    stream = io.BytesIO(b"HEADER" + CONTENT)
    stream.seek(6)
    await files.start_run({"names": stream})
    assert uploads(api) == [("file", "names", CONTENT)]


async def test_text_content_is_uploaded_as_utf8(
    api: respx.MockRouter, files: afs.AsyncWorkflow
) -> None:
    await files.start_run({"names": io.StringIO("Zoë\n")})
    assert uploads(api) == [("file", "names", "Zoë\n".encode())]


async def test_stream_is_rewound_when_an_upload_that_never_connected_is_sent_again(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.post("/uploads/g1/files").mock(
        side_effect=[httpx.ConnectError("refused"),
                     httpx.Response(201, json={"id": "f1", "name": "names"})]
    )
    stream = io.BytesIO(b"xx" + CONTENT)
    stream.seek(2)
    await fs.upload_file("g1", stream)
    assert route.call_count == 2
    assert multipart_parts(route.calls.last.request) == [("file", "file", CONTENT)]


# -- refused --------------------------------------------------------------------------


async def test_missing_local_file_is_refused(
    api: respx.MockRouter, files: afs.AsyncWorkflow, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await files.start_run({"names": str(missing)})
    assert caught.value.parameter == "names"
    assert "no such file" in caught.value.reason
    assert api.calls.call_count == 0


async def test_directory_is_refused(
    api: respx.MockRouter, files: afs.AsyncWorkflow, tmp_path: Path
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await files.start_run({"names": tmp_path})
    assert caught.value.parameter == "names"
    assert "not a regular file" in caught.value.reason
    assert api.calls.call_count == 0


async def test_missing_file_inside_a_file_argument_is_refused(
    api: respx.MockRouter, files: afs.AsyncWorkflow, tmp_path: Path
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await files.start_run({"names": afs.FileArgument(tmp_path / "gone.csv", target="x")})
    assert caught.value.parameter == "names"
    assert api.calls.call_count == 0


async def test_closed_file_is_refused(
    api: respx.MockRouter, files: afs.AsyncWorkflow, names_file: Path
) -> None:
    handle = names_file.open("rb")
    handle.close()
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await files.start_run({"names": handle})
    assert caught.value.parameter == "names"
    assert api.calls.call_count == 0


@pytest.mark.parametrize("value", [42, 1.5, None, ["names.txt"], {"path": "names.txt"}])
async def test_value_that_is_no_file_is_refused(
    api: respx.MockRouter, files: afs.AsyncWorkflow, value: object
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await files.start_run({"names": value})
    assert caught.value.parameter == "names"
    assert api.calls.call_count == 0


async def test_second_bad_file_means_the_first_is_not_uploaded(
    api: respx.MockRouter, files: afs.AsyncWorkflow, tmp_path: Path
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await files.start_run({"names": CONTENT, "extra": tmp_path / "missing"})
    assert caught.value.parameter == "extra"
    assert api.calls.call_count == 0
