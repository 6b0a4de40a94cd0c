"""Parameter declarations (``_models``): Parameter and ParameterIndex, and what a cast accepts."""

from __future__ import annotations

import math
from typing import Any

import pytest

import aioflowserv as afs
from tests.support.documents import KITCHEN, SLEEPER_PARAMETERS, TYPES_PARAMETERS

INF = math.inf


@pytest.fixture
def sleeper() -> afs.ParameterIndex:
    """The sleeper workflow's declarations."""
    return afs.ParameterIndex.from_json(SLEEPER_PARAMETERS)


def test_index_is_a_dict_by_name_in_declaration_order(sleeper: afs.ParameterIndex) -> None:
    assert isinstance(sleeper, dict)
    assert list(sleeper) == ["sleep", "greeting", "names", "exitcode", "mode", "shout"]
    assert all(name == para.name for name, para in sleeper.items())


def test_sorted_follows_the_index() -> None:
    index = afs.ParameterIndex.from_json(
        [{"name": "b", "dtype": "int", "index": 2}, {"name": "a", "dtype": "int", "index": 1}]
    )
    assert [p.name for p in index.sorted()] == ["a", "b"]


def test_float_with_a_closed_range(sleeper: afs.ParameterIndex) -> None:
    sleep = sleeper["sleep"]
    assert (sleep.dtype, sleep.default, sleep.required, sleep.index) == ("float", 0.0, False, 0)
    assert sleep.range == afs.RangeConstraint(low=0.0, high=3600.0)
    assert (sleep.label, sleep.group) == ("Sleep time (s)", "main")
    assert sleep.is_float()
    assert sleep.is_numeric()


def test_string(sleeper: afs.ParameterIndex) -> None:
    greeting = sleeper["greeting"]
    assert (greeting.dtype, greeting.default) == ("string", "Hello")
    assert greeting.is_string()
    assert greeting.range is None


def test_file_with_target_and_default(sleeper: afs.ParameterIndex) -> None:
    names = sleeper["names"]
    assert names.is_file()
    assert (names.target, names.default, names.required) == (
        "data/names.txt", "data/names.txt", False
    )


def test_int(sleeper: afs.ParameterIndex) -> None:
    exitcode = sleeper["exitcode"]
    assert exitcode.is_int()
    assert exitcode.is_numeric()
    assert exitcode.default == 0


def test_select_with_its_values(sleeper: afs.ParameterIndex) -> None:
    mode = sleeper["mode"]
    assert mode.is_select()
    assert mode.values == (
        afs.SelectOption(name="Plain", value="plain", is_default=True),
        afs.SelectOption(name="Upper case", value="upper", is_default=False),
    )


def test_bool(sleeper: afs.ParameterIndex) -> None:
    shout = sleeper["shout"]
    assert shout.is_bool()
    assert shout.default is False


def test_list_with_its_element() -> None:
    nums = afs.Parameter.from_json(TYPES_PARAMETERS[0])
    assert nums.is_list()
    assert nums.default == [1, 2]
    assert nums.para == afs.Parameter(name="num", dtype="int", index=0, required=True)


def test_record_with_its_fields() -> None:
    point = afs.Parameter.from_json(TYPES_PARAMETERS[1])
    assert point.is_record()
    assert point.required
    x, tag = point.fields
    assert (x.name, x.dtype, x.required) == ("x", "float", True)
    assert (tag.name, tag.dtype, tag.required, tag.default) == ("tag", "string", False, "none")


@pytest.mark.parametrize(
    ("doc", "required"),
    [
        ({"name": "p", "dtype": "int"}, True),
        ({"name": "p", "dtype": "int", "defaultValue": 3}, False),
        ({"name": "p", "dtype": "int", "defaultValue": 3, "isRequired": True}, True),
        ({"name": "p", "dtype": "int", "isRequired": False}, False),
    ],
)
def test_required_defaults_to_having_no_default(doc: dict[str, Any], required: bool) -> None:
    assert afs.Parameter.from_json(doc).required is required


def test_display_name_is_the_label_or_the_name() -> None:
    assert afs.Parameter(name="n", dtype="int", label="Count").display_name() == "Count"
    assert afs.Parameter(name="n", dtype="int").display_name() == "n"


def test_unknown_dtype_is_kept() -> None:
    actor = afs.Parameter.from_json({"name": "step", "dtype": "actor", "index": 3})
    assert actor.dtype == "actor"
    assert not any(
        getattr(actor, f"is_{kind}")()
        for kind in ("bool", "file", "float", "int", "list", "numeric", "record", "select",
                     "string")
    )


@pytest.mark.parametrize(
    "doc", [{"dtype": "int"}, {"name": "n"}, "n", None, {"name": "l", "dtype": "list", "para": 1}]
)
def test_declaration_without_name_or_dtype_is_an_invalid_response(doc: object) -> None:
    with pytest.raises(afs.InvalidResponseError):
        afs.Parameter.from_json(doc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[0.0,3600.0]", afs.RangeConstraint(0.0, 3600.0, False, False)),
        ("[0,3600]", afs.RangeConstraint(0.0, 3600.0, False, False)),
        ("(0.0,1.0)", afs.RangeConstraint(0.0, 1.0, True, True)),
        ("[0.0,1.0)", afs.RangeConstraint(0.0, 1.0, False, True)),
        ("(0.0,1.0]", afs.RangeConstraint(0.0, 1.0, True, False)),
        ("[-5.5,5.5]", afs.RangeConstraint(-5.5, 5.5, False, False)),
        ("[,10]", afs.RangeConstraint(-INF, 10.0, False, False)),
        ("(0,]", afs.RangeConstraint(0.0, INF, True, False)),
        ("[,]", afs.RangeConstraint(-INF, INF, False, False)),
        (" [ 1 , 2 ] ", afs.RangeConstraint(1.0, 2.0, False, False)),
    ],
)
def test_range_strings_parse(text: str, expected: afs.RangeConstraint) -> None:
    assert afs.RangeConstraint.parse(text) == expected


@pytest.mark.parametrize("text", ["0..10", "[a,b]", "[1,2", "1,2]", "", "[1,2,3]", "{1,2}"])
def test_malformed_range_is_an_invalid_response(text: str) -> None:
    with pytest.raises(afs.InvalidResponseError):
        afs.RangeConstraint.parse(text)


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        ("[0,1]", [0, 0.5, 1], [-0.001, 1.001]),
        ("(0,1)", [0.001, 0.999], [0, 1]),
        ("[0,1)", [0, 0.999], [1]),
        ("(0,1]", [1, 0.001], [0]),
        ("[,0]", [-1e300, 0], [1e-9]),
    ],
)
def test_range_membership_respects_open_and_closed_bounds(
    text: str, inside: list[float], outside: list[float]
) -> None:
    interval = afs.RangeConstraint.parse(text)
    assert all(value in interval for value in inside)
    assert not any(value in interval for value in outside)


def test_range_prints_in_flowserv_notation() -> None:
    assert str(afs.RangeConstraint.parse("[0,1)")) == "[0.0,1.0)"
    assert str(afs.RangeConstraint.parse("(0.5,2]")) == "(0.5,2.0]"


def test_declaration_with_a_range_parses_it() -> None:
    para = afs.Parameter.from_json(
        {"name": "n", "dtype": "int", "range": "(0,10]", "defaultValue": 1}
    )
    assert para.range == afs.RangeConstraint(0.0, 10.0, True, False)


@pytest.mark.asyncio
async def test_cast_of_a_parameter_checks_a_value_without_a_server() -> None:
    para = afs.Parameter.from_json(KITCHEN[1])
    assert para.cast("3") == 3
    with pytest.raises(afs.InvalidArgumentError) as caught:
        para.cast(1.5)
    assert caught.value.parameter == "count"
