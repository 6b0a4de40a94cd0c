"""submit: -a arguments, batch files in both formats, --wait, exit codes, nothing sent on errors."""

from __future__ import annotations

from pathlib import Path

import aioflowserv as afs
from tests.support.cli import Invoke, group_runs, parse


def test_submit_starts_one_run_with_typed_arguments(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str
) -> None:
    result = invoke(
        "submit", "sleeper", group_id, "-a", "sleep=0.5", "-a", "greeting=Hi",
        "-a", "shout=yes", "-a", "mode=upper", "--json",
    )
    assert result.exit_code == 0, result.output
    (run,) = parse(result)["runs"]
    sent = sync_client.get_run(run["run_id"]).arguments
    assert sent["sleep"] == 0.5
    assert sent["greeting"] == "Hi"
    assert sent["shout"] is True
    assert sent["mode"] == "upper"
    assert [info.run_id for info in group_runs(sync_client, group_id)] == [run["run_id"]]


def test_submit_wait_follows_the_run_and_exits_0_on_success(
    invoke: Invoke, group_id: str
) -> None:
    result = invoke("submit", "sleeper", group_id, "-a", "sleep=0.5", "--wait", "--json",
                    "--interval", "0.2")
    assert result.exit_code == 0, result.output
    doc = parse(result)
    assert [run["state"] for run in doc["runs"]] == ["SUCCESS"]
    assert doc["runs"][0]["seconds"] is not None
    assert {f["name"] for f in doc["runs"][0]["files"]} == {"greetings", "result"}


def test_submit_wait_exits_1_when_a_run_fails(invoke: Invoke, group_id: str) -> None:
    result = invoke("submit", "sleeper", group_id, "-a", "exitcode=2", "--wait", "--json",
                    "--interval", "0.2")
    assert result.exit_code == 1
    (run,) = parse(result)["runs"]
    assert run["state"] == "ERROR"
    assert any("exit code 2" in line for line in run["messages"])


def test_a_file_argument_uploads_the_local_file(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str, tmp_path: Path
) -> None:
    (tmp_path / "people.txt").write_text("Ada\nGrace\n")
    result = invoke("submit", "sleeper", group_id, "-a", "names=people.txt", "--wait",
                    "--json", "--interval", "0.2")
    assert result.exit_code == 0, result.output
    (run,) = parse(result)["runs"]
    greetings = sync_client.download_run_file(run["run_id"], _file_id(run, "greetings"))
    assert greetings.read() == b"Hello Ada!\nHello Grace!\n"


def _file_id(run: dict[str, object], name: str) -> str:
    files = run["files"]
    assert isinstance(files, list)
    return next(str(f["id"]) for f in files if f["name"] == name)


def test_an_unknown_parameter_exits_2_and_submits_nothing(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str
) -> None:
    result = invoke("submit", "sleeper", group_id, "-a", "sleeep=1")
    assert result.exit_code == 2
    assert "unknown parameter 'sleeep'" in result.stderr
    assert group_runs(sync_client, group_id) == []


def test_a_bad_value_exits_2_and_submits_nothing(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str
) -> None:
    result = invoke("submit", "sleeper", group_id, "-a", "sleep=abc")
    assert result.exit_code == 2
    assert "invalid argument for 'sleep'" in result.stderr
    assert group_runs(sync_client, group_id) == []


def test_a_missing_local_file_exits_2_and_submits_nothing(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str
) -> None:
    result = invoke("submit", "sleeper", group_id, "-a", "names=absent.txt")
    assert result.exit_code == 2
    assert "no such file" in result.stderr
    assert group_runs(sync_client, group_id) == []


def test_a_jsonl_batch_starts_one_run_per_line(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str, tmp_path: Path
) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_text('{"sleep": 1, "greeting": "A"}\n{"sleep": 1, "greeting": "B"}\n'
                     '{"sleep": "1", "greeting": "C", "mode": "upper"}\n')
    result = invoke("submit", "sleeper", group_id, "--batch", str(batch), "--json")
    assert result.exit_code == 0, result.output
    runs = parse(result)["runs"]
    assert [run["line"] for run in runs] == [1, 2, 3]
    greetings = {sync_client.get_run(run["run_id"]).arguments["greeting"] for run in runs}
    assert greetings == {"A", "B", "C"}
    assert len(group_runs(sync_client, group_id)) == 3


def test_a_csv_batch_starts_one_run_per_row(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str, tmp_path: Path
) -> None:
    batch = tmp_path / "batch.csv"
    batch.write_text("sleep,greeting,shout\n1,Hi,yes\n1,,no\n")
    result = invoke("submit", "sleeper", group_id, "--batch", str(batch), "--json")
    assert result.exit_code == 0, result.output
    first, second = (sync_client.get_run(run["run_id"]) for run in parse(result)["runs"])
    assert (first.arguments["greeting"], first.arguments["shout"]) == ("Hi", True)
    assert (second.arguments["greeting"], second.arguments["shout"]) == ("Hello", False)


def test_a_batch_from_stdin(invoke: Invoke, sync_client: afs.Flowserv, group_id: str) -> None:
    result = invoke("submit", "sleeper", group_id, "--batch", "-", "--format", "csv", "--json",
                    input="sleep\n1\n1\n")
    assert result.exit_code == 0, result.output
    assert len(parse(result)["runs"]) == 2
    assert len(group_runs(sync_client, group_id)) == 2


def test_a_malformed_jsonl_line_is_named_and_nothing_is_submitted(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str, tmp_path: Path
) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_text('{"sleep": 1}\n{"sleep": 1}\n{"sleep": 1\n')
    result = invoke("submit", "sleeper", group_id, "--batch", str(batch))
    assert result.exit_code == 2
    assert f"{batch}, line 3: not valid JSON" in result.stderr
    assert group_runs(sync_client, group_id) == []


def test_a_bad_csv_value_is_named_and_nothing_is_submitted(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str, tmp_path: Path
) -> None:
    batch = tmp_path / "batch.csv"
    batch.write_text("sleep,mode\n1,plain\n1,loud\n")
    result = invoke("submit", "sleeper", group_id, "--batch", str(batch))
    assert result.exit_code == 2
    assert f"{batch}, line 3: invalid argument for 'mode'" in result.stderr
    assert group_runs(sync_client, group_id) == []


def test_a_csv_row_with_too_many_fields_is_named_and_nothing_is_submitted(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str, tmp_path: Path
) -> None:
    batch = tmp_path / "batch.csv"
    batch.write_text("sleep\n1\n1,2\n")
    result = invoke("submit", "sleeper", group_id, "--batch", str(batch))
    assert result.exit_code == 2
    assert "line 3: 2 fields, but the header (line 1) has 1" in result.stderr
    assert group_runs(sync_client, group_id) == []


def test_wait_with_a_batch_exits_1_when_one_run_fails(
    invoke: Invoke, group_id: str, tmp_path: Path
) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_text('{"sleep": 1}\n{"sleep": 1, "exitcode": 1}\n')
    result = invoke("submit", "sleeper", group_id, "--batch", str(batch), "--wait",
                    "--concurrency", "2", "--interval", "0.2", "--json")
    assert result.exit_code == 1
    assert [run["state"] for run in parse(result)["runs"]] == ["SUCCESS", "ERROR"]


def test_wait_prints_one_plain_line_per_state_change_when_not_a_terminal(
    invoke: Invoke, group_id: str
) -> None:
    result = invoke("submit", "sleeper", group_id, "-a", "sleep=0.5", "--wait",
                    "--interval", "0.2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    changes = [line.split() for line in lines if line.strip().endswith("finished]")]
    run_id = changes[0][1]
    assert [(words[1], words[2]) for words in changes] == [
        (run_id, "RUNNING"), (run_id, "SUCCESS"),
    ]
    assert changes[-1][-2:] == ["[1/1", "finished]"]
    assert "\x1b[" not in result.stdout  # no terminal control codes
    assert any(run_id in line and "SUCCESS" in line and "│" in line for line in lines)


def test_wait_timeout_exits_1_and_leaves_the_run_running(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str
) -> None:
    result = invoke("submit", "sleeper", group_id, "-a", "sleep=30", "--wait",
                    "--timeout", "1", "--json")
    (run,) = parse(result)["runs"]
    try:
        assert result.exit_code == 1
        assert parse(result)["timed_out"] is True
        assert "still active (left running)" in result.stderr
        assert sync_client.get_run(run["run_id"]).is_running()
    finally:
        sync_client.cancel_run(run["run_id"])


def test_timeout_without_wait_is_a_usage_error(invoke: Invoke, group_id: str) -> None:
    result = invoke("submit", "sleeper", group_id, "--timeout", "5")
    assert result.exit_code == 2
    assert "--timeout needs --wait" in result.stderr


def test_without_a_token_submit_says_how_to_log_in(invoke: Invoke, group_id: str) -> None:
    result = invoke("submit", "sleeper", group_id, env={"FLOWSERV_ACCESS_TOKEN": ""})
    assert result.exit_code == 2
    assert "aioflowserv login" in result.stderr


def test_concurrency_is_auto_by_default_and_the_summary_says_where_it_settled(
    invoke: Invoke, group_id: str, tmp_path: Path
) -> None:
    batch = tmp_path / "runs.jsonl"
    batch.write_text("".join(f'{{"sleep": 1, "greeting": "hi {n}"}}\n' for n in range(4)))
    result = invoke("submit", "sleeper", group_id, "--batch", str(batch))
    assert result.exit_code == 0, result.output
    assert "Concurrency auto settled at " in result.stdout
    as_json = invoke("submit", "sleeper", group_id, "--batch", str(batch), "--json")
    concurrency = parse(as_json)["concurrency"]
    assert concurrency["auto"] is True
    assert 1 <= concurrency["settled"] <= concurrency["peak"] <= 4


def test_a_fixed_concurrency_is_reported_as_such(
    invoke: Invoke, group_id: str, tmp_path: Path
) -> None:
    batch = tmp_path / "runs.jsonl"
    batch.write_text('{"sleep": 1}\n{"sleep": 1, "greeting": "Hi"}\n')
    result = invoke("submit", "sleeper", group_id, "--batch", str(batch), "--concurrency", "1",
                    "--json")
    assert result.exit_code == 0, result.output
    assert parse(result)["concurrency"] == {"auto": False, "settled": 1, "peak": 1}


def test_a_bad_concurrency_is_a_usage_error(invoke: Invoke, group_id: str) -> None:
    for bad in ("fast", "0", "1000"):
        result = invoke("submit", "sleeper", group_id, "--concurrency", bad)
        assert result.exit_code == 2
        assert "--concurrency" in result.stderr


def test_a_manifest_makes_a_second_submit_start_nothing_new(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str, tmp_path: Path
) -> None:
    batch = tmp_path / "runs.jsonl"
    batch.write_text("".join(f'{{"sleep": 1, "greeting": "hi {n}"}}\n' for n in range(3)))
    manifest = tmp_path / "manifest.jsonl"
    first = invoke("submit", "sleeper", group_id, "--batch", str(batch), "--manifest",
                   str(manifest), "--json")
    assert first.exit_code == 0, first.output
    again = invoke("submit", "sleeper", group_id, "--batch", str(batch), "--manifest",
                   str(manifest), "--json")
    assert again.exit_code == 0, again.output
    ids = [run["run_id"] for run in parse(first)["runs"]]
    assert [run["run_id"] for run in parse(again)["runs"]] == ids
    assert sorted(info.run_id for info in group_runs(sync_client, group_id)) == sorted(ids)


def test_a_manifest_of_another_batch_exits_2_and_submits_nothing(
    invoke: Invoke, sync_client: afs.Flowserv, group_id: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "manifest.jsonl"
    first = invoke("submit", "sleeper", group_id, "-a", "sleep=1", "--manifest", str(manifest))
    assert first.exit_code == 0, first.output
    other = invoke("submit", "sleeper", group_id, "-a", "sleep=2", "--manifest", str(manifest))
    assert other.exit_code == 2
    assert "manifest" in other.stderr
    assert len(group_runs(sync_client, group_id)) == 1
