"""params, show, ids that do not exist, and shell completion of ids."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import aioflowserv as afs
from tests.support.cli import Invoke, finished_run, parse
from tests.support.realserver import QUICK, WORKFLOWS


def test_params_lists_types_defaults_and_allowed_values(invoke: Invoke) -> None:
    result = invoke("params", "sleeper")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    sleep = next(line for line in lines if "│ sleep " in line)
    assert "float" in sleep
    assert "in [0.0,3600.0]" in sleep
    assert "Sleep time (s)" in sleep
    mode = next(line for line in lines if "│ mode " in line)
    assert "one of 'plain', 'upper'" in mode
    assert "aioflowserv submit sleeper GROUP -a sleep=0.0" in result.stdout


def test_params_json_of_list_and_record_parameters(invoke: Invoke) -> None:
    doc = {item["name"]: item for item in parse(invoke("params", "types", "--json"))}
    assert doc["nums"]["type"] == "list of int"
    assert doc["nums"]["default"] == [1, 2]
    assert doc["point"]["type"] == "record (x, tag)"
    assert doc["point"]["required"] is True


def test_params_of_a_group(invoke: Invoke, group_id: str) -> None:
    doc = parse(invoke("params", "sleeper", "--group", group_id, "--json"))
    assert [item["name"] for item in doc][:2] == ["sleep", "greeting"]


def test_params_of_an_unknown_workflow_exits_2(invoke: Invoke) -> None:
    result = invoke("params", "sleepr")
    assert result.exit_code == 2
    assert "unknown workflow 'sleepr'; `aioflowserv workflows` lists the workflows" in (
        result.stderr
    )


def test_show_has_arguments_state_and_files(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str
) -> None:
    run = finished_run(sync_client, group_id, sleep=QUICK, greeting="Hey")
    result = invoke("show", run.run_id)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert run.run_id in out
    assert "SUCCESS" in out
    assert "greeting='Hey'" in out
    assert "greetings (Greetings), result (Result)" in out
    assert f"aioflowserv download {run.run_id}" in out


def test_show_of_a_failed_run_has_its_messages(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str
) -> None:
    run = finished_run(sync_client, group_id, sleep=QUICK, exitcode=4)
    result = invoke("show", run.run_id)
    assert result.exit_code == 0
    assert "failing on purpose with exit code 4" in result.stdout
    doc = parse(invoke("show", run.run_id, "--json"))
    assert doc["state"] == "ERROR"
    assert doc["arguments"]["exitcode"] == 4


def test_show_of_an_unknown_run_exits_2_with_the_command_that_lists_runs(
    invoke: Invoke,
) -> None:
    result = invoke("show", "nosuchrun")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: unknown run 'nosuchrun'; `aioflowserv runs GROUP` lists the runs of a group\n"
    )


def test_groups_of_an_unknown_workflow_is_an_error(invoke: Invoke) -> None:
    result = invoke("groups", "sleepr")
    assert result.exit_code == 2
    assert "unknown workflow 'sleepr'" in result.stderr
    assert "aioflowserv workflows" in result.stderr


def test_submit_to_a_group_name_exits_2_with_the_groups_id(
    invoke: Invoke, sync_client: afs.Flowserv
) -> None:
    group = sync_client.create_group("sleeper", "my-experiments")
    result = invoke("submit", "sleeper", "my-experiments", "-a", "sleep=1")
    assert result.exit_code == 2
    assert "unknown group 'my-experiments': that is the name of a group of yours" in (
        result.stderr
    )
    assert group.id in result.stderr
    assert "aioflowserv groups sleeper" in result.stderr


def test_submit_to_an_unknown_group_names_the_command_that_lists_groups(invoke: Invoke) -> None:
    result = invoke("submit", "sleeper", "nosuchgroup", "-a", "sleep=1")
    assert result.exit_code == 2
    assert "unknown group 'nosuchgroup'; `aioflowserv groups sleeper` lists your groups" in (
        result.stderr
    )


def test_submit_to_a_group_of_another_workflow_names_both(
    invoke: Invoke, group_id: str
) -> None:
    result = invoke("submit", "types", group_id)
    assert result.exit_code == 2
    assert "belongs to workflow 'sleeper', not to 'types'" in result.stderr


def complete(words: str, env: dict[str, str]) -> list[str]:
    """What bash completion offers after ``words`` (ids and their descriptions)."""
    done = subprocess.run(
        [sys.executable, "-m", "aioflowserv.cli"],
        env={**os.environ, **env, "_AIOFLOWSERV_COMPLETE": "bash_complete",
             "COMP_WORDS": words, "COMP_CWORD": str(len(words.split(" ")) - 1)},
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return [line.split(",", 1)[1] for line in done.stdout.splitlines() if line]


@pytest.mark.usefixtures("cli_env")
def test_shell_completion_offers_workflow_group_and_run_ids(
    cli_env: dict[str, str], sync_client: afs.Flowserv, group_id: str
) -> None:
    run = finished_run(sync_client, group_id, sleep=QUICK)
    assert sorted(complete("aioflowserv groups ", cli_env)) == sorted(WORKFLOWS)
    assert complete("aioflowserv submit sleeper ", cli_env) == [group_id]
    assert complete(f"aioflowserv watch --group {group_id} ", cli_env) == [run.run_id]
    assert run.run_id in complete("aioflowserv show ", cli_env)


def test_shell_completion_offers_nothing_when_the_server_is_unreachable(
    cli_env: dict[str, str],
) -> None:
    env = {**cli_env, "FLOWSERV_URL": "http://127.0.0.1:9/flowserv/api/v1"}
    assert complete("aioflowserv groups ", env) == []


def test_completion_prints_the_script_for_each_shell(invoke: Invoke) -> None:
    for shell in ("bash", "zsh", "fish"):
        result = invoke("completion", shell)
        assert result.exit_code == 0
        assert "_AIOFLOWSERV_COMPLETE" in result.stdout
