"""The ``aioflowserv`` command line (a first version: ``aioflowserv demo``)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["demo"]:
        print("usage: aioflowserv demo", file=sys.stderr)
        return 2
    import anyio

    from ._demo import run_demo

    return anyio.run(run_demo)


if __name__ == "__main__":
    sys.exit(main())
