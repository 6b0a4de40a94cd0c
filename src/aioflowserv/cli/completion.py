"""Shell completion of the ids that commands take: workflows, groups and runs, asked of the server.

``aioflowserv completion bash`` prints the script that hooks these into the
shell. Each completion asks the server the commands would use (the same
``--url``/``--token``/``--profile``, environment and saved login), with a
short timeout and no retries; anything that goes wrong completes nothing
rather than printing an error into the user's command line.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import click
from click.shell_completion import CompletionItem

from .. import AsyncFlowserv, FlowservError
from .config import Connection
from .output import CLIError

__all__ = ["complete_groups", "complete_runs", "complete_workflows"]

T = TypeVar("T")

TIMEOUT = 3.0
"""Seconds a completion may wait for the server."""


def _ask(ctx: click.Context, work: Callable[[AsyncFlowserv], Awaitable[T]]) -> T | None:
    """Run ``work`` against the server the command would use; None on any failure."""
    settings: Any = ctx.find_root().obj
    try:
        connection = Connection.resolve(
            getattr(settings, "url", None), getattr(settings, "token", None),
            profile=getattr(settings, "profile", None),
        )
    except CLIError:
        return None

    async def go() -> T:
        async with AsyncFlowserv(
            connection.url, token=connection.token, timeout=TIMEOUT, retries=0
        ) as fs:
            with anyio.fail_after(TIMEOUT * 2):
                return await work(fs)

    try:
        return anyio.run(go)
    except (FlowservError, TimeoutError, OSError):
        return None


def _items(
    ctx: click.Context,
    work: Callable[[AsyncFlowserv], Awaitable[list[tuple[str, str]]]],
    incomplete: str,
) -> list[CompletionItem]:
    """The (id, help) pairs ``work`` finds whose id starts with ``incomplete``."""
    return [
        CompletionItem(value, help=about)
        for value, about in _ask(ctx, work) or [] if value.startswith(incomplete)
    ]


async def _workflows(fs: AsyncFlowserv) -> list[tuple[str, str]]:
    return [(info.id, info.name) for info in await fs.list_workflows()]


def complete_workflows(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The server's workflow ids (with their names as help)."""
    return _items(ctx, _workflows, incomplete)


async def _groups(fs: AsyncFlowserv, workflow: str | None) -> list[tuple[str, str, str]]:
    """(workflow id, group id, group name) of the user's groups (of ``workflow``, or all)."""
    workflows = [workflow] if workflow else [info.id for info in await fs.list_workflows()]
    found = []
    for workflow_id in workflows:
        for group in await fs.list_groups(workflow_id):
            found.append((workflow_id, group.id, group.name))
    return found


async def _group_items(fs: AsyncFlowserv, workflow: str | None) -> list[tuple[str, str]]:
    return [(group_id, f"{name} ({wf})") for wf, group_id, name in await _groups(fs, workflow)]


def complete_groups(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The ids of the user's groups (of the WORKFLOW argument, when there is one)."""
    workflow = ctx.params.get("workflow")
    return _items(ctx, functools.partial(_group_items, workflow=workflow), incomplete)


async def _runs(fs: AsyncFlowserv, group: str | None) -> list[tuple[str, str]]:
    """(run id, description) of the runs of ``group``, or of all the user's groups."""
    groups = [group] if group else [group_id for _, group_id, _ in await _groups(fs, None)]
    found = []
    for group_id in groups:
        for info in await fs.list_runs(group_id):
            created = info.created_at.strftime("%Y-%m-%d %H:%M") if info.created_at else ""
            found.append((info.run_id, f"{info.state.value} {created}".strip()))
    return found


def complete_runs(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The ids of the runs of the user's groups (of ``--group``, when given)."""
    return _items(ctx, functools.partial(_runs, group=ctx.params.get("group_id")), incomplete)
