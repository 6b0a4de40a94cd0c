"""Flowserv (the sync facade) service calls against the real server."""

from __future__ import annotations

import io
import tarfile
from typing import Any

import pytest

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.realserver import DEADLINE, LONG, POLL, QUICK, WORKFLOWS, unique


def finished_run(fs: afs.Flowserv, group_id: str, sleep: float = 0) -> afs.Run:
    """Start a sleeper run with the low-level call and wait until it ended."""
    run = fs.start_run(group_id, [{"name": "sleep", "value": sleep}])
    return fs.wait(run, DEADLINE, poll_interval=POLL)


def test_sync_service_info(sync_client: afs.Flowserv, user: dict[str, Any]) -> None:
    info = sync_client.service_info()
    assert info["version"] == "0.8.1"
    assert info["username"] == user["username"]


def test_sync_login_whoami_logout(server: FlowservServer, user: dict[str, Any]) -> None:
    with afs.Flowserv(server.url) as fs:
        token = fs.login(user["username"], user["password"])
        assert fs.token == token == user["token"]
        assert fs.whoami().username == user["username"]
        fs.logout()
        assert fs.token is None
        with pytest.raises(afs.UnauthenticatedError):
            fs.whoami()
    with afs.Flowserv(server.url, token=token) as stale, pytest.raises(afs.UnauthenticatedError):
        stale.whoami()


def test_sync_token_set_on_a_client_is_sent_from_then_on(
    server: FlowservServer, user: dict[str, Any]
) -> None:
    with afs.Flowserv(server.url) as fs:
        with pytest.raises(afs.UnauthenticatedError):
            fs.whoami()
        fs.token = user["token"]
        assert fs.whoami().username == user["username"]
        fs.token = None
        with pytest.raises(afs.UnauthenticatedError):
            fs.whoami()


@pytest.mark.httpx_only
def test_sync_facade_on_a_trio_event_loop_runs_a_workflow(
    server: FlowservServer, user: dict[str, Any], group_id: str
) -> None:
    with afs.Flowserv(server.url, token=user["token"], backend="trio") as fs:
        run = fs.workflow("sleeper", group_id).start_run(
            {"sleep": QUICK, "greeting": "Trio"}, poll_interval=POLL, timeout=DEADLINE
        )
        assert run.is_success()
        assert not run.is_pending()
        assert not run.is_running()
        assert fs.get_run(run.run_id) == run
        assert str(run) == "SUCCESS"
        file_id = run.get_file("greetings").id
        greetings = fs.workflow("sleeper", group_id).get_file(run.run_id, file_id)
        assert "Trio" in greetings.read().decode()


def test_sync_whoami_with_a_bad_token_raises_unauthenticated(server: FlowservServer) -> None:
    with afs.Flowserv(server.url, token="bad") as fs, pytest.raises(afs.UnauthenticatedError):
        fs.whoami()


def test_sync_register_and_activate_user(server: FlowservServer) -> None:
    name = unique("sync-user")
    with afs.Flowserv(server.url) as fs:
        created = fs.register_user(name, "pw", verify=True)
        assert fs.activate_user(created.id) == created
        fs.login(name, "pw")
        assert fs.whoami() == created
        with pytest.raises(afs.InvalidRequestError):
            fs.register_user(name, "pw")


def test_sync_list_and_get_workflows(sync_client: afs.Flowserv, group_id: str) -> None:
    assert {wf.id for wf in sync_client.list_workflows()} == WORKFLOWS
    info = sync_client.get_workflow("sleeper")
    assert info.name == "Sleeper"
    assert [group.id for group in info.groups] == [group_id]


def test_sync_group_lifecycle(sync_client: afs.Flowserv, other_user: dict[str, Any]) -> None:
    name = unique("sync-team")
    group = sync_client.create_group("sleeper", name)
    with pytest.raises(afs.InvalidRequestError):
        sync_client.create_group("sleeper", name)
    assert sync_client.get_group(group.id).name == name
    assert [g.id for g in sync_client.list_groups("sleeper")] == [group.id]
    renamed = sync_client.update_group(group.id, name=name + "-2", members=[
        *(m.id for m in group.members), other_user["id"],
    ])
    assert renamed.name == name + "-2"
    assert other_user["id"] in {m.id for m in renamed.members}
    sync_client.delete_group(group.id)
    with pytest.raises(afs.NotFoundError):
        sync_client.get_group(group.id)


def test_sync_upload_list_download_delete_file(sync_client: afs.Flowserv, group_id: str) -> None:
    upload = sync_client.upload_file(group_id, b"Kim\n", filename="kim.txt")
    assert [f.name for f in sync_client.list_files(group_id)] == ["kim.txt"]
    handle = sync_client.download_file(group_id, upload.id)
    assert isinstance(handle, afs.SyncFileHandle)
    assert handle.read() == b"Kim\n"
    sync_client.delete_file(group_id, upload.id)
    assert sync_client.list_files(group_id) == []


def test_sync_run_calls(sync_client: afs.Flowserv, group_id: str) -> None:
    run = finished_run(sync_client, group_id)
    assert run.is_success()
    assert [info.run_id for info in sync_client.list_runs(group_id)] == [run.run_id]
    assert sync_client.get_run(run.run_id).is_success()
    active = sync_client.start_run(group_id, [{"name": "sleep", "value": LONG}])
    canceled = sync_client.cancel_run(active.run_id, "sync stop")
    assert canceled.messages() == ["sync stop"]
    sync_client.delete_run(active.run_id)
    with pytest.raises(afs.NotFoundError):
        sync_client.get_run(active.run_id)


def test_sync_download_run_file_and_archive(sync_client: afs.Flowserv, group_id: str) -> None:
    run = finished_run(sync_client, group_id)
    result = run.get_file("result")
    assert result is not None
    assert b'"count": 2' in sync_client.download_run_file(run.run_id, result.id).read()
    archive = sync_client.download_run_archive(run.run_id)
    with tarfile.open(fileobj=archive.open(), mode="r:gz") as tar:
        assert "results/result.json" in tar.getnames()


def test_sync_another_users_run_raises_unauthorized(
    sync_client: afs.Flowserv, sync_other_client: afs.Flowserv, group_id: str
) -> None:
    run = finished_run(sync_client, group_id)
    with pytest.raises(afs.UnauthorizedError):
        sync_other_client.get_run(run.run_id)
    with pytest.raises(afs.UnauthorizedError):
        sync_other_client.delete_run(run.run_id)
    assert sync_client.get_run(run.run_id).is_success()


def test_sync_closed_client_raises_client_closed(
    server: FlowservServer, user: dict[str, Any]
) -> None:
    fs = afs.Flowserv(server.url, token=user["token"])
    assert fs.whoami().username == user["username"]
    fs.close()
    fs.close()  # idempotent
    assert fs.is_closed
    with pytest.raises(afs.ClientClosedError):
        fs.whoami()


def test_sync_upload_from_an_open_file(sync_client: afs.Flowserv, group_id: str) -> None:
    upload = sync_client.upload_file(group_id, io.BytesIO(b"Leo\n"), filename="leo.txt")
    assert sync_client.download_file(group_id, upload.id).read() == b"Leo\n"
