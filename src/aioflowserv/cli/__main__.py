"""``python -m aioflowserv.cli``: the ``aioflowserv`` command."""

import sys

from . import main

sys.exit(main())
