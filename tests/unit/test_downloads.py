"""Bulk downloads (``_downloads``): one folder per run, resumable, bounded, failures kept apart.

A small in-process server answers the group's listing, the runs and their
archives (real ``.tar.gz`` bytes), and records every request and the most
archive downloads in flight at once.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

import aioflowserv as afs
from tests.support.documents import BASE, TOKEN, run_doc

pytestmark = pytest.mark.anyio

ARGUMENTS = [{"name": "sleep", "value": 0.5}, {"name": "greeting", "value": "Hi"}]


def archive(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


class ResultsServer(httpx.AsyncBaseTransport):
    """Answers the listing of group g1, ``GET /runs/{id}`` and each run's archive."""

    def __init__(self, delay: float = 0.0) -> None:
        self.runs: dict[str, dict[str, Any]] = {}
        self.archives: dict[str, bytes] = {}
        self.requests: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.delay = delay

    def add(self, run_id: str, state: str = "SUCCESS", **members: bytes) -> None:
        messages = ["failed on purpose\n"] if state == "ERROR" else []
        self.runs[run_id] = run_doc(run_id, state, arguments=ARGUMENTS, messages=messages)
        if members:
            self.archives[run_id] = archive(
                {f"results/{name}.txt": content for name, content in members.items()}
            )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/flowserv/api/v1/")
        self.requests[path] += 1
        if path == "groups/g1/runs":
            listing = [{"id": d["id"], "state": d["state"], "createdAt": d["createdAt"]}
                       for d in self.runs.values()]
            return httpx.Response(200, json={"runs": listing})
        parts = path.split("/")
        if parts[0] == "runs" and len(parts) == 2 and parts[1] in self.runs:
            return httpx.Response(200, json=self.runs[parts[1]])
        if parts[0] == "runs" and parts[2:] == ["downloads", "archive"]:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await anyio.sleep(self.delay)
            finally:
                self.in_flight -= 1
            if parts[1] in self.archives:
                return httpx.Response(200, content=self.archives[parts[1]],
                                      headers={"content-type": "application/gzip"})
        return httpx.Response(404, json={"message": f"unknown run '{parts[1]}'"})

    def archive_requests(self) -> dict[str, int]:
        return {p.split("/")[1]: n for p, n in self.requests.items() if p.endswith("/archive")}


@pytest.fixture
def server() -> ResultsServer:
    results = ResultsServer()
    results.add("a" * 32, greetings=b"Hi Alice!\n", result=b'{"count": 1}')
    results.add("b" * 32, "ERROR")
    results.add("c" * 32, greetings=b"Hi Bob!\n")
    results.add("d" * 32, "RUNNING")
    return results


@pytest.fixture
async def fs(server: ResultsServer) -> AsyncIterator[afs.AsyncFlowserv]:
    async with afs.AsyncFlowserv(BASE, token=TOKEN, transport=server, retries=0) as client:
        yield client


async def test_each_finished_run_gets_a_folder_with_its_files_and_a_description(
    fs: afs.AsyncFlowserv, server: ResultsServer, tmp_path: Path
) -> None:
    done = await fs.download_results("g1", tmp_path / "out")
    assert [(d.run_id, d.state.value, d.skipped) for d in done] == [
        ("a" * 32, "SUCCESS", False), ("b" * 32, "ERROR", False), ("c" * 32, "SUCCESS", False),
    ]
    first = done[0].directory
    assert first == tmp_path / "out" / ("a" * 32)
    assert (first / "results" / "greetings.txt").read_bytes() == b"Hi Alice!\n"
    assert sorted(p.name for p in done[0].files) == ["greetings.txt", "result.txt"]
    meta = json.loads(done[0].metadata.read_text())
    assert meta["state"] == "SUCCESS"
    assert meta["arguments"] == {"sleep": 0.5, "greeting": "Hi"}
    assert meta.pop("local_files") == [
        {"path": "results/greetings.txt", "size": 10}, {"path": "results/result.txt", "size": 12},
    ]
    assert meta == afs.Run.from_json(server.runs["a" * 32]).to_dict()  # the run's JSON form
    failed = json.loads(done[1].metadata.read_text())
    assert failed["messages"] == ["failed on purpose\n"]
    assert failed["local_files"] == []
    assert sorted(p.name for p in done[1].directory.iterdir()) == ["flowserv-run.json"]
    assert not (tmp_path / "out" / ("d" * 32)).exists()  # still running: no results yet


async def test_runs_complete_on_disk_are_skipped_without_a_request(
    fs: afs.AsyncFlowserv, server: ResultsServer, tmp_path: Path
) -> None:
    await fs.download_results("g1", tmp_path)
    before = server.requests.copy()
    again = await fs.download_results("g1", tmp_path)
    assert all(d.skipped for d in again)
    assert [d.files for d in again] == [
        tuple(sorted((d.directory / "results").iterdir())) if d.state.value == "SUCCESS" else ()
        for d in again
    ]
    assert server.requests - before == Counter({"groups/g1/runs": 1})


async def test_an_incomplete_folder_is_fetched_again(
    fs: afs.AsyncFlowserv, server: ResultsServer, tmp_path: Path
) -> None:
    done = await fs.download_results("g1", tmp_path)
    (done[0].directory / "results" / "greetings.txt").write_bytes(b"Hi")  # cut short
    done[2].metadata.unlink()  # interrupted before its description was written
    again = await fs.download_results("g1", tmp_path)
    assert [d.skipped for d in again] == [False, True, False]
    assert (done[0].directory / "results" / "greetings.txt").read_bytes() == b"Hi Alice!\n"
    assert server.archive_requests() == {"a" * 32: 2, "c" * 32: 2}


async def test_states_choose_the_runs(
    fs: afs.AsyncFlowserv, server: ResultsServer, tmp_path: Path
) -> None:
    done = await fs.download_results("g1", tmp_path, states=["error"])
    assert [d.run_id for d in done] == ["b" * 32]
    assert server.archive_requests() == {}


@pytest.mark.parametrize(("states", "concurrency"), [(["RUNNING"], 4), ("FINE", 4), (None, 0)])
async def test_bad_options_are_refused_before_any_request(
    fs: afs.AsyncFlowserv, server: ResultsServer, tmp_path: Path, states: Any, concurrency: int
) -> None:
    with pytest.raises(afs.InvalidArgumentError):
        await fs.download_results("g1", tmp_path, states=states, concurrency=concurrency)
    assert not server.requests


async def test_a_run_that_fails_does_not_stop_the_others(
    fs: afs.AsyncFlowserv, server: ResultsServer, tmp_path: Path
) -> None:
    del server.archives["a" * 32]  # its archive answers 404
    results = await fs.download_results("g1", tmp_path, return_exceptions=True)
    assert isinstance(results[0], afs.NotFoundError)
    assert f"while downloading run {'a' * 32}" in results[0].__notes__
    assert [d.run_id for d in results[1:]] == ["b" * 32, "c" * 32]
    assert not (tmp_path / ("a" * 32) / "flowserv-run.json").exists()


async def test_without_return_exceptions_the_first_error_is_raised_after_the_others(
    fs: afs.AsyncFlowserv, server: ResultsServer, tmp_path: Path
) -> None:
    del server.archives["a" * 32]
    with pytest.raises(afs.NotFoundError) as raised:
        await fs.download_results("g1", tmp_path)
    assert any("1 of 3 runs could not be downloaded" in n for n in raised.value.__notes__)
    assert (tmp_path / ("c" * 32) / "flowserv-run.json").exists()


async def test_a_run_id_that_is_no_safe_folder_name_is_refused(
    fs: afs.AsyncFlowserv, server: ResultsServer, tmp_path: Path
) -> None:
    server.runs = {"..": run_doc("..", "SUCCESS")}
    (result,) = await fs.download_results("g1", tmp_path / "out", return_exceptions=True)
    assert isinstance(result, afs.UnsafePathError)
    assert list(tmp_path.iterdir()) == [tmp_path / "out"]
    assert list((tmp_path / "out").iterdir()) == []


async def test_downloads_are_bounded_and_reported_as_they_end(tmp_path: Path) -> None:
    server = ResultsServer(delay=0.2)
    for index in range(9):
        server.add(f"{index:032x}", greetings=b"Hi\n")
    seen: list[str] = []

    async with afs.AsyncFlowserv(BASE, token=TOKEN, transport=server, retries=0) as fs:
        done = await fs.download_results(
            "g1", tmp_path, concurrency=3, on_download=lambda item: seen.append(item.run_id)
        )
    assert server.max_in_flight == 3
    assert sorted(seen) == [d.run_id for d in done]
    assert len(seen) == 9


async def test_a_failing_on_download_callback_stops_the_download_and_is_raised(
    tmp_path: Path,
) -> None:
    server = ResultsServer(delay=0.2)
    for index in range(9):
        server.add(f"{index:032x}", greetings=b"Hi\n")
    seen: list[str] = []

    def on_download(item: afs.RunDownload) -> None:
        seen.append(item.run_id)
        raise BrokenPipeError("the output's reader went away")

    async with afs.AsyncFlowserv(BASE, token=TOKEN, transport=server, retries=0) as fs:
        with pytest.raises(BrokenPipeError):
            await fs.download_results("g1", tmp_path, concurrency=3, on_download=on_download)
    assert len(seen) == 1  # not called again
    assert len(list(tmp_path.iterdir())) <= 3  # no run begun after it failed
    async with afs.AsyncFlowserv(BASE, token=TOKEN, transport=server, retries=0) as fs:
        again = await fs.download_results("g1", tmp_path)  # a new download fetches the rest
    assert len(again) == 9
