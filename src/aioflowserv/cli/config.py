"""Where the command line finds its server and token, and where it keeps a login.

The login (server URL, user name and token) is kept in a JSON file readable
only by its owner (mode 0600), ``$XDG_CONFIG_HOME/aioflowserv/config.json``
(``~/.config/aioflowserv/config.json`` by default). The server URL is taken,
first match wins, from ``--url``, the environment (``FLOWSERV_URL`` or
flowServ's ``FLOWSERV_API_*``), the stored login, a local server started with
``aioflowserv server start``, and finally flowServ's default. The token comes
from ``--token``, ``FLOWSERV_ACCESS_TOKEN``, or the stored login, but the
stored token is only sent to the server it was issued by.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import attrs

from .._config import ENV_TOKEN, configured_url, resolve_url
from .output import NOT_LOGGED_IN_HINT, CLIError, ExitCode

__all__ = [
    "Connection",
    "clear_login",
    "config_path",
    "load_config",
    "save_login",
    "state_dir",
    "stored_login",
]

CONFIG_NAME = "config.json"


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable)
    base = Path(value) if value and os.path.isabs(value) else Path.home() / fallback
    return base / "aioflowserv"


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/aioflowserv`` (``~/.config/aioflowserv``)."""
    return _xdg("XDG_CONFIG_HOME", ".config")


def config_path() -> Path:
    """The file that keeps the login."""
    return config_dir() / CONFIG_NAME


def state_dir() -> Path:
    """``$XDG_STATE_HOME/aioflowserv`` (``~/.local/state/aioflowserv``): local server state."""
    return _xdg("XDG_STATE_HOME", ".local/state")


def load_config() -> dict[str, Any]:
    """The stored settings, or an empty dict when there are none.

    A file that others can read is made private again (it holds a token).
    """
    path = config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CLIError(f"cannot read the config file {path}: {exc.strerror}") from None
    with contextlib.suppress(OSError):
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise CLIError(
            f"the config file {path} is not valid JSON ({exc}); fix it or delete it"
        ) from None
    if not isinstance(doc, dict):
        raise CLIError(f"the config file {path} does not hold a JSON object; fix it or delete it")
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


def save_login(url: str, username: str, token: str) -> Path:
    """Keep a login (the last one wins); returns the file's path."""
    doc = load_config()
    doc["login"] = {"url": url, "username": username, "token": token}
    path = config_path()
    _write_private(path, doc)
    return path


def clear_login() -> bool:
    """Forget the stored login; True if there was one."""
    doc = load_config()
    if "login" not in doc:
        return False
    del doc["login"]
    _write_private(config_path(), doc)
    return True


def stored_login() -> dict[str, str] | None:
    """The stored login (url, username, token), if any."""
    login = load_config().get("login")
    if not isinstance(login, dict) or not all(
        isinstance(login.get(key), str) for key in ("url", "username", "token")
    ):
        return None
    return {key: login[key] for key in ("url", "username", "token")}


def _same_server(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


@attrs.frozen
class Connection:
    """The server and token a command uses, and where each came from."""

    url: str
    token: str | None
    url_source: str
    token_source: str | None
    username: str | None = None

    @classmethod
    def resolve(
        cls, url: str | None = None, token: str | None = None, *, local_server: str | None = None
    ) -> Connection:
        """Apply the order described in the module docstring."""
        login = stored_login()
        if url is not None:
            source = "--url"
        elif (env_url := configured_url()) is not None:
            url, source = env_url, "environment"
        elif login is not None:
            url, source = login["url"], f"login in {config_path()}"
        elif local_server is not None:
            url, source = local_server, "local server (aioflowserv server start)"
        else:
            source = "flowServ's default"
        try:
            checked = resolve_url(url)
        except ValueError as exc:  # ConfigurationError
            raise CLIError(f"{exc} (from {source})", ExitCode.USAGE) from None
        username = None
        token_source: str | None
        if token is not None:
            token_source = "--token"
        elif os.environ.get(ENV_TOKEN):
            token, token_source = os.environ[ENV_TOKEN], ENV_TOKEN
        elif login is not None and _same_server(login["url"], checked):
            token, token_source, username = login["token"], "stored login", login["username"]
        else:
            token_source = None
        return cls(checked, token or None, source, token_source, username)

    def require_token(self) -> str:
        """The token, or a clear error that says how to get one."""
        if not self.token:
            raise CLIError(f"not logged in to {self.url}: {NOT_LOGGED_IN_HINT}", ExitCode.USAGE)
        return self.token
