"""The bad-input catalogue: every bad input gets a typed error that names it.

One parametrized test. Each case is a call with one bad input: a run argument
of the wrong type or out of range, a bad file argument, a malformed or unknown
identifier, a bad client setting, a bad token, or a server answer that is not
what flowServ sends. Each must raise the expected :class:`FlowservError`
subclass (never a hang, never a raw exception), its message must name the
offending value, it must not carry a token, and when the problem can be known
locally no request may have been sent.
"""

from __future__ import annotations

import io
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
import pytest_asyncio

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.canned import Answer, CannedServer
from tests.support.realserver import SMALL_UPLOAD
from tests.support.transports import CountingTransport

FAKE_TOKEN = "fake-token-3f9a1c"
RUN_ID = "0123456789abcdef0123456789abcdef"


@dataclass
class Ctx:
    """What a case may use: clients, workflows, servers, a scratch directory."""

    fs: afs.AsyncFlowserv
    transport: CountingTransport
    sleeper: afs.AsyncWorkflow
    types: afs.AsyncWorkflow
    server: FlowservServer
    member: dict[str, Any]
    tmp_path: Path
    restricted: FlowservServer
    restricted_group: str
    secrets: list[str] = field(default_factory=list)
    opened: list[Any] = field(default_factory=list)


Call = Callable[[Ctx], Awaitable[object]]


@dataclass(frozen=True)
class Case:
    id: str
    call: Call
    error: type[afs.FlowservError]
    names: tuple[str, ...]
    local: bool = True


CASES: list[Case] = []


def case(
    id: str, call: Call, error: type[afs.FlowservError], *names: str, local: bool = True
) -> None:
    CASES.append(Case(id, call, error, names, local))


def sleeper_run(arguments: dict[str, Any]) -> Call:
    return lambda c: c.sleeper.start_run(arguments)


def types_run(arguments: dict[str, Any]) -> Call:
    return lambda c: c.types.start_run(arguments)


IAE = afs.InvalidArgumentError

# -- parameter types, ranges, select values, unknown names ------------------------------
case("float-text", sleeper_run({"sleep": "abc"}), IAE, "'sleep'", "'abc'")
case("float-bool", sleeper_run({"sleep": True}), IAE, "'sleep'", "True")
case("float-none", sleeper_run({"sleep": None}), IAE, "'sleep'", "None")
case("float-nan", sleeper_run({"sleep": math.nan}), IAE, "'sleep'", "NaN")
case("float-below-range", sleeper_run({"sleep": -1}), IAE, "'sleep'", "-1", "[0.0,3600.0]")
case("float-above-range", sleeper_run({"sleep": 3600.5}), IAE, "'sleep'", "3600.5")
case("int-fraction", sleeper_run({"exitcode": 1.5}), IAE, "'exitcode'", "1.5")
case("int-text", sleeper_run({"exitcode": "one"}), IAE, "'exitcode'", "'one'")
case("int-list", sleeper_run({"exitcode": [1]}), IAE, "'exitcode'", "list")
case("string-none", sleeper_run({"greeting": None}), IAE, "'greeting'", "NoneType")
case("string-mapping", sleeper_run({"greeting": {"a": 1}}), IAE, "'greeting'", "dict")
case("select-unknown", sleeper_run({"mode": "shouty"}), IAE, "'mode'", "'shouty'", "'upper'")
case("select-wrong-type", sleeper_run({"mode": 1}), IAE, "'mode'", "unknown value 1")
case("bool-text", sleeper_run({"shout": "maybe"}), IAE, "'shout'", "'maybe'")
case("bool-number", sleeper_run({"shout": 2}), IAE, "'shout'", "Boolean 2")
case("unknown-parameter", sleeper_run({"nope": 1}), afs.UnknownParameterError, "'nope'")
case(
    "engine-config",
    lambda c: c.sleeper.start_run({}, config={"workers": 2}),
    IAE, "'config'",
)

# -- list and record parameters (types workflow) ------------------------------------------
POINT = {"x": 1.0}
case("list-not-a-list", types_run({"nums": "1,2", "point": POINT}), IAE, "'nums'", "str")
case("list-bad-element", types_run({"nums": [1, "x"], "point": POINT}), IAE, "'nums[1]'", "'x'")
case("list-fraction", types_run({"nums": [1, 2.5], "point": POINT}), IAE, "'nums[1]'", "2.5")
case("record-missing", types_run({"nums": [1]}), IAE, "'point'", "required")
case("record-field-missing", types_run({"point": {"tag": "a"}}), IAE, "'point.x'", "required")
case("record-field-unknown", types_run({"point": {"x": 1, "z": 2}}), IAE, "'point.z'")
case("record-field-bad", types_run({"point": {"x": "far"}}), IAE, "'point.x'", "'far'")
case("record-not-a-mapping", types_run({"point": 5}), IAE, "'point'", "int")


# -- file arguments -----------------------------------------------------------------------
def file_run(make: Callable[[Ctx], Any]) -> Call:
    return lambda c: c.sleeper.start_run({"names": make(c)})


def write_only(c: Ctx) -> Any:
    handle = open(c.tmp_path / "out.txt", "wb")  # noqa: SIM115 - closed by the fixture
    c.opened.append(handle)
    return handle


def closed(c: Ctx) -> Any:
    handle = io.BytesIO(b"Ada\n")
    handle.close()
    return handle


case("file-missing", file_run(lambda c: c.tmp_path / "absent.txt"), IAE, "'names'", "absent.txt")
case("file-directory", file_run(lambda c: c.tmp_path), IAE, "'names'", "not a regular file")
case("file-write-only", file_run(write_only), IAE, "'names'", "'out.txt'", "not open for reading")
case("file-closed", file_run(closed), IAE, "'names'", "closed")
case("file-not-a-file", file_run(lambda c: 12345), IAE, "'names'", "int")


async def too_large(c: Ctx) -> object:
    # The restricted server's tokens last 1 s, and the client checks a token before it
    # loads a workflow: the upload (what a file argument of start_run sends) goes alone,
    # and the server refuses its size before it looks at the token.
    async with afs.AsyncFlowserv(c.restricted.url, token=FAKE_TOKEN) as fs:
        big = afs.FileArgument(b"x" * (SMALL_UPLOAD * 3), filename="big.txt")
        return await fs.upload_file(c.restricted_group, big)


case("file-too-large-for-the-server", too_large, afs.PayloadTooLargeError, "'big.txt'", "413",
     local=False)

# -- identifiers ----------------------------------------------------------------------------
case("run-id-slash", lambda c: c.sleeper.poll_run("a/b"), IAE, "'run_id'", "'a/b'")
case("run-id-dotdot", lambda c: c.sleeper.poll_run(".."), IAE, "'run_id'", "'..'")
case("run-id-query", lambda c: c.sleeper.poll_run("x?y=1"), IAE, "'x?y=1'")
case("run-id-fragment", lambda c: c.sleeper.poll_run("x#y"), IAE, "'x#y'")
case("run-id-empty", lambda c: c.sleeper.poll_run(""), IAE, "'run_id'", "''")
case("run-id-percent", lambda c: c.sleeper.poll_run("%2e%2e"), IAE, "'%2e%2e'")
case("run-id-not-text", lambda c: c.sleeper.poll_run(None), IAE, "'run_id'", "None")  # type: ignore[arg-type]
case("run-id-to-cancel", lambda c: c.sleeper.cancel_run("../groups"), IAE, "'../groups'")
case("run-id-to-wait", lambda c: c.sleeper.wait("a/../b", timeout=5), IAE, "'a/../b'")
case(
    "file-id-path",
    lambda c: c.sleeper.get_file(RUN_ID, "../../etc/passwd"),
    IAE, "'file_id'", "'../../etc/passwd'",
)
case(
    "group-id-path",
    lambda c: c.fs.workflow("sleeper", "../users"),
    IAE, "'group_id'", "'../users'",
)
case("unknown-run", lambda c: c.sleeper.poll_run(RUN_ID), afs.NotFoundError, RUN_ID, local=False)
case(
    "unknown-group",
    lambda c: c.fs.workflow("sleeper", "nosuchgroup"),
    afs.NotFoundError, "'nosuchgroup'", local=False,
)
case(
    "unknown-workflow",
    lambda c: c.fs.workflow("nosuchflow", c.member["sleeper"]),
    afs.NotFoundError, "'nosuchflow'", local=False,
)


# -- client settings --------------------------------------------------------------------------
def client(**options: Any) -> Call:
    async def make(c: Ctx) -> object:
        async with afs.AsyncFlowserv(**options, transport=c.transport) as fs:
            return await fs.service_info()

    return make


CE = afs.ConfigurationError
case("url-not-a-url", client(url="not a url"), CE, "'not a url'")
case("url-wrong-scheme", client(url="ftp://127.0.0.1/flowserv/api/v1"), CE, "ftp://", "scheme")
case("url-bad-port", client(url="http://127.0.0.1:99999/flowserv/api/v1"), CE, "99999")
case("url-no-host", client(url="http:///flowserv/api/v1"), CE, "no host")
case("timeout-negative", client(url="http://127.0.0.1:1/api", timeout=-1), CE, "-1")
case("retries-negative", client(url="http://127.0.0.1:1/api", retries=-1), CE, "-1")


async def token_with_newline(c: Ctx) -> object:
    c.secrets.append("line1\nline2")
    return await client(url=c.server.url, token="line1\nline2")(c)


case("token-with-newline", token_with_newline, CE, "token")


# -- tokens -------------------------------------------------------------------------------------
async def invalid_token_whoami(c: Ctx) -> object:
    async with afs.AsyncFlowserv(c.server.url, token=FAKE_TOKEN) as fs:
        return await fs.whoami()


async def invalid_token_runs(c: Ctx) -> object:
    async with afs.AsyncFlowserv(c.server.url, token=FAKE_TOKEN) as fs:
        return await fs.list_runs(c.member["sleeper"])


async def expired_token(c: Ctx) -> object:
    token = c.restricted.create_user()["token"]
    c.secrets.append(token)
    await anyio.sleep(1.5)  # the restricted server's tokens live 1 s
    async with afs.AsyncFlowserv(c.restricted.url, token=token) as fs:
        return await fs.whoami()


async def no_token(c: Ctx) -> object:
    async with afs.AsyncFlowserv(c.server.url, transport=c.transport) as fs:
        return await fs.workflow("sleeper", c.member["sleeper"])


case("token-invalid-whoami", invalid_token_whoami, afs.UnauthenticatedError, "not logged in",
     local=False)
case("token-invalid-runs", invalid_token_runs, afs.UnauthenticatedError, "invalid or expired",
     "not authorized", local=False)
case("token-expired", expired_token, afs.UnauthenticatedError, "not logged in", local=False)
case("token-missing", no_token, afs.UnauthenticatedError, "no token")


# -- servers that are not flowServ, answers that are not flowServ's -----------------------------
def fake(call: Callable[[afs.AsyncFlowserv], Awaitable[object]], **routes: Answer) -> Call:
    async def run(c: Ctx) -> object:
        paths = {"/" + key.replace("__", "/"): answer for key, answer in routes.items()}
        default = paths.pop("/default", None)
        server = CannedServer(paths, default) if default else CannedServer(paths)
        async with server, afs.AsyncFlowserv(server.url, token=FAKE_TOKEN, retries=0) as fs:
            return await call(fs)

    return run


def get_run(fs: afs.AsyncFlowserv) -> Awaitable[object]:
    return fs.get_run("r1")


RUN = {"id": "r1", "state": "RUNNING"}
case("server-answers-html", fake(lambda fs: fs.service_info(), default=Answer.html()),
     afs.InvalidResponseError, "not answer with JSON", "<html>", "/flowserv/api/v1", local=False)
case("server-answers-other-json", fake(lambda fs: fs.service_info(), default=Answer.json({"a": 1})),
     afs.InvalidResponseError, "does not look like a flowServ API", local=False)
case("answer-html-for-json", fake(get_run, runs__r1=Answer.html()),
     afs.InvalidResponseError, "<html>", "runs/r1", local=False)
case("answer-truncated-json",
     fake(get_run, runs__r1=Answer(200, b'{"id": "r1", "state": "RUNN',
                                   {"Content-Type": "application/json"})),
     afs.InvalidResponseError, '{"id": "r1", "state": "RUNN', local=False)
case("answer-missing-key", fake(get_run, runs__r1=Answer.json({"id": "r1"})),
     afs.InvalidResponseError, "'state'", local=False)
case("answer-unknown-run-state", fake(get_run, runs__r1=Answer.json({**RUN, "state": "EXPLODED"})),
     afs.InvalidResponseError, "'EXPLODED'", local=False)
case("answer-not-an-object", fake(get_run, runs__r1=Answer.json(["r1"])),
     afs.InvalidResponseError, "list", local=False)
case("answer-bad-timestamp", fake(get_run, runs__r1=Answer.json({**RUN, "createdAt": "yesterday"})),
     afs.InvalidResponseError, "'yesterday'", local=False)
case("answer-listing-not-a-list",
     fake(lambda fs: fs.list_runs("g1"), groups__g1__runs=Answer.json({"runs": {"a": 1}})),
     afs.InvalidResponseError, "'runs'", local=False)
case("answer-cut-off-in-transfer",
     fake(get_run, runs__r1=Answer(200, b'{"id": "r1", "state": "RUNNING"}', cut_at=8)),
     afs.APIConnectionError, "runs/r1", local=False)
case("answer-html-error-page",
     fake(get_run, runs__r1=Answer.html("<html><title>Oops</title><p>kaputt</p></html>", 500)),
     afs.ServerError, "500", "kaputt", local=False)


async def wrong_api_path(c: Ctx) -> object:
    async with afs.AsyncFlowserv(c.server.url + "/nope", token=FAKE_TOKEN) as fs:
        return await fs.get_run(RUN_ID)


case("url-wrong-api-path", wrong_api_path, afs.ConfigurationError, "not a flowServ API URL",
     "/flowserv/api/v1", local=False)


async def nobody_listening(c: Ctx) -> object:
    async with afs.AsyncFlowserv("http://127.0.0.1:1/flowserv/api/v1", retries=0) as fs:
        return await fs.service_info()


case("server-not-listening", nobody_listening, afs.APIConnectionError,
     "cannot connect to http://127.0.0.1:1/flowserv/api/v1", local=False)


# -- the test -----------------------------------------------------------------------------------
@pytest_asyncio.fixture
async def ctx(
    server: FlowservServer,
    member: dict[str, Any],
    tmp_path: Path,
    restricted_server: FlowservServer,
    restricted_group: str,
) -> AsyncIterator[Ctx]:
    transport = CountingTransport()
    async with afs.AsyncFlowserv(server.url, token=member["token"], transport=transport) as fs:
        sleeper = await fs.workflow("sleeper", member["sleeper"])
        types = await fs.workflow("types", member["types"])
        context = Ctx(fs, transport, sleeper, types, server, member, tmp_path,
                      restricted_server, restricted_group)
        try:
            yield context
        finally:
            for handle in context.opened:
                handle.close()


def test_the_catalogue_has_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.asyncio
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_bad_input_gets_a_typed_error_naming_it(case: Case, ctx: Ctx) -> None:
    sent_before = len(ctx.transport.requests)
    with anyio.fail_after(30), pytest.raises(afs.FlowservError) as caught:
        await case.call(ctx)
    error = caught.value
    assert isinstance(error, case.error), repr(error)
    for name in case.names:
        assert name in str(error)
    for secret in [ctx.member["token"], FAKE_TOKEN, *ctx.secrets]:
        assert secret not in str(error)
        assert secret not in repr(error)
    if case.local:
        assert len(ctx.transport.requests) == sent_before
