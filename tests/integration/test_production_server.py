"""flowServ in the shape a deployment uses: gunicorn with sync workers over PostgreSQL.

The seed contract and the batch and watch paths run against it too (see this
directory's conftest); here is what is particular to it: cancels answer
whichever worker gets them, a gunicorn that drops the ``api_key`` header gets
an explained error, and stopping the server leaves no process behind.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.realserver import DEADLINE, POLL


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def live_members(group: int) -> list[int]:
    """The processes of a process group that still run (zombies wait for init, not for us)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def test_cancels_answer_whichever_gunicorn_worker_gets_them(
    flowserv_production_server: FlowservServer,
) -> None:
    server = flowserv_production_server
    user = server.create_user()
    group = server.create_group(user["token"])
    with afs.Flowserv(server.url, token=user["token"], timeout=20) as fs:
        wf = fs.workflow("sleeper", group)
        runs = wf.start_runs([{"sleep": 30, "greeting": f"hi {n}"} for n in range(6)])
        canceled = [wf.cancel_run(run.run_id, reason=f"stop {n}") for n, run in enumerate(runs)]
        finals = wf.wait_all(runs, timeout=DEADLINE, poll_interval=POLL)
    assert [run.state for run in canceled] == [afs.RunState.CANCELED] * 6
    assert [run.messages() for run in finals] == [[f"stop {n}"] for n in range(6)]


def test_a_gunicorn_that_drops_the_token_header_gets_an_explained_error(
    tmp_path: Path,
) -> None:
    with FlowservServer(workers=2, header_map="drop", directory=tmp_path) as server:
        user = server.create_user()  # registering and logging in need no token
        with afs.Flowserv(server.url) as fs:
            fs.login(user["username"], user["password"])
            with pytest.raises(afs.UnauthenticatedError) as caught:
                fs.whoami()
    text = str(caught.value)
    assert caught.value.message == "not logged in"
    assert "the 'api_key' header may be dropped" in text
    assert "--header-map dangerous" in text


def test_stopping_the_production_shape_stops_gunicorn_and_postgresql() -> None:
    with FlowservServer(workers=2, database="postgresql") as server:
        gunicorn = server.pid
        postmaster = int((server.postgres_directory / "postmaster.pid").read_text().split()[0])
        token = server.create_user()["token"]
        with afs.Flowserv(server.url, token=token) as fs:
            wf = fs.workflow("sleeper", server.create_group(token))
            wf.start_run({"sleep": 30})  # a pool process and a step that outlive a graceful stop
        directory = server.directory
    assert gunicorn is not None
    assert not alive(gunicorn)
    assert live_members(gunicorn) == []  # nothing left of its session: workers, pools, steps
    assert not alive(postmaster)
    assert not directory.exists()
