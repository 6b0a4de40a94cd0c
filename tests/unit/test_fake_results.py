"""FakeFlowserv's uploads, result downloads, leaderboard and post-processing outputs.

Users test their own code against the fake, so these routes answer as a real
flowServ 0.8.1 does (``flowserv-rest-api.md``), with the files the sleeper
template writes for a run's arguments.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import httpx
import pytest

import aioflowserv as afs
from aioflowserv.testing import FakeFlowserv

pytestmark = pytest.mark.anyio

POLL = 0.01


def members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


async def test_an_uploaded_names_file_reaches_the_run_and_its_files_download(
    tmp_path: Path,
) -> None:
    names = tmp_path / "people.txt"
    names.write_text("Ada\nGrace\n")
    fake = FakeFlowserv()
    group_id = fake.add_group()
    async with afs.AsyncFlowserv(fake.url, token=fake.token, transport=fake) as fs:
        wf = await fs.workflow("sleeper", group_id)
        run = await wf.start_run({"names": names, "greeting": "Hi", "mode": "upper"},
                                 poll_interval=POLL)
        assert run.is_success()
        assert [f.name for f in await fs.list_files(group_id)] == ["people.txt"]
        greetings = await wf.get_file(run.run_id, run.get_file("greetings").id)  # type: ignore[union-attr]
        assert greetings.name == "results/greetings.txt"
        assert greetings.mime_type.startswith("text/plain")
        assert await greetings.read() == b"HI ADA!\nHI GRACE!\n"
        archive = await wf.get_file(run.run_id)
        extracted = await archive.extract(tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in extracted) == [
        "results/greetings.txt", "results/result.json"]
    result = json.loads((tmp_path / "out/results/result.json").read_text())
    assert result == {"sleep": 0.0, "count": 2, "mode": "upper", "exitcode": 0}


async def test_without_a_names_file_the_templates_default_names_are_greeted() -> None:
    fake = FakeFlowserv()
    group_id = fake.add_group()
    async with afs.AsyncFlowserv(fake.url, token=fake.token, transport=fake) as fs:
        wf = await fs.workflow("sleeper", group_id)
        run = await wf.start_run({"shout": True}, poll_interval=POLL)
        handle = await wf.get_file(run.run_id, run.get_file("greetings").id)  # type: ignore[union-attr]
        assert await handle.read() == b"HELLO ALICE!\nHELLO BOB!\n"


async def test_uploads_are_listed_downloaded_and_deleted_with_safe_names() -> None:
    fake = FakeFlowserv()
    group_id = fake.add_group()
    async with afs.AsyncFlowserv(fake.url, token=fake.token, transport=fake) as fs:
        uploaded = await fs.upload_file(group_id, b"x,y\n", filename="../../etc/evil name.csv")
        assert uploaded.name == "etc_evil_name.csv"
        assert (await fs.get_group(group_id)).files[0].id == uploaded.id
        assert await (await fs.download_file(group_id, uploaded.id)).read() == b"x,y\n"
        await fs.delete_file(group_id, uploaded.id)
        assert await fs.list_files(group_id) == []
        with pytest.raises(afs.NotFoundError):
            await fs.delete_file(group_id, uploaded.id)
    assert fake.count("upload_file") == 1


async def test_a_run_of_an_unknown_upload_is_refused_as_the_server_does() -> None:
    fake = FakeFlowserv()
    group_id = fake.add_group()
    body = {"arguments": [{"name": "names", "value": {"type": "$file",
                                                     "value": {"fileId": "nope"}}}]}
    async with httpx.AsyncClient(transport=fake, headers={"api_key": fake.token}) as http:
        answer = await http.post(f"{fake.url}/groups/{group_id}/runs", json=body)
        assert (answer.status_code, answer.json()) == (404, {"message": "unknown file 'nope'"})
        plain = {"arguments": [{"name": "names", "value": "people.txt"}]}
        answer = await http.post(f"{fake.url}/groups/{group_id}/runs", json=plain)
        assert answer.status_code == 400
    assert fake.runs == {}


async def test_downloads_need_no_token_and_an_unfinished_runs_archive_is_unknown() -> None:
    fake = FakeFlowserv()
    group_id = fake.add_group()
    done = fake.add_run(group_id, state="SUCCESS")
    failed = fake.add_run(group_id, state="ERROR")
    async with httpx.AsyncClient(transport=fake) as http:
        answer = await http.get(f"{fake.url}/runs/{done}/downloads/archive")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/gzip"
        assert sorted(members(answer.content)) == ["results/greetings.txt", "results/result.json"]
        answer = await http.get(f"{fake.url}/runs/{failed}/downloads/archive")
        assert (answer.status_code, answer.json()) == (404, {"message": f"unknown run '{failed}'"})
        answer = await http.get(f"{fake.url}/runs/{done}/downloads/files/nope")
        assert answer.status_code == 404


async def started(wf: afs.AsyncWorkflow, *sleeps: float) -> None:
    for sleep in sleeps:
        await wf.start_run({"sleep": sleep}, poll_interval=POLL)


async def test_the_leaderboard_ranks_successful_runs_by_the_schema() -> None:
    fake = FakeFlowserv()
    first, second = fake.add_group(name="first"), fake.add_group(name="second")
    async with afs.AsyncFlowserv(fake.url, token=fake.token, transport=fake) as fs:
        await started(await fs.workflow("sleeper", first), 0.03, 0.01)
        await started(await fs.workflow("sleeper", second), 0.02)
        wf = await fs.workflow("sleeper", first)
        await wf.start_run({"exitcode": 1}, poll_interval=POLL)  # not ranked
        best = await wf.leaderboard()
        every = await wf.leaderboard(include_all=True)
        slowest_first = await wf.leaderboard("sleep:desc", include_all=True)
    assert best is not None
    assert every is not None
    assert slowest_first is not None
    assert [c.name for c in best.columns] == ["sleep", "count"]
    assert [(r.group_name, r.results["sleep"]) for r in best.rows] == [
        ("first", 0.01), ("second", 0.02)]
    assert [r.results["sleep"] for r in every.rows] == [0.01, 0.02, 0.03]
    assert [r.results["sleep"] for r in slowest_first.rows] == [0.03, 0.02, 0.01]
    assert {r.results["count"] for r in every.rows} == {2}


async def test_the_leaderboard_answers_an_empty_order_as_the_server_does() -> None:
    fake = FakeFlowserv()
    async with httpx.AsyncClient(transport=fake) as http:
        answer = await http.get(f"{fake.url}/workflows/sleeper/leaderboard?orderBy=")
        assert answer.status_code == 500
        answer = await http.get(f"{fake.url}/workflows/nope/leaderboard")
        assert answer.status_code == 404


async def test_post_processing_outputs_summarise_the_ranking() -> None:
    fake = FakeFlowserv(postproc=0.01)
    group_id = fake.add_group(name="team")
    async with afs.AsyncFlowserv(fake.url, token=fake.token, transport=fake) as fs:
        wf = await fs.workflow("sleeper", group_id)
        with pytest.raises(afs.NotFoundError):
            await wf.get_postproc_file()
        run = await wf.start_run({"sleep": 0.02}, poll_interval=POLL)  # and its post-processing
        post = await wf.get_postproc_results()
        assert post is not None
        assert post.is_success()
        (summary_file,) = post.files()
        one = await wf.get_postproc_file(summary_file.id)
        archive = await (await wf.get_postproc_file()).read()
    expected = [{"group": "team", "run": run.run_id, "sleep": 0.02}]
    assert one.name == "results/summary.json"
    assert json.loads(await one.read()) == expected
    assert json.loads(members(archive)["results/summary.json"]) == expected
