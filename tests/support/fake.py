"""Helpers around the in-process fake flowServ, :class:`aioflowserv.testing.FakeFlowserv`."""

from __future__ import annotations

from typing import Any

import aioflowserv as afs
from aioflowserv.testing import BASE_URL, FakeFlowserv

FIXED = {"poll_interval": 0.1, "max_interval": 0.1}
"""Wait options for ticks of exactly 0.1 s: no growth, so listing times line up across groups."""


def client_for(fake: FakeFlowserv, **options: Any) -> afs.AsyncFlowserv:
    """An AsyncFlowserv on the fake, logged in, without HTTP-level retries (unless given).

    ``transport=`` may put a transport of the test's in front of the fake.
    """
    options.setdefault("retries", 0)
    options.setdefault("transport", fake)
    return afs.AsyncFlowserv(BASE_URL, token=fake.token, **options)
