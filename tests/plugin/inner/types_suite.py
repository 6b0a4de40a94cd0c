"""Run inside an inner pytest session (copied there as test_types_group.py)."""

import pytest

import aioflowserv as afs


@pytest.fixture
def flowserv_workflow_id() -> str:
    return "types"


def test_overriding_the_workflow_id_changes_the_groups_workflow(
    flowserv_sync_client: afs.Flowserv, flowserv_group: str
) -> None:
    assert flowserv_sync_client.get_group(flowserv_group).workflow_id == "types"
