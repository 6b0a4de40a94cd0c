"""Models built from server documents (``_models``): runs, run listings, uploads, groups, workflows.

The documents have the shapes a real flowServ 0.8.1 server answers with: run
handles in every state, workflows with and without post-processing, groups. A
document that lacks a key or carries an unknown state is an
:class:`InvalidResponseError`, whichever call received it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
import respx

import aioflowserv as afs
from tests.support.documents import (
    CREATED,
    FINISHED,
    SLEEPER_PARAMETERS,
    STARTED,
    TOKEN,
    group_doc,
    run_doc,
    workflow_doc,
)

SLEEPER_FILES = [
    {"id": "6158d1", "name": "greetings", "title": "Greetings",
     "caption": "One greeting per name.", "format": {"type": "plaintext"}, "widget": "TextView"},
    {"id": "18ff71", "name": "result", "title": "Result", "format": {"type": "json"}},
]
"""Result files of a workflow with an outputs spec: key, title, caption, format, widget."""

HELLO_FILES = [
    {"id": "e7f0bc", "name": "results/greetings.txt"},
    {"id": "6d61bb", "name": "results/analytics.json"},
]
"""Result files of a workflow without an outputs spec: the name is the relative path."""

POSTPROC = {
    "id": "65835a", "workflowId": "sleeper", "state": "SUCCESS",
    "arguments": [{"name": "runs", "value": {"type": "$file", "value": {
        "fileId": "/tmp/flowserv/tmpdir", "targetPath": "runs/"}}}],
    "createdAt": CREATED, "startedAt": STARTED, "finishedAt": FINISHED,
    "files": [{"id": "561942", "name": "results/summary.json", "title": "Summary",
               "caption": "Sleep time of every run in the ranking.", "format": {"type": "json"}}],
}
"""A post-processing run handle: no groupId, no parameters, a server temp path as argument."""

PREDICATES = ("is_active", "is_pending", "is_running", "is_success", "is_error", "is_canceled")


def test_running_run_has_a_start_but_no_end() -> None:
    run = afs.Run.from_json(
        run_doc(arguments=[{"name": "sleep", "value": 0.2}, {"name": "greeting", "value": "Hi"}])
    )
    assert run.run_id == "r1"
    assert run.state is afs.RunState.RUNNING
    assert (run.workflow_id, run.group_id) == ("sleeper", "g1")
    assert run.created_at == datetime(2026, 11, 26, 15, 19, 6, 885669, tzinfo=timezone.utc)
    assert run.started_at is not None
    assert run.finished_at is None
    assert run.duration is None
    assert dict(run.arguments) == {"sleep": 0.2, "greeting": "Hi"}
    assert run.messages() == []
    assert run.files() == []


def test_pending_run_has_no_start() -> None:
    run = afs.Run.from_json(run_doc(state="PENDING"))
    assert run.is_pending()
    assert run.started_at is None


def test_successful_run_with_an_outputs_spec_carries_file_metadata() -> None:
    run = afs.Run.from_json(run_doc(state="SUCCESS", files=SLEEPER_FILES))
    greetings, result = run.files()
    assert greetings == afs.RunFile(
        id="6158d1", name="greetings", title="Greetings", caption="One greeting per name.",
        format={"type": "plaintext"}, widget="TextView",
    )
    assert (result.title, result.caption, result.format, result.widget) == (
        "Result", None, {"type": "json"}, None
    )
    assert greetings.file_id == "6158d1"
    assert run.duration == timedelta(microseconds=204396)


def test_successful_run_without_an_outputs_spec_names_files_by_path() -> None:
    run = afs.Run.from_json(run_doc(state="SUCCESS", files=HELLO_FILES))
    assert [(f.id, f.name, f.title) for f in run.files()] == [
        ("e7f0bc", "results/greetings.txt", "results/greetings.txt"),
        ("6d61bb", "results/analytics.json", "results/analytics.json"),
    ]
    assert all(f.format == {} and f.caption is None for f in run.files())


def test_failed_run_carries_the_step_output_as_messages() -> None:
    lines = ["sleeper: sleeping 0.0s\n", "sleeper: failing on purpose with exit code 3\n"]
    run = afs.Run.from_json(run_doc(state="ERROR", messages=lines))
    assert run.is_error()
    assert run.messages() == lines
    assert run.files() == []


def test_canceled_run_carries_the_reason() -> None:
    run = afs.Run.from_json(run_doc(state="CANCELED", messages=["canceled at user request"]))
    assert run.is_canceled()
    assert run.messages() == ["canceled at user request"]


def test_post_processing_run_has_no_group() -> None:
    run = afs.Run.from_json(POSTPROC)
    assert run.group_id is None
    assert run.is_success()
    assert run.get_file("results/summary.json") is not None
    assert run.arguments["runs"]["type"] == "$file"


@pytest.mark.parametrize(
    ("state", "true"),
    [
        ("PENDING", {"is_active", "is_pending"}),
        ("RUNNING", {"is_active", "is_running"}),
        ("SUCCESS", {"is_success"}),
        ("ERROR", {"is_error"}),
        ("CANCELED", {"is_canceled"}),
    ],
)
def test_predicates_follow_the_state(state: str, true: set[str]) -> None:
    run = afs.Run.from_json(run_doc(state=state))
    assert {name for name in PREDICATES if getattr(run, name)()} == true


@pytest.mark.parametrize("state", ["PENDING", "RUNNING", "SUCCESS", "ERROR", "CANCELED"])
def test_str_of_a_run_is_its_state(state: str) -> None:
    assert str(afs.Run.from_json(run_doc(state=state))) == state


def test_get_file_finds_a_file_by_name_or_id() -> None:
    run = afs.Run.from_json(run_doc(state="SUCCESS", files=SLEEPER_FILES))
    assert run.get_file("greetings") is run.files()[0]
    assert run.get_file("18ff71") is not None
    assert run.get_file("18ff71") == run.get_file("result")
    assert run.get_file("nope") is None


def test_get_file_prefers_a_name_over_an_id() -> None:
    files = [{"id": "a", "name": "b"}, {"id": "b", "name": "c"}]
    run = afs.Run.from_json(run_doc(state="SUCCESS", files=files))
    found = run.get_file("b")
    assert found is not None
    assert found.id == "a"


def test_get_file_of_a_run_without_files_is_none() -> None:
    assert afs.Run.from_json(run_doc()).get_file("greetings") is None


def test_run_is_immutable_and_its_lists_are_copies() -> None:
    run = afs.Run.from_json(run_doc(state="ERROR", messages=["boom\n"]))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        run.state = afs.RunState.SUCCESS  # type: ignore[misc]
    run.messages().append("more")
    run.files().append(afs.RunFile(id="x", name="x", title="x"))
    assert run.messages() == ["boom\n"]
    assert run.files() == []


def test_snapshots_of_the_same_document_are_equal() -> None:
    assert afs.Run.from_json(run_doc()) == afs.Run.from_json(run_doc())
    assert afs.Run.from_json(run_doc()) != afs.Run.from_json(run_doc(state="SUCCESS"))


def test_run_keeps_the_raw_document() -> None:
    doc = run_doc(extra="kept")
    assert afs.Run.from_json(doc).doc["extra"] == "kept"


@pytest.mark.parametrize("state", list(afs.RunState))
def test_run_state_parses_its_own_name(state: afs.RunState) -> None:
    assert afs.RunState.parse(state.value) is state
    assert str(state) == state.value
    assert state == state.value  # a str enum


@pytest.mark.parametrize("value", ["DONE", "running", "", None, 1, ["RUNNING"]])
def test_run_state_refuses_unknown_values(value: Any) -> None:
    with pytest.raises(afs.InvalidResponseError):
        afs.RunState.parse(value)


def test_only_pending_and_running_are_active() -> None:
    assert {s for s in afs.RunState if s.is_active} == {
        afs.RunState.PENDING, afs.RunState.RUNNING
    }


def test_run_info_from_a_listing_entry() -> None:
    info = afs.RunInfo.from_json({"id": "r1", "state": "SUCCESS", "createdAt": CREATED})
    assert (info.run_id, info.state, info.is_active()) == ("r1", afs.RunState.SUCCESS, False)
    assert info.created_at is not None


def test_uploaded_file_ignores_the_size_the_server_gets_wrong() -> None:
    upload = afs.UploadedFile.from_json(
        {"id": "11ce28", "name": "names.txt", "createdAt": CREATED, "size": 0}
    )
    assert (upload.id, upload.name) == ("11ce28", "names.txt")
    assert not hasattr(upload, "size")


def test_user_keeps_no_token() -> None:
    user = afs.User.from_json({"id": "u1", "username": "alice", "token": "secret"})
    assert user == afs.User(id="u1", username="alice")
    assert "secret" not in repr(user)


def test_group_handle_has_members_parameters_files_and_runs() -> None:
    group = afs.Group.from_json(
        group_doc(
            files=[{"id": "f1", "name": "names.txt", "createdAt": CREATED, "size": 0}],
            runs=[{"id": "r1", "state": "RUNNING", "createdAt": CREATED}],
        )
    )
    assert (group.id, group.name, group.workflow_id) == ("g1", "team-g1", "sleeper")
    assert group.members == (afs.User(id="u1", username="alice"),)
    assert isinstance(group.parameters, afs.ParameterIndex)
    assert group.parameters["sleep"].dtype == "float"
    assert [f.name for f in group.files] == ["names.txt"]
    assert [r.run_id for r in group.runs] == ["r1"]


def test_group_listing_entry_has_only_id_name_and_workflow() -> None:
    group = afs.Group.from_json({"id": "g1", "name": "team-a", "workflow": "sleeper"})
    assert group.members == ()
    assert group.parameters == {}
    assert group.files == ()
    assert group.runs == ()


def test_workflow_without_post_processing() -> None:
    info = afs.WorkflowInfo.from_json(workflow_doc(parameters=[{"name": "n", "dtype": "int"}]))
    assert (info.id, info.name) == ("sleeper", "Sleeper")
    assert info.description == "The sleeper workflow"
    assert info.instructions == "# Run it"
    assert list(info.parameters) == ["n"]
    assert info.postproc is None
    assert info.groups == ()


def test_workflow_with_post_processing_and_groups() -> None:
    info = afs.WorkflowInfo.from_json(
        workflow_doc(
            postproc=POSTPROC,
            groups=[{"id": "g1", "name": "team-a2", "workflow": "sleeper"}],
        )
    )
    assert info.postproc is not None
    assert info.postproc.run_id == "65835a"
    assert info.postproc.files()[0].title == "Summary"
    assert [g.id for g in info.groups] == ["g1"]


def test_workflow_listing_entry_without_description_or_instructions() -> None:
    info = afs.WorkflowInfo.from_json({"id": "hello", "name": "Hello World"})
    assert info.description is None
    assert info.instructions is None
    assert info.parameters is None  # not sent in a listing: unknown, not "no parameters"


@pytest.mark.parametrize(
    ("model", "doc"),
    [
        (afs.RunInfo, {"state": "RUNNING"}),
        (afs.UploadedFile, {"id": "f1"}),
        (afs.User, {"username": "alice"}),
        (afs.Group, {"id": "g1"}),
        (afs.WorkflowInfo, {"name": "x"}),
        (afs.RunFile, {"id": "f1"}),
        (afs.Group, {"id": "g1", "name": "n", "runs": "r1"}),
        (afs.WorkflowInfo, {"id": "w", "name": "n", "postproc": {"id": "p"}}),
    ],
)
def test_document_lacking_a_key_is_an_invalid_response(model: Any, doc: object) -> None:
    with pytest.raises(afs.InvalidResponseError):
        model.from_json(doc)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "payload",
    [
        {"state": "RUNNING"},
        {"id": "r1"},
        {"id": "r1", "state": "DONE"},
        {"id": "r1", "state": None},
        {"id": "r1", "state": "RUNNING", "files": {"not": "a list"}},
        {"id": "r1", "state": "SUCCESS", "files": [{"name": "no id"}]},
        {"id": "r1", "state": "RUNNING", "createdAt": "yesterday"},
        ["not", "an", "object"],
        None,
    ],
    ids=["no-id", "no-state", "unknown-state", "null-state", "files-not-list", "file-no-id",
         "bad-timestamp", "list", "null"],
)
async def test_malformed_run_is_an_invalid_response(
    api: respx.MockRouter, once: afs.AsyncFlowserv, payload: object
) -> None:
    api.get("/runs/r1").respond(200, json=payload)
    with pytest.raises(afs.InvalidResponseError):
        await once.get_run("r1")


@pytest.mark.asyncio
async def test_listing_without_its_list_is_an_invalid_response(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.get("/groups/g1/runs").respond(200, json={"items": []})
    with pytest.raises(afs.InvalidResponseError):
        await once.list_runs("g1")


@pytest.mark.asyncio
async def test_listing_entry_with_unknown_state_is_an_invalid_response(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.get("/groups/g1/runs").respond(200, json={"runs": [{"id": "r1", "state": "WAITING"}]})
    with pytest.raises(afs.InvalidResponseError, match="WAITING"):
        await once.list_runs("g1")


@pytest.mark.asyncio
async def test_login_answer_without_token_is_an_invalid_response(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.post("/users/login").respond(200, json={"id": "u1", "username": "alice"})
    with pytest.raises(afs.InvalidResponseError):
        await once.login("alice", "secret")
    assert once.token == TOKEN


@pytest.mark.asyncio
async def test_service_descriptor_without_routes_is_an_invalid_response(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.get("/").respond(200, json={"status": "ok"})
    with pytest.raises(afs.InvalidResponseError):
        await once.service_info()


@pytest.mark.asyncio
async def test_group_with_malformed_range_is_an_invalid_response(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    bad = [{"name": "n", "dtype": "int", "range": "0..10", "index": 0}]
    api.get("/groups/g1").respond(200, json=group_doc(parameters=bad))
    with pytest.raises(afs.InvalidResponseError):
        await once.get_group("g1")


@pytest.mark.asyncio
async def test_run_document_with_extra_keys_is_accepted(
    api: respx.MockRouter, once: afs.AsyncFlowserv
) -> None:
    api.get("/runs/r1").respond(200, json=run_doc(newKey={"from": "a newer server"}))
    assert (await once.get_run("r1")).is_running()


def test_a_run_keeps_its_document_but_not_the_groups_parameter_declarations() -> None:
    doc = run_doc("r1", state="SUCCESS", parameters=SLEEPER_PARAMETERS)
    run = afs.Run.from_json(doc)
    assert "parameters" not in run.doc
    assert run.doc["arguments"] == doc["arguments"]
    assert run.doc["id"] == "r1"


# -- how the models read in a terminal and in a notebook ---------------------------------

RUN_ID = "4a173e2b9d0c4a8e8d9f0b1c2d3e4f50"


def test_a_runs_repr_is_one_line_with_id_state_and_files() -> None:
    run = afs.Run.from_json(run_doc(RUN_ID, "SUCCESS", files=SLEEPER_FILES,
                                    arguments=[{"name": "sleep", "value": 1}]))
    text = repr(run)
    assert text.startswith(f"<Run {RUN_ID} SUCCESS (sleeper; ")
    assert "files: greetings, result" in text
    assert "\n" not in text
    assert "_messages" not in text
    assert "_files" not in text
    assert len(text) <= 120


def test_a_failed_runs_repr_shows_its_last_message() -> None:
    run = afs.Run.from_json(run_doc(RUN_ID, "ERROR", messages=[
        "sleeper: sleeping 0.0s\n", "sleeper: failing on purpose with exit code 3\n"]))
    assert repr(run).endswith("sleeper: failing on purpose with exit code 3)>")


def test_a_runs_html_is_a_small_table_with_its_state_arguments_and_messages() -> None:
    run = afs.Run.from_json(run_doc(RUN_ID, "ERROR", messages=["boom <b>\n"],
                                    arguments=[{"name": "sleep", "value": 1}]))
    page = run._repr_html_()
    assert page.startswith("<table>")
    assert RUN_ID in page
    assert ">ERROR<" in page
    assert "sleep=1" in page
    assert "boom &lt;b&gt;" in page  # escaped
    assert "<b>boom" not in page


def test_a_groups_repr_counts_instead_of_listing() -> None:
    runs = [{"id": f"r{i}", "state": "SUCCESS", "createdAt": CREATED} for i in range(5)]
    group = afs.Group.from_json(group_doc(runs=runs))
    text = repr(group)
    assert text == (
        "<Group 'team-g1' g1 of sleeper: 1 member, 6 parameters, 0 files, 5 runs (5 SUCCESS)>"
    )


def test_a_group_listing_entry_does_not_claim_empty_counts() -> None:
    group = afs.Group.from_json({"id": "g1", "name": "team-a", "workflow": "sleeper"})
    assert repr(group) == "<Group 'team-a' g1 of sleeper>"
    assert "fs.get_group" in group._repr_html_()


def test_a_groups_html_shows_its_parameters() -> None:
    page = afs.Group.from_json(group_doc())._repr_html_()
    assert "<th style='text-align:left'>name</th>" in page
    assert "sleep" in page
    assert "in [0.0,3600.0]" in page


def test_a_workflow_listing_entry_does_not_read_as_no_parameters() -> None:
    info = afs.WorkflowInfo.from_json({"id": "sleeper", "name": "Sleeper"})
    assert info.parameters is None
    assert "parameters not loaded" in repr(info)
    assert "get_workflow('sleeper')" in repr(info)
    assert "parameters not loaded" in info._repr_html_()


def test_a_workflows_repr_counts_its_parameters_and_groups() -> None:
    info = afs.WorkflowInfo.from_json(workflow_doc(parameters=SLEEPER_PARAMETERS))
    assert repr(info) == "<WorkflowInfo 'sleeper' 'Sleeper': 6 parameters, 0 groups>"
    assert "Sleep time" in info._repr_html_() or "sleep" in info._repr_html_()


def test_parameter_reprs_show_type_default_and_what_is_allowed() -> None:
    index = afs.ParameterIndex.from_json(SLEEPER_PARAMETERS)
    assert repr(index["sleep"]).startswith("<Parameter sleep: float = 0.0 in [0.0,3600.0]")
    assert repr(index["mode"]).startswith("<Parameter mode: select = 'plain' one of 'plain'")
    text = repr(index)
    assert text.startswith("<ParameterIndex: sleep: float = 0.0, greeting: string = 'Hello'")
    assert "\n" not in text
    assert repr(afs.ParameterIndex()) == "<ParameterIndex: no parameters>"


def test_a_parameter_index_html_has_one_row_per_parameter() -> None:
    page = afs.ParameterIndex.from_json(SLEEPER_PARAMETERS)._repr_html_()
    assert page.count("<tr>") == 1 + len(SLEEPER_PARAMETERS)  # the header, then one each
    assert "one of &#x27;plain&#x27;, &#x27;upper&#x27;" in page
    assert afs.ParameterIndex.from_json(SLEEPER_PARAMETERS)["sleep"]._repr_html_().count(
        "<tr>") == 2


def test_a_run_list_is_a_list_that_shows_a_summary() -> None:
    runs = afs.RunList(
        afs.Run.from_json(run_doc(f"r{i}", state)) for i, state in
        enumerate(["SUCCESS", "SUCCESS", "ERROR", "RUNNING"])
    )
    assert runs == list(runs)
    assert repr(runs) == "<RunList: 4 runs: 1 RUNNING, 2 SUCCESS, 1 ERROR>"
    assert repr(afs.RunList()) == "<RunList: no runs>"
    page = runs._repr_html_()
    table = page.split("</table>", 1)[0]  # a timeline of the runs follows the table
    assert table.count("<tr>") == 5
    assert ">files or message<" in table


def test_models_render_as_rich_tables() -> None:
    from rich.console import Console

    console = Console(width=120, record=True, color_system=None)
    console.print(afs.ParameterIndex.from_json(SLEEPER_PARAMETERS))
    console.print(afs.Run.from_json(run_doc(RUN_ID, "SUCCESS", files=SLEEPER_FILES)))
    text = console.export_text()
    assert "Sleep time" in text or "sleep" in text
    assert RUN_ID in text
    assert "SUCCESS" in text


# -- the JSON form of each model (``to_dict``) --------------------------------------------

RUN_KEYS = [
    "run_id", "state", "workflow_id", "group_id", "created_at", "started_at", "finished_at",
    "seconds", "arguments", "messages", "files",
]


def test_a_runs_dict_is_plain_json_with_every_key_in_a_fixed_order() -> None:
    run = afs.Run.from_json(run_doc(RUN_ID, "SUCCESS", files=SLEEPER_FILES,
                                    arguments=[{"name": "sleep", "value": 1}]))
    doc = run.to_dict()
    assert list(doc) == RUN_KEYS
    assert json.loads(json.dumps(doc)) == doc  # no custom encoder needed
    assert (doc["run_id"], doc["state"], doc["workflow_id"], doc["group_id"]) == (
        RUN_ID, "SUCCESS", "sleeper", "g1"
    )
    assert (doc["created_at"], doc["started_at"], doc["finished_at"]) == (
        CREATED, STARTED, FINISHED
    )
    assert doc["seconds"] == 0.204
    assert doc["arguments"] == {"sleep": 1}
    assert doc["messages"] == []
    assert doc["files"][0] == {
        "id": "6158d1", "name": "greetings", "title": "Greetings",
        "caption": "One greeting per name.", "format": {"type": "plaintext"}, "widget": "TextView",
    }


def test_a_runs_dict_has_none_for_what_is_not_known_yet() -> None:
    doc = afs.Run(run_id="r1", state=afs.RunState.PENDING).to_dict()
    assert list(doc) == RUN_KEYS
    assert doc == {
        "run_id": "r1", "state": "PENDING", "workflow_id": None, "group_id": None,
        "created_at": None, "started_at": None, "finished_at": None, "seconds": None,
        "arguments": {}, "messages": [], "files": [],
    }


def test_a_runs_dict_is_a_copy() -> None:
    run = afs.Run.from_json(POSTPROC)
    doc = run.to_dict()
    doc["arguments"]["runs"]["value"]["targetPath"] = "elsewhere/"
    doc["files"][0]["format"]["type"] = "csv"
    assert run.arguments["runs"]["value"]["targetPath"] == "runs/"
    assert run.files()[0].format == {"type": "json"}


def test_a_listing_entrys_dict_has_the_keys_of_a_run_it_knows() -> None:
    info = afs.RunInfo.from_json({"id": "r1", "state": "SUCCESS", "createdAt": CREATED})
    assert info.to_dict() == {"run_id": "r1", "state": "SUCCESS", "created_at": CREATED}


def test_a_users_dict_never_has_a_token() -> None:
    user = afs.User.from_json({"id": "u1", "username": "alice", "token": TOKEN})
    assert user.to_dict() == {"id": "u1", "username": "alice"}


def test_a_groups_dict_has_its_members_uploads_and_runs() -> None:
    group = afs.Group.from_json(group_doc(
        files=[{"id": "f1", "name": "names.txt", "createdAt": CREATED, "size": 0}],
        runs=[{"id": "r1", "state": "RUNNING", "createdAt": CREATED}],
    ))
    doc = group.to_dict()
    assert json.loads(json.dumps(doc)) == doc
    assert doc == {
        "id": "g1", "name": "team-g1", "workflow_id": "sleeper",
        "members": [{"id": "u1", "username": "alice"}],
        "files": [{"id": "f1", "name": "names.txt", "created_at": CREATED}],
        "runs": [{"run_id": "r1", "state": "RUNNING", "created_at": CREATED}],
    }
    listed = afs.Group.from_json({"id": "g1", "name": "team-a", "workflow": "sleeper"})
    assert listed.to_dict() == {
        "id": "g1", "name": "team-a", "workflow_id": "sleeper", "members": [], "files": [],
        "runs": [],
    }


def test_a_workflows_dict_has_its_texts_groups_and_post_processing_run() -> None:
    info = afs.WorkflowInfo.from_json(workflow_doc(
        postproc=POSTPROC, groups=[{"id": "g1", "name": "team-a2", "workflow": "sleeper"}],
    ))
    doc = info.to_dict()
    assert json.loads(json.dumps(doc)) == doc
    assert list(doc) == ["id", "name", "description", "instructions", "groups", "postproc"]
    assert (doc["id"], doc["description"]) == ("sleeper", "The sleeper workflow")
    assert [group["id"] for group in doc["groups"]] == ["g1"]
    assert doc["postproc"] == afs.Run.from_json(POSTPROC).to_dict()
    listed = afs.WorkflowInfo.from_json({"id": "hello", "name": "Hello"})
    assert listed.to_dict()["postproc"] is None
