"""Durable go-live progress, one TOML file per environment.

The state file is what lets an operator whose SSH session dropped pick up exactly where they
were. So every write is atomic (temp file, fsync, rename, fsync of the folder), every
read-modify-write happens under an exclusive lock (two cockpits on one file never lose each
other's updates), and the file carries a checksum so that a truncated or hand-mangled file is
detected, moved aside and reported instead of being read as "nothing done yet".
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
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


class StateStore:
    """The state file of one environment, with its lock."""

    def __init__(self, directory: Path, environment: str) -> None:
        self.directory = directory
        self.environment = environment
        self.path = directory / f"{environment}.toml"
        self.lock_path = directory / f".{environment}.lock"
        self.last_corruption: CorruptState | None = None

    # --- reading -------------------------------------------------------------------------------

    def load(self) -> StateSnapshot:
        """Current state; a corrupt file is moved aside (see `last_corruption`), never dropped."""
        with self._locked():
            return self._read_or_quarantine()

    def peek(self) -> StateSnapshot | None:
        """The state as it is on disk, or None when missing or unreadable; changes nothing."""
        try:
            return self._parse(read_private(self.path, "state file", StateError))
        except (OSError, ValueError, StateError):
            return None

    def mtime_ns(self) -> int | None:
        try:
            return self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    def _read_or_quarantine(self) -> StateSnapshot:
        try:
            mode = os.lstat(self.path).st_mode
        except FileNotFoundError:
            mode = 0
        if mode & 0o022 and not stat.S_ISLNK(mode):  # a link is refused just below
            raise StateError(
                f"state file {self.path} is writable by other users (mode {mode & 0o777:o}): "
                "anyone could rewrite the go-live's progress",
                f"chmod go-w {self.path}",
            )
        try:
            raw = read_private(self.path, "state file", StateError)
        except FileNotFoundError:
            return StateSnapshot(environment=self.environment)
        except OSError as exc:
            raise StateError(
                f"cannot read state file {self.path}: {exc.strerror}",
                "check the permissions of the state directory",
            ) from exc
        try:
            return self._parse(raw)
        except ValueError as exc:
            moved = self._quarantine(str(exc))
            self.last_corruption = moved
            return StateSnapshot(environment=self.environment)

    def _parse(self, raw: bytes) -> StateSnapshot:
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
        return StateSnapshot(
            environment=self.environment,
            revision=revision,
            items=items,
            audit_head=head,
            written_at=written if isinstance(written, datetime) else None,
        )

    def _quarantine(self, reason: str) -> CorruptState:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        os.replace(self.path, target)
        _fsync_dir(self.directory)
        return CorruptState(path=self.path, moved_to=target, reason=reason)

    # --- writing -------------------------------------------------------------------------------

    def update(
        self,
        change: Callable[[dict[str, ItemRecord]], None],
        audit_head: AuditHead | None = None,
    ) -> StateSnapshot:
        """Read-modify-write under the lock, so concurrent cockpits never lose an update."""
        with self._locked():
            current = self._read_or_quarantine()
            items = dict(current.items)
            change(items)
            snapshot = replace(
                current,
                revision=current.revision + 1,
                items=items,
                audit_head=audit_head or current.audit_head,
                written_at=datetime.now(UTC).replace(microsecond=0),
            )
            self._write(snapshot)
            return snapshot

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
                view = memoryview(body)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, self.path)
            _fsync_dir(self.directory)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            full = exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT)
            hint = "free some disk space, then try again" if full else "check the state dir"
            raise StateError(
                f"could not save state to {self.path}: {exc.strerror}; "
                "the previous state file is untouched and the action is in the audit log",
                hint,
            ) from exc

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
