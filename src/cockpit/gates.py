"""Measurements -> metric phase -> gate -> GO / NO-GO verdict. Pure functions, no I/O.

Semantics follow rollout analysis as release engineers know it: every point of a metric's
range query is a measurement (Successful, Failed, Inconclusive, Error or NoData); the metric
fails when failed measurements exceed `failure_limit` (0: the first failure fails it);
`consecutive_error_limit` failed queries in a row make it Error; "no data" has its own,
explicit policy. Every verdict carries its reasons, with the values, the threshold and the
query, because the first question after NO-GO is always "why".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cockpit.config import MetricConfig, duration_seconds

Outcome = Literal["Successful", "Failed", "Inconclusive", "Error", "NoData"]
Phase = Literal["Pending", "Running", "Successful", "Failed", "Error", "Inconclusive"]
Display = Literal["ok", "warn", "breach", "no data", "error", "pending"]
VerdictState = Literal["GO", "NO-GO", "PENDING"]


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float  # in shown units (scale applied); NaN = no data


@dataclass(frozen=True)
class Measurement:
    at: datetime
    value: float
    outcome: Outcome


@dataclass(frozen=True)
class MetricState:
    """Everything the pane, the verdict and the report need about one metric."""

    metric: MetricConfig
    query: str
    points: tuple[Point, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    phase: Phase = "Pending"
    display: Display = "pending"
    reason: str = "no measurement yet"
    last_error: str | None = None
    consecutive_errors: int = 0
    fetched_at: datetime | None = None
    last_ok: datetime | None = None

    @property
    def current(self) -> float | None:
        for point in reversed(self.points):
            if not math.isnan(point.value):
                return point.value
        return None

    @property
    def stale(self) -> bool:
        return self.consecutive_errors > 0


def threshold_text(metric: MetricConfig) -> str:
    sign = "<" if metric.direction == "upper" else ">="
    parts = []
    if metric.warn is not None:
        parts.append(f"warn {sign} {metric.warn:g}{metric.unit}")
    if metric.fail is not None:
        parts.append(f"fail {sign} {metric.fail:g}{metric.unit}")
    return ", ".join(parts) or "no threshold"


def _beyond(metric: MetricConfig, value: float, limit: float | None) -> bool:
    if limit is None:
        return False
    return value >= limit if metric.direction == "upper" else value < limit


def classify(metric: MetricConfig, value: float) -> Outcome:
    if math.isnan(value):
        return "NoData"
    return "Failed" if _beyond(metric, value, metric.fail) else "Successful"


def display_of(metric: MetricConfig, value: float | None) -> Display:
    if value is None or math.isnan(value):
        return "no data"
    if _beyond(metric, value, metric.fail):
        return "breach"
    if _beyond(metric, value, metric.warn):
        return "warn"
    return "ok"


def evaluate(
    metric: MetricConfig,
    query: str,
    points: list[Point],
    *,
    started: datetime | None,
    consecutive_errors: int = 0,
    last_error: str | None = None,
    fetched_at: datetime | None = None,
    last_ok: datetime | None = None,
) -> MetricState:
    """The metric's phase from the points of its last range query since the go-live began."""
    delay = duration_seconds(metric.initial_delay)
    counted = [p for p in points if started is None or (p.at - started).total_seconds() >= delay]
    measurements = tuple(Measurement(p.at, p.value, classify(metric, p.value)) for p in counted)
    latest = counted[-1].value if counted else math.nan
    base = {
        "metric": metric,
        "query": query,
        "points": tuple(points),
        "measurements": measurements,
        "last_error": last_error,
        "consecutive_errors": consecutive_errors,
        "fetched_at": fetched_at,
        "last_ok": last_ok,
    }
    shown_value = next((p.value for p in reversed(points) if not math.isnan(p.value)), None)
    display = display_of(metric, shown_value)
    sign = "<" if metric.direction == "upper" else ">="
    limit = f"{sign} {metric.fail:g}{metric.unit}" if metric.fail is not None else "no limit"

    if consecutive_errors >= metric.consecutive_error_limit:
        return MetricState(
            **base,  # type: ignore[arg-type]
            phase="Error",
            display="error",
            reason=f"{consecutive_errors} queries in a row failed: {last_error}",
        )
    if fetched_at is None:
        return MetricState(**base, phase="Pending", display="pending")  # type: ignore[arg-type]
    if started is not None and (fetched_at - started).total_seconds() < delay:
        return MetricState(
            **base,  # type: ignore[arg-type]
            phase="Pending",
            display=display,
            reason=f"initial_delay {metric.initial_delay} (analysis restarts after a release "
            "or a rollback)",
        )
    failures = [m for m in measurements if m.outcome == "Failed"]
    no_data = [m for m in measurements if m.outcome == "NoData"]
    if metric.no_data == "fail":
        failures += no_data
    if len(failures) > metric.failure_limit:
        worst = failures[-1]
        shown = "no data" if math.isnan(worst.value) else f"{worst.value:g}{metric.unit}"
        return MetricState(
            **base,  # type: ignore[arg-type]
            phase="Failed",
            display=display if display != "ok" else "breach",
            reason=f"{len(failures)} failed measurement(s) (limit {metric.failure_limit}); "
            f"latest failure {shown} at {worst.at:%H:%M:%S}, must be {limit}",
        )
    if not counted or math.isnan(latest):
        if metric.no_data == "pass":
            return MetricState(
                **base,  # type: ignore[arg-type]
                phase="Successful",
                display="no data",
                reason="no data, and no_data = pass",
            )
        return MetricState(
            **base,  # type: ignore[arg-type]
            phase="Inconclusive",
            display="no data",
            reason="no data (empty or NaN: no traffic?); no_data = inconclusive: a human decides",
        )
    healthy = [m for m in measurements if m.outcome == "Successful"]
    if len(healthy) < metric.min_samples:
        return MetricState(
            **base,  # type: ignore[arg-type]
            phase="Running",
            display=display,
            reason=f"{len(healthy)} of {metric.min_samples} measurements so far; "
            f"latest {latest:g}{metric.unit}, must be {limit}",
        )
    return MetricState(
        **base,  # type: ignore[arg-type]
        phase="Successful",
        display=display,
        reason=f"{len(healthy)} measurements within {limit}; latest {latest:g}{metric.unit}",
    )


# --- the verdict ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    state: VerdictState
    reasons: tuple[str, ...] = ()
    rollback_recommended: bool = False

    def __str__(self) -> str:
        return self.state + (": " + "; ".join(self.reasons) if self.reasons else "")


@dataclass(frozen=True)
class RolloutFact:
    """What the verdict needs to know about one deployment."""

    name: str
    complete: bool
    failing: bool
    message: str
    changed_during_go_live: bool = False


@dataclass(frozen=True)
class VerdictInputs:
    metrics: tuple[MetricState, ...] = ()
    rollouts: tuple[RolloutFact, ...] = ()
    failed_items: tuple[str, ...] = ()
    rollouts_known: bool = True
    error_spike: str | None = None  # the reason, when the errors gate sees a spike
    errors_unknown: str | None = None  # why the errors gate cannot judge yet


def verdict(inputs: VerdictInputs) -> Verdict:
    """GO when every gate passes, every rollout is complete and no checklist item failed;
    NO-GO with its reasons when something failed; PENDING otherwise, also with reasons."""
    no_go: list[str] = []
    pending: list[str] = []
    gate_failed = False
    for state in inputs.metrics:
        if not state.metric.gate:
            continue
        name = state.metric.name
        if state.phase in ("Failed", "Error"):
            gate_failed = True
            no_go.append(f"gate {name} {state.phase.lower()}: {state.reason}")
        elif state.phase != "Successful":
            pending.append(f"gate {name} {state.phase.lower()}: {state.reason}")
    for rollout in inputs.rollouts:
        if rollout.failing:
            no_go.append(f"rollout {rollout.name}: {rollout.message}")
        elif not rollout.complete:
            pending.append(f"rollout {rollout.name}: {rollout.message}")
    if not inputs.rollouts_known:
        pending.append("rollout status not known yet")
    for item in inputs.failed_items:
        no_go.append(f"checklist item failed: {item}")
    if inputs.error_spike:
        gate_failed = True
        no_go.append(f"errors spike: {inputs.error_spike}")
    elif inputs.errors_unknown:
        pending.append(f"errors: {inputs.errors_unknown}")
    if no_go:
        rollout_failing = any(r.failing for r in inputs.rollouts)
        recommend = (gate_failed or rollout_failing) and any(
            r.changed_during_go_live for r in inputs.rollouts
        )
        return Verdict("NO-GO", tuple(no_go), rollback_recommended=recommend)
    if pending:
        return Verdict("PENDING", tuple(pending))
    return Verdict("GO")
