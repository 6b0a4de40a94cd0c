"""``workflows``, ``groups`` and ``create-group``: what can be run, and by whom."""

from __future__ import annotations

from collections.abc import Sequence

import click
from rich.table import Table

from ... import AsyncFlowserv, Group
from ..._lifecycle import group_exists
from ..app import call, command, json_option, options
from ..completion import complete_workflows
from ..output import CLIError, ExitCode, print_json, print_table

__all__ = ["COMMANDS", "create_group", "groups", "workflows"]


@command("workflows")
@json_option
def workflows(as_json: bool) -> int:
    """List the server's workflows."""
    items = call(options().connect(need_token=False), lambda fs: fs.list_workflows())
    if as_json:
        print_json([item.to_dict() for item in items])
        return ExitCode.OK
    table = Table("id", "name", "description")
    for item in items:
        description = (item.description or "").strip().splitlines()
        table.add_row(item.id, item.name, description[0] if description else "")
    print_table(table)
    return ExitCode.OK


@command("groups")
@click.argument("workflow", shell_complete=complete_workflows)
@json_option
def groups(workflow: str, as_json: bool) -> int:
    """List your groups of WORKFLOW (an unknown workflow is an error)."""
    options().workflow = workflow
    items = call(options().connect(), lambda fs: fs.list_groups(workflow))
    if as_json:
        print_json([item.to_dict() for item in items])
        return ExitCode.OK
    table = Table("id", "name")
    for item in items:
        table.add_row(item.id, item.name)
    print_table(table)
    return ExitCode.OK


@command("create-group")
@click.argument("workflow", shell_complete=complete_workflows)
@click.argument("name")
@click.option("--member", "members", multiple=True, metavar="USER_ID",
              help="Another member (a user id); repeatable.")
@click.option("--exist-ok", is_flag=True,
              help="If you have a group NAME of WORKFLOW already, print its id (nothing is "
              "created); scripts can then run twice.")
@json_option
def create_group(
    workflow: str, name: str, members: Sequence[str], exist_ok: bool, as_json: bool
) -> int:
    """Create a group NAME of WORKFLOW (you become a member) and print its id.

    Group names are unique per workflow: a NAME in use is an error (exit 2)
    unless --exist-ok, which prints the id of your group of that name.
    """
    options().workflow = workflow

    async def go(fs: AsyncFlowserv) -> Group:
        try:
            return await fs.create_group(
                workflow, name, list(members) or None, exist_ok=exist_ok
            )
        except Exception as exc:
            if not group_exists(exc):
                raise
            if exist_ok:  # the name is taken by a group that is not yours
                raise CLIError(
                    f"group {name!r} of {workflow} exists and is not yours: choose another "
                    f"name (`aioflowserv groups {workflow}` lists yours)"
                ) from None
            raise CLIError(
                f"group {name!r} of {workflow} exists: `aioflowserv groups {workflow}` lists "
                "your groups with their ids (or add --exist-ok to print its id)"
            ) from None

    group = call(options().connect(), go)
    if as_json:
        print_json(group.to_dict())
    else:
        click.echo(group.id)
    return ExitCode.OK


COMMANDS = (workflows, groups, create_group)
"""In the order ``--help`` lists them."""
