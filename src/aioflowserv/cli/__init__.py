"""The ``aioflowserv`` command line.

It needs the ``cli`` extra (click and rich): ``pip install 'aioflowserv[cli]'``.
Without it, the command says so instead of failing with an import error. Run
``aioflowserv --help`` for the commands; the README has the full reference.
The click app is :data:`aioflowserv.cli.commands.cli`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

EXTRA_PACKAGES = ("click", "rich")
"""What the ``cli`` extra installs."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    try:
        import click  # noqa: F401  (checked even when the app below was imported before)
        import rich  # noqa: F401

        from .app import run
        from .commands import cli
    except ImportError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in EXTRA_PACKAGES:
            raise
        print(
            f"aioflowserv: the command line needs {missing}, which is not installed. "
            "Install the cli extra:  pip install 'aioflowserv[cli]'",
            file=sys.stderr,
        )
        return 2
    return run(cli, argv)
