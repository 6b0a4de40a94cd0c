"""``fs.workflow()`` keeps what it loaded: a (workflow, group) pair seen before costs no request.

``refresh=True`` loads it again; a change of the group through the client
(update, delete) or of its token drops what was kept.
"""

from __future__ import annotations

import time

import pytest

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv

pytestmark = pytest.mark.anyio


def loads(fake: FakeFlowserv) -> int:
    """The requests that loading a workflow sends: its metadata and its group."""
    return fake.count("get_workflow") + fake.count("get_group")


async def test_a_workflow_seen_before_costs_no_request(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group_id = fake.add_group()
    first = await sdk.workflow("sleeper", group_id)
    assert loads(fake) == 2
    again = await sdk.workflow("sleeper", group_id)
    assert again is first
    assert loads(fake) == 2


async def test_refresh_loads_it_again_and_keeps_the_new_one(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group_id = fake.add_group()
    first = await sdk.workflow("sleeper", group_id)
    fresh = await sdk.workflow("sleeper", group_id, refresh=True)
    assert fresh is not first
    assert loads(fake) == 4
    assert await sdk.workflow("sleeper", group_id) is fresh
    assert loads(fake) == 4


async def test_each_group_is_kept_apart(fake: FakeFlowserv, sdk: afs.AsyncFlowserv) -> None:
    one, two = fake.add_group(), fake.add_group()
    first, second = await sdk.workflow("sleeper", one), await sdk.workflow("sleeper", two)
    assert (first.group_id, second.group_id) == (one, two)
    assert loads(fake) == 4


async def test_updating_or_deleting_the_group_through_the_client_drops_it(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group_id = fake.add_group()
    first = await sdk.workflow("sleeper", group_id)
    await sdk.update_group(group_id, name="renamed")
    again = await sdk.workflow("sleeper", group_id)
    assert again is not first
    assert loads(fake) == 4
    await sdk.delete_group(group_id)
    with pytest.raises(afs.NotFoundError):
        await sdk.workflow("sleeper", group_id)


async def test_a_new_token_drops_what_the_old_one_was_shown(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    group_id = fake.add_group()
    first = await sdk.workflow("sleeper", group_id)
    await sdk.login("alice", "secret")
    assert await sdk.workflow("sleeper", group_id) is not first
    sdk.token = None
    with pytest.raises(afs.UnauthenticatedError):
        await sdk.workflow("sleeper", group_id)


async def test_a_failed_load_is_not_kept(fake: FakeFlowserv, sdk: afs.AsyncFlowserv) -> None:
    group_id = fake.add_group()
    fake.fail("get_group", status=500)
    with pytest.raises(afs.ServerError):
        await sdk.workflow("sleeper", group_id)
    loaded = await sdk.workflow("sleeper", group_id)
    assert loaded.group_id == group_id


def test_the_sync_client_keeps_its_workflows_too() -> None:
    fake = FakeFlowserv(clock=time.monotonic)
    group_id = fake.add_group()
    with afs.Flowserv(fake.url, token=fake.token, transport=fake) as fs:
        fs.workflow("sleeper", group_id)
        same = afs.Workflow("sleeper", group_id, service=fs)
        assert same.group_id == group_id
        assert loads(fake) == 2
        fs.workflow("sleeper", group_id, refresh=True)
        assert loads(fake) == 4
