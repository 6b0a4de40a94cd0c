"""Turning command-line text into run arguments: -a values and batch files (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from aioflowserv import InvalidArgumentError, ParameterIndex, UnknownParameterError
from aioflowserv.cli.arguments import coerce, parse_assignments, read_batch
from aioflowserv.cli.output import CLIError

PARAMETERS = ParameterIndex.from_json([
    {"name": "sleep", "dtype": "float", "defaultValue": 0.0, "range": "[0,3600]", "index": 0},
    {"name": "greeting", "dtype": "string", "defaultValue": "Hello", "index": 1},
    {"name": "names", "dtype": "file", "target": "data/names.txt",
     "defaultValue": "data/names.txt", "isRequired": False, "index": 2},
    {"name": "exitcode", "dtype": "int", "defaultValue": 0, "index": 3},
    {"name": "mode", "dtype": "select", "defaultValue": "plain", "index": 4,
     "values": [{"name": "Plain", "value": "plain", "isDefault": True},
                {"name": "Upper case", "value": "upper"}]},
    {"name": "shout", "dtype": "bool", "defaultValue": False, "index": 5},
    {"name": "nums", "dtype": "list", "defaultValue": [1], "index": 6,
     "para": {"name": "num", "dtype": "int", "index": 0, "isRequired": True}},
    {"name": "point", "dtype": "record", "isRequired": False, "defaultValue": None, "index": 7,
     "fields": [{"name": "x", "dtype": "float", "index": 0, "isRequired": True}]},
])


def test_values_are_converted_by_their_declared_type() -> None:
    arguments = parse_assignments(PARAMETERS, [
        "sleep=2", "greeting=Hi there", "exitcode=3", "mode=upper", "shout=yes",
        "nums=1,2,3", 'point={"x": 1.5}',
    ])
    assert arguments == {
        "sleep": 2.0, "greeting": "Hi there", "exitcode": 3, "mode": "upper", "shout": True,
        "nums": [1, 2, 3], "point": {"x": 1.5},
    }
    assert isinstance(arguments["sleep"], float)


def test_a_list_may_be_given_as_json() -> None:
    assert parse_assignments(PARAMETERS, ["nums=[4, 5]"]) == {"nums": [4, 5]}


def test_a_select_value_may_be_given_by_its_label() -> None:
    assert parse_assignments(PARAMETERS, ["mode=Upper case"]) == {"mode": "upper"}


@pytest.mark.parametrize("text", ["false", "no", "0", "off", "False"])
def test_bool_words_for_false(text: str) -> None:
    assert parse_assignments(PARAMETERS, [f"shout={text}"]) == {"shout": False}


def test_a_file_argument_is_a_local_path() -> None:
    assert parse_assignments(PARAMETERS, ["names=data/x.txt"]) == {"names": Path("data/x.txt")}


def test_a_file_path_in_a_batch_is_relative_to_the_batch_file(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("Ada\n")
    batch = tmp_path / "batch.jsonl"
    batch.write_text('{"names": "in.txt"}\n')
    (aset,) = read_batch(batch, PARAMETERS)
    assert aset.arguments["names"] == tmp_path / "in.txt"


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("sleep=abc", "invalid argument for 'sleep': expected a float, got 'abc'"),
        ("exitcode=1.5", "invalid argument for 'exitcode': expected an int, got '1.5'"),
        ("shout=maybe", "invalid argument for 'shout': expected true or false"),
        ("mode=shouty", "invalid argument for 'mode': unknown value 'shouty' (choose one of"),
        ("nums=1,x", "invalid argument for 'nums[1]': expected an int"),
        ("point=[1]", "invalid argument for 'point': expected a JSON object"),
    ],
)
def test_a_bad_value_names_the_parameter(assignment: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        parse_assignments(PARAMETERS, [assignment])
    assert str(caught.value).startswith(message)


def test_an_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownParameterError, match=r"unknown parameter 'nope' \(known"):
        parse_assignments(PARAMETERS, ["nope=1"])


@pytest.mark.parametrize("assignment", ["sleep", "=1"])
def test_an_assignment_needs_a_name_and_an_equals_sign(assignment: str) -> None:
    with pytest.raises(CLIError, match="expected name=value"):
        parse_assignments(PARAMETERS, [assignment])


def test_a_name_given_twice_is_an_error() -> None:
    with pytest.raises(CLIError, match="more than once"):
        parse_assignments(PARAMETERS, ["sleep=1", "sleep=2"])


def test_coerce_keeps_text_for_string_parameters() -> None:
    assert coerce(PARAMETERS["greeting"], "007") == "007"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_jsonl_gives_one_argument_set_per_line_and_skips_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "b.jsonl", '{"sleep": 1}\n\n{"sleep": "2", "shout": "yes"}\n')
    sets = read_batch(path, PARAMETERS)
    assert [s.arguments for s in sets] == [{"sleep": 1}, {"sleep": 2.0, "shout": True}]
    assert [s.line for s in sets] == [1, 3]


def test_csv_gives_one_argument_set_per_row_and_empty_cells_keep_defaults(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "b.csv", "sleep,greeting,mode\n1,Hi,upper\n2.5,,\n")
    sets = read_batch(path, PARAMETERS)
    assert [s.arguments for s in sets] == [
        {"sleep": 1.0, "greeting": "Hi", "mode": "upper"}, {"sleep": 2.5},
    ]
    assert [s.line for s in sets] == [2, 3]


def test_defaults_from_options_apply_to_every_line_unless_the_line_sets_them(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "b.csv", "sleep,greeting\n1,\n2,Hey\n")
    sets = read_batch(path, PARAMETERS, defaults={"greeting": "Yo", "shout": True})
    assert [s.arguments for s in sets] == [
        {"greeting": "Yo", "shout": True, "sleep": 1.0},
        {"greeting": "Hey", "shout": True, "sleep": 2.0},
    ]


def test_the_format_is_guessed_from_the_content_without_a_known_extension(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "batch.txt", '{"sleep": 1}\n')
    assert [s.arguments for s in read_batch(path, PARAMETERS)] == [{"sleep": 1}]
    path = write(tmp_path, "batch2.txt", "sleep\n1\n")
    assert [s.arguments for s in read_batch(path, PARAMETERS)] == [{"sleep": 1.0}]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("b.jsonl", '{"sleep": 1}\n{"sleep": 2,}\n', "b.jsonl, line 2: not valid JSON"),
        ("b.jsonl", '{"sleep": 1}\n[1, 2]\n', "b.jsonl, line 2: expected a JSON object"),
        ("b.jsonl", '{"sleep": 1}\n\n{"sleep": -1}\n',
         "b.jsonl, line 3: invalid argument for 'sleep': -1.0 not in [0.0,3600.0]"),
        ("b.jsonl", '{"sleep": 1, "bogus": 2}\n', "b.jsonl, line 1: unknown parameter 'bogus'"),
        ("b.csv", "sleep,mode\n1,plain\n2,shouty\n",
         "b.csv, line 3: invalid argument for 'mode': unknown value 'shouty'"),
        ("b.csv", "sleep,mode\n1,plain\n2\n", "b.csv, line 3: 1 fields, but the header"),
        ("b.csv", "sleep,bogus\n1,2\n", "b.csv, line 1: unknown parameter 'bogus'"),
        ("b.csv", "sleep,sleep\n1,2\n", "b.csv, line 1: column 'sleep' given twice"),
        ("b.csv", "sleep\n", "holds no argument sets"),
        ("b.jsonl", "\n\n", "holds no argument sets"),
    ],
)
def test_a_malformed_batch_names_the_line(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(CLIError) as caught:
        read_batch(path, PARAMETERS)
    assert message in caught.value.message
    assert caught.value.exit_code == 2


def test_csv_line_numbers_count_quoted_line_breaks(tmp_path: Path) -> None:
    path = write(tmp_path, "b.csv", 'greeting,sleep\n"two\nlines",1\nHi,abc\n')
    with pytest.raises(CLIError, match=r"b\.csv, line 4: invalid argument for 'sleep'"):
        read_batch(path, PARAMETERS)


def test_a_missing_file_in_a_batch_line_is_reported_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "b.jsonl", '{"sleep": 1}\n{"names": "missing.txt"}\n')
    with pytest.raises(CLIError, match=r"line 2: invalid argument for 'names': no such file"):
        read_batch(path, PARAMETERS)


def test_a_missing_batch_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(CLIError, match="batch file not found"):
        read_batch(tmp_path / "nope.csv", PARAMETERS)
