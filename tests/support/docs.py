"""The fenced code blocks of README.md and docs/**/*.md, for the tests that run them.

A Python block runs as it is, against the test session's real flowServ server,
unless an HTML comment on the line before it (blank lines between allowed)
says otherwise::

    <!-- test: server -->            the default: FLOWSERV_URL and FLOWSERV_ACCESS_TOKEN of
                                     a fresh user of the real server, in a fresh directory
    <!-- test: local -->             no server at all: the block brings its own (a FakeFlowserv)
    <!-- test: file NAME.py -->      a program file that a test of tests/docs runs by that name
                                     (a web app under uvicorn); here it is only compiled
    <!-- test: skip REASON -->       a fragment, not run; the reason is required

A block whose first line is ``# test_x.py`` is an example test file, run with
the pytest plugin by tests/plugin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
EXAMPLE_TEST = re.compile(r"^# (test_\w+\.py)\n")
MARKER = re.compile(r"^<!--\s*test:\s*(\S+)\s*(.*?)\s*-->$")
MARKERS = ("server", "local", "file", "skip")
FENCE = re.compile(r"^(\s*)```(\w*)\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced block: its page, language, code, first line, section heading and marker."""

    page: Path
    language: str
    code: str
    line: int
    heading: str
    marker: str = "server"
    argument: str = ""

    @property
    def name(self) -> str:
        """The page, relative to the project (``docs/guides/async.md``)."""
        return str(self.page.relative_to(ROOT))

    @property
    def test_file(self) -> str | None:
        """The file name of an example test file (first line ``# test_x.py``), else None."""
        match = EXAMPLE_TEST.match(self.code)
        return match.group(1) if match else None

    def __str__(self) -> str:
        return f"{self.name}:{self.line} ({self.heading})"


def pages() -> list[Path]:
    """README.md and every page of the documentation site."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def page_blocks(page: Path, text: str | None = None) -> list[Block]:
    """Every fenced block of one page, in order, with the marker before it.

    A marker that is not followed by a Python block, or names no known
    marker, raises ``ValueError`` (a typo must not turn an example off).
    """
    lines = (page.read_text(encoding="utf-8") if text is None else text).splitlines()
    found: list[Block] = []
    heading = ""
    pending: tuple[str, str, int] | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = MARKER.match(line.strip())
        fence = FENCE.match(line)
        if marker:
            if marker.group(1) not in MARKERS:
                raise ValueError(f"{page}:{index + 1}: unknown marker {marker.group(1)!r}")
            pending = (marker.group(1), marker.group(2), index + 1)
        elif line.startswith("#") and not line.startswith("#!"):
            heading = line.lstrip("#").strip()
        elif fence:
            indent, language = fence.group(1), fence.group(2)
            end = index + 1
            while lines[end] != f"{indent}```":
                end += 1
            code = "\n".join(text[len(indent):] for text in lines[index + 1 : end]) + "\n"
            kind, argument = ("server", "")
            if pending is not None:
                if language != "python":
                    raise ValueError(f"{page}:{pending[2]}: a marker before a {language} block")
                kind, argument = pending[0], pending[1]
                pending = None
            found.append(Block(page, language, code, index + 2, heading, kind, argument))
            index = end
        elif line.strip() and pending is not None:
            raise ValueError(f"{page}:{pending[2]}: a marker not followed by a code block")
        index += 1
    if pending is not None:
        raise ValueError(f"{page}:{pending[2]}: a marker at the end of the page")
    return found


def blocks() -> list[Block]:
    """Every fenced block of every page."""
    return [block for page in pages() for block in page_blocks(page)]


def python_blocks() -> list[Block]:
    """Every Python block of every page."""
    return [block for block in blocks() if block.language == "python"]


def python_examples() -> list[Block]:
    """Python blocks that are programs to run (against the server, or with no server)."""
    return [b for b in python_blocks()
            if b.test_file is None and b.marker in ("server", "local")]


def example_test_files() -> list[Block]:
    """Python blocks that are test files for pytest (first line ``# test_x.py``)."""
    return [b for b in python_blocks() if b.test_file is not None]


def program_file(name: str) -> Block:
    """The block marked ``<!-- test: file NAME -->``."""
    (block,) = [b for b in python_blocks() if b.marker == "file" and b.argument == name]
    return block
