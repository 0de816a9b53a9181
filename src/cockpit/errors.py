"""One error family for everything the operator may have to fix.

Every failure the operator can act on is a `CockpitError` with a message that says what is
wrong and a hint that says how to fix it; the CLI prints both and exits 2, the TUI shows both
in a panel. Anything else is a bug in the cockpit, not the operator's problem to decode.
"""

from __future__ import annotations


class CockpitError(Exception):
    """Something the operator can fix: what is wrong, and how to fix it."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "", *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details: list[str] = list(details or [])

    def render(self) -> str:
        lines = [f"error: {self.message}"]
        lines.extend(f"  {d}" for d in self.details)
        if self.hint:
            lines.append(f"hint: {self.hint}")
        return "\n".join(lines)


class ConfigError(CockpitError):
    """The TOML configuration is missing, unreadable or invalid."""


class ChecklistError(CockpitError):
    """The Markdown checklist cannot be read or an item reference does not resolve."""


class StateError(CockpitError):
    """The durable state file cannot be read, written or locked."""


class AuditError(CockpitError):
    """The audit log cannot be written or does not verify."""
