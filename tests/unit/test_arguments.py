"""Client-side argument validation in ``AsyncWorkflow.start_run``.

Every bad argument is refused before any request (nothing uploaded, no run
started) with an error whose ``parameter`` names the parameter (and, inside a
list or record, the element: ``nums[1]``, ``point.x``).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import pytest_asyncio
import respx

import aioflowserv as afs

from ._support import body, load_workflow, run_doc

pytestmark = pytest.mark.asyncio

KITCHEN: list[dict[str, Any]] = [
    {"name": "text", "dtype": "string", "defaultValue": "hi", "index": 0},
    {"name": "count", "dtype": "int", "defaultValue": 5, "range": "[0.0,10.0)", "index": 1},
    {"name": "ratio", "dtype": "float", "defaultValue": 0.5, "range": "(0.0,1.0]", "index": 2},
    {"name": "free", "dtype": "float", "defaultValue": 0.0, "index": 3},
    {"name": "flag", "dtype": "bool", "defaultValue": False, "index": 4},
    {"name": "mode", "dtype": "select", "defaultValue": "plain", "index": 5,
     "values": [{"name": "Plain", "value": "plain", "isDefault": True},
                {"name": "Upper", "value": "upper"}]},
    {"name": "level", "dtype": "select", "defaultValue": 1, "index": 6,
     "values": [{"name": "One", "value": 1}, {"name": "Two", "value": 2}]},
    {"name": "nums", "dtype": "list", "defaultValue": [1, 2], "index": 7, "isRequired": False,
     "para": {"name": "num", "dtype": "int", "index": 0, "isRequired": True}},
    {"name": "point", "dtype": "record", "index": 8, "isRequired": False,
     "defaultValue": [{"name": "x", "value": 0.0}],
     "fields": [{"name": "x", "dtype": "float", "index": 0, "isRequired": True},
                {"name": "tag", "dtype": "string", "defaultValue": "none", "index": 1,
                 "isRequired": False}]},
]
"""One parameter of every dtype, all optional, with open and closed range bounds."""

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


# -- refused --------------------------------------------------------------------------


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


# -- accepted, and what is sent -----------------------------------------------------------


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


async def test_cast_of_a_parameter_checks_a_value_without_a_server() -> None:
    para = afs.Parameter.from_json(KITCHEN[1])
    assert para.cast("3") == 3
    with pytest.raises(afs.InvalidArgumentError) as caught:
        para.cast(1.5)
    assert caught.value.parameter == "count"
