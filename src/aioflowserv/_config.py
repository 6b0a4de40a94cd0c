"""Client settings, every default and limit, the retry policy, and the validators.

The validators check a number of seconds (:func:`check_seconds`), a count
(:func:`check_count`) and an identifier (:func:`check_id`), each in one place.

The server and the token are found by :func:`resolve_origin`, first match
wins (the same order for both clients and the command line):

1. the arguments (``url=``, ``token=``; a ``profile=`` names a saved login);
2. flowServ's own environment variables, so that code written against
   flowServ's client finds the same server: ``FLOWSERV_URL`` (the whole API
   base URL, a shortcut of aioflowserv's own), or ``FLOWSERV_API_PROTOCOL``,
   ``FLOWSERV_API_HOST``, ``FLOWSERV_API_PORT``, ``FLOWSERV_API_PATH`` (the
   parts, defaults ``http``, ``localhost``, ``5000``, ``/flowserv/api/v1``),
   and ``FLOWSERV_ACCESS_TOKEN``;
3. the login saved by ``aioflowserv login`` (the profile of
   ``FLOWSERV_PROFILE``, else ``default``); its token only ever goes to the
   server that issued it;
4. the local server of ``aioflowserv server start``;
5. flowServ's default URL, ``http://localhost:5000/flowserv/api/v1``.

Both clients take the same options (:class:`ClientOptions`), checked once
into :class:`Settings`.
"""

from __future__ import annotations

import importlib.util
import math
import os
import random
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from importlib import metadata
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlsplit

import attrs

from ._errors import RETRY_STATUS, ConfigurationError, InvalidArgumentError
from ._saved import (
    ENV_PROFILE,
    config_path,
    last_local_url,
    local_server_url,
    profile_name,
    same_server,
    saved_logins,
)

if sys.version_info >= (3, 11):
    from typing import TypedDict, Unpack
else:  # pragma: no cover - Python 3.10
    from typing_extensions import TypedDict, Unpack

if TYPE_CHECKING:
    import httpx


def _package_version() -> str:
    """The version in the package's metadata; ``0+unknown`` in a source tree without it."""
    try:
        return metadata.version("aioflowserv")
    except metadata.PackageNotFoundError:  # pragma: no cover - not installed
        return "0+unknown"

__all__ = [
    "AUTO_MAX_CONCURRENCY",
    "CANCEL_CONCURRENCY",
    "CHUNK_SIZE",
    "CLEANUP_TIMEOUT",
    "DEFAULT_AUTH_HEADER",
    "DEFAULT_MAX_INTERVAL",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_POLL_SHARE",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "DOWNLOAD_CONCURRENCY",
    "ENV_LOG",
    "ENV_TRANSPORT",
    "FATAL_AFTER",
    "FETCH_BATCH",
    "FETCH_CONCURRENCY",
    "FIRST_POSTPROC_GRACE",
    "HOOK_EVENTS",
    "LOG_LEVELS",
    "POLL_GROWTH",
    "POLL_JITTER",
    "PORT_WAIT",
    "POSTPROC_GRACE",
    "PREFETCH_LIMIT",
    "RESOLVE_DELAYS",
    "REQUEST_LOGGER",
    "RESOLVE_SKEW",
    "SERVER_START_TIMEOUT",
    "SERVER_STOP_TIMEOUT",
    "STREAM_GIVE_UP",
    "SUPERVISOR_START_TIMEOUT",
    "TRANSPORTS",
    "USER_AGENT",
    "VERSION",
    "ClientOptions",
    "EventHook",
    "TransportName",
    "Origin",
    "RetryPolicy",
    "Settings",
    "Unpack",
    "backoff",
    "check_count",
    "check_event_hooks",
    "check_id",
    "check_seconds",
    "check_transport",
    "configured_url",
    "log_level",
    "resolve_origin",
    "resolve_token",
    "resolve_url",
]

DEFAULT_TIMEOUT = 30.0
"""Seconds each phase of a request (connect, send, each read) may take."""

DEFAULT_POLL_INTERVAL = 1.0
"""Seconds between a wait's first polls."""

DEFAULT_MAX_INTERVAL = 5.0
"""The poll interval grows up to this while nothing changes."""

DEFAULT_RETRY_TIMEOUT = 60.0
"""Seconds all the tries of one request may take together (see :class:`RetryPolicy`)."""

CLEANUP_TIMEOUT = 10.0
"""Seconds a clean-up may take once its caller was cancelled (it is shielded from it):
cancelling runs on the server after a wait with ``cancel_remote`` was cancelled, or
deleting the uploads of a run start that failed."""

AUTO_MAX_CONCURRENCY = 96
"""The most submissions of a batch that ``concurrency="auto"`` ever has in flight at once."""

DEFAULT_RETRIES = 3
"""How often a client retries an idempotent request unless told otherwise (``retries=``)."""

DEFAULT_AUTH_HEADER = "api_key"
"""The request header the token travels in: flowServ's own."""

CANCEL_CONCURRENCY = 8
"""How many cancels of a group-wide cancel are in flight at once, unless told otherwise."""

DOWNLOAD_CONCURRENCY = 4
"""How many runs are downloaded at once, unless told otherwise."""

FETCH_CONCURRENCY = 8
"""How many full run records the watcher fetches at once (runs that just ended), alongside its
listings: a tick is not held up by the fetches of the one before."""

FETCH_BATCH = 32
"""Runs seen ending are reported in batches of up to this many answers, each batch in the
order the runs ended (all of them together, when fewer ended at once)."""

DEFAULT_POLL_SHARE = 0.1
"""The most of its time a server (and the client) spends on one client's listings: a group
whose listing takes longer than a bare round trip (thousands of runs) is listed less often,
at least ``extra time * groups / poll_share`` apart, whatever ``max_interval`` says."""

POLL_GROWTH = 1.5
"""While nothing changes, each poll interval is this multiple of the last (up to the maximum)."""

POLL_JITTER = 0.1
"""Poll intervals vary at random by up to this share, so that many clients do not poll in step."""

FATAL_AFTER = 5
"""Consecutive failures of a group's listing (or of a run's record) before its waits fail.

Transport failures and gateway answers (502/503/504) do not count: they are
retried until the waits' deadlines.
"""

STREAM_GIVE_UP = 60.0
"""Seconds a group stream retries a listing that keeps failing before it raises the error."""

POSTPROC_GRACE = 10.0
"""Seconds to wait for the server to create the post-processing run a ranked run triggered."""

FIRST_POSTPROC_GRACE = 2.0
"""The same while the workflow has no post-processing run yet (it may have none at all)."""

RESOLVE_SKEW = timedelta(seconds=5)
"""Clock difference tolerated between this machine and the server when matching by time."""

RESOLVE_DELAYS = (0.0, 0.25, 0.5, 1.0, 2.0)
"""Pauses before each search: the server may still be committing the run or file."""

PREFETCH_LIMIT = 1 << 20
"""Bodies up to this size (by Content-Length) are read with the first request."""

CHUNK_SIZE = 1 << 16
"""Bytes per chunk when a download is streamed (to disk or to the caller)."""

SERVER_START_TIMEOUT = 60.0
"""Seconds a local flowServ server (``FlowservServer.start``), or its PostgreSQL, may take
to start answering."""

SERVER_STOP_TIMEOUT = 15.0
"""Seconds a stopping local process (the background server's supervisor, PostgreSQL) gets
before it is killed."""

PORT_WAIT = 2.0
"""Seconds ``aioflowserv server start`` waits for its last port to be let go (a server still
stopping) before it chooses another one."""

SUPERVISOR_START_TIMEOUT = 120.0
"""Seconds ``aioflowserv server start`` waits for the background server to answer (its
PostgreSQL, the workflows' installation and the server itself, the first time)."""

VERSION = _package_version()
"""aioflowserv's version (``afs.__version__``), from the installed package's metadata."""

USER_AGENT = f"aioflowserv/{VERSION}"
"""The ``User-Agent`` header of every request."""

DEFAULT_PROTOCOL = "http"
DEFAULT_HOST = "localhost"
DEFAULT_PORT = "5000"
DEFAULT_PATH = "/flowserv/api/v1"
ENV_URL = "FLOWSERV_URL"
ENV_TOKEN = "FLOWSERV_ACCESS_TOKEN"
ENV_PARTS = ("FLOWSERV_API_PROTOCOL", "FLOWSERV_API_HOST", "FLOWSERV_API_PORT", "FLOWSERV_API_PATH")
ENV_LOG = "AIOFLOWSERV_LOG"
"""The environment variable that switches on the ``aioflowserv`` logger (see :func:`log_level`)."""
LOG_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
"""The values of :data:`ENV_LOG` and the ``logging`` levels they stand for."""
REQUEST_LOGGER = "aioflowserv.http"
"""The logger of the request lines: one DEBUG line per try of each request."""
HOOK_EVENTS = ("request", "response")
"""The events of the ``event_hooks`` option (httpx's)."""
_UNSAFE_ID = re.compile(r"[/\\?#%\s\x00-\x1f\x7f]")


TransportName = Literal["httpx", "aiohttp"]
"""The HTTP stacks a client can send with (``transport="aiohttp"``: the ``aiohttp`` extra)."""

TRANSPORTS: tuple[TransportName, ...] = ("httpx", "aiohttp")
"""The names ``transport=`` takes; the first is the default."""

ENV_TRANSPORT = "AIOFLOWSERV_TRANSPORT"
"""The environment variable naming the transport of clients given none (``httpx``, ``aiohttp``)."""


def check_transport(value: object, environ: Mapping[str, str] | None = None) -> str:
    """The name of a client's transport: ``"httpx"``, ``"aiohttp"``, or ``"custom"`` (an object).

    ``None`` reads :data:`ENV_TRANSPORT` (default ``"httpx"``). An unknown name,
    or ``"aiohttp"`` without aiohttp installed, raises :class:`ConfigurationError`.
    """
    source = "transport"
    if value is None:
        env = os.environ if environ is None else environ
        value, source = env.get(ENV_TRANSPORT) or TRANSPORTS[0], ENV_TRANSPORT
    if not isinstance(value, str):
        return "custom"
    name = value.strip().lower()
    if name not in TRANSPORTS:
        choices = ", ".join(repr(t) for t in TRANSPORTS)
        raise ConfigurationError(
            f"{source}: unknown transport {value!r} (expected {choices}, or an "
            "httpx.AsyncBaseTransport)"
        )
    if name == "aiohttp" and importlib.util.find_spec("aiohttp") is None:
        raise ConfigurationError(
            f"{source}: transport 'aiohttp' needs aiohttp: install the aiohttp extra "
            "(pip install 'aioflowserv[aiohttp]')"
        )
    return name


def _check_share(value: object) -> float:
    if (
        isinstance(value, bool) or not isinstance(value, (int, float))
        or not 0 < value <= 1  # (NaN fails this too)
    ):
        raise ConfigurationError(f"poll_share must be a number in (0, 1], got {value!r}")
    return float(value)


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

    ``timeout`` bounds the tries of one request together: no try starts
    once it has passed, and a retry gets only the time that is left (each
    phase of it still at most the client's ``timeout``), so a server that
    accepts connections and never answers fails after about ``timeout``
    seconds, not ``attempts`` times the client's timeout. The first try is
    bounded by the client's ``timeout`` alone. ``None``: no overall limit.
    Errors say how many tries were made and how long they took.

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
    timeout: float | None = attrs.field(default=DEFAULT_RETRY_TIMEOUT)

    @timeout.validator
    def _check_timeout(self, attribute: attrs.Attribute[float | None], value: object) -> None:
        if value is not None:
            check_seconds(value, "RetryPolicy timeout", setting=True)

    @attempts.validator
    def _check_attempts(self, attribute: attrs.Attribute[int], value: int) -> None:
        check_count(value, "attempts", setting=True)

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


def backoff(policy: RetryPolicy, attempt: int, hint: float | None = None) -> float:
    """Seconds to wait before try ``attempt + 1``: exponential, capped, with jitter.

    ``hint`` is the server's ``Retry-After`` (still capped at ``max_wait``).
    """
    if hint is not None:
        return min(policy.max_wait, hint)
    base: float = min(policy.max_wait, policy.initial_wait * 2.0 ** (attempt - 1))
    return base + (random.uniform(0, policy.jitter) if policy.jitter else 0.0)


def check_seconds(value: object, name: str, *, zero: bool = False, setting: bool = False) -> float:
    """Check a number of seconds: a deadline, an interval, a timeout.

    Anything but a finite, positive number (or zero, with ``zero``) raises a
    ``ValueError`` naming it: :class:`ConfigurationError` for a client
    ``setting``, else :class:`InvalidArgumentError` (an argument of a call).
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
        reason = f"expected a finite, {kind} number of seconds, got {value!r}"
        if setting:
            raise ConfigurationError(f"{name}: {reason}")
        raise InvalidArgumentError(name, reason)
    return float(value)


def check_count(value: object, name: str, *, minimum: int = 1, setting: bool = False) -> int:
    """Check a count: a concurrency, a number of workers or of attempts.

    Anything but an int (bools are not counts) of at least ``minimum`` raises
    a ``ValueError`` naming it: :class:`ConfigurationError` for a client
    ``setting``, else :class:`InvalidArgumentError` (an argument of a call).
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        if setting:
            raise ConfigurationError(f"{name} must be an int >= {minimum}, got {value!r}")
        raise InvalidArgumentError(name, f"expected an int >= {minimum}, got {value!r}")
    return value


def check_id(value: object, what: str) -> str:
    """Check an identifier (``what`` names it: ``"run_id"``); returns it as one URL path segment.

    flowServ's server decodes ``%2F`` before routing, so escaping alone cannot
    keep an id from reaching another route: ids with path characters are
    refused (:class:`InvalidArgumentError`); any other character is escaped.
    """
    if not isinstance(value, str) or not value or value in (".", ".."):
        raise InvalidArgumentError(what, f"expected a non-empty id, got {value!r}")
    if _UNSAFE_ID.search(value):
        raise InvalidArgumentError(what, f"invalid id {value!r}: it contains path characters")
    return quote(value, safe="")


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
class Origin:
    """The server and token a client uses, and where each came from (for messages).

    ``url_source`` and ``token_source`` are ``"argument"``, ``"profile"``,
    ``"environment"`` (the token: ``"FLOWSERV_ACCESS_TOKEN"``), ``"saved
    login"``, ``"local server"`` or ``"default"``; ``profile`` names the saved
    login used, and ``username`` its user. ``local_server`` is True when the
    URL is the address of the local server of ``aioflowserv server start``
    (running, or where it last ran), whatever the source: a saved login made
    against it, say. Errors use it to say "the local server is not running"
    instead of "cannot connect", and to leave out advice about proxies.
    """

    url: str
    token: str | None
    url_source: str
    token_source: str | None
    username: str | None = None
    profile: str | None = None
    local_server: bool = False

    def __repr__(self) -> str:
        return (
            f"Origin(url={self.url!r}, url_source={self.url_source!r}, "
            f"token_source={self.token_source!r}, profile={self.profile!r}, "
            f"local_server={self.local_server!r})"
        )


def resolve_origin(
    url: str | None = None,
    token: str | None = None,
    *,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
    require_profile: bool = True,
) -> Origin:
    """Find the server and the token, in the order of the module docstring.

    A ``profile`` given here counts as an argument: its saved login wins over
    the environment (``url``/``token`` still win over it). A profile that was
    asked for (here or in ``FLOWSERV_PROFILE``) and has no saved login raises
    :class:`ConfigurationError`, unless ``require_profile`` is False (for
    ``aioflowserv login``, which creates it). A saved token is only ever used
    for the server it was issued by.
    """
    env = os.environ if environ is None else environ
    name = profile_name(profile, env)
    logins = saved_logins()
    login = logins.get(name)
    if login is None and require_profile and (profile is not None or env.get(ENV_PROFILE)):
        known = ", ".join(sorted(logins)) or "none yet"
        raise ConfigurationError(
            f"no saved login for profile {name!r} (profiles: {known}); "
            f"log in with `aioflowserv login --profile {name}`"
        )
    source: str
    if url is not None:
        source = "argument"
    elif profile is not None and login is not None:
        url, source = login.url, "profile"
    elif (env_url := configured_url(env)) is not None:
        url, source = env_url, "environment"
    elif login is not None:
        url, source = login.url, "saved login"
    elif (local := local_server_url()) is not None:
        url, source = local, "local server"
    else:
        source = "default"
    saved = source in ("profile", "saved login")
    try:
        checked = resolve_url(url, env)
    except ConfigurationError as exc:
        where = f"profile {name!r} in {config_path()}" if saved else source
        raise ConfigurationError(f"{exc} (from the {where})") from None
    # A saved token only ever goes to the server it was issued by.
    mine = login if login is not None and same_server(login.url, checked) else None
    token_source: str | None = None
    if token is not None:
        token_source = "argument"
        resolve_token(token)
    elif profile is not None and mine is not None:
        token, token_source = mine.token, "profile"
    elif env.get(ENV_TOKEN):
        token, token_source = env[ENV_TOKEN], ENV_TOKEN
    elif mine is not None:
        token, token_source = mine.token, "saved login"
    uses_login = saved or token_source in ("profile", "saved login")
    local = last_local_url() if source != "local server" else checked
    return Origin(
        checked, token or None, source, token_source,
        username=mine.username if mine is not None and uses_login else None,
        profile=name if uses_login else None,
        local_server=local is not None and same_server(local, checked),
    )


def log_level(environ: Mapping[str, str] | None = None) -> int | None:
    """The level :data:`ENV_LOG` asks of the ``aioflowserv`` logger, or None when it is unset.

    ``AIOFLOWSERV_LOG=debug`` shows a line for each try of each request
    (method, path, status, try, milliseconds; never the token) on the
    :data:`REQUEST_LOGGER`, besides the retries and warnings; ``info`` the
    retries, batches' concurrency and warnings; ``warning`` and ``error``
    less. Another value is a :class:`ConfigurationError`.
    """
    env = os.environ if environ is None else environ
    value = env.get(ENV_LOG, "").strip().lower()
    if not value:
        return None
    if value not in LOG_LEVELS:
        raise ConfigurationError(
            f"{ENV_LOG}={env[ENV_LOG]!r} is not a log level: use one of {', '.join(LOG_LEVELS)}"
        )
    return LOG_LEVELS[value]


EventHook = Callable[[Any], Any]
"""A function called with each ``httpx.Request`` (or ``httpx.Response``); async or not."""


def check_event_hooks(hooks: object) -> dict[str, tuple[EventHook, ...]]:
    """``{"request": [...], "response": [...]}`` checked: known events, callables."""
    if hooks is None:
        return {}
    if not isinstance(hooks, Mapping):
        raise ConfigurationError(
            "event_hooks must map 'request' and/or 'response' to lists of functions"
        )
    checked: dict[str, tuple[EventHook, ...]] = {}
    for event, functions in hooks.items():
        if event not in HOOK_EVENTS:
            raise ConfigurationError(
                f"event_hooks: unknown event {event!r} (use {' or '.join(map(repr, HOOK_EVENTS))})"
            )
        listed = (functions,) if callable(functions) else tuple(functions)
        if not all(callable(function) for function in listed):
            raise ConfigurationError(f"event_hooks[{event!r}] must be functions")
        checked[event] = listed
    return checked


class ClientOptions(TypedDict, total=False):
    """The options both clients take besides ``url`` and ``token`` (all keyword-only).

    - ``timeout``: seconds each phase of each request may take
      (:data:`DEFAULT_TIMEOUT`; None: no limit);
    - ``retries``: how often idempotent requests are retried, a count or a
      :class:`RetryPolicy` (default 3);
    - ``transport``: the HTTP stack, ``"httpx"`` (the default, or
      :data:`ENV_TRANSPORT`) or ``"aiohttp"`` (httpx's API over aiohttp's
      connection pool: less CPU per request, asyncio only; the ``aiohttp``
      extra), or an ``httpx.AsyncBaseTransport`` for the internal
      ``httpx.AsyncClient`` (tests, custom networking);
    - ``auth_header``: the header the token travels in (flowServ's ``api_key``);
    - ``verify``: verify TLS certificates (default True);
    - ``poll_interval``, ``max_interval``: seconds between the polls of a
      wait, first and at most (:data:`DEFAULT_POLL_INTERVAL`,
      :data:`DEFAULT_MAX_INTERVAL`), unless a wait says otherwise;
    - ``poll_share``: the most of its time the server may spend on this
      client's listings, in (0, 1] (:data:`DEFAULT_POLL_SHARE`): huge groups
      are listed less often;
    - ``profile``: the saved login (``aioflowserv login --profile NAME``) to
      use when no ``url``/``token`` are given (see :func:`resolve_origin`);
    - ``event_hooks``: ``{"request": [f, ...], "response": [g, ...]}``, functions
      (async or not) the internal ``httpx.AsyncClient`` calls with each
      ``httpx.Request`` before it is sent and each ``httpx.Response`` when its
      headers arrived, for every try: metrics, tracing, your own logging.
      The request carries the token in its auth header: do not log headers.
    """

    timeout: float | None
    retries: int | RetryPolicy
    transport: httpx.AsyncBaseTransport | TransportName | None
    auth_header: str
    verify: bool
    poll_interval: float
    max_interval: float
    poll_share: float
    profile: str | None
    event_hooks: Mapping[str, Sequence[EventHook]] | None


@attrs.frozen(repr=False)
class Settings:
    """Everything a client needs to talk to one server, checked. The token is not part of it.

    ``transport`` names the HTTP stack: ``"httpx"``, ``"aiohttp"``, or
    ``"custom"`` (an ``httpx.AsyncBaseTransport`` was given).
    """

    url: str
    timeout: float | None = DEFAULT_TIMEOUT
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    auth_header: str = DEFAULT_AUTH_HEADER
    verify: bool = True
    poll_interval: float = DEFAULT_POLL_INTERVAL
    max_interval: float = DEFAULT_MAX_INTERVAL
    event_hooks: Mapping[str, tuple[EventHook, ...]] = attrs.field(factory=dict, hash=False)
    transport: str = TRANSPORTS[0]
    poll_share: float = DEFAULT_POLL_SHARE

    @classmethod
    def create(cls, url: str | None, owner: str, **options: Unpack[ClientOptions]) -> Settings:
        """Check a client's options (``owner`` is the client's name, for errors)."""
        unknown = sorted(set(options) - set(ClientOptions.__annotations__))
        if unknown:
            raise TypeError(f"{owner}() got an unexpected keyword argument {unknown[0]!r}")
        timeout = options.get("timeout", DEFAULT_TIMEOUT)
        auth_header = options.get("auth_header", DEFAULT_AUTH_HEADER)
        if not isinstance(auth_header, str) or not auth_header.strip():
            raise ConfigurationError("auth_header must be a non-empty header name")
        return cls(
            url=resolve_url(url),
            timeout=None if timeout is None else check_seconds(timeout, "timeout", setting=True),
            retry=RetryPolicy.from_retries(options.get("retries", DEFAULT_RETRIES)),
            auth_header=auth_header,
            verify=options.get("verify", True),
            poll_interval=check_seconds(
                options.get("poll_interval", DEFAULT_POLL_INTERVAL), "poll_interval", setting=True
            ),
            max_interval=check_seconds(
                options.get("max_interval", DEFAULT_MAX_INTERVAL), "max_interval", setting=True
            ),
            event_hooks=check_event_hooks(options.get("event_hooks")),
            transport=check_transport(options.get("transport")),
            poll_share=_check_share(options.get("poll_share", DEFAULT_POLL_SHARE)),
        )

    def __repr__(self) -> str:
        return (
            f"Settings(url={self.url!r}, timeout={self.timeout!r}, retry={self.retry!r}, "
            f"transport={self.transport!r})"
        )
