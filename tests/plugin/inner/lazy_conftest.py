"""Inner conftest.py: any attempt to start a flowServ server fails the session."""

from aioflowserv import testing


def _refuse(self: object, *args: object, **kwargs: object) -> None:
    raise RuntimeError("a flowServ server was started")


testing.FlowservServer.start = _refuse  # type: ignore[assignment,method-assign]
