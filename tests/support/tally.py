"""The fault suite's running totals, printed as one summary line at the end of the session."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class Tally:
    """What the fault scenarios did and what came of it.

    - ``faults``: faults injected (proxy faults, refusal windows, server kills);
    - ``submitted``: distinct run submissions the scenarios asked for;
    - ``on_server``: runs that exist on the server for them at the end;
    - ``finished``: waits that ended with the run's true final state;
    - ``lost``: submissions or waits the client lost track of: a run on the server the
      client does not know, a run the client believes in that does not exist, a wait that
      ended with a wrong state or an untyped error;
    - ``duplicated``: runs beyond the first for one submission.
    """

    faults: int = 0
    submitted: int = 0
    on_server: int = 0
    finished: int = 0
    lost: int = 0
    duplicated: int = 0
    scenarios: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts, to hand from a pytest-xdist worker to the controller."""
        return asdict(self)

    def add(self, counts: dict[str, Any]) -> None:
        """Add a worker's counts (from :meth:`as_dict`) to these."""
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + int(counts.get(field.name, 0)))

    def line(self) -> str:
        """The summary line."""
        return (
            f"faults {self.faults}, submitted {self.submitted}, on server {self.on_server}, "
            f"finished {self.finished}, lost {self.lost}, duplicated {self.duplicated}"
        )


TALLY = Tally()
"""The session's tally (one per test process; pytest-xdist workers hand theirs to the controller,
see ``tests/conftest.py``)."""
