"""``python -m aioflowserv``: the ``aioflowserv`` command."""

import sys

from .cli import main

sys.exit(main())
