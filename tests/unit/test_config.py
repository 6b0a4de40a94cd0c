"""Client configuration (``_config``): URL and token from arguments or flowServ's environment.

Bad settings raise :class:`ConfigurationError` when the client is made, before
anything is sent; the token never shows in a repr. The retry policy, and the
wait between retries: capped exponential growth with jitter, or the server's hint.
The validators of counts and ids, and the package's version.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

import httpx
import pytest

import aioflowserv as afs
from aioflowserv._config import USER_AGENT, VERSION, backoff, check_count, check_id
from tests.support.documents import BASE, TOKEN

DEFAULT_URL = "http://localhost:5000/flowserv/api/v1"


def make(**options: Any) -> afs.AsyncFlowserv:
    """A client that could not send anything even if it tried (a failing transport)."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"nothing should be sent, but {request.method} {request.url} was")

    return afs.AsyncFlowserv(transport=httpx.MockTransport(refuse), **options)


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


def test_repr_of_the_client_shows_the_url_but_never_the_token() -> None:
    client = make(url=BASE, token=TOKEN)
    assert BASE in repr(client)
    assert TOKEN not in repr(client)
    assert TOKEN not in str(client)


def test_repr_of_the_settings_never_shows_the_token() -> None:
    client = make(url=BASE, token=TOKEN)
    assert TOKEN not in repr(client.settings)
    assert BASE in repr(client.settings)


def test_backoff_doubles_from_the_initial_wait_up_to_the_cap() -> None:
    policy = afs.RetryPolicy(attempts=10, initial_wait=0.1, max_wait=1.0, jitter=0)
    waits = [backoff(policy, attempt) for attempt in range(1, 7)]
    assert waits == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_backoff_adds_at_most_the_jitter() -> None:
    policy = afs.RetryPolicy(initial_wait=0.5, max_wait=5.0, jitter=0.25)
    waits = [backoff(policy, 2) for _ in range(200)]
    assert all(1.0 <= wait <= 1.25 for wait in waits)
    assert len(set(waits)) > 1


def test_backoff_follows_a_server_hint_within_the_cap() -> None:
    policy = afs.RetryPolicy(initial_wait=0.1, max_wait=3.0, jitter=0.5)
    assert backoff(policy, 1, hint=2.0) == 2.0
    assert backoff(policy, 1, hint=60.0) == 3.0


def test_backoff_without_waits_is_zero() -> None:
    policy = afs.RetryPolicy(initial_wait=0, jitter=0)
    assert [backoff(policy, attempt) for attempt in (1, 2, 3)] == [0, 0, 0]


@pytest.mark.parametrize("value", [1, 2, 96])
def test_a_count_of_at_least_one_is_returned(value: int) -> None:
    assert check_count(value, "concurrency") == value


@pytest.mark.parametrize("value", [0, -1, True, False, 2.0, "4", None])
def test_anything_but_an_int_of_at_least_one_is_not_a_count(value: object) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        check_count(value, "concurrency")
    assert caught.value.parameter == "concurrency"
    assert f"expected an int >= 1, got {value!r}" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_a_count_can_have_another_minimum() -> None:
    assert check_count(0, "retries", minimum=0) == 0
    with pytest.raises(afs.InvalidArgumentError, match="expected an int >= 0, got -1"):
        check_count(-1, "retries", minimum=0)
    with pytest.raises(afs.InvalidArgumentError, match="expected an int >= 2, got 1"):
        check_count(1, "workers", minimum=2)


def test_a_count_that_is_a_setting_is_a_configuration_error() -> None:
    with pytest.raises(afs.ConfigurationError, match=r"^attempts must be an int >= 1, got 0$"):
        check_count(0, "attempts", setting=True)
    with pytest.raises(afs.ConfigurationError, match="attempts must be an int >= 1, got 0"):
        afs.RetryPolicy(attempts=0)


@pytest.mark.parametrize(
    ("value", "segment"),
    [("0123abcdef", "0123abcdef"), ("run-1_x", "run-1_x"), ("a:b@c", "a%3Ab%40c"),
     ("caf\u00e9", "caf%C3%A9"), ("...", "...")],
)
def test_an_id_is_returned_as_one_escaped_path_segment(value: str, segment: str) -> None:
    assert check_id(value, "run_id") == segment


@pytest.mark.parametrize("value", ["", ".", "..", None, 12, b"r1"])
def test_an_empty_or_non_string_id_is_refused(value: object) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        check_id(value, "group_id")
    assert caught.value.parameter == "group_id"
    assert f"expected a non-empty id, got {value!r}" in str(caught.value)


@pytest.mark.parametrize(
    "value", ["a/b", "a\\b", "a?b", "a#b", "a%2Fb", "a b", "a\tb", "a\nb", "a\x00b", "a\x7fb"]
)
def test_an_id_with_path_characters_is_refused(value: str) -> None:
    with pytest.raises(afs.InvalidArgumentError) as caught:
        check_id(value, "run_id")
    assert caught.value.parameter == "run_id"
    assert f"invalid id {value!r}: it contains path characters" in str(caught.value)


def test_the_version_is_the_installed_packages() -> None:
    assert VERSION == metadata.version("aioflowserv") == afs.__version__
    assert USER_AGENT.split("/") == ["aioflowserv", VERSION]
