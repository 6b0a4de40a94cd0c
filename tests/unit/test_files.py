"""FileHandle.extract (``_files``): the layout a run's archive is unpacked into.

A run's archive holds its outputs under their relative paths
(``results/greetings.txt``); ``strip_common_dir`` leaves out the one top
directory every member shares, so ``-o results/`` does not become
``results/results/``. (Hostile archives: tests/hardening/test_safe_files.py.)
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from aioflowserv import _files


def archive(*names: str) -> io.BytesIO:
    """A gzip tar archive with one small file per name."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = len(name)
            tar.addfile(info, io.BytesIO(name.encode()))
    buffer.seek(0)
    return buffer


def written(paths: list[Path], root: Path) -> list[str]:
    return sorted(path.relative_to(root.resolve()).as_posix() for path in paths)


def test_the_common_top_directory_is_left_out(tmp_path: Path) -> None:
    spool = archive("results/greetings.txt", "results/result.json")
    paths = _files._extract_tar(spool, tmp_path, strip_common_dir=True)
    assert written(paths, tmp_path) == ["greetings.txt", "result.json"]
    assert (tmp_path / "greetings.txt").read_text() == "results/greetings.txt"


def test_members_in_several_top_directories_keep_their_paths(tmp_path: Path) -> None:
    spool = archive("results/greetings.txt", "logs/run.log")
    paths = _files._extract_tar(spool, tmp_path, strip_common_dir=True)
    assert written(paths, tmp_path) == ["logs/run.log", "results/greetings.txt"]


def test_a_file_at_the_top_keeps_the_layout(tmp_path: Path) -> None:
    spool = archive("summary.json")
    paths = _files._extract_tar(spool, tmp_path, strip_common_dir=True)
    assert written(paths, tmp_path) == ["summary.json"]


@pytest.mark.parametrize("strip", [False, True])
def test_nested_directories_below_the_top_are_kept(tmp_path: Path, strip: bool) -> None:
    spool = archive("results/plots/a.png", "results/b.csv")
    paths = _files._extract_tar(spool, tmp_path, strip_common_dir=strip)
    prefix = "" if strip else "results/"
    assert written(paths, tmp_path) == [f"{prefix}b.csv", f"{prefix}plots/a.png"]
