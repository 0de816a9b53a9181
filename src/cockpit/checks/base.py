"""What every check type shares: its parameters, its result, the registry (its context is
the go-live's, cockpit/context.py).

A check type is a pydantic model (its TOML fields, validated strictly) with an async `run`.
Checks never raise for a failed condition: they return a `CheckResult` whose one-line
`evidence` says what was measured, so the operator can trust a tick without re-checking.
Secrets they read are registered in the context and scrubbed from everything they return.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from cockpit.context import DEFAULT_TIMEOUT, GoLiveContext
from cockpit.context import CheckFailed as CheckFailed  # noqa: PLC0414 - check types raise it
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


class CheckSpec(BaseModel):
    """Base of every check type's parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    TYPE: ClassVar[str] = ""
    DEFAULT_TIMEOUT: ClassVar[float] = DEFAULT_TIMEOUT

    def secret_refs(self) -> list[tuple[str, str, str]]:
        """(field, "env" or "file", value) of every secret this check reads."""
        refs: list[tuple[str, str, str]] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is None:
                continue
            if name.endswith("_env") and isinstance(value, str):
                refs.append((name, "env", value))
            elif name.endswith("_file") and name != "ca_file":
                refs.append((name, "file", str(value)))
        return refs

    def describe(self) -> str:
        """A short name for the check, shown in lists and JUnit test case names."""
        return self.TYPE

    def effect(self) -> str | None:
        """What running this check changes outside the cockpit (runs a command, sends a mail,
        POSTs), or None: a read-only cockpit refuses every check that has one."""
        return None

    async def run(self, ctx: CheckContext) -> CheckResult:
        raise NotImplementedError


REGISTRY: dict[str, type[CheckSpec]] = {}


_SpecT = TypeVar("_SpecT", bound=type[CheckSpec])


def register(cls: _SpecT) -> _SpecT:
    REGISTRY[cls.TYPE] = cls
    return cls


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    @property
    def ms(self) -> float:
        return self.elapsed * 1000.0
