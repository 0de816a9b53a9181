"""The parsed runbook, kept in the state folder so the next start does not parse it again.

Tokenising a 20,000-item runbook takes seconds (markdown-it, about 1 ms an item on a loaded
machine); every `cockpit mark`, `cockpit checklist` and TUI start paid it before doing
anything. The cache is keyed by the SHA-256 of the runbook's bytes and by what decides the
parse: the cockpit's version, `PARSER_VERSION` (raised whenever the parser's output changes),
the markdown-it and plugin versions and the Unicode tables slugs are made from. Anything else
(another key, a torn or edited file, a wrong type anywhere, a link, a file others may write)
and the cache is ignored and written again from a fresh parse: it is never trusted over the
runbook, only used when it provably stands for these exact bytes.

Layout: one JSON header line (format, parser identity, runbook hash, body hash) and the body,
the checklist as JSON. The body's hash catches a file cut short or changed by hand; the
ownership and mode checks (the same as the state files') keep another account from planting a
checklist whose steps the operator would run. It is written to a temporary file and renamed
into place, never fsynced: losing it costs one parse, and a torn one fails its hash.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import stat
import unicodedata
from pathlib import Path
from typing import Any

from cockpit import __version__
from cockpit.checklist.model import Checklist, ChecklistItem, CommandBlock, Section
from cockpit.collector import paused
from cockpit.errors import CockpitError
from cockpit.private_files import open_private, private_directory

CACHE_NAME = "checklist.cache"
FORMAT = 1
# Raise this whenever a change to the parser (markdown.py, model.py's slugs) can change what a
# runbook parses into: caches written by the older parser are then ignored.
PARSER_VERSION = 2
_KINDS: frozenset[str] = frozenset({"manual", "check", "step"})
_MAX_DEPTH = 8  # headings go to six levels; a deeper cache is not one this code wrote


def parser_identity() -> str:
    return (
        f"cockpit {__version__}; parser {PARSER_VERSION}; {_libraries()}; "
        f"unicode {unicodedata.unidata_version}"
    )


@functools.cache
def _libraries() -> str:
    """The installed markdown-it and plugin versions, read from their package metadata:
    importing them would cost more than the cache saves on a small runbook."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("markdown-it-py", "mdit-py-plugins"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:  # not installed as a distribution: never cache
            found.append(f"{name} unknown {os.getpid()} {id(found)}")
    return "; ".join(found)


def runbook_key(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


class _Invalid(Exception):
    """The cache is not one this parser wrote for this runbook."""


def read_cached(folder: Path, raw: bytes) -> Checklist | None:
    """The checklist cached for exactly these runbook bytes, or None (missing, stale, damaged,
    another parser's, or not safely ours)."""
    path = folder / CACHE_NAME
    try:
        fd = open_private(path, os.O_RDONLY, "checklist cache", CockpitError)
    except (OSError, CockpitError):
        return None
    try:
        with os.fdopen(fd, "rb") as handle:
            st = os.fstat(handle.fileno())
            if st.st_uid != os.geteuid() or st.st_mode & 0o022 or not stat.S_ISREG(st.st_mode):
                return None
            data = handle.read()
    except OSError:
        return None
    try:
        return _decode(data, raw)
    except (_Invalid, ValueError, TypeError, KeyError, RecursionError):
        return None


def write_cached(folder: Path, raw: bytes, checklist: Checklist) -> None:
    """Replace the cache with this parse; a folder or file that cannot be written is no
    error (the next start parses again)."""
    document = _checklist_json(checklist)
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    header = json.dumps(
        {
            "format": FORMAT,
            "parser": parser_identity(),
            "runbook": runbook_key(raw),
            "body": "sha256:" + hashlib.sha256(body).hexdigest(),
        },
        separators=(",", ":"),
    ).encode("utf-8")
    path = folder / CACHE_NAME
    temp = folder / f".{CACHE_NAME}.{os.getpid()}.tmp"
    try:
        private_directory(folder, "state directory")
        fd = open_private(
            temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "checklist cache temp file", CockpitError
        )
        with os.fdopen(fd, "wb") as handle:
            handle.write(header + b"\n" + body)
        os.replace(temp, path)
    except (OSError, CockpitError):
        with contextlib.suppress(OSError):
            temp.unlink()


# --- decoding, every value checked -------------------------------------------------------------


def _decode(data: bytes, raw: bytes) -> Checklist:
    head, newline, body = data.partition(b"\n")
    if not newline:
        raise _Invalid("no header")
    header = json.loads(head)
    if not isinstance(header, dict):
        raise _Invalid("header")
    if header.get("format") != FORMAT or header.get("parser") != parser_identity():
        raise _Invalid("another format or parser")
    if header.get("runbook") != runbook_key(raw):
        raise _Invalid("another runbook")
    if header.get("body") != "sha256:" + hashlib.sha256(body).hexdigest():
        raise _Invalid("body changed")
    # the collector would walk the young objects every 700 allocations of the 100,000 made here
    with paused():
        return _checklist(_dict(json.loads(body)))


def _checklist(document: dict[str, Any]) -> Checklist:
    return Checklist(
        title=_str(document["title"]),
        sections=[_section(s, 1) for s in _list(document["sections"])],
    )


def _section(value: object, depth: int) -> Section:
    if depth > _MAX_DEPTH:
        raise _Invalid("too deep")
    data = _dict(value)
    return Section(
        id=_str(data["id"]),
        title=_str(data["title"]),
        level=_int(data["level"]),
        line=_int(data["line"]),
        items=[_item(i) for i in _list(data["items"])],
        sections=[_section(s, depth + 1) for s in _list(data["sections"])],
    )


def _item(value: object) -> ChecklistItem:
    # a list rather than an object, unpacked and checked inline: 20,000 of these are read on
    # every start, and a call per field doubled the time
    id_, text, kind, section_id, line, done, parent, blocks, notes, links = _list(value)
    if (
        type(id_) is not str
        or type(text) is not str
        or kind not in _KINDS
        or type(section_id) is not str
        or type(line) is not int
        or type(done) is not bool
        or not (parent is None or type(parent) is str)
        or type(notes) is not list
        or type(links) is not list
        or not all(type(n) is str for n in notes)
        or not all(type(link) is str for link in links)
    ):
        raise _Invalid("item")
    return ChecklistItem(
        id=id_,
        text=text,
        kind=kind,
        section_id=section_id,
        line=line,
        done_in_document=done,
        parent_id=parent,
        blocks=[_block(b) for b in _list(blocks)],
        notes=notes,
        links=links,
    )


def _block(value: object) -> CommandBlock:
    data = _dict(value)
    return CommandBlock(
        language=_str(data["language"]),
        script=_str(data["script"]),
        source=_str(data["source"]),
        line=_int(data["line"]),
    )


def _dict(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _Invalid("not an object")
    return value


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise _Invalid("not a list")
    return value


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise _Invalid("not a string")
    return value


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Invalid("not an integer")
    return value


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("not a boolean")
    return value


# --- encoding -----------------------------------------------------------------------------------


def _checklist_json(checklist: Checklist) -> dict[str, Any]:
    return {"title": checklist.title, "sections": [_section_json(s) for s in checklist.sections]}


def _section_json(section: Section) -> dict[str, Any]:
    return {
        "id": section.id,
        "title": section.title,
        "level": section.level,
        "line": section.line,
        "items": [_item_json(i) for i in section.items],
        "sections": [_section_json(s) for s in section.sections],
    }


def _item_json(item: ChecklistItem) -> list[Any]:
    return [
        item.id,
        item.text,
        item.kind,
        item.section_id,
        item.line,
        item.done_in_document,
        item.parent_id,
        [
            {"language": b.language, "script": b.script, "source": b.source, "line": b.line}
            for b in item.blocks
        ],
        item.notes,
        item.links,
    ]
