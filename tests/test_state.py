"""Durable state: atomic writes, locking between cockpits, corruption detection."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime

import pytest

from cockpit.state import ItemRecord, StateStore

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from cockpit.state import ItemRecord, StateStore

    store = StateStore(Path(sys.argv[1]), "production")
    prefix = sys.argv[2]
    count = int(sys.argv[3])
    for n in range(count):
        key = f"{prefix}/{n}"
        store.update(lambda items: items.__setitem__(key, ItemRecord(status="done", by=prefix)))
        print(f"ack {key}", flush=True)
    """
)


def test_round_trip_keeps_every_field(tmp_path):
    store = StateStore(tmp_path, "staging")
    at = datetime(2026, 11, 25, 21, 0, 5, 123456, tzinfo=UTC)
    record = ItemRecord(
        status="skipped", by="bob", address="10.1.1.1", at=at, note="n/a\nhere", evidence="e"
    )
    store.update(lambda items: items.__setitem__("a/b", record))
    again = StateStore(tmp_path, "staging").load()
    assert again.items["a/b"] == record
    assert again.revision == 1
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"


def test_truncated_file_is_detected_and_moved_aside(tmp_path):
    store = StateStore(tmp_path, "production")
    for n in range(5):
        store.update(lambda items, n=n: items.__setitem__(f"s/{n}", ItemRecord(status="done")))
    data = store.path.read_bytes()
    # cut at a line boundary: still valid TOML, but items are missing
    cut = data[: data.rindex(b"[items.")]
    store.path.write_bytes(cut)
    snapshot = store.load()
    assert snapshot.items == {}
    corrupt = store.last_corruption
    assert corrupt is not None
    assert "checksum" in corrupt.reason
    assert corrupt.moved_to.read_bytes() == cut
    assert not store.path.exists()


def test_garbage_and_wrong_environment_are_detected(tmp_path):
    store = StateStore(tmp_path, "production")
    store.path.write_bytes(b"\x00\x01 not toml")
    store.load()
    assert "not valid TOML" in store.last_corruption.reason
    other = StateStore(tmp_path, "staging")
    other.update(lambda items: items.__setitem__("x", ItemRecord(status="done")))
    os.replace(other.path, store.path)
    store.load()
    assert "belongs to environment 'staging'" in store.last_corruption.reason


def _writer(tmp_path, prefix, count):
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path), prefix, str(count)],
        stdout=subprocess.PIPE,
    )


def test_two_writers_lose_no_update(tmp_path):
    first = _writer(tmp_path, "one", 40)
    second = _writer(tmp_path, "two", 40)
    assert first.wait(60) == 0
    assert second.wait(60) == 0
    items = StateStore(tmp_path, "production").load().items
    assert len(items) == 80
    assert StateStore(tmp_path, "production").load().revision == 80


def test_sigkill_at_random_moments_never_loses_an_acknowledged_write(tmp_path):
    rng = random.Random(20261125)
    acknowledged: set[str] = set()
    for round_number in range(12):
        proc = _writer(tmp_path, f"r{round_number}", 10_000)
        deadline = time.monotonic() + rng.uniform(0.15, 0.6)
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        buffer = b""
        while time.monotonic() < deadline:
            chunk = proc.stdout.read()
            if chunk:
                buffer += chunk
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        buffer += proc.stdout.read() or b""
        proc.stdout.close()
        # only complete lines count: a line cut by the kill was never acknowledged
        complete = buffer[: buffer.rfind(b"\n") + 1].decode()
        acknowledged |= {
            line.split(" ", 1)[1] for line in complete.splitlines() if line.startswith("ack ")
        }
        store = StateStore(tmp_path, "production")
        snapshot = store.load()
        assert store.last_corruption is None, store.last_corruption
        missing = acknowledged - set(snapshot.items)
        assert not missing, f"round {round_number}: lost {sorted(missing)[:5]}"
    assert len(acknowledged) > 12  # the writers did get work done between kills
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    # a temp file of a killed writer may remain; it is never read as state
    assert all(name.startswith(".production.toml.") for name in leftovers)


def test_unusable_state_directory_is_a_clear_error(tmp_path):
    from cockpit.errors import StateError

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the state directory should be")
    with pytest.raises(StateError, match="cannot open state directory"):
        StateStore(blocker / "sub", "x").update(lambda items: None)


def test_a_write_is_fsynced_before_the_rename_and_the_folder_after_it(tmp_path, monkeypatch):
    """Atomic and durable: the new file's bytes reach the disk before it replaces the old one,
    and the rename itself is made durable by syncing the folder."""
    events: list[tuple[str, object]] = []
    real_fsync, real_replace, real_open = os.fsync, os.replace, os.open
    opened: dict[int, str] = {}

    def open_(path, flags, *args, **kw):
        fd = real_open(path, flags, *args, **kw)
        opened[fd] = str(path)
        return fd

    def fsync(fd):
        events.append(("fsync", opened.get(fd, "?")))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(dst)))
        return real_replace(src, dst)

    store = StateStore(tmp_path, "production")
    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    store.update(lambda items: items.__setitem__("a/b", ItemRecord(status="done")))
    kinds = [(kind, target.rsplit("/", 1)[-1]) for kind, target in events]
    assert kinds == [
        ("fsync", f".production.toml.{os.getpid()}.tmp"),
        ("replace", "production.toml"),
        ("fsync", tmp_path.name),
    ]
    # each later update is a journal line, fsynced before the update returns
    for n in range(2):
        events.clear()
        store.update(lambda items, n=n: items.__setitem__(f"a/{n}", ItemRecord(status="done")))
        synced = [target for kind, target in events if kind == "fsync"]
        assert any(t.endswith(".journal") for t in synced) or any(
            t.endswith(f".production.toml.{os.getpid()}.tmp") for t in synced
        ), events


def test_a_checksum_covers_every_field_of_an_item(tmp_path):
    store = StateStore(tmp_path, "production")
    at = datetime(2026, 11, 25, 21, 0, 5, tzinfo=UTC)
    record = ItemRecord(status="done", by="bob", address="10.1.1.1", at=at, note="n", evidence="e")
    store.update(lambda items: items.__setitem__("a/b", record))
    original = store.path.read_text()
    for old, new in (
        ('"done"', '"skipped"'),
        ('"bob"', '"eve"'),
        ('"n"', '"m"'),
        ("21:00:05", "21:00:06"),
    ):
        assert old in original, old
        store.path.write_text(original.replace(old, new, 1))
        assert StateStore(tmp_path, "production").peek() is None, old
    store.path.write_text(original)
    assert StateStore(tmp_path, "production").peek() == store.load()


# --- the journal: one line per update, folded into the snapshot now and then -------------------


def _done(key):
    return lambda items: items.__setitem__(key, ItemRecord(status="done", by="t"))


def test_an_update_appends_one_journal_line_and_leaves_the_snapshot_alone(tmp_path):
    store = StateStore(tmp_path, "production")
    for n in range(50):
        store.update(_done(f"s/{n}"))
    snapshot_bytes = store.path.read_bytes()
    size = store.journal_path.stat().st_size
    store.update(_done("s/50"))
    assert store.path.read_bytes() == snapshot_bytes
    line = store.journal_path.read_bytes()[size:]
    assert line.count(b"\n") == 1 and b'"s/50"' in line and len(line) < 400
    again = StateStore(tmp_path, "production").load()
    assert len(again.items) == 51 and again.revision == 51
    assert oct(store.journal_path.stat().st_mode & 0o777) == "0o600"


def test_the_journal_is_folded_into_a_new_snapshot(tmp_path, monkeypatch):
    import cockpit.state

    monkeypatch.setattr(cockpit.state, "COMPACT_AFTER", 5)
    store = StateStore(tmp_path, "production")
    for n in range(8):
        store.update(_done(f"s/{n % 2}"))
    # the first update wrote the snapshot; five journal lines later the seventh folded them
    assert store.journal_path.read_bytes().count(b"\n") == 2  # its header and the eighth
    assert "revision = 7" in store.path.read_text()
    again = StateStore(tmp_path, "production").load()
    assert set(again.items) == {"s/0", "s/1"} and again.revision == 8


def test_a_torn_last_journal_line_is_dropped_and_cut_off_by_the_next_write(tmp_path):
    store = StateStore(tmp_path, "production")
    for n in range(3):
        store.update(_done(f"s/{n}"))
    with open(store.journal_path, "ab") as journal:
        journal.write(b'{"revision": 4, "items": {"s/9": {"sta')  # killed mid-write
    fresh = StateStore(tmp_path, "production")
    assert set(fresh.load().items) == {"s/0", "s/1", "s/2"}
    assert fresh.last_corruption is None
    fresh.update(_done("s/3"))
    again = StateStore(tmp_path, "production")
    assert set(again.load().items) == {"s/0", "s/1", "s/2", "s/3"}
    assert b"sta\n" not in store.journal_path.read_bytes()


def test_an_edited_journal_line_is_detected_and_moved_aside(tmp_path):
    store = StateStore(tmp_path, "production")
    for n in range(4):
        store.update(_done(f"s/{n}"))
    lines = store.journal_path.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"t"', b'"mallory"')
    store.journal_path.write_bytes(b"".join(lines))
    fresh = StateStore(tmp_path, "production")
    assert fresh.load().items == {}
    assert fresh.last_corruption is not None and "journal" in fresh.last_corruption.reason
    assert not store.journal_path.exists() and not store.path.exists()
    assert len(list(tmp_path.glob("production.journal.corrupt-*"))) == 1


def test_a_journal_left_by_an_interrupted_compaction_is_ignored(tmp_path):
    store = StateStore(tmp_path, "production")
    for n in range(3):
        store.update(_done(f"s/{n}"))
    old_journal = store.journal_path.read_bytes()
    # a compaction that wrote the new snapshot and was killed before removing the journal
    snapshot = store.load()
    store._write(snapshot)
    store.journal_path.write_bytes(old_journal)
    fresh = StateStore(tmp_path, "production")
    assert set(fresh.load().items) == {"s/0", "s/1", "s/2"}
    assert fresh.last_corruption is None
    fresh.update(_done("s/3"))  # a new snapshot; the stale journal is kept aside
    assert set(StateStore(tmp_path, "production").load().items) == {f"s/{n}" for n in range(4)}


def test_a_second_store_reads_only_what_was_appended(tmp_path):
    first, second = StateStore(tmp_path, "production"), StateStore(tmp_path, "production")
    first.update(_done("s/0"))
    assert set(second.load().items) == {"s/0"}
    first.update(_done("s/1"))
    second.update(_done("s/2"))
    first.update(_done("s/3"))
    assert set(second.load().items) == {"s/0", "s/1", "s/2", "s/3"}
    assert second.load().revision == 4
    assert second.peek() == first.load()


def test_a_reload_names_only_the_items_another_process_changed(open_session):
    first = open_session("production")
    second = open_session("production", path=first.config.path)
    first.mark_done("Change approved")
    first.mark_done("Backup taken")
    assert second.reload_if_changed()
    assert sorted(second.changed_items) == ["before/backup-taken", "before/change-approved"]
    first.add_note("Backup taken", "kept for a week")
    assert second.reload_if_changed()
    assert second.changed_items == ["before/backup-taken"]


# --- what an operator is told when the state cannot be saved or locked --------------------------


def test_a_full_disk_is_named_with_the_fix_and_the_state_is_left_as_it_was(tmp_path, monkeypatch):
    import errno

    from cockpit.errors import StateError

    store = StateStore(tmp_path, "production")
    store.update(_done("s/0"))
    store.update(_done("s/1"))
    before = (store.path.read_bytes(), store.journal_path.read_bytes())
    real_fsync = os.fsync
    for code, hint in (
        (errno.ENOSPC, "free some disk space, then try again"),
        (errno.EDQUOT, "free some disk space, then try again"),
        (errno.EFBIG, "free some disk space, then try again"),
        (errno.EIO, "check the state dir"),
    ):

        def failing(fd, code=code):
            raise OSError(code, os.strerror(code))

        monkeypatch.setattr(os, "fsync", failing)
        with pytest.raises(StateError) as caught:
            store.update(_done("s/2"))
        monkeypatch.setattr(os, "fsync", real_fsync)
        assert caught.value.message == (
            f"could not save state to {store.path}: {os.strerror(code)}; the previous state "
            "file is untouched and the action is in the audit log"
        )
        assert caught.value.hint == hint
        # no half line left behind: the next reader sees exactly the two saved updates
        assert (store.path.read_bytes(), store.journal_path.read_bytes()) == before
        fresh = StateStore(tmp_path, "production").load()
        assert set(fresh.items) == {"s/0", "s/1"} and fresh.revision == 2
    store.update(_done("s/2"))  # the same store carries on once the disk has room
    assert StateStore(tmp_path, "production").load().revision == 3


def test_a_failed_snapshot_write_leaves_no_temp_file_and_names_the_state_file(
    tmp_path, monkeypatch
):
    import errno

    from cockpit.errors import StateError

    store = StateStore(tmp_path, "production")

    def full(fd, data, offset):
        return 0  # nothing written: what a full disk gives

    monkeypatch.setattr(os, "pwrite", full)
    with pytest.raises(StateError) as caught:
        store.update(_done("s/0"))
    assert f"could not save state to {store.path}: " in caught.value.message
    assert os.strerror(errno.ENOSPC) == "No space left on device"
    assert caught.value.hint == "free some disk space, then try again"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".production.lock"]


def test_a_lock_held_too_long_names_the_cockpit_that_holds_it(tmp_path, monkeypatch):
    import fcntl

    import cockpit.state
    from cockpit.errors import StateError

    monkeypatch.setattr(cockpit.state, "LOCK_TIMEOUT_SECONDS", 0.05)
    store = StateStore(tmp_path, "production")
    store.update(_done("s/0"))
    holder = os.open(store.lock_path, os.O_RDWR)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        os.ftruncate(holder, 0)
        os.pwrite(holder, b"4242 bob\n", 0)
        started = time.monotonic()
        with pytest.raises(StateError) as caught:
            store.update(_done("s/1"))
        waited = time.monotonic() - started
        assert caught.value.message == (
            f"state file {store.path} is locked by another cockpit (pid 4242 bob) for more than 0 s"
        )
        assert caught.value.hint == "wait for it to finish, or stop the other cockpit"
        assert 0.05 <= waited < 2
        os.ftruncate(holder, 0)  # a holder that wrote nothing yet is not named
        with pytest.raises(StateError) as caught:
            store.load()
        assert "locked by another cockpit for more than" in caught.value.message
    finally:
        os.close(holder)
    # released: the update goes through, and the lock file names this process
    store.update(_done("s/1"))
    from cockpit.identity import login_name

    assert store.lock_path.read_text() == f"{os.getpid()} {login_name()}\n"
    assert StateStore(tmp_path, "production").load().revision == 2


def test_a_change_function_sees_and_deletes_the_current_items(tmp_path):
    store = StateStore(tmp_path, "production")
    store.update(_done("s/0"))
    store.update(_done("s/1"))
    seen: list[object] = []

    def change(items):
        seen.append(sorted(items))
        seen.append(len(items))
        del items["s/0"]
        items["s/2"] = ItemRecord(status="skipped")
        seen.append(sorted(items))
        seen.append(len(items))
        seen.append("s/0" in items)
        with pytest.raises(KeyError):
            del items["s/0"]  # already gone
        with pytest.raises(KeyError):
            del items["never/there"]
        with pytest.raises(KeyError):
            items["s/0"]

    snapshot = store.update(change)
    assert seen == [["s/0", "s/1"], 2, ["s/1", "s/2"], 2, False]
    assert set(snapshot.items) == {"s/1", "s/2"}
    again = StateStore(tmp_path, "production").load()
    assert again.items == snapshot.items and again.revision == 3

    def clear(items):
        for key in list(items):
            del items[key]
        seen.append(len(items))
        seen.append(list(items))

    store.update(clear)
    assert seen[-2:] == [0, []]
    assert StateStore(tmp_path, "production").load().items == {}


def test_a_garbled_last_line_is_a_torn_write_but_a_well_formed_forgery_is_not(tmp_path):
    """A crash can leave a last line of garbage (even with its newline, as blocks are
    allocated before they are written): it was never acknowledged and is dropped. A last
    line that parses but does not match its hash was written by someone else: moved aside."""
    store = StateStore(tmp_path, "production")
    for n in range(3):
        store.update(_done(f"s/{n}"))
    good = store.journal_path.read_bytes()
    store.journal_path.write_bytes(good + b'{"revision": 4, "items": {"s/9"\x00\x00\x00\n')
    fresh = StateStore(tmp_path, "production")
    assert set(fresh.load().items) == {"s/0", "s/1", "s/2"}
    assert fresh.last_corruption is None
    forged = good.splitlines()[-1].replace(b'"t"', b'"mallory"')
    store.journal_path.write_bytes(
        good + forged.replace(b'"revision": 3', b'"revision": 4') + b"\n"
    )
    fresh = StateStore(tmp_path, "production")
    assert fresh.load().items == {}
    assert fresh.last_corruption is not None
    assert fresh.last_corruption.reason == (
        "line 4 of the journal production.journal is damaged or out of order (truncated or edited)"
    )


# --- a state file that cannot be trusted: each reason named, nothing read as "nothing done" -----


def _bad_state(tmp_path, text):
    store = StateStore(tmp_path, "production")
    store.path.write_text(text)
    snapshot = store.load()
    assert snapshot.items == {} and snapshot.revision == 0
    assert store.last_corruption is not None
    assert store.last_corruption.path == store.path
    assert store.last_corruption.moved_to.read_text() == text
    assert store.last_corruption.moved_to.name.startswith("production.toml.corrupt-")
    return store.last_corruption.reason


HEAD = 'format = 1\nenvironment = "production"\nrevision = 1\n'


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('format = 2\nenvironment = "production"\n', "unknown format 2"),
        ('environment = "production"\n', "unknown format None"),
        (
            'format = 1\nenvironment = "staging"\n',
            "belongs to environment 'staging', not 'production'",
        ),
        ("format = 1\nrevision = 1\n", "belongs to environment None, not 'production'"),
        (HEAD.replace("revision = 1\n", "") + 'checksum = "x"\n', "revision is missing"),
        (HEAD + 'items = "all"\n', "items is not a table"),
        (HEAD + 'items = {a = "done"}\n', "items.'a' is not a table"),
        (
            HEAD + '[items.a]\nstatus = "finished"\n',
            "items.'a'.status 'finished' is not a known status",
        ),
        (
            HEAD + '[items.a]\nstatus = "done"\nat = "yesterday"\n',
            "items.'a'.at is not a date-time",
        ),
        (HEAD + '[items.a]\nstatus = "done"\nat = 5\n', "items.'a'.at is not a date-time"),
        (
            HEAD + '[items.a]\nstatus = "done"\nchecksum = "x"\n',
            "checksum does not match its content (truncated or edited)",
        ),
    ],
)
def test_each_reason_a_state_file_is_refused_is_named(tmp_path, text, reason):
    assert _bad_state(tmp_path, text) == reason


def test_a_state_file_that_is_not_toml_is_named_with_the_parsers_words(tmp_path):
    reason = _bad_state(tmp_path, "format = = 1\n")
    assert reason.startswith("not valid TOML (") and "line 1" in reason


def test_a_corrupt_state_moves_the_snapshot_and_its_journal_aside_together(tmp_path):
    store = StateStore(tmp_path, "production")
    for n in range(3):
        store.update(_done(f"s/{n}"))
    journal = store.journal_path.read_bytes()
    store.path.write_text(store.path.read_text().replace('"t"', '"eve"'))
    fresh = StateStore(tmp_path, "production")
    assert fresh.load().items == {}
    corrupt = fresh.last_corruption
    assert corrupt is not None and corrupt.path == store.path
    stamp = corrupt.moved_to.name.removeprefix("production.toml.corrupt-")
    assert (tmp_path / f"production.journal.corrupt-{stamp}").read_bytes() == journal
    assert not store.path.exists() and not store.journal_path.exists()
    # what is left is a fresh start: the next mark writes revision 1
    assert fresh.update(_done("s/9")).revision == 1
    assert set(StateStore(tmp_path, "production").load().items) == {"s/9"}


def test_peek_reads_without_moving_anything_aside(tmp_path):
    store = StateStore(tmp_path, "production")
    assert store.peek() is None  # nothing yet
    store.update(_done("s/0"))
    store.update(_done("s/1"))
    peeked = StateStore(tmp_path, "production").peek()
    assert peeked is not None and set(peeked.items) == {"s/0", "s/1"} and peeked.revision == 2
    good = store.path.read_text()
    store.path.write_text(good.replace('"t"', '"eve"'))
    assert store.peek() is None
    assert store.path.read_text() == good.replace('"t"', '"eve"')  # left where it was
    assert store.last_corruption is None
    os.unlink(store.path)
    os.symlink(tmp_path / "elsewhere.toml", store.path)
    assert store.peek() is None  # a link is unreadable, not a crash


def test_the_change_token_moves_with_the_snapshot_and_the_journal(tmp_path):
    store = StateStore(tmp_path, "production")
    assert store.mtime_ns() is None
    store.update(_done("s/0"))
    first = store.mtime_ns()
    assert first is not None and len(first) == 6 and first[3:] == (0, 0, 0)  # no journal yet
    store.update(_done("s/1"))
    second = store.mtime_ns()
    assert second is not None and second[:3] == first[:3] and second[3:] != (0, 0, 0)
    store.update(_done("s/2"))
    assert store.mtime_ns() != second


def test_a_state_file_others_can_write_is_refused_with_the_fix(tmp_path):
    from cockpit.errors import StateError

    store = StateStore(tmp_path, "production")
    store.update(_done("s/0"))
    for mode in (0o620, 0o602):
        os.chmod(store.path, mode)
        with pytest.raises(StateError) as caught:
            StateStore(tmp_path, "production").load()
        assert caught.value.message == (
            f"state file {store.path} is writable by other users (mode {mode:o}): anyone "
            "could rewrite the go-live's progress"
        )
        assert caught.value.hint == f"chmod go-w {store.path}"
    os.chmod(store.path, 0o644)
    assert set(StateStore(tmp_path, "production").load().items) == {"s/0"}


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("production.toml", "state file"),
        ("production.journal", "state journal"),
        (".production.lock", "lock file"),
    ],
)
def test_a_link_in_place_of_a_state_file_is_refused_and_named(tmp_path, name, what):
    from cockpit.errors import StateError

    store = StateStore(tmp_path, "production")
    store.update(_done("s/0"))
    store.update(_done("s/1"))
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / name).unlink()
    (tmp_path / name).symlink_to(victim)
    with pytest.raises(StateError) as caught:
        StateStore(tmp_path, "production").update(_done("s/2"))
    assert caught.value.message.startswith(f"{what} {tmp_path / name} is a symbolic link")
    assert victim.read_text() == "precious\n"


def test_a_link_in_place_of_the_temp_file_is_refused(tmp_path):
    from cockpit.errors import StateError

    store = StateStore(tmp_path, "production")
    temp = tmp_path / f".production.toml.{os.getpid()}.tmp"
    temp.symlink_to(tmp_path / "victim")
    with pytest.raises(StateError) as caught:
        store.update(_done("s/0"))
    assert caught.value.message.startswith(f"state temp file {temp} is a symbolic link")
    assert not (tmp_path / "victim").exists()


# --- the journal: what a reader keeps, and when it reads everything again ------------------------


def test_the_audit_head_and_the_write_time_survive_the_journal_and_the_snapshot(
    tmp_path, monkeypatch
):
    import cockpit.state
    from cockpit.state import AuditHead

    store = StateStore(tmp_path, "production")
    first = store.update(_done("s/0"), AuditHead(1, "a" * 64))  # the snapshot
    second = store.update(_done("s/1"), AuditHead(2, "b" * 64))  # a journal line
    third = store.update(_done("s/2"))  # no new head: the last one stands
    assert first.audit_head == AuditHead(1, "a" * 64)
    assert third.audit_head == AuditHead(2, "b" * 64)
    assert third.written_at is not None and third.written_at.microsecond == 0
    again = StateStore(tmp_path, "production").load()
    assert again == third
    assert again.audit_head == AuditHead(2, "b" * 64) and again.written_at == third.written_at
    assert second.written_at is not None
    # folded into a snapshot, the same
    monkeypatch.setattr(cockpit.state, "COMPACT_AFTER", 1)
    store.update(_done("s/0"))
    folded = store.update(_done("s/0"))  # four journal lines, three records: folded
    assert b"audit_head" in store.path.read_bytes() and not store.journal_path.exists()
    reread = StateStore(tmp_path, "production").load()
    assert reread == folded and reread.audit_head == AuditHead(2, "b" * 64)


def test_a_journal_of_another_environment_or_without_a_header_is_refused(tmp_path):
    store = StateStore(tmp_path, "production")
    store.update(_done("s/0"))
    store.update(_done("s/1"))
    lines = store.journal_path.read_bytes().splitlines(keepends=True)
    other = StateStore(tmp_path / "other", "staging")
    other.update(_done("x"))
    other.update(_done("y"))
    store.journal_path.write_bytes(
        other.journal_path.read_bytes().splitlines(keepends=True)[0] + lines[1]
    )
    fresh = StateStore(tmp_path, "production")
    assert fresh.load().items == {}
    assert fresh.last_corruption is not None
    assert fresh.last_corruption.reason == "the journal production.journal has no valid first line"


def test_a_journal_that_extends_another_snapshot_is_refused(tmp_path):
    """A state file restored from a backup, with the journal of the newer one beside it."""
    store = StateStore(tmp_path, "production")
    store.update(_done("s/0"))
    backup = store.path.read_bytes()
    import cockpit.state

    cockpit.state.COMPACT_AFTER, saved = 1, cockpit.state.COMPACT_AFTER
    try:
        store.update(_done("s/0"))
        store.update(_done("s/0"))  # folded: a new snapshot (revision 3)
    finally:
        cockpit.state.COMPACT_AFTER = saved
    assert not store.journal_path.exists()
    store.update(_done("s/3"))  # journal line 4 on snapshot 3
    store.path.write_bytes(backup)  # revision 1 restored
    fresh = StateStore(tmp_path, "production")
    assert fresh.load().items == {}
    assert fresh.last_corruption is not None
    assert fresh.last_corruption.reason == (
        "the journal production.journal does not extend this state file "
        "(the state file was replaced or restored)"
    )


def test_a_journal_whose_snapshot_was_deleted_is_kept_aside_and_the_state_rebuilt(tmp_path):
    store = StateStore(tmp_path, "production")
    store.update(_done("s/0"))
    store.update(_done("s/1"))
    journal = store.journal_path.read_bytes()
    store.path.unlink()
    fresh = StateStore(tmp_path, "production")
    assert fresh.load().items == {} and fresh.last_corruption is None
    assert fresh.peek() is None or fresh.peek().items == {}
    fresh.update(_done("s/9"))
    (stale,) = tmp_path.glob("production.journal.stale-*")
    assert stale.read_bytes() == journal  # not ours to judge: kept, never deleted
    assert set(StateStore(tmp_path, "production").load().items) == {"s/9"}


def test_a_reader_follows_appends_and_reads_again_when_the_journal_is_replaced(
    tmp_path, monkeypatch
):
    import cockpit.state

    writer, reader = StateStore(tmp_path, "production"), StateStore(tmp_path, "production")
    writer.update(_done("s/0"))
    writer.update(_done("s/1"))
    assert set(reader.load().items) == {"s/0", "s/1"}
    assert reader.load().revision == 2  # nothing new: the same
    writer.update(_done("s/2"))
    assert set(reader.load().items) == {"s/0", "s/1", "s/2"}
    # the journal cut back to its header: the reader reads everything again
    header = writer.journal_path.read_bytes().splitlines(keepends=True)[0]
    full = writer.journal_path.read_bytes()
    writer.journal_path.write_bytes(header)
    assert reader.load().revision == 1
    writer.journal_path.write_bytes(full)
    assert reader.load().revision == 3
    # the journal gone: the snapshot alone; back again: followed again
    writer.journal_path.unlink()
    assert reader.load().revision == 1
    writer.journal_path.write_bytes(full)
    assert reader.load().revision == 3
    # another journal of the same snapshot in its place (another header: read again)
    monkeypatch.setattr(cockpit.state, "COMPACT_AFTER", 1)
    writer.update(_done("s/0"))
    writer.update(_done("s/0"))  # folded into snapshot 5, the journal removed
    assert not writer.journal_path.exists()
    monkeypatch.setattr(cockpit.state, "COMPACT_AFTER", 1000)
    assert reader.load().revision == 5
    writer.update(_done("s/6"))
    assert reader.load().revision == 6 and set(reader.load().items) == {"s/0", "s/1", "s/2", "s/6"}


GOLDEN_SNAPSHOT = """\
# cockpit state: written by cockpit; change it with `cockpit mark`, not by hand
format = 1
environment = "production"
revision = 1
written_at = 2026-12-01 09:00:00+00:00
checksum = "sha256:8aa33005267242aef4f06a8cfc6625053b9594e02e79fe66c8b1cb4b55f7d503"

[audit_head]
seq = 3
hash = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

[items."before/backup-taken"]
status = "done"
by = "alice"
from = "10.0.0.7"
at = 2026-12-01 08:59:01+00:00
note = "kept a week"
evidence = "s3://b/1"
"""
_B = "b" * 64
GOLDEN_JOURNAL = (
    '{"environment": "production", "base": "sha256:8aa33005267242aef4f06a8cfc6625053b9594e02e'
    '79fe66c8b1cb4b55f7d503", "revision": 1, "prev": "", "hash": "b32d37dca53845175263be3d1e23'
    '6f0f6c0263f6c6a08e3f998b4d88d7db763d"}\n'
    '{"revision": 2, "written_at": "2026-12-01T09:05:00+00:00", "audit_head": [5, "' + _B + '"]'
    ', "items": {"deploy/smoke": {"status": "failed", "by": "bob", "note": "délai dépassé ✗"}}'
    ', "prev": "b32d37dca53845175263be3d1e236f0f6c0263f6c6a08e3f998b4d88d7db763d", "hash": "a8'
    '5a9cf85dfce4ac372716d7f510d623aa085ca5ae850b71afbfcb187f56abd1"}\n'
    '{"revision": 3, "written_at": "2026-12-01T09:07:30+00:00", "audit_head": [5, "' + _B + '"]'
    ', "items": {"before/backup-taken": null}, "prev": "a85a9cf85dfce4ac372716d7f510d623aa085ca'
    '5ae850b71afbfcb187f56abd1", "hash": "8b0570b51844824c42671e6e5d90851cc3e356e992152b93143ec'
    '297b6cadfc9"}\n'
)


def _golden_updates(store, monkeypatch):
    """The three updates that wrote GOLDEN_*, at fixed times."""
    import cockpit.state
    from cockpit.state import AuditHead

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return next(times)

    times = iter(Clock(2026, 12, 1, 9, m, s, tzinfo=UTC) for m, s in ((0, 0), (5, 0), (7, 30)))
    monkeypatch.setattr(cockpit.state, "datetime", Clock)
    at = Clock(2026, 12, 1, 8, 59, 1, tzinfo=UTC)
    backup = ItemRecord("done", "alice", "10.0.0.7", at, "kept a week", "s3://b/1")
    store.update(lambda i: i.__setitem__("before/backup-taken", backup), AuditHead(3, "a" * 64))
    smoke = ItemRecord("failed", "bob", note="délai dépassé ✗")
    store.update(lambda i: i.__setitem__("deploy/smoke", smoke), AuditHead(5, _B))
    store.update(lambda i: i.pop("before/backup-taken"))


def test_a_state_written_before_an_upgrade_still_loads(tmp_path):
    """The snapshot's checksum and the journal's hashes are a file format: a cockpit upgraded
    mid-go-live must read the state the previous one wrote, not move it aside as corrupt."""
    from cockpit.state import AuditHead

    (tmp_path / "production.toml").write_text(GOLDEN_SNAPSHOT, encoding="utf-8")
    (tmp_path / "production.journal").write_text(GOLDEN_JOURNAL, encoding="utf-8")
    for path in tmp_path.iterdir():
        path.chmod(0o600)
    store = StateStore(tmp_path, "production")
    snapshot = store.load()
    assert store.last_corruption is None
    smoke = ItemRecord(status="failed", by="bob", note="délai dépassé ✗")
    assert snapshot.items == {"deploy/smoke": smoke}
    assert snapshot.record("deploy/smoke") == smoke and snapshot.record("nope") is None
    assert (snapshot.environment, snapshot.revision) == ("production", 3)
    assert snapshot.audit_head == AuditHead(5, _B)
    assert snapshot.written_at == datetime(2026, 12, 1, 9, 7, 30, tzinfo=UTC)


def test_the_same_updates_write_the_same_files(tmp_path, monkeypatch):
    """What this version writes is what the previous one wrote: readable UTF-8 text (a note
    in any language is greppable, never escaped) with the same checksum and hashes."""
    store = StateStore(tmp_path, "production")
    _golden_updates(store, monkeypatch)
    assert store.path.read_text(encoding="utf-8") == GOLDEN_SNAPSHOT
    assert store.journal_path.read_text(encoding="utf-8") == GOLDEN_JOURNAL


def test_every_write_time_is_utc(tmp_path):
    snapshot = StateStore(tmp_path, "production").update(_done("s/0"))
    assert snapshot.written_at is not None and snapshot.written_at.utcoffset().total_seconds() == 0


def test_a_change_function_reads_its_own_changes_and_lists_each_item_once(tmp_path):
    """What a change function sets it can read back; an item changed is listed once; one
    added and removed again in the same update leaves nothing (the next reader agrees)."""
    store = StateStore(tmp_path, "production")
    store.update(_done("s/a"))
    store.update(_done("s/b"))
    seen = {}

    def change(items):
        items["s/b"] = ItemRecord(status="skipped", by="t")
        items["s/new"] = ItemRecord(status="done", by="t")
        items["s/gone"] = ItemRecord(status="done", by="t")
        del items["s/gone"]
        seen["b"] = items["s/b"].status
        seen["keys"] = list(items)

    store.update(change)
    assert seen == {"b": "skipped", "keys": ["s/a", "s/b", "s/new"]}
    again = StateStore(tmp_path, "production").load()
    assert sorted(again.items) == ["s/a", "s/b", "s/new"] and again.items["s/b"].status == "skipped"


def test_state_files_are_read_and_written_whole_whatever_the_filesystem_returns(
    tmp_path, monkeypatch
):
    """A network or FUSE filesystem may read or write a few bytes per call: the state is
    still read and written whole (and a write that makes no progress is a full disk)."""
    from cockpit.errors import StateError

    store = StateStore(tmp_path, "production")
    store.update(_done("s/0"))
    real_pread, real_pwrite = os.pread, os.pwrite
    monkeypatch.setattr(os, "pread", lambda fd, n, offset: real_pread(fd, min(n, 1), offset))
    monkeypatch.setattr(os, "pwrite", lambda fd, data, offset: real_pwrite(fd, data[:1], offset))
    for n in range(1, 4):
        store.update(_done(f"s/{n}"))
    assert sorted(StateStore(tmp_path, "production").load().items) == [f"s/{n}" for n in range(4)]
    monkeypatch.setattr(os, "pread", real_pread)
    monkeypatch.setattr(os, "pwrite", lambda fd, data, offset: 0)
    with pytest.raises(StateError) as caught:
        store.update(_done("s/4"))
    assert caught.value.message == (
        f"could not save state to {store.path}: short write; the previous state file is "
        "untouched and the action is in the audit log"
    )
    assert caught.value.hint == "free some disk space, then try again"


def test_a_reload_reads_only_what_was_appended_since(tmp_path, monkeypatch):
    """Every redraw of a shared go-live reloads the state: it costs the new lines (and a check
    of the journal's first line), never a read of the whole state again."""
    writer, reader = StateStore(tmp_path, "production"), StateStore(tmp_path, "production")
    for n in range(20):
        writer.update(_done(f"s/{n}"))
    reader.load()
    writer.update(_done("s/20"))
    header, *_, line = writer.journal_path.read_bytes().splitlines(keepends=True)
    read = []
    real_pread = os.pread

    def pread(fd, n, offset):
        data = real_pread(fd, n, offset)
        read.append(len(data))
        return data

    monkeypatch.setattr(os, "pread", pread)
    assert len(reader.load().items) == 21
    assert sum(read) == len(header) + len(line)
    read.clear()
    reader.update(_done("s/21"))  # its own line: nothing to read back
    assert sum(read) == len(header) and len(reader.load().items) == 22


def test_a_journal_changed_after_it_was_read_is_named_and_moved_aside(tmp_path):
    store = StateStore(tmp_path, "production")
    for n in range(3):
        store.update(_done(f"s/{n}"))
    store.load()
    with open(store.journal_path, "ab") as journal:
        journal.write(b'{"revision": 4, "items": {}}\n')  # well formed, but not chained
    snapshot = store.load()
    assert snapshot.items == {} and snapshot.environment == "production"
    assert store.last_corruption is not None
    assert store.last_corruption.reason == (
        "line 4 of the journal production.journal is damaged or out of order (truncated or edited)"
    )
    import re

    assert re.fullmatch(
        r"production\.toml\.corrupt-\d{8}T\d{12}Z", store.last_corruption.moved_to.name
    )
    stamp = datetime.strptime(store.last_corruption.moved_to.name[-22:], "%Y%m%dT%H%M%S%fZ")
    assert abs((stamp.replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds()) < 60
    assert len(list(tmp_path.glob("production.journal.corrupt-*"))) == 1


def test_a_journal_line_from_another_journal_or_without_its_hash_is_damage(tmp_path):
    """Each line must follow the one before it: a line taken from another copy of the state
    (same revision, a valid hash of its own) or one whose hash was removed is caught."""
    import json

    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for folder, who in ((ours, "ours"), (theirs, "theirs")):
        folder.mkdir(mode=0o700)
        store = StateStore(folder, "production")
        store.update(_done("s/0"))
        store.path.write_bytes((ours / "production.toml").read_bytes())
        for n in range(1, 4):
            store.update(
                lambda items, n=n, who=who: items.__setitem__(
                    f"s/{n}", ItemRecord(status="done", by=who)
                )
            )
    snapshot = (ours / "production.toml").read_bytes()
    mine = (ours / "production.journal").read_bytes().splitlines(keepends=True)
    other = (theirs / "production.journal").read_bytes().splitlines(keepends=True)
    unhashed = json.loads(mine[2])
    del unhashed["hash"]
    for second in (other[2], (json.dumps(unhashed) + "\n").encode()):
        (ours / "production.toml").write_bytes(snapshot)
        (ours / "production.journal").write_bytes(b"".join([mine[0], mine[1], second, mine[3]]))
        fresh = StateStore(ours, "production")
        assert fresh.load().items == {}
        assert fresh.last_corruption is not None
        assert fresh.last_corruption.reason.startswith("line 3 of the journal")


def test_a_journal_cut_short_while_it_was_created_is_ignored_and_replaced(tmp_path):
    store = StateStore(tmp_path, "production")
    store.update(_done("s/0"))
    store.journal_path.write_bytes(b'{"environment": "prod')  # killed creating it
    store.journal_path.chmod(0o600)
    fresh = StateStore(tmp_path, "production")
    assert set(fresh.load().items) == {"s/0"} and fresh.last_corruption is None
    fresh.update(_done("s/1"))
    again = StateStore(tmp_path, "production")
    assert set(again.load().items) == {"s/0", "s/1"} and again.last_corruption is None


def test_a_snapshot_swapped_for_another_of_the_same_revision_is_not_extended(tmp_path):
    """Another copy of the state (another host's, or a backup of a parallel run) at the same
    revision: this journal extends a different snapshot, so it is refused, never applied."""
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    for folder, key in ((ours, "s/ours"), (theirs, "s/theirs")):
        folder.mkdir(mode=0o700)
        StateStore(folder, "production").update(_done(key))
    StateStore(ours, "production").update(_done("s/1"))
    (ours / "production.toml").write_bytes((theirs / "production.toml").read_bytes())
    fresh = StateStore(ours, "production")
    assert fresh.load().items == {}
    assert fresh.last_corruption is not None
    assert "does not extend this state file" in fresh.last_corruption.reason


def test_a_stale_journal_with_a_torn_last_line_is_still_stale(tmp_path):
    """A compaction cut short after a writer was killed mid-line: the old journal is known by
    its last complete line's revision, the torn one aside."""
    store = StateStore(tmp_path, "production")
    for n in range(3):
        store.update(_done(f"s/{n}"))
    old_journal = store.journal_path.read_bytes() + b'{"revision": 4, "ite'
    store._write(store.load())
    store.journal_path.write_bytes(old_journal)
    fresh = StateStore(tmp_path, "production")
    assert set(fresh.load().items) == {"s/0", "s/1", "s/2"}
    assert fresh.last_corruption is None


def test_marking_works_again_after_a_snapshot_could_not_be_written(tmp_path, monkeypatch):
    """A full disk freed, or a temp file's place taken by a folder: the same cockpit marks
    again without a restart."""
    from cockpit.errors import StateError

    store = StateStore(tmp_path, "production")
    real_pwrite = os.pwrite
    monkeypatch.setattr(os, "pwrite", lambda fd, data, offset: 0)
    with pytest.raises(StateError):
        store.update(_done("s/0"))
    monkeypatch.setattr(os, "pwrite", real_pwrite)
    temp = tmp_path / f".production.toml.{os.getpid()}.tmp"
    temp.mkdir()
    with pytest.raises(StateError) as caught:
        store.update(_done("s/0"))
    assert caught.value.message.startswith(f"could not save state to {store.path}: Is a directory")
    temp.rmdir()
    store.update(_done("s/0"))
    assert set(StateStore(tmp_path, "production").load().items) == {"s/0"}


def test_the_next_write_leaves_nothing_of_a_torn_line_longer_than_itself(tmp_path):
    store = StateStore(tmp_path, "production")
    for n in range(2):
        store.update(_done(f"s/{n}"))
    with open(store.journal_path, "ab") as journal:
        journal.write(b'{"revision": 3, "items": {"s/9": {"status": "done", "note": "' + b"x" * 500)
    store.update(_done("s/2"))
    lines = store.journal_path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(b"xxxx" not in line for line in lines)


def test_the_change_token_sees_a_journal_without_its_snapshot(tmp_path):
    store = StateStore(tmp_path, "production")
    store.update(_done("s/0"))
    store.update(_done("s/1"))
    store.path.unlink()
    assert store.mtime_ns() is not None


def test_a_state_file_others_can_only_read_or_run_is_accepted(tmp_path):
    store = StateStore(tmp_path, "production")
    store.update(_done("s/0"))
    store.path.chmod(0o755)
    assert set(StateStore(tmp_path, "production").load().items) == {"s/0"}


def test_a_state_file_that_cannot_be_read_is_named_with_the_fix(tmp_path):
    from cockpit.errors import StateError

    store = StateStore(tmp_path, "production")
    store.path.mkdir()
    with pytest.raises(StateError) as caught:
        store.load()
    assert caught.value.message == f"cannot read state file {store.path}: Is a directory"
    assert caught.value.hint == "check the permissions of the state directory"


def test_a_link_put_in_place_of_the_journal_while_the_cockpit_runs_is_refused(tmp_path):
    from cockpit.errors import StateError

    store = StateStore(tmp_path, "production")
    store.update(_done("s/0"))
    store.update(_done("s/1"))
    victim = tmp_path / "victim"
    victim.write_text("precious\n")

    def swap():
        store.journal_path.unlink()
        store.journal_path.symlink_to(victim)

    swap()  # between two reads of this process
    with pytest.raises(StateError) as caught:
        store.load()
    assert caught.value.message.startswith(f"state journal {store.journal_path} is a symbolic")
    store.journal_path.unlink()
    store.update(_done("s/2"))
    # and between the read and the write of one update
    with pytest.raises(StateError) as caught:
        store.update(lambda items: (items.__setitem__("s/3", ItemRecord("done")), swap()))
    assert caught.value.message.startswith(f"state journal {store.journal_path} is a symbolic")
    assert victim.read_text() == "precious\n"
