"""The guide "Optimizing with optuna" (docs/guides/optimize.md): every Python example runs.

Each example runs against the session's real server as a fresh user, from a
fresh directory, with the server and token in FLOWSERV_URL and
FLOWSERV_ACCESS_TOKEN, as the README's examples do (tests/docs/test_readme.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest

from aioflowserv import _config
from aioflowserv.testing import FlowservServer
from tests.support.readme import Block, blocks

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "optimize.md"


def examples() -> list[Block]:
    return [block for block in blocks(GUIDE.read_text(encoding="utf-8"))
            if block.language == "python"]


def test_the_guide_has_an_example_for_each_part() -> None:
    assert {block.heading for block in examples()} == {
        "One process", "The search space", "Several processes or machines",
    }


@pytest.mark.parametrize("block", examples(), ids=lambda block: f"line {block.line}")
def test_guide_example_runs(
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
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    code = compile("\n" * (block.line - 1) + block.code, str(GUIDE), "exec")
    exec(code, {"__name__": "__main__"})
    assert capsys.readouterr().out.strip()  # every example shows what it got
