"""``aioflowserv sweep`` and ``aioflowserv results`` on the session's real server."""

from __future__ import annotations

import csv
import io
import signal

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.cli import CommandProcess, Invoke, group_runs, parse
from tests.support.realserver import QUICK

Q = str(QUICK)


def test_a_grid_sweep_runs_every_combination_and_exits_0(
    invoke: Invoke, group_id: str, sync_client: afs.Flowserv
) -> None:
    result = invoke("sweep", "sleeper", group_id, "--grid", f"sleep={Q},{QUICK + 0.1}",
                    "--grid", "greeting=a,b", "--max-active", "2", "--interval", "0.2", "--json")
    assert result.exit_code == 0, result.stderr
    doc = parse(result)
    assert doc["counts"] == {"SUCCESS": 4}
    assert doc["stopped"] is None
    assert [(r["sleep"], r["greeting"]) for r in doc["records"]] == [
        (QUICK, "a"), (QUICK, "b"), (QUICK + 0.1, "a"), (QUICK + 0.1, "b"),
    ]
    assert len(group_runs(sync_client, group_id)) == 4


def test_a_sweep_with_failures_exits_1_and_groups_them_by_cause(
    invoke: Invoke, group_id: str
) -> None:
    result = invoke("sweep", "sleeper", group_id, "--grid", "exitcode=0,3,4", "-a",
                    f"sleep={Q}", "--interval", "0.2")
    assert result.exit_code == 1, result.stderr
    assert "Failures: 2 ERROR runs by cause" in result.stdout
    assert "exit code <n>" in result.stdout


def test_a_sweep_stopped_by_max_failures_exits_4(
    invoke: Invoke, group_id: str, sync_client: afs.Flowserv
) -> None:
    result = invoke("sweep", "sleeper", group_id, "--grid", "exitcode=1,2,3,4,5", "-a",
                    f"sleep={Q}", "--max-failures", "1", "--max-active", "1",
                    "--interval", "0.2", "--json")
    assert result.exit_code == 4, result.stderr
    doc = parse(result)
    assert "max_failures=1" in doc["stopped"]
    assert doc["counts"] == {"ERROR": 1, "NOT_STARTED": 4}
    assert len(group_runs(sync_client, group_id)) == 1


def test_a_bad_space_is_refused_before_anything_is_started(
    invoke: Invoke, group_id: str, sync_client: afs.Flowserv
) -> None:
    result = invoke("sweep", "sleeper", group_id, "--grid", "sleep=1,-1")
    assert result.exit_code == 2
    assert "sleep" in result.stderr
    unknown = invoke("sweep", "sleeper", group_id, "--grid", "speed=1,2")
    assert unknown.exit_code == 2
    assert "unknown parameter 'speed'" in unknown.stderr
    needs_sample = invoke("sweep", "sleeper", group_id, "--uniform", "sleep=0,1")
    assert needs_sample.exit_code == 2
    assert group_runs(sync_client, group_id) == []


def test_a_seeded_sample_draws_the_same_sets_and_reuse_starts_nothing_again(
    invoke: Invoke, group_id: str, sync_client: afs.Flowserv
) -> None:
    args = ("sweep", "sleeper", group_id, "--sample", "3", "--uniform", f"sleep={Q},1",
            "--grid", "greeting=x,y", "--seed", "5", "--interval", "0.2", "--json")
    first = parse(invoke(*args))
    again = invoke(*args, "--reuse")
    assert again.exit_code == 0, again.stderr
    doc = parse(again)
    assert doc["reused"] == 3
    assert doc["started"] == 0
    assert [r["sleep"] for r in doc["records"]] == [r["sleep"] for r in first["records"]]
    assert len(group_runs(sync_client, group_id)) == 3


def test_results_prints_the_arguments_and_results_of_every_run_of_a_group(
    invoke: Invoke, group_id: str
) -> None:
    swept = invoke("sweep", "sleeper", group_id, "--grid", "greeting=p,q", "-a", f"sleep={Q}",
                   "--interval", "0.2")
    assert swept.exit_code == 0, swept.stderr
    as_json = parse(invoke("results", group_id, "--json"))
    assert sorted(r["greeting"] for r in as_json) == ["p", "q"]
    assert all(r["state"] == "SUCCESS" and r["mode"] == "plain" for r in as_json)
    assert all(isinstance(r["count"], int) for r in as_json)  # a result column, typed
    rows = list(csv.DictReader(io.StringIO(invoke("results", group_id, "--csv").stdout)))
    assert len(rows) == 2
    assert {"greeting", "state", "run_id", "results.sleep"} <= set(rows[0])
    table = invoke("results", group_id)
    assert table.exit_code == 0
    assert "Runs of group" in table.stdout


def test_ctrl_c_interrupts_a_sweep_with_exit_130(
    cli_env: dict[str, str], group_id: str, sync_client: afs.Flowserv
) -> None:
    process = CommandProcess(
        ["sweep", "sleeper", group_id, "--grid", "sleep=30,31,32", "--max-active", "2",
         "--plain", "--cancel-on-interrupt", "--interval", "0.2"], cli_env,
    )
    try:
        process.wait_for_line("RUNNING", timeout=60)
        process.proc.send_signal(signal.SIGINT)
        code, _out, err = process.finish(timeout=60)
    finally:
        process.kill()
    assert code == 130
    assert "Traceback" not in err
    runs = group_runs(sync_client, group_id)
    assert 1 <= len(runs) <= 2
    assert all(sync_client.get_run(info.run_id).is_canceled() for info in runs)


def test_the_demo_ends_with_a_small_sweep_and_its_results_table(
    invoke: Invoke, server: FlowservServer
) -> None:
    result = invoke("demo", "--runs", "2", "--url", server.url, "-o", "results")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Sweeping 6 argument sets of the quadratic workflow" in out
    assert "6 argument sets: 6 SUCCESS" in out
    assert "Best of the study: x=1.5, y=-0.5, method=b" in out
    as_json = invoke("demo", "--runs", "2", "--url", server.url, "-o", "results2", "--json")
    study = parse(as_json)["study"]
    assert study["counts"] == {"SUCCESS": 6}
    assert {record["method"] for record in study["records"]} == {"a", "b", "c"}
