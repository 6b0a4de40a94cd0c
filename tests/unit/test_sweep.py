"""Sweeps (``_sweep``, ``_study``) on the fake flowServ, on a virtual clock.

Runs of the fake last their ``sleep`` argument and end in ERROR for an
``exitcode`` other than 0, so every test here knows, by the clock, when each
run ends; counts of runs and requests are exact.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv
from tests.support.fake import client_for

pytestmark = pytest.mark.anyio


def max_overlap(fake: FakeFlowserv, group_id: str) -> int:
    """The most runs of a group that were active at once, from the fake's own times."""
    events: list[tuple[float, int]] = []
    for run in fake.groups[group_id].runs.values():
        events.append((run.created, 1))
        events.append((run.finished if run.finished is not None else float("inf"), -1))
    most = active = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):  # ends before starts at a tie
        active += step
        most = max(most, active)
    return most


def notes(exc: BaseException) -> list[str]:
    return list(getattr(exc, "__notes__", []))


def runs_of(fake: FakeFlowserv, group_id: str) -> list[Any]:
    return sorted(fake.groups[group_id].runs.values(), key=lambda run: run.created)


async def test_never_more_than_max_active_runs_and_all_of_them_in_input_order(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    space = afs.grid(sleep=[1, 2, 3], greeting=["a", "b", "c", "d"])
    with anyio.fail_after(600):
        result = await workflow.sweep(space, max_active=3, poll_interval=0.1)
    assert max_overlap(fake, workflow.group_id) == 3
    assert len(result.runs) == 12
    assert all(run.is_success() for run in result.runs)
    assert [dict(run.arguments)["greeting"] for run in result.runs] == ["a", "b", "c", "d"] * 3
    assert result.stopped is None
    assert result.not_started == []
    assert result.reused == 0
    assert fake.count("start_run") == 12
    assert fake.count("get_run") == 12  # each ended run fetched once, by the shared watcher


async def test_without_max_active_every_set_starts_through_the_submission_limit(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    with anyio.fail_after(600):
        result = await workflow.sweep([{"sleep": 5}] * 6, concurrency=2, poll_interval=0.1)
    assert max_overlap(fake, workflow.group_id) == 6
    assert fake.count("start_run") == 6
    assert all(run.is_success() for run in result.runs)


async def test_one_listing_per_tick_serves_every_run_of_the_sweep(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    with anyio.fail_after(600):
        await workflow.sweep(afs.grid(sleep=[1.0] * 4, greeting="x"), max_active=4,
                             poll_interval=0.1)
    times = fake.times("list_runs", workflow.group_id)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= 0.099 for gap in gaps)  # never two listings in one tick
    assert len(times) <= 1.0 / 0.1 + 3


async def test_sets_are_read_only_when_a_place_is_free(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    active_when_read: list[int] = []

    def endless() -> Iterator[dict[str, Any]]:
        for index in itertools.count():
            active_when_read.append(
                sum(run.active for run in fake.groups[workflow.group_id].runs.values())
            )
            yield {"sleep": 1 + index % 3}

    with anyio.fail_after(600), anyio.move_on_after(20):
        await workflow.sweep(endless(), max_active=2, poll_interval=0.1)
    assert len(active_when_read) > 10
    assert max(active_when_read) <= 1  # a set is read only once a run may start for it


async def test_an_endless_failing_sweep_stops_at_max_failures(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    failing = ({"sleep": 1, "exitcode": 3} for _ in itertools.count())
    with anyio.fail_after(600):
        result = await workflow.sweep(failing, max_active=3, max_failures=4, poll_interval=0.1)
    created = fake.count("start_run")
    assert 4 <= created <= 4 + 3 - 1
    assert result.stopped is not None
    assert "max_failures=4" in result.stopped
    assert len(result.runs) == created
    assert result.not_started == []
    assert result.failures().total == created


async def test_max_failures_leaves_the_rest_not_started_in_input_order(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    sets = [{"sleep": 1, "exitcode": 1, "greeting": str(i)} for i in range(20)]
    with anyio.fail_after(600):
        result = await workflow.sweep(sets, max_active=2, max_failures=2, poll_interval=0.1)
    assert fake.count("start_run") <= 2 + 2 - 1
    assert result.not_started == sets[len(result.runs):]
    assert [record["state"] for record in result.to_records()][-1] == "NOT_STARTED"


async def test_retries_start_an_error_run_again_up_to_n_times(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    sets = [{"sleep": 1, "exitcode": 2}, {"sleep": 1}, {"sleep": 2, "exitcode": 5}]
    seen: list[afs.Run] = []
    with anyio.fail_after(600):
        result = await workflow.sweep(sets, max_active=2, retries=2, poll_interval=0.1,
                                      on_change=seen.append)
    assert fake.count("start_run") == 3 + 1 + 3
    assert [record["attempts"] for record in result.to_records()] == [3, 1, 3]
    assert [run.state for run in result.runs] == ["ERROR", "SUCCESS", "ERROR"]
    summary = result.failures()
    assert summary.total == 6
    assert len(summary) == 1
    (cause,) = summary
    assert cause.cause == "sleeper: failing on purpose with exit code <n>"
    assert cause.count == 6
    assert cause.example.is_error()
    assert {run.run_id for run in seen} == set(fake.groups[workflow.group_id].runs)


async def test_retries_and_max_failures_together_bound_an_always_failing_sweep(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    sets = [{"sleep": 1 + i % 2, "exitcode": 1} for i in range(30)]
    with anyio.fail_after(600):
        result = await workflow.sweep(sets, max_active=3, max_failures=5, retries=4,
                                      poll_interval=0.1)
    assert fake.count("start_run") <= 5 + 3 - 1
    assert max_overlap(fake, workflow.group_id) <= 3
    assert result.stopped is not None


async def test_a_second_identical_sweep_reuses_every_success(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    space = afs.grid(sleep=[1, 2], greeting=["a", "b"]) + afs.grid(sleep=1, exitcode=[1])
    with anyio.fail_after(600):
        first = await workflow.sweep(space, max_active=2, poll_interval=0.1)
        fake.reset_counts()
        again = await workflow.sweep(space, max_active=2, reuse="success", poll_interval=0.1)
    assert again.reused == 4
    assert fake.count("start_run") == 1  # only the set whose run failed starts again
    assert fake.count("list_runs") >= 1
    assert fake.count("get_run") <= 4 + 1 + 1
    assert [r.run_id for r in again.runs][:4] == [r.run_id for r in first.runs][:4]
    assert [rec["reused"] for rec in again.to_records()] == [True] * 4 + [False]


async def test_reuse_fills_in_defaults_that_a_run_started_elsewhere_left_out(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    elsewhere = fake.add_run(workflow.group_id, state="SUCCESS",
                             arguments=[{"name": "sleep", "value": 2.0}])
    with anyio.fail_after(600):
        result = await workflow.sweep([{"sleep": 2, "greeting": "Hello"}, {"sleep": 2}],
                                      reuse="success", poll_interval=0.1)
    assert result.reused == 1
    assert result.runs[0].run_id == elsewhere
    assert fake.count("start_run") == 1


async def test_sets_with_file_arguments_are_never_reused(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    names = afs.FileArgument(b"ann\n", "names.txt")
    with anyio.fail_after(600):
        await workflow.sweep([{"sleep": 1, "names": names}], poll_interval=0.1)
        again = await workflow.sweep([{"sleep": 1, "names": names}], reuse="success",
                                     poll_interval=0.1)
    assert again.reused == 0
    assert fake.count("start_run") == 2


async def test_the_timeout_stops_starting_and_leaves_active_runs_alone(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    sets = [{"sleep": 10} for _ in range(6)]
    with anyio.fail_after(600):
        result = await workflow.sweep(sets, max_active=2, timeout=15, poll_interval=0.1)
    assert result.stopped is not None
    assert "timeout" in result.stopped
    assert [run.state for run in result.runs] == ["SUCCESS", "SUCCESS", "RUNNING", "RUNNING"]
    assert result.not_started == sets[4:]
    assert [fake.state(run.run_id) for run in result.runs[2:]] == ["RUNNING", "RUNNING"]


async def test_the_timeout_with_cancel_remote_cancels_the_active_runs(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    with anyio.fail_after(600):
        result = await workflow.sweep([{"sleep": 10}] * 3, max_active=2, timeout=5,
                                      cancel_remote="out of time", poll_interval=0.1)
    assert [run.state for run in result.runs] == ["CANCELED", "CANCELED"]
    assert all(fake.state(run.run_id) == "CANCELED" for run in result.runs)
    assert result.runs[0].messages() == ["out of time"]


async def test_a_cancelled_sweep_reports_every_run_it_created(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow, caplog: pytest.LogCaptureFixture
) -> None:
    seen: dict[str, afs.Run] = {}
    with anyio.fail_after(600), anyio.move_on_after(4.5):
        await workflow.sweep([{"sleep": 2}] * 10, max_active=3, poll_interval=0.1,
                             on_change=lambda run: seen.__setitem__(run.run_id, run))
    created = set(fake.groups[workflow.group_id].runs)
    assert created
    assert set(seen) == created
    assert any("cancelled after starting" in r.getMessage() for r in caplog.records)
    assert all(ident in caplog.text for ident in created)


async def test_a_cancelled_sweep_with_cancel_remote_cancels_its_active_runs(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    with anyio.fail_after(600), anyio.move_on_after(3):
        await workflow.sweep([{"sleep": 5}] * 4, max_active=2, poll_interval=0.1,
                             cancel_remote=True)
    states = [run.state for run in runs_of(fake, workflow.group_id)]
    assert states == ["CANCELED", "CANCELED"]


REAL_TIME = pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
"""Manifests are written in a worker thread: these tests run on real clocks (short runs)."""


@REAL_TIME
async def test_a_manifest_resumes_a_cancelled_sweep_starting_only_what_is_missing(
    tmp_path: Path,
) -> None:
    fake = FakeFlowserv()
    group_id = fake.add_group()
    manifest = tmp_path / "sweep.jsonl"
    space = afs.grid(sleep=[0.05, 0.1, 0.15], greeting=["a", "b"])
    async with client_for(fake) as fs:
        workflow = await fs.workflow("sleeper", group_id)
        with anyio.fail_after(60), anyio.CancelScope() as scope:

            def cancel_at_the_second(run: afs.Run) -> None:
                if len(fake.groups[group_id].runs) == 2:
                    scope.cancel()

            await workflow.sweep(space, max_active=2, manifest=manifest, poll_interval=0.01,
                                 on_change=cancel_at_the_second)
        assert len(fake.groups[group_id].runs) == 2
        with anyio.fail_after(60):
            result = await workflow.sweep(space, max_active=2, manifest=manifest,
                                          poll_interval=0.01)
    assert len(fake.groups[group_id].runs) == 6
    assert len(result.runs) == 6
    assert all(run.is_success() for run in result.runs)
    lines = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert lines[0]["sweep"] is True
    assert {line["index"] for line in lines[1:] if "run_id" in line} == set(range(6))


@REAL_TIME
async def test_a_manifest_records_each_attempt_and_resumes_retries(tmp_path: Path) -> None:
    fake = FakeFlowserv()
    manifest = tmp_path / "sweep.jsonl"
    sets = [{"sleep": 0.02, "exitcode": 1}]
    async with client_for(fake) as fs:
        workflow = await fs.workflow("sleeper", fake.add_group())
        with anyio.fail_after(60):
            await workflow.sweep(sets, retries=1, manifest=manifest, poll_interval=0.01)
            fake.reset_counts()
            result = await workflow.sweep(sets, retries=1, manifest=manifest,
                                          poll_interval=0.01)
    attempts = [line.get("attempt") for line in map(json.loads, manifest.read_text().splitlines())
                if "run_id" in line]
    assert attempts == [0, 1]
    assert fake.count("start_run") == 0  # both attempts were made: nothing is left to retry
    assert result.to_records()[0]["attempts"] == 2


@REAL_TIME
async def test_a_manifest_of_other_arguments_is_refused_as_its_set_is_read(
    tmp_path: Path,
) -> None:
    fake = FakeFlowserv()
    manifest = tmp_path / "sweep.jsonl"
    async with client_for(fake) as fs:
        workflow = await fs.workflow("sleeper", fake.add_group())
        with anyio.fail_after(60):
            await workflow.sweep([{"sleep": 0.01}, {"sleep": 0.02}], manifest=manifest,
                                 poll_interval=0.01)
            fake.reset_counts()
            with pytest.raises(afs.InvalidArgumentError) as mismatch:
                await workflow.sweep(
                    ({"sleep": s} for s in (0.01, 0.03)), manifest=manifest, poll_interval=0.01
                )
        assert mismatch.value.parameter == "manifest"
        assert "#1" in str(mismatch.value)
        assert fake.count("start_run") == 0
        with pytest.raises(afs.InvalidArgumentError, match="a sweep, not a batch"):
            await workflow.start_runs([{"sleep": 1}], manifest=manifest)


async def test_a_space_is_checked_whole_before_any_request(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as bad:
        await workflow.sweep(afs.grid(sleep=[1, 2, -3]), reuse="success")
    assert "in argument set #2 of the space" in notes(bad.value)
    with pytest.raises(afs.InvalidArgumentError) as in_list:
        await workflow.sweep([{"sleep": 1}, {"mode": "loud"}])
    assert "in argument set #1 of the sweep" in notes(in_list.value)
    with pytest.raises(afs.UnknownParameterError):
        await workflow.sweep(afs.sample(3, seed=1, speed=afs.uniform(0, 1)))
    assert fake.count() == 0


async def test_a_bad_set_read_later_raises_after_what_was_started(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    def sets() -> Iterator[dict[str, Any]]:
        yield {"sleep": 1}
        yield {"sleep": -1}

    with anyio.fail_after(600), pytest.raises(afs.InvalidArgumentError) as bad:
        await workflow.sweep(sets(), max_active=1, poll_interval=0.1)
    assert "in argument set #1 of the sweep" in notes(bad.value)
    assert fake.count("start_run") == 1


@pytest.mark.parametrize(("option", "value"), [
    ("max_active", 0), ("max_failures", 0), ("retries", -1), ("reuse", "always"),
    ("timeout", -1), ("concurrency", 0),
])
async def test_bad_options_are_refused_before_any_request(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow, option: str, value: object
) -> None:
    with pytest.raises(afs.InvalidArgumentError) as bad:
        await workflow.sweep([{"sleep": 1}], **{option: value})  # type: ignore[arg-type]
    assert bad.value.parameter == option
    assert fake.count() == 0


async def test_a_mapping_is_not_a_sweep(workflow: afs.AsyncWorkflow) -> None:
    with pytest.raises(TypeError, match="start_run"):
        await workflow.sweep({"sleep": 1})  # type: ignore[dict-item]


async def test_a_start_refused_for_good_stops_the_sweep(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    fake.fail("start_run", status=400, message="no", times=None)
    with anyio.fail_after(600):
        result = await workflow.sweep([{"sleep": 1}] * 5, max_active=2, poll_interval=0.1)
    assert result.stopped is not None
    assert "could not be started" in result.stopped
    assert result.runs == []
    assert len(result.not_started) == len(result.sets) >= 1


async def test_a_start_that_fails_for_a_passing_reason_is_sent_again(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    fake.fail("start_run", status=503, times=3)
    with anyio.fail_after(600):
        result = await workflow.sweep([{"sleep": 1, "greeting": str(i)} for i in range(4)],
                                      max_active=2, poll_interval=0.1)
    assert result.stopped is None
    assert len(result.runs) == 4
    assert len(fake.groups[workflow.group_id].runs) == 4


async def test_an_unanswered_start_is_looked_for_before_it_is_sent_again(
    fake: FakeFlowserv, sdk: afs.AsyncFlowserv
) -> None:
    import httpx

    async with client_for(fake, timeout=1.0) as impatient:
        workflow = await impatient.workflow("sleeper", fake.add_group())
        fake.fail("start_run", error=httpx.ReadTimeout, times=1)
        with anyio.fail_after(600):
            result = await workflow.sweep([{"sleep": 1, "greeting": "once"}], poll_interval=0.1)
    assert len(result.runs) == 1
    assert result.runs[0].is_success()
    assert len(fake.groups[workflow.group_id].runs) == 1


async def test_records_hold_arguments_state_times_and_typed_results_from_one_leaderboard(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    with anyio.fail_after(600):
        result = await workflow.sweep(afs.zipped(sleep=[1, 2], greeting=["a", "b"]),
                                      poll_interval=0.1)
    assert fake.count("leaderboard") == 1
    records = result.to_records()
    assert len(records) == 2
    first = records[0]
    assert first["sleep"] == 1.0
    assert first["greeting"] == "a"
    assert first["state"] == "SUCCESS"
    assert first["run_id"] == result.runs[0].run_id
    assert first["seconds"] == 1.0
    assert first["attempts"] == 1
    assert first["reused"] is False
    # The sleeper's result column "sleep" is named like an argument: keyed as the leaderboard does.
    assert first["results.sleep"] == 1.0
    assert isinstance(first["count"], int)
    assert list(first) == result.keys()
    frame = result.to_pandas()
    assert list(frame["greeting"]) == ["a", "b"]
    assert len(frame) == 2


async def test_a_sweep_without_a_success_reads_no_leaderboard(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    with anyio.fail_after(600):
        result = await workflow.sweep([{"sleep": 1, "exitcode": 1}], poll_interval=0.1)
    assert fake.count("leaderboard") == 0
    assert result.to_records()[0]["state"] == "ERROR"


async def test_progress_sees_each_start_and_change(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aioflowserv import _progress, _sweep

    opened: list[_progress.Progress] = []
    closed: list[bool] = []

    class Recording(_progress.Progress):
        def close(self) -> None:
            closed.append(True)

    def open_progress(progress: bool | None, *, total: int | None, title: str) -> Any:
        opened.append(Recording(total, title))
        return opened[-1]

    monkeypatch.setattr(_sweep, "open_progress", open_progress)
    with anyio.fail_after(600):
        await workflow.sweep(afs.grid(sleep=[1, 2, 3]), max_active=2, progress=True,
                             poll_interval=0.1)
    (progress,) = opened
    assert progress.total == 3
    assert "sweep of sleeper" in progress.title
    assert closed == [True]
    assert len(progress.runs) == 3
    assert all(state is afs.RunState.SUCCESS for state in progress.runs.values())


async def test_reprs_stay_bounded_however_many_runs(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    sets = [{"sleep": 1, "exitcode": i % 3, "greeting": f"g{i}"} for i in range(60)]
    with anyio.fail_after(600):
        result = await workflow.sweep(sets, max_active=20, poll_interval=0.1)
    assert repr(result) == "<SweepResult: 60 argument sets: 20 SUCCESS, 40 ERROR>"
    summary = result.failures()
    assert len(summary) == 1
    assert len(repr(summary)) < 150
    assert result._repr_html_().count("<tr>") <= 20 + 1


def test_failure_causes_mask_what_varies_from_run_to_run() -> None:
    def run(*messages: str) -> afs.Run:
        return afs.Run("r", afs.RunState.ERROR, messages=messages)

    first = run("Traceback...", "  File \"/tmp/abc/x.py\", line 3", "ValueError: bad 12.5 in "
                "/data/run-7/in.csv (id 3f2a9c0d11, 0x1f) 1b4e28ba-2fa1-11d2-883f-0016d3cca427")
    second = run("ValueError: bad 3 in /other/in.csv (id 99aa00ff77, 0x2) "
                 "00000000-0000-0000-0000-000000000000\n")
    assert afs.FailureSummary.of([first, second]).causes[0].count == 2
    assert afs.FailureSummary.of([first]).causes[0].cause == (
        "ValueError: bad <n> in <path> (id <id>, <id>) <uuid>"
    )
    assert afs.FailureSummary.of([run()]).causes[0].cause == "(no message)"


def test_the_sync_facade_sweeps() -> None:
    import time

    fake = FakeFlowserv(clock=time.monotonic)
    group_id = fake.add_group()
    with afs.Flowserv(fake.url, token=fake.token, transport=fake) as fs:
        wf = fs.workflow("sleeper", group_id)
        result = wf.sweep(afs.grid(sleep=[0, 0], greeting=["a", "b"]), max_active=2,
                          poll_interval=0.05)
    assert isinstance(result, afs.SweepResult)
    assert len(result.runs) == 4



async def test_a_failing_on_change_ends_the_sweep_and_is_raised(
    fake: FakeFlowserv, workflow: afs.AsyncWorkflow
) -> None:
    seen: list[str] = []

    def fussy(run: afs.Run) -> None:
        seen.append(run.run_id)
        if not run.is_active():
            raise ValueError("the app cannot take this run")

    with anyio.fail_after(600), pytest.raises(ValueError, match="cannot take") as caught:
        await workflow.sweep(
            [{"sleep": s} for s in (1, 2, 3, 4, 5, 6)], max_active=2, on_change=fussy,
            poll_interval=0.1,
        )
    assert len(fake.runs) < 6  # no set was started after the callback raised
    assert set(seen) <= set(fake.runs)
    assert any("on_change" in note for note in getattr(caught.value, "__notes__", []))
