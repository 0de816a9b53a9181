"""Server-side apply."""

from __future__ import annotations

from cockpit.rehearsal.store import JSON, ApiError, Kind


def server_side_apply(
    kind: Kind, current: JSON | None, intent: JSON, manager: str, force: bool
) -> JSON:
    raise ApiError(415, "UnsupportedMediaType", "not yet")
