"""What FakeFlowserv's result routes answer: the sleeper's output files, archives, the ranking.

Plain functions over plain values, used by :mod:`aioflowserv.testing._fake`:
the files the sleeper template writes for a run's arguments (byte for byte
what the real template writes), download answers with the real server's
headers, the multipart upload field the server reads, and the leaderboard's
order and ranking rules.
"""

from __future__ import annotations

import io
import json
import mimetypes
import re
import tarfile
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "MAX_UPLOAD", "OUTPUT_PATHS", "RESULT_SCHEMA", "SUMMARY_PATH", "Answer", "dump", "file_answer",
    "file_part", "files_answer", "leaderboard_order", "ranked", "sleeper_outputs", "summary",
]

Answer = tuple[int, bytes] | tuple[int, bytes, str, dict[str, str]]
"""Status and body, and for downloads the content type and more headers."""

MAX_UPLOAD = 16 * 1024 * 1024
"""The largest upload the server takes (``ROB_WEBAPI_CONTENTLENGTH``); more is a 413."""

RESULT_SCHEMA: list[dict[str, Any]] = [
    {"dtype": "float", "label": "Sleep time", "name": "sleep"},
    {"dtype": "int", "label": "Names greeted", "name": "count"},
]
"""The sleeper's results schema, as the leaderboard lists it."""

OUTPUT_PATHS = {"greetings": "results/greetings.txt", "result": "results/result.json"}
"""The sleeper's output files (by their key in a run's ``files``) and where it writes them."""

SUMMARY_PATH = "results/summary.json"
"""The post-processing run's one output."""


def dump(doc: object) -> bytes:
    """A JSON body as Flask writes it: keys sorted, compact, a newline at the end."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def not_found(what: str, name: str) -> Answer:
    """FlowServ's 404: ``unknown run 'x'`` and so on."""
    return 404, dump({"message": f"unknown {what} '{name}'"})


def sleeper_outputs(
    arguments: Iterable[Any], uploads: Mapping[str, bytes], files: Iterable[Mapping[str, Any]]
) -> dict[str, tuple[str, bytes]]:
    """The files the sleeper template writes for a run's arguments, by file id: (path, bytes).

    ``uploads`` maps the group's upload ids to their content (the ``names``
    argument may be one of them); ``files`` is the run's ``files`` list.
    """
    values = {a.get("name"): a.get("value") for a in arguments if isinstance(a, dict)}
    names = ["Alice", "Bob"]
    source = values.get("names")
    if isinstance(source, dict):
        content = uploads.get(str((source.get("value") or {}).get("fileId")))
        if content is not None:
            text = content.decode(errors="replace")
            names = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [f"{values.get('greeting', 'Hello')} {name}!" for name in names]
    if values.get("mode") == "upper" or str(values.get("shout")).lower() in ("1", "t", "true"):
        lines = [line.upper() for line in lines]
    result = {"sleep": float(values.get("sleep") or 0.0), "count": len(names),
              "mode": values.get("mode", "plain"), "exitcode": int(values.get("exitcode") or 0)}
    made = {"greetings": ("\n".join(lines) + "\n").encode(), "result": json.dumps(result).encode()}
    return {f["id"]: (OUTPUT_PATHS[f["name"]], made[f["name"]]) for f in files if f["name"] in made}


def result_values(outputs: Mapping[str, tuple[str, bytes]]) -> dict[str, Any]:
    """A run's result values (its ``result.json``) as the leaderboard ranks them."""
    for path, content in outputs.values():
        if path == OUTPUT_PATHS["result"]:
            return json.loads(content)  # type: ignore[no-any-return]
    return {"sleep": 0.0, "count": 0}


def summary(file_id: str, ranking: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, bytes]]:
    """The post-processing run's output: the sleep time of every ranked run."""
    doc = [{"group": entry["group"]["name"], "run": entry["run"]["id"],
            "sleep": entry["results"][0]["value"]} for entry in ranking]
    return {file_id: (SUMMARY_PATH, json.dumps(doc).encode())}


def leaderboard_order(params: Mapping[str, str]) -> list[tuple[str, bool]] | Answer:
    """The ``orderBy`` of a leaderboard request: (column, descending) pairs, or the error answer.

    Without one, the template's order (sleep, ascending); a bare column sorts
    descending, as flowServ does; an empty ``orderBy=`` is the server's 500.
    """
    if "orderBy" not in params:
        return [("sleep", False)]
    if not params["orderBy"]:
        return 500, dump({"error": "500 Internal Server Error"})
    order = []
    for item in params["orderBy"].split(","):
        column, _, direction = item.partition(":")
        if column not in ("sleep", "count") or direction not in ("", "asc", "desc"):
            return 400, dump({"message": f"invalid order '{item}'"})
        order.append((column, direction != "asc"))
    return order


def ranked(
    entries: Iterable[tuple[Mapping[str, Any], dict[str, Any]]],
    order: list[tuple[str, bool]],
    include_all: bool,
) -> list[dict[str, Any]]:
    """Leaderboard entries sorted by ``order``; the best of each group only unless ``include_all``.

    ``entries`` are (result values, leaderboard entry) pairs.
    """
    listed = list(entries)
    for column, descending in reversed(order):
        listed.sort(key=lambda entry: entry[0][column], reverse=descending)
    seen: set[str] = set()
    ranking = []
    for _, entry in listed:
        if include_all or entry["group"]["id"] not in seen:
            seen.add(entry["group"]["id"])
            ranking.append(entry)
    return ranking


def file_answer(path: str, content: bytes, disposition: str) -> Answer:
    """A download: the content type guessed from the name, as the server does."""
    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if kind.startswith("text/"):
        kind += "; charset=utf-8"
    return 200, content, kind, {"Content-Disposition": f"attachment; {disposition}"}


def files_answer(
    contents: Mapping[str, tuple[str, bytes]], file_id: str | None, archive: str
) -> Answer:
    """One output file (``file_id`` given) or all of them as a gzipped tar archive."""
    if file_id is not None:
        if file_id not in contents:
            return not_found("file", file_id)
        path, content = contents[file_id]
        return file_answer(path, content, f'filename="{path}"')
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path, content in contents.values():
            member = tarfile.TarInfo(path)
            member.size = len(content)
            tar.addfile(member, io.BytesIO(content))
    return 200, buffer.getvalue(), "application/gzip", {
        "Content-Disposition": f"attachment; filename={archive}"}


def file_part(content_type: str, body: bytes) -> tuple[str, bytes] | None:
    """(file name, content) of the multipart field ``file``, the only one flowServ reads."""
    match = re.search(r"boundary=\"?([^\";]+)", content_type)
    if match is None:
        return None
    for part in body.split(b"--" + match.group(1).encode()):
        head, _, content = part.partition(b"\r\n\r\n")
        disposition = re.search(rb'name="([^"]*)"(?:; filename="([^"]*)")?', head)
        if disposition and disposition.group(1) == b"file" and disposition.group(2) is not None:
            return disposition.group(2).decode(errors="replace"), content.removesuffix(b"\r\n")
    return None
