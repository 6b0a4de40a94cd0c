"""watch: plain lines or a live bar, the final table, exit codes, and Ctrl-C (a real SIGINT)."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

import aioflowserv as afs
from tests.support.cli import CommandProcess, Invoke, finished_run, parse
from tests.support.realserver import QUICK

Start = Callable[..., afs.Run]


def test_watch_prints_a_line_per_state_change_and_a_final_table(
    invoke: Invoke, started: Start
) -> None:
    first, second = started(sleep=1), started(sleep=1.5)
    result = invoke("watch", first.run_id, second.run_id, "--interval", "0.2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "watching 2 runs (2 active, 0 finished)" in lines[0]
    changes = [line.split()[1:3] for line in lines if line.strip().endswith("finished]")]
    assert sorted(changes) == sorted([[first.run_id, "SUCCESS"], [second.run_id, "SUCCESS"]])
    table = [line for line in lines if "│" in line]
    assert [line.split("│")[1].strip() for line in table] == [first.run_id, second.run_id]


def test_watch_exits_1_when_a_watched_run_failed(invoke: Invoke, started: Start) -> None:
    ok, bad = started(sleep=1), started(sleep=1, exitcode=4)
    result = invoke("watch", ok.run_id, bad.run_id, "--interval", "0.2", "--json")
    assert result.exit_code == 1
    states = {run["run_id"]: run["state"] for run in parse(result)["runs"]}
    assert states == {ok.run_id: "SUCCESS", bad.run_id: "ERROR"}


def test_watch_group_covers_every_run_of_the_group(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str, started: Start
) -> None:
    done = finished_run(sync_client, group_id, sleep=QUICK)
    active = started(sleep=1)
    result = invoke("watch", "--group", group_id, "--interval", "0.2", "--json")
    assert result.exit_code == 0, result.output
    doc = parse(result)
    assert [(run["run_id"], run["state"]) for run in doc["runs"]] == [
        (done.run_id, "SUCCESS"), (active.run_id, "SUCCESS"),
    ]
    assert doc["interrupted"] is False
    assert "watching 2 runs (1 active, 1 finished)" in result.stderr  # progress goes to stderr


def test_watch_of_runs_that_already_ended_returns_at_once(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str
) -> None:
    run = finished_run(sync_client, group_id, sleep=QUICK, exitcode=1)
    result = invoke("watch", run.run_id, "--json")
    assert result.exit_code == 1
    assert parse(result)["runs"][0]["state"] == "ERROR"


def test_watch_shows_a_live_bar_on_a_terminal(invoke: Invoke, started: Start) -> None:
    run = started(sleep=1)
    result = invoke("watch", run.run_id, "--interval", "0.2", env={"FORCE_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert "━" in result.stdout  # the bar
    assert "1/1" in result.stdout
    assert "finished]" not in result.stdout  # no plain lines
    assert run.run_id in result.stdout  # the final table


def test_watch_timeout_exits_1_and_names_the_active_runs(
    invoke: Invoke, started: Start, sync_client: afs.Flowserv
) -> None:
    run = started(sleep=30)
    result = invoke("watch", run.run_id, "--timeout", "0.5", "--json")
    assert result.exit_code == 1
    assert parse(result)["timed_out"] is True
    assert run.run_id in result.stderr
    assert sync_client.get_run(run.run_id).is_running()


def test_watch_needs_run_ids_or_a_group(invoke: Invoke, group_id: str) -> None:
    assert invoke("watch").exit_code == 2
    assert invoke("watch", "abc", "--group", group_id).exit_code == 2


def test_watch_of_an_unknown_run_exits_2_naming_the_command_that_lists_runs(
    invoke: Invoke,
) -> None:
    result = invoke("watch", "nosuchrun")
    assert result.exit_code == 2
    assert "unknown run 'nosuchrun'; `aioflowserv runs GROUP` lists the runs" in result.stderr


@pytest.fixture
def sigint_watch(
    cli_env: dict[str, str], started: Start
) -> Callable[..., tuple[list[afs.Run], int, str, str]]:
    """Start two long runs, watch them in a subprocess, send SIGINT once it is watching."""
    processes: list[CommandProcess] = []

    def run(*options: str) -> tuple[list[afs.Run], int, str, str]:
        runs = [started(sleep=20), started(sleep=20)]
        process = CommandProcess(["watch", *(r.run_id for r in runs), *options], cli_env)
        processes.append(process)
        process.wait_for_line("watching 2 runs")
        process.proc.send_signal(signal.SIGINT)
        code, out, err = process.finish()
        return runs, code, out, err

    yield run
    for process in processes:
        process.kill()


def test_ctrl_c_stops_watching_and_leaves_the_runs_running(
    sigint_watch: Callable[..., tuple[list[afs.Run], int, str, str]],
    sync_client: afs.Flowserv,
) -> None:
    runs, code, _out, err = sigint_watch()
    assert code == 130
    assert "Traceback" not in err
    assert "still active on the server (not canceled)" in err
    ids = " ".join(run.run_id for run in runs)
    assert f"Resume watching: aioflowserv watch {ids}" in err
    assert f"aioflowserv cancel {ids}" in err
    assert all(sync_client.get_run(run.run_id).is_running() for run in runs)


def test_ctrl_c_with_cancel_on_interrupt_cancels_the_active_runs(
    sigint_watch: Callable[..., tuple[list[afs.Run], int, str, str]],
    sync_client: afs.Flowserv,
) -> None:
    runs, code, _out, err = sigint_watch("--cancel-on-interrupt")
    assert code == 130
    assert "Canceled 2 active runs" in err
    for run in runs:
        final = sync_client.get_run(run.run_id)
        assert final.is_canceled()
        assert final.messages() == ["interrupted by user (aioflowserv)"]


def test_ctrl_c_during_submit_wait_lists_the_submitted_runs(
    cli_env: dict[str, str], group_id: str, sync_client: afs.Flowserv
) -> None:
    process = CommandProcess(
        ["submit", "sleeper", group_id, "-a", "sleep=20", "--wait", "--plain"], cli_env
    )
    try:
        process.wait_for_line("waiting for 1 active run")
        process.proc.send_signal(signal.SIGINT)
        code, _out, err = process.finish()
    finally:
        process.kill()
    (info,) = sync_client.list_runs(group_id)
    try:
        assert code == 130
        assert f"aioflowserv watch {info.run_id}" in err
        assert info.is_active()
    finally:
        sync_client.cancel_run(info.run_id)
