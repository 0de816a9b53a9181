"""Who writes this environment's audit lines, and whether they may act at all.

Every part of a session writes through one `Recorder`: the same environment, operator and
channel (`via`) on every line, and the same refusal wording when the cockpit is read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cockpit.audit import AuditEntry, AuditLog
from cockpit.errors import CockpitError
from cockpit.identity import Operator
from cockpit.state import AuditHead


@dataclass
class Recorder:
    audit: AuditLog
    env_name: str
    operator: Operator
    via: str = "cli"
    read_only: bool = False
    # told of every line written: the team's shared progress sends it in the background
    nudge: Callable[[], object] | None = None

    def record(self, action: str, **fields: Any) -> AuditEntry:
        """Append one audit line (fsynced) before the effect it announces."""
        entry = self.audit.append(action, self.env_name, self.operator, via=self.via, **fields)
        if self.nudge is not None:
            self.nudge()
        return entry

    def refuse_if_read_only(self, what: str) -> None:
        if self.read_only:
            raise CockpitError(
                f"read-only: cannot {what} in environment {self.env_name!r}",
                "start the cockpit without --read-only (and without read_only = true) to act",
            )


def head_of(entry: AuditEntry) -> AuditHead:
    """The audit head a state write records: the entry it follows from."""
    return AuditHead(seq=entry.seq, hash=entry.hash)
