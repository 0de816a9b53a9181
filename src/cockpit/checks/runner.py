"""Running bound checks: timeouts, bounded concurrency, results that never crash the caller."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from cockpit.checks.base import REGISTRY, CheckContext, CheckFailed, CheckResult, CheckSpec
from cockpit.checks.command import KILL_GRACE_SECONDS, CommandCheck
from cockpit.config import CheckBinding
from cockpit.errors import CockpitError


@dataclass(frozen=True)
class BoundCheck:
    """One [[checks]] entry, validated, for one item."""

    index: int
    item_id: str
    spec: CheckSpec
    timeout: float

    @property
    def name(self) -> str:
        return self.spec.describe()


def spec_errors(binding: CheckBinding) -> list[tuple[tuple[str | int, ...], str, str]]:
    """(location, error type, message) for a binding's type-specific fields."""
    kind = REGISTRY.get(binding.type)
    if kind is None:
        import difflib

        close = difflib.get_close_matches(binding.type, list(REGISTRY), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return [
            (
                ("type",),
                "value_error",
                f"unknown check type {binding.type!r}{hint} (types: {', '.join(sorted(REGISTRY))})",
            )
        ]
    try:
        kind.model_validate(binding.model_extra or {})
    except ValidationError as exc:
        return [(tuple(e["loc"]), e["type"], str(e["msg"])) for e in exc.errors()]
    return []


def compile_binding(index: int, item_id: str, binding: CheckBinding) -> BoundCheck:
    kind = REGISTRY[binding.type]
    spec = kind.model_validate(binding.model_extra or {})
    return BoundCheck(index, item_id, spec, binding.timeout or kind.DEFAULT_TIMEOUT)


async def run_check(bound: BoundCheck, ctx: CheckContext) -> CheckResult:
    """Run one check to a result; whatever goes wrong is a failed result, never an exception."""
    started = time.monotonic()
    check_ctx = ctx.for_check(bound.timeout)
    # a command kills its own process group at the timeout; give it room to report that
    deadline = bound.timeout + (
        2 * KILL_GRACE_SECONDS + 1 if isinstance(bound.spec, CommandCheck) else 0
    )
    try:
        result = await asyncio.wait_for(bound.spec.run(check_ctx), deadline)
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
