"""``params`` and ``show``: what a workflow takes, and everything about one run."""

from __future__ import annotations

import json
import math
import shlex
from typing import Any

import click

from ... import AsyncFlowserv, Parameter, ParameterIndex
from ..._display import parameter_table, parameter_type
from ..app import call, command, json_option, options
from ..completion import complete_groups, complete_runs, complete_workflows
from ..output import ExitCode, make_console, print_json, print_table

__all__ = ["COMMANDS", "example_arguments", "params", "show"]

_SAMPLES: dict[str, Any] = {"int": 1, "float": 1.0, "bool": True, "string": "text",
                            "file": "FILE"}
"""A value of each plain type, for an example of a parameter that has no default."""


def _sample(para: Parameter) -> Any:
    """A value that fits ``para``: its default, its first choice, or one of its type."""
    if para.default is not None:
        return para.default
    if para.values:
        return para.values[0].value
    if para.dtype == "list":
        return [_sample(para.para)] if para.para is not None else []
    if para.dtype == "record":
        return {f.name: _sample(f) for f in para.fields if f.required and f.default is None}
    if para.dtype in ("int", "float") and para.range is not None:
        low = para.range.low if math.isfinite(para.range.low) else None
        if low is not None:
            return int(low) + (1 if para.range.low_open else 0) if para.dtype == "int" else low
    return _SAMPLES.get(para.dtype, "VALUE")


def _text(value: Any) -> str:
    """A value as ``-a NAME=VALUE`` takes it: lists and records as JSON, bools as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def example_arguments(parameters: list[Parameter]) -> str:
    """``-a NAME=VALUE`` options for every required parameter (else the first), shell-quoted."""
    chosen = [para for para in parameters if para.required and para.default is None]
    chosen = chosen or parameters[:1]
    return " ".join(f"-a {shlex.quote(f'{para.name}={_text(_sample(para))}')}" for para in chosen)


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
        example = example_arguments(list(index.sorted()))
        click.echo(
            f"Set them with -a NAME=VALUE, e.g.: aioflowserv submit {workflow} "
            f"{group_id or 'GROUP'} {example}"
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
