"""Run arguments (``_arguments``): checked before any request, and sent in the server's form.

Every bad argument is refused before any request (nothing uploaded, no run
started) with an error whose ``parameter`` names the parameter (and, inside a
list or record, the element: ``nums[1]``, ``point.x``); defaults fill in what
is left out. File arguments: each accepted kind is uploaded as one multipart
part named ``file``, whose filename is the local base name, or the parameter
name for content without a name.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import pytest_asyncio
import respx

import aioflowserv as afs
from aioflowserv import _arguments
from tests.support.documents import KITCHEN, SLEEPER_DEFAULTS, run_doc
from tests.support.mocked import body, load_workflow, multipart_parts, upload_route

pytestmark = pytest.mark.asyncio

KITCHEN_DEFAULTS = [
    {"name": "text", "value": "hi"},
    {"name": "count", "value": 5},
    {"name": "ratio", "value": 0.5},
    {"name": "free", "value": 0.0},
    {"name": "flag", "value": False},
    {"name": "mode", "value": "plain"},
    {"name": "level", "value": 1},
    {"name": "nums", "value": [1, 2]},
    {"name": "point", "value": [{"name": "x", "value": 0.0}]},
]

REQUIRED: list[dict[str, Any]] = [
    {"name": "title", "dtype": "string", "index": 0, "isRequired": True},
    {"name": "names", "dtype": "file", "index": 1, "isRequired": True},
    {"name": "size", "dtype": "int", "index": 2},  # no isRequired, no default: required
]


@pytest_asyncio.fixture
async def kitchen(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> afs.AsyncWorkflow:
    """A workflow whose group declares :data:`KITCHEN`; uploads and run starts are routed."""
    workflow = await load_workflow(api, fs, "kitchen", KITCHEN)
    api.post("/groups/g1/runs").respond(201, json=run_doc())
    api.post("/uploads/g1/files").respond(201, json={"id": "f1", "name": "upload"})
    return workflow


@pytest_asyncio.fixture
async def required(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> afs.AsyncWorkflow:
    """A workflow whose group declares :data:`REQUIRED` (a string, a file and an int)."""
    workflow = await load_workflow(api, fs, "required", REQUIRED)
    api.post("/groups/g1/runs").respond(201, json=run_doc())
    api.post("/uploads/g1/files").respond(201, json={"id": "f1", "name": "upload"})
    return workflow


async def sent_arguments(api: respx.MockRouter) -> list[dict[str, Any]]:
    """The ``arguments`` of the one run start that was sent."""
    (start,) = [call for call in api.calls if call.request.url.path.endswith("/runs")]
    arguments: list[dict[str, Any]] = body(start.request)["arguments"]
    return arguments


async def test_unknown_parameter_is_refused_naming_it(
    api: respx.MockRouter, kitchen: afs.AsyncWorkflow
) -> None:
    with pytest.raises(afs.UnknownParameterError) as caught:
        await kitchen.start_run({"count": 1, "colour": "red"})
    assert caught.value.parameter == "colour"
    assert "colour" in str(caught.value)
    assert "count" in str(caught.value)  # the known names are listed
    assert api.calls.call_count == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("text", None),
        ("text", True),
        ("text", ["a"]),
        ("text", {"a": 1}),
        ("text", b"bytes"),
        ("count", 1.5),
        ("count", True),
        ("count", False),
        ("count", "abc"),
        ("count", "1.5"),
        ("count", ""),
        ("count", None),
        ("count", [1]),
        ("count", -1),
        ("count", 10),  # the upper bound is open
        ("count", float("nan")),
        ("ratio", "abc"),
        ("ratio", float("nan")),
        ("ratio", "nan"),
        ("ratio", True),
        ("ratio", None),
        ("ratio", 0),  # the lower bound is open
        ("ratio", 0.0),
        ("ratio", 1.0001),
        ("ratio", float("inf")),
        ("ratio", "-inf"),
        ("free", "abc"),
        ("free", float("nan")),
        ("free", {"x": 1}),
        ("flag", "maybe"),
        ("flag", "yes"),
        ("flag", 2),
        ("flag", 1),
        ("flag", [True]),
        ("mode", "shouty"),
        ("mode", "PLAIN"),
        ("mode", "Plain"),  # the label is not a value
        ("mode", 1),
        ("level", "1"),
        ("level", 3),
        ("level", True),
    ],
)
async def test_value_of_the_wrong_kind_or_range_is_refused_naming_the_parameter(
    api: respx.MockRouter, kitchen: afs.AsyncWorkflow, name: str, value: object
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await kitchen.start_run({name: value})
    assert caught.value.parameter == name
    assert repr(name) in str(caught.value)
    assert api.calls.call_count == 0


async def test_range_violation_names_the_range(
    api: respx.MockRouter, kitchen: afs.AsyncWorkflow
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await kitchen.start_run({"count": 12})
    assert "[0.0,10.0)" in caught.value.reason
    assert api.calls.call_count == 0


async def test_select_error_lists_the_allowed_values(
    api: respx.MockRouter, kitchen: afs.AsyncWorkflow
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await kitchen.start_run({"mode": "shouty"})
    assert "'plain'" in caught.value.reason
    assert "'upper'" in caught.value.reason


@pytest.mark.parametrize(
    ("value", "parameter"),
    [
        ("1,2", "nums"),
        (3, "nums"),
        ({"a": 1}, "nums"),
        ([1, "x"], "nums[1]"),
        ([1, 2.5], "nums[1]"),
        ([True], "nums[0]"),
        ([None], "nums[0]"),
    ],
)
async def test_bad_list_is_refused_naming_the_element(
    api: respx.MockRouter, kitchen: afs.AsyncWorkflow, value: object, parameter: str
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await kitchen.start_run({"nums": value})
    assert caught.value.parameter == parameter
    assert api.calls.call_count == 0


@pytest.mark.parametrize(
    ("value", "parameter"),
    [
        ({"tag": "a"}, "point.x"),
        ({}, "point.x"),
        ({"x": "abc"}, "point.x"),
        ({"x": None}, "point.x"),
        ({"x": 1, "tag": ["a"]}, "point.tag"),
        ({"x": 1, "y": 2}, "point.y"),
        ("1,2", "point"),
        ([1.0, "a"], "point"),
        (1.0, "point"),
        ([{"name": "x", "value": 1}, {"name": "x", "value": 2}], "point"),
    ],
)
async def test_bad_record_is_refused_naming_the_field(
    api: respx.MockRouter, kitchen: afs.AsyncWorkflow, value: object, parameter: str
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await kitchen.start_run({"point": value})
    assert caught.value.parameter == parameter
    assert api.calls.call_count == 0


@pytest.mark.parametrize(
    ("arguments", "missing"),
    [
        ({"names": b"x", "size": 1}, "title"),
        ({"title": "t", "size": 1}, "names"),
        ({"title": "t", "names": b"x"}, "size"),
    ],
)
async def test_required_value_that_is_missing_is_refused(
    api: respx.MockRouter, required: afs.AsyncWorkflow, arguments: dict[str, Any], missing: str
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await required.start_run(arguments)
    assert caught.value.parameter == missing
    assert "required" in caught.value.reason
    assert api.calls.call_count == 0


async def test_bad_value_after_a_good_file_uploads_nothing(
    api: respx.MockRouter, required: afs.AsyncWorkflow
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await required.start_run({"title": "t", "names": b"content", "size": "big"})
    assert caught.value.parameter == "size"
    assert api.calls.call_count == 0


@pytest.mark.parametrize("config", [{}, {"workers": 2}])
async def test_config_is_refused_naming_config(
    api: respx.MockRouter, kitchen: afs.AsyncWorkflow, config: dict[str, Any]
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await kitchen.start_run({}, config=config)
    assert caught.value.parameter == "config"
    assert api.calls.call_count == 0


async def test_arguments_that_are_not_a_mapping_are_refused(
    api: respx.MockRouter, kitchen: afs.AsyncWorkflow
) -> None:
    with pytest.raises(TypeError):
        await kitchen.start_run([("count", 1)])  # type: ignore[arg-type]
    assert api.calls.call_count == 0


async def test_argument_errors_are_value_errors_and_flowserv_errors(
    kitchen: afs.AsyncWorkflow,
) -> None:
    with pytest.raises(afs.ArgumentError) as caught:
        await kitchen.start_run({"count": "many"})
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, afs.FlowservError)


async def test_defaults_are_sent_for_every_parameter_left_out(
    api: respx.MockRouter, kitchen: afs.AsyncWorkflow
) -> None:
    await kitchen.start_run({})
    assert await sent_arguments(api) == KITCHEN_DEFAULTS


@pytest.mark.parametrize(
    ("name", "value", "sent"),
    [
        ("text", "", ""),
        ("text", 3, "3"),
        ("text", 2.5, "2.5"),
        ("count", "4", 4),
        ("count", " 7 ", 7),
        ("count", 4.0, 4),
        ("count", 0, 0),
        ("count", 9, 9),
        ("ratio", 1, 1.0),  # the upper bound is closed
        ("ratio", "0.25", 0.25),
        ("ratio", 1e-9, 1e-9),
        ("free", "inf", "inf"),
        ("free", float("-inf"), "-inf"),
        ("free", -3, -3.0),
        ("flag", True, True),
        ("flag", "true", True),
        ("flag", "T", True),
        ("flag", "1", True),
        ("flag", "false", False),
        ("flag", "F", False),
        ("flag", "0", False),
        ("flag", "", False),
        ("mode", "upper", "upper"),
        ("level", 2, 2),
        ("nums", [], []),
        ("nums", [3, "4", 5.0], [3, 4, 5]),
        ("nums", (1,), [1]),
        ("point", {"x": "1.5"}, [{"name": "x", "value": 1.5}]),
        ("point", {"x": 2, "tag": "t"},
         [{"name": "x", "value": 2.0}, {"name": "tag", "value": "t"}]),
        ("point", [{"name": "tag", "value": "t"}, {"name": "x", "value": 1}],
         [{"name": "x", "value": 1.0}, {"name": "tag", "value": "t"}]),
    ],
)
async def test_accepted_value_is_sent_in_the_form_the_server_expects(
    api: respx.MockRouter, kitchen: afs.AsyncWorkflow, name: str, value: object, sent: object
) -> None:
    await kitchen.start_run({name: value})
    (argument,) = [a for a in await sent_arguments(api) if a["name"] == name]
    assert argument["value"] == sent
    assert type(argument["value"]) is type(sent)


async def test_nan_never_reaches_the_wire(
    api: respx.MockRouter, kitchen: afs.AsyncWorkflow
) -> None:
    await kitchen.start_run({"free": 1e308})
    values = [a["value"] for a in await sent_arguments(api)]
    assert not any(isinstance(v, float) and math.isnan(v) for v in values)


async def test_types_workflow_list_and_record(
    api: respx.MockRouter, types_workflow: afs.AsyncWorkflow
) -> None:
    api.post("/groups/g1/runs").respond(201, json=run_doc())
    await types_workflow.start_run({"nums": [3, 4, 5], "point": {"x": 1.5}})
    assert await sent_arguments(api) == [
        {"name": "nums", "value": [3, 4, 5]},
        {"name": "point", "value": [{"name": "x", "value": 1.5}]},
    ]


async def test_types_workflow_needs_the_point(
    api: respx.MockRouter, types_workflow: afs.AsyncWorkflow
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await types_workflow.start_run({"nums": [1]})
    assert caught.value.parameter == "point"
    assert api.calls.call_count == 0


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


async def test_start_run_without_arguments_sends_every_default_except_the_file(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    route = api.post("/groups/g1/runs").respond(201, json=run_doc())
    run = await sleeper.start_run({})
    assert body(route.calls.last.request) == {"arguments": SLEEPER_DEFAULTS}
    assert run.run_id == "r1"
    assert api.calls.call_count == 1  # the file parameter's default was not uploaded


async def test_start_run_sends_given_values_cast_and_in_declaration_order(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    route = api.post("/groups/g1/runs").respond(201, json=run_doc())
    await sleeper.start_run(
        {"shout": "true", "mode": "upper", "exitcode": "3", "greeting": "Hi", "sleep": 2}
    )
    assert body(route.calls.last.request) == {
        "arguments": [
            {"name": "sleep", "value": 2.0},
            {"name": "greeting", "value": "Hi"},
            {"name": "exitcode", "value": 3},
            {"name": "mode", "value": "upper"},
            {"name": "shout", "value": True},
        ]
    }


async def test_start_run_sends_the_target_path_of_a_file_argument(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    upload_route(api, "f1")
    start = api.post("/groups/g1/runs").respond(201, json=run_doc())
    await sleeper.start_run({"names": afs.FileArgument(b"x", target="data/other.txt")})
    arguments = body(start.calls.last.request)["arguments"]
    assert {
        "name": "names",
        "value": {"type": "$file", "value": {"fileId": "f1", "targetPath": "data/other.txt"}},
    } in arguments


async def test_start_runs_checks_every_argument_set_before_the_first_request(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    route = api.post("/groups/g1/runs").respond(201, json=run_doc())
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await sleeper.start_runs([{"sleep": 1}, {"sleep": 2}, {"sleep": -1}])
    assert caught.value.parameter == "sleep"
    assert route.call_count == 0


@attrs.frozen
class Declared:
    """A declaration that is not a ``Parameter``: what the cast rules read of one."""

    name: str
    dtype: str
    index: int = 0
    required: bool = False
    default: Any = None
    range: Any = None
    values: tuple[Any, ...] = ()
    para: Declared | None = None
    fields: tuple[Declared, ...] = ()


async def test_the_cast_rules_read_any_declaration_and_name_the_element() -> None:
    nums = Declared("nums", "list", para=Declared("n", "int", range=afs.RangeConstraint(0, 9)))
    assert _arguments.cast(nums, ["1", 2.0]) == [1, 2]
    with pytest.raises(afs.InvalidArgumentError) as caught:
        _arguments.cast(nums, [1, 10])
    assert caught.value.parameter == "nums[1]"
    point = Declared("point", "record", fields=(Declared("x", "float", required=True),))
    assert _arguments.cast(point, {"x": "0.5"}) == [{"name": "x", "value": 0.5}]
    para = afs.Parameter.from_json({"name": "flag", "dtype": "bool"})
    assert para.cast("t") is _arguments.cast(para, "t") is True
