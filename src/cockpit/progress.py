"""What the checklist shows, and the operator's marks on it: done, skipped, notes, reopened.

It keeps the environment's durable state (and rebuilds it from the audit log when the state
file is missing or damaged), answers what each item shows right now and how far each section
is, and records every mark in the same order: audit entry first (fsynced), then the state.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from cockpit.audit import AuditEntry
from cockpit.checklist import Checklist, ChecklistItem, Section
from cockpit.config import CheckBinding, LoadedConfig
from cockpit.errors import CockpitError, StateError
from cockpit.recording import Recorder, head_of
from cockpit.sources.progress import SharedProgress
from cockpit.state import ITEM_STATUSES, ItemRecord, ItemStatus, StateSnapshot, StateStore
from cockpit.team_progress import TeamProgress
from cockpit.timeline import parse_ts

StatusSource = Literal["state", "document", "none"]
RESOLVED: frozenset[str] = frozenset({"done", "passed", "skipped"})
STATE_ACTIONS = frozenset({"mark", "skip", "note", "reopen", "run", "result", "cancel"})


@dataclass(frozen=True)
class ItemView:
    """An item with what is known about it right now."""

    item: ChecklistItem
    status: ItemStatus
    record: ItemRecord | None
    source: StatusSource
    checks: tuple[CheckBinding, ...] = ()

    @property
    def kind(self) -> str:
        return "check" if self.checks and self.item.kind == "manual" else self.item.kind


@dataclass(frozen=True)
class Progress:
    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    running: int = 0

    @property
    def resolved(self) -> int:
        return self.done + self.skipped

    @property
    def pending(self) -> int:
        return self.total - self.resolved - self.failed - self.running

    @property
    def percent(self) -> int:
        return int(100 * self.resolved / self.total) if self.total else 100

    def __add__(self, other: Progress) -> Progress:
        return Progress(
            self.total + other.total,
            self.done + other.done,
            self.skipped + other.skipped,
            self.failed + other.failed,
            self.running + other.running,
        )


@dataclass
class ChecklistProgress:
    checklist: Checklist
    store: StateStore
    recorder: Recorder
    bindings: dict[str, tuple[CheckBinding, ...]] = field(default_factory=dict)
    # what opening found and repaired, for the operator (shared with the session)
    notices: list[str] = field(default_factory=list)
    snapshot: StateSnapshot | None = None
    # the item IDs the last reload_if_changed() found changed (None: any may have)
    changed_items: list[str] | None = None
    team: TeamProgress | None = None  # the team's shared progress (state backend "kubernetes")
    _seen_mtime: tuple[int, ...] | None = None
    # marks are written on the TUI's state thread while check results are recorded on its
    # event loop: one at a time, so the snapshot kept is always the newest one written
    _state_lock: threading.RLock = field(default_factory=threading.RLock)

    # --- the state -----------------------------------------------------------------------------

    def load(self) -> None:
        """The state file, or, when it is damaged or missing, the state rebuilt from the audit
        log and saved: whichever command opens it first (a `report` too) repairs it for all."""
        missing = not self.store.path.exists() and not self.store.path.is_symlink()
        self.snapshot = self.store.load()
        self._seen_mtime = self.store.mtime_ns()
        corrupt = self.store.last_corruption
        if corrupt is not None:
            self.store.last_corruption = None
            rebuilt, saved = self._rebuild_from_audit()
            self.notices.append(
                f"state file {corrupt.path} was unreadable ({corrupt.reason}); it was moved to "
                f"{corrupt.moved_to} and {rebuilt} item(s) were restored from the audit log" + saved
            )
        elif missing:
            rebuilt, saved = self._rebuild_from_audit(only_if_any=True)
            if rebuilt:
                self.notices.append(
                    f"state file {self.store.path} was missing; {rebuilt} item(s) were "
                    "restored from the audit log" + saved
                )

    def open_team(self, config: LoadedConfig) -> None:
        """With the kubernetes backend: read the shared progress and send it what this audit
        log has that it lacks; the local state then mirrors it (unreachable: said, not fatal)."""
        recorder = self.recorder
        environment = config.environment(recorder.env_name)
        cluster = environment.lock_cluster()
        if cluster is None:
            return
        shared = SharedProgress(
            cluster,
            config,
            namespace=environment.state.namespace or cluster.namespace,
            environment=recorder.env_name,
            watch_seconds=environment.state.watch_seconds,
        )
        self.team = TeamProgress(
            shared,
            self.store,
            recorder.audit,
            environment=recorder.env_name,
            me=recorder.operator.user,
            apply=apply_entry,
            describe=self._describe_item,
            read_only=recorder.read_only,
        )
        recorder.nudge = self.team.nudge  # shared in the background (an item's entry at once)
        self.team.connect()
        self.snapshot = self.store.load()
        self._seen_mtime = self.store.mtime_ns()

    def _describe_item(self, item_id: str) -> str:
        item = self.checklist.item(item_id)
        return repr(item.text) if item is not None else item_id

    def refuse_if_unshared(self, what: str) -> None:
        """With a shared backend whose store cannot be reached: refused, one line saying why."""
        if self.team is not None:
            self.team.refuse_if_unreachable(what)

    def _rebuild_from_audit(self, *, only_if_any: bool = False) -> tuple[int, str]:
        """Fold this environment's audit entries into a state and save it; (items, a note on
        the saving). A read-only cockpit saves it too (it is the cockpit's own record, not an
        effect), without an audit line of its own; when it cannot write, it says so."""
        recorder = self.recorder
        records: dict[str, ItemRecord] = {}
        for entry in recorder.audit.entries(recorder.env_name):
            apply_entry(records, entry)
        if only_if_any and not records:
            return 0, ""
        try:
            if recorder.read_only:
                head = recorder.audit.head()
            else:
                head = head_of(recorder.record("state_rebuilt", items=len(records)))
            self.snapshot = self.store.update(lambda items: items.update(records), audit_head=head)
        except StateError as exc:
            if not recorder.read_only:
                raise
            self.snapshot = StateSnapshot(environment=recorder.env_name, items=records)
            return len(records), f" (not saved: {exc.message})"
        self._seen_mtime = self.store.mtime_ns()
        return len(records), ""

    def reload_if_changed(self) -> bool:
        """Pick up changes another cockpit (or `cockpit mark`) made to the same state file."""
        with self._state_lock:
            return self._reload_if_changed()

    def _reload_if_changed(self) -> bool:
        mtime = self.store.mtime_ns()
        if mtime == self._seen_mtime:
            return False
        before = self.snapshot.items if self.snapshot is not None else None
        self.load()
        after = self.snapshot.items if self.snapshot is not None else {}
        if before is None or self.notices:  # rebuilt or recovered: everything may differ
            self.changed_items = None
        else:  # unchanged records are the very objects they were (or equal, after a re-read)
            self.changed_items = [
                key
                for key, record in after.items()
                if (old := before.get(key)) is not record and old != record
            ] + [key for key in before if key not in after]
        return True

    def record_of(self, item_id: str) -> ItemRecord | None:
        assert self.snapshot is not None
        return self.snapshot.record(item_id)

    def record(self, action: str, item: ChecklistItem, **fields: Any) -> AuditEntry:
        """Audit an item's change, then fold the same entry into the state."""
        with self._state_lock:
            entry = self.recorder.record(action, item=item.id, text=item.text, **fields)
            if self.team is not None:
                self.snapshot = self.team.record(entry, head_of(entry))
            else:
                self.snapshot = self.store.update(
                    lambda items: apply_entry(items, entry), audit_head=head_of(entry)
                )
            self._seen_mtime = self.store.mtime_ns()
            return entry

    # --- reading -------------------------------------------------------------------------------

    def view(self, item: ChecklistItem) -> ItemView:
        record = self.record_of(item.id)
        checks = self.bindings.get(item.id, ())
        if record is not None and record.status != "pending":
            return ItemView(item, record.status, record, "state", checks)
        if item.done_in_document:
            return ItemView(item, "done", record, "document", checks)
        return ItemView(item, "pending", record, "none", checks)

    def progress(self, section: Section | None = None) -> Progress:
        items: Iterable[ChecklistItem] = (
            section.walk_items() if section is not None else self.checklist.items()
        )
        assert self.snapshot is not None
        records = self.snapshot.items
        total = done = skipped = failed = running = 0
        for item in items:
            # the status `view` gives, without making a view: this runs over every item for
            # the banner, the tree's sections and its total, 20,000 items on a long runbook
            record = records.get(item.id)
            status: ItemStatus
            if record is not None and record.status != "pending":
                status = record.status
            else:
                status = "done" if item.done_in_document else "pending"
            total += 1
            done += status in ("done", "passed")
            skipped += status == "skipped"
            failed += status == "failed"
            running += status == "running"
        return Progress(total, done, skipped, failed, running)

    def failed_items(self) -> list[str]:
        """The text of every item whose last run failed (the status `view` gives, without
        making a view of every item: each verdict asks, several times a second under load)."""
        assert self.snapshot is not None
        records = self.snapshot.items
        return [
            item.text
            for item in self.checklist.items()
            if (record := records.get(item.id)) is not None and record.status == "failed"
        ]

    def find_item(self, reference: str) -> ChecklistItem:
        """An item by ID or exact text; an unknown one gets the nearest IDs suggested."""
        found = self.checklist.resolve(reference)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise CockpitError(
                f"{reference!r} matches {len(found)} items",
                "use the item ID instead: " + ", ".join(i.id for i in found),
            )
        ids = [item.id for item in self.checklist.items()]
        close = difflib.get_close_matches(reference, ids, n=3, cutoff=0.5)
        hint = (
            "did you mean: " + ", ".join(close)
            if close
            else "`cockpit checklist` lists every item with its ID"
        )
        raise CockpitError(f"no checklist item {reference!r}", hint)

    def orphaned_records(self) -> list[str]:
        """State records whose item no longer exists in the runbook (kept, never dropped)."""
        assert self.snapshot is not None
        ids = {item.id for item in self.checklist.items()}
        return sorted(k for k in self.snapshot.items if k not in ids)

    # --- marks ---------------------------------------------------------------------------------

    def mark_done(self, reference: str, note: str = "") -> ItemView:
        return self._set_status(reference, "mark", "done", note)

    def skip(self, reference: str, reason: str) -> ItemView:
        if not reason.strip():
            raise CockpitError(
                "skipping an item needs a reason", "give one with --note, e.g. --note 'n/a here'"
            )
        return self._set_status(reference, "skip", "skipped", reason.strip())

    def reopen(self, reference: str, reason: str = "") -> ItemView:
        return self._set_status(reference, "reopen", "pending", reason.strip())

    def add_note(self, reference: str, text: str) -> ItemView:
        if not text.strip():
            raise CockpitError("the note is empty", "type some text for the note")
        item = self.find_item(reference)
        self.recorder.refuse_if_read_only("add a note")
        self.refuse_if_unshared("add a note")
        self.record("note", item, note=text.strip())
        return self.view(item)

    def _set_status(self, reference: str, action: str, status: ItemStatus, note: str) -> ItemView:
        item = self.find_item(reference)
        self.recorder.refuse_if_read_only("change the checklist")
        self.refuse_if_unshared("change the checklist")
        self.record(action, item, status=status, note=note or None)
        return self.view(item)


def apply_entry(items: MutableMapping[str, ItemRecord], entry: AuditEntry) -> None:
    """Fold one audit entry into item records; used for live updates and for rebuilding.

    Notes accumulate ("[HH:MM user] text" per line); a status change never drops them.
    """
    if entry.action not in STATE_ACTIONS:
        return
    item_id = entry.fields.get("item")
    if not isinstance(item_id, str):
        return
    current = items.get(item_id, ItemRecord())
    at = parse_ts(entry.ts)
    by = entry.fields.get("actor")
    note = str(entry.fields.get("note") or "")
    merged_note = current.note
    if note:
        line = f"[{at:%H:%M} {by}] {note}" if at else note
        merged_note = f"{current.note}\n{line}" if current.note else line
    status = entry.fields.get("status")
    if entry.action == "note" or status not in ITEM_STATUSES:
        items[item_id] = replace(current, note=merged_note)
        return
    address = entry.fields.get("from")
    evidence = entry.fields.get("evidence")
    items[item_id] = ItemRecord(
        status=status,
        by=str(by) if by else None,
        address=str(address) if address else None,
        at=at,
        note=merged_note,
        evidence=str(evidence) if evidence else "",
    )
