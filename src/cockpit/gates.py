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
from datetime import UTC, datetime, timedelta
from typing import Literal

from cockpit.analysis import RollbackTarget, RunStatus
from cockpit.config import MetricConfig, duration_seconds

Outcome = Literal["Successful", "Failed", "Inconclusive", "Error", "NoData"]
Phase = Literal["Pending", "Running", "Successful", "Failed", "Error", "Inconclusive", "Stale"]
Display = Literal["ok", "warn", "breach", "no data", "error", "pending", "stale"]
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
    run_started: datetime | None = None  # the analysis run these measurements belong to
    # Prometheus's warnings with the last answer (a partial response: a store did not answer)
    warnings: tuple[str, ...] = ()
    details: tuple[str, ...] = ()  # e.g. the firing alerts of an alerts metric, with their age

    @property
    def current(self) -> float | None:
        for point in reversed(self.points):
            if not math.isnan(point.value):
                return point.value
        return None

    @property
    def stale(self) -> bool:
        return self.phase == "Stale" or self.consecutive_errors > 0


def format_value(value: float, unit: str = "") -> str:
    """A measurement as an operator reads it: three significant digits, a k or M for large
    numbers, the unit after a space (`45.3 ms`, `1.40k req/s`, `0.031 %`, `308 ms`).

    `45.2853ms` and `1402.1665req/s` had more digits than meaning, and `1.52k` lost its unit
    when the column was narrow."""
    if math.isnan(value):
        shown = "NaN"
    elif math.isinf(value):
        shown = "∞" if value > 0 else "-∞"
    else:
        suffix = ""
        size = abs(value)
        if size >= 999_500:
            value, size, suffix = value / 1_000_000, size / 1_000_000, "M"
        elif size >= 999.5:
            value, size, suffix = value / 1000, size / 1000, "k"
        if size == 0:
            shown = "0"
        elif size >= 0.001 or suffix:
            # digits after the point so that three are significant, at most three
            decimals = min(3, max(0, 2 - math.floor(math.log10(size))))
            shown = f"{value:.{decimals}f}"
            if decimals and abs(float(shown)) >= 10 ** (3 - decimals):
                shown = f"{value:.{decimals - 1}f}"  # rounded up a digit: 99.96 -> 100.0 -> 100
        else:
            shown = f"{value:.2g}"
        shown += suffix
    return f"{shown} {unit}" if unit else shown


def limit_text(limit: float, unit: str) -> str:
    """A configured limit as written in the config (`80 ms`, not `80.0 ms`)."""
    return f"{limit:g} {unit}" if unit else f"{limit:g}"


def fail_words(metric: MetricConfig) -> str:
    """`fails at 100 ms or above` / `fails below 1000 req/s` / `no fail limit`."""
    if metric.fail is None:
        return "no fail limit"
    if metric.direction == "upper":
        return f"fails at {limit_text(metric.fail, metric.unit)} or above"
    return f"fails below {limit_text(metric.fail, metric.unit)}"


def threshold_text(metric: MetricConfig) -> str:
    """The limits in words, the way the gate applies them (`value >= limit` fails an upper
    metric, `value < limit` a lower one): `warns at 80 ms or above, fails at 100 ms or above`.
    `warn < 80ms` read backwards."""
    if metric.direction == "upper":

        def words(verb: str, limit: float) -> str:
            return f"{verb} at {limit_text(limit, metric.unit)} or above"
    else:

        def words(verb: str, limit: float) -> str:
            return f"{verb} below {limit_text(limit, metric.unit)}"

    parts = []
    if metric.warn is not None:
        parts.append(words("warns", metric.warn))
    if metric.fail is not None:
        parts.append(words("fails", metric.fail))
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


def stale_after_seconds(metric: MetricConfig) -> float:
    if metric.stale_after is not None:
        return duration_seconds(metric.stale_after)
    return max(120.0, 3 * duration_seconds(metric.step))


def grid_floor(moment: datetime, step_seconds: float) -> datetime:
    """The step-grid point at or before `moment`: range queries start and end on the grid, so
    the same data always gives the same measurements, whenever it is asked."""
    step = max(1, int(step_seconds))
    return datetime.fromtimestamp(int(moment.timestamp()) // step * step, UTC)


def grid_ceil(moment: datetime, step_seconds: float) -> datetime:
    floor = grid_floor(moment, step_seconds)
    return floor if floor == moment else floor + timedelta(seconds=max(1, int(step_seconds)))


def measurements_of(
    metric: MetricConfig, points: list[Point], *, since: datetime, until: datetime
) -> tuple[Measurement, ...]:
    """One measurement per grid step from `since` to `until`; a step the answer has no point
    for is a NoData measurement (Prometheus leaves out steps without data)."""
    step = max(1, int(duration_seconds(metric.step)))
    by_time = {int(p.at.timestamp()) // step * step: p.value for p in points}  # grid slots
    first = int(grid_ceil(since, step).timestamp())
    last = int(grid_floor(until, step).timestamp())
    if last - first > MAX_MEASUREMENTS * step:
        first = last - MAX_MEASUREMENTS * step
    found = []
    for moment in range(first, last + 1, step):
        value = by_time.get(moment, math.nan)
        found.append(
            Measurement(datetime.fromtimestamp(moment, UTC), value, classify(metric, value))
        )
    return tuple(found)


MAX_MEASUREMENTS = 10_000  # Prometheus refuses more than 11,000 points per series


@dataclass(frozen=True)
class Measuring:
    """Where the current run's measurements count from, as the sources ask it at each poll."""

    since: datetime | None = None  # None: not yet (or no run)
    waiting: str | None = None  # why nothing is measured yet
    # it replaced a suspect run: what the sources saw before `since` (a query's look-back,
    # an error bucket begun before it) is the suspect revision's, not this run's
    after_failure: bool = False


def evaluate(
    metric: MetricConfig,
    query: str,
    points: list[Point],
    *,
    started: datetime | None,
    measure_from: datetime | None = None,
    waiting: str | None = None,
    lookback: float = 0.0,
    consecutive_errors: int = 0,
    last_error: str | None = None,
    fetched_at: datetime | None = None,
    last_ok: datetime | None = None,
    warnings: tuple[str, ...] = (),
    details: tuple[str, ...] = (),
) -> MetricState:
    """The metric's phase in the current release analysis run, from its range query.

    `started` is when the run began (which run these measurements belong to); they count
    from `initial_delay` after `measure_from` (the run's start unless it says otherwise), one
    per step on the step grid, up to the last successful answer (`last_ok`). Failed
    measurements beyond `failure_limit` fail the metric, wherever they are in the run (fail
    fast; the run keeps the failure even after the points leave the query's range). While
    the run is `waiting` (pods of a failed revision still serve) nothing is measured: the
    metric is Pending, saying why. `lookback` (seconds) is how far back the query reads
    (its longest range), counted as a delay after a suspect run: until then each value
    still holds the suspect revision's requests.
    """
    delay = max(duration_seconds(metric.initial_delay), lookback)
    shown_from = (last_ok or fetched_at or datetime.now(UTC)) - timedelta(
        seconds=duration_seconds(metric.window)
    )
    base = {
        "metric": metric,
        "query": query,
        "points": tuple(p for p in points if p.at >= shown_from),  # the sparkline's window
        "last_error": last_error,
        "consecutive_errors": consecutive_errors,
        "fetched_at": fetched_at,
        "last_ok": last_ok,
        "run_started": started,
        "warnings": warnings,
        "details": details,
    }
    begin = measure_from or started
    measured_from = begin + timedelta(seconds=delay) if begin is not None else None
    measurements: tuple[Measurement, ...] = ()
    if last_ok is not None and waiting is None:
        since = measured_from or (points[0].at if points else last_ok)
        if since <= last_ok:
            measurements = measurements_of(metric, points, since=since, until=last_ok)
    base["measurements"] = measurements
    shown_value = next((p.value for p in reversed(points) if not math.isnan(p.value)), None)
    display = display_of(metric, shown_value)
    limit = fail_words(metric)

    def state(phase: Phase, display: Display, reason: str) -> MetricState:
        return MetricState(**base, phase=phase, display=display, reason=reason)  # type: ignore[arg-type]

    if consecutive_errors >= metric.consecutive_error_limit:
        return state(
            "Error", "error", f"{consecutive_errors} queries in a row failed: {last_error}"
        )
    failures = [m for m in measurements if m.outcome == "Failed"]
    if metric.no_data == "fail":
        failures += [m for m in measurements if m.outcome == "NoData"]
        failures.sort(key=lambda m: m.at)
    if len(failures) > metric.failure_limit:
        worst = failures[-1]
        shown = "no data" if math.isnan(worst.value) else format_value(worst.value, metric.unit)
        return state(
            "Failed",
            display if display != "ok" else "breach",
            f"{len(failures)} failed measurement(s) (limit {metric.failure_limit}); "
            f"latest failure {shown} at {worst.at:%H:%M:%S}; {limit}",
        )
    if consecutive_errors:
        return state("Stale", "stale", f"cannot see it: the last query failed: {last_error}")
    if waiting is not None:  # the value is the failed revision's: never shown as this run's
        return state("Pending", "pending", waiting)
    if last_ok is None or fetched_at is None:
        return state("Pending", "pending", "no measurement yet")
    stale_limit = stale_after_seconds(metric)
    present = [p for p in points if not math.isnan(p.value)]
    if present:
        age = (last_ok - present[-1].at).total_seconds()
        if age > stale_limit:
            return state(
                "Stale",
                "stale",
                f"cannot see it: newest point is {age:.0f}s old at {present[-1].at:%H:%M:%S} "
                f"(stale_after {stale_limit:.0f}s)",
            )
    if measured_from is not None and last_ok < measured_from:
        why = f"initial_delay {metric.initial_delay}"
        if lookback > duration_seconds(metric.initial_delay):
            why = (
                f"its query reads {duration_text(lookback)} back, into the suspect revision's time"
            )
        return state("Pending", display, f"{why}: measuring starts at {measured_from:%H:%M:%S}")
    if measured_from is not None and not measurements:
        # past the delay but before its first grid step: nothing measured yet is not "no
        # data" (the pane showed n/d for a step after every initial delay)
        first = grid_ceil(measured_from, duration_seconds(metric.step))
        return state("Pending", display, f"the first measurement is at {first:%H:%M:%S}")
    latest = measurements[-1].value if measurements else math.nan
    if math.isnan(latest):
        if metric.no_data == "pass":
            return state("Successful", "no data", "no data, and no_data = pass")
        return state(
            "Inconclusive",
            "no data",
            "no data (empty or NaN: no traffic?); no_data = inconclusive: a human decides",
        )
    if warnings:
        # a value computed from part of the data may hide the breach; a failure above stands
        return state(
            "Inconclusive",
            "warn",
            f"Prometheus warned the answer may be partial: {warnings[0]}; "
            f"latest {format_value(latest, metric.unit)} cannot back a pass",
        )
    healthy = [m for m in measurements if m.outcome == "Successful"]
    if len(healthy) < metric.min_samples:
        tolerated = f", {len(failures)} failed (limit {metric.failure_limit})" if failures else ""
        return state(
            "Running",
            display,
            f"{len(healthy)} of {metric.min_samples} healthy measurements so far{tolerated}; "
            f"latest {format_value(latest, metric.unit)}; {limit}",
        )
    return state(
        "Successful",
        display,
        f"{len(healthy)} measurements passed ({limit}); latest {format_value(latest, metric.unit)}",
    )


# --- the verdict ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    state: VerdictState
    reasons: tuple[str, ...] = ()
    rollback_recommended: bool = False
    judging: str | None = None  # the revision(s) the current run judges
    run_id: str | None = None
    failure: str | None = None  # what fails the run, when it is not recorded as failed yet
    targets: tuple[RollbackTarget, ...] = ()  # where a rollback should go
    bake_remaining: float = 0.0

    def __str__(self) -> str:
        return self.state + (": " + "; ".join(self.reasons) if self.reasons else "")


@dataclass(frozen=True)
class RolloutFact:
    """What the verdict needs to know about one deployment."""

    name: str
    complete: bool
    failing: bool
    message: str
    # its spec changed and its controller has not observed it yet (generation above
    # observedGeneration): which revision it will run is not known
    unobserved: bool = False


ErrorsGateState = Literal["ok", "spike", "new", "unknown", "stale", "error"]


@dataclass(frozen=True)
class VerdictInputs:
    metrics: tuple[MetricState, ...] = ()
    rollouts: tuple[RolloutFact, ...] = ()
    failed_items: tuple[str, ...] = ()
    unseen_clusters: tuple[str, ...] = ()  # why a cluster cannot be seen, one per cluster
    errors: ErrorsGateState | None = None  # None: no errors gate
    errors_reason: str = ""
    run: RunStatus | None = None


def duration_text(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.999))
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


def verdict(inputs: VerdictInputs) -> Verdict:
    """GO when the current run has baked, every gate passes, every rollout is complete and
    no checklist item failed. NO-GO when something failed: a failure of the release (a gate
    breached, pods failing, an error spike) fails the run for good and names where to roll
    back to. PENDING otherwise, and whenever a source cannot be seen, each with its reason.
    """
    failures: list[str] = []  # the release itself failed: these fail the run
    no_go: list[str] = []
    pending: list[str] = []
    waiting = inputs.run.run.waiting if inputs.run else None
    waits = [
        s.metric.name
        for s in inputs.metrics
        if s.metric.gate and s.phase == "Pending" and waiting and s.reason == waiting
    ]
    if waits:  # one line for the gates that wait for the same rollout
        pending.append(f"gate{'s' if len(waits) > 1 else ''} {', '.join(waits)}: {waiting}")
    for state in inputs.metrics:
        if not state.metric.gate or state.metric.name in waits:
            continue
        name = state.metric.name
        if state.phase == "Failed":
            failures.append(f"gate {name} failed: {state.reason}")
        elif state.phase == "Error":
            no_go.append(f"cannot see metric {name}: {state.reason}")
        elif state.phase == "Stale":
            pending.append(f"cannot see metric {name}: {state.reason}")
        elif state.phase != "Successful":
            pending.append(f"gate {name} {state.phase.lower()}: {state.reason}")
    for rollout in inputs.rollouts:
        if rollout.failing:
            failures.append(f"rollout {rollout.name}: {rollout.message}")
        elif not rollout.complete:
            pending.append(f"rollout {rollout.name}: {rollout.message}")
    pending.extend(inputs.unseen_clusters)
    for item in inputs.failed_items:
        no_go.append(f"checklist item failed: {item}")
    if waiting and inputs.errors in ("ok", "spike", "new", "unknown"):
        # the failed revision's pods still serve: their errors are not this run's
        pending.append(f"errors: {waiting}")
    elif inputs.errors == "spike":
        failures.append(f"errors spike: {inputs.errors_reason}")
    elif inputs.errors == "new":
        failures.append(f"errors: {inputs.errors_reason}")
    elif inputs.errors == "error":
        no_go.append(f"cannot see the error tracker: {inputs.errors_reason}")
    elif inputs.errors in ("unknown", "stale"):
        pending.append(f"errors: {inputs.errors_reason}")
    status = inputs.run
    run = status.run if status else None
    judging = {"judging": run.label, "run_id": run.id} if run else {}
    failed_before = run.failed if run else None
    unobserved = [r.name for r in inputs.rollouts if r.unobserved]
    if unobserved:
        # `kubectl rollout undo` (or set image) is accepted but not yet observed: judging the
        # revision it replaces would give a verdict on a release no longer being deployed
        return Verdict(
            "PENDING",
            tuple(
                f"rollout {name}: its new spec is not observed by its controller yet "
                "(the revision to judge is not known)"
                for name in unobserved
            )
            + tuple(pending),
            **judging,  # type: ignore[arg-type]
        )
    if failed_before or failures:
        reasons = list(failures)
        if failed_before and failed_before not in reasons:
            at = f" at {run.failed_at:%H:%M:%S}" if run and run.failed_at else ""
            why = "" if failures else f": {failed_before}"  # else the failures say it again
            reasons.insert(0, f"release analysis failed{at}, until a newer revision{why}")
        reasons += no_go
        targets = status.targets if status else ()
        if status and status.unseen:
            reasons.append(
                "rollback target not known yet: cannot see " + ", ".join(status.unseen) + " now"
            )
        if status and status.no_target and not targets:
            reasons.append(f"no rollback target: {status.no_target}")
        return Verdict(
            "NO-GO",
            tuple(reasons),
            rollback_recommended=bool(targets),
            failure=None if failed_before else failures[0],
            targets=targets,
            **judging,  # type: ignore[arg-type]
        )
    if no_go:
        return Verdict("NO-GO", tuple(no_go), **judging)  # type: ignore[arg-type]
    remaining = status.bake_remaining if status else 0.0
    if remaining > 0 and run is not None:
        pending.append(f"baking {run.label}: {duration_text(remaining)} left")
    if pending:
        return Verdict("PENDING", tuple(pending), bake_remaining=remaining, **judging)  # type: ignore[arg-type]
    return Verdict("GO", **judging)  # type: ignore[arg-type]
