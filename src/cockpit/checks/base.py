"""What every check type's run shares: its result, a stopwatch (its context is the go-live's,
cockpit/context.py).

A check type is a model of its TOML keys (cockpit/check_types.py, validated with the rest of
the config) and an async `run` in its own module here, listed in `registry.py`.
Checks never raise for a failed condition: they return a `CheckResult` whose one-line
`evidence` says what was measured, so the operator can trust a tick without re-checking.
Secrets they read are registered in the context and scrubbed from everything they return.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cockpit.context import CheckFailed as CheckFailed  # noqa: PLC0414 - check types raise it
from cockpit.context import GoLiveContext
from cockpit.secrets import remember, scrub

# the context a check runs in: the one context checks, steps and sources share
CheckContext = GoLiveContext


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: passed or not, and the evidence."""

    passed: bool
    evidence: str
    duration: float = 0.0
    details: tuple[str, ...] = ()
    reason: str | None = None  # "timeout", "unreachable", "cancelled", "error" or None

    def scrubbed(self, secrets: Iterable[str]) -> CheckResult:
        values = remember(secrets)
        if not values:
            return self
        return CheckResult(
            passed=self.passed,
            evidence=scrub(self.evidence, values),
            duration=self.duration,
            details=tuple(scrub(line, values) for line in self.details),
            reason=self.reason,
        )


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    @property
    def ms(self) -> float:
        return self.elapsed * 1000.0


def ssl_context(ca_file: Path | None, ctx: GoLiveContext) -> ssl.SSLContext:
    """A verifying TLS context: the system's CAs, or the check's own `ca_file`."""
    if ca_file is not None:
        return ssl.create_default_context(cafile=str(ctx.path(ca_file)))
    return ssl.create_default_context()
