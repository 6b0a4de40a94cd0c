"""The commands of ``aioflowserv``, one module per group of them, added to the app here.

``cli`` is the complete click app (:data:`aioflowserv.cli.app.cli` with every
command), listed by ``--help`` in the order of :data:`MODULES`.
"""

from __future__ import annotations

from ..app import cli
from . import demo, lookups, results, runs, server, setup, studies, users, workflows

__all__ = ["MODULES", "cli"]

MODULES = (users, workflows, lookups, runs, results, studies, server, setup, demo)
"""The command modules, in the order ``--help`` lists their commands."""

for _module in MODULES:
    for _command in _module.COMMANDS:
        cli.add_command(_command)
