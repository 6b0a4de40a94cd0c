"""cancel, delete and download."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aioflowserv as afs
from tests.support.cli import Invoke, finished_run, parse
from tests.support.realserver import QUICK

Start = Callable[..., afs.Run]


def test_cancel_forwards_the_reason(
    invoke: Invoke, started: Start, sync_client: afs.Flowserv
) -> None:
    run = started(sleep=30)
    result = invoke("cancel", run.run_id, "--reason", "wrong input", "--json")
    assert result.exit_code == 0, result.output
    (item,) = parse(result)["runs"]
    assert (item["run_id"], item["canceled"], item["state"]) == (run.run_id, True, "CANCELED")
    assert sync_client.get_run(run.run_id).messages() == ["wrong input"]


def test_cancel_of_several_runs(invoke: Invoke, started: Start, sync_client: afs.Flowserv) -> None:
    runs = [started(sleep=30), started(sleep=30)]
    result = invoke("cancel", *(run.run_id for run in runs))
    assert result.exit_code == 0, result.output
    assert all(sync_client.get_run(run.run_id).is_canceled() for run in runs)
    assert all(f"{run.run_id}  canceled" in result.stdout for run in runs)


def test_cancel_of_a_finished_run_is_reported_not_an_error(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str
) -> None:
    run = finished_run(sync_client, group_id, sleep=QUICK)
    result = invoke("cancel", run.run_id, "--json")
    assert result.exit_code == 0
    (item,) = parse(result)["runs"]
    assert item["canceled"] is False
    assert item["note"] == "already SUCCESS, nothing to cancel"
    assert sync_client.get_run(run.run_id).is_success()


def test_cancel_of_an_unknown_run_exits_2_naming_the_command_that_lists_runs(
    invoke: Invoke,
) -> None:
    result = invoke("cancel", "nosuchrun", "--json")
    assert result.exit_code == 2  # an id typed that does not exist: a usage error
    assert parse(result)["errors"][0]["run_id"] == "nosuchrun"
    assert "unknown run 'nosuchrun'; `aioflowserv runs GROUP` lists the runs" in result.stderr


def test_delete_removes_finished_runs(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str
) -> None:
    run = finished_run(sync_client, group_id, sleep=QUICK)
    result = invoke("delete", run.run_id, "--json")
    assert result.exit_code == 0, result.output
    assert parse(result)["runs"] == [{"run_id": run.run_id, "deleted": True}]
    assert sync_client.list_runs(group_id) == []


def test_delete_of_an_active_run_says_to_cancel_first(
    invoke: Invoke, started: Start, sync_client: afs.Flowserv
) -> None:
    run = started(sleep=30)
    result = invoke("delete", run.run_id)
    assert result.exit_code == 2
    assert f"cancel it first (aioflowserv cancel {run.run_id})" in result.stderr
    assert sync_client.get_run(run.run_id).is_running()


def test_download_unpacks_the_archive_into_the_directory(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str, tmp_path: Path
) -> None:
    run = finished_run(sync_client, group_id, sleep=QUICK, greeting="Hey")
    result = invoke("download", run.run_id, "-o", "out", "--json")
    assert result.exit_code == 0, result.output
    files = sorted(Path(p).relative_to(tmp_path / "out").as_posix()
                   for p in parse(result)["files"])
    assert files == ["results/greetings.txt", "results/result.json"]  # the server's paths
    assert (tmp_path / "out/results/greetings.txt").read_text() == "Hey Alice!\nHey Bob!\n"


def test_download_extract_and_postproc_share_one_layout(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str, tmp_path: Path
) -> None:
    run = finished_run(sync_client, group_id, sleep=QUICK)
    assert invoke("download", run.run_id, "-o", "cli").exit_code == 0
    sdk = sync_client.workflow("sleeper", group_id).get_file(run.run_id).extract(tmp_path / "sdk")
    group = invoke("download", "--group", group_id, "-o", "group")
    assert group.exit_code == 0, group.output
    layout = sorted(p.relative_to(tmp_path / "cli").as_posix()
                    for p in (tmp_path / "cli").rglob("*") if p.is_file())
    assert layout == sorted(p.relative_to(tmp_path / "sdk").as_posix() for p in sdk)
    assert all((tmp_path / "group" / run.run_id / name).is_file() for name in layout)


def test_download_defaults_to_a_directory_named_after_the_run(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str, tmp_path: Path
) -> None:
    run = finished_run(sync_client, group_id, sleep=QUICK)
    assert invoke("download", run.run_id).exit_code == 0
    assert (tmp_path / run.run_id / "results" / "result.json").is_file()


def test_download_of_one_file_by_name(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str, tmp_path: Path
) -> None:
    run = finished_run(sync_client, group_id, sleep=QUICK, greeting="Yo")
    result = invoke("download", run.run_id, "greetings", "-o", "one")
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "one").iterdir()] == ["greetings.txt"]
    assert (tmp_path / "one/greetings.txt").read_text() == "Yo Alice!\nYo Bob!\n"


def test_download_of_an_unknown_file_lists_the_files(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str
) -> None:
    run = finished_run(sync_client, group_id, sleep=QUICK)
    result = invoke("download", run.run_id, "nope")
    assert result.exit_code == 2
    assert "has no file 'nope' (files: greetings, result)" in result.stderr


def test_download_of_a_failed_run_exits_1(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str, tmp_path: Path
) -> None:
    run = finished_run(sync_client, group_id, sleep=QUICK, exitcode=1)
    result = invoke("download", run.run_id, "-o", "out")
    assert result.exit_code == 1
    assert "is ERROR: only successful runs have results" in result.stderr
    assert not (tmp_path / "out").exists()
