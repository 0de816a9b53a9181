"""The parsed runbook kept in the state folder: used only for the very bytes it was made from,
by the parser that made it; anything else about it and the runbook is parsed again."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cockpit.checklist import cache as checklist_cache
from cockpit.checklist import markdown
from cockpit.checklist.markdown import load_checklist, parse_checklist

from .conftest import REFERENCE_CHECKLIST, SAMPLE_RUNBOOK, needs_reference

RUNBOOKS = Path(__file__).parent / "runbooks"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every fresh parse load_checklist makes (a cache hit makes none)."""
    made: list[str] = []

    def counted(text: str):  # type: ignore[no-untyped-def]
        made.append(text)
        return parse_checklist(text)

    monkeypatch.setattr(markdown, "parse_checklist", counted)
    return made


def _copy(source: Path, tmp_path: Path) -> tuple[Path, Path]:
    runbook = tmp_path / "runbook.md"
    runbook.write_bytes(source.read_bytes())
    state = tmp_path / "state"
    return runbook, state


@pytest.mark.parametrize(
    "source",
    [
        SAMPLE_RUNBOOK,
        RUNBOOKS / "sre-runbook.md",
        RUNBOOKS / "handbook-pt.md",
        RUNBOOKS / "release-issue-template.md",
        pytest.param(REFERENCE_CHECKLIST, marks=needs_reference),
    ],
    ids=lambda p: p.name,
)
def test_the_cached_parse_equals_a_fresh_parse(source, tmp_path, parses):
    runbook, state = _copy(source, tmp_path)
    first = load_checklist(runbook, cache=state)
    assert len(parses) == 1 and (state / checklist_cache.CACHE_NAME).exists()
    cached = load_checklist(runbook, cache=state)
    assert len(parses) == 1  # no parse: it came from the cache
    fresh = parse_checklist(source.read_text(encoding="utf-8"))
    fresh.source = runbook
    assert cached == fresh == first
    assert [i.blocks for i in cached.items()] == [i.blocks for i in fresh.items()]


def test_one_byte_changed_in_the_runbook_is_parsed_again(tmp_path, parses):
    runbook, state = _copy(SAMPLE_RUNBOOK, tmp_path)
    before = load_checklist(runbook, cache=state)
    text = runbook.read_bytes()
    at = text.index(b"- [ ] ") + len(b"- [ ] ")
    changed = text[:at] + (b"X" if text[at : at + 1] != b"X" else b"Y") + text[at + 1 :]
    assert len(changed) == len(text)
    stat = runbook.stat()
    runbook.write_bytes(changed)
    os.utime(runbook, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime
    after = load_checklist(runbook, cache=state)
    assert len(parses) == 2
    fresh = parse_checklist(changed.decode())
    fresh.source = runbook
    assert after == fresh != before
    load_checklist(runbook, cache=state)
    assert len(parses) == 2  # and the new parse was kept


def _rehashed(data: bytes, body: bytes) -> bytes:
    """A cache whose header names `body`'s hash: damage its checksum does not catch."""
    header = json.loads(data.partition(b"\n")[0])
    header["body"] = "sha256:" + __import__("hashlib").sha256(body).hexdigest()
    return json.dumps(header).encode() + b"\n" + body


def _first_item_changed(data: bytes, field: int, value: object) -> bytes:
    body = json.loads(data.partition(b"\n")[2])
    first = next(s for s in body["sections"] if s["items"])
    first["items"][0][field] = value
    return _rehashed(data, json.dumps(body).encode())


def _wrong_type(data: bytes) -> bytes:
    return _first_item_changed(data, 4, "12")  # a line number as a string


def _bad_kind(data: bytes) -> bytes:
    return _first_item_changed(data, 2, "shell")


def _deep(levels: int) -> bytes:
    section: dict[str, object] = {"id": "s", "title": "s", "level": 1, "line": 1}
    document = {"title": "x", "sections": [section]}
    for _ in range(levels):
        inner: dict[str, object] = {"id": "s", "title": "s", "level": 1, "line": 1}
        section.update(items=[], sections=[inner])
        section = inner
    section.update(items=[], sections=[])
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: data[: len(data) // 2],  # cut short
        lambda data: data.partition(b"\n")[2],  # no header
        lambda data: b"not json\n" + data.partition(b"\n")[2],
        lambda data: data.replace(b'"title":', b'"titel":', 1),  # body changed, hash kept
        lambda data: data.replace(b",false,", b",true ,", 1),  # still JSON, hash kept
        _wrong_type,
        _bad_kind,
        lambda data: _rehashed(data, b"[]"),
        lambda data: _rehashed(data, b"{}"),
        lambda data: _rehashed(data, _deep(50)),
    ],
    ids=[
        "empty",
        "truncated",
        "no-header",
        "garbage-header",
        "edited-body",
        "edited-end",
        "wrong-type",
        "bad-kind",
        "list",
        "empty-object",
        "too-deep",
    ],
)
def test_a_damaged_cache_is_ignored_and_written_again(damage, tmp_path, parses):
    runbook, state = _copy(SAMPLE_RUNBOOK, tmp_path)
    good = load_checklist(runbook, cache=state)
    path = state / checklist_cache.CACHE_NAME
    path.write_bytes(damage(path.read_bytes()))
    assert load_checklist(runbook, cache=state) == good
    assert len(parses) == 2
    assert load_checklist(runbook, cache=state) == good
    assert len(parses) == 2  # rewritten whole


def test_a_cache_from_another_parser_version_is_ignored(tmp_path, parses, monkeypatch):
    runbook, state = _copy(SAMPLE_RUNBOOK, tmp_path)
    load_checklist(runbook, cache=state)
    monkeypatch.setattr(checklist_cache, "PARSER_VERSION", checklist_cache.PARSER_VERSION + 1)
    load_checklist(runbook, cache=state)
    assert len(parses) == 2
    monkeypatch.setattr(checklist_cache, "__version__", "99.0")  # another cockpit release
    load_checklist(runbook, cache=state)
    assert len(parses) == 3
    load_checklist(runbook, cache=state)
    assert len(parses) == 3


def test_a_cache_planted_by_someone_else_is_not_read(tmp_path, parses):
    """A cache is a checklist whose steps the operator runs: one others could have written
    (group- or world-writable, or a link in its place) is not believed."""
    runbook, state = _copy(SAMPLE_RUNBOOK, tmp_path)
    load_checklist(runbook, cache=state)
    path = state / checklist_cache.CACHE_NAME
    path.chmod(0o666)
    load_checklist(runbook, cache=state)
    assert len(parses) == 2
    assert path.stat().st_mode & 0o777 == 0o600  # replaced by a private one
    target = tmp_path / "elsewhere"
    path.rename(target)
    path.symlink_to(target)
    load_checklist(runbook, cache=state)
    assert len(parses) == 3
    assert not path.is_symlink()  # renamed over, never written through


def test_a_folder_that_cannot_be_written_only_costs_the_parse(tmp_path, parses):
    runbook, _ = _copy(SAMPLE_RUNBOOK, tmp_path)
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    assert load_checklist(runbook, cache=blocked) == load_checklist(runbook)
    assert len(parses) == 2


def test_the_session_keeps_its_parse_in_the_state_folder(open_session, tmp_path, parses):
    first = open_session()
    assert (first.config.state_dir / checklist_cache.CACHE_NAME).exists()
    again = open_session()
    assert len(parses) == 1
    assert again.checklist == first.checklist
    again.mark_done(next(again.checklist.items()).id)
