"""Argument spaces (``_space``): grids, zips, samples, chains and products, checked whole."""

from __future__ import annotations

import itertools
import math

import pytest

import aioflowserv as afs
from tests.support.documents import SLEEPER_PARAMETERS

SLEEPER = afs.ParameterIndex.from_json(SLEEPER_PARAMETERS)
QUADRATIC = afs.ParameterIndex.from_json([
    {"name": "x", "dtype": "float", "index": 0, "isRequired": False, "defaultValue": 0.0,
     "range": "[-5,5]"},
    {"name": "n", "dtype": "int", "index": 1, "isRequired": False, "defaultValue": 1,
     "range": "[1,9]"},
    {"name": "method", "dtype": "select", "index": 2, "isRequired": False,
     "defaultValue": "a", "values": [{"name": "A", "value": "a"}, {"name": "B", "value": "b"}]},
    {"name": "label", "dtype": "string", "index": 3, "isRequired": True},
])


def notes(exc: BaseException) -> list[str]:
    return list(getattr(exc, "__notes__", []))


def test_grid_takes_every_combination_the_last_dimension_fastest() -> None:
    space = afs.grid(sleep=[0.1, 0.2], greeting=["hi", "yo"])
    assert len(space) == 4
    assert list(space) == [
        {"sleep": 0.1, "greeting": "hi"}, {"sleep": 0.1, "greeting": "yo"},
        {"sleep": 0.2, "greeting": "hi"}, {"sleep": 0.2, "greeting": "yo"},
    ]
    assert list(space) == list(space)


def test_a_single_value_is_the_same_in_every_set() -> None:
    assert list(afs.grid(sleep=[1, 2], greeting="hi")) == [
        {"sleep": 1, "greeting": "hi"}, {"sleep": 2, "greeting": "hi"},
    ]


def test_zipped_goes_element_by_element_and_needs_one_length() -> None:
    space = afs.zipped(sleep=[0.1, 0.2], greeting=["hi", "yo"], mode="upper")
    assert len(space) == 2
    assert list(space) == [
        {"sleep": 0.1, "greeting": "hi", "mode": "upper"},
        {"sleep": 0.2, "greeting": "yo", "mode": "upper"},
    ]
    with pytest.raises(afs.InvalidArgumentError, match="one length"):
        afs.zipped(sleep=[1, 2, 3], greeting=["a", "b"])


def test_a_sample_is_the_same_every_time_for_its_seed() -> None:
    def make(seed: int | None = 7) -> afs.Space:
        return afs.sample(
            50, seed=seed, x=afs.uniform(-5, 5), n=afs.integers(1, 9), method=["a", "b"],
        )

    space = make()
    drawn = list(space)
    assert len(space) == len(drawn) == 50
    assert drawn == list(space) == list(make())
    assert drawn != list(make(8))
    assert all(-5 <= s["x"] <= 5 and s["n"] in range(1, 10) for s in drawn)
    assert {s["method"] for s in drawn} == {"a", "b"}
    unseeded = make(None)
    assert list(unseeded) == list(unseeded)  # a seed is chosen once, when the space is made
    assert isinstance(unseeded.seed, int)  # type: ignore[attr-defined]


def test_integers_include_both_bounds_and_log_uniform_stays_in_range() -> None:
    values = {s["n"] for s in afs.sample(400, seed=1, n=afs.integers(1, 3))}
    assert values == {1, 2, 3}
    logs = [s["lr"] for s in afs.sample(200, seed=1, lr=afs.uniform(1e-4, 1e-1, log=True))]
    assert all(1e-4 <= v <= 1e-1 for v in logs)
    assert sum(v < 1e-2 for v in logs) > 100  # two of three decades lie below 1e-2


@pytest.mark.parametrize("make", [
    lambda: afs.uniform(2, 1), lambda: afs.uniform(0, 1, log=True),
    lambda: afs.uniform("a", 1),  # type: ignore[arg-type]
    lambda: afs.integers(1.5, 3),  # type: ignore[arg-type]
    lambda: afs.integers(5, 1),
])
def test_bad_distributions_are_refused(make: object) -> None:
    with pytest.raises(afs.InvalidArgumentError):
        make()  # type: ignore[operator]


def test_plus_chains_and_times_combines() -> None:
    a = afs.grid(sleep=[1, 2])
    b = afs.zipped(greeting=["x", "y", "z"])
    assert list(a + b) == [{"sleep": 1}, {"sleep": 2}, *list(b)]
    assert len(a + b) == 5
    product = a * b
    assert len(product) == 6
    assert list(product)[:2] == [{"sleep": 1, "greeting": "x"}, {"sleep": 1, "greeting": "y"}]
    with pytest.raises(afs.InvalidArgumentError, match="both spaces"):
        a * afs.grid(sleep=[3])


def test_a_huge_grid_is_never_materialized() -> None:
    space = afs.grid(**{f"p{i}": list(range(10)) for i in range(9)})
    assert len(space) == 10**9
    assert list(itertools.islice(space, 2)) == [
        {f"p{i}": 0 for i in range(9)}, {**{f"p{i}": 0 for i in range(8)}, "p8": 1},
    ]


def test_a_distribution_in_a_grid_or_an_unordered_collection_is_refused() -> None:
    with pytest.raises(afs.InvalidArgumentError, match=r"afs\.sample"):
        afs.grid(x=afs.uniform(0, 1))
    with pytest.raises(afs.InvalidArgumentError, match="as a list"):
        afs.grid(x={1, 2})
    with pytest.raises(afs.InvalidArgumentError, match="empty"):
        afs.grid(x=[])


def test_reprs_are_bounded() -> None:
    assert repr(afs.grid(sleep=[0.1, 0.2], greeting=["hi", "yo"])) == (
        "<Space grid: 4 sets of sleep, greeting>"
    )
    wide = afs.grid(**{f"p{i}": [1, 2] for i in range(40)})
    assert len(repr(wide)) < 120
    assert "+35 more" in repr(wide)
    chained = afs.grid(sleep=[1]) + afs.sample(3, seed=2, sleep=afs.uniform(0, 1))
    assert repr(chained) == "<Space grid + sample (seed 2): 4 sets of sleep>"
    html = wide._repr_html_()
    assert html.count("<tr>") <= 21 + 1
    assert "and 20 more" in html


def test_a_space_checks_against_the_declarations_naming_the_first_bad_set() -> None:
    afs.grid(sleep=[0.1, 3600], greeting=["a"], mode=["plain", "upper"]).check(SLEEPER)
    with pytest.raises(afs.UnknownParameterError) as unknown:
        afs.grid(sleep=[1], speed=[1, 2]).check(SLEEPER)
    assert unknown.value.parameter == "speed"
    assert "in argument set #0 of the space" in notes(unknown.value)
    with pytest.raises(afs.InvalidArgumentError) as out_of_range:
        afs.grid(sleep=[1, -1], greeting=["a", "b"]).check(SLEEPER)
    assert out_of_range.value.parameter == "sleep"
    assert "in argument set #2 of the space" in notes(out_of_range.value)
    with pytest.raises(afs.InvalidArgumentError) as wrong_type:
        (afs.grid(sleep=[1]) + afs.zipped(mode=["plain", "loud"])).check(SLEEPER)
    assert wrong_type.value.parameter == "mode"
    assert "in argument set #2 of the space" in notes(wrong_type.value)


def test_a_distribution_is_checked_by_its_bounds_and_its_kind() -> None:
    space = afs.sample(5, seed=1, x=afs.uniform(-5, 5), n=afs.integers(1, 9), label="l")
    space.check(QUADRATIC)
    with pytest.raises(afs.InvalidArgumentError, match="reaches outside") as drawn:
        afs.sample(5, seed=1, x=afs.uniform(-1, 50), label="l").check(QUADRATIC)
    assert drawn.value.parameter == "x"  # the first set that drew a bad value is named
    assert "in argument set #0 of the space" in notes(drawn.value)
    with pytest.raises(afs.InvalidArgumentError, match="reaches outside") as wide:
        afs.sample(1, seed=1, x=afs.uniform(-1, 5.001), label="l").check(QUADRATIC)
    assert "in the space's dimension 'x'" in notes(wide.value)  # no set drew a bad value
    with pytest.raises(afs.InvalidArgumentError, match=r"afs\.integers"):
        afs.sample(5, seed=1, n=afs.uniform(1, 9), label="l").check(QUADRATIC)
    with pytest.raises(afs.InvalidArgumentError, match="list of choices"):
        afs.sample(5, seed=1, method=afs.integers(1, 2), label="l").check(QUADRATIC)


def test_a_required_parameter_given_nowhere_is_named() -> None:
    with pytest.raises(afs.InvalidArgumentError) as missing:
        (afs.grid(x=[1], label="a") + afs.grid(x=[2, 3])).check(QUADRATIC)
    assert missing.value.parameter == "label"
    assert "in argument set #1 of the space" in notes(missing.value)


def test_an_empty_sample_is_empty() -> None:
    space = afs.sample(0, seed=1, x=afs.uniform(0, 1))
    assert len(space) == 0
    assert list(space) == []
    assert math.isclose(len(afs.grid(x=[1]) + space), 1)
