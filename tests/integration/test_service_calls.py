"""AsyncFlowserv service calls against the real server: users, workflows, groups,
uploads, runs and downloads."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

import aioflowserv as afs
from aioflowserv.testing import FlowservServer, free_port
from tests.support.realserver import DEADLINE, POLL, QUICK, WORKFLOWS, unique

SLEEP_QUICK = [{"name": "sleep", "value": QUICK}]
SLEEP_TWO = [{"name": "sleep", "value": 2}]


# -- service and users -----------------------------------------------------------


@pytest.mark.asyncio
async def test_service_info_describes_the_server(
    client: afs.AsyncFlowserv, user: dict[str, Any]
) -> None:
    info = await client.service_info()
    assert info["version"] == "0.8.1"
    assert info["username"] == user["username"]  # the token is valid
    assert {"runs:start", "runs:cancel", "users:whoami"} <= {r["id"] for r in info["routes"]}


@pytest.mark.asyncio
async def test_login_stores_the_token_and_whoami_works(
    server: FlowservServer, user: dict[str, Any]
) -> None:
    async with afs.AsyncFlowserv(server.url) as fs:
        assert fs.token is None
        token = await fs.login(user["username"], user["password"])
        assert fs.token == token
        assert token == user["token"]  # flowServ keeps one token per user
        me = await fs.whoami()
    assert me == afs.User(id=user["id"], username=user["username"])


@pytest.mark.asyncio
async def test_login_with_a_wrong_password_raises_not_found(
    server: FlowservServer, user: dict[str, Any]
) -> None:
    async with afs.AsyncFlowserv(server.url) as fs:
        with pytest.raises(afs.NotFoundError):
            await fs.login(user["username"], "wrong")
        assert fs.token is None


@pytest.mark.asyncio
async def test_logout_forgets_the_token_and_ends_the_session(
    server: FlowservServer, client: afs.AsyncFlowserv, user: dict[str, Any]
) -> None:
    await client.logout()
    assert client.token is None
    with pytest.raises(afs.UnauthenticatedError):
        await client.whoami()
    # The server ended the session: the old token no longer works anywhere.
    async with afs.AsyncFlowserv(server.url, token=user["token"]) as again:
        with pytest.raises(afs.UnauthenticatedError):
            await again.whoami()


@pytest.mark.asyncio
async def test_whoami_with_a_bad_token_raises_unauthenticated(server: FlowservServer) -> None:
    async with afs.AsyncFlowserv(server.url, token="not-a-token") as fs:
        with pytest.raises(afs.UnauthenticatedError) as caught:
            await fs.whoami()
    assert caught.value.status_code == 403
    assert "not-a-token" not in str(caught.value)


@pytest.mark.asyncio
async def test_register_user_creates_an_active_user(server: FlowservServer) -> None:
    name = unique("reg")
    async with afs.AsyncFlowserv(server.url) as fs:
        created = await fs.register_user(name, "pw")
        assert created.username == name
        await fs.login(name, "pw")
        assert (await fs.whoami()).id == created.id


@pytest.mark.asyncio
async def test_register_user_twice_raises_invalid_request(server: FlowservServer) -> None:
    name = unique("dup")
    async with afs.AsyncFlowserv(server.url) as fs:
        await fs.register_user(name, "pw")
        with pytest.raises(afs.InvalidRequestError) as caught:
            await fs.register_user(name, "other")
    assert caught.value.status_code == 400
    assert "duplicate user" in caught.value.message


@pytest.mark.asyncio
async def test_activate_user_lets_a_verified_user_log_in(server: FlowservServer) -> None:
    name = unique("verify")
    async with afs.AsyncFlowserv(server.url) as fs:
        created = await fs.register_user(name, "pw", verify=True)
        with pytest.raises(afs.NotFoundError):  # inactive users cannot log in
            await fs.login(name, "pw")
        assert await fs.activate_user(created.id) == created
        await fs.login(name, "pw")
        assert (await fs.whoami()).username == name


# -- workflows and groups ------------------------------------------------------


@pytest.mark.asyncio
async def test_list_workflows_lists_the_installed_workflows(client: afs.AsyncFlowserv) -> None:
    workflows = {wf.id: wf for wf in await client.list_workflows()}
    assert set(workflows) == WORKFLOWS
    assert workflows["sleeper"].name == "Sleeper"
    assert workflows["types"].name == "Types"
    assert workflows["scores"].name == "Scores"  # named by its manifest


@pytest.mark.asyncio
async def test_get_workflow_returns_metadata_parameters_and_my_groups(
    client: afs.AsyncFlowserv, group_id: str
) -> None:
    info = await client.get_workflow("sleeper")
    assert info.id == "sleeper"
    assert info.name == "Sleeper"
    assert info.description is not None
    assert "sleep" in info.parameters
    assert [group.id for group in info.groups] == [group_id]


@pytest.mark.asyncio
async def test_get_workflow_of_an_unknown_workflow_raises_not_found(
    client: afs.AsyncFlowserv,
) -> None:
    with pytest.raises(afs.NotFoundError) as caught:
        await client.get_workflow("nope")
    assert "unknown workflow" in caught.value.message


@pytest.mark.asyncio
async def test_workflow_loads_an_async_workflow(client: afs.AsyncFlowserv, group_id: str) -> None:
    workflow = await client.workflow("sleeper", group_id)
    assert isinstance(workflow, afs.AsyncWorkflow)
    assert workflow.service is client
    assert workflow.info.name == "Sleeper"
    assert set(await workflow.parameters()) >= {"sleep", "names"}


@pytest.mark.asyncio
async def test_create_group_makes_the_caller_a_member(
    client: afs.AsyncFlowserv, user: dict[str, Any]
) -> None:
    name = unique("team")
    group = await client.create_group("sleeper", name)
    assert group.name == name
    assert group.workflow_id == "sleeper"
    assert [member.id for member in group.members] == [user["id"]]
    assert "sleep" in group.parameters


@pytest.mark.asyncio
async def test_create_group_with_members(
    client: afs.AsyncFlowserv, user: dict[str, Any], other_user: dict[str, Any]
) -> None:
    group = await client.create_group("sleeper", unique("pair"), members=[other_user["id"]])
    assert {member.id for member in group.members} == {user["id"], other_user["id"]}


@pytest.mark.asyncio
async def test_create_group_with_a_duplicate_name_raises_invalid_request(
    client: afs.AsyncFlowserv,
) -> None:
    name = unique("twice")
    await client.create_group("sleeper", name)
    with pytest.raises(afs.InvalidRequestError) as caught:
        await client.create_group("sleeper", name)
    assert "exists" in caught.value.message


@pytest.mark.asyncio
async def test_get_group_returns_members_parameters_files_and_runs(
    client: afs.AsyncFlowserv, group_id: str, user: dict[str, Any]
) -> None:
    run = await client.start_run(group_id, SLEEP_QUICK)
    upload = await client.upload_file(group_id, b"x\n", filename="x.txt")
    group = await client.get_group(group_id)
    assert group.id == group_id
    assert group.workflow_id == "sleeper"
    assert [member.username for member in group.members] == [user["username"]]
    assert list(group.parameters) == ["sleep", "greeting", "names", "exitcode", "mode", "shout"]
    assert [f.id for f in group.files] == [upload.id]
    assert [r.run_id for r in group.runs] == [run.run_id]
    await client.wait(run, timeout=DEADLINE, poll_interval=POLL)


@pytest.mark.asyncio
async def test_get_group_of_an_unknown_group_raises_not_found(
    client: afs.AsyncFlowserv,
) -> None:
    with pytest.raises(afs.NotFoundError):
        await client.get_group("0" * 32)


@pytest.mark.asyncio
async def test_list_groups_lists_my_groups_of_a_workflow(
    client: afs.AsyncFlowserv, group_id: str, types_group_id: str
) -> None:
    second = await client.create_group("sleeper", unique("second"))
    sleeper_groups = await client.list_groups("sleeper")
    assert {group.id for group in sleeper_groups} == {group_id, second.id}
    assert [group.id for group in await client.list_groups("types")] == [types_group_id]


@pytest.mark.asyncio
async def test_update_group_renames_it(client: afs.AsyncFlowserv, group_id: str) -> None:
    name = unique("renamed")
    updated = await client.update_group(group_id, name=name)
    assert updated.name == name
    assert (await client.get_group(group_id)).name == name


@pytest.mark.asyncio
async def test_update_group_replaces_the_members(
    client: afs.AsyncFlowserv, group_id: str, user: dict[str, Any], other_user: dict[str, Any]
) -> None:
    updated = await client.update_group(group_id, members=[user["id"], other_user["id"]])
    assert {member.id for member in updated.members} == {user["id"], other_user["id"]}


@pytest.mark.asyncio
async def test_update_group_by_a_non_member_raises_unauthorized(
    server: FlowservServer, group_id: str, other_user: dict[str, Any]
) -> None:
    async with afs.AsyncFlowserv(server.url, token=other_user["token"]) as other:
        with pytest.raises(afs.UnauthorizedError):
            await other.update_group(group_id, name=unique("hijack"))


@pytest.mark.asyncio
async def test_delete_group_removes_it(client: afs.AsyncFlowserv, group_id: str) -> None:
    await client.delete_group(group_id)
    with pytest.raises(afs.NotFoundError):
        await client.get_group(group_id)
    assert await client.list_groups("sleeper") == []


# -- uploads -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_upload_file_from_bytes_then_list_download_delete(
    client: afs.AsyncFlowserv, group_id: str
) -> None:
    upload = await client.upload_file(group_id, b"Frank\nGrace\n", filename="friends.txt")
    assert upload.name == "friends.txt"
    assert [(f.id, f.name) for f in await client.list_files(group_id)] == [
        (upload.id, "friends.txt")
    ]
    handle = await client.download_file(group_id, upload.id)
    assert await handle.read() == b"Frank\nGrace\n"
    await client.delete_file(group_id, upload.id)
    assert await client.list_files(group_id) == []
    with pytest.raises(afs.NotFoundError):
        await client.download_file(group_id, upload.id)


@pytest.mark.asyncio
async def test_upload_file_from_a_path_keeps_its_name(
    client: afs.AsyncFlowserv, group_id: str, tmp_path: Path
) -> None:
    path = tmp_path / "crew.txt"
    path.write_bytes(b"Heidi\n")
    upload = await client.upload_file(group_id, path)
    assert upload.name == "crew.txt"
    assert await (await client.download_file(group_id, upload.id)).read() == b"Heidi\n"


@pytest.mark.asyncio
async def test_upload_file_from_an_open_file(client: afs.AsyncFlowserv, group_id: str) -> None:
    upload = await client.upload_file(group_id, io.BytesIO(b"Ivan\n"), filename="ivan.txt")
    assert await (await client.download_file(group_id, upload.id)).read() == b"Ivan\n"


@pytest.mark.asyncio
async def test_upload_file_by_a_non_member_raises_unauthorized(
    server: FlowservServer, group_id: str, other_user: dict[str, Any]
) -> None:
    async with afs.AsyncFlowserv(server.url, token=other_user["token"]) as other:
        with pytest.raises(afs.UnauthorizedError):
            await other.upload_file(group_id, b"x\n", filename="x.txt")


# -- runs ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_start_run_with_wire_arguments(client: afs.AsyncFlowserv, group_id: str) -> None:
    run = await client.start_run(group_id, [{"name": "sleep", "value": 0.5}])
    assert run.is_active()
    assert run.group_id == group_id
    assert run.arguments == {"sleep": 0.5}
    done = await client.wait(run, timeout=DEADLINE, poll_interval=POLL)
    assert done.is_success()


@pytest.mark.asyncio
async def test_list_runs_lists_the_runs_of_a_group_oldest_first(
    client: afs.AsyncFlowserv, group_id: str
) -> None:
    assert await client.list_runs(group_id) == []
    first = await client.start_run(group_id, SLEEP_QUICK)
    await client.wait(first, timeout=DEADLINE, poll_interval=POLL)
    second = await client.start_run(group_id, SLEEP_QUICK)
    await client.wait(second, timeout=DEADLINE, poll_interval=POLL)
    listing = await client.list_runs(group_id)
    assert [info.run_id for info in listing] == [first.run_id, second.run_id]
    assert all(info.state is afs.RunState.SUCCESS for info in listing)


@pytest.mark.asyncio
async def test_get_run_returns_the_run(client: afs.AsyncFlowserv, group_id: str) -> None:
    run = await client.start_run(group_id, SLEEP_QUICK)
    await client.wait(run, timeout=DEADLINE, poll_interval=POLL)
    fetched = await client.get_run(run.run_id)
    assert fetched.run_id == run.run_id
    assert fetched.is_success()
    assert [f.name for f in fetched.files()] == ["greetings", "result"]


@pytest.mark.asyncio
async def test_get_run_of_another_users_run_raises_unauthorized(
    server: FlowservServer, client: afs.AsyncFlowserv, group_id: str,
    other_user: dict[str, Any],
) -> None:
    run = await client.start_run(group_id, SLEEP_QUICK)
    await client.wait(run, timeout=DEADLINE, poll_interval=POLL)
    async with afs.AsyncFlowserv(server.url, token=other_user["token"]) as other:
        with pytest.raises(afs.UnauthorizedError) as caught:
            await other.get_run(run.run_id)
    assert caught.value.status_code == 403


@pytest.mark.asyncio
async def test_cancel_run_of_another_users_run_raises_unauthorized(
    server: FlowservServer, client: afs.AsyncFlowserv, group_id: str,
    other_user: dict[str, Any],
) -> None:
    run = await client.start_run(group_id, SLEEP_TWO)
    try:
        async with afs.AsyncFlowserv(server.url, token=other_user["token"]) as other:
            with pytest.raises(afs.UnauthorizedError):
                await other.cancel_run(run.run_id, reason="not mine")
        assert (await client.get_run(run.run_id)).is_active()
    finally:
        await client.cancel_run(run.run_id)


@pytest.mark.asyncio
async def test_start_run_in_another_users_group_raises_unauthorized(
    server: FlowservServer, group_id: str, other_user: dict[str, Any]
) -> None:
    async with afs.AsyncFlowserv(server.url, token=other_user["token"]) as other:
        with pytest.raises(afs.UnauthorizedError):
            await other.start_run(group_id, SLEEP_QUICK)


@pytest.mark.asyncio
async def test_cancel_run_with_a_reason(client: afs.AsyncFlowserv, group_id: str) -> None:
    run = await client.start_run(group_id, SLEEP_TWO)
    canceled = await client.cancel_run(run.run_id, "stop now")
    assert canceled.is_canceled()
    assert canceled.messages() == ["stop now"]
    assert (await client.get_run(run.run_id)).messages() == ["stop now"]


@pytest.mark.asyncio
async def test_delete_run_then_get_run_raises_not_found(
    client: afs.AsyncFlowserv, group_id: str
) -> None:
    run = await client.start_run(group_id, SLEEP_TWO)
    await client.cancel_run(run.run_id)
    await client.delete_run(run.run_id)
    with pytest.raises(afs.NotFoundError):
        await client.get_run(run.run_id)
    assert await client.list_runs(group_id) == []


@pytest.mark.asyncio
async def test_download_run_file_and_archive(client: afs.AsyncFlowserv, group_id: str) -> None:
    run = await client.start_run(group_id, SLEEP_QUICK)
    run = await client.wait(run, timeout=DEADLINE, poll_interval=POLL)
    greetings = run.get_file("greetings")
    assert greetings is not None
    handle = await client.download_run_file(run.run_id, greetings.id)
    assert await handle.read() == b"Hello Alice!\nHello Bob!\n"
    archive = await client.download_run_archive(run.run_id)
    with tarfile.open(fileobj=io.BytesIO(await archive.read()), mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["results/greetings.txt", "results/result.json"]


@pytest.mark.asyncio
async def test_download_run_file_with_an_unknown_file_id_raises_not_found(
    client: afs.AsyncFlowserv, group_id: str
) -> None:
    run = await client.start_run(group_id, SLEEP_QUICK)
    await client.wait(run, timeout=DEADLINE, poll_interval=POLL)
    with pytest.raises(afs.NotFoundError):
        await client.download_run_file(run.run_id, "0" * 32)


# -- lifecycle --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_closed_client_raises_client_closed(
    server: FlowservServer, user: dict[str, Any]
) -> None:
    fs = afs.AsyncFlowserv(server.url, token=user["token"])
    assert (await fs.whoami()).username == user["username"]
    await fs.aclose()
    assert fs.is_closed
    with pytest.raises(afs.ClientClosedError):
        await fs.whoami()


@pytest.mark.asyncio
async def test_unreachable_server_raises_api_connection_error(server: FlowservServer) -> None:
    url = f"http://127.0.0.1:{free_port()}/flowserv/api/v1"
    async with afs.AsyncFlowserv(url, retries=0, timeout=5) as fs:
        with pytest.raises(afs.APIConnectionError):
            await fs.service_info()
