"""``workflows``, ``groups`` and ``create-group``: what can be run, and by whom."""

from __future__ import annotations

from collections.abc import Sequence

import click
from rich.table import Table

from ..app import call, command, json_option, options
from ..completion import complete_workflows
from ..output import ExitCode, print_json, print_table

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
@json_option
def create_group(workflow: str, name: str, members: Sequence[str], as_json: bool) -> int:
    """Create a group NAME of WORKFLOW (you become a member) and print its id."""
    options().workflow = workflow
    group = call(
        options().connect(), lambda fs: fs.create_group(workflow, name, list(members) or None)
    )
    if as_json:
        print_json(group.to_dict())
    else:
        click.echo(group.id)
    return ExitCode.OK


COMMANDS = (workflows, groups, create_group)
"""In the order ``--help`` lists them."""
