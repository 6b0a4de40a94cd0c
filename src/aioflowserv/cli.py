"""The ``aioflowserv`` command line.

It needs the ``cli`` extra (click and rich): ``pip install 'aioflowserv[cli]'``.
Without it, the command says so instead of failing with an import error. Run
``aioflowserv --help`` for the commands; the README has the full reference.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

CLI_PACKAGES = ("click", "rich")


def missing_packages() -> list[str]:
    """The packages of the ``cli`` extra that cannot be imported."""
    missing = []
    for name in CLI_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    missing = missing_packages()
    if missing:
        print(
            f"aioflowserv: the command line needs {' and '.join(missing)}, which are not "
            "installed. Install the cli extra:  pip install 'aioflowserv[cli]'",
            file=sys.stderr,
        )
        return 2
    import click

    from ._cli import cli

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(args=args, prog_name="aioflowserv", standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort as exc:
        interrupted = isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt)
        click.echo("Interrupted." if interrupted else "Aborted.", err=True)
        return 130 if interrupted else 2
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
