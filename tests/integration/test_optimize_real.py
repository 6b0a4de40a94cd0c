"""``wf.optimize`` with optuna against the real server and the shipped ``quadratic`` workflow.

Each trial is one run; its value is the run's ``score`` as the leaderboard
reports it; a failed run is a failed trial; the objective and the space are
checked before any run. Several processes sharing a study (a journal file,
PostgreSQL) make exactly ``n_trials`` trials, one run each, and a process
killed with SIGKILL and started again attaches to its trials' runs.
Processes are ``tests/support/optimize_worker.py``; runs sleep a few tenths.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import optuna
import pytest

import aioflowserv as afs
from aioflowserv.testing import FlowservServer
from tests.support.realserver import unique

WORKER = Path(__file__).resolve().parents[1] / "support" / "optimize_worker.py"
ROOT = Path(__file__).resolve().parents[2]
PROCESS_DEADLINE = 120.0
"""Seconds a worker process may take at most (a bound on a hang, not a timing)."""
QUICK_SPACE = {"sleep": 0.3, "noise": 0.0}


@pytest.fixture(autouse=True)
def quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)


async def quadratic(client: afs.AsyncFlowserv, prefix: str = "study") -> afs.AsyncWorkflow:
    group = await client.create_group("quadratic", unique(prefix))
    return await client.workflow("quadratic", group.id)


@pytest.mark.asyncio
async def test_trial_values_are_the_runs_scores_in_the_leaderboard(
    client: afs.AsyncFlowserv,
) -> None:
    wf = await quadratic(client)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=3))
    returned = await wf.optimize(study, objective="score", n_trials=5, max_active=3,
                                 space=QUICK_SPACE, poll_interval=0.1)
    assert returned is study
    trials = study.trials
    assert len(trials) == 5
    assert all(trial.state is optuna.trial.TrialState.COMPLETE for trial in trials)
    board = await wf.leaderboard(include_all=True)
    assert board is not None
    scores = {row.run_id: row.results["score"] for row in board.rows}
    for trial in trials:
        assert trial.user_attrs["group_id"] == wf.group_id
        assert trial.value == scores[trial.user_attrs["run_id"]]
        assert trial.user_attrs["run_state"] == "SUCCESS"
        assert set(trial.params) == {"x", "y", "method"}
    runs = await wf.list_runs()
    assert sorted(run.run_id for run in runs) == sorted(t.user_attrs["run_id"] for t in trials)


@pytest.mark.asyncio
async def test_optimize_improves_on_the_first_trials(client: afs.AsyncFlowserv) -> None:
    wf = await quadratic(client)
    sampler = optuna.samplers.TPESampler(seed=7, n_startup_trials=5)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    await wf.optimize(study, objective="score", n_trials=16, max_active=1,
                      space={"sleep": 0.1, "noise": 0.0}, poll_interval=0.1)
    values = [trial.value for trial in study.trials]
    assert len(values) == 16
    assert max(values[-5:]) > statistics.median(values[:5])  # type: ignore[type-var]


@pytest.mark.asyncio
async def test_runs_that_fail_are_failed_trials(client: afs.AsyncFlowserv) -> None:
    wf = await quadratic(client)
    study = optuna.create_study(direction="maximize")
    await wf.optimize(study, objective="score", n_trials=2, max_active=2,
                      space={**QUICK_SPACE, "fail": True}, poll_interval=0.1)
    assert [trial.state for trial in study.trials] == [optuna.trial.TrialState.FAIL] * 2
    assert {trial.user_attrs["run_state"] for trial in study.trials} == {"ERROR"}


@pytest.mark.asyncio
async def test_the_objective_and_the_space_are_checked_before_any_run(
    client: afs.AsyncFlowserv,
) -> None:
    wf = await quadratic(client)
    study = optuna.create_study()
    with pytest.raises(afs.InvalidArgumentError, match="score, loss, method") as caught:
        await wf.optimize(study, objective="accuracy", n_trials=2)
    assert caught.value.parameter == "objective"
    with pytest.raises(afs.InvalidArgumentError, match="not a number"):
        await wf.optimize(study, objective="method", n_trials=2)
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await wf.optimize(study, objective="score", n_trials=2, space={"x": (-10.0, 0.0)})
    assert caught.value.parameter == "x"
    with pytest.raises(afs.UnknownParameterError):
        await wf.optimize(study, objective="score", n_trials=2, space={"z": (0.0, 1.0)})
    assert study.trials == []
    assert list(await wf.list_runs()) == []


def test_the_sync_workflow_optimizes_too(
    sync_client: afs.Flowserv, server: FlowservServer, user: dict[str, Any]
) -> None:
    group_id = server.create_group(user["token"], "quadratic")
    wf = sync_client.workflow("quadratic", group_id)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=1))
    assert wf.optimize(study, objective="score", n_trials=2, max_active=2,
                       space=QUICK_SPACE, poll_interval=0.1) is study
    assert [trial.state for trial in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2


# -- several processes, and a restart ------------------------------------------------------


def spec_file(directory: Path, **spec: Any) -> Path:
    path = directory / f"spec-{spec['worker']}.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    return path


def start_worker(spec: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(spec)], env=env, cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def finish(process: subprocess.Popen[str]) -> None:
    out, err = process.communicate(timeout=PROCESS_DEADLINE)
    assert process.returncode == 0, err
    assert out.startswith("done")


def check_exact(study: optuna.Study, n_trials: int, group_runs: list[str]) -> None:
    """Exactly ``n_trials`` trials, all complete, each with its own run, and no other run."""
    trials = study.trials
    assert sorted(trial.number for trial in trials) == list(range(n_trials))
    assert all(trial.state is optuna.trial.TrialState.COMPLETE for trial in trials)
    run_ids = [trial.user_attrs["run_id"] for trial in trials]
    assert len(set(run_ids)) == n_trials
    assert sorted(run_ids) == sorted(group_runs)


def journal_study(path: Path, name: str) -> optuna.Study:
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    return optuna.load_study(study_name=name, storage=storage)


def test_two_processes_sharing_a_journal_file_make_exactly_n_trials(
    server: FlowservServer, user: dict[str, Any], sync_client: afs.Flowserv, tmp_path: Path,
) -> None:
    group_id = server.create_group(user["token"], "quadratic")
    journal, name = tmp_path / "study.log", unique("journal")
    common = {"url": server.url, "token": user["token"], "group_id": group_id,
              "storage": str(journal), "study": name, "n_trials": 8, "max_active": 2,
              "sleep": 0.3}
    workers = [start_worker(spec_file(tmp_path, **common, worker=f"w{i}", seed=i))
               for i in range(2)]
    for process in workers:
        finish(process)
    runs = [info.run_id for info in sync_client.workflow("quadratic", group_id).list_runs()]
    check_exact(journal_study(journal, name), 8, runs)
    workers_seen = {t.user_attrs["aioflowserv.worker"] for t in journal_study(journal, name).trials}
    assert workers_seen <= {"w0", "w1"}


@pytest.fixture
def postgresql_database(flowserv_production_server: FlowservServer) -> str:
    """A fresh database in the production-shaped server's PostgreSQL, as an SQLAlchemy URL."""
    import sqlalchemy

    url = sqlalchemy.engine.make_url(flowserv_production_server.database_url)
    name = f"optuna_{uuid.uuid4().hex[:10]}"
    engine = sqlalchemy.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return str(url.set(database=name).render_as_string(hide_password=False))


def test_three_processes_sharing_a_postgresql_study_make_exactly_n_trials(
    flowserv_production_server: FlowservServer, postgresql_database: str, tmp_path: Path,
) -> None:
    server = flowserv_production_server
    user = server.create_user()
    group_id = server.create_group(user["token"], "quadratic")
    name = unique("pg")
    # As optuna advises for RDB storages: the study (and its tables) made once, first.
    optuna.create_study(study_name=name, storage=postgresql_database, direction="maximize")
    common = {"url": server.url, "token": user["token"], "group_id": group_id,
              "storage": postgresql_database, "study": name, "n_trials": 9, "max_active": 2,
              "sleep": 0.3}
    workers = [start_worker(spec_file(tmp_path, **common, worker=f"w{i}", seed=i))
               for i in range(3)]
    for process in workers:
        finish(process)
    with afs.Flowserv(server.url, user["token"]) as fs:
        runs = [info.run_id for info in fs.workflow("quadratic", group_id).list_runs()]
    study = optuna.load_study(study_name=name, storage=postgresql_database)
    check_exact(study, 9, runs)


def test_a_process_killed_and_started_again_attaches_to_its_trials_runs(
    server: FlowservServer, user: dict[str, Any], sync_client: afs.Flowserv, tmp_path: Path,
) -> None:
    group_id = server.create_group(user["token"], "quadratic")
    journal, name = tmp_path / "study.log", unique("killed")
    spec = spec_file(
        tmp_path, url=server.url, token=user["token"], group_id=group_id,
        storage=str(journal), study=name, n_trials=6, max_active=3, sleep=1.5, worker="w",
        seed=0,
    )
    process = start_worker(spec)
    deadline = time.monotonic() + PROCESS_DEADLINE
    started: list[Any] = []
    while len(started) < 2:  # kill it while runs are in flight
        assert time.monotonic() < deadline, "no trial started its run"
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
        if journal.exists():
            try:
                trials = journal_study(journal, name).trials
            except KeyError:  # the study is being created
                continue
            started = [t for t in trials if "run_id" in t.user_attrs
                       and t.state is optuna.trial.TrialState.RUNNING]
    process.send_signal(signal.SIGKILL)
    process.communicate()  # reaped, its pipes closed
    before = {t.user_attrs["run_id"] for t in started}
    finish(start_worker(spec))
    runs = [info.run_id for info in sync_client.workflow("quadratic", group_id).list_runs()]
    study = journal_study(journal, name)
    check_exact(study, 6, runs)
    assert before <= {t.user_attrs["run_id"] for t in study.trials}  # attached, not restarted


def intended(study: optuna.Study, group_id: str, arguments: list[dict[str, Any]]) -> None:
    """A trial as a process leaves it when killed between recording its intent and its run."""
    trial = study.ask()
    trial.set_user_attr("aioflowserv.worker", group_id)
    trial.set_user_attr("group_id", group_id)
    at = datetime.now(timezone.utc).isoformat()
    trial.set_user_attr("aioflowserv.intent", {"arguments": arguments, "at": at})


WIRE = [{"name": "x", "value": 1.0}, {"name": "y", "value": 0.5}, {"name": "method", "value": "b"},
        {"name": "noise", "value": 0.0}, {"name": "sleep", "value": 0.3},
        {"name": "fail", "value": False}]


@pytest.mark.asyncio
async def test_a_recorded_intent_whose_run_was_started_attaches_to_that_run(
    client: afs.AsyncFlowserv,
) -> None:
    wf = await quadratic(client)
    study = optuna.create_study(direction="maximize")
    intended(study, wf.group_id, WIRE)
    run = await wf.start_run({item["name"]: item["value"] for item in WIRE})
    await wf.optimize(study, objective="score", n_trials=1, poll_interval=0.1)
    (trial,) = study.trials
    assert trial.user_attrs["run_id"] == run.run_id
    assert trial.state is optuna.trial.TrialState.COMPLETE
    assert [info.run_id for info in await wf.list_runs()] == [run.run_id]


@pytest.mark.asyncio
async def test_a_recorded_intent_without_a_run_starts_it(client: afs.AsyncFlowserv) -> None:
    wf = await quadratic(client)
    study = optuna.create_study(direction="maximize")
    intended(study, wf.group_id, WIRE)
    other = await wf.start_run({"x": 0.0, "sleep": 0.3})  # other arguments: not the intent's
    await wf.optimize(study, objective="score", n_trials=1, poll_interval=0.1)
    (trial,) = study.trials
    assert trial.user_attrs["run_id"] != other.run_id
    run = await wf.poll_run(trial.user_attrs["run_id"])
    assert run.arguments == {item["name"]: item["value"] for item in WIRE}
    assert len(await wf.list_runs()) == 2
