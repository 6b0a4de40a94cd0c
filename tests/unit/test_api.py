"""The endpoint layer (``_api``): what goes over the wire for every REST route.

Method, path and exact JSON body of each call: the server validates bodies
strictly (an unexpected key is a 400), so each body is compared as a whole, not
key by key. Identifiers become one checked path segment each, so that none can
reach another route; a bad one is refused before any request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

import aioflowserv as afs
from tests.support.documents import CREATED, group_doc, run_doc, workflow_doc
from tests.support.mocked import body, multipart_parts

USER = {"id": "u1", "username": "alice"}


def only_request(route: respx.Route) -> httpx.Request:
    """The single request a route received."""
    assert route.call_count == 1
    return route.calls.last.request


@pytest.mark.asyncio
async def test_service_info_gets_the_descriptor_with_its_trailing_slash(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.get("/").mock(
        return_value=httpx.Response(
            200, json={"name": "flowServ", "version": "0.8.1", "routes": []}
        )
    )
    info = await fs.service_info()
    assert str(only_request(route).url) == "http://flowserv.test/flowserv/api/v1/"
    assert info["version"] == "0.8.1"


@pytest.mark.asyncio
async def test_register_user_posts_username_password_and_verify_false(
    api: respx.MockRouter, anonymous: afs.AsyncFlowserv
) -> None:
    route = api.post("/users/register").mock(return_value=httpx.Response(201, json=USER))
    user = await anonymous.register_user("alice", "secret")
    assert body(only_request(route)) == {"username": "alice", "password": "secret", "verify": False}
    assert user == afs.User(id="u1", username="alice")


@pytest.mark.asyncio
async def test_register_user_can_ask_for_verification(
    api: respx.MockRouter, anonymous: afs.AsyncFlowserv
) -> None:
    route = api.post("/users/register").mock(return_value=httpx.Response(201, json=USER))
    await anonymous.register_user("alice", "secret", verify=True)
    assert body(only_request(route)) == {"username": "alice", "password": "secret", "verify": True}


@pytest.mark.asyncio
async def test_activate_user_posts_the_user_id(
    api: respx.MockRouter, anonymous: afs.AsyncFlowserv
) -> None:
    route = api.post("/users/activate").mock(return_value=httpx.Response(200, json=USER))
    await anonymous.activate_user("u1")
    assert body(only_request(route)) == {"id": "u1"}


@pytest.mark.asyncio
async def test_login_posts_credentials_and_keeps_the_token(
    api: respx.MockRouter, anonymous: afs.AsyncFlowserv
) -> None:
    login = api.post("/users/login").mock(
        return_value=httpx.Response(200, json={**USER, "token": "newtoken"})
    )
    whoami = api.get("/users/whoami").mock(
        return_value=httpx.Response(200, json={**USER, "token": "newtoken"})
    )
    token = await anonymous.login("alice", "secret")
    await anonymous.whoami()
    assert body(only_request(login)) == {"username": "alice", "password": "secret"}
    assert "api_key" not in only_request(login).headers
    assert token == "newtoken" == anonymous.token
    assert only_request(whoami).headers.get_list("api_key") == ["newtoken"]


@pytest.mark.asyncio
async def test_logout_posts_without_a_body_and_forgets_the_token(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.post("/users/logout").mock(return_value=httpx.Response(200, json=USER))
    await fs.logout()
    request = only_request(route)
    assert request.content == b""
    assert fs.token is None


@pytest.mark.asyncio
async def test_whoami_gets_the_current_user(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> None:
    route = api.get("/users/whoami").mock(
        return_value=httpx.Response(200, json={**USER, "token": "x"})
    )
    assert await fs.whoami() == afs.User(id="u1", username="alice")
    assert only_request(route).method == "GET"


@pytest.mark.asyncio
async def test_list_workflows_gets_the_listing(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.get("/workflows").mock(
        return_value=httpx.Response(
            200, json={"workflows": [{"id": "hello", "name": "Hello World"}, workflow_doc()]}
        )
    )
    whoami = api.get("/users/whoami").respond(200, json={"id": "u1", "username": "alice"})
    workflows = await fs.list_workflows()
    assert only_request(route).content == b""
    assert [w.id for w in workflows] == ["hello", "sleeper"]
    assert workflows[0].description is None
    assert whoami.call_count == 1  # the server ignores the token here: it is checked once


@pytest.mark.asyncio
async def test_get_workflow_gets_one_workflow(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> None:
    route = api.get("/workflows/sleeper").mock(
        return_value=httpx.Response(200, json=workflow_doc())
    )
    api.get("/users/whoami").respond(200, json={"id": "u1", "username": "alice"})
    info = await fs.get_workflow("sleeper")
    assert route.call_count == 1
    assert info.id == "sleeper"
    assert info.name == "Sleeper"


@pytest.mark.asyncio
async def test_create_group_posts_only_the_name(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.post("/workflows/sleeper/groups").mock(
        return_value=httpx.Response(201, json=group_doc("g2"))
    )
    group = await fs.create_group("sleeper", "team-a")
    assert body(only_request(route)) == {"name": "team-a"}
    assert group.id == "g2"


@pytest.mark.asyncio
async def test_create_group_posts_name_and_members(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.post("/workflows/sleeper/groups").mock(
        return_value=httpx.Response(201, json=group_doc("g2"))
    )
    await fs.create_group("sleeper", "team-a", members=("u2", "u3"))
    assert body(only_request(route)) == {"name": "team-a", "members": ["u2", "u3"]}


@pytest.mark.asyncio
async def test_get_group_gets_one_group(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> None:
    route = api.get("/groups/g1").mock(
        return_value=httpx.Response(
            200,
            json=group_doc(
                files=[{"id": "f1", "name": "names.txt", "createdAt": CREATED, "size": 0}],
                runs=[{"id": "r1", "state": "SUCCESS", "createdAt": CREATED}],
            ),
        )
    )
    group = await fs.get_group("g1")
    assert route.call_count == 1
    assert group.members == (afs.User(id="u1", username="alice"),)
    assert [f.id for f in group.files] == ["f1"]
    assert [(r.run_id, r.state) for r in group.runs] == [("r1", afs.RunState.SUCCESS)]


@pytest.mark.asyncio
async def test_list_groups_gets_the_groups_of_a_workflow(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.get("/workflows/sleeper/groups").mock(
        return_value=httpx.Response(
            200, json={"groups": [{"id": "g1", "name": "team-a", "workflow": "sleeper"}]}
        )
    )
    api.get("/users/whoami").respond(200, json={"id": "u1", "username": "alice"})
    groups = await fs.list_groups("sleeper")
    assert route.call_count == 1
    assert [(g.id, g.name, g.workflow_id) for g in groups] == [("g1", "team-a", "sleeper")]


@pytest.mark.asyncio
async def test_list_groups_of_an_unknown_workflow_is_not_found(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/workflows/sleepr/groups").respond(200, json={"groups": []})  # as the server does
    api.get("/workflows/sleepr").respond(404, json={"message": "unknown workflow 'sleepr'"})
    api.get("/users/whoami").respond(200, json={"id": "u1", "username": "alice"})
    with pytest.raises(afs.NotFoundError, match="unknown workflow 'sleepr'"):
        await fs.list_groups("sleepr")


@pytest.mark.asyncio
async def test_list_groups_of_a_workflow_without_groups_is_empty(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    api.get("/workflows/sleeper/groups").respond(200, json={"groups": []})
    check = api.get("/workflows/sleeper").respond(200, json=workflow_doc())
    api.get("/users/whoami").respond(200, json={"id": "u1", "username": "alice"})
    assert await fs.list_groups("sleeper") == []
    assert check.call_count == 1


@pytest.mark.asyncio
async def test_update_group_puts_only_the_given_fields(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.put("/groups/g1").mock(return_value=httpx.Response(200, json=group_doc()))
    await fs.update_group("g1", name="renamed")
    await fs.update_group("g1", members=["u1", "u2"])
    await fs.update_group("g1", name="both", members=[])
    assert [body(call.request) for call in route.calls] == [
        {"name": "renamed"},
        {"members": ["u1", "u2"]},
        {"name": "both", "members": []},
    ]


@pytest.mark.asyncio
async def test_delete_group_sends_delete(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> None:
    route = api.delete("/groups/g1").mock(return_value=httpx.Response(204))
    assert await fs.delete_group("g1") is None
    assert only_request(route).content == b""


@pytest.mark.asyncio
async def test_upload_file_sends_one_multipart_part_named_file(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.post("/uploads/g1/files").mock(
        return_value=httpx.Response(
            201, json={"id": "f1", "name": "names.txt", "createdAt": CREATED, "size": 0}
        )
    )
    uploaded = await fs.upload_file("g1", b"Alice\nBob\n", filename="names.txt")
    assert multipart_parts(only_request(route)) == [("file", "names.txt", b"Alice\nBob\n")]
    assert uploaded == afs.UploadedFile(
        id="f1", name="names.txt", created_at=uploaded.created_at
    )
    assert uploaded.created_at is not None


@pytest.mark.asyncio
async def test_upload_file_names_a_local_file_after_its_base_name(
    api: respx.MockRouter, fs: afs.AsyncFlowserv, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(b"a,b\n")
    route = api.post("/uploads/g1/files").mock(
        return_value=httpx.Response(201, json={"id": "f1", "name": "people.csv"})
    )
    await fs.upload_file("g1", path)
    assert multipart_parts(only_request(route)) == [("file", "people.csv", b"a,b\n")]


@pytest.mark.asyncio
async def test_list_files_gets_the_uploads(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> None:
    route = api.get("/uploads/g1/files").mock(
        return_value=httpx.Response(
            200, json={"files": [{"id": "f1", "name": "a.txt", "createdAt": CREATED, "size": 0}]}
        )
    )
    files = await fs.list_files("g1")
    assert route.call_count == 1
    assert [(f.id, f.name) for f in files] == [("f1", "a.txt")]


@pytest.mark.asyncio
async def test_delete_file_sends_delete(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> None:
    route = api.delete("/uploads/g1/files/f1").mock(return_value=httpx.Response(204))
    assert await fs.delete_file("g1", "f1") is None
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_download_file_gets_the_upload(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> None:
    route = api.get("/uploads/g1/files/f1").mock(
        return_value=httpx.Response(
            200, content=b"Alice\n",
            headers={"Content-Disposition": "attachment; filename=names.txt",
                     "Content-Type": "text/plain; charset=utf-8"},
        )
    )
    handle = await fs.download_file("g1", "f1")
    assert route.call_count == 1
    assert (handle.name, handle.mime_type) == ("names.txt", "text/plain")
    assert await handle.read() == b"Alice\n"


@pytest.mark.asyncio
async def test_list_runs_gets_the_group_listing(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.get("/groups/g1/runs").mock(
        return_value=httpx.Response(
            200, json={"runs": [{"id": "r1", "state": "RUNNING", "createdAt": CREATED}]}
        )
    )
    runs = await fs.list_runs("g1")
    assert route.call_count == 1
    assert [(r.run_id, r.state, r.is_active()) for r in runs] == [
        ("r1", afs.RunState.RUNNING, True)
    ]


@pytest.mark.asyncio
async def test_get_run_gets_one_run(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> None:
    route = api.get("/runs/r1").mock(return_value=httpx.Response(200, json=run_doc()))
    run = await fs.get_run("r1")
    assert route.call_count == 1
    assert run.run_id == "r1"
    assert run.is_running()


@pytest.mark.asyncio
async def test_start_run_posts_arguments_as_given(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.post("/groups/g1/runs").mock(return_value=httpx.Response(201, json=run_doc()))
    arguments = [{"name": "sleep", "value": 1.0}]
    run = await fs.start_run("g1", arguments)
    assert body(only_request(route)) == {"arguments": [{"name": "sleep", "value": 1.0}]}
    assert run.run_id == "r1"


@pytest.mark.asyncio
async def test_cancel_run_sends_the_reason(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> None:
    route = api.put("/runs/r1").mock(
        return_value=httpx.Response(200, json=run_doc(state="CANCELED", messages=["stop it"]))
    )
    run = await fs.cancel_run("r1", reason="stop it")
    assert body(only_request(route)) == {"reason": "stop it"}
    assert run.is_canceled()
    assert run.messages() == ["stop it"]


@pytest.mark.asyncio
async def test_cancel_run_without_reason_sends_an_empty_json_object(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.put("/runs/r1").mock(
        return_value=httpx.Response(
            200, json=run_doc(state="CANCELED", messages=["canceled at user request"])
        )
    )
    await fs.cancel_run("r1")
    assert body(only_request(route)) == {}


@pytest.mark.asyncio
async def test_delete_run_sends_delete(api: respx.MockRouter, fs: afs.AsyncFlowserv) -> None:
    route = api.delete("/runs/r1").mock(return_value=httpx.Response(204))
    assert await fs.delete_run("r1") is None
    assert route.call_count == 1


@pytest.mark.asyncio
async def test_download_run_file_gets_the_file_by_id(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.get("/runs/r1/downloads/files/f1").mock(
        return_value=httpx.Response(
            200, content=b"{}",
            headers={"Content-Disposition": 'attachment; filename="results/result.json"',
                     "Content-Type": "application/json"},
        )
    )
    handle = await fs.download_run_file("r1", "f1")
    assert route.call_count == 1
    assert handle.name == "results/result.json"
    assert handle.mime_type == "application/json"


@pytest.mark.asyncio
async def test_download_run_archive_gets_the_archive(
    api: respx.MockRouter, fs: afs.AsyncFlowserv
) -> None:
    route = api.get("/runs/r1/downloads/archive").mock(
        return_value=httpx.Response(
            200, content=b"\x1f\x8b",
            headers={"Content-Disposition": "attachment; filename=run.tar.gz",
                     "Content-Type": "application/gzip"},
        )
    )
    handle = await fs.download_run_archive("r1")
    assert route.call_count == 1
    assert (handle.name, handle.mime_type) == ("run.tar.gz", "application/gzip")


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
@pytest.mark.parametrize(
    "failure",
    [httpx.Response(500, text="<title>500 Internal Server Error</title>"),
     httpx.ReadTimeout("no answer"),
     httpx.RemoteProtocolError("server disconnected without sending a response")],
    ids=["500", "timeout", "dropped"],
)
async def test_a_cancel_without_an_answer_says_what_hangs_it_on_gunicorn(
    api: respx.MockRouter, once: afs.AsyncFlowserv, failure: object
) -> None:
    api.put("/runs/r1").mock(side_effect=[failure])
    with pytest.raises((afs.ServerError, afs.APIConnectionError)) as caught:
        await once.cancel_run("r1")
    text = str(caught.value)
    assert "gunicorn" in text
    assert "worker timeout" in text
    assert "poll_run" in text
    if isinstance(failure, httpx.ReadTimeout):
        assert isinstance(caught.value, afs.APITimeoutError)
