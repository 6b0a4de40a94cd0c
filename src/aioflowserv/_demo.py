"""The main job behind ``make demo``: a batch of sleeper runs against a real server."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator

from ._client import AsyncFlowserv
from ._config import configured_url


@contextlib.contextmanager
def _server(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    from .testing import FlowservServer

    print("no server configured (FLOWSERV_URL): starting a local flowServ server ...")
    with FlowservServer() as server:
        print(f"server at {server.url}")
        yield server.url


async def run_demo(runs: int = 6) -> int:
    """Submit ``runs`` sleeper runs concurrently, wait for them, print their final states."""
    with _server(configured_url()) as url:
        async with AsyncFlowserv(url, token=None) as fs:
            username = f"demo-{uuid.uuid4().hex[:8]}"
            await fs.register_user(username, "demo-password")
            await fs.login(username, "demo-password")
            group = await fs.create_group("sleeper", f"demo-{uuid.uuid4().hex[:8]}")
            wf = await fs.workflow("sleeper", group.id)
            batch = [{"sleep": 1 + i % 3, "greeting": f"Hello #{i}"} for i in range(runs)]
            started = time.perf_counter()
            results = await wf.start_runs(batch, concurrency=4, poll_interval=0.5, timeout=120)
            elapsed = time.perf_counter() - started
            for run in results:
                print(f"{run.run_id}  {run.state.value}")
            print(f"{len(results)} runs in {elapsed:.1f} s")
            return 0 if all(run.is_success() for run in results) else 1
