"""The README is the landing page: the two commands first, short, and every link absolute.

PyPI shows the README as the package's page, where relative links break; the
guides live on the documentation site (docs/, checked by test_guides.py).
"""

from __future__ import annotations

import re

from tests.support.docs import DOCS, README

SITE = "https://aioflowserv.github.io/aioflowserv/"


def links() -> list[str]:
    return re.findall(r"\]\(([^)]+)\)", README.read_text())


def test_the_readme_starts_with_the_two_commands() -> None:
    lines = [line for line in README.read_text().splitlines() if line.strip()]
    assert lines[0] == "# aioflowserv"
    assert lines[1] == "```sh"
    assert lines[2].startswith("make demo ")
    assert lines[3].startswith("make test ")
    assert lines[4] == "```"


def test_the_readme_is_a_short_landing_page() -> None:
    assert len(README.read_text().splitlines()) < 200
    headings = re.findall(r"^## (.+)$", README.read_text(), re.MULTILINE)
    assert headings[:2] == ["Install", "An example"]


def test_the_readme_links_are_absolute_so_they_work_on_the_package_page() -> None:
    assert links()
    assert [link for link in links() if not link.startswith("https://")] == []


def test_the_readme_links_to_the_projects_own_urls() -> None:
    pyproject = (README.parent / "pyproject.toml").read_text()
    urls = dict(re.findall(r'^(Repository|Documentation) = "([^"]+)"$', pyproject, re.MULTILINE))
    text = README.read_text()
    assert urls["Repository"] + "#install" in text
    assert urls["Documentation"] == SITE
    assert SITE in text


def test_the_readmes_links_into_the_site_name_pages_that_exist() -> None:
    pages = [link.removeprefix(SITE) for link in links() if link.startswith(SITE)]
    guides = [page for page in pages if page]
    assert "guides/getting-started/" in guides
    for page in guides:
        assert (DOCS / (page.rstrip("/") + ".md")).exists(), page
