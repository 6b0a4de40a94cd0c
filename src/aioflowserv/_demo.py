"""The main job behind ``make demo`` (``aioflowserv demo``): a batch of runs, end to end.

It starts a real local flowServ server unless one is configured, registers a
user, creates a group of the ``sleeper`` workflow, submits a batch of runs with
a mix of arguments (a float, a string, a select, a bool, an uploaded file, and
one run that fails on purpose), follows them with live progress, downloads and
unpacks the results of the successful runs, prints a summary table, and stops
the server it started. It exits 0 when every run ended as intended.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import anyio
import click

from ._cli_args import ArgumentSet
from ._cli_common import CLIError, ExitCode, describe_arguments, run_json
from ._cli_progress import (
    Board,
    display_for,
    interrupt_report,
    last_message,
    make_console,
    runs_table,
)
from ._client import AsyncFlowserv
from ._config import configured_url
from ._models import Run, RunState

__all__ = ["demo_batch", "run_demo"]

WORKFLOW = "sleeper"
NAMES = object()
"""Stands for the path of the demo's names file in :data:`CATALOGUE`."""

CATALOGUE: tuple[Mapping[str, Any], ...] = (
    {"sleep": 1.0, "greeting": "Hello"},
    {"sleep": 2.0, "greeting": "Hi", "mode": "upper"},
    {"sleep": 1.5, "greeting": "Hey", "names": NAMES},
    {"sleep": 2.5, "greeting": "Howdy", "shout": True},
    {"sleep": 1.0, "greeting": "Bonjour", "names": NAMES, "mode": "upper"},
    {"sleep": 3.0, "greeting": "Hallo"},
    {"sleep": 2.0, "greeting": "Ciao", "shout": True},
)
"""Argument sets of runs that succeed (every run sleeps at least 1 s: see the server notes)."""

FAILING: Mapping[str, Any] = {"sleep": 1.0, "greeting": "Oops", "exitcode": 3}
"""The run that fails on purpose (the step exits with code 3)."""

DEMO_NAMES = "Ada\nGrace\nLinus\n"


def demo_batch(runs: int, names_file: Path) -> list[tuple[dict[str, Any], RunState]]:
    """``runs`` argument sets with the state each should end in; exactly one fails."""
    if runs < 2:
        raise ValueError("the demo needs at least 2 runs")
    plan = []
    for index in range(runs - 1):
        arguments = {
            name: names_file if value is NAMES else value
            for name, value in CATALOGUE[index % len(CATALOGUE)].items()
        }
        plan.append((arguments, RunState.SUCCESS))
    plan.insert(min(2, runs - 1), (dict(FAILING), RunState.ERROR))
    return plan


@contextlib.contextmanager
def local_server(url: str | None, echo: Callable[[str], Any]) -> Iterator[str]:
    """Yield ``url``, or start a local server (and stop it afterwards) when it is None."""
    if url is not None:
        echo(f"Using the flowServ server at {url}")
        yield url
        return
    from .testing import FlowservServer, FlowservServerError

    echo("No server configured (--url, FLOWSERV_URL): starting a local flowServ server ...")
    started = time.monotonic()
    try:
        server = FlowservServer()
    except FlowservServerError as exc:
        raise CLIError(str(exc), ExitCode.USAGE) from None
    try:
        try:
            server.start()
        except FlowservServerError as exc:
            raise CLIError(str(exc), ExitCode.SERVER) from None
        echo(f"  ready at {server.url} ({time.monotonic() - started:.1f} s)")
        yield server.url
    finally:
        server.close()
        echo("Stopped the local flowServ server.")


def run_demo(
    *,
    url: str | None = None,
    runs: int = 8,
    concurrency: int = 4,
    output: Path | None = None,
    timeout: float = 180.0,
    plain: bool = False,
    as_json: bool = False,
) -> int:
    """Run the demo; returns the exit code (0 when every run ended as intended)."""

    def echo(line: str) -> None:
        click.echo(line, err=as_json)

    with local_server(url or configured_url(), echo) as server_url:
        job = functools.partial(
            _demo, server_url, runs=runs, concurrency=concurrency, output=output,
            timeout=timeout, plain=plain, as_json=as_json, echo=echo,
        )
        return anyio.run(job)


async def _demo(
    url: str,
    *,
    runs: int,
    concurrency: int,
    output: Path | None,
    timeout: float,
    plain: bool,
    as_json: bool,
    echo: Callable[[str], Any],
) -> int:
    from ._cli_runs import submit_and_follow

    started = time.monotonic()
    async with AsyncFlowserv(url) as fs:
        suffix = uuid.uuid4().hex[:8]
        username, password = f"demo-{suffix}", uuid.uuid4().hex
        await fs.register_user(username, password)
        await fs.login(username, password)
        group = await fs.create_group(WORKFLOW, f"demo-{suffix}")
        wf = await fs.workflow(WORKFLOW, group.id)
        echo(f"Registered user {username}; created group {group.name} ({group.id}) "
             f"of the {await wf.name()} workflow")

        directory = output or Path(tempfile.mkdtemp(prefix="aioflowserv-demo-"))
        directory.mkdir(parents=True, exist_ok=True)
        names_file = directory / "names.txt"
        names_file.write_text(DEMO_NAMES, encoding="utf-8")
        plan = demo_batch(runs, names_file)
        sets = [ArgumentSet(arguments, f"run #{i + 1}") for i, (arguments, _) in enumerate(plan)]
        echo(f"Submitting {len(sets)} runs ({concurrency} at a time); "
             "one of them fails on purpose (exitcode=3)")

        board = Board(expected=len(sets))
        display = display_for(board, make_console(stderr=as_json), plain=plain, echo=echo)
        with display:
            outcome = await submit_and_follow(
                fs, wf, sets, display, concurrency=concurrency, wait=True, timeout=timeout,
                poll_interval=0.5, max_interval=1.0,
            )
        final = {run.run_id: run for run in outcome.final_runs()}
        if outcome.interrupted:
            active = [run for run in final.values() if run.is_active()]
            for line in interrupt_report(active, group_id=group.id,
                                         not_submitted=outcome.not_submitted):
                click.echo(line, err=True)
            return ExitCode.INTERRUPTED
        for aset, exc in outcome.errors:
            click.echo(f"Error: {aset.origin} could not be started: {exc}", err=True)

        results: dict[str, str] = {}
        for run in final.values():
            if run.is_success():
                handle = await fs.download_run_archive(run.run_id)
                await handle.extract(directory / run.run_id)
                results[run.run_id] = _greetings(directory / run.run_id)
            else:
                results[run.run_id] = last_message(run)

    intended = {aset.origin: state for aset, (_, state) in zip(sets, plan, strict=True)}
    expected = {run.run_id: intended[aset.origin] for aset, run in outcome.submitted}
    return _report(
        list(final.values()), expected, outcome.submitted, results, directory,
        elapsed=time.monotonic() - started, as_json=as_json, echo=echo,
        extra={"url": url, "group_id": group.id, "user": username},
        failed_submissions=len(outcome.errors),
    )


def _greetings(run_dir: Path) -> str:
    """The first greeting of a run, and how many more there are."""
    try:
        lines = (run_dir / "results" / "greetings.txt").read_text(encoding="utf-8").splitlines()
    except OSError:
        return "(no greetings.txt)"
    if not lines:
        return "(empty)"
    return lines[0] + (f" (+{len(lines) - 1} more)" if len(lines) > 1 else "")


def _report(
    runs: list[Run],
    expected: Mapping[str, RunState],
    submitted: list[tuple[ArgumentSet, Run]],
    results: Mapping[str, str],
    directory: Path,
    *,
    elapsed: float,
    as_json: bool,
    echo: Callable[[str], Any],
    extra: Mapping[str, Any],
    failed_submissions: int,
) -> int:
    arguments = {run.run_id: describe_arguments(aset.arguments) for aset, run in submitted}
    given = {run.run_id: aset.arguments for aset, run in submitted}
    wrong = [run for run in runs if run.state is not expected[run.run_id]]
    ok = not wrong and not failed_submissions
    if as_json:
        doc = dict(extra)
        doc.update(
            ok=ok,
            output=str(directory),
            seconds=round(elapsed, 2),
            runs=[
                run_json(
                    run,
                    given={k: str(v) if isinstance(v, Path) else v
                           for k, v in given[run.run_id].items()},
                    expected=expected[run.run_id].value,
                    as_intended=run.state is expected[run.run_id],
                    result=results.get(run.run_id, ""),
                )
                for run in runs
            ],
        )
        import json

        click.echo(json.dumps(doc, indent=2, default=str))
    else:
        table = runs_table(runs, arguments=arguments, results=results, id_width=8)
        make_console().print(table)
    counts = {state: sum(1 for run in runs if run.state is state) for state in RunState}
    summary = ", ".join(f"{n} {state.value}" for state, n in counts.items() if n)
    if ok:
        echo(f"All {len(runs)} runs ended as intended ({summary}; the ERROR is on purpose) "
             f"in {elapsed:.1f} s. Results in {directory}")
        return ExitCode.OK
    for run in wrong:
        echo(f"Run {run.run_id} ended {run.state.value}, expected {expected[run.run_id].value}")
    if failed_submissions:
        echo(f"{failed_submissions} runs could not be started")
    echo(f"Not every run ended as intended ({summary}). Results in {directory}")
    return ExitCode.RUNS_FAILED
