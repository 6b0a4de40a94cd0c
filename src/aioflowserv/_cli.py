"""The ``aioflowserv`` commands (click). Imported only when click and rich are installed.

Every command takes ``--url``, ``--token`` and ``--debug`` (also accepted
before the command name). Listing and result commands take ``--json``.
Errors end a command with one line on stderr and the exit code of
:class:`ExitCode`; ``--debug`` adds the traceback and the SDK's debug log.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio
import attrs
import click
from rich.table import Table

from . import __version__
from ._cli_args import BATCH_FORMATS, ArgumentSet, check, parse_assignments, read_batch
from ._cli_common import (
    CLIError,
    ExitCode,
    describe_arguments,
    error_message,
    exit_code_for,
    exit_code_for_runs,
    group_json,
    plural,
    run_info_json,
    run_json,
    user_json,
    workflow_json,
)
from ._cli_config import Connection, clear_login, save_login, stored_login
from ._cli_progress import (
    Board,
    Display,
    display_for,
    interrupt_report,
    make_console,
    runs_table,
)
from ._cli_runs import (
    cancel_runs,
    delete_runs,
    fetch_runs,
    follow_interruptibly,
    submit_and_follow,
)
from ._client import AsyncFlowserv
from ._errors import FlowservError
from ._models import Run, RunState

__all__ = ["cli"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@attrs.define
class Options:
    """Options shared by every command (given before or after the command name)."""

    url: str | None = None
    token: str | None = None
    debug: bool = False
    connection: Connection | None = None

    def connect(self, *, need_token: bool = True) -> Connection:
        """Resolve the server and token (see :mod:`aioflowserv._cli_config`)."""
        from ._cli_server import running_url

        connection = Connection.resolve(self.url, self.token, local_server=running_url())
        self.connection = connection
        if need_token:
            connection.require_token()
        return connection


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is not None and value is not False:
            setattr(ctx.ensure_object(Options), name, value)

    return callback


def shared_options(func: F) -> F:
    """``--url``, ``--token`` and ``--debug``."""
    func = click.option(
        "--debug", is_flag=True, default=False, expose_value=False, callback=_store("debug"),
        help="On errors, show the traceback; log the SDK's requests.",
    )(func)
    func = click.option(
        "--token", metavar="TOKEN", expose_value=False, callback=_store("token"),
        help="API token (default: FLOWSERV_ACCESS_TOKEN, then the saved login).",
    )(func)
    func = click.option(
        "--url", metavar="URL", expose_value=False, callback=_store("url"),
        help="Server API URL, e.g. http://127.0.0.1:5000/flowserv/api/v1 "
        "(default: FLOWSERV_URL or FLOWSERV_API_*, then the saved login, then a local server).",
    )(func)
    return func


def json_option(func: F) -> F:
    """``--json``: machine-readable output on stdout."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of tables."
    )(func)


def follow_options(func: F) -> F:
    """``--interval``, ``--plain`` and ``--cancel-on-interrupt``: how runs are followed."""
    for option in reversed(
        [
            click.option(
                "--interval", default=0.5, show_default=True,
                type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
                help="The first poll interval when following runs (it grows while nothing "
                "changes).",
            ),
            click.option(
                "--plain", is_flag=True, help="One line per state change, even on a terminal."
            ),
            click.option(
                "--cancel-on-interrupt", is_flag=True,
                help="On Ctrl-C, cancel the runs still active (default: leave them running).",
            ),
        ]
    ):
        func = option(func)
    return func


class _CurrentStderr(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (rich's live display redirects it)."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write one formatted line."""
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def _logging(debug: bool) -> Iterator[None]:
    """Show the SDK's warnings (and with --debug its debug log) on stderr while a command runs."""
    logger = logging.getLogger("aioflowserv")
    handler = _CurrentStderr()
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.level, logger.propagate = saved


def _is_group(exc: BaseException) -> bool:
    """True for an exception group (Python 3.10 has them only as a backport)."""
    return isinstance(getattr(exc, "exceptions", None), tuple) and any(
        cls.__name__ == "BaseExceptionGroup" for cls in type(exc).__mro__
    )


def _unwrap(exc: BaseException) -> BaseException:
    """The single exception inside (nested) exception groups, or ``exc`` itself."""
    while _is_group(exc) and len(exc.exceptions) == 1:  # type: ignore[attr-defined]
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    return exc


def handle_errors(func: Callable[..., int | None]) -> Callable[..., None]:
    """Run a command: one error line and its exit code, or the traceback with --debug."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        ctx = click.get_current_context()
        options = ctx.ensure_object(Options)
        try:
            with _logging(options.debug):
                code = func(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            code = ExitCode.INTERRUPTED
        except BaseException as raised:
            if not isinstance(raised, Exception) and not _is_group(raised):
                raise
            exc = _unwrap(raised)
            if isinstance(exc, KeyboardInterrupt):
                click.echo("Interrupted.", err=True)
                ctx.exit(ExitCode.INTERRUPTED)
            if options.debug:
                traceback.print_exception(raised, file=sys.stderr)
            url = options.connection.url if options.connection else None
            message = error_message(exc, url)
            if not isinstance(exc, (FlowservError, CLIError, OSError)):
                message = f"{type(exc).__name__}: {message} (--debug shows the traceback)"
            click.echo(f"Error: {message}", err=True)
            code = exit_code_for(exc)
        ctx.exit(int(code or 0))

    return wrapper


def run_async(func: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine function in a new event loop."""
    return anyio.run(func)


def client(connection: Connection) -> AsyncFlowserv:
    """An SDK client for the resolved server and token."""
    return AsyncFlowserv(connection.url, token=connection.token)


def print_json(doc: Any) -> None:
    """JSON on stdout."""
    click.echo(json.dumps(doc, indent=2, default=str))


def print_table(table: Table) -> None:
    """A rich table on stdout."""
    make_console().print(table)


class Group(click.Group):
    """Lists the commands in the order they were defined."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Definition order (more useful than alphabetical here)."""
        return list(self.commands)


@click.group(cls=Group, context_settings=CONTEXT_SETTINGS)
@shared_options
@click.version_option(__version__, prog_name="aioflowserv")
def cli() -> None:
    """Submit, watch and collect flowServ workflow runs.

    Exit codes: 0 ok (every run asked about succeeded), 1 some runs failed,
    were canceled or were still active at a deadline, 2 usage or configuration
    error, 3 server or connection error, 130 Ctrl-C.
    """


def command(name: str, parent: click.Group = cli, **kwargs: Any) -> Callable[[F], click.Command]:
    """A subcommand with the shared options and error handling."""

    def decorate(func: F) -> click.Command:
        return parent.command(name, context_settings=CONTEXT_SETTINGS, **kwargs)(
            shared_options(handle_errors(func))
        )

    return decorate


def options() -> Options:
    """The shared options of the running command."""
    return click.get_current_context().ensure_object(Options)


# -- users --------------------------------------------------------------------


@command("login")
@click.argument("username", required=False)
@click.option("--password", help="The password (prompted for when not given).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--register", is_flag=True, help="Create the account first (active at once).")
def login(username: str | None, password: str | None, password_stdin: bool, register: bool) -> int:
    """Log in and save the token (in a file only you can read).

    The token is kept with the server URL in $XDG_CONFIG_HOME/aioflowserv/config.json
    and used by later commands against the same server.
    """
    connection = options().connect(need_token=False)
    if username is None:
        username = click.prompt("Username")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=register)
    assert username is not None
    assert password is not None

    async def go() -> str:
        async with AsyncFlowserv(connection.url) as fs:
            if register:
                await fs.register_user(username, password)
            return await fs.login(username, password)

    token = run_async(go)
    path = save_login(connection.url, username, token)
    if register:
        click.echo(f"Registered user {username}.")
    click.echo(f"Logged in to {connection.url} as {username}; token saved in {path}.")
    if connection.token_source == "FLOWSERV_ACCESS_TOKEN":
        click.echo(
            "Note: FLOWSERV_ACCESS_TOKEN is set and takes precedence over the saved token.",
            err=True,
        )
    return ExitCode.OK


@command("logout")
def logout() -> int:
    """End the session on the server and forget the saved token.

    flowServ keeps one token per user: this ends every session of the user.
    """
    connection = options().connect(need_token=False)
    if not connection.token:
        removed = clear_login()
        click.echo("Not logged in." if not removed else "Forgot the saved login.")
        return ExitCode.OK

    async def go() -> None:
        async with client(connection) as fs:
            await fs.logout()

    try:
        run_async(go)
    except FlowservError as exc:  # an expired token cannot log out (the server says 500)
        click.echo(f"The server did not end the session ({exc}).", err=True)
    login_doc = stored_login()
    if login_doc is not None and login_doc["token"] == connection.token:
        clear_login()
    click.echo(f"Logged out of {connection.url}.")
    return ExitCode.OK


@command("whoami")
@json_option
def whoami(as_json: bool) -> int:
    """Show the user the token belongs to (checks the token with the server)."""
    connection = options().connect()

    async def go() -> Any:
        async with client(connection) as fs:
            return await fs.whoami()

    user = run_async(go)
    if as_json:
        print_json(user_json(user, url=connection.url, token_source=connection.token_source))
    else:
        click.echo(f"{user.username} (id {user.id}) at {connection.url}")
    return ExitCode.OK


# -- workflows and groups ------------------------------------------------------------


@command("workflows")
@json_option
def workflows(as_json: bool) -> int:
    """List the server's workflows."""
    connection = options().connect(need_token=False)

    async def go() -> Any:
        async with client(connection) as fs:
            return await fs.list_workflows()

    items = run_async(go)
    if as_json:
        print_json([workflow_json(item) for item in items])
        return ExitCode.OK
    table = Table("id", "name", "description")
    for item in items:
        description = (item.description or "").strip().splitlines()
        table.add_row(item.id, item.name, description[0] if description else "")
    print_table(table)
    return ExitCode.OK


@command("groups")
@click.argument("workflow")
@json_option
def groups(workflow: str, as_json: bool) -> int:
    """List your groups of WORKFLOW."""
    connection = options().connect()

    async def go() -> Any:
        async with client(connection) as fs:
            return await fs.list_groups(workflow)

    items = run_async(go)
    if as_json:
        print_json([group_json(item) for item in items])
        return ExitCode.OK
    table = Table("id", "name")
    for item in items:
        table.add_row(item.id, item.name)
    print_table(table)
    return ExitCode.OK


@command("create-group")
@click.argument("workflow")
@click.argument("name")
@click.option("--member", "members", multiple=True, metavar="USER_ID",
              help="Another member (a user id); repeatable.")
@json_option
def create_group(workflow: str, name: str, members: Sequence[str], as_json: bool) -> int:
    """Create a group NAME of WORKFLOW (you become a member) and print its id."""
    connection = options().connect()

    async def go() -> Any:
        async with client(connection) as fs:
            return await fs.create_group(workflow, name, list(members) or None)

    group = run_async(go)
    if as_json:
        print_json(group_json(group))
    else:
        click.echo(group.id)
    return ExitCode.OK


# -- runs ---------------------------------------------------------------------


def _progress_console(as_json: bool) -> Any:
    """Progress goes to stdout, or to stderr when stdout carries JSON."""
    return make_console(stderr=as_json)


def _echo_progress(as_json: bool) -> Callable[[str], None]:
    return lambda line: click.echo(line, err=as_json)


def _report_interrupt(lines: list[str]) -> None:
    for line in lines:
        click.echo(line, err=True)


@command("submit")
@click.argument("workflow")
@click.argument("group")
@click.option("-a", "--arg", "assignments", multiple=True, metavar="NAME=VALUE",
              help="An argument, converted by the parameter's type (repeatable). With --batch, "
              "a value for every line that the line does not set.")
@click.option("--batch", "batch", type=click.Path(dir_okay=False, allow_dash=True),
              help="A file with one argument set per line: JSON Lines or CSV ('-': stdin).")
@click.option("--format", "fmt", type=click.Choice(BATCH_FORMATS),
              help="The batch format (default: by extension, else by content).")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Submissions in flight at once.")
@click.option("--wait", is_flag=True, help="Follow the runs until they end (exit 1 if any fails).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="With --wait: stop waiting after this long (exit 1).")
@follow_options
@json_option
def submit(
    workflow: str,
    group: str,
    assignments: Sequence[str],
    batch: str | None,
    fmt: str | None,
    concurrency: int,
    wait: bool,
    timeout: float | None,
    interval: float,
    plain: bool,
    cancel_on_interrupt: bool,
    as_json: bool,
) -> int:
    """Start runs of WORKFLOW in GROUP: one with -a arguments, or one per line of --batch.

    Every argument set is checked against the group's parameters before
    anything is sent: a bad value (or a malformed batch line) is reported with
    its line and nothing is submitted. File parameters take local paths
    (relative to the batch file's directory in a batch).
    """
    connection = options().connect()
    if timeout is not None and not wait:
        raise click.UsageError("--timeout needs --wait")
    stdin_text = sys.stdin.read() if batch == "-" else None

    async def go() -> Any:
        async with client(connection) as fs:
            wf = await fs.workflow(workflow, group)
            parameters = await wf.parameters()
            defaults = parse_assignments(parameters, assignments)
            if batch is None:
                check(parameters, defaults)
                sets = [ArgumentSet(defaults, "-a arguments")]
            else:
                sets = read_batch(
                    Path(batch), parameters, fmt=fmt, defaults=defaults, text=stdin_text
                )
            board = Board(expected=len(sets))
            console = _progress_console(as_json)
            display: Display = display_for(
                board, console, plain=plain, echo=_echo_progress(as_json),
                quiet=not wait and not console.is_terminal,
            )
            with display:
                outcome = await submit_and_follow(
                    fs, wf, sets, display, concurrency=concurrency, wait=wait,
                    timeout=timeout, poll_interval=interval, max_interval=max(interval, 5.0),
                    cancel_on_interrupt=cancel_on_interrupt,
                )
            return outcome

    outcome = run_async(go)
    runs = outcome.final_runs()
    described = {run.run_id: describe_arguments(aset.arguments) for aset, run in outcome.submitted}
    origins = {run.run_id: aset for aset, run in outcome.submitted}
    if as_json:
        print_json({
            "runs": [
                run_json(run, line=origins[run.run_id].line) for run in runs
            ],
            "errors": [
                {"line": aset.line, "origin": aset.origin, "error": str(exc)}
                for aset, exc in outcome.errors
            ],
            "not_submitted": outcome.not_submitted,
            "interrupted": outcome.interrupted,
            "timed_out": outcome.board.timed_out,
        })
    elif runs:
        if not wait:
            click.echo(f"Submitted {plural(len(runs), 'run')} to group {group}:")
        print_table(runs_table(runs, arguments=described))
    for aset, exc in outcome.errors:
        click.echo(f"Error: {aset.origin}: {error_message(exc)}", err=True)
    if outcome.interrupted:
        active = [run for run in runs if run.is_active()]
        _report_interrupt(interrupt_report(
            outcome.canceled or active, group_id=group, canceled=bool(outcome.canceled),
            not_submitted=outcome.not_submitted,
        ))
        return ExitCode.INTERRUPTED
    if outcome.errors:
        return max(exit_code_for(exc) for _, exc in outcome.errors)
    if not wait:
        if not as_json and runs:
            click.echo(f"Follow them: aioflowserv watch --group {group}")
        return ExitCode.OK
    if outcome.board.timed_out:
        still = [run.run_id for run in runs if run.is_active()]
        click.echo(
            f"Timed out: {plural(len(still), 'run')} still active (left running): "
            f"{' '.join(still)}",
            err=True,
        )
    return exit_code_for_runs(runs)


@command("watch")
@click.argument("run_ids", nargs=-1, metavar="[RUN_ID]...")
@click.option("--group", "group_id", metavar="GROUP", help="Watch every run of a group.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Stop waiting after this long (exit 1; the runs go on).")
@follow_options
@json_option
def watch(
    run_ids: Sequence[str],
    group_id: str | None,
    timeout: float | None,
    interval: float,
    plain: bool,
    cancel_on_interrupt: bool,
    as_json: bool,
) -> int:
    """Follow runs until they end: a live bar on a terminal, plain lines otherwise.

    Give run ids, or --group for every run of a group. Ends with a table of
    the runs; exit 0 only if all of them succeeded. Ctrl-C stops watching and
    leaves the runs running (unless --cancel-on-interrupt).
    """
    if bool(run_ids) == bool(group_id):
        raise click.UsageError("give run ids or --group GROUP (one of them)")
    connection = options().connect()

    async def go() -> tuple[Board, bool, list[Run]]:
        async with client(connection) as fs:
            if group_id is not None:
                infos = await fs.list_runs(group_id)
                runs = [
                    Run(run_id=info.run_id, state=info.state, group_id=group_id,
                        created_at=info.created_at)
                    for info in infos
                ]
            else:
                runs = await fetch_runs(fs, list(dict.fromkeys(run_ids)))
            board = Board(runs)
            display = display_for(
                board, _progress_console(as_json), plain=plain, echo=_echo_progress(as_json)
            )
            with display:
                interrupted, canceled = await follow_interruptibly(
                    fs, display, timeout=timeout, poll_interval=interval,
                    max_interval=max(interval, 5.0), cancel_on_interrupt=cancel_on_interrupt,
                )
            return board, interrupted, canceled

    board, interrupted, canceled = run_async(go)
    runs = list(board.runs.values())
    if as_json:
        print_json({
            "runs": [run_json(run) for run in runs],
            "interrupted": interrupted,
            "timed_out": board.timed_out,
        })
    elif runs:
        print_table(runs_table(runs))
    else:
        click.echo("No runs to watch.")
    if interrupted:
        _report_interrupt(interrupt_report(
            canceled or board.active(), group_id=group_id, canceled=bool(canceled)
        ))
        return ExitCode.INTERRUPTED
    if board.timed_out:
        still = [run.run_id for run in board.active()]
        click.echo(
            f"Timed out: {plural(len(still), 'run')} still active (left running): "
            f"{' '.join(still)}",
            err=True,
        )
    return exit_code_for_runs(runs)


@command("cancel")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID...")
@click.option("--reason", help="Why (kept in the run's messages).")
@json_option
def cancel(run_ids: Sequence[str], reason: str | None, as_json: bool) -> int:
    """Cancel active runs. A run that already ended is reported, not an error."""
    connection = options().connect()

    async def go() -> Any:
        async with client(connection) as fs:
            return await cancel_runs(fs, list(dict.fromkeys(run_ids)), reason)

    return _report_actions(run_async(go), as_json, done="canceled")


@command("delete")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN_ID...")
@json_option
def delete(run_ids: Sequence[str], as_json: bool) -> int:
    """Delete runs that are no longer active (cancel active ones first)."""
    connection = options().connect()

    async def go() -> Any:
        async with client(connection) as fs:
            return await delete_runs(fs, list(dict.fromkeys(run_ids)))

    return _report_actions(run_async(go), as_json, done="deleted")


def _report_actions(results: Sequence[Any], as_json: bool, *, done: str) -> int:
    errors = [result for result in results if result.error is not None]
    if as_json:
        items = []
        for r in results:
            if r.error is not None:
                continue
            item: dict[str, Any] = {"run_id": r.run_id, done: r.note in (None, done)}
            if r.run is not None:
                item.update(state=r.run.state.value, messages=r.run.messages())
            if r.note not in (None, done):
                item["note"] = r.note
            items.append(item)
        print_json({
            "runs": items,
            "errors": [{"run_id": r.run_id, "error": error_message(r.error)} for r in errors],
        })
    else:
        for result in results:
            if result.error is None:
                click.echo(f"{result.run_id}  {result.note or done}")
    for result in errors:
        click.echo(f"Error: {result.run_id}: {error_message(result.error)}", err=True)
    return max((exit_code_for(r.error) for r in errors), default=ExitCode.OK)


@command("runs")
@click.argument("group_id", metavar="GROUP")
@click.option("--state", "states", multiple=True,
              type=click.Choice([s.value for s in RunState], case_sensitive=False),
              help="Only runs in this state (repeatable).")
@json_option
def runs_command(group_id: str, states: Sequence[str], as_json: bool) -> int:
    """List the runs of GROUP with their states, oldest first."""
    connection = options().connect()

    async def go() -> Any:
        async with client(connection) as fs:
            return await fs.list_runs(group_id)

    infos = run_async(go)
    wanted = {state.upper() for state in states}
    if wanted:
        infos = [info for info in infos if info.state.value in wanted]
    if as_json:
        print_json([run_info_json(info) for info in infos])
        return ExitCode.OK
    table = Table("run", "state", "created")
    for info in infos:
        created = info.created_at.strftime("%Y-%m-%d %H:%M:%S") if info.created_at else ""
        table.add_row(info.run_id, info.state.value, created)
    print_table(table)
    return ExitCode.OK


@command("download")
@click.argument("run_id")
@click.argument("file", required=False)
@click.option("-o", "--output", type=click.Path(file_okay=False), metavar="DIR",
              help="Where to put the files (default: a directory named after the run).")
@json_option
def download(run_id: str, file: str | None, output: str | None, as_json: bool) -> int:
    """Download a run's results: one FILE (by name or id), or all of them.

    Without FILE the run's archive is unpacked into DIR, safely: nothing is
    written outside DIR whatever the archive holds.
    """
    connection = options().connect()
    directory = Path(output or run_id)

    async def go() -> list[Path]:
        async with client(connection) as fs:
            run = await fs.get_run(run_id)
            if not run.is_success():
                raise CLIError(
                    f"run {run_id} is {run.state.value}: only successful runs have results",
                    ExitCode.RUNS_FAILED,
                )
            if file is None:
                handle = await fs.download_run_archive(run_id)
                return await handle.extract(directory)
            entry = run.get_file(file)
            if entry is None:
                names = ", ".join(f.name for f in run.files()) or "none"
                raise CLIError(f"run {run_id} has no file {file!r} (files: {names})")
            handle = await fs.download_run_file(run_id, entry.id)
            directory.mkdir(parents=True, exist_ok=True)
            return [await handle.save(directory)]

    paths = run_async(go)
    if as_json:
        print_json({"run_id": run_id, "files": [str(path) for path in paths]})
    else:
        for path in paths:
            click.echo(str(path))
    return ExitCode.OK


# -- local server -------------------------------------------------------------


@cli.group("server", cls=Group, context_settings=CONTEXT_SETTINGS)
def server() -> None:
    """A real local flowServ server, for trying things out (start, stop, status, run)."""


def _point_at(url: str) -> list[str]:
    return [
        "Commands of this shell use it while it runs; elsewhere point them at it with",
        f"  export FLOWSERV_URL={url}",
        "Create a user and log in:  aioflowserv login --register USERNAME",
    ]


@command("start", parent=server)
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: the last one, or any).")
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="Data directory (default: $XDG_STATE_HOME/aioflowserv/server).")
@click.option("--python", metavar="PATH",
              help="The server's interpreter (default: AIOFLOWSERV_SERVER_PYTHON or .venv-server).")
@json_option
def server_start(port: int | None, directory: str | None, python: str | None,
                 as_json: bool) -> int:
    """Start a local flowServ server in the background and print its URL."""
    from . import _cli_server

    status, started = _cli_server.start(
        directory=Path(directory) if directory else None, port=port, python=python
    )
    if as_json:
        print_json(dict(status.to_json(), started=started))
        return ExitCode.OK
    verb = "Started" if started else "Already running:"
    click.echo(f"{verb} flowServ server at {status.url} (data in {status.directory})")
    for line in _point_at(status.url or ""):
        click.echo(line)
    click.echo("Stop it with: aioflowserv server stop")
    return ExitCode.OK


@command("stop", parent=server)
@click.option("--clean", is_flag=True, help="Also delete the server's data directory.")
def server_stop(clean: bool) -> int:
    """Stop the local server (and every workflow step it runs)."""
    from . import _cli_server

    stopped = _cli_server.stop(clean=clean)
    if stopped is None:
        click.echo("No local server is running.")
    else:
        click.echo(f"Stopped the flowServ server at {stopped.url}.")
    return ExitCode.OK


@command("status", parent=server)
@json_option
def server_status(as_json: bool) -> int:
    """Say whether the local server runs, and where (exit 3 when it does not)."""
    from . import _cli_server

    status = _cli_server.status()
    if as_json:
        print_json(status.to_json())
    elif status.running:
        click.echo(f"Running at {status.url} (pid {status.pid}, data in {status.directory})")
    elif status.pid is not None:
        click.echo(f"Not answering at {status.url} (supervisor pid {status.pid}); see {status.log}")
    else:
        click.echo("No local server is running. Start one: aioflowserv server start")
    return ExitCode.OK if status.running else ExitCode.SERVER


@command("run", parent=server)
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: the last one, or any).")
@click.option("--dir", "directory", type=click.Path(file_okay=False),
              help="Data directory (default: $XDG_STATE_HOME/aioflowserv/server).")
@click.option("--python", metavar="PATH", help="The server's interpreter.")
def server_run(port: int | None, directory: str | None, python: str | None) -> int:
    """Run a local server in the foreground until Ctrl-C."""
    from . import _cli_server
    from .testing import FlowservServerError, find_server_python

    try:
        interpreter = str(find_server_python(python))
    except FlowservServerError as exc:
        raise CLIError(str(exc)) from None
    return _cli_server.run_foreground(
        Path(directory) if directory else _cli_server.data_dir(), port=port,
        python=interpreter, echo=click.echo,
    )


# -- the demo -----------------------------------------------------------------


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
    live progress, downloads the results and prints a summary table. Exit 0
    when every run ended as intended.
    """
    from ._demo import run_demo

    opts = options()
    return run_demo(
        url=opts.url, runs=count, concurrency=concurrency,
        output=Path(output) if output else None, timeout=timeout, plain=plain,
        as_json=as_json,
    )
