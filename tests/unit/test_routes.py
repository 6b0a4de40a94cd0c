"""The route table (``_routes``): one line per REST route, read by the client and the fake alike.

Every ``FlowservAPI`` method is a route of the table under the same name; a
route builds its path from checked ids and recognises its own requests; the
table says what the real server says about tokens and resending.
"""

from __future__ import annotations

import inspect

import pytest

import aioflowserv as afs
from aioflowserv._api import FlowservAPI
from aioflowserv._routes import ALL_ROUTES, API_PATH, Routes, find_route, server_filename


def test_every_endpoint_method_is_a_route_of_the_same_name() -> None:
    methods = {
        name for name, member in vars(FlowservAPI).items()
        if not name.startswith("_") and inspect.iscoroutinefunction(member)
    }
    assert methods == {route.name for route in ALL_ROUTES}


def test_a_path_is_made_of_checked_ids_in_template_order() -> None:
    assert Routes.download_run_file.path("r1", "f1") == "runs/r1/downloads/files/f1"
    assert Routes.service_info.path() == ""
    with pytest.raises(afs.InvalidArgumentError) as caught:
        Routes.delete_file.path("g1", "../x")
    assert caught.value.parameter == "file_id"


def test_a_request_is_found_by_method_and_path() -> None:
    assert find_route("DELETE", "uploads/g1/files/f1") == (Routes.delete_file, ["g1", "f1"])
    assert find_route("GET", "uploads/g1/files/f1") == (Routes.download_file, ["g1", "f1"])
    assert find_route("GET", "") == (Routes.service_info, [])
    assert find_route("POST", "runs/r1") is None
    assert find_route("GET", "groups") is None  # listed by the server's descriptor, absent


def test_the_server_answers_downloads_and_results_without_a_token() -> None:
    free = {route.name for route in ALL_ROUTES if not route.auth}
    assert free == {
        "service_info", "register_user", "activate_user", "login", "list_workflows",
        "get_workflow", "get_leaderboard", "download_postproc_file", "download_postproc_archive",
        "download_file", "download_run_file", "download_run_archive",
    }


def test_run_starts_uploads_and_other_creations_are_never_resent() -> None:
    once = {route.name for route in ALL_ROUTES if not route.idempotent}
    assert once == {"start_run", "upload_file", "register_user", "activate_user", "login",
                    "create_group"}
    assert Routes.logout.idempotent  # a POST that is safe to repeat


def test_the_api_path_is_flowservs_default() -> None:
    assert API_PATH == "/flowserv/api/v1"


@pytest.mark.parametrize(
    ("name", "stored"),
    [("../../etc/evil name.txt", "etc_evil_name.txt"), ("dir/sub.csv", "dir_sub.csv"),
     ("café.txt", "cafe.txt"), ("a\\b.txt", "ab.txt"), ("..", "")],
)
def test_an_upload_is_stored_under_werkzeugs_safe_name(name: str, stored: str) -> None:
    assert server_filename(name) == stored
