"""The release of one environment: starting it, the version running, and the verdict on it.

`release start` is audited (and, on Sentry, creates the deploy marker); the verdict is made
from the sources' latest data, the failed checklist items and the clusters the cockpit cannot
see; a verdict change is audited with every metric's value, the report's key moments.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cockpit.analysis import RunStatus
from cockpit.config import EnvironmentConfig, ErrorsConfig, LoadedConfig
from cockpit.context import GoLiveContext
from cockpit.errors import CockpitError
from cockpit.gates import (
    ErrorsGateState,
    MetricState,
    RolloutFact,
    Verdict,
    VerdictInputs,
    duration_text,
    verdict,
)
from cockpit.progress import ChecklistProgress
from cockpit.recording import Recorder
from cockpit.sources.errors import ErrorFeed, SentryClient, TrackerError, sentry_release
from cockpit.sources.kube import ClusterSnapshot, DeploymentView
from cockpit.timeline import AuditTimeline

_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+@-]*$")


@dataclass
class Releases:
    config: LoadedConfig
    recorder: Recorder
    timeline: AuditTimeline
    items: ChecklistProgress
    # the context a deploy marker's token is read in
    context: Callable[[], GoLiveContext]

    @property
    def environment(self) -> EnvironmentConfig:
        return self.config.environment(self.recorder.env_name)

    def start_release(self, version: str, *, deploy_marker: bool = True) -> str:
        """Audit the start of a release; on Sentry, create the deploy marker too."""
        self.recorder.refuse_if_read_only("start a release")
        if not _VERSION.match(version):
            raise CockpitError(
                f"{version!r} is not a release version",
                "use letters, digits, '.', '_', '-', '+' or '@'",
            )
        ctx = self.context()
        tracker = ctx.environment.errors
        marker = deploy_marker and tracker is not None and tracker.provider == "sentry"
        self.recorder.record("release_start", version=version, deploy_marker=marker)
        self.timeline.release_starting(version)
        if not marker:
            return f"release {version} started"
        assert tracker is not None
        release = sentry_release(tracker, version)
        client = SentryClient(
            tracker,
            ctx.secret(tracker.token_env, tracker.token_file, "token"),
            ctx.env_name,
            timeout=tracker.timeout,
        )
        try:
            client.create_deploy(release)
        except TrackerError as exc:
            self.recorder.record(
                "deploy_marker", version=version, release=release, outcome="failed", error=str(exc)
            )
            raise CockpitError(f"release {version} started, but {exc}") from exc
        finally:
            client.close()
        self.recorder.record("deploy_marker", version=version, release=release, outcome="created")
        return (
            f"release {version} started; Sentry deploy marker created for {release} in "
            f"{client.environment}"
        )

    def release_version(self, views: Sequence[DeploymentView] = ()) -> str | None:
        """The version running now: the watched images' tag (what the cluster runs, whoever
        changed it), else the latest `release start`, else the configured placeholder."""
        for view in views:
            for image in view.images:
                if ":" in image.rsplit("/", 1)[-1]:
                    return image.rsplit(":", 1)[1]
        return self.timeline.release_started() or self.environment.placeholders.get("version")

    def record_verdict(self, result: Verdict, metric_states: Sequence[MetricState]) -> None:
        """Audit a verdict change with every metric's value: the report's key moments."""
        if self.recorder.read_only:
            return
        self.recorder.record("verdict", **verdict_fields(result, list(metric_states)))

    def verdict(
        self,
        metrics: Sequence[MetricState],
        snapshots: Sequence[ClusterSnapshot],
        errors: ErrorFeed | None = None,
        run: RunStatus | None = None,
        now: datetime | None = None,
    ) -> Verdict:
        """The verdict from these sources' latest data (the live board passes its own)."""
        now = now or datetime.now(UTC)
        environment = self.environment
        facts = []
        for shot in snapshots:
            blind = not (shot.connected and shot.synced)
            for view in shot.deployments:
                if blind and not view.found:
                    continue  # the cluster's own "cannot see" line says it once for its rows
                facts.append(
                    RolloutFact(
                        name=f"{view.cluster}/{view.name}",
                        complete=view.found and view.verdict.state == "complete",
                        failing=view.failing,
                        message=(str(view.trouble[0]) if view.trouble else view.verdict.message),
                        unobserved=_unobserved(view.deployment),
                    )
                )
        by_name = {s.cluster: s for s in snapshots}
        unseen: list[str] = []
        for cluster in environment.clusters:
            snapshot = by_name.get(cluster.name)
            if snapshot is None or not snapshot.synced:
                why = f": {snapshot.last_error}" if snapshot and snapshot.last_error else ""
                unseen.append(f"cannot see cluster {cluster.name}: not listed yet{why}")
            elif not snapshot.connected:
                age = snapshot.stale_for(now)
                since = f" for {duration_text(age)}" if age is not None else ""
                unseen.append(f"cannot see cluster {cluster.name}{since}: {snapshot.last_error}")
        gate, why = errors_gate(environment.errors, errors)
        return verdict(
            VerdictInputs(
                metrics=tuple(metrics),
                rollouts=tuple(facts),
                failed_items=tuple(self.items.failed_items()),
                unseen_clusters=tuple(unseen),
                errors=gate,
                errors_reason=why,
                run=run,
            )
        )


def errors_gate(
    tracker: ErrorsConfig | None, errors: ErrorFeed | None
) -> tuple[ErrorsGateState | None, str]:
    """The error tracker's part of the verdict (None: the tracker does not gate), and why."""
    if tracker is None or not tracker.gate:
        return None, ""
    if errors is None or errors.fetched_at is None:
        return "unknown", "no answer from the error tracker yet"
    if errors.consecutive_errors >= tracker.consecutive_error_limit:
        return (
            "error",
            f"{errors.consecutive_errors} polls in a row failed: {errors.last_error}",
        )
    if errors.last_error:
        return "stale", f"cannot see the error tracker: {errors.last_error}"
    if errors.spike is None:
        return "unknown", "no event counts from the error tracker yet"
    if errors.spike.spiking:
        return "spike", errors.spike.reason
    if tracker.max_new_issues is not None:
        since = errors.run_started
        new = [
            issue
            for issue in errors.issues
            if issue.badge == "NEW"
            and issue.level in tracker.new_issue_levels
            and (since is None or issue.first_seen is None or issue.first_seen >= since)
        ]
        if len(new) > tracker.max_new_issues:
            named = ", ".join(f"{i.short_id} {i.title[:50]}" for i in new[:3])
            more = f" and {len(new) - 3} more" if len(new) > 3 else ""
            return (
                "new",
                f"{len(new)} new {'/'.join(tracker.new_issue_levels)} issue(s) in this "
                f"release (max_new_issues {tracker.max_new_issues}): {named}{more}",
            )
    if tracker.release_health is not None:
        health = errors.health
        if health is None:
            return "unknown", "release health: no answer from Sentry's sessions yet"
        if health.failing:
            return "new", f"release health: {health.reason}"
        if not health.judged:
            return "unknown", f"release health: {health.reason}"
    return "ok", ""


def verdict_fields(result: Verdict, metric_states: list[MetricState]) -> dict[str, Any]:
    """What a "verdict" audit entry records: the state, why, and every metric's value."""
    return {
        "state": result.state,
        "reasons": list(result.reasons),
        "judging": result.judging,
        "run": result.run_id,
        "metrics": {
            state.metric.name: {
                "value": None if state.current is None else round(state.current, 4),
                "unit": state.metric.unit,
                "phase": state.phase,
            }
            for state in metric_states
        },
    }


def _unobserved(obj: object) -> bool:
    """Whether the workload's spec changed and its controller has not observed it yet."""
    if not isinstance(obj, dict):
        return False
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    try:
        return int(meta.get("generation") or 0) > int(status.get("observedGeneration") or 0)
    except (TypeError, ValueError):
        return False
