"""The setup the ``aioflowserv`` command saved, read by the SDK and the command alike.

Three places, following the XDG base directories:

- the logins, one per *profile*: ``$XDG_CONFIG_HOME/aioflowserv/config.json``
  (``~/.config/aioflowserv/config.json``), readable by its owner only (mode
  0600), as ``{"profiles": {"default": {"url", "username", "token"}, ...}}``
  (a file of older versions, with a single ``"login"``, reads as the
  ``default`` profile);
- the local server started by ``aioflowserv server start``:
  ``$XDG_STATE_HOME/aioflowserv/server.json`` (``~/.local/state/...``), with
  the supervisor's process id and the server's URL, while it runs; and
  ``last-server.json`` beside it, the address it last ran at, kept after it
  stops (so that a call to a stopped local server can say so, and a saved
  login can follow the server when it has to move to another port);
- the flowServ server's own virtual environment, for users who installed
  aioflowserv with pip: ``$XDG_DATA_HOME/aioflowserv/server-venv``
  (``~/.local/share/...``).

Nothing here imports the command line (click, rich): both clients read the
saved setup when they are given no URL or token (see
:func:`aioflowserv._config.resolve_origin` for the order).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from ._errors import ConfigurationError

__all__ = [
    "DEFAULT_PROFILE",
    "ENV_PROFILE",
    "SavedLogin",
    "clear_login",
    "config_dir",
    "config_path",
    "data_dir",
    "last_local_url",
    "load_config",
    "local_server_url",
    "move_logins",
    "process_alive",
    "profile_name",
    "read_server_state",
    "remember_local_url",
    "same_server",
    "save_login",
    "saved_login",
    "saved_logins",
    "server_state_file",
    "server_venv_dir",
    "state_dir",
]

ENV_PROFILE = "FLOWSERV_PROFILE"
"""The environment variable that chooses the saved login (profile) to use."""

DEFAULT_PROFILE = "default"
"""The profile of ``aioflowserv login`` without ``--profile``."""

CONFIG_NAME = "config.json"
SERVER_STATE_NAME = "server.json"
LAST_SERVER_NAME = "last-server.json"
SERVER_VENV_NAME = "server-venv"
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable)
    base = Path(value) if value and os.path.isabs(value) else Path.home() / fallback
    return base / "aioflowserv"


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/aioflowserv`` (``~/.config/aioflowserv``): the saved logins."""
    return _xdg("XDG_CONFIG_HOME", ".config")


def config_path() -> Path:
    """The file that keeps the saved logins."""
    return config_dir() / CONFIG_NAME


def state_dir() -> Path:
    """``$XDG_STATE_HOME/aioflowserv`` (``~/.local/state/aioflowserv``): the local server."""
    return _xdg("XDG_STATE_HOME", ".local/state")


def data_dir() -> Path:
    """``$XDG_DATA_HOME/aioflowserv`` (``~/.local/share/aioflowserv``)."""
    return _xdg("XDG_DATA_HOME", ".local/share")


def server_venv_dir() -> Path:
    """Where ``aioflowserv server install`` puts the flowServ server's virtual environment."""
    return data_dir() / SERVER_VENV_NAME


def server_state_file() -> Path:
    """Where ``aioflowserv server start`` records the running local server."""
    return state_dir() / SERVER_STATE_NAME


def profile_name(profile: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The profile asked for: ``profile``, else ``FLOWSERV_PROFILE``, else ``default``."""
    env = os.environ if environ is None else environ
    name = profile if profile is not None else (env.get(ENV_PROFILE) or DEFAULT_PROFILE)
    if not isinstance(name, str) or not _PROFILE_NAME.match(name):
        raise ConfigurationError(
            f"invalid profile name {name!r}: use letters, digits, '.', '_' and '-'"
        )
    return name


def load_config() -> dict[str, Any]:
    """The saved settings, or an empty dict when there are none.

    A file that others can read is made private again (it holds tokens).
    """
    path = config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigurationError(f"cannot read the config file {path}: {exc.strerror}") from None
    with contextlib.suppress(OSError):
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ConfigurationError(
            f"the config file {path} is not valid JSON ({exc}); fix it or delete it"
        ) from None
    if not isinstance(doc, dict):
        raise ConfigurationError(
            f"the config file {path} does not hold a JSON object; fix it or delete it"
        )
    return doc


def _write_private(path: Path, doc: dict[str, Any]) -> None:
    """Write ``doc`` to ``path`` atomically, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".config.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(doc, out, indent=2)
            out.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@attrs.frozen(repr=False)
class SavedLogin:
    """A login saved by ``aioflowserv login``: the server, the user and the token."""

    profile: str
    url: str
    username: str
    token: str

    @classmethod
    def from_json(cls, profile: str, doc: object) -> SavedLogin | None:
        """Read one saved login; None when it is incomplete."""
        if not isinstance(doc, Mapping) or not all(
            isinstance(doc.get(key), str) for key in ("url", "username", "token")
        ):
            return None
        return cls(profile, doc["url"], doc["username"], doc["token"])

    def to_json(self) -> dict[str, str]:
        """As it is kept in the config file."""
        return {"url": self.url, "username": self.username, "token": self.token}

    def __repr__(self) -> str:
        return f"SavedLogin(profile={self.profile!r}, url={self.url!r}, user={self.username!r})"


def _profiles(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The profiles of a config document (an older file's ``login`` is ``default``)."""
    profiles = doc.get("profiles")
    found = dict(profiles) if isinstance(profiles, Mapping) else {}
    if "login" in doc and DEFAULT_PROFILE not in found:
        found[DEFAULT_PROFILE] = doc["login"]
    return found


def saved_logins() -> dict[str, SavedLogin]:
    """Every saved login, by profile name (in the order they were first saved)."""
    found = {}
    for name, entry in _profiles(load_config()).items():
        login = SavedLogin.from_json(str(name), entry)
        if login is not None:
            found[str(name)] = login
    return found


def saved_login(profile: str | None = None) -> SavedLogin | None:
    """The saved login of a profile (see :func:`profile_name`), if there is one."""
    return saved_logins().get(profile_name(profile))


def save_login(url: str, username: str, token: str, profile: str | None = None) -> Path:
    """Keep a login under a profile (replacing that profile's); returns the file's path."""
    name = profile_name(profile)
    doc = load_config()
    profiles = _profiles(doc)
    profiles[name] = SavedLogin(name, url, username, token).to_json()
    doc.pop("login", None)
    doc["profiles"] = profiles
    path = config_path()
    _write_private(path, doc)
    return path


def same_server(a: str, b: str) -> bool:
    """True when two API URLs name the same server (a trailing slash aside)."""
    return a.rstrip("/") == b.rstrip("/")


def move_logins(old_url: str, new_url: str) -> list[str]:
    """Point every saved login of ``old_url`` at ``new_url``; returns the profiles moved.

    For the local server when it had to move to another port: its users and
    tokens moved with it (the same data directory), so the logins stay valid.
    """
    doc = load_config()
    profiles = _profiles(doc)
    moved = []
    for name, entry in profiles.items():
        login = SavedLogin.from_json(str(name), entry)
        if login is not None and same_server(login.url, old_url):
            profiles[name] = attrs.evolve(login, url=new_url).to_json()
            moved.append(str(name))
    if moved:
        doc.pop("login", None)
        doc["profiles"] = profiles
        _write_private(config_path(), doc)
    return moved


def clear_login(profile: str | None = None) -> bool:
    """Forget a profile's saved login; True if there was one."""
    name = profile_name(profile)
    doc = load_config()
    profiles = _profiles(doc)
    if name not in profiles:
        return False
    del profiles[name]
    doc.pop("login", None)
    doc["profiles"] = profiles
    _write_private(config_path(), doc)
    return True


def process_alive(pid: int, *, marker: bytes | None = b"aioflowserv") -> bool:
    """True if process ``pid`` exists and (on Linux) runs a command containing ``marker``.

    A child of ours that exited is reaped first; zombies, and process ids
    reused by another program (unless ``marker`` is None), count as gone.
    """
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        with contextlib.suppress(OSError, IndexError):
            if proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return False
            cmdline = proc.joinpath("cmdline").read_bytes()
            if cmdline and marker is not None:  # empty while a process is being set up
                return marker in cmdline
    return True


def read_server_state(path: Path | None = None) -> dict[str, Any] | None:
    """The local server's state file (``pid``, ``url``, ...), or None."""
    try:
        doc = json.loads((path or server_state_file()).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("pid"), int) else None


def local_server_url() -> str | None:
    """The URL of the local server of ``aioflowserv server start``, while its supervisor lives."""
    doc = read_server_state()
    if doc is None or not isinstance(doc.get("url"), str) or not process_alive(doc["pid"]):
        return None
    return str(doc["url"])


def remember_local_url(url: str) -> None:
    """Record the address the local server runs at (kept after it stops)."""
    path = state_dir() / LAST_SERVER_NAME
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"url": url}) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def last_local_url() -> str | None:
    """The address of the local server of ``aioflowserv server start``: running, or last used.

    None when no local server was ever started (with this ``$XDG_STATE_HOME``).
    """
    running = local_server_url()
    if running is not None:
        return running
    try:
        doc = json.loads((state_dir() / LAST_SERVER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    url = doc.get("url") if isinstance(doc, dict) else None
    return url if isinstance(url, str) else None
