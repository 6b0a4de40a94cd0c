"""Run inside an inner pytest session (copied there as test_fixtures.py): the plugin's fixtures."""

import pytest

import aioflowserv as afs
from aioflowserv.testing import FlowservServer

SEEN_GROUPS: list[str] = []


def test_sync_client_is_logged_in_as_the_user(
    flowserv_sync_client: afs.Flowserv, flowserv_user: dict[str, str]
) -> None:
    assert flowserv_sync_client.whoami().username == flowserv_user["username"]


@pytest.mark.asyncio
async def test_async_client_is_logged_in_as_the_user(
    flowserv_client: afs.AsyncFlowserv, flowserv_user: dict[str, str]
) -> None:
    assert (await flowserv_client.whoami()).id == flowserv_user["id"]


@pytest.mark.parametrize("attempt", [1, 2])
def test_each_test_gets_a_fresh_empty_group_of_its_user(
    flowserv_sync_client: afs.Flowserv,
    flowserv_group: str,
    flowserv_user: dict[str, str],
    attempt: int,
) -> None:
    group = flowserv_sync_client.get_group(flowserv_group)
    assert group.workflow_id == "sleeper"
    assert [member.id for member in group.members] == [flowserv_user["id"]]
    assert group.runs == ()
    SEEN_GROUPS.append(flowserv_group)
    assert len(set(SEEN_GROUPS)) == attempt


def test_the_server_has_the_test_workflows(flowserv_server: FlowservServer) -> None:
    with afs.Flowserv(flowserv_server.url) as fs:
        assert {info.id for info in fs.list_workflows()} == {"sleeper", "types", "quadratic"}
