"""The audit log: a hash chain that names the line that was edited, deleted or moved."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cockpit.audit import INDEX_FORMAT, AuditLog
from cockpit.cli import cli
from cockpit.identity import Operator

ALICE = Operator("alice", "10.0.0.7")


def filled_log(tmp_path, count=6):
    log = AuditLog(tmp_path / "audit.jsonl")
    for n in range(count):
        log.append("mark", "production", ALICE, item=f"s/item-{n}", status="done")
    return log


def test_intact_log_verifies(tmp_path):
    log = filled_log(tmp_path)
    result = log.verify()
    assert result.ok
    assert result.lines == 6
    entries = list(log.entries())
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0].fields["actor"] == "alice"
    assert entries[0].fields["from"] == "10.0.0.7"


def test_one_byte_edit_is_named(tmp_path):
    log = filled_log(tmp_path)
    data = bytearray(log.path.read_bytes())
    lines = data.split(b"\n")
    offset = sum(len(line) + 1 for line in lines[:3]) + lines[3].index(b"item-3") + 5
    data[offset] = ord("9")  # item-3 -> item-9 on line 4
    log.path.write_bytes(bytes(data))
    result = log.verify()
    assert not result.ok
    assert [p.line for p in result.problems] == [4]
    assert "edited" in str(result.problems[0])


def test_deleted_line_is_named(tmp_path):
    log = filled_log(tmp_path)
    lines = log.path.read_text().splitlines(keepends=True)
    del lines[2]
    log.path.write_text("".join(lines))
    result = log.verify()
    assert result.problems and result.problems[0].line == 3
    assert "deleted, inserted or moved" in str(result.problems[0])


def test_reordered_lines_are_named(tmp_path):
    log = filled_log(tmp_path)
    lines = log.path.read_text().splitlines(keepends=True)
    lines[1], lines[2] = lines[2], lines[1]
    log.path.write_text("".join(lines))
    result = log.verify()
    assert result.problems[0].line == 2


def test_rewritten_line_with_recomputed_hash_still_breaks_the_chain(tmp_path):
    from cockpit.audit import _digest

    log = filled_log(tmp_path)
    lines = log.path.read_text().splitlines()
    forged = json.loads(lines[1])
    forged.pop("hash")
    forged["status"] = "skipped"
    forged["hash"] = _digest(forged["prev"], forged)
    lines[1] = json.dumps(forged)
    log.path.write_text("\n".join(lines) + "\n")
    result = log.verify()
    assert [p.line for p in result.problems] == [3]


def test_appending_continues_the_chain_across_instances(tmp_path):
    filled_log(tmp_path, 2)
    log = AuditLog(tmp_path / "audit.jsonl")
    entry = log.append("note", "staging", ALICE, item="x", note="hi")
    assert entry.seq == 3
    assert log.verify().ok


def test_cut_off_tail_is_caught_by_the_state_head(write_config, operator):
    from cockpit.session import GoLiveSession

    path = write_config()
    session = GoLiveSession.open(path, "production", operator=operator)
    session.mark_done("Change approved")
    session.mark_done("Backup taken")
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify", "--config", str(path)])
    assert ok.exit_code == 0, ok.output
    assert "2 entries, hash chain intact" in ok.output
    log = session.audit.path
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[:-1]))
    cut = runner.invoke(cli, ["audit", "verify", "--config", str(path)])
    assert cut.exit_code == 1
    assert "state of 'production' was written after audit entry 2" in cut.output


def test_cli_verify_names_the_edited_line(write_config, operator):
    from cockpit.session import GoLiveSession

    path = write_config()
    session = GoLiveSession.open(path, "staging", operator=operator)
    for text in ("Change approved", "Backup taken", "Announce completion"):
        session.mark_done(text)
    log = session.audit.path
    data = bytearray(log.read_bytes())
    second_line_start = data.index(b"\n") + 1
    position = data.index(b"alice", second_line_start)
    data[position] = ord("A")
    log.write_bytes(bytes(data))
    result = CliRunner().invoke(cli, ["audit", "verify", "--config", str(path)])
    assert result.exit_code == 1
    assert "line 2: content does not match its hash" in result.output


def test_following_the_log_reads_only_what_was_appended(tmp_path):
    log = filled_log(tmp_path, count=3)
    first, offset = log.entries_after(0)
    assert [e.seq for e in first] == [1, 2, 3]
    assert log.entries_after(offset) == ([], offset)
    log.append("mark", "staging", ALICE, item="s/item-9", status="done")
    log.append("mark", "production", ALICE, item="s/item-8", status="done")
    more, later = log.entries_after(offset, "production")
    assert [e.seq for e in more] == [5] and later > offset
    with log.path.open("a", encoding="utf-8") as handle:
        handle.write('{"seq": 6, "env": "production"')  # a line still being written
    assert log.entries_after(later) == ([], later)


def test_analysis_restarts_when_another_process_starts_a_release(write_config, operator):
    from cockpit.session import GoLiveSession

    path = write_config()
    session = GoLiveSession.open(path, "production", operator=operator)
    session.mark_done("Change approved")
    first = session.analysis_started()
    assert first == session.go_live_started()
    other = GoLiveSession.open(path, "production", operator=operator)
    other.start_release("2.0.1", deploy_marker=False)
    moved = session.analysis_started()
    assert moved is not None and first is not None and moved > first
    assert moved == other.analysis_started()
    assert session.analysis_started() == moved  # nothing new: same answer from the offset


def test_an_edited_timestamp_is_named(tmp_path):
    """The time of an action is evidence too: it is inside the hash like every other field."""
    log = filled_log(tmp_path)
    lines = log.path.read_text().splitlines()
    edited = json.loads(lines[2])
    edited["ts"] = edited["ts"].replace("T", "T0", 1)[:-7] + "000000+00:00"
    lines[2] = json.dumps(edited)
    log.path.write_text("\n".join(lines) + "\n")
    result = log.verify()
    assert [p.line for p in result.problems] == [3]
    assert "edited" in str(result.problems[0])


def test_an_edited_sequence_number_or_actor_is_named(tmp_path):
    for key, value in (("seq", 99), ("actor", "mallory"), ("prev", "0" * 64)):
        log = filled_log(tmp_path / key)
        lines = log.path.read_text().splitlines()
        edited = json.loads(lines[1])
        edited[key] = value
        lines[1] = json.dumps(edited)
        log.path.write_text("\n".join(lines) + "\n")
        assert [p.line for p in log.verify().problems][:1] == [2], key


def test_a_chain_rewritten_from_a_line_on_is_caught_by_a_head_kept_elsewhere(tmp_path):
    """Recomputing every hash from line 2 on makes a valid chain: only a head recorded
    before the rewrite (a state file's, or one printed and kept) tells it from the original."""
    from cockpit.audit import _digest
    from cockpit.state import AuditHead

    log = filled_log(tmp_path)
    before = log.verify()
    kept = AuditHead(seq=before.last_seq, hash=before.last_hash)
    lines = [json.loads(line) for line in log.path.read_text().splitlines()]
    for number, data in enumerate(lines):
        data.pop("hash")
        if number == 1:
            data["status"] = "skipped"
        if number:
            data["prev"] = lines[number - 1]["hash"]
        data["hash"] = _digest(data["prev"], data)
    log.path.write_text("".join(json.dumps(d) + "\n" for d in lines))
    alone = log.verify()
    assert alone.ok  # what the log alone cannot prove, as the README says
    assert (alone.last_seq, alone.last_hash) != (kept.seq, kept.hash)
    checked = log.verify([("state file production.toml", kept)])
    assert [p.line for p in checked.problems] == [6]
    assert "state file production.toml was written after audit entry 6" in str(checked.problems[0])
    # a head of the original chain still in the rewritten one is no problem
    assert log.verify([("state", AuditHead(seq=1, hash=lines[0]["hash"]))]).ok


def test_sequence_gaps_and_broken_lines_are_named(tmp_path):
    log = filled_log(tmp_path)
    lines = log.path.read_text().splitlines()
    lines[3] = "{not json"
    log.path.write_text("\n".join(lines) + "\n")
    result = log.verify()
    assert [(p.line, "not a valid JSON entry" in p.message) for p in result.problems] == [(4, True)]
    log.path.write_text("\n".join(lines))  # and no newline after the last line
    assert any("the last line is incomplete" in str(p) for p in log.verify().problems)


def test_a_missing_log_is_a_problem_only_when_state_refers_to_it(tmp_path):
    from cockpit.state import AuditHead

    log = AuditLog(tmp_path / "none.jsonl")
    assert log.verify().ok and log.head() is None and list(log.entries()) == []
    result = log.verify([("state", AuditHead(seq=3, hash="x"))])
    assert [p.line for p in result.problems] == [0]
    assert "is missing but state refers to it" in result.problems[0].message


def test_every_line_is_fsynced_before_append_returns(tmp_path, monkeypatch):
    """An action is audited before it acts: the line must be on disk, not in a cache."""
    import os

    events: list[tuple[str, int]] = []
    real_write, real_fsync = os.write, os.fsync

    def write(fd, data):
        events.append(("write", fd))
        return real_write(fd, data)

    def fsync(fd):
        events.append(("fsync", fd))
        return real_fsync(fd)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "fsync", fsync)
    log = AuditLog(tmp_path / "audit.jsonl")
    for n in range(2):
        events.clear()
        log.append("mark", "production", ALICE, item=f"s/{n}")
        writes = [fd for kind, fd in events if kind == "write"]
        assert len(writes) == 1
        assert events.index(("fsync", writes[0])) > events.index(("write", writes[0]))


def test_the_head_and_entries_follow_the_last_line(tmp_path):
    log = filled_log(tmp_path, 3)
    head = log.head()
    last = list(log.entries())[-1]
    assert head is not None and (head.seq, head.hash) == (3, last.hash)
    assert [e.seq for e in log.entries("production")] == [1, 2, 3]
    assert list(log.entries("staging")) == []
    assert last.fields["item"] == "s/item-2" and last.action == "mark"
    assert "prev" not in last.fields and "hash" not in last.fields


def test_secrets_are_scrubbed_from_every_field_each_time_they_occur(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl", secrets=("s3cret-token",))
    entry = log.append(
        "step",
        "production",
        ALICE,
        output="s3cret-token, again s3cret-token",
        args=["s3cret-token"],
    )
    assert entry.fields["output"] == "***, again ***"
    assert entry.fields["args"] == ["***"]
    assert "s3cret" not in log.path.read_text()
    assert log.verify().ok


# --- the index beside the log: the timeline without reading the whole log ---------------------


def _busy_log(tmp_path, lines):
    from cockpit.audit import AuditLog
    from cockpit.identity import Operator

    log = AuditLog(tmp_path / "audit.jsonl")
    who = Operator("alice", None)
    log.append("session_start", "production", who)
    log.append("release_start", "production", who, version="1.0")
    for n in range(lines):
        log.append("mark", "production", who, item=f"i{n}", status="done")
        log.append("verdict", "staging", who, state="GO", n=n)
    log.append("rollback_requested", "production", who, cluster="c", deployment="web")
    return log, who


@pytest.fixture
def small_index(monkeypatch):
    """The index is saved after INDEX_SAVE_AFTER new lines: a small figure keeps these logs
    short (the rule is the same at 200)."""
    import cockpit.audit

    monkeypatch.setattr(cockpit.audit, "INDEX_SAVE_AFTER", 20)


def test_the_timeline_comes_from_the_index_and_matches_a_full_read(tmp_path, small_index):
    from cockpit.audit import TIMELINE_ACTIONS

    log, who = _busy_log(tmp_path, 15)
    entries, end = log.timeline("production")
    assert log.index_path.exists() and oct(log.index_path.stat().st_mode & 0o777) == "0o600"
    full = [e for e in log.entries("production") if e.action in TIMELINE_ACTIONS]
    assert [e.seq for e in entries] == [1] + [e.seq for e in full]
    assert end == log.path.stat().st_size
    log.append("rollback", "production", who, cluster="c", deployment="web", outcome="sent")
    again, _ = log.timeline("production")  # the index, then only the line after it
    assert [e.action for e in again][-2:] == ["rollback_requested", "rollback"]
    staging, _ = log.timeline("staging")
    assert [e.action for e in staging] == ["verdict", "verdict"]  # the first and the latest
    assert staging[-1].fields["n"] == 14


def test_an_index_that_does_not_match_the_log_is_rebuilt(tmp_path, small_index):
    log, _ = _busy_log(tmp_path, 15)
    log.timeline("production")
    index = log.index_path.read_bytes()
    # the log replaced by another one of the same length or longer: the hash at the end differs
    log.path.unlink()
    other, _ = _busy_log(tmp_path, 16)
    assert other.index_path.read_bytes() == index  # still the old index
    entries, _ = other.timeline("production")
    assert [e.action for e in entries][-1] == "rollback_requested"
    assert [e.seq for e in entries] == [1, 2, 35]


def test_a_symlinked_index_is_ignored_and_never_written_through(tmp_path, small_index):
    log, _ = _busy_log(tmp_path, 15)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    log.index_path.symlink_to(victim)
    entries, _ = log.timeline("production")
    assert [e.action for e in entries][-1] == "rollback_requested"
    assert victim.read_text() == "precious\n"
    assert not log.index_path.is_symlink()  # replaced by the real index, the link removed


def _padded_log(tmp_path, lines):
    """Lines of about 1 KB, so the last ones span several of tail's 64 KB chunks."""
    from cockpit.audit import AuditLog
    from cockpit.identity import Operator

    log = AuditLog(tmp_path / "audit.jsonl")
    who = Operator("alice", None)
    for n in range(lines):
        env = "staging" if n % 3 else "production"
        log.append("note", env, who, item=f"i{n}", note="x" * (900 + n % 250))
    return log


def test_tail_reads_back_from_the_end_and_gives_what_a_full_read_ends_with(tmp_path):
    log = _padded_log(tmp_path, 400)  # about 400 KB: many chunks, lines cut at their edges
    every = list(log.entries())
    production = [e for e in every if e.environment == "production"]
    for count in (1, 2, 63, 64, 65, 133, 134, 500):  # 134 production lines in all
        assert log.tail(count) == every[-count:], count
        assert log.tail(count, "production") == production[-count:], count
    assert log.tail(0) == [] and log.tail(-3) == []
    assert log.tail(5, "nowhere") == []


def test_tail_skips_a_last_line_still_being_written(tmp_path):
    log = _padded_log(tmp_path, 5)
    before = log.tail(2)
    with open(log.path, "ab") as handle:
        handle.write(b'{"seq": 6, "ts": "2026')
    assert log.tail(2) == before == list(log.entries())[-2:]


def test_tail_of_a_missing_log_is_empty(tmp_path):
    from cockpit.audit import AuditLog

    assert AuditLog(tmp_path / "none.jsonl").tail(5) == []


def test_verify_hands_over_the_entries_a_full_read_gives(tmp_path):
    log, _ = _busy_log(tmp_path, 20)
    lines = log.path.read_bytes().split(b"\n")
    lines[4] = lines[4].replace(b'"i1"', b'"i9"')  # an edit: still read, and reported
    lines[7] = b"\xff not json"
    log.path.write_bytes(b"\n".join(lines))
    for env in (None, "production", "staging"):
        seen = []
        result = log.verify(each=seen.append, environment=env)
        assert seen == list(log.entries(env)), env
        assert [p.line for p in result.problems][:2] == [5, 8]


def test_the_tail_is_the_last_entries_of_one_environment_in_order(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    for n in range(5):
        log.append("mark", "production", ALICE, item=f"p/{n}")
        log.append("mark", "staging", ALICE, item=f"s/{n}")
    assert [e.fields["item"] for e in log.tail(3, "production")] == ["p/2", "p/3", "p/4"]
    assert [e.seq for e in log.tail(2)] == [9, 10]
    assert [e.seq for e in log.tail(50)] == list(range(1, 11))
    assert log.tail(0) == [] and log.tail(-1) == []
    assert AuditLog(tmp_path / "none.jsonl").tail(5) == []


def _expected_index(path):
    """The index as its format is documented, worked out from the log's lines themselves."""
    envs: dict = {}
    offset, last_hash = 0, None
    for raw in path.read_bytes().splitlines(keepends=True):
        data = json.loads(raw)
        facts = envs.setdefault(data["env"], {"first": offset, "timeline": []})
        if data["action"] in TIMELINE:
            facts["timeline"].append(offset)
        elif data["action"] == "verdict":
            facts["verdict"] = offset
        offset, last_hash = offset + len(raw), data["hash"]
    return {"format": INDEX_FORMAT, "end": offset, "hash": last_hash, "envs": envs}


TIMELINE = {"release_start", "rollback_requested", "rollback", "run_start", "run_end"}


@pytest.mark.parametrize("chunk", [1 << 20, 100])
def test_the_saved_index_names_every_timeline_offset_up_to_the_last_lines_hash(
    tmp_path, small_index, monkeypatch, chunk
):
    import cockpit.audit

    monkeypatch.setattr(cockpit.audit, "_READ_CHUNK", chunk)  # 100: lines longer than a chunk
    log, who = _busy_log(tmp_path, 10)
    log.append("run_start", "staging", who, run="r1")
    log.append("verdict", "production", who, state="GO")
    log.timeline("production")
    assert json.loads(log.index_path.read_text()) == _expected_index(log.path)
    # a line still being written is left for next time: the index ends before it
    complete = _expected_index(log.path)
    for n in range(20):
        log.append("mark", "staging", who, item=f"more/{n}")
    with log.path.open("a", encoding="utf-8") as handle:
        handle.write('{"seq": 99, "env": "staging", "action": "run_start"')
    entries, end = log.timeline("staging")
    saved = json.loads(log.index_path.read_text())
    assert saved["end"] == end == log.path.read_bytes().rindex(b"\n") + 1 > complete["end"]
    assert [e.action for e in entries] == ["verdict", "verdict", "run_start"]  # first, latest


def test_the_index_is_saved_after_that_many_new_lines_and_not_before(tmp_path, small_index):
    log = AuditLog(tmp_path / "audit.jsonl")
    for n in range(19):
        log.append("mark", "production", ALICE, item=f"i{n}")
    log.timeline("production")
    assert not log.index_path.exists()
    log.append("mark", "production", ALICE, item="i19")
    log.timeline("production")
    assert json.loads(log.index_path.read_text())["end"] == log.path.stat().st_size


def _lying_index(log, **changes):
    """An index that names a mark line as production's only timeline entry: believed only
    when it matches the log (its end falls after a line with its hash)."""
    index = _expected_index(log.path)
    mark = next(e for e in log.entries("production") if e.action == "mark")
    offsets = [
        sum(len(line) for line in log.path.read_bytes().splitlines(keepends=True)[: mark.seq - 1])
    ]
    index["envs"]["production"] = {"first": offsets[0], "timeline": offsets}
    index.update(changes)
    log.index_path.write_text(json.dumps(index))
    return mark


@pytest.mark.parametrize("tail_chunk", [65536, 16])
def test_an_index_that_matches_the_log_is_believed_for_the_lines_before_its_end(
    tmp_path, monkeypatch, tail_chunk
):
    """A session trusts the index for what comes before its end (`audit verify` checks that
    chain); what proves the index belongs to this log is the hash of the line before its end."""
    import cockpit.audit

    monkeypatch.setattr(cockpit.audit, "_TAIL_CHUNK", tail_chunk)  # 16: lines over many chunks
    log, _ = _busy_log(tmp_path, 3)
    mark = _lying_index(log)
    entries, end = log.timeline("production")
    assert [e.seq for e in entries] == [mark.seq] and end == log.path.stat().st_size


@pytest.mark.parametrize(
    "changes",
    [
        {"format": INDEX_FORMAT + 1},
        {"format": None},
        {"end": "100"},
        {"end": 0},
        {"end": 10**9},
        {"end": 5},  # not at a line's end
        {"hash": "0" * 64},
        {"envs": []},
    ],
)
def test_an_index_that_does_not_match_the_log_is_never_believed(tmp_path, changes):
    log, _ = _busy_log(tmp_path, 3)
    truth = [e.seq for e in log.entries("production") if e.action in TIMELINE]
    _lying_index(log, **changes)
    entries, end = log.timeline("production")
    assert [e.seq for e in entries] == [1, *truth] and end == log.path.stat().st_size


def test_an_index_that_is_not_an_object_or_not_json_is_rebuilt(tmp_path):
    log, _ = _busy_log(tmp_path, 3)
    for text in ("[1, 2]", "{not json", ""):
        log.index_path.write_text(text)
        entries, _ = log.timeline("production")
        assert [e.action for e in entries] == [
            "session_start",
            "release_start",
            "rollback_requested",
        ]


def test_an_index_ending_after_the_first_line_is_checked_against_it(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append("release_start", "production", ALICE, version="1")
    log.append("mark", "production", ALICE, item="a")
    first_end = log.path.read_bytes().index(b"\n") + 1
    index = {
        "format": INDEX_FORMAT,
        "end": first_end,
        "hash": next(log.entries()).hash,
        "envs": {"production": {"first": first_end, "timeline": [first_end]}},
    }
    log.index_path.write_text(json.dumps(index))
    entries, _ = log.timeline("production")
    assert [e.action for e in entries] == ["mark"]  # believed: it matches the first line


@pytest.mark.parametrize("call", ["head", "entries", "entries_after", "verify", "timeline", "tail"])
def test_a_link_in_place_of_the_audit_log_is_refused_and_named(tmp_path, call):
    from cockpit.errors import AuditError

    real = filled_log(tmp_path / "real", 2)
    log = AuditLog(tmp_path / "audit.jsonl")
    log.path.symlink_to(real.path)
    calls = {
        "head": log.head,
        "entries": lambda: list(log.entries()),
        "entries_after": lambda: log.entries_after(0),
        "verify": log.verify,
        "timeline": lambda: log.timeline("production"),
        "tail": lambda: log.tail(1),
    }
    with pytest.raises(AuditError) as caught:
        calls[call]()
    assert caught.value.message.startswith(f"audit log {log.path} is a symbolic link")


def test_a_link_in_place_of_the_index_temp_file_leaves_the_index_unsaved(tmp_path, small_index):
    import os

    log, _ = _busy_log(tmp_path, 15)
    temp = log.index_path.with_name(f".{log.index_path.name}.{os.getpid()}.tmp")
    victim = tmp_path / "victim"
    temp.symlink_to(victim)
    entries, _ = log.timeline("production")
    assert [e.action for e in entries][-1] == "rollback_requested"
    assert not victim.exists() and not log.index_path.exists()
    assert not temp.exists() and not temp.is_symlink()  # the link removed, nothing through it


def test_a_damaged_byte_does_not_stop_the_log_from_being_read(tmp_path):
    """`audit verify` names the damage; showing the timeline must not crash on it."""
    log = filled_log(tmp_path, 3)
    data = log.path.read_bytes().replace(b"item-1", b"item-\xff")
    log.path.write_bytes(data)
    assert [e.fields["item"] for e in log.entries()] == ["s/item-0", "s/item-\ufffd", "s/item-2"]
    found, end = log.entries_after(0)
    assert [e.seq for e in found] == [1, 2, 3] and end == len(data)
    assert [p.line for p in log.verify().problems] == [2]


def test_a_log_replaced_by_a_shorter_one_is_followed_from_its_start(tmp_path):
    log = filled_log(tmp_path, 3)
    size = log.path.stat().st_size
    assert log.entries_after(size) == ([], size)
    found, end = log.entries_after(size + 1)  # the log is now shorter than what was read
    assert [e.seq for e in found] == [1, 2, 3] and end == size
    assert AuditLog(tmp_path / "none.jsonl").entries_after(10) == ([], 0)


def test_an_empty_log_has_no_head_and_verifies(tmp_path):
    log = AuditLog(tmp_path / "audit.jsonl")
    log.path.write_bytes(b"")
    assert log.head() is None
    result = log.verify()
    assert result.ok and result.lines == 0 and (result.last_seq, result.last_hash) == (0, "")
    entry = log.append("mark", "production", ALICE, item="a")
    assert entry.seq == 1 and json.loads(log.path.read_text())["prev"] == "0" * 64


def test_verify_names_each_problem_with_its_line_and_the_fix_in_words(tmp_path):
    log = filled_log(tmp_path)
    original = log.path.read_text().splitlines(keepends=True)

    def problems(lines):
        log.path.write_text("".join(lines))
        return [str(p) for p in log.verify().problems]

    assert problems(original[:2] + original[3:]) == [
        "line 3: does not follow line 2: a line was deleted, inserted or moved before it",
        "line 3: sequence number 4 where 3 was due",
    ]
    assert problems([*original[:2], "[1, 2]\n", *original[3:]]) == [
        "line 3: not a valid JSON entry (edited?)"
    ]
    assert problems([*original[:5], original[5].rstrip("\n")]) == [
        "line 6: the last line is incomplete (no newline)"
    ]
    edited = json.loads(original[1])
    edited["seq"] = 7
    assert problems([original[0], json.dumps(edited) + "\n", *original[2:]]) == [
        "line 2: content does not match its hash (the line was edited)",
        "line 2: sequence number 7 where 2 was due",
        "line 3: sequence number 3 where 8 was due",
    ]
    from cockpit.state import AuditHead

    log.path.write_text("".join(original[:4]))
    result = log.verify([("state of 'production'", AuditHead(seq=6, hash="f" * 64))])
    assert [str(p) for p in result.problems] == [
        "line 4: state of 'production' was written after audit entry 6, which is missing or "
        "different here (the log was cut off or replaced)"
    ]
    assert (result.lines, result.last_seq) == (4, 4)
