"""FakeFlowserv answers every route of the client's route table, and names routes as before.

The fake matches requests against the same table the client sends them from
(``aioflowserv._routes``); these tests hold it to that: each route is answered
(not as an unknown path), a route that needs a token says "not logged in"
without one, and counts and faults take both the fake's names and the table's.
"""

from __future__ import annotations

import httpx
import pytest

import aioflowserv as afs
from aioflowserv._routes import ALL_ROUTES, Route
from aioflowserv.testing import FakeFlowserv
from aioflowserv.testing._fake import FAKE_NAMES, ROUTES
from tests.support.fake import client_for

pytestmark = pytest.mark.anyio

BODIES: dict[str, object] = {
    "register_user": {"username": "bob", "password": "pw"},
    "activate_user": {"id": "nobody"},
    "login": {"username": "alice", "password": "pw"},
    "create_group": {"name": "team"},
    "update_group": {"name": "renamed"},
    "cancel_run": {},
    "start_run": {"arguments": []},
}
"""A valid body for each route that takes one (uploads are multipart)."""


def request_for(fake: FakeFlowserv, route: Route, group_id: str, run_id: str) -> httpx.Request:
    """A request of ``route`` for existing ids (and unknown file ids)."""
    ids = {"group_id": group_id, "run_id": run_id, "workflow_id": "sleeper", "file_id": "f1"}
    url = f"{fake.url}/{route.path(*(ids[field] for field in route.fields))}"
    if route.name == "service_info":
        url = f"{fake.url}/"
    if route.name == "upload_file":
        return httpx.Request(route.method, url, files={"file": ("a.txt", b"a")})
    return httpx.Request(route.method, url, json=BODIES.get(route.name))


@pytest.mark.parametrize("route", ALL_ROUTES, ids=lambda route: route.name)
async def test_each_route_of_the_table_is_answered_and_counted_under_its_name(
    route: Route,
) -> None:
    fake = FakeFlowserv()
    group_id = fake.add_group()
    run_id = fake.add_run(group_id, state="SUCCESS")
    async with httpx.AsyncClient(transport=fake, headers={"api_key": fake.token}) as http:
        answer = await http.send(request_for(fake, route, group_id, run_id))
    assert "text/html" not in answer.headers["content-type"]  # not an unknown path
    assert fake.count(FAKE_NAMES.get(route.name, route.name)) == 1
    assert fake.count("unknown") == 0


@pytest.mark.parametrize(
    "route", [route for route in ALL_ROUTES if route.auth], ids=lambda route: route.name
)
async def test_a_route_that_needs_a_token_says_not_logged_in_without_one(route: Route) -> None:
    fake = FakeFlowserv()
    group_id = fake.add_group()
    run_id = fake.add_run(group_id, state="SUCCESS")
    async with httpx.AsyncClient(transport=fake) as http:
        answer = await http.send(request_for(fake, route, group_id, run_id))
    assert (answer.status_code, answer.json()) == (403, {"message": "not logged in"})


def test_every_route_has_one_name_on_the_fake() -> None:
    assert len(set(ROUTES)) == len(ALL_ROUTES)
    assert {"list_runs", "start_run", "get_run", "cancel_run", "upload_file", "list_uploads",
            "get_upload", "download_file", "download_archive", "leaderboard", "postproc_file",
            "postproc_archive"} <= set(ROUTES)


async def test_counts_and_faults_take_the_tables_names_too() -> None:
    fake = FakeFlowserv()
    fake.fail("get_leaderboard", status=500)  # the table's name of "leaderboard"
    async with client_for(fake) as fs:
        with pytest.raises(afs.ServerError):
            await fs.leaderboard("sleeper")
        assert await fs.leaderboard("sleeper") is not None
    assert fake.count("leaderboard") == fake.count("get_leaderboard") == 2


def test_an_unknown_route_name_is_refused_with_the_fakes_names() -> None:
    with pytest.raises(ValueError, match="list_runs"):
        FakeFlowserv().fail("list_run")


async def test_groups_are_created_listed_renamed_and_deleted() -> None:
    fake = FakeFlowserv()
    async with client_for(fake) as fs:
        group = await fs.create_group("sleeper", "team")
        with pytest.raises(afs.InvalidRequestError, match="exists"):
            await fs.create_group("sleeper", "team")
        assert [g.name for g in await fs.list_groups("sleeper")] == ["team"]
        assert (await fs.update_group(group.id, name="crew")).name == "crew"
        await fs.delete_group(group.id)
        with pytest.raises(afs.NotFoundError):
            await fs.get_group(group.id)
        assert [w.id for w in await fs.list_workflows()] == ["sleeper"]


async def test_a_registered_user_logs_in_with_the_fakes_token() -> None:
    fake = FakeFlowserv()
    async with afs.AsyncFlowserv(fake.url, transport=fake, retries=0) as fs:
        user = await fs.register_user("bob", "secret")
        assert (await fs.activate_user(user.id)).username == "bob"
        assert await fs.login("bob", "secret") == fake.token
        with pytest.raises(afs.NotFoundError):
            await fs.login("nobody", "secret")
        await fs.logout()
        assert fs.token is None
