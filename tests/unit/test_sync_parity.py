"""Sync parity: every public member of the async clients has its sync twin, by construction.

The expected sync members are derived here from the async classes (methods
and properties alike), not listed by hand: a member added to ``AsyncFlowserv``
or ``AsyncWorkflow`` is expected on ``Flowserv`` or ``Workflow`` at once. The
facade makes its twins itself; type checkers see them through the
``TYPE_CHECKING`` declarations in ``_sync.py``, which must name each one (the
failure says which line to add).
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import aioflowserv as afs
from aioflowserv import _sync

PAIRS = [(afs.AsyncFlowserv, afs.Flowserv), (afs.AsyncWorkflow, afs.Workflow)]

NO_TWIN = {afs.Flowserv: {"aclose"}, afs.Workflow: {"load"}}
"""Async members with no sync twin: closing is ``close()``, a sync Workflow is constructed."""

DIFFERENT_ON_PURPOSE = {afs.Flowserv: {"workflow", "is_closed"}, afs.Workflow: {"service"}}
"""Twins that the sync classes define themselves (a sync Workflow, the facade's own state)."""

SYNC_ONLY = {afs.Flowserv: {"close", "async_client"}, afs.Workflow: set()}
"""Members the sync classes have and the async ones do not."""


def public(cls: type) -> set[str]:
    """The public members of a class, inherited ones included (``object``'s aside)."""
    return {name for name in dir(cls) if not name.startswith("_")} - set(dir(object))


def expected_twins(async_cls: type, sync_cls: type) -> set[str]:
    """The async members that the facade derives."""
    return public(async_cls) - NO_TWIN[sync_cls] - DIFFERENT_ON_PURPOSE[sync_cls]


def declaration(async_cls: type, name: str) -> str:
    """The TYPE_CHECKING line that shows a twin to type checkers."""
    member = inspect.getattr_static(async_cls, name)
    if isinstance(member, property):
        returns = inspect.get_annotations(member.fget).get("return") if member.fget else "Any"
        settable = ", settable=True" if member.fset is not None else ""
        return f'{name} = _Same[{returns}]({async_cls.__name__}, "{name}"{settable})'
    return f"{name} = _twin({async_cls.__name__}.{name})"


def type_checked(sync_cls: type) -> set[str]:
    """The names a sync class declares in its ``if TYPE_CHECKING:`` block (read from the source)."""
    tree = ast.parse(Path(inspect.getfile(_sync)).read_text())
    (body,) = [node for node in tree.body
               if isinstance(node, ast.ClassDef) and node.name == sync_cls.__name__]
    names: set[str] = set()
    for node in body.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.Assign):
                    names.update(t.id for t in statement.targets if isinstance(t, ast.Name))
    return names


@pytest.mark.parametrize(("async_cls", "sync_cls"), PAIRS, ids=lambda c: c.__name__)
def test_every_public_async_member_has_a_sync_twin(async_cls: type, sync_cls: type) -> None:
    missing = public(async_cls) - NO_TWIN[sync_cls] - public(sync_cls)
    assert not missing, f"{sync_cls.__name__} has no twin of {sorted(missing)}"


@pytest.mark.parametrize(("async_cls", "sync_cls"), PAIRS, ids=lambda c: c.__name__)
def test_the_sync_classes_have_nothing_the_async_ones_lack(
    async_cls: type, sync_cls: type
) -> None:
    extra = public(sync_cls) - public(async_cls) - SYNC_ONLY[sync_cls]
    assert not extra, f"{sync_cls.__name__} has {sorted(extra)}, which {async_cls.__name__} lacks"


@pytest.mark.parametrize(("async_cls", "sync_cls"), PAIRS, ids=lambda c: c.__name__)
def test_type_checkers_see_every_twin(async_cls: type, sync_cls: type) -> None:
    expected = expected_twins(async_cls, sync_cls)
    declared = type_checked(sync_cls)
    lines = "\n".join(f"    {declaration(async_cls, name)}" for name in sorted(expected - declared))
    assert not lines, (
        f"type checkers do not see these twins: add to the TYPE_CHECKING block of "
        f"_sync.{sync_cls.__name__}:\n{lines}"
    )
    stale = declared - expected
    assert not stale, f"_sync.{sync_cls.__name__} declares {sorted(stale)}: no async twin"


@pytest.mark.parametrize(
    ("async_cls", "sync_cls", "name"),
    [(a, s, name) for a, s in PAIRS for name in sorted(expected_twins(a, s))],
    ids=lambda value: value if isinstance(value, str) else value.__name__,
)
def test_each_twin_forwards_its_async_member(async_cls: type, sync_cls: type, name: str) -> None:
    member = inspect.getattr_static(async_cls, name)
    twin = inspect.getattr_static(sync_cls, name)
    assert twin.__doc__ == member.__doc__
    if isinstance(member, property):
        assert hasattr(twin, "__get__")
        assert not callable(twin)
        return
    assert not inspect.iscoroutinefunction(twin)
    assert not inspect.isasyncgenfunction(twin)
    assert inspect.signature(twin) == inspect.signature(member)


def test_a_member_added_to_an_async_client_needs_no_sync_edit() -> None:
    class Grown(afs.AsyncWorkflow):
        async def ping(self, times: int) -> int:
            """Answer ``times``."""
            return times

        async def numbers(self) -> AsyncIterator[int]:
            """Count."""
            yield 1

        @property
        def extra(self) -> int:
            """One more."""
            return 1

    class SyncGrown(afs.Workflow, twin_of=Grown):
        pass

    grown: Any = SyncGrown
    assert {"ping", "numbers", "extra"} <= public(SyncGrown)
    assert grown.ping.__doc__ == "Answer ``times``."
    assert not inspect.iscoroutinefunction(grown.ping)
    assert not inspect.isasyncgenfunction(grown.numbers)
    assert grown.extra.__doc__ == "One more."
    assert SyncGrown.start_run is afs.Workflow.start_run  # inherited twins are kept


def test_a_member_the_facade_cannot_twin_is_refused_when_the_class_is_made() -> None:
    class Odd(afs.AsyncWorkflow):
        limit = 3

    with pytest.raises(TypeError, match=r"Odd\.limit"):

        class SyncOdd(afs.Workflow, twin_of=Odd):
            pass
