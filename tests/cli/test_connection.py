"""Where the command line takes its server URL and token from (no server needed).

The order is the SDK's (``resolve_origin``): options, environment, the saved
login of the profile, a local server, flowServ's default.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aioflowserv.cli.config import Connection, clear_login, save_login
from aioflowserv.cli.output import CLIError
from tests.support.cli import ENV_NAMES

SAVED = "http://saved.example:5000/flowserv/api/v1"
LOCAL = "http://127.0.0.1:5999/flowserv/api/v1"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture
def local(tmp_path: Path) -> Iterator[str]:
    """A local server recorded as ``aioflowserv server start`` does, its supervisor alive."""
    supervisor = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "aioflowserv.cli.localserver"]
    )
    state = tmp_path / "state" / "aioflowserv"
    state.mkdir(parents=True)
    (state / "server.json").write_text(json.dumps({"pid": supervisor.pid, "url": LOCAL}))
    yield LOCAL
    supervisor.kill()
    supervisor.wait()


def test_url_option_wins_over_everything(monkeypatch: pytest.MonkeyPatch, local: str) -> None:
    save_login(SAVED, "alice", "tok")
    monkeypatch.setenv("FLOWSERV_URL", "http://env.example/api")
    connection = Connection.resolve("http://option.example/api")
    assert (connection.url, connection.url_source) == ("http://option.example/api", "--url")


def test_environment_wins_over_the_saved_login(
    monkeypatch: pytest.MonkeyPatch, local: str
) -> None:
    save_login(SAVED, "alice", "tok")
    monkeypatch.setenv("FLOWSERV_API_HOST", "flow.example")
    monkeypatch.setenv("FLOWSERV_API_PORT", "8080")
    connection = Connection.resolve()
    assert connection.url == "http://flow.example:8080/flowserv/api/v1"
    assert connection.token is None  # the saved token belongs to another server


def test_saved_login_wins_over_a_local_server(local: str) -> None:
    save_login(SAVED, "alice", "tok")
    connection = Connection.resolve()
    assert (connection.url, connection.token, connection.username) == (SAVED, "tok", "alice")
    assert connection.token_source == "saved login"


def test_a_local_server_is_used_when_nothing_else_is_configured(local: str) -> None:
    connection = Connection.resolve()
    assert (connection.url, connection.url_source) == (
        LOCAL, "local server (aioflowserv server start)"
    )


def test_a_local_server_whose_supervisor_is_gone_is_not_used(tmp_path: Path) -> None:
    state = tmp_path / "state" / "aioflowserv"
    state.mkdir(parents=True)
    (state / "server.json").write_text(json.dumps({"pid": 2**22 + 7, "url": LOCAL}))
    assert Connection.resolve().url == "http://localhost:5000/flowserv/api/v1"


def test_flowservs_default_comes_last() -> None:
    assert Connection.resolve().url == "http://localhost:5000/flowserv/api/v1"


def test_token_order_option_then_environment_then_saved(monkeypatch: pytest.MonkeyPatch) -> None:
    save_login(SAVED, "alice", "saved")
    assert Connection.resolve().token == "saved"
    monkeypatch.setenv("FLOWSERV_ACCESS_TOKEN", "from-env")
    assert Connection.resolve().token_source == "FLOWSERV_ACCESS_TOKEN"
    assert Connection.resolve().token == "from-env"
    assert Connection.resolve(token="from-option").token == "from-option"


def test_the_saved_token_goes_only_to_its_own_server() -> None:
    save_login(SAVED, "alice", "saved")
    assert Connection.resolve(SAVED + "/").token == "saved"
    assert Connection.resolve("http://other.example/api").token is None


def test_require_token_explains_how_to_log_in() -> None:
    with pytest.raises(CLIError, match="aioflowserv login") as caught:
        Connection.resolve().require_token()
    assert caught.value.exit_code == 2


def test_clear_login_forgets_the_token() -> None:
    save_login(SAVED, "alice", "saved")
    assert clear_login() is True
    assert Connection.resolve().token is None
    assert clear_login() is False


def test_a_bad_url_names_where_it_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWSERV_URL", "localhost:5000")
    with pytest.raises(CLIError, match=r"\(from the environment\)"):
        Connection.resolve()


def test_a_profile_chooses_its_saved_login_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    save_login(SAVED, "alice", "default-token")
    save_login("http://staging.example/api", "bob", "staging-token", profile="staging")
    monkeypatch.setenv("FLOWSERV_URL", "http://env.example/api")
    monkeypatch.setenv("FLOWSERV_ACCESS_TOKEN", "env-token")
    connection = Connection.resolve(profile="staging")
    assert (connection.url, connection.token, connection.username, connection.profile) == (
        "http://staging.example/api", "staging-token", "bob", "staging"
    )
    assert (connection.url_source, connection.token_source) == ("--profile", "--profile")


def test_flowserv_profile_picks_the_saved_login(monkeypatch: pytest.MonkeyPatch) -> None:
    save_login(SAVED, "alice", "default-token")
    save_login("http://staging.example/api", "bob", "staging-token", profile="staging")
    assert Connection.resolve().username == "alice"
    monkeypatch.setenv("FLOWSERV_PROFILE", "staging")
    connection = Connection.resolve()
    assert (connection.url, connection.token) == ("http://staging.example/api", "staging-token")


def test_an_unknown_profile_is_an_error_that_lists_the_saved_ones() -> None:
    save_login(SAVED, "alice", "tok")
    with pytest.raises(CLIError) as caught:
        Connection.resolve(profile="stagin")
    assert caught.value.exit_code == 2
    assert "no saved login for profile 'stagin' (profiles: default)" in caught.value.message
    assert "aioflowserv login --profile stagin" in caught.value.message


def test_clearing_one_profile_keeps_the_others() -> None:
    save_login(SAVED, "alice", "a")
    save_login(SAVED, "bob", "b", profile="other")
    assert clear_login("other") is True
    assert Connection.resolve().token == "a"


def test_a_login_file_of_an_older_version_reads_as_the_default_profile(tmp_path: Path) -> None:
    config = tmp_path / "config" / "aioflowserv"
    config.mkdir(parents=True)
    login = {"url": SAVED, "username": "alice", "token": "old"}
    (config / "config.json").write_text(json.dumps({"login": login}))
    assert Connection.resolve().token == "old"
    save_login(SAVED, "bob", "b", profile="other")
    doc = json.loads((config / "config.json").read_text())
    assert doc == {"profiles": {"default": login, "other": {**login, "username": "bob",
                                                          "token": "b"}}}
