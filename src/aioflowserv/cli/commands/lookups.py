"""``params`` and ``show``: what a workflow takes, and everything about one run."""

from __future__ import annotations

from typing import Any

import click

from ... import AsyncFlowserv, Parameter, ParameterIndex
from ..._display import parameter_default, parameter_table, parameter_type
from ..app import call, command, json_option, options
from ..completion import complete_groups, complete_runs, complete_workflows
from ..output import ExitCode, make_console, print_json, print_table

__all__ = ["COMMANDS", "params", "show"]


def parameter_json(para: Parameter) -> dict[str, Any]:
    """A parameter declaration as ``params --json`` shows it."""
    doc: dict[str, Any] = {
        "name": para.name, "dtype": para.dtype, "type": parameter_type(para),
        "default": para.default, "required": para.required and para.default is None,
        "label": para.label, "help": para.help,
    }
    if para.range is not None:
        doc["range"] = str(para.range)
    if para.values:
        doc["values"] = [option.value for option in para.values]
    if para.target is not None:
        doc["target"] = para.target
    return doc


@command("params")
@click.argument("workflow", shell_complete=complete_workflows)
@click.option("--group", "group_id", metavar="GROUP", shell_complete=complete_groups,
              help="The parameters of this group (a group may change the workflow's).")
@json_option
def params(workflow: str, group_id: str | None, as_json: bool) -> int:
    """Show the parameters WORKFLOW takes: type, default, required, allowed values, label.

    These are the names and values `submit -a NAME=VALUE` and batch files take.
    """
    options().workflow = workflow

    async def go(fs: AsyncFlowserv) -> ParameterIndex:
        if group_id is not None:
            group = await fs.get_group(group_id)
            return group.parameters
        info = await fs.get_workflow(workflow)
        return info.parameters if info.parameters is not None else ParameterIndex()

    index = call(options().connect(need_token=group_id is not None), go)
    if as_json:
        print_json([parameter_json(para) for para in index.sorted()])
        return ExitCode.OK
    print_table(parameter_table(index.sorted(), f"Parameters of {group_id or workflow}"))
    if index:
        example = next(iter(index.sorted()))
        value = parameter_default(example).strip("'") or "VALUE"
        click.echo(
            f"Set them with -a NAME=VALUE, e.g.: aioflowserv submit {workflow} "
            f"{group_id or 'GROUP'} -a {example.name}={value}"
        )
    return ExitCode.OK


@command("show")
@click.argument("run_id", metavar="RUN_ID", shell_complete=complete_runs)
@json_option
def show(run_id: str, as_json: bool) -> int:
    """Show one run: state, times, arguments, messages and result files."""
    run = call(options().connect(), lambda fs: fs.get_run(run_id))
    if as_json:
        print_json(run.to_dict())
        return ExitCode.OK
    make_console().print(run)
    if run.is_success() and run.files():
        click.echo(f"Download: aioflowserv download {run.run_id} [FILE] -o DIR")
    return ExitCode.OK


COMMANDS = (params, show)
"""In the order ``--help`` lists them."""
