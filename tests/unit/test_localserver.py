"""The local server (``_localserver``): FlowservServer's shapes and the supervisor's records.

Checked without starting a server. The real starts are the integration
suite's (every session starts the development server and the production
shape, gunicorn over PostgreSQL) and ``tests/cli/test_server.py``'s.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from aioflowserv import _localserver
from aioflowserv._saved import server_state_file
from aioflowserv.testing import SERVER_PINS, FlowservServer, FlowservServerError, free_port

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


@pytest.fixture
def state_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A private XDG_STATE_HOME: no server recorded yet."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def supervisor() -> Iterator[int]:
    """A process that passes for a supervisor (its command names aioflowserv); its pid."""
    process = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", "aioflowserv._localserver"]
    )
    yield process.pid
    process.kill()
    process.wait()


def record(doc: dict[str, object]) -> Path:
    """Write the state file as a supervisor does."""
    path = server_state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def test_without_a_record_nothing_runs_and_stop_has_nothing_to_do(state_home: Path) -> None:
    assert _localserver.status() == _localserver.ServerStatus(running=False)
    assert _localserver.stop() is None


def test_the_record_of_a_supervisor_that_is_gone_is_removed(state_home: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    path = record({"pid": gone.pid, "url": f"http://127.0.0.1:{free_port()}/flowserv/api/v1"})
    assert not _localserver.status().running
    assert not path.exists()


def test_a_recorded_server_that_does_not_answer_is_a_server_problem(
    state_home: Path, supervisor: int
) -> None:
    url = f"http://127.0.0.1:{free_port()}/flowserv/api/v1"
    record({"pid": supervisor, "url": url, "shape": "flask dev server + sqlite"})
    status = _localserver.status()
    assert (status.running, status.pid, status.url) == (False, supervisor, url)
    with pytest.raises(_localserver.SupervisorError, match="does not answer"):
        _localserver.start()


def test_without_a_server_interpreter_nothing_is_started(state_home: Path, tmp_path: Path) -> None:
    with pytest.raises(FlowservServerError, match="no flowServ server interpreter found") as caught:
        _localserver.start(python=str(tmp_path / "no-python"))
    assert not isinstance(caught.value, _localserver.SupervisorError)
    assert not server_state_file().exists()


def test_a_server_that_cannot_start_in_the_foreground_says_why_and_records_nothing(
    tmp_path: Path,
) -> None:
    state = tmp_path / "server.json"
    lines: list[str] = []
    outcome = _localserver.run_foreground(
        tmp_path / "data", python=str(tmp_path / "no-python"), state=state, echo=lines.append
    )
    assert outcome is None
    assert lines[0].startswith("error: no flowServ server interpreter found")
    assert not state.exists()


def test_the_last_port_is_free_while_connections_of_the_old_server_linger(tmp_path: Path) -> None:
    # A server that stopped leaves the connections it closed in TIME-WAIT; only
    # a bind without SO_REUSEADDR (what servers use) sees the port as taken.
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server closes first: its side goes to TIME-WAIT
        client.close()
    with socket.socket() as plain, pytest.raises(OSError, match="in use"):
        plain.bind(("127.0.0.1", port))  # the check that moved every restart to a new port
    (tmp_path / "port").write_text(f"{port}\n")
    assert _localserver.port_is_free(port)
    assert _localserver.pick_port(tmp_path, wait=0) == port


def test_a_port_another_program_listens_on_is_given_up(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        (tmp_path / "port").write_text(f"{port}\n")
        assert not _localserver.port_is_free(port)
        assert _localserver.pick_port(tmp_path, wait=0) is None  # any free port then
        assert _localserver.pick_port(tmp_path, 7777, wait=0) == 7777  # as asked


def test_no_recorded_port_means_any() -> None:
    assert _localserver.pick_port(Path("/nonexistent"), wait=0) is None
