"""Where the command line takes its server URL and token from (no server needed)."""

from __future__ import annotations

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


def test_url_option_wins_over_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    save_login(SAVED, "alice", "tok")
    monkeypatch.setenv("FLOWSERV_URL", "http://env.example/api")
    connection = Connection.resolve("http://option.example/api", local_server=LOCAL)
    assert (connection.url, connection.url_source) == ("http://option.example/api", "--url")


def test_environment_wins_over_the_saved_login(monkeypatch: pytest.MonkeyPatch) -> None:
    save_login(SAVED, "alice", "tok")
    monkeypatch.setenv("FLOWSERV_API_HOST", "flow.example")
    monkeypatch.setenv("FLOWSERV_API_PORT", "8080")
    connection = Connection.resolve(local_server=LOCAL)
    assert connection.url == "http://flow.example:8080/flowserv/api/v1"
    assert connection.token is None  # the saved token belongs to another server


def test_saved_login_wins_over_a_local_server() -> None:
    save_login(SAVED, "alice", "tok")
    connection = Connection.resolve(local_server=LOCAL)
    assert (connection.url, connection.token, connection.username) == (SAVED, "tok", "alice")
    assert connection.token_source == "stored login"


def test_a_local_server_is_used_when_nothing_else_is_configured() -> None:
    assert Connection.resolve(local_server=LOCAL).url == LOCAL


def test_flowservs_default_comes_last() -> None:
    assert Connection.resolve().url == "http://localhost:5000/flowserv/api/v1"


def test_token_order_option_then_environment_then_saved(monkeypatch: pytest.MonkeyPatch) -> None:
    save_login(SAVED, "alice", "saved")
    assert Connection.resolve().token == "saved"
    monkeypatch.setenv("FLOWSERV_ACCESS_TOKEN", "from-env")
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
    with pytest.raises(CLIError, match=r"\(from environment\)"):
        Connection.resolve()
