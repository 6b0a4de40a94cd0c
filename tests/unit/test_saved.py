"""The setup the command saved (``_saved``), and both clients falling back to it.

With no ``url``/``token`` and nothing in the environment, ``AsyncFlowserv()``
and ``Flowserv()`` use the login that ``aioflowserv login`` saved (the profile
of ``profile=`` or ``FLOWSERV_PROFILE``, else ``default``), then the local
server of ``aioflowserv server start``. No server is needed here.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import aioflowserv as afs
from aioflowserv import _saved

SAVED = "http://saved.example:5000/flowserv/api/v1"
STAGING = "http://staging.example/flowserv/api/v1"
LOCAL = "http://127.0.0.1:5999/flowserv/api/v1"


@pytest.fixture
def home(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Private XDG directories, nothing saved yet, no FLOWSERV_* variables."""
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
        clean_env.setenv(name, str(tmp_path / name.lower()))
    clean_env.delenv("FLOWSERV_PROFILE", raising=False)
    return tmp_path


@pytest.fixture
def local_server(home: Path) -> Iterator[str]:
    """A local server recorded as ``aioflowserv server start`` records it."""
    supervisor = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "aioflowserv.cli.localserver"]
    )
    state = _saved.server_state_file()
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"pid": supervisor.pid, "url": LOCAL}))
    yield LOCAL
    supervisor.kill()
    supervisor.wait()


def make(**options: Any) -> afs.AsyncFlowserv:
    """A client that could not send anything (a failing transport)."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"nothing should be sent, but {request.method} {request.url} was")

    return afs.AsyncFlowserv(transport=httpx.MockTransport(refuse), **options)


def test_the_client_uses_the_saved_login(home: Path) -> None:
    _saved.save_login(SAVED, "alice", "saved-token")
    client = make()
    assert (client.url, client.token) == (SAVED, "saved-token")


def test_the_sync_client_uses_the_saved_login(home: Path) -> None:
    _saved.save_login(SAVED, "alice", "saved-token")
    with afs.Flowserv() as fs:
        assert (fs.url, fs.token) == (SAVED, "saved-token")


def test_the_environment_wins_over_the_saved_login(
    home: Path, clean_env: pytest.MonkeyPatch
) -> None:
    _saved.save_login(SAVED, "alice", "saved-token")
    clean_env.setenv("FLOWSERV_URL", "http://env.example/api")
    client = make()
    assert (client.url, client.token) == ("http://env.example/api", None)  # not its server
    clean_env.setenv("FLOWSERV_ACCESS_TOKEN", "env-token")
    assert make().token == "env-token"


def test_arguments_win_and_the_saved_token_goes_only_to_its_server(home: Path) -> None:
    _saved.save_login(SAVED, "alice", "saved-token")
    assert make(url="http://other.example/api").token is None
    assert make(url=SAVED + "/").token == "saved-token"
    assert make(token="given").token == "given"


def test_profile_option_picks_a_saved_login(home: Path, clean_env: pytest.MonkeyPatch) -> None:
    _saved.save_login(SAVED, "alice", "a")
    _saved.save_login(STAGING, "bob", "b", profile="staging")
    clean_env.setenv("FLOWSERV_URL", "http://env.example/api")  # a profile asked for wins
    client = make(profile="staging")
    assert (client.url, client.token) == (STAGING, "b")


def test_flowserv_profile_picks_the_saved_login(
    home: Path, clean_env: pytest.MonkeyPatch
) -> None:
    _saved.save_login(SAVED, "alice", "a")
    _saved.save_login(STAGING, "bob", "b", profile="staging")
    clean_env.setenv("FLOWSERV_PROFILE", "staging")
    assert (make().url, make().token) == (STAGING, "b")


def test_an_unknown_profile_raises_a_configuration_error(home: Path) -> None:
    _saved.save_login(SAVED, "alice", "a")
    with pytest.raises(afs.ConfigurationError, match=r"no saved login for profile 'nope'"):
        make(profile="nope")


def test_a_bad_profile_name_is_refused(home: Path) -> None:
    with pytest.raises(afs.ConfigurationError, match="invalid profile name"):
        make(profile="../etc")


def test_the_local_server_comes_after_the_saved_login(home: Path, local_server: str) -> None:
    assert (make().url, make().token) == (LOCAL, None)
    _saved.save_login(SAVED, "alice", "a")
    assert make().url == SAVED


def test_a_login_for_the_local_server_is_used_with_it(home: Path, local_server: str) -> None:
    _saved.save_login(LOCAL, "alice", "local-token")
    assert (make().url, make().token) == (LOCAL, "local-token")


def test_the_saved_logins_are_private(home: Path) -> None:
    path = _saved.save_login(SAVED, "alice", "secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    assert _saved.saved_login() is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # made private again when read


def test_a_broken_config_file_says_how_to_fix_it(home: Path) -> None:
    path = _saved.config_path()
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(afs.ConfigurationError, match=r"not valid JSON .*fix it or delete it"):
        make()


def test_a_saved_login_repr_hides_the_token(home: Path) -> None:
    _saved.save_login(SAVED, "alice", "secret-token")
    login = _saved.saved_login()
    assert login is not None
    assert "secret-token" not in repr(login)


def test_the_server_venv_lives_in_the_data_directory(home: Path) -> None:
    assert _saved.server_venv_dir() == home / "xdg_data_home" / "aioflowserv" / "server-venv"


def test_moving_logins_points_every_login_of_the_old_address_at_the_new_one(home: Path) -> None:
    _saved.save_login(LOCAL, "alice", "t1")
    _saved.save_login(LOCAL + "/", "bob", "t2", profile="bob")
    _saved.save_login(STAGING, "carol", "t3", profile="staging")
    moved_to = "http://127.0.0.1:6001/flowserv/api/v1"
    assert _saved.move_logins(LOCAL, moved_to) == ["default", "bob"]
    logins = _saved.saved_logins()
    assert [logins[name].url for name in ("default", "bob", "staging")] == [
        moved_to, moved_to, STAGING,
    ]
    assert logins["bob"].token == "t2"  # the same server's data: the token is still valid
    assert _saved.move_logins(LOCAL, moved_to) == []  # nothing left to move


def test_the_local_servers_last_address_is_kept_after_it_stopped(home: Path) -> None:
    assert _saved.last_local_url() is None
    _saved.remember_local_url(LOCAL)
    assert _saved.local_server_url() is None  # not running
    assert _saved.last_local_url() == LOCAL
