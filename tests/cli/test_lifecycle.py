"""rerun, cancel --group, watch --group --follow and runs --timeline."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

import aioflowserv as afs
from tests.support.cli import CommandProcess, Invoke, finished_run, parse
from tests.support.realserver import QUICK

Start = Callable[..., afs.Run]


def test_rerun_starts_each_run_again_with_its_arguments(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str, tmp_path: Path
) -> None:
    names = tmp_path / "names.txt"
    names.write_text("Zoe\n")
    wf = sync_client.workflow("sleeper", group_id)
    old = wf.start_run({"names": names, "greeting": "Ciao"}, poll_interval=0.1, timeout=60)
    result = invoke("rerun", old.run_id, "--wait", "--plain", "--interval", "0.1", "--json")
    assert result.exit_code == 0, result.output
    (item,) = parse(result)["reruns"]
    assert item["rerun_of"] == old.run_id
    assert item["state"] == "SUCCESS"
    assert item["arguments"] == dict(old.arguments)
    new = sync_client.get_run(item["run_id"])
    greetings = wf.get_file(new.run_id, new.get_file("greetings").id).read()  # type: ignore[union-attr]
    assert greetings == b"Ciao Zoe!\n"


def test_rerun_of_the_failed_runs_of_a_group(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str
) -> None:
    finished_run(sync_client, group_id, sleep=QUICK)
    failed = finished_run(sync_client, group_id, sleep=QUICK, exitcode=5)
    result = invoke("rerun", "--group", group_id, "--failed")
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"{failed.run_id}  rerun as ")
    assert len(sync_client.list_runs(group_id)) == 3


def test_rerun_with_a_deleted_upload_exits_2_and_names_the_parameter(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str, tmp_path: Path
) -> None:
    names = tmp_path / "names.txt"
    names.write_text("Ann\n")
    run = sync_client.workflow("sleeper", group_id).start_run({"names": names})
    sync_client.delete_file(group_id, run.arguments["names"]["value"]["fileId"])
    result = invoke("rerun", run.run_id)
    assert result.exit_code == 2
    assert "invalid argument for 'names'" in result.stderr


def test_rerun_needs_run_ids_or_a_group_with_failed(invoke: Invoke, group_id: str) -> None:
    assert invoke("rerun").exit_code == 2
    assert invoke("rerun", "--group", group_id).exit_code == 2
    assert invoke("rerun", "--failed").exit_code == 2


def test_cancel_group_cancels_its_active_runs_with_the_reason(
    invoke: Invoke, started: Start, sync_client: afs.Flowserv, group_id: str
) -> None:
    done = finished_run(sync_client, group_id, sleep=QUICK)
    active = [started(sleep=30), started(sleep=30)]
    result = invoke("cancel", "--group", group_id, "--reason", "enough", "--json")
    assert result.exit_code == 0, result.output
    assert sorted(item["run_id"] for item in parse(result)["runs"]) == sorted(
        run.run_id for run in active
    )
    assert all(sync_client.get_run(r.run_id).messages() == ["enough"] for r in active)
    assert sync_client.get_run(done.run_id).is_success()
    again = invoke("cancel", "--group", group_id)
    assert again.exit_code == 0
    assert "No active runs to cancel" in again.stdout


def test_cancel_group_with_a_state_that_no_run_has_cancels_nothing(
    invoke: Invoke, started: Start, sync_client: afs.Flowserv, group_id: str
) -> None:
    run = started(sleep=30)
    result = invoke("cancel", "--group", group_id, "--state", "pending", "--json")
    assert result.exit_code == 0
    assert parse(result)["runs"] == []
    assert sync_client.get_run(run.run_id).is_running()


def test_runs_timeline_draws_a_bar_per_run(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str
) -> None:
    quick = finished_run(sync_client, group_id, sleep=QUICK)
    slow = finished_run(sync_client, group_id, sleep=2.5, exitcode=1)
    result = invoke("runs", group_id, "--timeline", env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert "2 runs: 1 SUCCESS, 1 ERROR" in result.stdout
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert set(rows) == {quick.run_id[:8], slow.run_id[:8]}
    bar = {key: line.split("│")[3] for key, line in rows.items()}
    assert bar[slow.run_id[:8]].count("█") > 3 * bar[quick.run_id[:8]].count("█")  # straggler
    assert bar[slow.run_id[:8]].rstrip().endswith("█")  # the last to finish ends the axis


def test_runs_timeline_json_has_the_times(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str
) -> None:
    run = finished_run(sync_client, group_id, sleep=QUICK)
    (item,) = parse(invoke("runs", group_id, "--timeline", "--json"))
    assert item["run_id"] == run.run_id
    assert item["started_at"] is not None
    assert item["finished_at"] is not None


def test_watch_follow_sees_new_runs_until_ctrl_c(
    cli_env: dict[str, str], sync_client: afs.Flowserv, group_id: str
) -> None:
    done = finished_run(sync_client, group_id, sleep=QUICK)
    process = CommandProcess(
        ["watch", "--group", group_id, "--follow", "--json", "--interval", "0.1"], cli_env
    )
    try:
        process.wait_for_line(done.run_id)
        later = sync_client.workflow("sleeper", group_id).start_run({"sleep": 0.5})
        process.wait_for_line(f'{{"run_id": "{later.run_id}", "state": "SUCCESS"')
        process.proc.send_signal(signal.SIGINT)
        code, out, err = process.finish()
    finally:
        process.kill()
    assert code == 130
    lines = [json.loads(line) for line in out.splitlines()]
    assert (lines[0]["run_id"], lines[0]["state"]) == (done.run_id, "SUCCESS")
    mine = [doc["state"] for doc in lines if doc["run_id"] == later.run_id]
    assert mine[-1] == "SUCCESS"
    assert len(mine) == len(set(mine))
    assert "Traceback" not in err


def test_watch_follow_needs_a_group(invoke: Invoke) -> None:
    result = invoke("watch", "abc", "--follow")
    assert result.exit_code == 2
