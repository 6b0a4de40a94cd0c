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
    │   │   ├── PayloadTooLargeError          413
    │   │   └── RunNotActiveError             cancelling a run that already ended (.state)
    │   ├── UnauthenticatedError              no token, or an invalid or expired one
    │   ├── UnauthorizedError                 403 "not authorized"
    │   ├── NotFoundError                     404
    │   └── ServerError                       5xx
    ├── SubmissionUncertainError              a start or upload may or may not have happened
    ├── RunWaitTimeout (TimeoutError)         a wait passed its deadline
    └── BatchSubmissionError                  some submissions of a batch failed

Messages name the request (method and path) and the server's own text, never
the token: tokens travel in a header, and headers are never rendered here.
flowServ's texts that carry Python object reprs (``invalid operation for run in
state <bound method RunObject.state of <... object at 0x...>>``) are cleaned
here, in :func:`server_message`, the one place an answer's text is read; where
the client knows more (the run's state), it says so in a typed error
(:class:`RunNotActiveError`, made by the caller that can read the run).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

_E = TypeVar("_E", bound="_RequestError")
_X = TypeVar("_X", bound=BaseException)

__all__ = [
    "STATE_REFUSED",
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
    "RunNotActiveError",
    "RunWaitTimeout",
    "ServerError",
    "SubmissionUncertainError",
    "UnauthenticatedError",
    "UnauthorizedError",
    "UnknownParameterError",
    "UnsafePathError",
    "add_note",
    "clean_message",
    "for_request",
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
    wait for the very loop it blocks. It is raised in the callback, ends the
    call the callback was given to (a wait, a start), and reaches that call's
    caller. Record what the callback needs (append the run to a list, put it
    on a ``queue.Queue``) and call the client after the wait, or use
    :class:`AsyncFlowserv`.
    """


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


class _RequestError(FlowservError):
    """An error of one request: its text, the client's explanation, and the tries it took.

    The message is rendered from these parts, so that adding an explanation
    (:func:`with_detail`) or the count of tries (:func:`note_attempts`) keeps
    everything else the error carries.
    """

    method: str
    path: str
    detail: str | None
    attempts: int
    elapsed: float | None
    stopped: str

    def _begin(self, method: str, path: str, detail: str | None) -> None:
        self.method = method
        self.path = path
        self.detail = detail
        self.attempts = 1
        self.elapsed = None
        self.stopped = ""
        self._render()

    def _head(self) -> str:
        raise NotImplementedError

    def _render(self) -> None:
        explained = f": {self.detail}" if self.detail else ""
        tried = ""
        if self.elapsed is not None:
            tries = "1 attempt" if self.attempts == 1 else f"{self.attempts} attempts"
            tried = f" ({tries} in {self.elapsed:.1f} s{self.stopped})"
        self.args = (f"{self._head()}{explained}{tried}",)


class APIConnectionError(_RequestError):
    """The server could not be reached, or the connection broke.

    ``request_sent`` is False only when the request certainly never left this
    machine (the connection was refused, say): then even a run start may be
    sent again. ``attempts`` and ``elapsed`` tell how many tries were made and
    how many seconds they took together (the message says so too).
    """

    def __init__(
        self, message: str, *, method: str = "", path: str = "", request_sent: bool = True,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.request_sent = request_sent
        self._text = message
        self._begin(method, path, detail)

    def _head(self) -> str:
        return self._text


class APITimeoutError(APIConnectionError, TimeoutError):
    """A request took longer than the configured timeout."""


class InvalidResponseError(FlowservError):
    """The server answered with something that is not what flowServ sends.

    For example HTML where JSON was expected, truncated JSON, missing keys or
    an unknown run state.
    """


class APIStatusError(_RequestError):
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
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.html = False
        """True when the answer was a web page (the web server's), not flowServ's JSON."""
        self._begin(method, path, detail)

    def _head(self) -> str:
        where = f"{self.method} {self.path}: " if self.method else ""
        return f"{where}{self.status_code} {self.message}"


class InvalidRequestError(APIStatusError):
    """400: the server rejected the request (bad arguments, wrong run state, duplicates)."""


class PayloadTooLargeError(InvalidRequestError):
    """413: an upload is larger than the server accepts."""


class RunNotActiveError(InvalidRequestError):
    """400: the run is no longer active (it ended before the cancel arrived), so nothing changed.

    flowServ answers such a cancel with a 400 that does not name the state; the
    client reads the run once to say it. ``state`` is the run's state (an
    :class:`aioflowserv.RunState`: SUCCESS, ERROR or CANCELED) and ``run`` the
    snapshot read (typed ``Any`` here: the exceptions sit below the models).
    Group cancels (``cancel_runs``) and ``cancel_remote`` treat it as
    "nothing to cancel".
    """

    state: Any = None
    run: Any = None


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


_OBJECT_REPR = re.compile(r"<(?:[A-Za-z_][\w]*\.)*([A-Za-z_]\w*) object at 0x[0-9a-fA-F]+>")
_BOUND_METHOD = re.compile(r"<bound method [^<>]*>")
_STATE_REFUSED = re.compile(r"^invalid operation for run in state\b")
STATE_REFUSED = "invalid operation for the run in its current state"
"""flowServ's refusal to cancel a run that ended or delete one that is active, cleaned."""

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
_TITLE = re.compile(r"<title>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def clean_message(text: str) -> str:
    """The text of a flowServ answer without the Python object reprs some of them carry.

    ``invalid operation for run in state <bound method RunObject.state of
    <flowserv.model.base.RunObject object at 0x7f...>>`` (a cancel of a run
    that ended, a delete of one still active) becomes
    :data:`STATE_REFUSED`; any other ``<... object at 0x...>`` becomes its
    class name and a ``<bound method ...>`` is dropped.
    """
    if "<" not in text:
        return text
    if _STATE_REFUSED.match(text):
        return STATE_REFUSED
    cleaned = _BOUND_METHOD.sub("?", _OBJECT_REPR.sub(r"\1", text))
    return _SPACE.sub(" ", cleaned).strip()


def server_message(body: bytes, content_type: str = "") -> str:
    """Extract the server's explanation from an error body.

    flowServ answers with ``{"message": ...}``, ``{"error": ...}`` or, for
    errors raised by Werkzeug itself, an HTML page. Anything else is shortened.
    Python object reprs in flowServ's texts are cleaned (:func:`clean_message`).
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
                    return clean_message(value)
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


def note_attempts(error: _E, attempts: int, elapsed: float, why: str = "") -> _E:
    """Record on ``error`` how many tries took how long (its message says so too)."""
    error.attempts = attempts
    error.elapsed = elapsed
    error.stopped = why
    error._render()
    return error


def copy_error(error: _X) -> _X:
    """A copy of ``error``: same type, message, attributes, cause and traceback.

    Waiters of the same run each raise their own copy, so that raising it in
    several tasks does not pile every task's frames onto one traceback.
    """
    cls = type(error)
    try:
        copy = cls.__new__(cls, *error.args)
        copy.__dict__.update(error.__dict__)
        copy.args = error.args
    except Exception:  # an exception type that cannot be copied this way
        return error
    copy.__cause__ = error.__cause__
    copy.__context__ = error.__context__
    copy.__suppress_context__ = error.__suppress_context__
    return copy.with_traceback(error.__traceback__)


def with_detail(error: _E, detail: str | None = None, *, message: str | None = None) -> _E:
    """``error`` with the client's explanation added to its message (a copy).

    Everything else it carries stays: status, tries and elapsed time, whether
    the answer was a web page. ``message`` replaces the server's own text of
    an :class:`APIStatusError`, where that text misleads.
    """
    copy = copy_error(error)
    if message is not None and isinstance(copy, APIStatusError):
        copy.message = message
    if detail:
        copy.detail = f"{copy.detail}; {detail}" if copy.detail else detail
    copy._render()
    return copy


def for_request(error: _E, method: str, path: str) -> _E:
    """A copy of ``error`` that names another request (the caller's, not an internal one).

    A check made on the caller's behalf (the token's ``whoami`` before a
    listing) fails as the request the caller made: ``GET workflows``, not
    ``GET users/whoami``. Everything else the error carries stays.
    """
    copy = copy_error(error)
    if isinstance(copy, APIConnectionError) and copy.method:
        old = f"{copy.method} {copy.path}: "
        if copy._text.startswith(old):
            copy._text = f"{method} {path}: {copy._text[len(old):]}"
    copy.method, copy.path = method, path
    copy._render()
    return copy


def retyped(error: _RequestError, cls: type[_E]) -> _E:
    """A copy of ``error`` as another error of its family, with everything it carries.

    An invalid token's "not authorized" answer becomes an :class:`UnauthenticatedError`.
    """
    copy = cls.__new__(cls)
    copy.__dict__.update(error.__dict__)
    copy.args = error.args
    copy.__cause__, copy.__context__ = error.__cause__, error.__context__
    return copy


# -- what a failure means: the one classification ------------------------------------------

RETRY_STATUS = frozenset({429, 502, 503, 504})
"""Answers worth sending an idempotent request again for (the default of
:class:`RetryPolicy`): the server, or a gateway before it, is overloaded or restarting."""

NOT_PROCESSED_STATUS = frozenset({429, 503})
"""Answers that say the request was not processed: safe to send again, even a run start."""

PUSHBACK_STATUS = frozenset({429, 502, 503, 504})
"""Answers that say the server (or a gateway before it) is overloaded: back off."""

MAY_HAVE_HAPPENED_STATUS = frozenset({502, 504})
"""Gateway answers: the server behind may or may not have carried the request out."""


def status_of(error: BaseException) -> int | None:
    """The HTTP status of an error answer, None for any other failure."""
    return error.status_code if isinstance(error, APIStatusError) else None


def is_transient(error: BaseException) -> bool:
    """A failure that asking again later may not see: the connection, a gateway, a throttle.

    Waits retry these until their deadlines.
    """
    return isinstance(error, APIConnectionError) or status_of(error) in PUSHBACK_STATUS


def is_permanent(error: BaseException) -> bool:
    """A failure that asking again will not change: gone, no access, or the client closed."""
    return isinstance(
        error, (NotFoundError, UnauthorizedError, UnauthenticatedError, ClientClosedError)
    )


def may_have_happened(error: BaseException) -> bool:
    """Whether a request that failed this way may still have been carried out by the server.

    True for a transport failure after the request went out, a gateway answer
    (502, 504) and a success answer that could not be read.
    """
    if isinstance(error, APIConnectionError):
        return error.request_sent
    if isinstance(error, InvalidResponseError):
        return True
    return status_of(error) in MAY_HAVE_HAPPENED_STATUS


def is_pushback(error: BaseException) -> bool:
    """Whether a failure says the server is overloaded.

    An answer that asks to back off, no answer at all, or a submission left
    uncertain by one of these.
    """
    return (
        isinstance(error, (APIConnectionError, SubmissionUncertainError))
        or status_of(error) in PUSHBACK_STATUS
    )


def may_retry(status: int, *, idempotent: bool, retry_status: frozenset[int]) -> bool:
    """Whether an answer with ``status`` may be followed by the same request again.

    ``retry_status`` is the policy's; a request that is not idempotent is only
    sent again when the answer says it was not processed.
    """
    return status in retry_status and (idempotent or status in NOT_PROCESSED_STATUS)
