"""Manifests (``_manifest``, ``Submitter.resume``): a batch that was stopped continues.

``start_runs(..., manifest=path)`` records each start's intent before it is
sent and its run after. Run again with the same manifest and arguments, only
what has no run yet is started; an intent without a run is looked for on the
server by its arguments. Everything runs against the fake flowServ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv
from tests.support.fake import client_for

pytestmark = pytest.mark.anyio

BATCH = [{"sleep": 1, "greeting": f"hello {n}"} for n in range(5)]


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def start(fake: FakeFlowserv, group: str, batch: list[dict[str, Any]], path: Path,
                **options: Any) -> afs.RunBatch:
    async with client_for(fake) as fs:
        wf = await fs.workflow("sleeper", group)
        return await wf.start_runs(batch, manifest=path, **options)


async def recorded(fake: FakeFlowserv, tmp_path: Path) -> tuple[Path, str, afs.RunBatch]:
    """A whole batch started one at a time with a manifest: (manifest, group, runs)."""
    path = tmp_path / "batch.jsonl"
    group = fake.add_group()
    return path, group, await start(fake, group, BATCH, path, concurrency=1)


def keep(path: Path, drop: Any) -> None:
    """Rewrite a manifest without the records for which ``drop(record)`` is true."""
    kept = [r for r in records(path) if not drop(r)]
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))


async def test_a_manifest_records_a_header_then_each_intent_before_its_run(
    fake: FakeFlowserv, tmp_path: Path
) -> None:
    path, _, runs = await recorded(fake, tmp_path)
    header, *rest = records(path)
    assert header["manifest"] == "aioflowserv"
    assert header["count"] == len(BATCH)
    for index, run in enumerate(runs):
        intent, started = rest[2 * index], rest[2 * index + 1]
        assert intent["index"] == started["index"] == index
        assert {"name": "greeting", "value": f"hello {index}"} in intent["arguments"]
        assert started["run_id"] == run.run_id


async def test_a_rerun_of_a_finished_batch_starts_nothing_and_returns_its_runs_in_order(
    fake: FakeFlowserv, tmp_path: Path
) -> None:
    path, group, first = await recorded(fake, tmp_path)
    again = await start(fake, group, BATCH, path)
    assert [run.run_id for run in again] == [run.run_id for run in first]
    assert len(fake.runs) == len(BATCH)


async def test_a_rerun_starts_only_the_argument_sets_without_a_run(
    fake: FakeFlowserv, tmp_path: Path
) -> None:
    path, group, first = await recorded(fake, tmp_path)
    keep(path, lambda record: record.get("index", 0) > 1)  # the header, #0 and #1 stay
    runs = await start(fake, group, BATCH, path)
    assert [run.run_id for run in runs[:2]] == [run.run_id for run in first[:2]]
    assert len(fake.runs) == 2 * len(BATCH) - 2
    assert [run.arguments["greeting"] for run in runs] == [args["greeting"] for args in BATCH]


async def test_an_intent_without_a_run_is_matched_by_its_arguments_not_started_again(
    fake: FakeFlowserv, tmp_path: Path
) -> None:
    path, group, first = await recorded(fake, tmp_path)
    keep(path, lambda r: "run_id" in r and r["index"] in (1, 3))  # died after sending #1, #3
    runs = await start(fake, group, BATCH, path)
    assert [run.run_id for run in runs] == [run.run_id for run in first]
    assert len(fake.runs) == len(BATCH)
    run_ids = {r["index"]: r["run_id"] for r in records(path) if "run_id" in r}
    assert run_ids == {index: run.run_id for index, run in enumerate(first)}


async def test_an_intent_whose_start_never_arrived_is_started(
    fake: FakeFlowserv, tmp_path: Path
) -> None:
    path, group, first = await recorded(fake, tmp_path)
    fake.delete(first[4].run_id)  # as if the start of #4 never reached the server
    keep(path, lambda r: "run_id" in r and r["index"] == 4)
    runs = await start(fake, group, BATCH, path)
    assert [run.run_id for run in runs[:4]] == [run.run_id for run in first[:4]]
    assert runs[4].run_id not in {run.run_id for run in first}
    assert runs[4].arguments["greeting"] == "hello 4"
    assert len(fake.runs) == len(BATCH)


async def test_a_partial_last_line_is_dropped_and_the_manifest_goes_on(
    fake: FakeFlowserv, tmp_path: Path
) -> None:
    path, group, first = await recorded(fake, tmp_path)
    whole = path.read_text()
    path.write_text(whole[: whole.rindex('{"index"')] + '{"index": 4, "run_')
    runs = await start(fake, group, BATCH, path)
    assert [run.run_id for run in runs] == [run.run_id for run in first]
    assert len(fake.runs) == len(BATCH)
    lines = path.read_text().split("\n")
    assert lines[-1] == ""
    assert all(json.loads(line) for line in lines[:-1])


@pytest.mark.parametrize(
    "other",
    [BATCH[:4], [*BATCH[:4], {"sleep": 2}], list(reversed(BATCH))],
    ids=["fewer", "one-changed", "reordered"],
)
async def test_a_manifest_of_other_arguments_is_refused_before_any_request(
    fake: FakeFlowserv, tmp_path: Path, other: list[dict[str, Any]]
) -> None:
    path, group, _ = await recorded(fake, tmp_path)
    before = path.read_text()
    async with client_for(fake) as fs:
        wf = await fs.workflow("sleeper", group)
        fake.reset_counts()
        with pytest.raises(afs.InvalidArgumentError) as caught:
            await wf.start_runs(other, manifest=path)
    assert caught.value.parameter == "manifest"
    assert "other arguments" in str(caught.value)
    assert fake.count() == 0
    assert path.read_text() == before


async def test_a_manifest_of_another_group_is_refused(fake: FakeFlowserv, tmp_path: Path) -> None:
    path, _, _ = await recorded(fake, tmp_path)
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await start(fake, fake.add_group(), BATCH, path)
    assert caught.value.parameter == "manifest"
    assert "group" in str(caught.value)


@pytest.mark.parametrize(
    "content", ["not json\n", '{"some": "thing"}\n', '{"manifest": "aioflowserv"}\nnope\n'],
    ids=["not-json", "no-header", "bad-line"],
)
async def test_a_file_that_is_no_manifest_is_refused(
    fake: FakeFlowserv, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text(content)
    with pytest.raises(afs.InvalidArgumentError) as caught:
        await start(fake, fake.add_group(), BATCH, path)
    assert caught.value.parameter == "manifest"
    assert fake.count("start_run") == 0


async def test_a_run_the_manifest_names_that_is_gone_stands_as_its_error(
    fake: FakeFlowserv, tmp_path: Path
) -> None:
    path, group, first = await recorded(fake, tmp_path)
    fake.delete(first[2].run_id)
    runs = await start(fake, group, BATCH, path, return_exceptions=True)
    assert isinstance(runs[2], afs.NotFoundError)
    assert [run.run_id for i, run in enumerate(runs) if i != 2] == [
        run.run_id for i, run in enumerate(first) if i != 2
    ]
    assert len(fake.runs) == len(BATCH) - 1


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])  # real time: files are written
async def test_a_batch_cancelled_with_starts_in_flight_records_their_runs(
    tmp_path: Path,
) -> None:
    """A cancel scope: the starts in flight are answered, and their runs recorded."""
    fake = FakeFlowserv(latency={"start_run": 1.0})
    path = tmp_path / "batch.jsonl"
    group = fake.add_group()
    async with client_for(fake) as fs:
        wf = await fs.workflow("sleeper", group)
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:

                async def cancel_once_two_starts_are_sent() -> None:
                    await fake.wait_for(lambda: fake.count("start_run") >= 2)
                    scope.cancel()

                tg.start_soon(cancel_once_two_starts_are_sent)
                await wf.start_runs(BATCH, concurrency=2, manifest=path)
    assert 2 <= len(fake.runs) < len(BATCH)
    recorded_ids = {r["run_id"] for r in records(path) if "run_id" in r}
    assert recorded_ids == set(fake.runs)
