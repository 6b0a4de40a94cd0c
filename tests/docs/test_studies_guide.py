"""The Studies guide (docs/guides/studies.md): every Python example runs against the real server.

Examples read the server and token from FLOWSERV_URL and FLOWSERV_ACCESS_TOKEN
(a fresh user per example) and run in a fresh directory, as the README's do
(``tests/docs/test_readme.py``); the collector of every docs page's examples
will take this over.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aioflowserv import _config
from aioflowserv.testing import FlowservServer
from tests.support.readme import Block, blocks

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "studies.md"


def examples() -> list[Block]:
    """The guide's Python blocks (each a program)."""
    text = GUIDE.read_text(encoding="utf-8")
    return [block for block in blocks(text) if block.language == "python"]


@pytest.mark.parametrize("block", examples(), ids=lambda b: f"studies.md:{b.line}")
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
    code = compile("\n" * (block.line - 1) + block.code, str(GUIDE), "exec")
    exec(code, {"__name__": "__main__"})
    assert capsys.readouterr().out.strip()  # every example shows what it got


def test_the_guide_covers_every_part_of_a_study() -> None:
    headings = {block.heading for block in examples()}
    assert headings >= {
        "Argument spaces", "A sweep, at most K runs at a time", "Reuse what is done",
        "Failures and retries", "Results tables",
    }
    assert "## Optimizing with optuna" in GUIDE.read_text(encoding="utf-8")
