"""Running bound checks: timeouts, bounded concurrency, results that never crash the caller."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cockpit.check_types import CheckConfig, CommandCheckConfig
from cockpit.checks.base import CheckContext, CheckFailed, CheckResult
from cockpit.checks.processes import KILL_GRACE_SECONDS
from cockpit.checks.registry import RUNS, CheckRun
from cockpit.errors import CockpitError


@dataclass(frozen=True)
class BoundCheck:
    """One [[checks]] entry, validated, for one item, with the run of its type."""

    index: int
    item_id: str
    spec: CheckConfig
    timeout: float
    run: CheckRun

    @property
    def name(self) -> str:
        return self.spec.describe()


def compile_binding(index: int, item_id: str, binding: CheckConfig) -> BoundCheck:
    """A validated `[[checks]]` entry, ready to run for `item_id`."""
    return BoundCheck(index, item_id, binding, binding.run_timeout, RUNS[type(binding)])


async def run_check(bound: BoundCheck, ctx: CheckContext) -> CheckResult:
    """Run one check to a result; whatever goes wrong is a failed result, never an exception."""
    started = time.monotonic()
    check_ctx = ctx.for_check(bound.timeout)
    # a command kills its own process group at the timeout; give it room to report that
    deadline = bound.timeout + (
        2 * KILL_GRACE_SECONDS + 1 if isinstance(bound.spec, CommandCheckConfig) else 0
    )
    try:
        result = await asyncio.wait_for(bound.run(bound.spec, check_ctx), deadline)
    except CheckFailed as failed:
        result = CheckResult(
            False, failed.evidence, time.monotonic() - started, reason=failed.reason
        )
    except TimeoutError:
        result = CheckResult(
            False,
            f"{bound.name}: no result within {bound.timeout:g} s (timeout)",
            time.monotonic() - started,
            reason="timeout",
        )
    except CockpitError as exc:
        text = exc.message + (f" ({exc.hint})" if exc.hint else "")
        result = CheckResult(False, text, time.monotonic() - started, reason="error")
    except Exception as exc:  # noqa: BLE001 - a check's library failing must not stop the go-live
        result = CheckResult(
            False,
            f"{bound.name}: {type(exc).__name__}: {exc}",
            time.monotonic() - started,
            reason="error",
        )
    return result.scrubbed(ctx.secrets)


async def run_checks(
    checks: Sequence[BoundCheck],
    ctx: CheckContext,
    *,
    jobs: int,
    on_result: Callable[[BoundCheck, CheckResult], Awaitable[Any] | None] | None = None,
) -> list[tuple[BoundCheck, CheckResult]]:
    """All checks, at most `jobs` at a time; results in the order given."""
    semaphore = asyncio.Semaphore(max(1, jobs))

    async def one(bound: BoundCheck) -> tuple[BoundCheck, CheckResult]:
        async with semaphore:
            result = await run_check(bound, ctx)
        if on_result is not None:
            maybe = on_result(bound, result)
            if maybe is not None:
                await maybe
        return bound, result

    return list(await asyncio.gather(*(one(bound) for bound in checks)))
