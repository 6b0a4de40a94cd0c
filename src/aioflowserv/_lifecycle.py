"""A run's life after it was started: reruns, cancels and deletes; and groups made once.

A rerun starts a new run in the same group with the arguments the server
kept for the old one, file arguments included: they point at files uploaded
to the group, which are checked to still be there before anything is sent
(flowServ would answer a missing one with a bare 404). The start itself goes
through the submitter, so it is never sent twice.

A cancel of a run that already ended is refused by flowServ with a 400 that
does not say the state (``invalid operation for run in state <bound method
...>``): :func:`cancel_run` reads the run once and raises
:class:`RunNotActiveError` naming it; :func:`delete_run` likewise says that a
run is still active. A group-wide cancel reads the group's listing once and
cancels the runs that are still active (or in the chosen states) a few at a
time, forwarding the reason. A run that ended before its cancel arrived is
left out of the result.

:func:`create_group` with ``exist_ok`` returns the caller's group of that
name when it exists (flowServ's group names are unique per workflow), so that
a script or an example can run twice.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._config import CANCEL_CONCURRENCY, check_count, check_id
from ._errors import (
    STATE_REFUSED,
    FlowservError,
    InvalidArgumentError,
    InvalidRequestError,
    NotFoundError,
    RunNotActiveError,
    retyped,
    with_detail,
)
from ._gather import gather
from ._models import Group, Run, RunState

if TYPE_CHECKING:
    from ._api import FlowservAPI
    from ._submit import Submitter
    from ._watch import RunRef

__all__ = [
    "RunStates",
    "cancel_run",
    "cancel_runs",
    "check_states",
    "create_group",
    "delete_run",
    "group_exists",
    "rerun",
]

_GROUP_EXISTS = re.compile(r"^group '.*' exists$")


RunStates = Iterable["RunState | str"] | RunState | str | None
"""Run states to choose runs by: one state or several, as :class:`RunState` or its name."""


def check_states(states: RunStates, name: str = "states") -> frozenset[RunState] | None:
    """The states named by ``states`` (None stays None); an unknown name raises."""
    if states is None:
        return None
    items = [states] if isinstance(states, (str, RunState)) else list(states)
    chosen = set()
    for item in items:
        try:
            chosen.add(item if isinstance(item, RunState) else RunState(str(item).upper()))
        except ValueError:
            known = ", ".join(state.value for state in RunState)
            raise InvalidArgumentError(name, f"unknown state {item!r} (states: {known})") from None
    if not chosen:
        raise InvalidArgumentError(name, "no state given")
    return frozenset(chosen)


def _file_ids(arguments: Mapping[str, Any]) -> dict[str, str]:
    """The uploaded file each file argument refers to, by parameter name."""
    found = {}
    for name, value in arguments.items():
        if isinstance(value, Mapping) and value.get("type") == "$file":
            inner = value.get("value")
            if isinstance(inner, Mapping) and isinstance(inner.get("fileId"), str):
                found[name] = inner["fileId"]
    return found


def _gone(parameter: str, file_id: str, group_id: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        parameter,
        f"the file uploaded for it (id {file_id}) is no longer in group {group_id}; "
        "start a new run with the file instead of a rerun",
    )


async def rerun(
    api: FlowservAPI, submitter: Submitter, run: RunRef, group_id: str | None = None
) -> Run:
    """Start a run with the arguments of ``run``, in its group; returns the new run.

    With ``group_id``, the run must belong to that group. Raises
    :class:`InvalidArgumentError` when it does not, for a post-processing run
    (it has no group), and when an uploaded file it used was deleted.
    """
    if isinstance(run, Run) and "arguments" in run.doc:
        original = run
    else:
        run_id = run if isinstance(run, str) else run.run_id
        check_id(run_id, "run")
        original = await api.get_run(run_id)
    if original.group_id is None:
        raise InvalidArgumentError(
            "run", f"{original.run_id} is a post-processing run (it has no group) and cannot "
            "be rerun",
        )
    if group_id is not None and original.group_id != group_id:
        raise InvalidArgumentError(
            "run", f"{original.run_id} belongs to group {original.group_id}, not {group_id}"
        )
    target = original.group_id
    files = _file_ids(original.arguments)
    if files:
        present = {upload.id for upload in await api.list_files(target)}
        for parameter, file_id in files.items():
            if file_id not in present:
                raise _gone(parameter, file_id, target)
    arguments = [{"name": name, "value": value} for name, value in original.arguments.items()]
    try:
        return await submitter.start(target, arguments)
    except NotFoundError as exc:  # a file deleted since it was checked
        for parameter, file_id in files.items():
            if file_id in exc.message:
                raise _gone(parameter, file_id, target) from exc
        raise


async def cancel_runs(
    api: FlowservAPI,
    group_id: str,
    states: RunStates = None,
    reason: str | None = None,
    *,
    concurrency: int = CANCEL_CONCURRENCY,
) -> list[Run]:
    """Cancel a group's active runs (those in ``states``); the canceled runs, oldest first."""
    check_id(group_id, "group_id")
    wanted = check_states(states) or frozenset({RunState.PENDING, RunState.RUNNING})
    final = sorted(state.value for state in wanted if not state.is_active)
    if final:
        raise InvalidArgumentError(
            "states", f"only active runs (PENDING, RUNNING) can be canceled, not {', '.join(final)}"
        )
    if reason is not None and not isinstance(reason, str):
        raise InvalidArgumentError("reason", f"expected a string, got {type(reason).__name__}")
    check_count(concurrency, "concurrency")
    listing = await api.list_runs(group_id)
    chosen = [run_id for run_id, state in listing.states.items() if state in wanted]

    async def cancel(run_id: str) -> Run | None:
        try:
            return await cancel_run(api, run_id, reason)
        except NotFoundError:
            return None  # deleted meanwhile
        except RunNotActiveError:
            return None  # it ended before the cancel arrived

    calls = [functools.partial(cancel, run_id) for run_id in chosen]
    canceled = await gather(calls, limit=concurrency) if calls else []
    return [run for run in canceled if run is not None]


async def _current(api: FlowservAPI, run_id: str) -> Run | None:
    """The run's snapshot, to explain a refusal; None when it cannot be read."""
    try:
        return await api.get_run(run_id)
    except FlowservError:
        return None


async def cancel_run(api: FlowservAPI, run_id: str, reason: str | None = None) -> Run:
    """Cancel one run; a run that already ended raises :class:`RunNotActiveError` with its state.

    The run is read only after flowServ refused the cancel for the run's state.
    """
    try:
        return await api.cancel_run(run_id, reason)
    except InvalidRequestError as exc:
        if exc.message != STATE_REFUSED:
            raise
        current = await _current(api, run_id)
        if current is None or current.is_active():
            raise
        refused = with_detail(
            retyped(exc, RunNotActiveError),
            f"run {current.run_id} already ended ({current.state.value}): nothing to cancel",
        )
        refused.state, refused.run = current.state, current
        raise refused from None


async def delete_run(api: FlowservAPI, run_id: str) -> None:
    """Delete a run that is no longer active; for an active one, the error says its state."""
    try:
        await api.delete_run(run_id)
    except InvalidRequestError as exc:
        if exc.message != STATE_REFUSED:
            raise
        current = await _current(api, run_id)
        if current is None or not current.is_active():
            raise
        raise with_detail(
            exc, f"run {current.run_id} is still {current.state.value}: cancel it first"
        ) from None


def group_exists(error: BaseException) -> bool:
    """True when ``error`` is flowServ's refusal of a group name already used in the workflow."""
    return isinstance(error, InvalidRequestError) and bool(_GROUP_EXISTS.match(error.message))


async def create_group(
    api: FlowservAPI,
    workflow_id: str,
    name: str,
    members: Sequence[str] | None = None,
    *,
    exist_ok: bool = False,
) -> Group:
    """Create a group of a workflow; with ``exist_ok``, the caller's group of that name if any.

    The group is created first (one request when the name is new); when the
    name is taken, one listing of the caller's groups finds it, and its full
    record is returned as it is (``members`` are not applied to it). A name
    taken by someone else's group still raises, saying so.
    """
    try:
        return await api.create_group(workflow_id, name, members)
    except InvalidRequestError as exc:
        if not group_exists(exc):
            raise
        if not exist_ok:
            raise with_detail(
                exc, f"exist_ok=True returns it if it is yours (list_groups({workflow_id!r}) "
                "lists your groups)"
            ) from None
        for group in await api.list_groups(workflow_id):
            if group.name == name:
                return await api.get_group(group.id)
        raise with_detail(
            exc, "it is not one of your groups (group names are unique per workflow): choose "
            "another name"
        ) from None
