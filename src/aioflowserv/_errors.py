"""The exception hierarchy, and the one place that turns HTTP answers into exceptions.

Every exception raised by aioflowserv derives from :class:`FlowservError`::

    FlowservError
    ├── ConfigurationError (ValueError)       bad URL (no API path), profile, timeout, retries
    ├── ClientClosedError (RuntimeError)      the client was used after close()
    ├── BlockingCallError (RuntimeError)      a sync call from the client's own loop thread
    ├── UnsafePathError (ValueError)          a server name would write outside a directory
    ├── ArgumentError (ValueError)            rejected before anything was sent
    │   ├── UnknownParameterError
    │   └── InvalidArgumentError
    ├── APIConnectionError                    no answer: refused, reset, cut off
    │   └── APITimeoutError (TimeoutError)
    ├── InvalidResponseError                  an answer that is not flowServ's
    ├── APIStatusError                        an error status, with the server's message
    │   ├── InvalidRequestError               400
    │   │   └── PayloadTooLargeError          413
    │   ├── UnauthenticatedError              no token, or an invalid or expired one
    │   ├── UnauthorizedError                 403 "not authorized"
    │   ├── NotFoundError                     404
    │   └── ServerError                       5xx
    ├── SubmissionUncertainError              a start or upload may or may not have happened
    ├── RunWaitTimeout (TimeoutError)         a wait passed its deadline
    └── BatchSubmissionError                  some submissions of a batch failed

Messages name the request (method and path) and the server's own text, never
the token: tokens travel in a header, and headers are never rendered here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

_E = TypeVar("_E", "APIConnectionError", "APIStatusError")

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "ArgumentError",
    "BatchSubmissionError",
    "BlockingCallError",
    "ClientClosedError",
    "ConfigurationError",
    "FlowservError",
    "InvalidArgumentError",
    "InvalidRequestError",
    "InvalidResponseError",
    "NotFoundError",
    "PayloadTooLargeError",
    "RunWaitTimeout",
    "ServerError",
    "SubmissionUncertainError",
    "UnauthenticatedError",
    "UnauthorizedError",
    "UnknownParameterError",
    "UnsafePathError",
    "add_note",
]


class FlowservError(Exception):
    """Base class of every error raised by aioflowserv."""


class ConfigurationError(FlowservError, ValueError):
    """The client settings are unusable: a bad URL, scheme, timeout or retry policy."""


class ClientClosedError(FlowservError, RuntimeError):
    """The client was used after it was closed."""


class BlockingCallError(FlowservError, RuntimeError):
    """A blocking call of the sync facade was made from the client's own event-loop thread.

    Callbacks such as ``on_change`` run in that thread: a sync call there would
    wait for the very loop it blocks. Record what the callback needs (append
    the run to a list, put it on a ``queue.Queue``) and call the client after
    the wait, or use :class:`AsyncFlowserv`.
    """


def _tried(attempts: int, elapsed: float | None) -> str:
    if elapsed is None:
        return ""
    tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
    return f"{tries} in {elapsed:.1f} s"


def note_attempts(exc: _E, attempts: int, elapsed: float, why: str = "") -> _E:
    """Record on ``exc`` how many tries took how long, and say so in its message."""
    exc.attempts = attempts
    exc.elapsed = elapsed
    exc.args = (f"{exc.args[0]} ({_tried(attempts, elapsed)}{why})", *exc.args[1:])
    return exc


class UnsafePathError(FlowservError, ValueError):
    """A name from the server would write outside the directory the caller chose."""


class ArgumentError(FlowservError, ValueError):
    """A run argument was rejected on the client, before anything was sent.

    ``parameter`` is the name of the offending parameter.
    """

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


class UnknownParameterError(ArgumentError):
    """An argument names a parameter that the workflow group does not declare."""

    def __init__(self, parameter: str, known: Sequence[str] = ()) -> None:
        hint = f" (known parameters: {', '.join(sorted(known))})" if known else ""
        super().__init__(parameter, f"unknown parameter {parameter!r}{hint}")


class InvalidArgumentError(ArgumentError):
    """An argument value does not fit its parameter declaration."""

    def __init__(self, parameter: str, reason: str) -> None:
        super().__init__(parameter, f"invalid argument for {parameter!r}: {reason}")
        self.reason = reason


class APIConnectionError(FlowservError):
    """The server could not be reached, or the connection broke.

    ``request_sent`` is False only when the request certainly never left this
    machine (the connection was refused, say): then even a run start may be
    sent again. ``attempts`` and ``elapsed`` tell how many tries were made and
    how many seconds they took together (the message says so too).
    """

    def __init__(
        self, message: str, *, method: str = "", path: str = "", request_sent: bool = True
    ) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.request_sent = request_sent
        self.attempts = 1
        self.elapsed: float | None = None


class APITimeoutError(APIConnectionError, TimeoutError):
    """A request took longer than the configured timeout."""


class InvalidResponseError(FlowservError):
    """The server answered with something that is not what flowServ sends.

    For example HTML where JSON was expected, truncated JSON, missing keys or
    an unknown run state.
    """


class APIStatusError(FlowservError):
    """The server answered with an error status.

    ``status_code`` is the HTTP status and ``message`` the server's own text
    (the ``message`` or ``error`` field of a JSON body, or the text of an HTML
    page). After retries, ``attempts`` and ``elapsed`` tell how many tries
    took how many seconds; ``detail``, when given, is the client's
    explanation, added to the error's text.
    """

    def __init__(
        self, message: str, *, status_code: int, method: str = "", path: str = "",
        detail: str | None = None,
    ) -> None:
        where = f"{method} {path}: " if method else ""
        explained = f": {detail}" if detail else ""
        super().__init__(f"{where}{status_code} {message}{explained}")
        self.message = message
        self.status_code = status_code
        self.method = method
        self.path = path
        self.attempts = 1
        self.elapsed: float | None = None
        self.html = False
        """True when the answer was a web page (the web server's), not flowServ's JSON."""


class InvalidRequestError(APIStatusError):
    """400: the server rejected the request (bad arguments, wrong run state, duplicates)."""


class PayloadTooLargeError(InvalidRequestError):
    """413: an upload is larger than the server accepts."""


class UnauthenticatedError(APIStatusError):
    """No token, or one the server does not accept: invalid or expired ("not logged in").

    flowServ answers an invalid token with "not authorized" on most routes;
    the client then asks ``whoami`` once, and raises this error (not
    :class:`UnauthorizedError`) when the token turns out to be invalid.
    ``token_rejected`` is True then (a token was sent and refused), False
    when there was no token.
    """

    token_rejected = False


class UnauthorizedError(APIStatusError):
    """403 "not authorized": the token is valid, but its user is not a member of the group."""


class NotFoundError(APIStatusError):
    """404: unknown (or deleted) workflow, group, run, file or user."""


class ServerError(APIStatusError):
    """5xx: the server failed while handling the request."""


class SubmissionUncertainError(FlowservError):
    """A run start or an upload may or may not have reached the server.

    The request was sent and no answer came (a timeout or a broken connection),
    so it was not sent again: sending it twice could create two runs. The error
    carries what is needed to check later: ``group_id``, the wire ``arguments``
    of the run start (None for an upload), ``filename`` (for an upload: the
    name the server stores it under), ``sent_at`` (a UTC timestamp taken just
    before sending) and ``candidates``, the ids of runs (or uploaded files)
    that might be it.
    """

    def __init__(
        self,
        message: str,
        *,
        group_id: str,
        arguments: list[dict[str, Any]] | None = None,
        sent_at: str | None = None,
        candidates: Sequence[str] = (),
        filename: str | None = None,
    ) -> None:
        super().__init__(message)
        self.group_id = group_id
        self.arguments = arguments
        self.sent_at = sent_at
        self.candidates = list(candidates)
        self.filename = filename


class RunWaitTimeout(FlowservError, TimeoutError):
    """A wait passed its deadline. The run on the server was left alone.

    ``run`` is the last seen snapshot (an :class:`aioflowserv.Run`) of the run
    that was still active (the first of them, when several were waited for),
    ``pending`` all of them, and ``completed`` the runs of the same wait that
    did end (final snapshots). They are typed ``Any`` here because the
    exceptions sit below the models in the layers.
    """

    def __init__(
        self,
        message: str,
        *,
        run: Any,
        pending: Sequence[Any] = (),
        completed: Sequence[Any] = (),
    ) -> None:
        super().__init__(message)
        self.run = run
        self.pending = list(pending) or [run]
        self.completed = list(completed)


class BatchSubmissionError(FlowservError):
    """Some submissions of a batch failed; the others went through.

    ``results`` holds, in input order, the :class:`aioflowserv.Run` of every
    submission that succeeded and the exception of every one that failed, so
    that no created run is lost. ``runs`` lists just the runs. (Runs are typed
    ``Any`` here: the exceptions sit below the models in the layers.)
    """

    def __init__(self, message: str, results: Sequence[Any]) -> None:
        super().__init__(message)
        self.results: list[Any] = list(results)

    @property
    def runs(self) -> list[Any]:
        """The runs (:class:`aioflowserv.Run`) that were created, in input order."""
        return [item for item in self.results if not isinstance(item, BaseException)]

    @property
    def errors(self) -> list[BaseException]:
        """The errors of the submissions that failed, in input order."""
        return [item for item in self.results if isinstance(item, BaseException)]


def add_note(exc: BaseException, note: str) -> None:
    """Add a note to an exception (shown under its traceback; Python 3.11+, else nothing)."""
    add = getattr(exc, "add_note", None)
    if add is not None:
        add(note)


_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def server_message(body: bytes, content_type: str = "") -> str:
    """Extract the server's explanation from an error body.

    flowServ answers with ``{"message": ...}``, ``{"error": ...}`` or, for
    errors raised by Werkzeug itself, an HTML page. Anything else is shortened.
    """
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return ""
    if text[:1] in "{[":
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, Mapping):
            for key in ("message", "error"):
                value = doc.get(key)
                if isinstance(value, str) and value:
                    return value
    if "html" in content_type or text.lstrip().startswith("<"):
        # Werkzeug pages have a <title> and a <p> with the explanation.
        body_text = _SPACE.sub(" ", _TAG.sub(" ", _TITLE.sub("", text))).strip()
        title = _TITLE.search(text)
        if body_text:
            return body_text[:300]
        if title:
            return title.group(1).strip()[:300]
    return _SPACE.sub(" ", text)[:300]


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: InvalidRequestError,
    401: UnauthenticatedError,
    404: NotFoundError,
    413: PayloadTooLargeError,
}


def status_error(
    status_code: int, body: bytes, content_type: str = "", *, method: str = "", path: str = ""
) -> APIStatusError:
    """Build the exception for an error answer from its status code and body."""
    message = server_message(body, content_type) or f"HTTP {status_code}"
    cls: type[APIStatusError]
    if status_code == 403:
        # flowServ uses 403 for both: a missing/expired token and a non-member.
        cls = UnauthenticatedError if "not logged in" in message.lower() else UnauthorizedError
    elif status_code >= 500:
        cls = ServerError
    else:
        cls = _BY_STATUS.get(status_code, APIStatusError)
    error = cls(message, status_code=status_code, method=method, path=path)
    error.html = "html" in content_type or body.lstrip().startswith(b"<")
    return error
