"""The audit timeline of one environment: read once at open, then followed as it grows.

At open it comes from the audit index (the first entry, release starts, rollbacks, runs, the
latest verdict), not from the whole log; after that only the lines appended since are read.
Every question about the go-live's past is answered from it: when the go-live began, where
gate analysis starts, which release was started last, which rollback never finished.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cockpit.audit import AuditEntry, AuditLog


def parse_ts(value: str) -> datetime | None:
    """An audit entry's timestamp (UTC when it names no zone), or None when it is not one."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass
class AuditTimeline:
    audit: AuditLog
    env_name: str
    _at_open: list[AuditEntry] | None = None
    _offset: int = 0  # audit bytes already read
    _started: datetime | None = None  # the environment's first entry
    _moved: datetime | None = None  # the latest release start or rollback sent
    _release: str | None = None  # the version of the latest release start
    # the metrics thread asks for the analysis start at every poll, the UI thread for the rest
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def at_open(self) -> list[AuditEntry]:
        """The timeline as it was when first asked (at open): from the index, once."""
        with self._lock:
            return self._read_at_open()

    def _read_at_open(self) -> list[AuditEntry]:
        if self._at_open is None:
            self._at_open, self._offset = self.audit.timeline(self.env_name)
            self._fold(self._at_open)
        return self._at_open

    def _follow(self) -> None:
        """Fold in what was appended since the last read (only that is read)."""
        self._read_at_open()
        entries, offset = self.audit.entries_after(self._offset, self.env_name)
        if offset < self._offset:
            self._moved = None  # the log was replaced: it was read again from the start
        self._offset = offset
        self._fold(entries)

    def _fold(self, entries: list[AuditEntry]) -> None:
        for entry in entries:
            moment = parse_ts(entry.ts)
            if self._started is None:
                self._started = moment
            sent = entry.action == "rollback" and entry.fields.get("outcome") == "sent"
            moves = sent or entry.action == "release_start"
            if moves and moment is not None and (self._moved is None or moment > self._moved):
                self._moved = moment
            if entry.action == "release_start" and isinstance(entry.fields.get("version"), str):
                self._release = str(entry.fields["version"])

    def go_live_started(self) -> datetime | None:
        """When this environment's go-live began: its first audit entry (survives restarts)."""
        with self._lock:
            self._read_at_open()
            if self._started is None:  # nothing audited at open: the first entry since
                self._follow()
            return self._started

    def analysis_started(self) -> datetime | None:
        """Where gate analysis starts: the go-live, or the latest release start or rollback
        since (a rolled-back release's failures are history, not the current verdict)."""
        with self._lock:
            self._follow()
            started, moved = self._started, self._moved
        if moved is not None and (started is None or moved > started):
            return moved
        return started

    def release_started(self) -> str | None:
        """The version of the latest `release start` read so far (the verdict bar asks on
        every update: this reads nothing new; the analysis start's reads keep it current)."""
        with self._lock:
            self._read_at_open()
            return self._release

    def release_starting(self, version: str) -> None:
        """This cockpit just started `version` (its audit line is written)."""
        with self._lock:
            self._release = version

    def unfinished_rollbacks(self) -> list[AuditEntry]:
        """Rollbacks whose request is audited but whose outcome is not, at open."""
        pending: dict[tuple[str, str], AuditEntry] = {}
        for entry in self.at_open():
            key = (str(entry.fields.get("cluster")), str(entry.fields.get("deployment")))
            if entry.action == "rollback_requested":
                pending[key] = entry
            elif entry.action == "rollback":
                pending.pop(key, None)
        return list(pending.values())
