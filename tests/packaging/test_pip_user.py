"""A pip user's first hour: the built wheel, in a clean virtual environment, with a fresh HOME.

Outside any clone, with nothing in the environment, ``aioflowserv server
start`` and ``aioflowserv login --register NAME`` are all the setup the SDK
needs: ``afs.Flowserv().whoami()`` then works with no arguments. A restarted
server comes back at the same address, so the saved login keeps working (the
second hour). The wheel carries the license and the project's URLs, and no
``dev`` extra. The
contributors' server venv is reused through ``AIOFLOWSERV_SERVER_PYTHON`` so
the server is not installed twice (installing it is tested in tests/cli).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aioflowserv.testing import FlowservServer

REPO = Path(__file__).resolve().parents[2]


def run(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
        input: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, env=env, cwd=cwd, input=input, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's wheel, built from this source tree."""
    dist = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist),
         str(REPO)])
    (built,) = dist.glob("aioflowserv-*.whl")
    return built


@pytest.fixture(scope="module")
def user_env(
    wheel: Path, tmp_path_factory: pytest.TempPathFactory, server: FlowservServer
) -> Iterator[tuple[dict[str, str], Path]]:
    """A clean venv with the wheel and its cli extra; a fresh HOME; a folder outside the clone."""
    root = tmp_path_factory.mktemp("pip-user")
    venv = root / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", f"{wheel}[cli]"])
    home = root / "home"
    home.mkdir()
    elsewhere = root / "somewhere"
    elsewhere.mkdir()
    env = {
        "HOME": str(home),
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "AIOFLOWSERV_SERVER_PYTHON": str(server.python),
    }
    yield env, elsewhere
    subprocess.run(["aioflowserv", "server", "stop", "--clean"], env=env, cwd=elsewhere,
                   capture_output=True, timeout=60)


def test_server_start_login_and_the_sdk_with_no_arguments(
    user_env: tuple[dict[str, str], Path],
) -> None:
    env, cwd = user_env
    started = run(["aioflowserv", "server", "start"], env=env, cwd=cwd)
    assert "Started flowServ server at http://127.0.0.1:" in started.stdout
    login = run(["aioflowserv", "login", "--register", "newcomer", "--password-stdin"],
                env=env, cwd=cwd, input="secret\n")
    assert "Logged in to http://127.0.0.1:" in login.stdout
    whoami = run([
        "python", "-c", "import aioflowserv as afs; print(afs.Flowserv().whoami())"
    ], env=env, cwd=cwd)
    assert "<User 'newcomer' " in whoami.stdout
    assert str(REPO) not in whoami.stdout
    where = run(["python", "-c", "import aioflowserv; print(aioflowserv.__file__)"],
                env=env, cwd=cwd)
    assert not where.stdout.startswith(str(REPO))  # the wheel's copy, not the source tree


def test_a_restarted_server_keeps_its_address_and_the_saved_login_works(
    user_env: tuple[dict[str, str], Path],
) -> None:
    env, cwd = user_env
    run(["aioflowserv", "server", "start"], env=env, cwd=cwd)  # started, or running already
    run(["aioflowserv", "login", "--register", "restarter", "--password-stdin"],
        env=env, cwd=cwd, input="secret\n")
    before = run(["aioflowserv", "server", "status", "--json"], env=env, cwd=cwd).stdout
    run(["aioflowserv", "server", "stop"], env=env, cwd=cwd)
    again = run(["aioflowserv", "server", "start"], env=env, cwd=cwd)
    url = json.loads(before)["url"]
    moved = "moved with it" in again.stdout
    assert f"Started flowServ server at {url}" in again.stdout or moved, again.stdout
    whoami = run(["aioflowserv", "whoami"], env=env, cwd=cwd)
    assert whoami.stdout.startswith("restarter (id ")


def test_server_start_into_a_closed_pipe_ends_quietly(
    user_env: tuple[dict[str, str], Path],
) -> None:
    env, cwd = user_env
    read, write = os.pipe()
    os.close(read)  # `| head -1` that has exited already
    try:
        done = subprocess.run(["aioflowserv", "server", "start"], env=env, cwd=cwd,
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write)
    assert done.returncode in (0, 141), done.stderr
    assert "Error" not in done.stderr
    assert "Traceback" not in done.stderr


def test_the_wheel_carries_the_license_and_the_project_urls(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (metadata,) = [name for name in names if name.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode()
        (license_file,) = [name for name in names if name.endswith("licenses/LICENSE")]
        assert archive.read(license_file).decode().startswith("MIT License")
    assert "License-Expression: MIT" in text
    assert "Project-URL: Repository, https://" in text
    assert "Project-URL: Documentation, https://" in text
    assert "Provides-Extra: cli" in text
    assert "Provides-Extra: dev" not in text  # the contributors' tools are a dependency group
