"""Durable go-live progress: a TOML snapshot per environment plus an append-only journal.

The state is what lets an operator whose SSH session dropped pick up exactly where they were.
It lives in two files: `ENV.toml`, a complete snapshot written atomically (temp file, fsync,
rename, fsync of the folder) and carrying a checksum, and `ENV.journal`, one hash-chained JSON
line per update since that snapshot, each fsynced before the update returns. A mark therefore
costs one short append whatever the checklist's size; when the journal holds more lines than
the snapshot has records (and at least COMPACT_AFTER), the next update folds it into a new
snapshot, so reading stays within twice the snapshot and the rewrite is paid once per that many
marks. Every read-modify-write happens under an exclusive lock (two cockpits on one state never
lose each other's updates); a process keeps what it read and, under the lock, reads only what
others appended since. A truncated or hand-mangled snapshot, or a journal line that breaks the
chain before its end, is detected, moved aside and reported instead of being read as "nothing
done yet" (the session then rebuilds the state from the audit log). A torn last journal line
(the writer was killed mid-write, before it acknowledged) is dropped.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import stat
import time
import tomllib
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

import tomli_w

from cockpit.errors import StateError
from cockpit.identity import login_name
from cockpit.private_files import open_private, private_directory, read_private

ItemStatus = Literal["pending", "running", "passed", "failed", "done", "skipped"]
ITEM_STATUSES: tuple[str, ...] = get_args(ItemStatus)
FORMAT_VERSION = 1
LOCK_TIMEOUT_SECONDS = 10.0
COMPACT_AFTER = 1000  # journal lines before a compaction is due (or the record count, if more)


@dataclass(frozen=True)
class ItemRecord:
    """What the cockpit knows about one item beyond the runbook itself."""

    status: ItemStatus = "pending"
    by: str | None = None
    address: str | None = None
    at: datetime | None = None
    note: str = ""
    evidence: str = ""

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if self.by:
            out["by"] = self.by
        if self.address:
            out["from"] = self.address
        if self.at:
            out["at"] = self.at
        if self.note:
            out["note"] = self.note
        if self.evidence:
            out["evidence"] = self.evidence
        return out

    @classmethod
    def from_toml(cls, item_id: str, raw: object) -> ItemRecord:
        if not isinstance(raw, dict):
            raise ValueError(f"items.{item_id!r} is not a table")
        status = raw.get("status", "pending")
        if status not in ITEM_STATUSES:
            raise ValueError(f"items.{item_id!r}.status {status!r} is not a known status")
        at = raw.get("at")
        if isinstance(at, str):  # a journal line (JSON) carries it as ISO 8601
            try:
                at = datetime.fromisoformat(at)
            except ValueError:
                raise ValueError(f"items.{item_id!r}.at is not a date-time") from None
        if at is not None and not isinstance(at, datetime):
            raise ValueError(f"items.{item_id!r}.at is not a date-time")
        return cls(
            status=status,
            by=_opt_str(raw.get("by")),
            address=_opt_str(raw.get("from")),
            at=at,
            note=str(raw.get("note", "")),
            evidence=str(raw.get("evidence", "")),
        )


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class AuditHead:
    """The audit line the state was written after: lets `audit verify` spot a cut-off log."""

    seq: int
    hash: str


@dataclass(frozen=True)
class StateSnapshot:
    environment: str
    revision: int = 0
    items: dict[str, ItemRecord] = field(default_factory=dict)
    audit_head: AuditHead | None = None
    written_at: datetime | None = None

    def record(self, item_id: str) -> ItemRecord | None:
        return self.items.get(item_id)


@dataclass(frozen=True)
class CorruptState:
    """A state file that could not be trusted, and where it was moved."""

    path: Path
    moved_to: Path
    reason: str


class _Changes(MutableMapping[str, ItemRecord]):
    """What an update's change function sees: the current records, with its changes kept
    apart, so that only they are journalled (and nothing is copied to find them)."""

    def __init__(self, base: dict[str, ItemRecord]) -> None:
        self.base = base
        self.changed: dict[str, ItemRecord | None] = {}

    def __getitem__(self, key: str) -> ItemRecord:
        if key in self.changed:
            value = self.changed[key]
            if value is None:
                raise KeyError(key)
            return value
        return self.base[key]

    def __setitem__(self, key: str, value: ItemRecord) -> None:
        self.changed[key] = value

    def __delitem__(self, key: str) -> None:
        if self.get(key) is None:
            raise KeyError(key)
        self.changed[key] = None

    def __iter__(self) -> Iterator[str]:
        for key in self.base:
            if self.changed.get(key, self.base[key]) is not None:
                yield key
        for key, value in self.changed.items():
            if key not in self.base and value is not None:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass
class _Read:
    """What this process last read of the state, and where the files stood then."""

    snapshot: StateSnapshot
    snapshot_file: tuple[int, int, int, int] | None  # (device, inode, size, mtime) or missing
    base: str  # checksum of the snapshot file the journal extends ("" when there is none)
    base_revision: int
    journal_file: tuple[int, int] | None  # (device, inode) of the journal, None when missing
    journal_header: bytes = b""
    journal_end: int = 0  # bytes of valid, complete lines
    journal_lines: int = 0  # update lines since the snapshot
    journal_hash: str = ""  # of the last valid line
    journal_stale: bool = False  # left by a compaction that was cut short: to be removed


class StateStore:
    """The state of one environment (snapshot and journal), with its lock."""

    def __init__(self, directory: Path, environment: str) -> None:
        self.directory = directory
        self.environment = environment
        self.path = directory / f"{environment}.toml"
        self.journal_path = directory / f"{environment}.journal"
        self.lock_path = directory / f".{environment}.lock"
        self.last_corruption: CorruptState | None = None
        self._read: _Read | None = None

    # --- reading -------------------------------------------------------------------------------

    def load(self) -> StateSnapshot:
        """Current state; a corrupt file is moved aside (see `last_corruption`), never dropped."""
        with self._locked():
            return self._current().snapshot

    def peek(self) -> StateSnapshot | None:
        """The state as it is on disk, or None when missing or unreadable; changes nothing."""
        try:
            raw = read_private(self.path, "state file", StateError)
        except FileNotFoundError:
            raw = None
        except (OSError, StateError):
            return None
        try:
            read = self._parse_all(raw)
        except (OSError, ValueError, StateError):
            return None
        if raw is None and read.journal_file is None:
            return None
        return read.snapshot

    def mtime_ns(self) -> tuple[int, ...] | None:
        """A token that changes whenever the state does (the snapshot or the journal)."""
        token: tuple[int, ...] = ()
        for path in (self.path, self.journal_path):
            try:
                st = path.stat()
            except FileNotFoundError:
                token += (0, 0, 0)
                continue
            token += (st.st_ino, st.st_size, st.st_mtime_ns)
        return token if any(token) else None

    def _current(self) -> _Read:
        """Under the lock: what is on disk now, reading only the journal's new lines when the
        snapshot is the one this process read last; a corrupt state is moved aside."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            st = None
        if st is not None and st.st_mode & 0o022 and not stat.S_ISLNK(st.st_mode):
            raise StateError(  # a link is refused when it is opened
                f"state file {self.path} is writable by other users (mode "
                f"{st.st_mode & 0o777:o}): anyone could rewrite the go-live's progress",
                f"chmod go-w {self.path}",
            )
        ident = None if st is None else (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        known = self._read
        if known is not None and known.snapshot_file == ident and not known.journal_stale:
            try:
                self._follow(known)
                return known
            except _Reread:
                pass
            except ValueError as exc:
                return self._quarantine_all(str(exc))
        try:
            raw = read_private(self.path, "state file", StateError)
        except FileNotFoundError:
            raw = None
        except OSError as exc:
            raise StateError(
                f"cannot read state file {self.path}: {exc.strerror}",
                "check the permissions of the state directory",
            ) from exc
        try:
            read = self._parse_all(raw)
        except ValueError as exc:
            return self._quarantine_all(str(exc))
        read.snapshot_file = ident
        self._read = read
        return read

    def _parse_all(self, raw: bytes | None) -> _Read:
        """The snapshot (None: no file) and the journal lines that extend it."""
        if raw is None:
            snapshot, base = StateSnapshot(environment=self.environment), ""
        else:
            snapshot, base = self._parse(raw)
        read = _Read(snapshot, None, base, snapshot.revision, None)
        try:
            fd = open_private(self.journal_path, os.O_RDONLY, "state journal", StateError)
        except FileNotFoundError:
            return read
        try:
            st = os.fstat(fd)
            data = _pread_all(fd, 0, st.st_size)
        finally:
            os.close(fd)
        read.journal_file = (st.st_dev, st.st_ino)
        self._parse_journal(read, data)
        return read

    def _parse_journal(self, read: _Read, data: bytes) -> None:
        newline = data.find(b"\n")
        if newline == -1:  # a header cut short: the journal was being created
            read.journal_stale = True
            return
        header = _journal_line(data[: newline + 1], "")
        if header is None or header.get("environment") != self.environment:
            raise ValueError(f"the journal {self.journal_path.name} has no valid first line")
        if read.base == "" and header.get("base"):
            read.journal_stale = True  # its snapshot was deleted: the session rebuilds
            return
        if header.get("base") != read.base or header.get("revision") != read.base_revision:
            # A journal of another snapshot: left by a compaction cut short (everything in it
            # is in the snapshot), or the snapshot was replaced by an older one.
            last = _last_revision(data)
            if last is not None and last <= read.base_revision:
                read.journal_stale = True
                return
            raise ValueError(
                f"the journal {self.journal_path.name} does not extend this state file "
                "(the state file was replaced or restored)"
            )
        read.journal_header = data[: newline + 1]
        read.journal_end = newline + 1
        read.journal_hash = str(header["hash"])
        self._apply_lines(read, data, newline + 1)

    def _follow(self, read: _Read) -> None:
        """Bring `read` up to date with lines appended since; _Reread if the journal is not
        the one read before."""
        try:
            fd = open_private(self.journal_path, os.O_RDONLY, "state journal", StateError)
        except FileNotFoundError:
            if read.journal_file is None:
                return
            raise _Reread() from None
        try:
            st = os.fstat(fd)
            if read.journal_file is None or (st.st_dev, st.st_ino) != read.journal_file:
                raise _Reread()
            if st.st_size < read.journal_end:
                raise _Reread()
            if os.pread(fd, len(read.journal_header), 0) != read.journal_header:
                raise _Reread()
            if st.st_size == read.journal_end:
                return
            data = _pread_all(fd, read.journal_end, st.st_size - read.journal_end)
        finally:
            os.close(fd)
        self._apply_lines(read, data, 0, base_offset=read.journal_end)

    def _apply_lines(self, read: _Read, data: bytes, start: int, base_offset: int = 0) -> None:
        """Fold complete, chained lines of `data` from `start` into `read`; a torn tail is
        left out (and cut off by the next write), a broken line before the end is corruption."""
        items: dict[str, ItemRecord] | None = None
        snapshot = read.snapshot
        position = start
        while position < len(data):
            newline = data.find(b"\n", position)
            if newline == -1:
                break  # torn: never acknowledged
            line = _journal_line(data[position : newline + 1], read.journal_hash)
            if line is None or line.get("revision") != snapshot.revision + 1:
                if data.find(b"\n", newline + 1) == -1 and _torn(data[position:]):
                    break
                raise ValueError(
                    f"line {read.journal_lines + 2} of the journal {self.journal_path.name} "
                    "is damaged or out of order (truncated or edited)"
                )
            if items is None:
                items = dict(snapshot.items)
            for key, raw in line["items"].items():
                if raw is None:
                    items.pop(key, None)
                else:
                    items[key] = ItemRecord.from_toml(key, raw)
            head = line.get("audit_head")
            written = line.get("written_at")
            snapshot = StateSnapshot(
                environment=self.environment,
                revision=snapshot.revision + 1,
                items=items,
                audit_head=AuditHead(int(head[0]), str(head[1])) if head else snapshot.audit_head,
                written_at=datetime.fromisoformat(written)
                if isinstance(written, str)
                else snapshot.written_at,
            )
            read.journal_hash = str(line["hash"])
            read.journal_lines += 1
            position = newline + 1
            read.journal_end = base_offset + position
        read.snapshot = snapshot

    def _parse(self, raw: bytes) -> tuple[StateSnapshot, str]:
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"not valid TOML ({exc})") from exc
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"unknown format {data.get('format')!r}")
        if data.get("environment") != self.environment:
            raise ValueError(
                f"belongs to environment {data.get('environment')!r}, not {self.environment!r}"
            )
        raw_items = data.get("items", {})
        if not isinstance(raw_items, dict):
            raise ValueError("items is not a table")
        items = {key: ItemRecord.from_toml(key, value) for key, value in raw_items.items()}
        revision = data.get("revision")
        if not isinstance(revision, int):
            raise ValueError("revision is missing")
        head_raw = data.get("audit_head")
        head = None
        if isinstance(head_raw, dict):
            head = AuditHead(seq=int(head_raw["seq"]), hash=str(head_raw["hash"]))
        expected = _checksum(self.environment, revision, items, head)
        if data.get("checksum") != expected:
            raise ValueError("checksum does not match its content (truncated or edited)")
        written = data.get("written_at")
        snapshot = StateSnapshot(
            environment=self.environment,
            revision=revision,
            items=items,
            audit_head=head,
            written_at=written if isinstance(written, datetime) else None,
        )
        return snapshot, expected

    def _quarantine_all(self, reason: str) -> _Read:
        """Move the snapshot and its journal aside (the session rebuilds from the audit log)."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        moved: list[tuple[Path, Path]] = []
        for path in (self.path, self.journal_path):
            target = path.with_name(f"{path.name}.corrupt-{stamp}")
            try:
                os.replace(path, target)
            except FileNotFoundError:
                continue
            moved.append((path, target))
        _fsync_dir(self.directory)
        if moved:
            self.last_corruption = CorruptState(
                path=moved[0][0], moved_to=moved[0][1], reason=reason
            )
        self._read = _Read(StateSnapshot(environment=self.environment), None, "", 0, None)
        return self._read

    # --- writing -------------------------------------------------------------------------------

    def update(
        self,
        change: Callable[[MutableMapping[str, ItemRecord]], None],
        audit_head: AuditHead | None = None,
    ) -> StateSnapshot:
        """Read-modify-write under the lock, so concurrent cockpits never lose an update."""
        with self._locked():
            read = self._current()
            current = read.snapshot
            changes = _Changes(current.items)
            change(changes)
            items = dict(current.items)
            for key, record in changes.changed.items():
                if record is None:
                    items.pop(key, None)
                else:
                    items[key] = record
            snapshot = StateSnapshot(
                environment=self.environment,
                revision=current.revision + 1,
                items=items,
                audit_head=audit_head or current.audit_head,
                written_at=datetime.now(UTC).replace(microsecond=0),
            )
            if self._compaction_due(read, len(items)):
                self._compact(snapshot)
            else:
                self._append(read, snapshot, changes.changed)
            return snapshot

    def _compaction_due(self, read: _Read, records: int) -> bool:
        """A new snapshot is written when there is none, when the journal is stale, or when
        the journal has more lines than the snapshot has records (at least COMPACT_AFTER):
        reading stays within twice the snapshot, and each rewrite is paid by as many marks."""
        return (
            read.snapshot_file is None
            or read.journal_stale
            or read.journal_lines >= max(COMPACT_AFTER, records)
        )

    def _append(
        self, read: _Read, snapshot: StateSnapshot, changed: dict[str, ItemRecord | None]
    ) -> None:
        """One journal line for this update, fsynced (the journal created if need be)."""
        body: dict[str, Any] = {
            "revision": snapshot.revision,
            "written_at": snapshot.written_at.isoformat() if snapshot.written_at else None,
            "audit_head": [snapshot.audit_head.seq, snapshot.audit_head.hash]
            if snapshot.audit_head
            else None,
            "items": {
                key: None if record is None else _json_record(record)
                for key, record in sorted(changed.items())
            },
        }
        created = read.journal_file is None
        header = b""
        if created:
            head_body = {
                "environment": self.environment,
                "base": read.base,
                "revision": read.base_revision,
            }
            header = _chained(head_body, "")
            prev = json.loads(header)["hash"]
        else:
            prev = read.journal_hash
        line = _chained(body, prev)
        flags = os.O_WRONLY | os.O_CREAT
        try:
            fd = open_private(self.journal_path, flags, "state journal", StateError)
            try:
                if created:
                    os.ftruncate(fd, 0)
                else:
                    st = os.fstat(fd)
                    if (st.st_dev, st.st_ino) != read.journal_file:
                        raise OSError(errno.ESTALE, "the journal changed under the lock")
                    if st.st_size != read.journal_end:
                        os.ftruncate(fd, read.journal_end)  # a torn line of a killed writer
                _write_all(fd, header + line, read.journal_end if not created else 0)
                os.fsync(fd)
                st = os.fstat(fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0 if created else read.journal_end)
                raise
            finally:
                os.close(fd)
            if created:
                _fsync_dir(self.directory)
        except OSError as exc:
            self._read = None  # read it all again next time
            raise _save_error(self.path, exc) from exc
        if created:
            read.journal_file = (st.st_dev, st.st_ino)
            read.journal_header = header
            read.journal_end = len(header)
        read.journal_end += len(line)
        read.journal_lines += 1
        read.journal_hash = json.loads(line)["hash"]
        read.snapshot = snapshot

    def _compact(self, snapshot: StateSnapshot) -> None:
        """A complete new snapshot, then the journal it makes redundant is removed (a crash
        in between leaves a stale journal, which the snapshot's revision shows up)."""
        stale = self._read is not None and self._read.journal_stale
        self._read = None
        self._write(snapshot)
        with contextlib.suppress(FileNotFoundError):
            if stale:  # not ours to judge: kept aside, never deleted
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
                os.replace(
                    self.journal_path,
                    self.journal_path.with_name(f"{self.journal_path.name}.stale-{stamp}"),
                )
            else:
                os.unlink(self.journal_path)
            _fsync_dir(self.directory)
        st = os.lstat(self.path)
        self._read = _Read(
            snapshot,
            (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns),
            _checksum(snapshot.environment, snapshot.revision, snapshot.items, snapshot.audit_head),
            snapshot.revision,
            None,
        )

    def _write(self, snapshot: StateSnapshot) -> None:
        document: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "environment": snapshot.environment,
            "revision": snapshot.revision,
            "written_at": snapshot.written_at,
            "checksum": _checksum(
                snapshot.environment, snapshot.revision, snapshot.items, snapshot.audit_head
            ),
        }
        if snapshot.audit_head:
            document["audit_head"] = {
                "seq": snapshot.audit_head.seq,
                "hash": snapshot.audit_head.hash,
            }
        document["items"] = {k: v.to_toml() for k, v in sorted(snapshot.items.items())}
        body = (
            "# cockpit state: written by cockpit; change it with `cockpit mark`, not by hand\n"
            + tomli_w.dumps(document)
        ).encode("utf-8")
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            fd = open_private(
                temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "state temp file", StateError
            )
            try:
                _write_all(fd, body, 0)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, self.path)
            _fsync_dir(self.directory)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise _save_error(self.path, exc) from exc

    # --- locking -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        private_directory(self.directory, "state directory", StateError)
        try:
            fd = open_private(self.lock_path, os.O_RDWR | os.O_CREAT, "lock file", StateError)
        except OSError as exc:
            raise StateError(
                f"cannot open state directory {self.directory}: {exc.strerror}",
                "set [state] directory in the config to a folder you can write",
            ) from exc
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        holder = _read_holder(fd)
                        raise StateError(
                            f"state file {self.path} is locked by another cockpit{holder} "
                            f"for more than {LOCK_TIMEOUT_SECONDS:.0f} s",
                            "wait for it to finish, or stop the other cockpit",
                        ) from None
                    time.sleep(0.02)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {login_name()}\n".encode(), 0)
            yield
        finally:
            os.close(fd)  # closing releases the flock


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").strip()
    except OSError:
        return ""
    return f" (pid {text})" if text else ""


def _checksum(
    environment: str, revision: int, items: dict[str, ItemRecord], head: AuditHead | None
) -> str:
    canonical = json.dumps(
        {
            "environment": environment,
            "revision": revision,
            "audit_head": [head.seq, head.hash] if head else None,
            "items": {
                key: {
                    k: (v.isoformat() if isinstance(v, datetime) else v)
                    for k, v in record.to_toml().items()
                }
                for key, record in sorted(items.items())
            },
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Reread(Exception):
    """The journal is not the one this process read: read the state again from the start."""


def _json_record(record: ItemRecord) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in record.to_toml().items()
    }


def _chained(body: dict[str, Any], prev: str) -> bytes:
    """One journal line: the body, `prev` (the line before's hash) and its own hash."""
    content = {**body, "prev": prev}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return (json.dumps({**content, "hash": digest}, ensure_ascii=False) + "\n").encode("utf-8")


def _journal_line(raw: bytes, prev: str) -> dict[str, Any] | None:
    """The line's content if it parses, follows `prev` and matches its own hash."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("prev") != prev:
        return None
    stored = data.pop("hash", None)
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if stored != hashlib.sha256(canonical.encode("utf-8")).hexdigest():
        return None
    if "environment" not in data and not isinstance(data.get("items"), dict):
        return None
    data["hash"] = stored
    return data


def _torn(tail: bytes) -> bool:
    """A last line that is not valid JSON: what a write cut short (or a crash) leaves."""
    try:
        json.loads(tail.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return True
    return False


def _last_revision(data: bytes) -> int | None:
    for raw in reversed(data.splitlines()):
        try:
            value = json.loads(raw).get("revision")
        except (UnicodeDecodeError, ValueError, AttributeError):
            continue
        if isinstance(value, int):
            return value
    return None


def _pread_all(fd: int, offset: int, size: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = os.pread(fd, size, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        if written <= 0:
            raise OSError(errno.ENOSPC, "short write")
        view = view[written:]
        offset += written


def _save_error(path: Path, exc: OSError) -> StateError:
    full = exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
    hint = "free some disk space, then try again" if full else "check the state dir"
    return StateError(
        f"could not save state to {path}: {exc.strerror}; "
        "the previous state file is untouched and the action is in the audit log",
        hint,
    )
