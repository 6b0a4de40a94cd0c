"""The public surface (``__init__.py``): ``__all__`` is exactly the exports, each documented."""

from __future__ import annotations

import ast
import inspect
import itertools
import types
from pathlib import Path

import aioflowserv as afs

DESIGN_NAMES = {
    "AsyncFlowserv", "AsyncWorkflow", "Flowserv", "Workflow", "Run", "RunState", "FileHandle",
    "FlowservError", "APIStatusError", "InvalidRequestError", "UnauthenticatedError",
    "UnauthorizedError", "NotFoundError", "ServerError", "APIConnectionError",
    "APITimeoutError", "UnknownParameterError", "InvalidArgumentError", "RunWaitTimeout",
    "SubmissionUncertainError",
}
"""The public names the design fixes: every release keeps them."""


def public_names() -> set[str]:
    """Every non-module attribute of the package that does not start with an underscore."""
    return {
        name
        for name, value in vars(afs).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }


def documented_aliases() -> set[str]:
    """Module-level names of the package followed by a string literal (their docstring).

    Type aliases such as ``RunRef`` cannot carry a ``__doc__`` of their own, so
    their documentation is found in the source.
    """
    names = set()
    for source in Path(inspect.getfile(afs)).parent.glob("*.py"):
        body = ast.parse(source.read_text(encoding="utf-8")).body
        for statement, following in itertools.pairwise(body):
            if (
                isinstance(statement, ast.Assign)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
                and following.value.value.strip()
            ):
                names.update(t.id for t in statement.targets if isinstance(t, ast.Name))
    return names


def test_all_is_exactly_the_public_names() -> None:
    assert len(afs.__all__) == len(set(afs.__all__))
    assert set(afs.__all__) == public_names() | {"__version__"}


def test_every_exported_name_exists() -> None:
    for name in afs.__all__:
        assert hasattr(afs, name), name


def test_design_names_are_exported() -> None:
    assert set(afs.__all__) >= DESIGN_NAMES


def test_every_public_class_and_function_has_its_own_docstring() -> None:
    undocumented = []
    for name in afs.__all__:
        value = getattr(afs, name)
        if isinstance(value, str):  # __version__
            continue
        if inspect.isclass(value) or inspect.isfunction(value):
            if not (value.__doc__ or "").strip():
                undocumented.append(name)
        elif name not in documented_aliases():
            undocumented.append(name)
    assert undocumented == []


def test_every_public_method_and_property_has_a_docstring() -> None:
    undocumented = []
    for name in afs.__all__:
        cls = getattr(afs, name)
        if not inspect.isclass(cls):
            continue
        for attribute, value in vars(cls).items():
            if attribute.startswith("_"):
                continue
            if isinstance(value, (classmethod, staticmethod)):
                value = value.__func__
            documentable = isinstance(value, property) or inspect.isfunction(value)
            if documentable and not (value.__doc__ or "").strip():
                undocumented.append(f"{name}.{attribute}")
    assert undocumented == []


def test_run_ref_is_documented_where_it_is_defined() -> None:
    assert "RunRef" in documented_aliases()


def test_version_is_a_string() -> None:
    assert isinstance(afs.__version__, str)
    assert afs.__version__
