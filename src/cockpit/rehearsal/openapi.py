"""OpenAPI documents for the kinds the rehearsal serves, generated from their schemas here."""

from __future__ import annotations

from cockpit.rehearsal.store import JSON, Kind


def unknown_fields(kind: Kind, obj: JSON) -> list[str]:
    return []


def v2_document() -> JSON:
    return {}


def v3_index() -> JSON:
    return {"paths": {}}


def v3_document(path: str) -> JSON | None:
    return None
