"""Client settings: base URL, token, timeouts and the retry policy.

Values given to the client win; otherwise they come from flowServ's own
environment variables, so that code written against flowServ's client finds
the same server:

- ``FLOWSERV_URL``: the whole API base URL (a shortcut of aioflowserv's own);
- ``FLOWSERV_API_PROTOCOL``, ``FLOWSERV_API_HOST``, ``FLOWSERV_API_PORT``,
  ``FLOWSERV_API_PATH``: the parts of it, as flowServ reads them (defaults
  ``http``, ``localhost``, ``5000``, ``/flowserv/api/v1``);
- ``FLOWSERV_ACCESS_TOKEN``: the API token.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from urllib.parse import urlsplit

import attrs

from ._errors import ConfigurationError, InvalidArgumentError

__all__ = ["DEFAULT_TIMEOUT", "RetryPolicy", "Settings", "configured_url", "resolve_url"]

DEFAULT_TIMEOUT = 30.0
DEFAULT_PROTOCOL = "http"
DEFAULT_HOST = "localhost"
DEFAULT_PORT = "5000"
DEFAULT_PATH = "/flowserv/api/v1"
ENV_URL = "FLOWSERV_URL"
ENV_TOKEN = "FLOWSERV_ACCESS_TOKEN"
ENV_PARTS = ("FLOWSERV_API_PROTOCOL", "FLOWSERV_API_HOST", "FLOWSERV_API_PORT", "FLOWSERV_API_PATH")
RETRY_STATUS = frozenset({429, 502, 503, 504})


def _non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ConfigurationError(f"{attribute.name} must not be negative, got {value!r}")


@attrs.frozen
class RetryPolicy:
    """How idempotent requests are retried.

    A request is tried at most ``attempts`` times. Between tries the client
    waits ``initial_wait * 2**n`` seconds (n = 0, 1, ...), capped at
    ``max_wait``, plus up to ``jitter`` seconds at random; a ``Retry-After``
    header from the server takes precedence (still capped at ``max_wait``).
    Connection errors and the statuses in ``status_codes`` are retried.

    Run starts and uploads are never sent twice once they may have reached
    the server, whatever the policy says. ``RetryPolicy(attempts=1)`` turns
    retries off; ``RetryPolicy(initial_wait=0, jitter=0)`` keeps them but
    without waiting (handy in tests).
    """

    attempts: int = attrs.field(default=4)
    initial_wait: float = attrs.field(default=0.2, validator=_non_negative)
    max_wait: float = attrs.field(default=5.0, validator=_non_negative)
    jitter: float = attrs.field(default=0.2, validator=_non_negative)
    status_codes: frozenset[int] = attrs.field(default=RETRY_STATUS, converter=frozenset)

    @attempts.validator
    def _check_attempts(self, attribute: attrs.Attribute[int], value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigurationError(f"attempts must be an int >= 1, got {value!r}")

    @classmethod
    def from_retries(cls, retries: int | RetryPolicy) -> RetryPolicy:
        """Build a policy from the client's ``retries`` argument (a count or a policy)."""
        if isinstance(retries, RetryPolicy):
            return retries
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ConfigurationError(
                f"retries must be a RetryPolicy or an int >= 0, got {retries!r}"
            )
        return cls(attempts=retries + 1)


def check_seconds(value: object, name: str, *, zero: bool = False) -> float:
    """Check a number of seconds given to a call (a deadline or an interval).

    Raises :class:`InvalidArgumentError` naming the argument (a ``ValueError``
    too) for anything but a finite, positive number (or zero, with ``zero``).
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or math.isnan(value)
        or math.isinf(value)
        or value < 0
        or (value == 0 and not zero)
    ):
        kind = "non-negative" if zero else "positive"
        raise InvalidArgumentError(
            name, f"expected a finite, {kind} number of seconds, got {value!r}"
        )
    return float(value)


def configured_url(environ: Mapping[str, str] | None = None) -> str | None:
    """Return the API URL configured in the environment, or None when nothing is set."""
    env = os.environ if environ is None else environ
    if env.get(ENV_URL):
        return env[ENV_URL]
    if not any(env.get(name) for name in ENV_PARTS):
        return None
    protocol = env.get("FLOWSERV_API_PROTOCOL") or DEFAULT_PROTOCOL
    host = env.get("FLOWSERV_API_HOST") or DEFAULT_HOST
    port = env.get("FLOWSERV_API_PORT") or DEFAULT_PORT
    path = env.get("FLOWSERV_API_PATH") or DEFAULT_PATH
    netloc = host if port == "80" else f"{host}:{port}"  # as flowServ builds it
    return f"{protocol}://{netloc}/{path.strip('/')}"


def resolve_url(url: str | None, environ: Mapping[str, str] | None = None) -> str:
    """Return the checked API base URL (no trailing slash).

    ``url`` wins; then the environment; then flowServ's default
    ``http://localhost:5000/flowserv/api/v1``.
    """
    if url is None:
        url = configured_url(environ) or (
            f"{DEFAULT_PROTOCOL}://{DEFAULT_HOST}:{DEFAULT_PORT}{DEFAULT_PATH}"
        )
    if not isinstance(url, str):
        raise ConfigurationError(f"url must be a string, got {type(url).__name__}")
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError as exc:
        raise ConfigurationError(f"invalid server URL {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigurationError(
            f"invalid server URL {url!r}: the scheme must be http or https"
        )
    if not parts.hostname:
        raise ConfigurationError(f"invalid server URL {url!r}: no host")
    if parts.username or parts.password:
        raise ConfigurationError("invalid server URL: credentials in the URL are not supported")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"invalid server URL {url!r}: no query or fragment allowed")
    return url.rstrip("/")


def resolve_token(token: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """Return the token given, else ``FLOWSERV_ACCESS_TOKEN``, else None."""
    if token is not None:
        if not isinstance(token, str):
            raise ConfigurationError("token must be a string")
        return token
    env = os.environ if environ is None else environ
    return env.get(ENV_TOKEN) or None


@attrs.frozen(repr=False)
class Settings:
    """Everything a client needs to talk to one server. The token is not part of it."""

    url: str
    timeout: float | None
    retry: RetryPolicy
    auth_header: str
    verify: bool

    def __repr__(self) -> str:
        return f"Settings(url={self.url!r}, timeout={self.timeout!r}, retry={self.retry!r})"
