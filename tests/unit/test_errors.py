"""The exception tree (``_errors``), and how an error answer becomes its exception.

flowServ's error bodies are JSON ``{"message": ...}``, JSON ``{"error": ...}``
or, for errors raised by Werkzeug itself, HTML. Each status maps to one
exception that carries the server's message, and never the token.
"""

from __future__ import annotations

import inspect
import json

import pytest
import respx

import aioflowserv as afs
from aioflowserv import _errors
from tests.support.documents import TOKEN


def test_every_exception_derives_from_flowserv_error() -> None:
    errors = [
        getattr(afs, name) for name in afs.__all__
        if inspect.isclass(getattr(afs, name)) and issubclass(getattr(afs, name), BaseException)
    ]
    assert len(errors) >= 19
    assert all(issubclass(error, afs.FlowservError) for error in errors)


def test_error_hierarchy() -> None:
    status_errors = (
        afs.InvalidRequestError, afs.PayloadTooLargeError, afs.UnauthenticatedError,
        afs.UnauthorizedError, afs.NotFoundError, afs.ServerError,
    )
    assert all(issubclass(error, afs.APIStatusError) for error in status_errors)
    assert issubclass(afs.PayloadTooLargeError, afs.InvalidRequestError)
    assert issubclass(afs.APITimeoutError, afs.APIConnectionError)
    assert issubclass(afs.APITimeoutError, TimeoutError)
    assert issubclass(afs.RunWaitTimeout, TimeoutError)
    assert issubclass(afs.UnknownParameterError, afs.ArgumentError)
    assert issubclass(afs.InvalidArgumentError, afs.ArgumentError)
    assert not issubclass(afs.APIConnectionError, afs.APIStatusError)


WERKZEUG_404 = """<!doctype html>
<html lang=en>
<title>404 Not Found</title>
<h1>Not Found</h1>
<p>The requested URL was not found on the server. If you entered the URL manually please check \
your spelling and try again.</p>
"""

WERKZEUG_405 = """<!doctype html>
<html lang=en>
<title>405 Method Not Allowed</title>
<h1>Method Not Allowed</h1>
<p>The method is not allowed for the requested URL.</p>
"""


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "payload", "error_type", "message"),
    [
        (400, {"message": "duplicate user 'alice'"}, afs.InvalidRequestError,
         "duplicate user 'alice'"),
        (403, {"message": "not logged in"}, afs.UnauthenticatedError, "not logged in"),
        (403, {"message": "not authorized"}, afs.UnauthorizedError, "not authorized"),
        (404, {"message": "unknown run 'r1'"}, afs.NotFoundError, "unknown run 'r1'"),
        (413, {"error": "413 Request Entity Too Large: The data value transmitted exceeds "
                        "the capacity limit."},
         afs.PayloadTooLargeError, "413 Request Entity Too Large: The data value transmitted "
                                   "exceeds the capacity limit."),
        (500, {"error": "500 Internal Server Error: The server encountered an internal error"},
         afs.ServerError, "500 Internal Server Error: The server encountered an internal error"),
        (502, {"message": "bad gateway"}, afs.ServerError, "bad gateway"),
        (503, {"message": "unavailable"}, afs.ServerError, "unavailable"),
        (504, {"message": "gateway timeout"}, afs.ServerError, "gateway timeout"),
    ],
    ids=["400", "403-not-logged-in", "403-not-authorized", "404", "413", "500", "502", "503",
         "504"],
)
async def test_error_status_maps_to_its_exception_with_the_server_message(
    api: respx.MockRouter,
    once: afs.AsyncFlowserv,
    status: int,
    payload: dict[str, str],
    error_type: type[afs.APIStatusError],
    message: str,
) -> None:
    api.get("/runs/r1").respond(status, json=payload)
    api.get("/users/whoami").respond(200, json={"id": "u1", "username": "alice"})  # token valid
    with pytest.raises(error_type) as caught:
        await once.get_run("r1")
    error = caught.value
    assert type(error) is error_type
    assert error.status_code == status
    assert message in error.message
    assert (error.method, error.path) == ("GET", "runs/r1")
    assert message in str(error)


@pytest.mark.asyncio
async def test_413_is_also_an_invalid_request(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.post("/uploads/g1/files").respond(413, json={"error": "413 Request Entity Too Large"})
    with pytest.raises(afs.InvalidRequestError) as caught:
        await once.upload_file("g1", b"x" * 10)
    assert isinstance(caught.value, afs.PayloadTooLargeError)


@pytest.mark.asyncio
async def test_every_status_error_is_a_flowserv_error(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.get("/runs/r1").respond(404, json={"message": "unknown run 'r1'"})
    with pytest.raises(afs.FlowservError):
        await once.get_run("r1")


@pytest.mark.asyncio
async def test_html_error_page_gives_its_text_as_the_message(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.get("/runs/r1").respond(404, text=WERKZEUG_404, headers={"Content-Type": "text/html"})
    descriptor = api.get("/").respond(200, json={"name": "flowServ", "routes": []})
    with pytest.raises(afs.NotFoundError) as caught:
        await once.get_run("r1")
    assert "The requested URL was not found on the server" in caught.value.message
    assert "<" not in caught.value.message
    assert descriptor.call_count == 1  # the URL is a flowServ API: the 404 is the route's


@pytest.mark.asyncio
async def test_unmapped_status_gives_the_base_status_error(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.post("/groups/g1/runs").respond(
        405, text=WERKZEUG_405, headers={"Content-Type": "text/html; charset=utf-8"}
    )
    with pytest.raises(afs.APIStatusError) as caught:
        await once.start_run("g1", [])
    assert type(caught.value) is afs.APIStatusError
    assert caught.value.status_code == 405
    assert "The method is not allowed for the requested URL." in caught.value.message


@pytest.mark.asyncio
async def test_empty_error_body_still_names_the_status(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.delete("/runs/r1").respond(400)
    with pytest.raises(afs.InvalidRequestError) as caught:
        await once.delete_run("r1")
    assert caught.value.message == "HTTP 400"


@pytest.mark.asyncio
async def test_plain_text_error_body_is_the_message(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.get("/runs/r1").respond(500, text="Internal failure\n")
    with pytest.raises(afs.ServerError) as caught:
        await once.get_run("r1")
    assert caught.value.message == "Internal failure"


@pytest.mark.asyncio
async def test_error_messages_never_contain_the_token(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.get("/runs/r1").respond(403, json={"message": "not authorized"})
    whoami = api.get("/users/whoami")
    whoami.respond(200, json={"id": "u1", "username": "alice"})
    with pytest.raises(afs.UnauthorizedError) as caught:
        await once.get_run("r1")
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(caught.value)
    whoami.respond(403, json={"message": "not logged in"})
    with pytest.raises(afs.UnauthenticatedError) as invalid:
        await once.get_run("r1")
    assert TOKEN not in str(invalid.value)
    assert TOKEN not in repr(invalid.value)


# -- the one classification of failures, and errors explained without losing anything ----



def status(code: int) -> afs.APIStatusError:
    return _errors.status_error(code, b'{"message": "x"}', method="GET", path="runs/r1")


@pytest.mark.parametrize(
    ("error", "transient", "permanent", "may_have_happened", "pushback"),
    [
        (afs.APIConnectionError("reset", request_sent=True), True, False, True, True),
        (afs.APIConnectionError("refused", request_sent=False), True, False, False, True),
        (afs.APITimeoutError("slow", request_sent=True), True, False, True, True),
        (status(429), True, False, False, True),
        (status(502), True, False, True, True),
        (status(503), True, False, False, True),
        (status(504), True, False, True, True),
        (status(500), False, False, False, False),
        (status(400), False, False, False, False),
        (status(404), False, True, False, False),
        (status(403), False, True, False, False),
        (afs.InvalidResponseError("not JSON"), False, False, True, False),
        (afs.ClientClosedError("closed"), False, True, False, False),
        (afs.SubmissionUncertainError("?", group_id="g"), False, False, False, True),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else None,
)
def test_every_failure_is_classified_in_one_place(
    error: BaseException, transient: bool, permanent: bool, may_have_happened: bool,
    pushback: bool,
) -> None:
    assert _errors.is_transient(error) is transient
    assert _errors.is_permanent(error) is permanent
    assert _errors.may_have_happened(error) is may_have_happened
    assert _errors.is_pushback(error) is pushback


def test_a_post_is_sent_again_only_when_the_answer_says_it_was_not_processed() -> None:
    policy = afs.RetryPolicy().status_codes
    assert _errors.may_retry(503, idempotent=False, retry_status=policy)
    assert _errors.may_retry(429, idempotent=False, retry_status=policy)
    assert not _errors.may_retry(502, idempotent=False, retry_status=policy)
    assert _errors.may_retry(502, idempotent=True, retry_status=policy)
    assert not _errors.may_retry(500, idempotent=True, retry_status=policy)


def test_an_explained_error_keeps_its_tries_time_and_page() -> None:
    error = _errors.status_error(
        503, b"<html><title>busy</title></html>", "text/html", method="PUT", path="runs/r1"
    )
    _errors.note_attempts(error, 3, 2.5)
    explained = _errors.with_detail(error, "check the run and cancel it again")
    assert type(explained) is afs.ServerError
    assert (explained.attempts, explained.elapsed, explained.html) == (3, 2.5, True)
    assert explained.status_code == 503
    assert str(explained).startswith("PUT runs/r1: 503 busy: check the run and cancel it again")
    assert "3 attempts in 2.5 s" in str(explained)
    assert "check the run" not in str(error)  # the original is left as it was


def test_an_error_can_be_retyped_within_its_family_keeping_what_it_carries() -> None:
    error = status(403)
    error.html = True
    retyped = _errors.retyped(error, afs.UnauthenticatedError)
    assert isinstance(retyped, afs.UnauthenticatedError)
    assert (retyped.status_code, retyped.message, retyped.html) == (403, "x", True)


def test_a_misleading_server_message_can_be_replaced() -> None:
    error = status(404)
    explained = _errors.with_detail(error, message="workflow 'w' has no post-processing results")
    assert explained.message == "workflow 'w' has no post-processing results"
    assert str(explained) == "GET runs/r1: 404 workflow 'w' has no post-processing results"


BOUND_METHOD = (
    "invalid operation for run in state <bound method RunObject.state of "
    "<flowserv.model.base.RunObject object at 0x7f5e740db610>>"
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (BOUND_METHOD, "invalid operation for the run in its current state"),
        ("cannot use <flowserv.model.base.GroupObject object at 0x7f00> here",
         "cannot use GroupObject here"),
        ("duplicate user 'alice'", "duplicate user 'alice'"),
    ],
)
def test_python_reprs_in_the_servers_text_are_never_shown_as_they_are(raw: str, clean: str) -> None:
    error = _errors.status_error(400, json.dumps({"message": raw}).encode(), "application/json",
                                 method="PUT", path="runs/r1")
    assert error.message == clean
    assert str(error) == f"PUT runs/r1: 400 {clean}"
    assert "0x" not in str(error)


def test_an_error_can_name_the_callers_request_instead_of_an_internal_one() -> None:
    error = afs.APIConnectionError(
        "GET users/whoami: cannot connect", method="GET", path="users/whoami", request_sent=False
    )
    renamed = _errors.for_request(error, "GET", "workflows")
    assert str(renamed) == "GET workflows: cannot connect"
    assert (renamed.method, renamed.path, renamed.request_sent) == ("GET", "workflows", False)
    status = _errors.for_request(
        _errors.status_error(403, b'{"message": "not logged in"}', method="GET",
                             path="users/whoami"),
        "GET", "groups/g1",
    )
    assert str(status) == "GET groups/g1: 403 not logged in"


def test_run_not_active_error_is_an_invalid_request_error_in_the_tree() -> None:
    assert issubclass(afs.RunNotActiveError, afs.InvalidRequestError)
    assert "RunNotActiveError" in (_errors.__doc__ or "")
