"""The one place that talks HTTP.

It owns the ``httpx.AsyncClient``, sends the token in exactly one header,
retries idempotent requests (capped exponential backoff with jitter, honouring
``Retry-After``, within the policy's overall time limit), turns error answers
into aioflowserv exceptions that say what to do (an invalid token, a URL
without the API path, a local server that is not running), and streams
downloads. What a message can say depends on where the URL came from: the
client's :class:`~aioflowserv._config.Origin` tells the local server of
``aioflowserv server start`` (which is started by the command and needs no
advice about proxies) from any other. Transport failures are mapped by one context manager,
:func:`map_httpx_errors`, around sending and around reading streamed bodies
alike: no httpx exception and no httpx object leaves this module (the
``event_hooks`` option, :class:`~._config.ClientOptions`, hands the user's
functions each request and response, as httpx's own event hooks do).

Each try of each request is one DEBUG line of the ``aioflowserv.http``
logger: method, path, status (or the failure), try number and milliseconds,
never the token (it travels in a header, which is not logged). The
``AIOFLOWSERV_LOG`` environment variable switches the ``aioflowserv`` loggers
on without code (:func:`apply_log_setting`).
"""

from __future__ import annotations

import contextlib
import email.utils
import inspect
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import attrs
import httpx

from ._config import (
    DEFAULT_PATH,
    REQUEST_LOGGER,
    USER_AGENT,
    EventHook,
    Origin,
    RetryPolicy,
    Settings,
    backoff,
    log_level,
)
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ClientClosedError,
    ConfigurationError,
    InvalidArgumentError,
    InvalidResponseError,
    NotFoundError,
    UnauthenticatedError,
    UnauthorizedError,
    for_request,
    is_pushback,
    may_retry,
    note_attempts,
    retyped,
    status_error,
    with_detail,
)
from ._saved import local_server_url, same_server

if TYPE_CHECKING:
    from ._arguments import FileSource

__all__ = [
    "HTTPClient", "StreamedBody", "apply_log_setting", "build_transport", "check_token",
    "map_httpx_errors",
]

logger = logging.getLogger("aioflowserv")
request_logger = logging.getLogger(REQUEST_LOGGER)

_TOKEN_OK = re.compile(r"^[\x21-\x7e]*$")
_TOKEN_FIELD = re.compile(rb'("token"\s*:\s*")[^"]*')
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_WHOAMI = "users/whoami"
LOGIN_HINT = "log in again (fs.login(), `aioflowserv login`) or pass another token"
LOCAL_DOWN = "the local flowServ server is not running: aioflowserv server start"
"""Said when nothing answers at the local server's address."""



class _LogSettingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stderr handler ``AIOFLOWSERV_LOG`` adds when nothing else would show the lines."""


def apply_log_setting(environ: Mapping[str, str] | None = None) -> None:
    """Set the ``aioflowserv`` logger's level from ``AIOFLOWSERV_LOG`` (when it is set).

    When neither that logger nor the root logger has a handler (an app that
    configured no logging), a handler writing to stderr is added, once; an
    app that configured logging gets the lines through its own handlers.
    """
    level = log_level(environ)
    if level is None:
        return
    package = logging.getLogger("aioflowserv")
    package.setLevel(level)
    if not package.handlers and not logging.getLogger().handlers:
        handler = _LogSettingHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        package.addHandler(handler)


def _async_hook(function: EventHook) -> Callable[[Any], Any]:
    """An event hook httpx's async client can await, from a function that is async or not."""

    async def hook(message: Any) -> None:
        result = function(message)
        if inspect.isawaitable(result):
            await result

    return hook


def _log_try(
    method: str, path: str, outcome: int | str, attempt: int, started: float
) -> None:
    """The request line of one try (see the module docstring)."""
    elapsed = (time.perf_counter() - started) * 1000
    request_logger.debug(
        "%s %s -> %s (try %d, %.1f ms)", method, path, outcome, attempt, elapsed,
        extra={"http_method": method, "http_path": path, "http_status": outcome,
               "attempt": attempt, "elapsed_ms": round(elapsed, 1)},
    )


def check_token(token: str | None) -> str | None:
    """Refuse tokens that cannot travel in a header (without echoing them)."""
    if token is not None and (not isinstance(token, str) or not _TOKEN_OK.match(token)):
        raise ConfigurationError("the token must be printable ASCII without spaces")
    return token


def build_transport(
    settings: Settings, transport: httpx.AsyncBaseTransport | str | None
) -> httpx.AsyncBaseTransport | None:
    """The transport of a client's ``httpx.AsyncClient``, built here and nowhere else.

    The one given (an ``httpx.AsyncBaseTransport``), aiohttp's
    (``settings.transport == "aiohttp"``), or None for httpx's own.
    """
    if isinstance(transport, httpx.AsyncBaseTransport):
        return transport
    if settings.transport == "aiohttp":
        from ._aiohttp import AiohttpTransport

        return AiohttpTransport(verify=settings.verify)
    return None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(0.0, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@contextlib.contextmanager
def map_httpx_errors(
    method: str, path: str, url: str = "", unreachable: Callable[[], str | None] | None = None
) -> Iterator[None]:
    """Turn httpx's transport failures inside the block into :class:`APIConnectionError`.

    Timeouts become :class:`APITimeoutError`. ``request_sent`` is False for
    failures that happen before a byte of the request went out (a refused
    connection, a connect or pool timeout). ``url`` (the API base URL) is
    named when the server cannot be reached at all, after what
    ``unreachable()`` says that means (when the client knows: the local
    server is down; asked only then).
    """
    try:
        yield
    except httpx.HTTPError as exc:
        where = f"{method} {path}"
        sent = not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        if isinstance(exc, httpx.TimeoutException):
            raise APITimeoutError(
                f"{where}: timed out ({type(exc).__name__})",
                method=method, path=path, request_sent=sent,
            ) from None
        detail = str(exc) or type(exc).__name__
        if isinstance(exc, httpx.ConnectError) and url:
            meaning = unreachable() if unreachable is not None else None
            detail = (
                f"{meaning} (nothing answers at {url})" if meaning
                else f"cannot connect to {url} ({detail})"
            )
        elif isinstance(exc, (httpx.ReadError, httpx.RemoteProtocolError)):
            detail = f"the answer broke off ({detail})"
        raise APIConnectionError(
            f"{where}: {detail}", method=method, path=path, request_sent=sent
        ) from None


class StreamedBody:
    """The headers of a streamed answer and its body, read in chunks (errors mapped)."""

    def __init__(self, response: httpx.Response, path: str) -> None:
        self._response = response
        self._path = path
        self.headers: Mapping[str, str] = response.headers

    async def read(self) -> bytes:
        """The whole body."""
        with map_httpx_errors("GET", self._path):
            return await self._response.aread()

    async def chunks(self, chunk_size: int) -> AsyncIterator[bytes]:
        """The body in chunks of up to ``chunk_size`` bytes."""
        with map_httpx_errors("GET", self._path):
            async for chunk in self._response.aiter_bytes(chunk_size):
                yield chunk


def _open_upload(upload: FileSource) -> Any:
    try:
        return upload.open()
    except (OSError, ValueError) as exc:  # gone, unreadable or closed since it was checked
        raise _unreadable(upload, exc) from None


def _unreadable(upload: FileSource, exc: Exception) -> InvalidArgumentError:
    where = str(upload.path) if upload.path is not None else upload.filename
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return InvalidArgumentError(upload.parameter, f"cannot read {where!r}: {reason}")


@attrs.frozen
class _Call:
    """One request as the client sends it (each try builds it anew)."""

    method: str
    path: str
    json_body: Any = None
    upload: FileSource | None = None
    params: Mapping[str, str] | None = None
    auth: bool = False
    idempotent: bool = True
    stream: bool = False
    accept: str | None = None


def _clock() -> float:
    """The clock of the retry policy's time limit: the event loop's, as for the waits between tries.

    A test on a virtual clock (trio's ``MockClock``, a virtual-time asyncio loop)
    sees its tries take exactly the time its transport makes them take.
    """
    return anyio.current_time()


@attrs.define
class _Tries:
    """The tries of one request: how many so far, since when, and whether another may start."""

    policy: RetryPolicy
    phase_timeout: float | None
    started: float = attrs.field(factory=lambda: _clock())
    count: int = 0
    out_of_time: bool = False

    def elapsed(self) -> float:
        """Seconds since the first try started."""
        return _clock() - self.started

    def timeout(self) -> httpx.Timeout | None:
        """The timeout of the next try: the client's, cut to what the overall limit leaves.

        None for the first try (the client's own timeout applies as it is).
        """
        limit = self.policy.timeout
        if self.count <= 1 or limit is None:
            return None
        left = max(limit - self.elapsed(), 0.001)
        return httpx.Timeout(left if self.phase_timeout is None else min(self.phase_timeout, left))

    def may_retry(self, pause: float) -> bool:
        """True if another try may start after waiting ``pause`` seconds."""
        if self.count >= self.policy.attempts:
            return False
        limit = self.policy.timeout
        if limit is not None and self.elapsed() + pause >= limit:
            self.out_of_time = True
            return False
        return True

    def note(self, exc: Any) -> Any:
        """``exc`` with the number of tries and the time they took in its message."""
        why = ""
        if self.out_of_time:
            why = f"; the retry policy's time limit of {self.policy.timeout:g} s was reached"
        return note_attempts(exc, self.count, self.elapsed(), why)


class HTTPClient:
    """A thin, retrying wrapper around one ``httpx.AsyncClient``."""

    def __init__(
        self,
        settings: Settings,
        token: str | None,
        transport: httpx.AsyncBaseTransport | str | None = None,
        *,
        origin: Origin | None = None,
    ) -> None:
        self.settings = settings
        self.origin = origin
        """Where the URL and token came from (None: given as they are); for messages."""
        self._token: str | None = None
        self._valid_token: str | None = None
        self._api_checked = False
        self._closed = False
        self._token_accepted = False
        self.on_pushback: list[Callable[[], None]] = []
        """Called whenever an answer says the server is overloaded (429, 502, 503, 504) or
        none came (a connection error, a timeout), retried or not: adaptive concurrency
        backs off on it (see :meth:`observing_pushback`)."""
        # Request URLs are built by joining strings: an absolute URL spares httpx
        # merging each relative path onto its base URL, about a quarter of its
        # per-request work (``_config.check_id`` checks path segments before they get here).
        self._base = settings.url + "/"
        apply_log_setting()
        hooks = {event: [_async_hook(function) for function in functions]
                 for event, functions in settings.event_hooks.items()}
        self._client = httpx.AsyncClient(
            event_hooks=hooks,
            base_url=self._base,
            timeout=settings.timeout,
            transport=build_transport(settings, transport),
            verify=settings.verify,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )
        self.token = token

    @property
    def token(self) -> str | None:
        """The token sent in the auth header (None: no header)."""
        return self._token

    @token.setter
    def token(self, value: str | None) -> None:
        self._token = check_token(value)
        if value != self._valid_token:
            self._valid_token = None
        self._token_accepted = False
        if value is None:
            self._client.headers.pop(self.settings.auth_header, None)
        else:
            self._client.headers[self.settings.auth_header] = value

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` was called."""
        return self._closed

    async def aclose(self) -> None:
        """Close the connection pool. Idempotent."""
        self._closed = True
        await self._client.aclose()

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError("this client is closed; create a new one")

    @contextlib.contextmanager
    def observing_pushback(self, callback: Callable[[], None]) -> Iterator[None]:
        """Call ``callback`` at each push-back of the server while the block runs."""
        self.on_pushback.append(callback)
        try:
            yield
        finally:
            self.on_pushback.remove(callback)

    def _pushed_back(self) -> None:
        for callback in self.on_pushback:
            callback()

    def trust_token(self) -> None:
        """The current token was just issued by the server (a login): no need to check it."""
        self._valid_token = self._token

    async def check_token(self, method: str, path: str) -> None:
        """Raise :class:`UnauthenticatedError` if the token is invalid or expired.

        Some routes answer whatever the token (the workflow listing, the groups
        of a workflow: all of them, for an invalid token; a group's handle), so
        a wrong token would go unnoticed there. The token is checked with
        ``whoami`` once, then trusted for the life of the client (until it
        changes). ``method`` and ``path`` are the request the caller is about
        to make: a failure of the check is raised as that request's (the
        caller never made a ``whoami``).
        """
        token = self._token
        if token is None or token == self._valid_token:
            return
        try:
            await self.request("GET", _WHOAMI, auth=True)
        except (APIStatusError, APIConnectionError) as exc:
            raise for_request(exc, method, path) from None
        if self._token == token:
            self._valid_token = token

    def check_ready(self, method: str, path: str, *, auth: bool) -> None:
        """Raise, before anything is sent, if the client is closed or a needed token is missing."""
        self._check_open()
        if auth and self._token is None:
            raise UnauthenticatedError(
                "not logged in: no token (log in with fs.login(...) or `aioflowserv login`, "
                "pass token=..., or set FLOWSERV_ACCESS_TOKEN)",
                status_code=403, method=method, path=path,
            )

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        upload: FileSource | None = None,
        params: Mapping[str, str] | None = None,
        auth: bool = False,
        idempotent: bool | None = None,
    ) -> Any:
        """Send a request and return the decoded JSON answer (None for an empty body).

        Errors raise the matching :class:`APIStatusError`; transport failures
        raise :class:`APIConnectionError` (whose ``request_sent`` says whether
        the request may have reached the server). ``idempotent`` (by default:
        by the method) says whether the request may be sent again.
        """
        call = _Call(
            method, path, json_body=json_body, upload=upload, params=params, auth=auth,
            idempotent=method in _IDEMPOTENT if idempotent is None else idempotent,
        )
        content = (await self._send(call)).content
        if not content:
            return None
        try:
            return json.loads(content)
        except ValueError:
            snippet = self.redact(content)[:80].decode("utf-8", errors="replace")
            raise InvalidResponseError(
                f"{method} {path}: the server did not answer with JSON ({snippet!r}); "
                f"is {self.settings.url} a flowServ API URL?"
            ) from None

    async def request_body(self, method: str, path: str, *, auth: bool = False) -> bytes:
        """Send an idempotent request and return the answer's body as it came (not decoded).

        For the watcher's listings, which are read by difference with the last
        one (see :mod:`._listing`) instead of being decoded whole.
        """
        return (await self._send(_Call(method, path, auth=auth))).content

    @asynccontextmanager
    async def stream(self, path: str) -> AsyncIterator[StreamedBody]:
        """Open a streamed GET; the body is read by the caller, inside the context."""
        response = await self._send(_Call("GET", path, stream=True, accept="*/*"))
        try:
            yield StreamedBody(response, path)
        finally:
            await response.aclose()

    async def _send(self, call: _Call) -> httpx.Response:
        """Send ``call``, again while the retry policy allows it; a success answer or raise."""
        self.check_ready(call.method, call.path, auth=call.auth)
        policy = self.settings.retry
        tries = _Tries(policy, self.settings.timeout)
        while True:
            tries.count += 1
            try:
                response = await self._send_once(call, tries.timeout(), tries.count)
            except APIConnectionError as error:
                self._pushed_back()
                pause = backoff(policy, tries.count)
                if (error.request_sent and not call.idempotent) or not tries.may_retry(pause):
                    raise tries.note(error) from None
                logger.debug("%s %s failed: %s", call.method, call.path, error)
                await anyio.sleep(pause)
                continue
            status = response.status_code
            if status < 300:
                if call.auth:
                    self._token_accepted = True
                if call.path == _WHOAMI:
                    self._valid_token = self._token
                return response
            failure = await self._status_error(response, call.method, call.path)
            if is_pushback(failure):
                self._pushed_back()
            if may_retry(status, idempotent=call.idempotent, retry_status=policy.status_codes):
                pause = backoff(policy, tries.count, _retry_after(response))
                if tries.may_retry(pause):
                    logger.info(
                        "%s %s answered %d; retrying (try %d)",
                        call.method, call.path, status, tries.count,
                    )
                    await anyio.sleep(pause)
                    continue
            explained = await self._explain(failure)
            if tries.count > 1 and isinstance(explained, APIStatusError):
                tries.note(explained)
            raise explained

    async def _explain(self, error: APIStatusError) -> Exception:
        """The error that says what to do, for answers that mislead as they are.

        - "not logged in" although a token was sent: the token is invalid or expired;
        - "not authorized": flowServ says so for an invalid token too; one
          ``whoami`` tells that apart from a user who is not a member;
        - a 404 HTML page from the web server (not flowServ's JSON): the URL
          most likely lacks the API path; the service descriptor decides.
        """
        token_sent = self._token is not None
        if isinstance(error, UnauthenticatedError) and token_sent:
            return self._invalid_token(error, self._not_taken())
        if (
            isinstance(error, UnauthorizedError) and token_sent and error.path != _WHOAMI
            and await self._token_rejected()
        ):
            return self._invalid_token(error)
        if isinstance(error, NotFoundError) and error.html and not self._api_checked:
            return await self._check_api_url(error) or error
        return error

    def _invalid_token(self, error: APIStatusError, more: str = "") -> UnauthenticatedError:
        """The server refused the token: the server's word, what it means and what to do.

        Short: the status and the server's text stay in the error's head; the
        detail says "invalid or expired" and how to log in again, and ``more``
        only what may apply here (a proxy that drops the header).
        """
        self._valid_token = None
        invalid = with_detail(
            retyped(error, UnauthenticatedError),
            f"the token is invalid or expired: {LOGIN_HINT}{more}",
        )
        invalid.token_rejected = True
        return invalid

    def _not_taken(self) -> str:
        """Why "not logged in" may come although the token was sent (after the login hint).

        A token the server took before has expired (or the user logged out
        everywhere). Otherwise the header may not have arrived: a proxy or
        gunicorn in front of flowServ drops header names with ``_`` (nginx
        unless ``underscores_in_headers on;``, gunicorn unless
        ``--header-map dangerous``); that advice is left out for the local
        server of ``aioflowserv server start``, which is started so that it
        keeps the header, and for header names without ``_``.
        """
        if self._token_accepted:
            return "; it worked before, so it expired or the user logged out"
        header = self.settings.auth_header
        local = self.origin is not None and self.origin.local_server
        if "_" not in header or local:
            return ""
        return (
            f"; behind a proxy, the {header!r} header may be dropped (nginx: "
            "underscores_in_headers on; gunicorn: --header-map dangerous)"
        )

    def _unreachable(self) -> str | None:
        """What a refused connection means, when the client knows: the local server is down."""
        if self.origin is None or not self.origin.local_server:
            return None
        running = local_server_url()
        if running is not None and not same_server(running, self.settings.url):
            return (
                f"the local flowServ server now runs at {running}: log in there "
                f"(aioflowserv login --url {running}) or use that URL"
            )
        return LOCAL_DOWN

    async def _token_rejected(self) -> bool:
        """Ask ``whoami`` once (no retries) whether the server knows the token."""
        try:
            response = await self._send_once(_Call("GET", _WHOAMI, auth=True), None)
        except APIConnectionError:
            return False
        await response.aclose()
        if response.status_code < 300:
            self._valid_token = self._token
        return response.status_code in (401, 403)

    async def _check_api_url(self, error: NotFoundError) -> ConfigurationError | None:
        """Ask the service descriptor whether the URL is a flowServ API; explain when it is not."""
        if await self._is_api(self._base):
            self._api_checked = True
            return None
        parts = httpx.URL(self._base)
        root = str(parts.copy_with(path="/", query=None, fragment=None))
        suggestion = root.rstrip("/") + DEFAULT_PATH
        guess = (
            f"did you mean {suggestion}?" if await self._is_api(suggestion + "/")
            else f"flowServ's default is {suggestion}"
        )
        return ConfigurationError(
            f"{self.settings.url} is not a flowServ API URL: {error.method} {error.path} "
            f"answered 404 with a web page, and there is no flowServ service descriptor "
            f"at the URL. The URL must include the API path ({DEFAULT_PATH} by default): "
            f"{guess}"
        )

    async def _is_api(self, url: str) -> bool:
        """True if ``url`` answers with a flowServ service descriptor."""
        try:
            with map_httpx_errors("GET", url):
                response = await self._client.get(url)
        except APIConnectionError:
            return False
        try:
            doc = response.json()
        except ValueError:
            return False
        return response.status_code == 200 and isinstance(doc, dict) and "routes" in doc

    async def _send_once(
        self, call: _Call, timeout: httpx.Timeout | None, attempt: int = 1
    ) -> httpx.Response:
        """One try (``timeout``: None for the client's); an upload's content is opened for it.

        ``attempt`` numbers the try in the request line.
        """
        method, path, upload = call.method, call.path, call.upload
        started = time.perf_counter()
        content = _open_upload(upload) if upload is not None else None
        try:
            files: Any = None
            if upload is not None:
                files = {"file": (upload.filename, content, "application/octet-stream")}
            request = self._client.build_request(
                method, self._base + path, json=call.json_body, files=files, params=call.params,
                headers={"Accept": call.accept} if call.accept else None,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
            with map_httpx_errors(method, path, self.settings.url, self._unreachable):
                response = await self._client.send(request, stream=call.stream)
        except APIConnectionError as error:
            _log_try(method, path, type(error).__name__, attempt, started)
            raise
        except OSError as exc:  # httpx maps socket errors: this is reading an upload
            if upload is None:
                raise APIConnectionError(
                    f"{method} {path}: {exc}", method=method, path=path
                ) from None
            raise _unreadable(upload, exc) from None
        finally:
            if upload is not None and upload.path is not None:
                content.close()  # type: ignore[union-attr]
        if request_logger.isEnabledFor(logging.DEBUG):
            _log_try(method, path, response.status_code, attempt, started)
        return response

    async def _status_error(
        self, response: httpx.Response, method: str, path: str
    ) -> APIStatusError:
        try:
            with map_httpx_errors(method, path):
                body = await response.aread()
        except APIConnectionError:
            body = b""
        finally:
            await response.aclose()
        if 300 <= response.status_code < 400:
            location = response.headers.get("location", "")
            return APIStatusError(
                f"unexpected redirect to {location!r} (redirects are not followed; "
                "check the API URL)",
                status_code=response.status_code, method=method, path=path,
            )
        return status_error(
            response.status_code, self.redact(body), response.headers.get("content-type", ""),
            method=method, path=path,
        )

    def redact(self, body: bytes) -> bytes:
        """``body`` with the token (this client's, or any ``"token"`` field) replaced by ``***``.

        Server answers end up in exception messages; a login answer cut short
        or a server that echoes headers must not carry the token there.
        """
        body = _TOKEN_FIELD.sub(rb"\1***", body)
        if self._token:
            body = body.replace(self._token.encode(), b"***")
        return body

