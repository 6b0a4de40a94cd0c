"""The documentation site: every page in the navigation, and the reference parts complete.

The command line guide lists every command, the configuration guide every
environment variable and the one precedence table, and each guide that
teaches code has its examples (which test_examples.py runs).
"""

from __future__ import annotations

import re
from pathlib import Path

import click

from aioflowserv import _config, _saved, testing
from aioflowserv.cli.commands import cli
from tests.support.docs import DOCS, ROOT, python_examples

GUIDES = DOCS / "guides"


def guide(name: str) -> str:
    return (GUIDES / name).read_text(encoding="utf-8")


def nav_pages() -> set[str]:
    return set(re.findall(r":\s*(\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.MULTILINE))


def test_every_page_is_in_the_navigation_and_every_entry_exists() -> None:
    pages = {str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md")}
    assert pages == nav_pages()


def test_the_guides_the_issue_asks_for_are_there() -> None:
    assert {path.stem for path in GUIDES.glob("*.md")} >= {
        "getting-started", "async", "web-apps", "sync", "batches", "studies", "optimize",
        "results", "errors", "configuration", "cli", "testing", "deploying", "performance",
    }


def test_the_guides_that_teach_code_have_runnable_examples_for_each_part() -> None:
    found = {(Path(block.name).name, block.heading) for block in python_examples()}
    assert found >= {
        ("getting-started.md", "A first run"),
        ("async.md", "Quick start"),
        ("sync.md", "Quick start"), ("sync.md", "In a notebook or a terminal"),
        ("batches.md", "Batch submission"), ("batches.md", "Watching many runs"),
        ("batches.md", "Watching a whole group"), ("batches.md", "Reruns and cancelling a group"),
        ("batches.md", "A timeline of runs"),
        ("results.md", "Leaderboard"), ("results.md", "Post-processing outputs"),
        ("results.md", "Downloading results in bulk"),
        ("errors.md", "Errors"),
        ("web-apps.md", "Seeing what the client does"),
        ("README.md", "An example"),
    }


def test_the_command_reference_lists_every_command() -> None:
    text = guide("cli.md")
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        names = [name]
        if isinstance(command, click.Group):
            names = [f"{name} {sub}" for sub in command.list_commands(ctx)]
        for full in names:
            assert f"`{full}" in text, f"{full} is not in the command line guide's reference"


def test_the_configuration_guide_lists_every_environment_variable() -> None:
    text = guide("configuration.md")
    names = [
        _config.ENV_URL, _config.ENV_TOKEN, *_config.ENV_PARTS, _config.ENV_LOG,
        testing.ENV_SERVER_PYTHON, _saved.ENV_PROFILE, "XDG_CONFIG_HOME", "XDG_STATE_HOME",
        "XDG_DATA_HOME",
    ]
    for name in names:
        assert f"`{name}`" in text


def test_the_configuration_guide_has_the_one_precedence_table() -> None:
    rows = [line for line in guide("configuration.md").splitlines()
            if re.match(r"^\| \d\. ", line)]
    assert [row.split("|")[1].strip() for row in rows] == [
        "1. Arguments", "2. Environment", "3. Saved login", "4. Local server",
        "5. flowServ's default",
    ]


def test_the_performance_guide_has_the_benchmarks_figures() -> None:
    text = guide("performance.md")
    for section in ("Choosing the transport", "Short batches", "Watching at scale",
                    "Wake-up latency"):
        assert f"## {section}" in text
    assert "make bench" in text
    assert (ROOT / "benchmarks" / "README.md").exists()
