"""FlowservServer's configuration (``testing/_server``), checked without starting a server.

The real starts are the integration suite's: every session starts the
development server and the production shape (gunicorn over PostgreSQL).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aioflowserv.testing import SERVER_PINS, FlowservServer, FlowservServerError

ROOT = Path(__file__).resolve().parents[2]


def makefile_pins() -> list[str]:
    text = (ROOT / "Makefile").read_text()
    match = re.search(r"^SERVER_PINS := (.*?)(?<!\\)$", text, re.MULTILINE | re.DOTALL)
    assert match is not None
    return match.group(1).replace("\\\n", " ").split()


def test_the_makefile_installs_exactly_the_pins_the_package_names() -> None:
    assert makefile_pins() == list(SERVER_PINS)


def test_the_server_venv_gets_gunicorn_psycopg2_and_pgserver() -> None:
    names = {pin.split("==")[0] for pin in SERVER_PINS}
    assert {"gunicorn", "psycopg2-binary", "pgserver"} <= names


@pytest.mark.parametrize(
    "options",
    [{"workers": 0}, {"workers": True}, {"workers": "4"}, {"database": "mysql"},
     {"header_map": "keep"}],
    ids=["no-workers", "bool", "str", "database", "header-map"],
)
def test_bad_shapes_are_refused(options: dict[str, object], tmp_path: Path) -> None:
    with pytest.raises(FlowservServerError):
        FlowservServer(python=__file__, directory=tmp_path, **options)  # type: ignore[arg-type]


def test_one_worker_is_flasks_development_server(tmp_path: Path) -> None:
    server = FlowservServer(python=__file__, directory=tmp_path)
    assert server.command()[1:4] == ["-m", "flask", "run"]
    assert server.shape == "flask dev server + sqlite"


def test_more_workers_are_gunicorn_sync_workers_keeping_the_token_header(tmp_path: Path) -> None:
    server = FlowservServer(python=__file__, directory=tmp_path, workers=3, database="postgresql")
    command = server.command()
    assert command[1:3] == ["-m", "gunicorn"]
    assert command[command.index("--workers") + 1] == "3"
    assert command[command.index("--worker-class") + 1] == "sync"
    assert command[command.index("--header-map") + 1] == "dangerous"
    assert command[command.index("--config") + 1] == str(server.gunicorn_config)
    assert "--threads" not in command
    assert server.shape == "gunicorn -w 3 + postgresql"


def test_the_header_map_can_be_gunicorns_default_to_see_the_token_dropped(
    tmp_path: Path,
) -> None:
    server = FlowservServer(python=__file__, directory=tmp_path, workers=2, header_map="drop")
    command = server.command()
    assert command[command.index("--header-map") + 1] == "drop"


def test_postgresql_has_no_url_before_it_runs(tmp_path: Path) -> None:
    server = FlowservServer(python=__file__, directory=tmp_path, database="postgresql")
    with pytest.raises(FlowservServerError):
        server.database_url  # noqa: B018
