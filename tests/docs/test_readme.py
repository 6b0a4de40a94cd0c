"""The README: every Python example runs against the real server; the reference matches the code.

Examples read the server and token from FLOWSERV_URL and FLOWSERV_ACCESS_TOKEN
(a fresh user per example) and run in a fresh directory, twice each: a reader
runs an example again (it makes its group with ``exist_ok=True``, and logs in
as a user who may exist already). Example test files
(first line ``# test_x.py``) are run with the pytest plugin by tests/plugin.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest

from aioflowserv import _config, _saved, testing
from aioflowserv.cli.commands import cli
from aioflowserv.testing import FlowservServer
from tests.support.readme import README, Block, blocks, example_test_files, python_examples


def test_the_readme_starts_with_the_two_commands() -> None:
    lines = [line for line in README.read_text().splitlines() if line.strip()]
    assert lines[0] == "# aioflowserv"
    assert lines[1] == "```sh"
    assert lines[2].startswith("make demo ")
    assert lines[3].startswith("make test ")
    assert lines[4] == "```"


@pytest.mark.parametrize("block", python_examples(), ids=str)
def test_python_example_runs(
    block: Block,
    server: FlowservServer,
    user: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in (*_config.ENV_PARTS, "FLOWSERV_URL", "FLOWSERV_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLOWSERV_URL", server.url)
    monkeypatch.setenv("FLOWSERV_ACCESS_TOKEN", user["token"])
    monkeypatch.chdir(tmp_path)
    code = compile("\n" * (block.line - 1) + block.code, str(README), "exec")
    for _ in range(2):  # as a reader does: an example runs again as it did the first time
        exec(code, {"__name__": "__main__"})
        assert capsys.readouterr().out.strip()  # every example shows what it got


def test_the_readme_has_python_examples_for_each_part_of_the_guide() -> None:
    headings = {block.heading for block in python_examples()}
    assert headings >= {
        "Quick start (async)", "Quick start (sync)", "Batch submission", "Watching many runs",
        "Errors and retries", "Leaderboard", "Post-processing outputs",
        "Downloading results in bulk", "Watching a whole group", "Reruns and cancelling a group",
        "A timeline of runs",
    }
    assert [block.test_file for block in example_test_files()] == [
        "test_sleeper.py", "test_with_a_fake.py",
    ]


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
            for line in block.code.splitlines():
                command = line.split("#")[0].strip()
                if command.startswith("aioflowserv "):
                    lines.append(command)
    return lines


@pytest.mark.parametrize("line", _cli_lines())
def test_command_line_example_uses_real_commands_and_options(line: str) -> None:
    command, rest = _command(shlex.split(line)[1:])
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    used = {word.split("=")[0] for word in rest if word.startswith("-")}
    assert used <= known | {"--help"}


def test_the_command_reference_lists_every_command() -> None:
    text = README.read_text()
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        names = [name]
        if isinstance(command, click.Group):
            names = [f"{name} {sub}" for sub in command.list_commands(ctx)]
        for full in names:
            assert f"`{full}" in text, f"{full} is not in the README's command reference"


def test_the_configuration_section_lists_every_environment_variable() -> None:
    text = README.read_text()
    section = text[text.index("## Configuration"):text.index("## Command line")]
    names = [
        _config.ENV_URL, _config.ENV_TOKEN, *_config.ENV_PARTS, testing.ENV_SERVER_PYTHON,
        _saved.ENV_PROFILE, "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME",
    ]
    for name in names:
        assert f"`{name}`" in section


def test_the_readme_has_a_performance_section() -> None:
    assert "\n## Performance\n" in README.read_text()


def test_the_readme_links_are_absolute_so_they_work_on_the_package_page() -> None:
    links = re.findall(r"\]\(([^)]+)\)", README.read_text())
    assert links
    assert [link for link in links if not link.startswith("https://")] == []


def test_the_readme_links_to_the_projects_own_urls() -> None:
    pyproject = (README.parent / "pyproject.toml").read_text()
    urls = dict(re.findall(r'^(Repository|Documentation) = "([^"]+)"$', pyproject, re.MULTILINE))
    text = README.read_text()
    assert urls["Repository"] + "#install" in text
    assert urls["Documentation"] in text


def test_the_configuration_section_has_the_one_precedence_table() -> None:
    text = README.read_text()
    section = text[text.index("## Configuration"):text.index("## Command line")]
    rows = [line for line in section.splitlines() if re.match(r"^\| \d\. ", line)]
    assert [row.split("|")[1].strip() for row in rows] == [
        "1. Arguments", "2. Environment", "3. Saved login", "4. Local server",
        "5. flowServ's default",
    ]
