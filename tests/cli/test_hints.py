"""Hints on the command line are in command-line terms, and can be pasted as they are.

``params`` ends with an example whose ``-a`` options are shell-quoted and set
every required parameter; a group of another workflow is explained with the
``aioflowserv`` commands to use; an interrupted ``submit`` says how to finish
the batch (the same command again, with its ``--manifest``).
"""

from __future__ import annotations

import json
import shlex
import signal
import time
from pathlib import Path

import aioflowserv as afs
from tests.support.cli import CommandProcess, Invoke


def example_line(stdout: str) -> str:
    (line,) = [line for line in stdout.splitlines() if line.startswith("Set them with")]
    return line.split("e.g.: ", 1)[1]


def test_the_params_example_sets_every_required_parameter_and_can_be_pasted(
    invoke: Invoke, types_group_id: str
) -> None:
    result = invoke("params", "types", "--group", types_group_id)
    assert result.exit_code == 0, result.output
    example = example_line(result.stdout)
    assert """-a 'point={"x": 1.0}'""" in example  # the required record, quoted for the shell
    words = shlex.split(example.replace("GROUP", types_group_id))
    assert words[:4] == ["aioflowserv", "submit", "types", types_group_id]
    submitted = invoke(*words[1:], "--json")
    assert submitted.exit_code == 0, submitted.output


def test_the_params_example_of_a_workflow_without_required_parameters_shows_the_first(
    invoke: Invoke,
) -> None:
    result = invoke("params", "sleeper")
    assert example_line(result.stdout) == "aioflowserv submit sleeper GROUP -a sleep=0.0"


def test_a_group_of_another_workflow_is_explained_with_commands(
    invoke: Invoke, types_group_id: str
) -> None:
    result = invoke("submit", "sleeper", types_group_id, "-a", "sleep=1")
    assert result.exit_code == 2
    assert f"use `aioflowserv submit types {types_group_id} ...`" in result.stderr
    assert "`aioflowserv groups sleeper` lists yours" in result.stderr
    assert "workflow(" not in result.stderr  # not the SDK's hint


def test_an_interrupted_submit_says_that_the_same_command_finishes_the_batch(
    cli_env: dict[str, str], group_id: str, sync_client: afs.Flowserv, tmp_path: Path
) -> None:
    batch = tmp_path / "runs.jsonl"
    batch.write_text("".join(json.dumps({"greeting": f"hi {n}"}) + "\n" for n in range(30)))
    manifest = tmp_path / "m.jsonl"
    command = ["submit", "sleeper", group_id, "--batch", str(batch), "--concurrency", "1",
               "--manifest", str(manifest)]
    process = CommandProcess(command, cli_env)
    try:
        deadline = time.monotonic() + 120
        while '"run_id"' not in (manifest.read_text() if manifest.exists() else ""):
            assert time.monotonic() < deadline, "no run was started"
            time.sleep(0.05)
        process.proc.send_signal(signal.SIGINT)
        code, _out, err = process.finish(timeout=120)
    finally:
        process.kill()
    assert code == 130
    assert "argument sets not submitted" in err
    assert f"Finish the batch: run the same command again (with --manifest {manifest})" in err
    again = CommandProcess(command, cli_env)
    try:
        code, _out, err = again.finish(timeout=300)
    finally:
        again.kill()
    assert code == 0, err
    assert len(sync_client.list_runs(group_id)) == 30  # finished, nothing started twice
