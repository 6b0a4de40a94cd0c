"""Canned server documents of the unit tests, and the mocked server's base URL and token.

The documents have the shapes a real flowServ 0.8.1 server answers with,
trimmed to what the tests need.
"""

from __future__ import annotations

from typing import Any

BASE = "http://flowserv.test/flowserv/api/v1"
TOKEN = "0123456789abcdef0123456789abcdef"
CREATED = "2026-11-26T15:19:06.885669+00:00"
STARTED = "2026-11-26T15:19:06.896806+00:00"
FINISHED = "2026-11-26T15:19:07.101202+00:00"

SLEEPER_PARAMETERS: list[dict[str, Any]] = [
    {"name": "sleep", "dtype": "float", "defaultValue": 0.0, "range": "[0.0,3600.0]",
     "index": 0, "isRequired": False, "label": "Sleep time (s)", "group": "main"},
    {"name": "greeting", "dtype": "string", "defaultValue": "Hello", "index": 1,
     "isRequired": False, "label": "Greeting", "group": "main"},
    {"name": "names", "dtype": "file", "target": "data/names.txt",
     "defaultValue": "data/names.txt", "index": 2, "isRequired": False, "label": "Names file"},
    {"name": "exitcode", "dtype": "int", "defaultValue": 0, "index": 3, "isRequired": False},
    {"name": "mode", "dtype": "select", "defaultValue": "plain", "index": 4, "isRequired": False,
     "values": [{"isDefault": True, "name": "Plain", "value": "plain"},
                {"name": "Upper case", "value": "upper"}]},
    {"name": "shout", "dtype": "bool", "defaultValue": False, "index": 5, "isRequired": False},
]
"""The sleeper workflow's declarations, as ``GET /groups/{g}`` returns them."""

SLEEPER_DEFAULTS: list[dict[str, Any]] = [
    {"name": "sleep", "value": 0.0},
    {"name": "greeting", "value": "Hello"},
    {"name": "exitcode", "value": 0},
    {"name": "mode", "value": "plain"},
    {"name": "shout", "value": False},
]
"""The wire arguments of a sleeper run started with no arguments: every default but the file."""

TYPES_PARAMETERS: list[dict[str, Any]] = [
    {"name": "nums", "label": "Numbers", "dtype": "list", "defaultValue": [1, 2], "index": 0,
     "isRequired": False,
     "para": {"name": "num", "dtype": "int", "index": 0, "isRequired": True}},
    {"name": "point", "label": "Point", "dtype": "record", "index": 1, "isRequired": True,
     "fields": [
         {"name": "x", "dtype": "float", "index": 0, "isRequired": True},
         {"name": "tag", "dtype": "string", "defaultValue": "none", "index": 1,
          "isRequired": False},
     ]},
]
"""The types workflow's declarations: a list of int and a record (x: float, tag: string)."""


KITCHEN: list[dict[str, Any]] = [
    {"name": "text", "dtype": "string", "defaultValue": "hi", "index": 0},
    {"name": "count", "dtype": "int", "defaultValue": 5, "range": "[0.0,10.0)", "index": 1},
    {"name": "ratio", "dtype": "float", "defaultValue": 0.5, "range": "(0.0,1.0]", "index": 2},
    {"name": "free", "dtype": "float", "defaultValue": 0.0, "index": 3},
    {"name": "flag", "dtype": "bool", "defaultValue": False, "index": 4},
    {"name": "mode", "dtype": "select", "defaultValue": "plain", "index": 5,
     "values": [{"name": "Plain", "value": "plain", "isDefault": True},
                {"name": "Upper", "value": "upper"}]},
    {"name": "level", "dtype": "select", "defaultValue": 1, "index": 6,
     "values": [{"name": "One", "value": 1}, {"name": "Two", "value": 2}]},
    {"name": "nums", "dtype": "list", "defaultValue": [1, 2], "index": 7, "isRequired": False,
     "para": {"name": "num", "dtype": "int", "index": 0, "isRequired": True}},
    {"name": "point", "dtype": "record", "index": 8, "isRequired": False,
     "defaultValue": [{"name": "x", "value": 0.0}],
     "fields": [{"name": "x", "dtype": "float", "index": 0, "isRequired": True},
                {"name": "tag", "dtype": "string", "defaultValue": "none", "index": 1,
                 "isRequired": False}]},
]
"""One parameter of every dtype, all optional, with open and closed range bounds."""


def workflow_doc(workflow_id: str = "sleeper", **extra: Any) -> dict[str, Any]:
    """A ``GET /workflows/{id}`` answer."""
    doc: dict[str, Any] = {
        "id": workflow_id,
        "name": workflow_id.capitalize(),
        "description": f"The {workflow_id} workflow",
        "instructions": "# Run it",
        "parameterGroups": [{"index": 0, "name": "main", "title": "Main step"}],
        "parameters": [],
    }
    doc.update(extra)
    return doc


def group_doc(
    group_id: str = "g1",
    parameters: list[dict[str, Any]] | None = None,
    workflow_id: str = "sleeper",
    **extra: Any,
) -> dict[str, Any]:
    """A ``GET /groups/{id}`` answer with the given parameter declarations."""
    doc: dict[str, Any] = {
        "id": group_id,
        "name": f"team-{group_id}",
        "workflow": workflow_id,
        "config": None,
        "members": [{"id": "u1", "username": "alice"}],
        "parameters": SLEEPER_PARAMETERS if parameters is None else parameters,
        "files": [],
        "runs": [],
    }
    doc.update(extra)
    return doc


def run_doc(
    run_id: str = "r1", state: str = "RUNNING", group_id: str = "g1", **extra: Any
) -> dict[str, Any]:
    """A run handle as ``GET /runs/{id}`` or the run start returns it."""
    doc: dict[str, Any] = {
        "id": run_id,
        "workflowId": "sleeper",
        "groupId": group_id,
        "state": state,
        "createdAt": CREATED,
        "arguments": [],
        "parameters": [],
    }
    if state != "PENDING":
        doc["startedAt"] = STARTED
    if state in ("SUCCESS", "ERROR", "CANCELED"):
        doc["finishedAt"] = FINISHED
    doc.update(extra)
    return doc


SCHEMA = [
    {"name": "score", "label": "Score", "dtype": "float"},
    {"name": "rounds", "label": "Rounds", "dtype": "int"},
    {"name": "note", "label": "Note", "dtype": "string"},
]
"""The results schema of the suite's ``scores`` template."""


def ranking_entry(
    run_id: str, group_id: str = "g1", score: object = 0.5, rounds: object = 1,
    note: object = "none",
) -> dict[str, Any]:
    """An entry of a leaderboard's ``ranking``."""
    return {
        "group": {"id": group_id, "name": f"team-{group_id}"},
        "run": {"id": run_id, "createdAt": CREATED, "startedAt": STARTED, "finishedAt": FINISHED},
        "results": [
            {"name": "score", "value": score}, {"name": "rounds", "value": rounds},
            {"name": "note", "value": note},
        ],
    }


def leaderboard_doc(*entries: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A ``GET /workflows/{id}/leaderboard`` answer with the ``scores`` schema."""
    return {"schema": SCHEMA, "ranking": list(entries), **extra}
