"""Every code example of the README and the guides runs (``tests/support/docs.py`` finds them).

Python blocks run twice (a reader runs an example again) against the
session's real flowServ server, as a fresh user in a fresh directory, with the
server and the token in ``FLOWSERV_URL`` and ``FLOWSERV_ACCESS_TOKEN`` (the
examples pass neither), or, marked ``local``,
with no server at all; each must print what it got. Program files (marked
``file``) are run by their own tests here; example test files by
tests/plugin. Command lines of ``sh`` blocks use real commands and options.
"""

from __future__ import annotations

import re
import shlex
from collections import Counter
from pathlib import Path
from typing import Any

import click
import pytest

from aioflowserv import _config
from aioflowserv.cli.commands import cli
from aioflowserv.testing import FlowservServer
from tests.support.docs import (
    ROOT,
    Block,
    blocks,
    example_test_files,
    page_blocks,
    python_blocks,
    python_examples,
)

MAX_SKIPPED = 3
"""Fragments that cannot run as they are: few, each with its reason."""

FILE_TESTS = {"webapp.py": "test_web_app.py"}
"""Program files of the docs, and the test of tests/docs that runs each."""


def run_block(block: Block, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run a block twice, as a reader does: an example runs again as it did the first time.

    It makes its group with ``exist_ok=True``, and logs in as a user who may exist.
    """
    monkeypatch.chdir(tmp_path)
    code = compile("\n" * (block.line - 1) + block.code, str(block.page), "exec")
    for _ in range(2):
        exec(code, {"__name__": "__main__"})


def clear_server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*_config.ENV_PARTS, _config.ENV_URL, _config.ENV_TOKEN, _config.ENV_LOG):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    "block", [b for b in python_examples() if b.marker == "server"], ids=str
)
def test_python_example_runs_against_the_real_server(
    block: Block,
    server: FlowservServer,
    user: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clear_server_env(monkeypatch)
    monkeypatch.setenv(_config.ENV_URL, server.url)
    monkeypatch.setenv(_config.ENV_TOKEN, user["token"])
    run_block(block, monkeypatch, tmp_path)
    assert capsys.readouterr().out.strip()  # every example shows what it got


@pytest.mark.parametrize(
    "block", [b for b in python_examples() if b.marker == "local"], ids=str
)
def test_python_example_runs_without_a_server(
    block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    clear_server_env(monkeypatch)
    run_block(block, monkeypatch, tmp_path)
    assert capsys.readouterr().out.strip()


def test_program_files_compile_and_each_has_its_test() -> None:
    files = [b for b in python_blocks() if b.marker == "file"]
    assert {b.argument for b in files} == set(FILE_TESTS)
    for block in files:
        compile(block.code, str(block), "exec")
        assert (Path(__file__).parent / FILE_TESTS[block.argument]).exists()


def test_the_skipped_fragments_are_few_and_say_why() -> None:
    skipped = [b for b in python_blocks() if b.marker == "skip"]
    assert len(skipped) <= MAX_SKIPPED, [str(b) for b in skipped]
    assert all(len(b.argument) >= 10 for b in skipped), [str(b) for b in skipped]


def test_every_python_block_is_run_somewhere() -> None:
    run = {*python_examples(), *example_test_files()}
    others = [b for b in python_blocks() if b not in run and b.marker not in ("file", "skip")]
    assert others == []


def test_the_examples_use_distinct_group_names() -> None:
    """Examples run on one server per test process: a name used twice would clash."""
    names = Counter(
        name for block in python_examples()
        for name in re.findall(r'create_group\(\s*"\w+",\s*"([^"]+)"', block.code)
    )
    assert [name for name, count in names.items() if count > 1] == []


@pytest.mark.parametrize(("text", "problem"), [
    ("<!-- test: serve -->\n```python\nprint(1)\n```\n", "unknown marker"),
    ("<!-- test: skip a fragment only -->\n\nSome words.\n", "not followed by a code block"),
    ("<!-- test: local -->\n```sh\nls\n```\n", "before a sh block"),
])
def test_a_stray_or_misspelt_marker_is_an_error(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        page_blocks(ROOT / "page.md", text)


def test_a_marker_applies_to_the_block_after_it() -> None:
    text = (
        "# Title\n\n<!-- test: skip only a fragment -->\n\n```python\nx\n```\n\n"
        "```python\ny\n```\n"
    )
    first, second = page_blocks(ROOT / "page.md", text)
    assert (first.marker, first.argument, first.heading) == ("skip", "only a fragment", "Title")
    assert (second.marker, second.code) == ("server", "y\n")


def _command(words: list[str]) -> tuple[click.Command, list[str]]:
    command: click.Command = cli
    ctx = click.Context(cli)
    rest = words
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.get_command(ctx, rest[0])
        assert sub is not None, f"no command {rest[0]!r}"
        command, rest = sub, rest[1:]
    return command, rest


def _cli_lines() -> list[str]:
    lines = []
    for block in blocks():
        if block.language == "sh":
            joined = block.code.replace("\\\n", " ")
            for line in joined.splitlines():
                command = line.split(" #")[0].strip()
                if command.startswith("aioflowserv "):
                    lines.append(command)
    return lines


@pytest.mark.parametrize("line", _cli_lines())
def test_command_line_example_uses_real_commands_and_options(line: str) -> None:
    command, rest = _command(shlex.split(line)[1:])
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    used = {word.split("=")[0] for word in rest if word.startswith("-")}
    assert used <= known | {"--help"}
