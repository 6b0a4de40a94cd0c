"""Texts that quote a default or a limit quote the constant's current value (``_config``).

Each quote a person reads (a public docstring, the README, the command's help)
is listed here with the constant it repeats; change the constant and this test
names every text that must change with it. Signatures need no entry: their
defaults are the constants themselves.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path

import click
import pytest

import aioflowserv as afs
from aioflowserv import _config
from aioflowserv._config import (
    AUTO_MAX_CONCURRENCY,
    DEFAULT_HOST,
    DEFAULT_PATH,
    DEFAULT_PORT,
    DEFAULT_PROTOCOL,
    DEFAULT_RETRIES,
    DEFAULT_RETRY_TIMEOUT,
    DEFAULT_TIMEOUT,
)
from aioflowserv.cli.commands import cli

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def doc(obj: object) -> str:
    """The docstring of a public name, as help() shows it."""
    return inspect.getdoc(obj) or ""


def readme() -> str:
    """The README and the guides as one line of words (a quote may be wrapped)."""
    return " ".join(" ".join(page.read_text(encoding="utf-8") for page in PAGES).split())


def cli_help(*path: str) -> str:
    """The help of one option of a command, as ``--help`` shows it."""
    command: click.Command = cli
    for name in path[:-1]:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None, name
        command = found
    option = next(p for p in command.params if p.name == path[-1])
    assert isinstance(option, click.Option)
    return " ".join((option.help or "").split())


def seconds(value: float) -> str:
    """A number of seconds as texts write it (``30``, ``0.5``)."""
    return f"{value:g}"


QUOTES: dict[str, tuple[Callable[[], str], str]] = {
    "AsyncWorkflow.start_runs: the auto limit": (
        lambda: doc(afs.AsyncWorkflow.start_runs), f"never above {AUTO_MAX_CONCURRENCY}"
    ),
    "Workflow.start_runs: the auto limit": (
        lambda: doc(afs.Workflow.start_runs), f"never above {AUTO_MAX_CONCURRENCY}"
    ),
    "aioflowserv submit --concurrency: the auto limit": (
        lambda: cli_help("submit", "concurrency"), f"(at most {AUTO_MAX_CONCURRENCY})"
    ),
    "README: the auto limit": (readme, f"(4x per round trip), up to {AUTO_MAX_CONCURRENCY}."),
    "ClientOptions: retries": (
        lambda: doc(_config.ClientOptions), f"(default {DEFAULT_RETRIES})"
    ),
    "README: the client's timeout": (
        readme, f"`timeout` (seconds per request phase, default {seconds(DEFAULT_TIMEOUT)})"
    ),
    "README: the retry policy's time limit": (
        readme, f"(`RetryPolicy(timeout={seconds(DEFAULT_RETRY_TIMEOUT)})` by default"
    ),
    "README: the URL's protocol": (readme, f"protocol (default `{DEFAULT_PROTOCOL}`)"),
    "README: the URL's host": (readme, f"host (default `{DEFAULT_HOST}`)"),
    "README: the URL's port": (readme, f"port (default `{DEFAULT_PORT}`)"),
    "README: the URL's path": (readme, f"path (default `{DEFAULT_PATH}`)"),
}


@pytest.mark.parametrize("where", list(QUOTES))
def test_the_text_quotes_the_constants_value(where: str) -> None:
    text, quote = QUOTES[where]
    assert quote in text()


def public_docstrings() -> dict[str, str]:
    """Every docstring of the public surface: the exports and their members."""
    docs: dict[str, str] = {}
    for name in afs.__all__:
        value = getattr(afs, name)
        if isinstance(value, str):  # __version__
            continue
        docs[name] = doc(value)
        if inspect.isclass(value):
            for member, attribute in vars(value).items():
                if not member.startswith("_"):
                    docs[f"{name}.{member}"] = doc(attribute)
    return docs


def test_no_public_docstring_quotes_another_auto_limit() -> None:
    quoted = {
        where: re.findall(r"never above (\d+)", text) for where, text in public_docstrings().items()
    }
    wrong = {where: numbers for where, numbers in quoted.items()
             if any(int(n) != AUTO_MAX_CONCURRENCY for n in numbers)}
    assert wrong == {}
