"""The `prometheus` check: an instant PromQL query meets a condition, for every series."""

from __future__ import annotations

import asyncio
from typing import Any

from cockpit.check_types import PrometheusCheckConfig
from cockpit.checks.base import CheckContext, CheckFailed, CheckResult, Stopwatch
from cockpit.conditions import Condition


async def run(check: PrometheusCheckConfig, ctx: CheckContext) -> CheckResult:
    from cockpit.sources.prometheus import (  # lazy: loaded when it runs, not when compiled
        PrometheusError,
        client_for,
        connect,
        instant_query,
    )

    prom = ctx.environment.prometheus
    url = check.url or (prom.url if prom else None)
    if not url:
        raise CheckFailed(
            f"no Prometheus: set [environments.{ctx.env_name}.prometheus] or url",
            reason="error",
        )
    query = ctx.fill(check.query)
    condition = Condition.parse(check.condition)
    watch = Stopwatch()
    # the environment's Prometheus settings (auth, headers, TLS), as the metrics pane
    client = (
        client_for(prom, ctx, url=url, timeout=ctx.timeout)
        if prom
        else connect(url, timeout=ctx.timeout)
    )
    try:
        samples, warnings = await asyncio.to_thread(instant_query, client, query)
    except PrometheusError as exc:
        text = str(exc)
        reason = (
            "timeout"
            if "in time" in text or "answer in" in text
            else ("unreachable" if "cannot reach" in text else "error")
        )
        raise CheckFailed(f"{query}: {exc}", reason=reason) from exc
    measured = [(s, condition.holds(s.value)) for s in samples]
    bad = [s for s, verdict in measured if verdict is False]
    if bad:  # a breach is said first, whatever else is missing
        raise CheckFailed(
            f"{query}: {len(bad)} of {len(measured)} series not {condition}: "
            + ", ".join(f"{_series(s)} = {s.value:g}" for s in bad[:5])
        )
    missing = [s for s, verdict in measured if verdict is None]  # NaN: no data
    if not samples or len(missing) == len(samples) or (missing and check.no_data != "pass"):
        what = (
            "no data"
            if not samples
            else f"NaN (no data) for {', '.join(_series(s) for s in missing[:3])}"
        )
        evidence = f"{query} = {what}; policy no_data = {check.no_data}"
        if check.no_data == "pass":
            return CheckResult(True, evidence, watch.elapsed)
        raise CheckFailed(evidence + ("" if check.no_data == "fail" else " (inconclusive)"))
    shown = ", ".join(f"{_series(s)} = {s.value:g}" for s, _ in measured[:5]) + (
        f", … {len(measured) - 5} more" if len(measured) > 5 else ""
    )
    evidence = f"{query}: {shown} (must be {condition})"
    if warnings:
        # part of the data did not answer: the missing part may hold the breach
        raise CheckFailed(
            f"{evidence}; Prometheus warned the answer may be partial: {warnings[0]} (inconclusive)"
        )
    return CheckResult(True, evidence, watch.elapsed)


def _series(sample: Any) -> str:
    """A series as PromQL writes it: {job="api", instance="a:9100"}; {} without labels."""
    name = str(sample.labels.get("__name__", ""))
    pairs = sorted((k, v) for k, v in sample.labels.items() if k != "__name__")
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in pairs) + "}"
