"""Reading a group's listings by difference (``_listing``): the same states as parsing them whole.

Whatever the body, :class:`ListingReader` must end up with exactly the states
:meth:`RunListing.from_json` reads from it, and report as changed exactly the
runs whose state differs from the last listing (new runs included) and as
gone the runs the listing no longer has. Bodies it cannot read by difference
(nested objects, braces in strings, another shape) are parsed whole.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

import aioflowserv as afs
from aioflowserv._listing import ListingReader
from aioflowserv._models import RunListing

RUNNING, SUCCESS, ERROR = afs.RunState.RUNNING, afs.RunState.SUCCESS, afs.RunState.ERROR


def body(runs: dict[str, str], **dump: Any) -> bytes:
    entries = [
        {"createdAt": "2026-11-26T15:19:06.885669+00:00", "id": run_id, "state": state}
        for run_id, state in runs.items()
    ]
    return json.dumps({"runs": entries}, **dump).encode()


def whole(data: bytes) -> dict[str, Any]:
    return dict(RunListing.from_json(json.loads(data)).states)


def test_an_unchanged_listing_changes_nothing_and_parses_nothing() -> None:
    reader = ListingReader()
    runs = {f"r{i}": "RUNNING" for i in range(50)}
    assert len(reader.read(body(runs)).changed) == 50
    parsed = reader.parsed
    change = reader.read(body(runs))
    assert not change
    assert reader.parsed == parsed


def test_only_the_entries_that_changed_are_parsed() -> None:
    reader = ListingReader()
    runs = {f"r{i}": "RUNNING" for i in range(100)}
    reader.read(body(runs))
    parsed = reader.parsed
    runs["r7"] = "SUCCESS"
    runs["r100"] = "PENDING"
    change = reader.read(body(runs))
    assert dict(change.changed) == {"r7": SUCCESS, "r100": afs.RunState.PENDING}
    assert reader.parsed - parsed == 2
    assert reader.full == 0


def test_runs_deleted_from_the_listing_are_gone() -> None:
    reader = ListingReader()
    runs = {f"r{i}": "RUNNING" for i in range(10)}
    reader.read(body(runs))
    del runs["r0"]  # the first entry: the next one now carries the listing's opening
    del runs["r5"]
    change = reader.read(body(runs))
    assert change.gone == {"r0", "r5"}
    assert not change.changed  # r1 moved to the front, in the same state
    assert reader.states == whole(body(runs))


@pytest.mark.parametrize("dump", [{}, {"separators": (",", ":")}, {"indent": 2}])
def test_random_listings_read_by_difference_match_the_whole_parse(dump: dict[str, Any]) -> None:
    rng = random.Random(7)
    runs = {f"run-{i}": "RUNNING" for i in range(300)}
    reader = ListingReader()
    last: dict[str, Any] = {}
    for _ in range(20):
        for run_id in rng.sample(sorted(runs), 20):
            runs[run_id] = rng.choice(["SUCCESS", "ERROR", "CANCELED", "RUNNING"])
        for run_id in rng.sample(sorted(runs), 3):
            del runs[run_id]
        for _ in range(5):
            runs[f"run-{rng.randrange(10**9)}"] = "PENDING"
        data = body(runs, **dump)
        change = reader.read(data)
        expected = whole(data)
        assert reader.states == expected
        assert set(change.changed) == {k for k, v in expected.items() if last.get(k) is not v}
        assert change.gone == set(last) - set(expected)
        last = expected
    assert reader.full == 0


def test_an_entry_with_a_nested_object_is_read_whole_with_the_same_result() -> None:
    reader = ListingReader()
    data = json.dumps({"runs": [
        {"id": "a", "state": "RUNNING", "owner": {"id": "u1"}},
        {"id": "b", "state": "SUCCESS"},
    ]}).encode()
    change = reader.read(data)
    assert dict(change.changed) == {"a": RUNNING, "b": SUCCESS}
    assert reader.full == 1


def test_a_brace_inside_a_string_is_read_whole_with_the_same_result() -> None:
    reader = ListingReader()
    reader.read(body({"a": "RUNNING"}))
    data = body({"a": "RUNNING", "b}{": "ERROR"})
    change = reader.read(data)
    assert dict(change.changed) == {"b}{": ERROR}
    assert reader.states == whole(data)


def test_after_a_whole_parse_the_next_listing_is_read_by_difference_again() -> None:
    reader = ListingReader()
    reader.read(json.dumps({"runs": [{"id": "a", "state": "RUNNING", "o": {}}]}).encode())
    change = reader.read(body({"b": "RUNNING"}))
    assert dict(change.changed) == {"b": RUNNING}
    assert change.gone == {"a"}
    assert reader.full == 1


def test_an_unknown_state_is_the_error_reading_it_raises() -> None:
    reader = ListingReader()
    change = reader.read(body({"a": "PAUSED"}))
    assert isinstance(change.changed["a"], afs.InvalidResponseError)
    assert "PAUSED" in str(change.changed["a"])


def test_a_body_that_is_no_listing_raises_invalid_response() -> None:
    reader = ListingReader()
    with pytest.raises(afs.InvalidResponseError, match="JSON"):
        reader.read(b"<html>oops</html>")
    with pytest.raises(afs.InvalidResponseError, match="runs"):
        reader.read(b'{"groups": []}')
