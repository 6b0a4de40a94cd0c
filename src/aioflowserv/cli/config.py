"""Where the command line finds its server and token: the SDK's own order, with CLI errors.

The logins are kept by :mod:`aioflowserv._saved` (one per profile, in
``$XDG_CONFIG_HOME/aioflowserv/config.json``, mode 0600), which the SDK
reads too. The order is :func:`aioflowserv._config.resolve_origin`'s:
``--url``/``--token`` (and ``--profile``), the environment, the saved login
of ``FLOWSERV_PROFILE`` (else ``default``), a local server started with
``aioflowserv server start``, flowServ's default. A saved token is only sent
to the server it was issued by.
"""

from __future__ import annotations

import attrs

from .._config import Origin, resolve_origin
from .._errors import ConfigurationError
from .._saved import (
    clear_login,
    config_path,
    load_config,
    save_login,
    saved_login,
    saved_logins,
    state_dir,
)
from .output import NOT_LOGGED_IN_HINT, CLIError, ExitCode

__all__ = [
    "Connection",
    "clear_login",
    "config_path",
    "load_config",
    "save_login",
    "saved_login",
    "saved_logins",
    "state_dir",
]

_SOURCES = {"argument": "--url", "profile": "--profile"}
_TOKEN_SOURCES = {"argument": "--token", "profile": "--profile"}


@attrs.frozen(repr=False)
class Connection(Origin):
    """The server and token a command uses, and where each came from (as the CLI names it)."""

    @classmethod
    def resolve(
        cls,
        url: str | None = None,
        token: str | None = None,
        *,
        profile: str | None = None,
        require_profile: bool = True,
    ) -> Connection:
        """Apply the order described in the module docstring."""
        try:
            origin = resolve_origin(url, token, profile=profile, require_profile=require_profile)
        except ConfigurationError as exc:
            raise CLIError(str(exc).replace("(from the argument)", "(from --url)"),
                           ExitCode.USAGE) from None
        return cls.from_origin(origin)

    @classmethod
    def from_origin(cls, origin: Origin) -> Connection:
        """The SDK's answer, with the sources named as the command line spells them."""
        url_source = _SOURCES.get(origin.url_source, origin.url_source)
        if origin.url_source == "saved login":
            url_source = f"saved login ({origin.profile}) in {config_path()}"
        elif origin.url_source == "local server":
            url_source = "local server (aioflowserv server start)"
        token_source = origin.token_source
        if token_source is not None:
            token_source = _TOKEN_SOURCES.get(token_source, token_source)
        return cls(
            origin.url, origin.token, url_source, token_source, origin.username, origin.profile,
            origin.local_server,
        )

    def require_token(self) -> str:
        """The token, or a clear error that says how to get one."""
        if not self.token:
            raise CLIError(f"not logged in to {self.url}: {NOT_LOGGED_IN_HINT}", ExitCode.USAGE)
        return self.token
