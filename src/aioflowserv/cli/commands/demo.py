"""``demo``, the main job behind ``make demo``: a batch of runs against a real server, end to end.

It starts a real local flowServ server unless one is configured, registers a
user, creates a group of the ``sleeper`` workflow, submits a batch of runs with
a mix of arguments (a float, a string, a select, a bool, an uploaded file, and
one run that fails on purpose), follows them with live progress, downloads and
unpacks the results of the successful runs, prints a summary table, then runs
a small study (a sweep of 6 argument sets of the ``quadratic`` workflow, at
most 3 runs at a time) and prints its table of arguments and scores, and stops
the server it started. It exits 0 when every run ended as intended.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import attrs
import click

from ... import AsyncFlowserv, AsyncWorkflow, Run, RunState, SweepResult, grid
from ..._config import configured_url
from ..._localserver import FlowservServer
from ..._serverenv import FlowservServerError
from ..._views import sweep_table
from ..app import command, json_option, options
from ..arguments import ArgumentSet
from ..output import (
    CLIError,
    ExitCode,
    describe_arguments,
    last_message,
    print_json,
    print_table,
    runs_table,
)
from ..progress import Board, Following, Outcome, display_for, report_interrupt, submit_batch

__all__ = ["COMMANDS", "Demo", "demo", "demo_batch", "local_server"]

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

STUDY_WORKFLOW = "quadratic"
STUDY_SPACE: Mapping[str, Any] = {"x": [0.0, 1.5], "y": [-0.5], "method": ["a", "b", "c"],
                                  "sleep": 1.0}
"""The demo's study: 6 argument sets of the quadratic workflow (best: x=1.5, method b)."""
STUDY_ACTIVE = 3
"""Runs of the study active at once."""


def _succeeded(study: SweepResult) -> bool:
    return study.stopped is None and all(run.is_success() for run in study.runs)

DEMO_NAMES = "Ada\nGrace\nLinus\n"

FOLLOWING = Following(poll_interval=0.5, max_interval=1.0)
"""How the demo polls (its deadline comes from ``--timeout``)."""


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


@attrs.frozen
class Demo:
    """One demo: how many runs, how they are submitted and followed, where results go."""

    runs: int = 8
    concurrency: int = 4
    output: Path | None = None
    timeout: float = 180.0
    plain: bool = False
    as_json: bool = False

    def echo(self, line: str) -> None:
        """Say what happens (on stderr when stdout carries JSON)."""
        click.echo(line, err=self.as_json)

    async def run(self, url: str) -> int:
        """Run the demo against ``url``; returns the exit code."""
        started = time.monotonic()
        async with AsyncFlowserv(url) as fs:
            wf, username = await self._setup(fs)
            directory = self.output or Path(tempfile.mkdtemp(prefix="aioflowserv-demo-"))
            sets, intended = _batch(self.runs, directory)
            self.echo(f"Submitting {len(sets)} runs ({self.concurrency} at a time); "
                      "one of them fails on purpose (exitcode=3)")
            board = Board(expected=len(sets))
            with display_for(board, as_json=self.as_json, plain=self.plain) as display:
                outcome = await submit_batch(
                    wf, sets, display, attrs.evolve(FOLLOWING, timeout=self.timeout),
                    concurrency=self.concurrency, wait=True,
                )
            if outcome.interrupted:
                return report_interrupt(
                    outcome.runs(), group_id=wf.group_id, not_submitted=outcome.not_submitted
                )
            for aset, exc in outcome.errors:
                click.echo(f"Error: {aset.origin} could not be started: {exc}", err=True)
            results = await _download(fs, outcome.runs(), directory)
            if not self.as_json:
                print_table(runs_table(
                    outcome.runs(), arguments=_described(outcome), results=results, id_width=8
                ))
            study = await self._study(fs)
        expected = {run_id: intended[aset.origin] for run_id, aset in outcome.origins.items()}
        elapsed = time.monotonic() - started
        wrong = [run for run in outcome.runs() if run.state is not expected[run.run_id]]
        if self.as_json:
            doc = {"url": url, "group_id": wf.group_id, "user": username,
                   "ok": not wrong and not outcome.errors and _succeeded(study)}
            print_json({**_json(doc, outcome, expected, results, directory, elapsed),
                        "study": study.to_dict()})
        code = self._verdict(outcome, wrong, expected, directory, elapsed)
        if not _succeeded(study):
            self.echo(f"The study did not end as intended: {study!r}")
            return ExitCode.RUNS_FAILED
        return code

    async def _study(self, fs: AsyncFlowserv) -> SweepResult:
        """A small sweep of the quadratic workflow (a grid, 3 runs at a time) and its table."""
        group = await fs.create_group(STUDY_WORKFLOW, f"demo-study-{uuid.uuid4().hex[:8]}")
        wf = await fs.workflow(STUDY_WORKFLOW, group.id)
        space = grid(**STUDY_SPACE)
        self.echo(f"Sweeping {len(space)} argument sets of the {STUDY_WORKFLOW} workflow "
                  f"(at most {STUDY_ACTIVE} runs active at once)")
        board = Board(expected=len(space))
        with display_for(board, as_json=self.as_json, plain=self.plain) as display:
            result = await wf.sweep(
                space, max_active=STUDY_ACTIVE, poll_interval=FOLLOWING.poll_interval,
                on_change=display.update, timeout=self.timeout,
            )
        if not self.as_json:
            print_table(sweep_table(result))
            best = max(result.to_records(), key=lambda r: r.get("score") or float("-inf"))
            self.echo(f"Best of the study: x={best['x']}, y={best['y']}, "
                      f"method={best['method']}: score {best.get('score')}")
        return result

    async def _setup(self, fs: AsyncFlowserv) -> tuple[AsyncWorkflow, str]:
        """A new user, logged in, and a new group of the workflow; returns it and the user."""
        suffix = uuid.uuid4().hex[:8]
        username, password = f"demo-{suffix}", uuid.uuid4().hex
        await fs.register_user(username, password)
        await fs.login(username, password)
        group = await fs.create_group(WORKFLOW, f"demo-{suffix}")
        wf = await fs.workflow(WORKFLOW, group.id)
        self.echo(f"Registered user {username}; created group {group.name} ({group.id}) "
                  f"of the {await wf.name()} workflow")
        return wf, username

    def _verdict(
        self,
        outcome: Outcome,
        wrong: Sequence[Run],
        expected: Mapping[str, RunState],
        directory: Path,
        elapsed: float,
    ) -> int:
        """The last lines: did every run end as intended? Returns the exit code."""
        summary = outcome.board.summary()
        if not wrong and not outcome.errors:
            self.echo(f"All {len(outcome.board.runs)} runs ended as intended ({summary}; "
                      f"the ERROR is on purpose) in {elapsed:.1f} s. Results in {directory}")
            return ExitCode.OK
        for run in wrong:
            self.echo(f"Run {run.run_id} ended {run.state.value}, "
                      f"expected {expected[run.run_id].value}")
        if outcome.errors:
            self.echo(f"{len(outcome.errors)} runs could not be started")
        self.echo(f"Not every run ended as intended ({summary}). Results in {directory}")
        return ExitCode.RUNS_FAILED


def _batch(runs: int, directory: Path) -> tuple[list[ArgumentSet], dict[str, RunState]]:
    """The demo's argument sets, and the state each should end in (by the set's origin).

    The names file of the file arguments is written to ``directory``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    names_file = directory / "names.txt"
    names_file.write_text(DEMO_NAMES, encoding="utf-8")
    plan = demo_batch(runs, names_file)
    sets = [ArgumentSet(arguments, f"run #{i + 1}") for i, (arguments, _) in enumerate(plan)]
    return sets, {aset.origin: state for aset, (_, state) in zip(sets, plan, strict=True)}


async def _download(fs: AsyncFlowserv, runs: Sequence[Run], directory: Path) -> dict[str, str]:
    """Unpack each successful run's results into ``directory``; a result line for each run."""
    results: dict[str, str] = {}
    for run in runs:
        if run.is_success():
            handle = await fs.download_run_archive(run.run_id)
            await handle.extract(directory / run.run_id)
            results[run.run_id] = _greetings(directory / run.run_id)
        else:
            results[run.run_id] = last_message(run)
    return results


def _greetings(run_dir: Path) -> str:
    """The first greeting of a run, and how many more there are."""
    try:
        lines = (run_dir / "results" / "greetings.txt").read_text(encoding="utf-8").splitlines()
    except OSError:
        return "(no greetings.txt)"
    if not lines:
        return "(empty)"
    return lines[0] + (f" (+{len(lines) - 1} more)" if len(lines) > 1 else "")


def _described(outcome: Outcome) -> dict[str, str]:
    """Each run's arguments as the table shows them."""
    return {run_id: describe_arguments(aset.arguments) for run_id, aset in outcome.origins.items()}


def _json(
    doc: Mapping[str, Any],
    outcome: Outcome,
    expected: Mapping[str, RunState],
    results: Mapping[str, str],
    directory: Path,
    elapsed: float,
) -> dict[str, Any]:
    """The ``--json`` document of the demo: ``doc`` (where, who, ok), then the runs."""
    return dict(
        doc,
        output=str(directory),
        seconds=round(elapsed, 2),
        runs=[
            {
                **run.to_dict(),
                "given": {
                    name: str(value) if isinstance(value, Path) else value
                    for name, value in outcome.origins[run.run_id].arguments.items()
                },
                "expected": expected[run.run_id].value,
                "as_intended": run.state is expected[run.run_id],
                "result": results.get(run.run_id, ""),
            }
            for run in outcome.runs()
        ],
    )


@command("demo")
@click.option("--runs", "count", default=8, show_default=True, type=click.IntRange(2, 100),
              help="How many runs (one of them fails on purpose).")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Submissions in flight at once.")
@click.option("-o", "--output", type=click.Path(file_okay=False), metavar="DIR",
              help="Where to put the downloaded results (default: a new temporary directory).")
@click.option("--timeout", default=180.0, show_default=True,
              type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Give up waiting after this long.")
@click.option("--plain", is_flag=True, help="One line per state change, even on a terminal.")
@json_option
def demo(count: int, concurrency: int, output: str | None, timeout: float, plain: bool,
         as_json: bool) -> int:
    """The main job: a batch of runs against a real server, end to end.

    Starts a local flowServ server unless one is configured (--url, FLOWSERV_URL
    or FLOWSERV_API_*), creates a user and a group, submits a batch of runs of
    the sleeper workflow with a mix of arguments (one fails on purpose), shows
    live progress, downloads the results and prints a summary table; then a
    small sweep of the quadratic workflow with its results table. Exit 0
    when every run ended as intended.
    """
    job = Demo(count, concurrency, Path(output) if output else None, timeout, plain, as_json)
    with local_server(options().url or configured_url(), job.echo) as url:
        return anyio.run(job.run, url)


COMMANDS = (demo,)
"""In the order ``--help`` lists them."""
