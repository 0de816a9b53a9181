"""The go-live session: what both the TUI and the headless commands drive.

It owns the config, the checklist, the durable state and the audit log of one environment, and
carries out every operator intent in the same order: audit entry first (fsynced), then the
effect, then the state update. If the state write fails after the audit line landed, nothing
is lost: the state can be rebuilt from the audit log, and is, whenever the state file turns out
to be corrupt.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cockpit.audit import AuditEntry, AuditLog
from cockpit.checklist import Checklist, ChecklistItem, Section, load_checklist
from cockpit.config import (
    CheckBinding,
    EnvironmentConfig,
    LoadedConfig,
    discover_config,
    load_config,
)
from cockpit.errors import CockpitError, ConfigError
from cockpit.identity import Operator
from cockpit.state import AuditHead, ItemRecord, ItemStatus, StateSnapshot, StateStore

StatusSource = Literal["state", "document", "none"]
RESOLVED: frozenset[str] = frozenset({"done", "passed", "skipped"})
STATE_ACTIONS = frozenset({"mark", "skip", "note", "reopen", "result"})


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
class GoLiveSession:
    config: LoadedConfig
    env_name: str
    checklist: Checklist
    store: StateStore
    audit: AuditLog
    operator: Operator
    read_only: bool = False
    via: str = "cli"
    bindings: dict[str, tuple[CheckBinding, ...]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    snapshot: StateSnapshot | None = None
    _seen_mtime: int | None = None

    # --- opening -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        config_path: str | Path | None,
        environment: str | None,
        *,
        read_only: bool = False,
        operator: Operator | None = None,
        via: str = "cli",
    ) -> GoLiveSession:
        loaded = load_config(discover_config(config_path))
        env_name = loaded.environment_name(environment)
        checklist = load_checklist(loaded.checklist_path)
        session = cls(
            config=loaded,
            env_name=env_name,
            checklist=checklist,
            store=StateStore(loaded.state_dir, env_name),
            audit=AuditLog(loaded.audit_path),
            operator=operator or Operator.current(),
            read_only=read_only or loaded.environment(env_name).read_only,
            via=via,
        )
        session.bindings = bind_checks(loaded, checklist, env_name)
        session._load_state()
        return session

    @property
    def environment(self) -> EnvironmentConfig:
        return self.config.environment(self.env_name)

    @property
    def label(self) -> str:
        return self.environment.label or self.env_name

    def _load_state(self) -> None:
        self.snapshot = self.store.load()
        self._seen_mtime = self.store.mtime_ns()
        corrupt = self.store.last_corruption
        if corrupt is not None:
            self.store.last_corruption = None
            rebuilt = self._rebuild_from_audit()
            self.notices.append(
                f"state file {corrupt.path} was unreadable ({corrupt.reason}); it was moved to "
                f"{corrupt.moved_to} and {rebuilt} item(s) were restored from the audit log"
            )

    def _rebuild_from_audit(self) -> int:
        records: dict[str, ItemRecord] = {}
        for entry in self.audit.entries(self.env_name):
            apply_entry(records, entry)
        if not self.read_only:
            entry = self._audit("state_rebuilt", items=len(records))
            self.snapshot = self.store.update(
                lambda items: items.update(records), audit_head=_head(entry)
            )
            self._seen_mtime = self.store.mtime_ns()
        else:
            self.snapshot = StateSnapshot(environment=self.env_name, items=records)
        return len(records)

    def reload_if_changed(self) -> bool:
        """Pick up changes another cockpit (or `cockpit mark`) made to the same state file."""
        mtime = self.store.mtime_ns()
        if mtime == self._seen_mtime:
            return False
        self._load_state()
        return True

    # --- reading -------------------------------------------------------------------------------

    def view(self, item: ChecklistItem) -> ItemView:
        assert self.snapshot is not None
        record = self.snapshot.record(item.id)
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
        total = done = skipped = failed = running = 0
        for item in items:
            status = self.view(item).status
            total += 1
            done += status in ("done", "passed")
            skipped += status == "skipped"
            failed += status == "failed"
            running += status == "running"
        return Progress(total, done, skipped, failed, running)

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

    # --- intents -------------------------------------------------------------------------------

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
        self._refuse_if_read_only("add a note")
        entry = self._audit("note", item=item.id, text=item.text, note=text.strip())
        self.snapshot = self.store.update(
            lambda items: apply_entry(items, entry), audit_head=_head(entry)
        )
        self._seen_mtime = self.store.mtime_ns()
        return self.view(item)

    def _set_status(self, reference: str, action: str, status: ItemStatus, note: str) -> ItemView:
        item = self.find_item(reference)
        self._refuse_if_read_only("change the checklist")
        entry = self._audit(action, item=item.id, text=item.text, status=status, note=note or None)
        self.snapshot = self.store.update(
            lambda items: apply_entry(items, entry), audit_head=_head(entry)
        )
        self._seen_mtime = self.store.mtime_ns()
        return self.view(item)

    def begin(self) -> None:
        if not self.read_only:
            self._audit("session_start")

    def end(self) -> None:
        if not self.read_only:
            self._audit("session_end")

    def _refuse_if_read_only(self, what: str) -> None:
        if self.read_only:
            raise CockpitError(
                f"read-only: cannot {what} in environment {self.env_name!r}",
                "start the cockpit without --read-only (and without read_only = true) to act",
            )

    def _audit(self, action: str, **fields: Any) -> AuditEntry:
        return self.audit.append(action, self.env_name, self.operator, via=self.via, **fields)

    # --- output --------------------------------------------------------------------------------

    def checklist_json(self) -> dict[str, Any]:
        total = self.progress()

        def section_json(section: Section) -> dict[str, Any]:
            progress = self.progress(section)
            return {
                "id": section.id,
                "title": section.title,
                "level": section.level,
                "line": section.line,
                "total": progress.total,
                "done": progress.done,
                "skipped": progress.skipped,
                "failed": progress.failed,
                "items": [item_json(item) for item in section.items],
                "sections": [section_json(child) for child in section.sections],
            }

        def item_json(item: ChecklistItem) -> dict[str, Any]:
            view = self.view(item)
            out: dict[str, Any] = {
                "id": item.id,
                "text": item.text,
                "kind": view.kind,
                "status": view.status,
                "line": item.line,
                "commands": item.commands,
            }
            if item.parent_id:
                out["parent"] = item.parent_id
            if item.notes:
                out["notes"] = item.notes
            if view.checks:
                out["checks"] = [binding.type for binding in view.checks]
            record = view.record
            if view.source == "document":
                out["by"] = "document"
            elif record is not None and view.source == "state":
                out["by"] = record.by
                if record.address:
                    out["from"] = record.address
                if record.at:
                    out["at"] = record.at.isoformat()
            if record is not None and record.note:
                out["note"] = record.note
            if record is not None and record.evidence:
                out["evidence"] = record.evidence
            return out

        return {
            "title": self.checklist.title,
            "environment": self.env_name,
            "total": total.total,
            "done": total.done,
            "skipped": total.skipped,
            "failed": total.failed,
            "pending": total.pending,
            "sections": [section_json(section) for section in self.checklist.sections],
        }

    def orphaned_records(self) -> list[str]:
        """State records whose item no longer exists in the runbook (kept, never dropped)."""
        assert self.snapshot is not None
        ids = {item.id for item in self.checklist.items()}
        return sorted(k for k in self.snapshot.items if k not in ids)


def apply_entry(items: dict[str, ItemRecord], entry: AuditEntry) -> None:
    """Fold one audit entry into item records; used for live updates and for rebuilding."""
    if entry.action not in STATE_ACTIONS:
        return
    item_id = entry.fields.get("item")
    if not isinstance(item_id, str):
        return
    current = items.get(item_id, ItemRecord())
    at = _parse_ts(entry.ts)
    by = entry.fields.get("actor")
    address = entry.fields.get("from")
    note = str(entry.fields.get("note") or "")
    if entry.action == "note":
        stamp = at.strftime("%H:%M") if at else ""
        line = f"[{stamp} {by}] {note}" if stamp else note
        merged = f"{current.note}\n{line}" if current.note else line
        items[item_id] = ItemRecord(
            status=current.status,
            by=current.by,
            address=current.address,
            at=current.at,
            note=merged,
            evidence=current.evidence,
        )
        return
    status = entry.fields.get("status")
    if status not in ("pending", "running", "passed", "failed", "done", "skipped"):
        return
    items[item_id] = ItemRecord(
        status=status,
        by=str(by) if by else None,
        address=str(address) if address else None,
        at=at,
        note=note if entry.action != "reopen" else (note or ""),
        evidence=str(entry.fields.get("evidence") or ""),
    )


def bind_checks(
    loaded: LoadedConfig, checklist: Checklist, env_name: str
) -> dict[str, tuple[CheckBinding, ...]]:
    """[[checks]] -> item IDs; a binding that names no item, or several, is a config error."""
    bound: dict[str, list[CheckBinding]] = {}
    problems: list[str] = []
    ids = [item.id for item in checklist.items()]
    for index, binding in enumerate(loaded.model.checks):
        where = f"{loaded.path}: checks[{index}].item"
        if binding.environments is not None:
            unknown = [e for e in binding.environments if e not in loaded.model.environments]
            if unknown:
                problems.append(
                    f"{loaded.path}: checks[{index}].environments: unknown environment(s) "
                    f"{', '.join(unknown)}"
                )
            if env_name not in binding.environments:
                continue
        found = checklist.resolve(binding.item)
        if not found:
            close = difflib.get_close_matches(binding.item, ids, n=1, cutoff=0.5)
            suggestion = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"{where}: no item with ID or text {binding.item!r}{suggestion}")
        elif len(found) > 1:
            problems.append(
                f"{where}: {binding.item!r} matches {len(found)} items; use one of the IDs: "
                + ", ".join(item.id for item in found)
            )
        else:
            bound.setdefault(found[0].id, []).append(binding)
    if problems:
        raise ConfigError(
            f"{len(problems)} check binding(s) do not resolve",
            "bind by item ID (see `cockpit checklist`) or by the item's exact text",
            details=problems,
        )
    return {key: tuple(value) for key, value in bound.items()}


def _head(entry: AuditEntry) -> AuditHead:
    return AuditHead(seq=entry.seq, hash=entry.hash)


def _parse_ts(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
