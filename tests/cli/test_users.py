"""login, logout, whoami: the saved token, its file, and where tokens come from."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from aioflowserv.testing import FlowservServer
from tests.support.cli import Invoke, parse


@pytest.fixture
def no_env_token(monkeypatch: pytest.MonkeyPatch, cli_env: dict[str, str]) -> None:
    """A user who has not logged in: no FLOWSERV_ACCESS_TOKEN."""
    monkeypatch.delenv("FLOWSERV_ACCESS_TOKEN")


def config_file(cli_env: dict[str, str]) -> Path:
    return Path(cli_env["XDG_CONFIG_HOME"]) / "aioflowserv" / "config.json"


@pytest.mark.usefixtures("no_env_token")
def test_login_saves_token_in_file_only_owner_can_read(
    invoke: Invoke, server: FlowservServer, cli_env: dict[str, str]
) -> None:
    account = server.create_user()
    result = invoke("login", account["username"], "--password", account["password"])
    assert result.exit_code == 0, result.output
    path = config_file(cli_env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert account["token"] in path.read_text()  # one token per user: the same one
    assert account["token"] not in result.output


@pytest.mark.usefixtures("no_env_token")
def test_commands_use_the_saved_login(invoke: Invoke, server: FlowservServer) -> None:
    account = server.create_user()
    invoke("login", account["username"], "--password", account["password"])
    result = invoke("whoami", "--json")
    assert result.exit_code == 0, result.output
    assert parse(result) == {
        "id": account["id"], "username": account["username"], "url": server.url,
        "token_source": "saved login", "profile": "default",
    }


@pytest.mark.usefixtures("no_env_token")
def test_login_prompts_for_username_and_password(invoke: Invoke, server: FlowservServer) -> None:
    account = server.create_user()
    result = invoke("login", input=f"{account['username']}\n{account['password']}\n")
    assert result.exit_code == 0, result.output
    assert f"as {account['username']}" in result.stdout
    assert account["password"] not in result.stdout  # the prompt hides it


@pytest.mark.usefixtures("no_env_token")
def test_login_register_creates_the_account(invoke: Invoke) -> None:
    result = invoke("login", "--register", "newcomer-cli", "--password", "pw")
    assert result.exit_code == 0, result.output
    assert parse(invoke("whoami", "--json"))["username"] == "newcomer-cli"


@pytest.mark.usefixtures("no_env_token")
def test_login_with_wrong_password_fails_with_one_line_and_saves_nothing(
    invoke: Invoke, server: FlowservServer, cli_env: dict[str, str]
) -> None:
    account = server.create_user()
    result = invoke("login", account["username"], "--password", "wrong")
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1
    assert "unknown user" in result.stderr
    assert not config_file(cli_env).exists()


@pytest.mark.usefixtures("no_env_token")
def test_saved_token_is_not_sent_to_another_server(invoke: Invoke, server: FlowservServer) -> None:
    account = server.create_user()
    invoke("login", account["username"], "--password", account["password"])
    other = server.url.replace("127.0.0.1", "localhost")
    result = invoke("whoami", "--url", other)
    assert result.exit_code == 2
    assert "not logged in" in result.stderr


@pytest.mark.usefixtures("no_env_token")
def test_logout_forgets_the_token_and_ends_the_session(
    invoke: Invoke, server: FlowservServer, cli_env: dict[str, str]
) -> None:
    account = server.create_user()
    invoke("login", account["username"], "--password", account["password"])
    result = invoke("logout")
    assert result.exit_code == 0, result.output
    assert account["token"] not in config_file(cli_env).read_text()
    old_token = invoke("whoami", "--token", account["token"])
    assert old_token.exit_code == 2
    assert "the token (from --token) is invalid or expired" in old_token.stderr


@pytest.mark.usefixtures("no_env_token")
def test_whoami_without_a_token_says_how_to_log_in(invoke: Invoke) -> None:
    result = invoke("whoami")
    assert result.exit_code == 2
    assert "aioflowserv login" in result.stderr
    assert "Traceback" not in result.output


def test_whoami_reads_the_token_from_the_environment(
    invoke: Invoke, user: dict[str, Any]
) -> None:
    doc = parse(invoke("whoami", "--json"))
    assert doc["username"] == user["username"]
    assert doc["token_source"] == "FLOWSERV_ACCESS_TOKEN"


def test_token_option_overrides_the_environment(invoke: Invoke, server: FlowservServer) -> None:
    other = server.create_user()
    doc = parse(invoke("whoami", "--json", "--token", other["token"]))
    assert doc["username"] == other["username"]
    assert doc["token_source"] == "--token"


def test_options_may_come_before_the_command(invoke: Invoke, server: FlowservServer) -> None:
    other = server.create_user()
    doc = parse(invoke("--token", other["token"], "whoami", "--json"))
    assert doc["username"] == other["username"]


def test_a_config_file_readable_by_others_is_made_private(
    invoke: Invoke, cli_env: dict[str, str]
) -> None:
    path = config_file(cli_env)
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    path.chmod(0o644)
    invoke("whoami")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_broken_config_file_is_a_configuration_error(
    invoke: Invoke, cli_env: dict[str, str]
) -> None:
    path = config_file(cli_env)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    result = invoke("whoami")
    assert result.exit_code == 2
    assert str(path) in result.stderr


def test_whoami_with_a_bad_token_says_it_is_invalid_or_expired(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWSERV_ACCESS_TOKEN", "not-a-token")
    result = invoke("whoami")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: the token (from FLOWSERV_ACCESS_TOKEN) is invalid or expired: log in again "
        "with `aioflowserv login` and unset FLOWSERV_ACCESS_TOKEN (it wins over the saved "
        "login)\n"
    )


def test_a_bad_token_on_a_group_command_is_not_taken_for_not_a_member(
    invoke: Invoke, group_id: str
) -> None:
    result = invoke("runs", group_id, "--token", "not-a-token")
    assert result.exit_code == 2
    assert "the token (from --token) is invalid or expired" in result.stderr


@pytest.mark.usefixtures("no_env_token")
def test_login_under_a_profile_keeps_both_logins(
    invoke: Invoke, server: FlowservServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = server.create_user(), server.create_user()
    invoke("login", first["username"], "--password", first["password"])
    result = invoke("login", second["username"], "--password", second["password"],
                    "--profile", "staging")
    assert result.exit_code == 0, result.output
    assert "(profile staging)" in result.stdout
    assert parse(invoke("whoami", "--json"))["username"] == first["username"]
    assert parse(invoke("whoami", "--json", "--profile", "staging"))["username"] == (
        second["username"]
    )
    monkeypatch.setenv("FLOWSERV_PROFILE", "staging")
    assert parse(invoke("whoami", "--json"))["username"] == second["username"]
    profiles = parse(invoke("profiles", "--json"))
    assert [(p["profile"], p["username"], p["current"]) for p in profiles] == [
        ("default", first["username"], False), ("staging", second["username"], True),
    ]


@pytest.mark.usefixtures("no_env_token")
def test_profiles_says_how_to_log_in_when_there_are_none(invoke: Invoke) -> None:
    result = invoke("profiles")
    assert result.exit_code == 0
    assert "No saved logins" in result.stdout
    assert "aioflowserv login [--profile NAME]" in result.stdout


@pytest.mark.usefixtures("no_env_token")
def test_an_unknown_profile_is_a_usage_error(invoke: Invoke) -> None:
    result = invoke("whoami", "--profile", "nope")
    assert result.exit_code == 2
    assert "no saved login for profile 'nope'" in result.stderr


@pytest.mark.usefixtures("no_env_token")
def test_env_prints_exports_and_the_token_only_on_request(
    invoke: Invoke, server: FlowservServer
) -> None:
    account = server.create_user()
    invoke("login", account["username"], "--password", account["password"])
    plain = invoke("env")
    assert plain.exit_code == 0
    assert plain.stdout == f"export FLOWSERV_URL={server.url}\n"
    assert account["token"] not in plain.output
    assert "--show-token" in plain.stderr
    shown = invoke("env", "--show-token")
    assert shown.stdout == (
        f"export FLOWSERV_URL={server.url}\nexport FLOWSERV_ACCESS_TOKEN={account['token']}\n"
    )
    assert "Warning: this prints your API token" in shown.stderr


@pytest.mark.usefixtures("no_env_token")
def test_env_show_token_without_a_login_says_how_to_log_in(invoke: Invoke) -> None:
    result = invoke("env", "--show-token")
    assert result.exit_code == 2
    assert "aioflowserv login" in result.stderr
