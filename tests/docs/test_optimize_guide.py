"""The guide "Optimizing with optuna" (docs/guides/optimize.md) has an example for each part.

Its examples run with every other example of the docs, against the session's
real server as a fresh user (tests/docs/test_examples.py).
"""

from __future__ import annotations

from tests.support.docs import DOCS, page_blocks, python_examples

GUIDE = DOCS / "guides" / "optimize.md"


def test_the_guide_has_an_example_for_each_part() -> None:
    examples = [block for block in page_blocks(GUIDE) if block.language == "python"]
    assert {block.heading for block in examples} == {
        "One process", "The search space", "Several processes or machines",
    }


def test_the_guides_examples_are_run_with_the_others() -> None:
    assert {block.line for block in python_examples() if block.page == GUIDE} == {
        block.line for block in page_blocks(GUIDE) if block.language == "python"
    }
