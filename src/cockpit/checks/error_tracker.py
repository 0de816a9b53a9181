"""The `errors` check: the error tracker shows no new issues since the go-live began, no spike."""

from __future__ import annotations

import asyncio

from cockpit.check_types import ErrorsCheckConfig
from cockpit.checks.base import CheckContext, CheckFailed, CheckResult, Stopwatch


async def run(check: ErrorsCheckConfig, ctx: CheckContext) -> CheckResult:
    from cockpit.sources.errors import ErrorWatcher  # lazy: loaded when it runs, not when compiled

    if ctx.environment.errors is None:
        raise CheckFailed(
            f"no error tracker: set [environments.{ctx.env_name}.errors]", reason="error"
        )
    watch = Stopwatch()
    watcher = ErrorWatcher(ctx, lambda _f: None, started=ctx.started)
    feed = await asyncio.to_thread(watcher.poll)
    if check.no_spike and ctx.environment.errors.provider == "bugsink" and not feed.stale:
        await asyncio.sleep(check.sample_seconds)
        feed = await asyncio.to_thread(watcher.poll)
    if feed.stale:
        raise CheckFailed(f"error tracker: {feed.last_error}", reason="unreachable")
    new = [i for i in feed.issues if i.badge == "NEW"]
    problems = []
    if len(new) > check.max_new_issues:
        shown = ", ".join(f"{i.short_id} {i.title[:60]}" for i in new[:3])
        problems.append(f"{len(new)} new issue(s) (at most {check.max_new_issues}): {shown}")
    if check.no_spike and feed.spike is not None and feed.spike.spiking:
        problems.append(f"spike: {feed.spike.reason}")
    if problems:
        raise CheckFailed("; ".join(problems))
    spike = f"; {feed.spike.reason}" if feed.spike else ""
    return CheckResult(True, f"{len(new)} new issue(s){spike}", watch.elapsed)
