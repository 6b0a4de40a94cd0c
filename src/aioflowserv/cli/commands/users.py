"""``login``, ``logout`` and ``whoami``: the user behind the token."""

from __future__ import annotations

import sys

import attrs
import click

from ... import AsyncFlowserv, FlowservError
from ..app import call, command, json_option, options
from ..config import clear_login, save_login, saved_login
from ..output import ExitCode, print_json

__all__ = ["COMMANDS", "login", "logout", "whoami"]


@command("login")
@click.argument("username", required=False)
@click.option("--password", help="The password (prompted for when not given).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--register", is_flag=True, help="Create the account first (active at once).")
def login(username: str | None, password: str | None, password_stdin: bool, register: bool) -> int:
    """Log in and save the token (in a file only you can read).

    The token is kept with the server URL in $XDG_CONFIG_HOME/aioflowserv/config.json,
    under the --profile (default: 'default'), and used by later commands and by
    the SDK (afs.Flowserv() with no arguments) against the same server.
    """
    connection = options().connect(need_token=False, require_profile=False)
    if username is None:
        username = click.prompt("Username")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=register)
    assert username is not None
    assert password is not None

    async def go(fs: AsyncFlowserv) -> str:
        if register:
            await fs.register_user(username, password)
        return await fs.login(username, password)

    token = call(attrs.evolve(connection, token=None), go)
    profile = options().profile
    path = save_login(connection.url, username, token, profile)
    if register:
        click.echo(f"Registered user {username}.")
    named = f" (profile {profile})" if profile else ""
    click.echo(f"Logged in to {connection.url} as {username}{named}; token saved in {path}.")
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
    profile = options().profile
    connection = options().connect(need_token=False, require_profile=False)
    if not connection.token:
        removed = clear_login(profile)
        click.echo("Not logged in." if not removed else "Forgot the saved login.")
        return ExitCode.OK
    try:
        call(connection, lambda fs: fs.logout())
    except FlowservError as exc:  # an expired token cannot log out (the server says 500)
        click.echo(f"The server did not end the session ({exc}).", err=True)
    saved = saved_login(profile)
    if saved is not None and saved.token == connection.token:
        clear_login(profile)
    click.echo(f"Logged out of {connection.url}.")
    return ExitCode.OK


@command("whoami")
@json_option
def whoami(as_json: bool) -> int:
    """Show the user the token belongs to (checks the token with the server)."""
    connection = options().connect()
    user = call(connection, lambda fs: fs.whoami())
    if as_json:
        print_json({
            **user.to_dict(), "url": connection.url, "token_source": connection.token_source,
            "profile": connection.profile,
        })
    else:
        click.echo(f"{user.username} (id {user.id}) at {connection.url}")
    return ExitCode.OK


COMMANDS = (login, logout, whoami)
"""In the order ``--help`` lists them."""
