"""``env``, ``profiles`` and ``completion``: the saved setup, for other tools and shells."""

from __future__ import annotations

import shlex

import click
from click.shell_completion import get_completion_class
from rich.table import Table

from ..._config import ENV_TOKEN, ENV_URL
from ..._saved import profile_name
from ..app import cli, command, json_option, options
from ..config import config_path, saved_logins
from ..output import ExitCode, print_json, print_table

__all__ = ["COMMANDS", "completion", "env", "profiles"]

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VARIABLE = "_AIOFLOWSERV_COMPLETE"
TOKEN_WARNING = (
    "Warning: this prints your API token. Anyone who sees it can act as you until it "
    "expires: keep it out of logs, shell history files and shared notebooks."
)


@command("env")
@click.option("--show-token", is_flag=True,
              help=f"Also print {ENV_TOKEN} (the token is a secret; a warning goes to stderr).")
@json_option
def env(show_token: bool, as_json: bool) -> int:
    """Print the server (and, on request, the token) as shell exports, for other tools.

    eval "$(aioflowserv env)" points flowServ's own client and other programs at
    the server these commands use. The token is printed only with --show-token.
    The SDK needs none of this: with no url/token and nothing in the
    environment, afs.Flowserv() uses the saved login by itself.
    """
    connection = options().connect(need_token=show_token)
    values = {ENV_URL: connection.url}
    if show_token:
        values[ENV_TOKEN] = connection.require_token()
        click.echo(TOKEN_WARNING, err=True)
    if as_json:
        print_json(values)
        return ExitCode.OK
    for name, value in values.items():
        click.echo(f"export {name}={shlex.quote(value)}")
    if not show_token and connection.token:
        click.echo(
            f"# {ENV_TOKEN} is not shown; add --show-token to print it too", err=True
        )
    return ExitCode.OK


@command("profiles")
@json_option
def profiles(as_json: bool) -> int:
    """List the saved logins (profiles): their server and user; * marks the one in use.

    Log in under a new profile with `aioflowserv login --profile NAME`; choose
    one with --profile NAME or FLOWSERV_PROFILE=NAME (for the SDK too).
    """
    current = profile_name(options().profile)
    logins = saved_logins()
    if as_json:
        print_json([
            {"profile": name, "url": login.url, "username": login.username,
             "current": name == current}
            for name, login in logins.items()
        ])
        return ExitCode.OK
    if not logins:
        click.echo(
            f"No saved logins in {config_path()}. "
            "Log in with: aioflowserv login [--profile NAME]"
        )
        return ExitCode.OK
    table = Table("", "profile", "user", "server")
    for name, login in logins.items():
        table.add_row("*" if name == current else "", name, login.username, login.url)
    print_table(table)
    return ExitCode.OK


@command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> int:
    """Print the shell completion script for SHELL (bash, zsh or fish).

    Commands, options, and the ids of workflows, groups and runs (asked of the
    server) complete with TAB. For bash, add to ~/.bashrc:

        eval "$(aioflowserv completion bash)"
    """
    complete = get_completion_class(shell)
    assert complete is not None  # click knows every shell of SHELLS
    click.echo(complete(cli, {}, "aioflowserv", COMPLETE_VARIABLE).source())
    return ExitCode.OK


COMMANDS = (env, profiles, completion)
"""In the order ``--help`` lists them."""
