"""The checklist as JSON: every section and item with what it shows now and who set it.

What `cockpit checklist --json` prints; scripts and other tools read it, so its keys stay.
"""

from __future__ import annotations

from typing import Any

from cockpit.checklist import ChecklistItem, Section
from cockpit.progress import ChecklistProgress


def checklist_json(items: ChecklistProgress, env_name: str) -> dict[str, Any]:
    total = items.progress()

    def section_json(section: Section) -> dict[str, Any]:
        progress = items.progress(section)
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
        view = items.view(item)
        out: dict[str, Any] = {
            "id": item.id,
            "text": item.text,
            "kind": view.kind,
            "status": view.status,
            "line": item.line,
            "scripts": item.scripts,
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
        "title": items.checklist.title,
        "environment": env_name,
        "total": total.total,
        "done": total.done,
        "skipped": total.skipped,
        "failed": total.failed,
        "pending": total.pending,
        "sections": [section_json(section) for section in items.checklist.sections],
    }
