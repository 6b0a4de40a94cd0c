"""The click app: the ``aioflowserv`` group, the options every command shares, error handling.

Every command takes ``--url``, ``--token``, ``--profile``, ``--transport`` and
``--debug`` (also accepted before the command name). Listing and result commands take ``--json``.
Errors end a command with one line on stderr and the exit code of
:class:`ExitCode`; ``--debug`` adds the traceback and the SDK's debug log. An
output whose reader went away (``aioflowserv runs G | head -1``) ends the
command quietly with :attr:`ExitCode.CLOSED_PIPE` (141, as the shell reports a
SIGPIPE): no traceback, no error line.
The commands themselves live in :mod:`aioflowserv.cli.commands`, which adds
them to :data:`cli` in the order ``--help`` lists them.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import logging
import os
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

import anyio
import attrs
import click
from click.shell_completion import CompletionItem

from .. import AsyncFlowserv, FlowservError, NotFoundError, __version__
from .._config import ENV_TRANSPORT, TRANSPORTS
from .._saved import saved_logins
from .config import Connection
from .output import CLIError, ExitCode, error_message, exit_code_for, unknown_id

__all__ = [
    "Options",
    "call",
    "cli",
    "closed_pipe",
    "command",
    "group",
    "handle_errors",
    "json_option",
    "options",
    "quiet_pipe_exit",
    "run",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@attrs.define
class Options:
    """Options shared by every command (given before or after the command name)."""

    url: str | None = None
    token: str | None = None
    profile: str | None = None
    debug: bool = False
    connection: Connection | None = None
    workflow: str | None = None
    """The workflow the command works on, when it knows it (for hints in errors)."""

    def connect(self, *, need_token: bool = True, require_profile: bool = True) -> Connection:
        """Resolve the server and token (see :mod:`aioflowserv.cli.config`)."""
        connection = Connection.resolve(
            self.url, self.token, profile=self.profile, require_profile=require_profile
        )
        self.connection = connection
        if need_token:
            connection.require_token()
        return connection


def options() -> Options:
    """The shared options of the running command."""
    return click.get_current_context().ensure_object(Options)


def _store(name: str) -> Callable[[click.Context, click.Parameter, Any], None]:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is not None and value is not False:
            setattr(ctx.ensure_object(Options), name, value)

    return callback


def _use_transport(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``--transport``: every client of the command sends with it (until the command ends)."""
    if value is None:
        return
    before = os.environ.get(ENV_TRANSPORT)
    os.environ[ENV_TRANSPORT] = value

    def restore() -> None:
        if before is None:
            os.environ.pop(ENV_TRANSPORT, None)
        else:
            os.environ[ENV_TRANSPORT] = before

    ctx.call_on_close(restore)


def shared_options(func: F) -> F:
    """``--url``, ``--token``, ``--profile``, ``--transport`` and ``--debug``."""
    func = click.option(
        "--transport", type=click.Choice(TRANSPORTS), expose_value=False,
        callback=_use_transport,
        help=f"The HTTP stack (default: {ENV_TRANSPORT}, then httpx); aiohttp costs less CPU "
        "per request (the aiohttp extra).",
    )(func)
    func = click.option(
        "--debug", is_flag=True, default=False, expose_value=False, callback=_store("debug"),
        help="On errors, show the traceback; log the SDK's requests.",
    )(func)
    func = click.option(
        "--profile", metavar="NAME", expose_value=False, callback=_store("profile"),
        shell_complete=_complete_profiles,
        help="Use the login saved under NAME (default: FLOWSERV_PROFILE, then 'default'); "
        "see `aioflowserv profiles`.",
    )(func)
    func = click.option(
        "--token", metavar="TOKEN", expose_value=False, callback=_store("token"),
        help="API token (default: the --profile's, FLOWSERV_ACCESS_TOKEN, then the saved login).",
    )(func)
    func = click.option(
        "--url", metavar="URL", expose_value=False, callback=_store("url"),
        help="Server API URL, e.g. http://127.0.0.1:5000/flowserv/api/v1 "
        "(default: FLOWSERV_URL or FLOWSERV_API_*, then the saved login, then a local server).",
    )(func)
    return func


def _complete_profiles(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The saved profiles, for shell completion of ``--profile``."""
    try:
        logins = saved_logins()
    except FlowservError:
        return []
    return [
        CompletionItem(name, help=f"{login.username} at {login.url}")
        for name, login in logins.items() if name.startswith(incomplete)
    ]


def json_option(func: F) -> F:
    """``--json``: machine-readable output on stdout."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of tables."
    )(func)


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


def closed_pipe(raised: BaseException) -> bool:
    """True when writing the output failed because its reader went away (EPIPE)."""
    exc = _unwrap(raised)
    return isinstance(exc, BrokenPipeError) or (
        isinstance(exc, OSError) and exc.errno == errno.EPIPE
    )


def quiet_pipe_exit() -> int:
    """Send what is left of stdout nowhere (Python would complain when it flushes it at exit).

    Returns :attr:`ExitCode.CLOSED_PIPE`.
    """
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    return ExitCode.CLOSED_PIPE


def _report(raised: BaseException, options: Options) -> int:
    """Say what went wrong in one line (and the traceback with --debug); returns the exit code."""
    exc = _unwrap(raised)
    if isinstance(exc, KeyboardInterrupt):
        click.echo("Interrupted.", err=True)
        return ExitCode.INTERRUPTED
    if options.debug:
        traceback.print_exception(raised, file=sys.stderr)
    connection = options.connection
    message = error_message(
        exc, connection.url if connection else None,
        token_source=connection.token_source if connection else None,
        profile=options.profile, workflow=options.workflow,
    )
    if not isinstance(exc, (FlowservError, CLIError, OSError)):
        message = f"{type(exc).__name__}: {message} (--debug shows the traceback)"
    click.echo(f"Error: {message}", err=True)
    return exit_code_for(exc)


def handle_errors(func: Callable[..., int | None]) -> Callable[..., None]:
    """Run a command: one error line and its exit code, or the traceback with --debug."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        ctx = click.get_current_context()
        options = ctx.ensure_object(Options)
        try:
            with _logging(options.debug):
                code = func(*args, **kwargs)
                sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            code = ExitCode.INTERRUPTED
        except BaseException as raised:
            if not isinstance(raised, Exception) and not _is_group(raised):
                raise
            code = quiet_pipe_exit() if closed_pipe(raised) else _report(raised, options)
        ctx.exit(int(code or 0))

    return wrapper


def call(connection: Connection, work: Callable[[AsyncFlowserv], Awaitable[T]]) -> T:
    """Run ``work`` with an SDK client for the resolved server and token, in a new event loop.

    A group id that does not exist but is the name of one of the user's
    groups (an easy slip) is reported with the group's id.
    """
    ctx = click.get_current_context(silent=True)
    workflow = ctx.ensure_object(Options).workflow if ctx is not None else None

    async def go() -> T:
        async with AsyncFlowserv(connection.url, token=connection.token) as fs:
            try:
                return await work(fs)
            except NotFoundError as exc:
                found = unknown_id(exc)
                if found is not None and found[0] == "group" and connection.token:
                    named = await _groups_named(fs, found[1], workflow)
                    if named:
                        raise CLIError(named, ExitCode.USAGE) from exc
                raise

    return anyio.run(go)


async def _groups_named(fs: AsyncFlowserv, name: str, workflow: str | None) -> str | None:
    """Explain a group name given where an id was expected, or None."""
    try:
        workflows = [workflow] if workflow else [info.id for info in await fs.list_workflows()]
        found = [
            (workflow_id, group.id)
            for workflow_id in workflows
            for group in await fs.list_groups(workflow_id)
            if group.name == name
        ]
    except FlowservError:
        return None
    if not found:
        return None
    ids = "; ".join(f"{group_id} (of {workflow_id})" for workflow_id, group_id in found)
    return (
        f"unknown group {name!r}: that is the name of a group of yours; commands take its id: "
        f"{ids}. `aioflowserv groups {found[0][0]}` lists your groups with their ids"
    )


class Group(click.Group):
    """Lists the commands in the order they were added."""

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
    error, 3 server or connection error, 4 a sweep stopped early (some argument
    sets never started), 130 Ctrl-C, 141 the output's reader went away (| head).
    """


def command(
    name: str, parent: click.Group | None = None, **kwargs: Any
) -> Callable[[F], click.Command]:
    """A command with the shared options and error handling (a subcommand of ``parent``)."""
    make = parent.command if parent is not None else click.command

    def decorate(func: F) -> click.Command:
        return make(name, context_settings=CONTEXT_SETTINGS, **kwargs)(
            shared_options(handle_errors(func))
        )

    return decorate


def group(name: str) -> Callable[[Callable[[], None]], click.Group]:
    """A group of subcommands (such as ``server``), listed in the order they are added."""
    return click.group(name, cls=Group, context_settings=CONTEXT_SETTINGS)


def run(app: click.Group, argv: Sequence[str] | None = None) -> int:
    """Run ``app`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        try:
            result = app.main(args=args, prog_name="aioflowserv", standalone_mode=False)
            sys.stdout.flush()
        except click.ClickException as exc:
            exc.show()
            return exc.exit_code
    except OSError as exc:
        if not closed_pipe(exc):
            raise
        return quiet_pipe_exit()
    except SystemExit as exc:
        # click answers a closed pipe in its own output (--help) with exit 1, after
        # wrapping stdout to keep its flush quiet: the same quiet end, with 141.
        pacified = getattr(click.core, "_PacifyFlushWrapper", ())
        if exc.code == 1 and pacified and isinstance(sys.stdout, pacified):
            return quiet_pipe_exit()
        raise
    except click.Abort as exc:
        interrupted = isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt)
        click.echo("Interrupted." if interrupted else "Aborted.", err=True)
        return ExitCode.INTERRUPTED if interrupted else ExitCode.USAGE
    return result if isinstance(result, int) else 0
