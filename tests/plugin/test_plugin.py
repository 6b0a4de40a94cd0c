"""The pytest plugin, used the way SDK users use it: by test files in a pytest session of their own.

Each inner session runs in a subprocess in a fresh directory, with the plugin
found through its ``pytest11`` entry point (nothing else configures it). Its
results come back as JUnit XML; each test here checks one inner test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from aioflowserv.testing import find_server_python
from tests.support.docs import example_test_files

INNER = Path(__file__).parent / "inner"
Outcomes = dict[str, str]
WITH_ASYNCIO = ("-o", "asyncio_default_fixture_loop_scope=function")  # pytest-asyncio's advice


def run_inner_session(
    directory: Path, files: dict[str, str], *options: str, pythonpath: Path | None = None
) -> tuple[subprocess.CompletedProcess[str], Outcomes]:
    """Write ``files`` into ``directory``, run pytest there; returns the result and outcomes."""
    for name, content in files.items():
        (directory / name).write_text(content)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWSERV_", "PYTEST_"))}
    env["AIOFLOWSERV_SERVER_PYTHON"] = str(find_server_python())
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    report = directory / "report.xml"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-W", "error",
         f"--junitxml={report}", "-o", "junit_family=xunit2", *options],
        cwd=directory, env=env, capture_output=True, text=True, timeout=240,
    )
    outcomes: Outcomes = {}
    if report.exists():
        for case in ET.parse(report).getroot().iter("testcase"):
            kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
            outcomes[case.get("name", "")] = kinds[0] if kinds else "passed"
    return result, outcomes


@pytest.fixture(scope="module")
def with_pytest_asyncio(tmp_path_factory: pytest.TempPathFactory) -> Outcomes:
    """One inner session: the README's example test file and the fixture checks."""
    files = {block.test_file or "": block.code for block in example_test_files()}
    files["test_fixtures.py"] = (INNER / "fixtures_suite.py").read_text()
    files["test_types_group.py"] = (INNER / "types_suite.py").read_text()
    result, outcomes = run_inner_session(
        tmp_path_factory.mktemp("plugin-asyncio"), files, *WITH_ASYNCIO
    )
    assert outcomes, result.stdout + result.stderr
    return outcomes


def passed(outcomes: Outcomes, name: str) -> None:
    assert outcomes.get(name) == "passed", f"{name}: {outcomes.get(name)} in {outcomes}"


def test_the_readmes_example_test_file_passes(with_pytest_asyncio: Outcomes) -> None:
    assert "test_sleeper.py" in [block.test_file for block in example_test_files()]
    passed(with_pytest_asyncio, "test_a_run_greets_everyone")
    passed(with_pytest_asyncio, "test_a_failing_run_reports_why")


def test_the_readmes_example_with_a_fake_server_passes(with_pytest_asyncio: Outcomes) -> None:
    assert "test_with_a_fake.py" in [block.test_file for block in example_test_files()]
    passed(with_pytest_asyncio, "test_a_batch_reports_the_run_that_failed")
    passed(with_pytest_asyncio, "test_an_overloaded_server_is_asked_again")


def test_the_sync_client_is_logged_in_as_the_fresh_user(with_pytest_asyncio: Outcomes) -> None:
    passed(with_pytest_asyncio, "test_sync_client_is_logged_in_as_the_user")


def test_the_async_client_is_logged_in_as_the_fresh_user(with_pytest_asyncio: Outcomes) -> None:
    passed(with_pytest_asyncio, "test_async_client_is_logged_in_as_the_user")


def test_each_test_gets_a_fresh_empty_group_of_its_user(with_pytest_asyncio: Outcomes) -> None:
    passed(with_pytest_asyncio, "test_each_test_gets_a_fresh_empty_group_of_its_user[1]")
    passed(with_pytest_asyncio, "test_each_test_gets_a_fresh_empty_group_of_its_user[2]")


def test_the_server_has_the_shipped_workflows(with_pytest_asyncio: Outcomes) -> None:
    passed(with_pytest_asyncio, "test_the_server_has_the_test_workflows")


def test_overriding_flowserv_workflow_id_chooses_the_groups_workflow(
    with_pytest_asyncio: Outcomes,
) -> None:
    passed(with_pytest_asyncio, "test_overriding_the_workflow_id_changes_the_groups_workflow")


def test_registering_the_plugin_starts_no_server_until_a_fixture_asks(tmp_path: Path) -> None:
    files = {
        "conftest.py": (INNER / "lazy_conftest.py").read_text(),
        "test_lazy.py": (INNER / "lazy_suite.py").read_text(),
    }
    result, outcomes = run_inner_session(tmp_path, files, *WITH_ASYNCIO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert outcomes == {
        "test_the_plugin_is_registered": "passed",
        "test_a_test_without_flowserv_fixtures": "passed",
    }


def test_without_pytest_asyncio_the_async_client_serves_anyio_tests(tmp_path: Path) -> None:
    blocker = tmp_path / "blocked"
    (blocker / "pytest_asyncio").mkdir(parents=True)
    (blocker / "pytest_asyncio" / "__init__.py").write_text(
        "raise ImportError('pytest-asyncio is not installed here')\n"
    )
    session = tmp_path / "session"
    session.mkdir()
    result, outcomes = run_inner_session(
        session, {"test_anyio.py": (INNER / "anyio_suite.py").read_text()},
        "-p", "no:asyncio", pythonpath=blocker,
    )
    assert outcomes == {
        "test_async_client_works_in_anyio_tests": "passed",
        "test_pytest_asyncio_is_not_importable_here": "passed",
    }, result.stdout + result.stderr


def test_the_plugin_imports_without_pytest_asyncio_click_and_rich() -> None:
    code = (
        "import sys\n"
        "for name in ('pytest_asyncio', 'click', 'rich'):\n"
        "    sys.modules[name] = None\n"
        "import aioflowserv.pytest_plugin as plugin\n"
        "assert plugin.flowserv_client is not None\n"
        "print(sorted(n for n in ('click', 'rich') if sys.modules.get(n)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


SCORES = Path(__file__).parents[1] / "support" / "templates" / "scores"


def test_the_ini_option_installs_the_users_own_templates(tmp_path: Path) -> None:
    shutil.copytree(SCORES, tmp_path / "benchmarks" / "mine")
    files = {
        "pytest.ini": "[pytest]\nflowserv_workflows =\n    mine = benchmarks/mine\n",
        "test_mine.py": (INNER / "templates_suite.py").read_text(),
    }
    result, outcomes = run_inner_session(tmp_path, files, *WITH_ASYNCIO)
    assert outcomes == {"test_my_own_workflow_runs_on_the_server": "passed"}, (
        result.stdout + result.stderr
    )


def test_a_malformed_ini_line_stops_the_session_with_a_usage_error(tmp_path: Path) -> None:
    files = {
        "pytest.ini": "[pytest]\nflowserv_workflows = benchmarks/mine\n",
        "test_nothing.py": "def test_nothing() -> None:\n    pass\n",
    }
    result, outcomes = run_inner_session(tmp_path, files, *WITH_ASYNCIO)
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "flowserv_workflows: expected 'ID = DIRECTORY'" in result.stderr
    assert outcomes == {}
