"""workflows, groups, create-group, runs; --help everywhere; errors in one line; exit codes."""

from __future__ import annotations

import sys

import click
import pytest

import aioflowserv as afs
from aioflowserv import cli as cli_entry
from aioflowserv.cli.commands import cli
from aioflowserv.cli.output import ExitCode
from tests.support.cli import Invoke, finished_run, parse
from tests.support.realserver import QUICK, WORKFLOWS


def all_commands() -> list[list[str]]:
    """Every command path, e.g. ["submit"] or ["server", "start"]."""
    paths: list[list[str]] = [[]]
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        paths.append([name])
        if isinstance(command, click.Group):
            paths.extend([name, sub] for sub in command.list_commands(ctx))
    return paths


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "aioflowserv")
def test_every_command_has_help(invoke: Invoke, path: list[str]) -> None:
    result = invoke(*path, "--help")
    assert result.exit_code == 0
    assert "Usage: " in result.stdout
    assert "--help" in result.stdout


def test_the_help_gives_every_exit_code(invoke: Invoke) -> None:
    text = " ".join(invoke("--help").stdout.split())
    for code in ExitCode:
        assert f" {code.value} " in text, code


def test_the_command_list_has_the_documented_commands() -> None:
    names = cli.list_commands(click.Context(cli))
    assert names == [
        "login", "logout", "whoami", "workflows", "groups", "create-group", "params", "show",
        "submit", "watch", "rerun", "cancel", "delete", "runs", "download", "leaderboard",
        "sweep", "results", "server", "env", "profiles", "completion", "demo",
    ]


def test_workflows_json_lists_the_installed_workflows(invoke: Invoke) -> None:
    result = invoke("workflows", "--json")
    assert result.exit_code == 0
    by_id = {item["id"]: item for item in parse(result)}
    assert set(by_id) == WORKFLOWS
    assert by_id["sleeper"]["name"] == "Sleeper"


def test_workflows_prints_a_table_by_default(invoke: Invoke) -> None:
    result = invoke("workflows")
    assert result.exit_code == 0
    assert "sleeper" in result.stdout
    assert "Sleeper" in result.stdout


def test_create_group_prints_the_new_group_id(
    invoke: Invoke, sync_client: afs.Flowserv
) -> None:
    result = invoke("create-group", "sleeper", "cli-created")
    assert result.exit_code == 0
    group_id = result.stdout.strip()
    assert sync_client.get_group(group_id).name == "cli-created"


def test_groups_json_lists_the_callers_groups(invoke: Invoke, group_id: str) -> None:
    created = parse(invoke("create-group", "sleeper", "cli-listed", "--json"))
    assert created["name"] == "cli-listed"
    listed = parse(invoke("groups", "sleeper", "--json"))
    assert {item["id"] for item in listed} == {group_id, created["id"]}
    assert all(item["workflow_id"] == "sleeper" for item in listed)


def test_create_group_with_a_taken_name_is_a_usage_error_naming_the_listing(
    invoke: Invoke,
) -> None:
    assert invoke("create-group", "sleeper", "cli-taken").exit_code == 0
    result = invoke("create-group", "sleeper", "cli-taken")
    assert result.exit_code == 2
    assert "exists" in result.stderr
    assert "`aioflowserv groups sleeper`" in result.stderr
    assert "--exist-ok" in result.stderr


def test_create_group_with_exist_ok_prints_the_existing_groups_id(invoke: Invoke) -> None:
    first = invoke("create-group", "sleeper", "cli-twice", "--exist-ok")
    again = invoke("create-group", "sleeper", "cli-twice", "--exist-ok")
    assert first.exit_code == again.exit_code == 0
    assert first.stdout == again.stdout
    assert len(again.stdout.strip()) == 32


def test_runs_json_lists_the_runs_of_a_group_with_states(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str
) -> None:
    ok = finished_run(sync_client, group_id, sleep=QUICK)
    failed = finished_run(sync_client, group_id, sleep=QUICK, exitcode=1)
    listed = parse(invoke("runs", group_id, "--json"))
    assert [(item["run_id"], item["state"]) for item in listed] == [
        (ok.run_id, "SUCCESS"), (failed.run_id, "ERROR"),
    ]


def test_runs_state_filter_keeps_only_those_states(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str
) -> None:
    finished_run(sync_client, group_id, sleep=QUICK)
    failed = finished_run(sync_client, group_id, sleep=QUICK, exitcode=1)
    listed = parse(invoke("runs", group_id, "--state", "error", "--json"))
    assert [item["run_id"] for item in listed] == [failed.run_id]


def test_runs_of_an_unknown_group_exit_2_with_the_servers_message(invoke: Invoke) -> None:
    result = invoke("runs", "nosuchgroup")
    assert result.exit_code == 2
    assert "unknown group 'nosuchgroup'" in result.stderr
    assert "`aioflowserv groups WORKFLOW` lists your groups" in result.stderr


def test_an_unreachable_server_is_one_line_and_exit_3(invoke: Invoke) -> None:
    result = invoke("workflows", "--url", "http://127.0.0.1:9/flowserv/api/v1")
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: ")
    assert lines[0].count("http://127.0.0.1:9/flowserv/api/v1") == 1


def test_debug_shows_the_traceback(invoke: Invoke) -> None:
    result = invoke("workflows", "--debug", "--url", "http://127.0.0.1:9/flowserv/api/v1")
    assert result.exit_code == 3
    assert "Traceback" in result.stderr
    assert "APIConnectionError" in result.stderr


def test_debug_logs_the_requests_on_stderr(invoke: Invoke) -> None:
    result = invoke("workflows", "--json", "--debug")
    assert result.exit_code == 0
    assert "DEBUG: GET workflows -> 200" in result.stderr
    assert "DEBUG" not in result.stdout


def test_an_invalid_url_is_a_configuration_error(invoke: Invoke) -> None:
    result = invoke("workflows", "--url", "ftp://example.org/api")
    assert result.exit_code == 2
    assert "scheme must be http or https" in result.stderr


def test_a_usage_error_exits_2(invoke: Invoke) -> None:
    result = invoke("runs")
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr


def test_main_returns_the_commands_exit_code(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_entry.main(["workflows", "--json"]) == 0
    assert '"sleeper"' in capsys.readouterr().out
    assert cli_entry.main(["runs", "nosuchgroup"]) == 2
    assert cli_entry.main(["--no-such-option"]) == 2


def test_without_click_the_command_says_how_to_install_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "click", None)
    assert cli_entry.main(["workflows"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'aioflowserv[cli]'" in err
    assert "click" in err


def test_without_rich_the_command_says_how_to_install_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "rich", None)
    assert cli_entry.main(["workflows"]) == 2
    assert "rich" in capsys.readouterr().err


def test_version_option_prints_the_version(invoke: Invoke) -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert afs.__version__ in result.stdout
