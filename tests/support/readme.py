"""The README's fenced code blocks, for the tests that run them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
EXAMPLE_TEST = re.compile(r"^# (test_\w+\.py)\n")


@dataclass(frozen=True)
class Block:
    """One fenced block: its language, code, first line number and section heading."""

    language: str
    code: str
    line: int
    heading: str

    @property
    def test_file(self) -> str | None:
        """The file name of an example test file (first line ``# test_x.py``), else None."""
        match = EXAMPLE_TEST.match(self.code)
        return match.group(1) if match else None

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.heading})"


def blocks(text: str | None = None) -> list[Block]:
    """Every fenced block of the README, in order."""
    lines = (README.read_text(encoding="utf-8") if text is None else text).splitlines()
    found: list[Block] = []
    heading = ""
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("#") and not line.startswith("#!"):
            heading = line.lstrip("#").strip()
        fence = re.match(r"^```(\w*)\s*$", line)
        if fence:
            end = lines.index("```", index + 1)
            code = "\n".join(lines[index + 1 : end]) + "\n"
            found.append(Block(fence.group(1), code, index + 2, heading))
            index = end
        index += 1
    return found


def python_examples() -> list[Block]:
    """Python blocks that are programs (run as they are)."""
    return [b for b in blocks() if b.language == "python" and b.test_file is None]


def example_test_files() -> list[Block]:
    """Python blocks that are test files for pytest (first line ``# test_x.py``)."""
    return [b for b in blocks() if b.language == "python" and b.test_file is not None]
