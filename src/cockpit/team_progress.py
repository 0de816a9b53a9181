"""A session's link to the team's shared progress (state backend "kubernetes").

The order of an intent stays audit → effect → state; with a shared backend the state write is
first the shared objects (sources/progress.py), then the local state, which stays as the local
copy: what a cockpit cut off from the cluster shows, and what a restarted one starts from.

What is sent comes from the audit log itself: every entry of this environment the shared
objects have not seen (their per-log head says which). So an entry audited while the store was
unreachable (a mark whose write never got an answer, a lock refusal, a session start) is sent
when it is back, once, in order, and the audit log is the only outbox there is.

Unreachable store: marks, skips, notes and runs are refused with a one-line reason until it is
back. A mark is a statement to colleagues ("the migration is done, go on"); one that they
cannot see, replayed minutes later onto a list they have moved on, could undo their decisions,
and a queue the operator cannot see the end of is not a thing to trust in a go-live. What was
already audited is kept (locally, and sent on reconnection, with any colleague's change to the
same item shown).
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cockpit.errors import CockpitError
from cockpit.sources.progress import (
    Conflict,
    NeedsHistory,
    ProgressObject,
    SharedProgress,
    StoreUnreachable,
    log_key,
)
from cockpit.state import AuditHead, ItemRecord, StateSnapshot, StateStore

if TYPE_CHECKING:
    from cockpit.audit import AuditEntry, AuditLog

Apply = Callable[[MutableMapping[str, ItemRecord], "AuditEntry"], None]
MESSAGES_AT_ONCE = 5  # more colleagues' changes than this at once are summed up in one line
VERBS = {
    "mark": "marked done",
    "skip": "skipped",
    "reopen": "reopened",
    "note": "added a note to",
    "run": "started",
    "cancel": "cancelled the run of",
}
OTHER_ACTIONS = {
    "rollback": "rolled back",
    "pause": "paused",
    "resume": "resumed",
    "lock_broken": "broke the action lock",
}


class TeamProgress:
    """The shared progress of one environment, seen from one session."""

    def __init__(
        self,
        shared: SharedProgress,
        store: StateStore,
        audit: AuditLog,
        *,
        environment: str,
        me: str,
        apply: Apply,
        describe: Callable[[str], str],
        read_only: bool = False,
    ) -> None:
        self.shared = shared
        self.store = store
        self.audit = audit
        self.environment = environment
        self.me = me
        self.apply = apply
        self.describe = describe
        self.read_only = read_only
        self.unreachable: StoreUnreachable | None = None
        self.since: datetime | None = None  # unreachable since
        self.connected_once = False
        self.messages: deque[str] = deque(maxlen=100)  # for the message line, oldest first
        self._pending: list[AuditEntry] = []  # audited here, maybe not in the shared objects
        self._offset = 0
        self._log: str | None = None
        self._sync = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._listener: Callable[[], None] | None = None
        self._seen_timeline: set[tuple[str, int]] = set()
        self._telling = threading.Lock()  # the watch and a push both tell news
        self._local: StateSnapshot | None = None
        self._dirty = threading.Event()  # colleagues' writes not yet in the local copy

    # --- what the operator is told -------------------------------------------------------------

    def banner(self) -> str | None:
        if self.unreachable is None:
            return None
        since = f" since {self.since:%H:%M:%S}" if self.since else ""
        return f"SHARED PROGRESS UNREACHABLE{since}: marks refused"

    def refuse_if_unreachable(self, what: str) -> None:
        """Before an intent that changes shared items: refused while the store is away."""
        if self.read_only or self.unreachable is None:
            return
        since = f" since {self.since:%H:%M:%S}" if self.since else ""
        raise CockpitError(
            f"cannot {what}: the team's shared progress is unreachable{since} "
            f"({self.unreachable.message}); colleagues would not see it",
            "the list shows the last known progress and the store is retried every few "
            "seconds; agree with your colleagues by voice meanwhile",
        )

    def take_messages(self) -> list[str]:
        taken = list(self.messages)
        self.messages.clear()
        return taken

    def _say(self, text: str) -> None:
        self.messages.append(text)

    # --- the audit log as the outbox -----------------------------------------------------------

    def _log_key(self) -> str | None:
        """The audit log's name in the shared heads: its first entry's hash."""
        if self._log is None:
            try:
                with open(self.audit.path, "rb") as handle:
                    first = handle.readline()
                self._log = log_key(str(json.loads(first)["hash"]))
            except (OSError, ValueError, KeyError, TypeError):
                return None
        return self._log

    def _read_new(self) -> None:
        entries, self._offset = self.audit.entries_after(self._offset, self.environment)
        self._pending.extend(entries)

    # --- syncing -------------------------------------------------------------------------------

    def sync(self, audit_head: AuditHead | None = None) -> list[str]:
        """Send what the shared objects lack, then bring the local copy up to date with them;
        the item IDs whose local record changed. StoreUnreachable when it cannot."""
        with self._sync:
            self._read_new()
            log = self._log_key()
            conflicts: list[Conflict] = []
            if not self.connected_once:
                self.shared.load()  # every object, so the local copy mirrors them all
            if self._pending and log is not None and not self.read_only:
                local = self._copy().items
                try:
                    pushed = self.shared.push(self._pending, log, self.apply, local.get, self.me)
                except NeedsHistory:  # an object to create: from the whole log
                    every = list(self.audit.entries(self.environment))
                    pushed = self.shared.push(
                        every, log, self.apply, local.get, self.me, complete=True
                    )
                self._pending.clear()
                conflicts = pushed.conflicts
                self._tell(pushed.written)  # colleagues' entries our 409s brought in
            changed = self._mirror(audit_head)
            self._reachable()
        for conflict in conflicts:
            self._say(self._conflict_text(conflict))
        return changed

    def refresh(self) -> list[str]:
        """Read every shared object again (a session that does not watch them), then sync."""
        with self._sync:
            self.shared.load()
            return self.sync()

    def _conflict_text(self, conflict: Conflict) -> str:
        theirs = conflict.theirs
        at = f" at {theirs.at:%H:%M:%S}" if theirs.at else ""
        verb = {"done": "marked it done", "skipped": "skipped it", "pending": "reopened it"}.get(
            theirs.status, f"set it {theirs.status}"
        )
        yours = VERBS.get(conflict.action, conflict.action)
        return (
            f"conflict on {self.describe(conflict.item)}: {theirs.by} {verb}{at} before your "
            f"change reached the shared list; yours ({yours}) is applied on top"
        )

    def _mirror(self, audit_head: AuditHead | None = None) -> list[str]:
        """Write into the local copy every shared record that differs from it (and the audit
        head it follows, when given)."""
        shared = self.shared.records()
        changed: list[str] = []

        def change(items: MutableMapping[str, ItemRecord]) -> None:
            for key, record in shared.items():
                if items.get(key) != record:
                    items[key] = record
                    changed.append(key)

        known = self._copy().items
        if audit_head is not None or any(known.get(k) != r for k, r in shared.items()):
            self._local = self.store.update(change, audit_head=audit_head)
        return changed

    def _copy(self) -> StateSnapshot:
        """The local copy as this cockpit last read or wrote it (each write reads it again
        under the state's lock, so another process's change is never overwritten)."""
        if self._local is None:
            self._local = self.store.load()
        return self._local

    def _reachable(self) -> None:
        if self.unreachable is not None and self.since is not None:
            gone = int((datetime.now(UTC) - self.since).total_seconds())
            self._say(
                f"the team's shared progress is reachable again (after {gone} s): "
                "what was audited meanwhile is shared"
            )
        self.unreachable = None
        self.since = None
        self.connected_once = True

    def _down(self, exc: StoreUnreachable) -> None:
        if self.unreachable is None:
            self.since = datetime.now(UTC)
            self._say(f"the team's shared progress is unreachable ({exc.message}): marks refused")
        self.unreachable = exc

    def connect(self) -> None:
        """At open: read the shared objects and send what they lack; unreachable is stated,
        never fatal (the local copy is shown)."""
        try:
            self.sync()
        except StoreUnreachable as exc:
            self._down(exc)

    def record(self, entry: AuditEntry, audit_head: AuditHead) -> StateSnapshot:
        """After an item's entry was audited: share it, then the local copy. If the store
        cannot be reached the entry is in the local copy (and the audit log, to be sent)."""
        try:
            self.sync(audit_head)
        except StoreUnreachable as exc:
            self._down(exc)
            self._say(
                f"{self.describe(str(entry.fields.get('item')))}: {entry.action} is audited and "
                "in your local copy, but not shared yet; it is sent when the store is back"
            )
            self._local = self.store.update(
                lambda items: self.apply(items, entry), audit_head=audit_head
            )
        return self._copy()

    # --- in the background ---------------------------------------------------------------------

    def nudge(self) -> None:
        """An entry was audited: the flusher sends it soon (entries that are not about an
        item are not worth a network round trip on the operator's key press)."""
        self._wake.set()

    def start(self, listener: Callable[[], None]) -> None:
        """Follow the shared objects and flush the audit's other entries; `listener()` (from
        a thread) when the local copy or the messages changed."""
        self._listener = listener
        self.shared.watch(self._on_change, self._on_reachable)
        threading.Thread(target=self._flush_loop, name="shared-flush", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self.shared.stop()

    def close(self, timeout: float) -> None:
        """At exit: share what is left (the session's end), waiting `timeout` at most; the
        listener (a screen that is closing) is told nothing more."""
        self._listener = None

        def last() -> None:
            try:
                if self.unreachable is None:
                    self.sync()
            except CockpitError:
                return  # sent by the next cockpit opened on this audit log

        leaving = threading.Thread(target=last, daemon=True)
        leaving.start()
        leaving.join(timeout)
        self.stop()

    def _notify(self) -> None:
        if self._listener is None:
            return
        try:
            self._listener()
        except Exception:  # noqa: BLE001 - a screen closing must not end the follow
            return

    def _flush_loop(self) -> None:
        """Colleagues' writes into the local copy (a burst of them in one write), and this
        audit log's entries that are not about an item into the shared record."""
        while not self._stop.is_set():
            self._wake.wait(5.0)
            self._wake.clear()
            if self._stop.is_set():
                return
            if self._dirty.is_set():
                self._dirty.clear()
                try:
                    with self._sync:
                        self._mirror()
                except CockpitError as exc:
                    self._say(exc.message)
                self._notify()
                self._stop.wait(0.05)  # what arrives meanwhile goes in the next write
            if self.unreachable is not None:
                continue  # the watch's reconnection sends it
            try:
                size = os.stat(self.audit.path).st_size
            except OSError:
                continue
            if size <= self._offset and not self._pending:
                continue
            try:
                self.sync()
            except StoreUnreachable as exc:
                self._down(exc)
            except CockpitError as exc:
                self._say(exc.message)
            self._notify()

    def _on_reachable(self, error: StoreUnreachable | None) -> None:
        if error is not None:
            was = self.unreachable
            self._down(error)
            if was is None:
                self._notify()
            return
        if self.unreachable is None and self.connected_once:
            return
        try:
            self.sync()  # back: send what was audited meanwhile, take theirs
        except StoreUnreachable as exc:
            self._down(exc)
        except CockpitError as exc:
            self._say(exc.message)
        self._notify()

    def _on_change(self, changes: list[tuple[ProgressObject | None, ProgressObject]]) -> None:
        self._tell(changes)
        self._dirty.set()
        self._wake.set()

    def _tell(self, changes: list[tuple[ProgressObject | None, ProgressObject]]) -> None:
        """A message per colleague's entry these writes brought (a summary past a few)."""
        with self._telling:
            self._tell_locked(changes)

    def _tell_locked(self, changes: list[tuple[ProgressObject | None, ProgressObject]]) -> None:
        log = self._log_key()
        said: list[str] = []
        for before, after in changes:
            known = (
                {(str(e.get("log")), int(e.get("seq") or 0)) for e in before.timeline}
                if (before is not None)
                else set()
            )
            for entry in after.timeline:
                key = (str(entry.get("log")), int(entry.get("seq") or 0))
                if key in known or key in self._seen_timeline:
                    continue
                self._seen_timeline.add(key)
                if before is None and not self.connected_once:
                    continue  # history, not news
                if entry.get("log") == log and entry.get("actor") == self.me:
                    continue
                text = self._news(entry)
                if text:
                    said.append(text)
        if len(said) > MESSAGES_AT_ONCE:
            self._say(f"{len(said)} changes by colleagues; the latest: {said[-1]}")
        else:
            for text in said:
                self._say(text)

    def _news(self, entry: dict[str, object]) -> str | None:
        actor = entry.get("actor")
        action = str(entry.get("action"))
        item = entry.get("item")
        if isinstance(item, str):
            if action == "result":
                return f"{actor}'s run of {self.describe(item)}: {entry.get('status')}"
            verb = VERBS.get(action)
            return f"{actor} {verb} {self.describe(item)}" if verb else None
        verb = OTHER_ACTIONS.get(action)
        return f"{actor} {verb}" if verb else None


__all__ = ["TeamProgress"]
