"""Users' own workflow templates in the test harness (FlowservServer and the pytest plugin).

The session's server already has the suite's ``scores`` template, installed
through the plugin's ``flowserv_workflows`` ini option (see pyproject.toml).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import aioflowserv as afs
from aioflowserv.testing import TEMPLATES, FlowservServer, FlowservServerError
from tests.support.realserver import DEADLINE, POLL

SCORES = Path(__file__).parents[1] / "support" / "templates" / "scores"


def test_the_plugin_installed_the_suites_own_template(
    sync_client: afs.Flowserv, server: FlowservServer, user: dict[str, Any]
) -> None:
    info = sync_client.get_workflow("scores")
    assert info.name == "Scores"  # from the template's manifest
    assert list(info.parameters) == ["score", "rounds", "note"]
    wf = sync_client.workflow("scores", server.create_group(user["token"], "scores"))
    run = wf.start_run({"score": 0.25, "note": "mine"}, poll_interval=POLL, timeout=DEADLINE)
    assert run.is_success(), run.messages()
    result = wf.get_file(run.run_id, run.get_file("result").id).read()  # type: ignore[union-attr]
    assert result == b'{"score": 0.25, "rounds": 1, "note": "mine"}'


def test_a_server_installs_a_template_directory_given_by_path(tmp_path: Path) -> None:
    bare = tmp_path / "bench"
    shutil.copytree(SCORES, bare)
    (bare / "flowserv.yaml").unlink()  # no manifest: named by its id, spec found by its name
    with FlowservServer(workflows={"sleeper": TEMPLATES["sleeper"], "bench": bare}) as server:
        token = server.create_user()["token"]
        with afs.Flowserv(server.url, token=token) as fs:
            assert {(w.id, w.name) for w in fs.list_workflows()} == {
                ("sleeper", "Sleeper"), ("bench", "bench"),
            }
            wf = fs.workflow("bench", server.create_group(token, "bench"))
            run = wf.start_run({"score": 1.5}, poll_interval=POLL, timeout=DEADLINE)
            assert run.is_success(), run.messages()


@pytest.mark.parametrize(
    "workflows",
    [{"mine": "no/such/directory"}, {"sleeper": Path("no/such/directory")}, {"mine": 42}],
)
def test_a_template_that_is_not_a_directory_is_refused_at_once(workflows: Any) -> None:
    with pytest.raises(FlowservServerError, match="template directory"):
        FlowservServer(workflows=workflows)


def test_a_directory_without_manifest_or_specification_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FlowservServerError, match=r"no manifest .* and no specification"):
        FlowservServer(workflows={"empty": tmp_path})
