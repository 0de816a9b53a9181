"""The `errors` check: no new error issues since the go-live started, and no spike."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from pydantic import Field

from cockpit.checks.base import (
    CheckContext,
    CheckFailed,
    CheckResult,
    CheckSpec,
    Stopwatch,
    register,
)
from cockpit.sources.errors import ErrorWatcher


@register
class ErrorsCheck(CheckSpec):
    """The error tracker shows at most `max_new_issues` new issues, and no spike."""

    TYPE: ClassVar[str] = "errors"
    DEFAULT_TIMEOUT: ClassVar[float] = 60.0

    max_new_issues: int = Field(default=0, ge=0, description="New issues tolerated.")
    no_spike: bool = Field(default=True, description="Also fail on an event spike.")
    sample_seconds: float = Field(
        default=15.0, ge=1, description="Bugsink: seconds between the two counts of a spike check."
    )

    def describe(self) -> str:
        return "errors: no new issues" + (", no spike" if self.no_spike else "")

    async def run(self, ctx: CheckContext) -> CheckResult:
        if ctx.environment.errors is None:
            raise CheckFailed(
                f"no error tracker: set [environments.{ctx.env_name}.errors]", reason="error"
            )
        watch = Stopwatch()
        watcher = ErrorWatcher(ctx, lambda _f: None, started=ctx.started)
        feed = await asyncio.to_thread(watcher.poll)
        if self.no_spike and ctx.environment.errors.provider == "bugsink" and not feed.stale:
            await asyncio.sleep(self.sample_seconds)
            feed = await asyncio.to_thread(watcher.poll)
        if feed.stale:
            raise CheckFailed(f"error tracker: {feed.last_error}", reason="unreachable")
        new = [i for i in feed.issues if i.badge == "NEW"]
        problems = []
        if len(new) > self.max_new_issues:
            shown = ", ".join(f"{i.short_id} {i.title[:60]}" for i in new[:3])
            problems.append(f"{len(new)} new issue(s) (at most {self.max_new_issues}): {shown}")
        if self.no_spike and feed.spike is not None and feed.spike.spiking:
            problems.append(f"spike: {feed.spike.reason}")
        if problems:
            raise CheckFailed("; ".join(problems))
        spike = f"; {feed.spike.reason}" if feed.spike else ""
        return CheckResult(True, f"{len(new)} new issue(s){spike}", watch.elapsed)
