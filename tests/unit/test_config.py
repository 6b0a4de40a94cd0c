"""Client configuration: URL and token from arguments or flowServ's environment, checked early.

Bad settings raise :class:`ConfigurationError` when the client is made,
before anything is sent; the token never shows in a repr; a closed client
refuses to work; identifiers that could reach another route are refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx

import aioflowserv as afs

from ._support import BASE, TOKEN, run_doc

DEFAULT_URL = "http://localhost:5000/flowserv/api/v1"


def make(**options: Any) -> afs.AsyncFlowserv:
    """A client that could not send anything even if it tried (a failing transport)."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"nothing should be sent, but {request.method} {request.url} was")

    return afs.AsyncFlowserv(transport=httpx.MockTransport(refuse), **options)


# -- the URL ---------------------------------------------------------------------------------


def test_url_argument_is_used_without_its_trailing_slash(clean_env: pytest.MonkeyPatch) -> None:
    assert make(url=BASE + "/").url == BASE


def test_url_argument_wins_over_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("FLOWSERV_URL", "http://env.test/api")
    clean_env.setenv("FLOWSERV_API_HOST", "parts.test")
    assert make(url=BASE).url == BASE


def test_flowserv_url_is_used_when_no_url_is_given(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("FLOWSERV_URL", "https://flowserv.example.org/flowserv/api/v1")
    assert make().url == "https://flowserv.example.org/flowserv/api/v1"


def test_flowserv_url_wins_over_the_parts(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("FLOWSERV_URL", "http://whole.test:8080/api")
    clean_env.setenv("FLOWSERV_API_HOST", "parts.test")
    assert make().url == "http://whole.test:8080/api"


def test_without_configuration_the_flowserv_default_is_used(
    clean_env: pytest.MonkeyPatch,
) -> None:
    assert make().url == DEFAULT_URL


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({"FLOWSERV_API_HOST": "10.0.0.5"}, "http://10.0.0.5:5000/flowserv/api/v1"),
        ({"FLOWSERV_API_PORT": "5005"}, "http://localhost:5005/flowserv/api/v1"),
        ({"FLOWSERV_API_PORT": "80"}, "http://localhost/flowserv/api/v1"),
        ({"FLOWSERV_API_PROTOCOL": "https"}, "https://localhost:5000/flowserv/api/v1"),
        ({"FLOWSERV_API_PATH": "/api/v2"}, "http://localhost:5000/api/v2"),
        ({"FLOWSERV_API_PATH": "api/v2/"}, "http://localhost:5000/api/v2"),
        (
            {"FLOWSERV_API_PROTOCOL": "https", "FLOWSERV_API_HOST": "fs.example.org",
             "FLOWSERV_API_PORT": "8443", "FLOWSERV_API_PATH": "/fs"},
            "https://fs.example.org:8443/fs",
        ),
    ],
)
def test_url_is_built_from_the_flowserv_api_parts(
    clean_env: pytest.MonkeyPatch, env: dict[str, str], url: str
) -> None:
    for name, value in env.items():
        clean_env.setenv(name, value)
    assert make().url == url


@pytest.mark.parametrize(
    "url",
    [
        "localhost:5000/flowserv/api/v1",
        "ftp://flowserv.test/api",
        "file:///etc/passwd",
        "flowserv.test",
        "http://",
        "http:///path",
        "http://alice:secret@flowserv.test/api",
        "http://flowserv.test:99999/api",
        "http://flowserv.test:port/api",
        "http://flowserv.test/api?x=1",
        "http://flowserv.test/api#top",
        "",
    ],
)
def test_bad_url_is_a_configuration_error(clean_env: pytest.MonkeyPatch, url: str) -> None:
    with pytest.raises(afs.ConfigurationError):
        make(url=url)


def test_url_that_is_not_a_string_is_a_configuration_error() -> None:
    with pytest.raises(afs.ConfigurationError):
        make(url=5000)


def test_bad_url_in_the_environment_is_a_configuration_error(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("FLOWSERV_URL", "flowserv.test:5000")
    with pytest.raises(afs.ConfigurationError):
        make()


def test_bad_protocol_in_the_environment_is_a_configuration_error(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("FLOWSERV_API_PROTOCOL", "gopher")
    with pytest.raises(afs.ConfigurationError):
        make()


def test_url_with_credentials_is_refused_without_echoing_them(
    clean_env: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(afs.ConfigurationError) as caught:
        make(url="http://alice:hunter2@flowserv.test/api")
    assert "hunter2" not in str(caught.value)


# -- the token -----------------------------------------------------------------------------


def test_token_comes_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("FLOWSERV_ACCESS_TOKEN", "envtoken")
    assert make(url=BASE).token == "envtoken"


def test_empty_token_in_the_environment_means_no_token(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("FLOWSERV_ACCESS_TOKEN", "")
    assert make(url=BASE).token is None


def test_token_argument_wins(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("FLOWSERV_ACCESS_TOKEN", "envtoken")
    assert make(url=BASE, token="given").token == "given"


def test_token_that_is_not_a_string_is_a_configuration_error() -> None:
    with pytest.raises(afs.ConfigurationError):
        make(url=BASE, token=12345)


# -- timeouts and retries ------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [0, -1, float("inf"), float("nan"), "5", True, [5]])
def test_bad_timeout_is_a_configuration_error(timeout: Any) -> None:
    with pytest.raises(afs.ConfigurationError):
        make(url=BASE, timeout=timeout)


@pytest.mark.parametrize(("timeout", "seconds"), [(None, None), (2, 2.0), (0.5, 0.5)])
def test_timeout_is_kept_in_seconds(timeout: float | None, seconds: float | None) -> None:
    assert make(url=BASE, timeout=timeout).settings.timeout == seconds


@pytest.mark.parametrize("retries", [-1, True, "3", 1.5, None])
def test_bad_retries_is_a_configuration_error(retries: Any) -> None:
    with pytest.raises(afs.ConfigurationError):
        make(url=BASE, retries=retries)


@pytest.mark.parametrize(
    "options",
    [
        {"attempts": 0},
        {"attempts": True},
        {"attempts": 2.0},
        {"initial_wait": -0.1},
        {"max_wait": -1},
        {"jitter": -0.5},
    ],
)
def test_bad_retry_policy_is_a_configuration_error(options: dict[str, Any]) -> None:
    with pytest.raises(afs.ConfigurationError):
        afs.RetryPolicy(**options)


def test_retries_count_becomes_a_policy_with_one_more_attempt() -> None:
    assert make(url=BASE, retries=0).settings.retry.attempts == 1
    assert make(url=BASE, retries=5).settings.retry.attempts == 6


def test_retry_policy_is_used_as_given() -> None:
    policy = afs.RetryPolicy(attempts=2, initial_wait=0.5, max_wait=1, jitter=0)
    assert make(url=BASE, retries=policy).settings.retry is policy


def test_retry_policy_status_codes_default_to_429_502_503_504() -> None:
    assert afs.RetryPolicy().status_codes == frozenset({429, 502, 503, 504})


# -- reprs ----------------------------------------------------------------------------------


def test_repr_of_the_client_shows_the_url_but_never_the_token() -> None:
    client = make(url=BASE, token=TOKEN)
    assert BASE in repr(client)
    assert TOKEN not in repr(client)
    assert TOKEN not in str(client)


def test_repr_of_the_settings_never_shows_the_token() -> None:
    client = make(url=BASE, token=TOKEN)
    assert TOKEN not in repr(client.settings)
    assert BASE in repr(client.settings)


def test_repr_of_the_sync_client_never_shows_the_token() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(500))
    with afs.Flowserv(BASE, token=TOKEN, transport=transport) as fs:
        assert BASE in repr(fs)
        assert TOKEN not in repr(fs)


def test_sync_client_checks_its_configuration_too() -> None:
    with pytest.raises(afs.ConfigurationError):
        afs.Flowserv("ftp://flowserv.test/api")


# -- closed clients --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_closed_client_refuses_to_send(
    api: respx.MockRouter, transport: httpx.MockTransport
) -> None:
    route = api.get("/runs/r1").respond(200, json=run_doc())
    client = afs.AsyncFlowserv(BASE, token=TOKEN, transport=transport)
    await client.aclose()
    assert client.is_closed
    assert "closed" in repr(client)
    with pytest.raises(afs.ClientClosedError):
        await client.get_run("r1")
    assert route.call_count == 0


@pytest.mark.asyncio
async def test_context_manager_closes_the_client(
    api: respx.MockRouter, transport: httpx.MockTransport
) -> None:
    route = api.get("/workflows").respond(200, json={"workflows": []})
    async with afs.AsyncFlowserv(BASE, transport=transport) as client:
        await client.list_workflows()
    with pytest.raises(afs.ClientClosedError):
        await client.list_workflows()
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_closing_twice_is_harmless(transport: httpx.MockTransport) -> None:
    client = afs.AsyncFlowserv(BASE, transport=transport)
    await client.aclose()
    await client.aclose()
    assert client.is_closed


@pytest.mark.asyncio
async def test_closed_client_refuses_before_checking_the_token(
    transport: httpx.MockTransport,
) -> None:
    client = afs.AsyncFlowserv(BASE, transport=transport)
    await client.aclose()
    with pytest.raises(afs.ClientClosedError):
        await client.workflow("sleeper", "g1")


def test_closed_sync_client_refuses_to_send() -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"workflows": []})

    fs = afs.Flowserv(BASE, transport=httpx.MockTransport(answer))
    assert fs.list_workflows() == []
    fs.close()
    assert fs.is_closed
    with pytest.raises(afs.ClientClosedError):
        fs.list_workflows()
    assert len(sent) == 1


# -- identifiers ------------------------------------------------------------------------------

BAD_IDS = ["", ".", "..", "a/b", "../runs", "a\\b", "a?b", "a#b", "a%2Fb", "a b", "a\nb", None, 7]

IdCall = Callable[[afs.AsyncFlowserv, Any], Awaitable[Any]]

ID_CALLS: dict[str, tuple[IdCall, str]] = {
    "get_run": (lambda fs, bad: fs.get_run(bad), "run_id"),
    "cancel_run": (lambda fs, bad: fs.cancel_run(bad, "why"), "run_id"),
    "delete_run": (lambda fs, bad: fs.delete_run(bad), "run_id"),
    "download_run_file.run_id": (lambda fs, bad: fs.download_run_file(bad, "f1"), "run_id"),
    "download_run_file.file_id": (lambda fs, bad: fs.download_run_file("r1", bad), "file_id"),
    "download_run_archive": (lambda fs, bad: fs.download_run_archive(bad), "run_id"),
    "get_workflow": (lambda fs, bad: fs.get_workflow(bad), "workflow_id"),
    "workflow.workflow_id": (lambda fs, bad: fs.workflow(bad, "g1"), "workflow_id"),
    "workflow.group_id": (lambda fs, bad: fs.workflow("sleeper", bad), "group_id"),
    "create_group": (lambda fs, bad: fs.create_group(bad, "team"), "workflow_id"),
    "list_groups": (lambda fs, bad: fs.list_groups(bad), "workflow_id"),
    "get_group": (lambda fs, bad: fs.get_group(bad), "group_id"),
    "update_group": (lambda fs, bad: fs.update_group(bad, name="x"), "group_id"),
    "delete_group": (lambda fs, bad: fs.delete_group(bad), "group_id"),
    "upload_file": (lambda fs, bad: fs.upload_file(bad, b"x"), "group_id"),
    "list_files": (lambda fs, bad: fs.list_files(bad), "group_id"),
    "delete_file.group_id": (lambda fs, bad: fs.delete_file(bad, "f1"), "group_id"),
    "delete_file.file_id": (lambda fs, bad: fs.delete_file("g1", bad), "file_id"),
    "download_file": (lambda fs, bad: fs.download_file("g1", bad), "file_id"),
    "list_runs": (lambda fs, bad: fs.list_runs(bad), "group_id"),
    "start_run": (lambda fs, bad: fs.start_run(bad, []), "group_id"),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
@pytest.mark.parametrize(("call", "what"), list(ID_CALLS.values()), ids=list(ID_CALLS))
async def test_identifier_with_path_characters_is_refused_before_any_request(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, call: IdCall, what: str, bad: Any
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await call(fs, bad)
    assert caught.value.parameter == what
    assert api.calls.call_count == 0


@pytest.mark.asyncio
@pytest.mark.parametrize("good", ["4a173e0c9f1b4c0e8d2f6a5b3c1d7e9f", "sleeper", "hello-world_2"])
async def test_ordinary_identifiers_are_sent_as_one_path_segment(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, good: str
) -> None:
    route = api.get(f"/runs/{good}").respond(200, json=run_doc(good))
    assert (await fs.get_run(good)).run_id == good
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_workflow_methods_check_run_ids_too(
    api: respx.MockRouter, sleeper: afs.AsyncWorkflow
) -> None:
    for call in (
        sleeper.poll_run("../x"),
        sleeper.cancel_run("a/b"),
        sleeper.delete_run(".."),
        sleeper.get_file("r1", "f/1"),
        sleeper.get_file("?"),
    ):
        with pytest.raises(afs.InvalidArgumentError):
            await call
    assert api.calls.call_count == 0
