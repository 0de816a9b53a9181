"""What the headless commands print: the live board's data as JSON and as lines."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from cockpit.analysis import ReleaseRun
from cockpit.gates import MetricState, Verdict, format_value, threshold_text
from cockpit.sources.errors import ErrorFeed
from cockpit.sources.kube import ClusterSnapshot, DeploymentView


def _verdict(view: DeploymentView) -> str:
    if view.failing and view.trouble:
        return "failing"
    if not view.found:
        return "unknown" if view.unknown else "missing"
    return view.verdict.state


def rollout_json(snapshots: list[ClusterSnapshot]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for snapshot in snapshots:
        for view in snapshot.deployments:
            desired, updated, ready, available = view.counts
            rows.append(
                {
                    "cluster": view.cluster,
                    "namespace": view.namespace,
                    "deployment": view.name,
                    "kind": view.kind,
                    "read_only": view.read_only,
                    "found": view.found,
                    "revision": view.revision,
                    "images": view.images,
                    "old_images": view.old_images,
                    "desired": desired,
                    "updated": updated,
                    "ready": ready,
                    "available": available,
                    "paused": view.paused,
                    "verdict": _verdict(view),
                    "message": view.verdict.message,
                    "trouble": [str(t) for t in view.trouble],
                    "stale": not snapshot.connected,
                    "error": snapshot.last_error,
                }
            )
    return rows


def rollout_lines(snapshots: list[ClusterSnapshot]) -> list[str]:
    lines: list[str] = []
    if not snapshots:
        return ["(no cluster answered yet)"]
    for snapshot in snapshots:
        if not snapshot.connected:
            lines.append(f"{snapshot.cluster}: STALE — {snapshot.last_error}")
        for view in snapshot.deployments:
            desired, updated, ready, available = view.counts
            images = ", ".join(view.images) or "-"
            lines.append(
                f"{view.cluster}/{view.label}  rev {view.revision or '-'}  {images}  "
                f"{desired}/{updated}/{ready}/{available}  {_verdict(view).upper()}  "
                f"{view.verdict.message}"
            )
            lines.extend(f"    pod trouble: {t}" for t in view.trouble)
    return lines


def metrics_json(states: list[MetricState]) -> list[dict[str, Any]]:
    return [
        {
            "name": state.metric.name,
            "query": state.query,
            "unit": state.metric.unit,
            "value": state.current,
            "display": state.display,
            "phase": state.phase,
            "gate": state.metric.gate,
            "threshold": threshold_text(state.metric),
            "reason": state.reason,
            "stale": state.stale,
            "error": state.last_error,
            "warnings": list(state.warnings),
            "details": list(state.details),
            "measurements": len(state.measurements),
            "points": [
                [p.at.isoformat(timespec="seconds"), None if math.isnan(p.value) else p.value]
                for p in state.points[-60:]
            ],
        }
        for state in states
    ]


def verdict_json(result: Verdict) -> dict[str, Any]:
    return {
        "state": result.state,
        "reasons": list(result.reasons),
        "judging": result.judging,
        "run": result.run_id,
        "bake_remaining_seconds": round(result.bake_remaining),
        "rollback_recommended": result.rollback_recommended,
        "rollback_targets": [
            {
                "cluster": t.cluster,
                "deployment": t.deployment,
                "revision": t.revision,
                "images": list(t.images),
                "why": t.why,
            }
            for t in result.targets
        ],
    }


def run_json(run: ReleaseRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": run.id,
        "kind": run.kind,
        "judging": run.label,
        "started": run.started.isoformat(timespec="seconds"),
        "measured_from": (
            run.measured_from.isoformat(timespec="seconds") if run.measured_from else None
        ),
        "waiting": run.waiting,
        "by": run.by,
        "outcome": run.outcome,
        "failed": run.failed,
        "ended": run.ended,
        "workloads": [w.as_json() for w in run.workloads],
    }


def metric_lines(states: list[MetricState]) -> list[str]:
    lines = []
    for state in states:
        value = "-" if state.current is None else format_value(state.current, state.metric.unit)
        stale = " (STALE: " + str(state.last_error) + ")" if state.stale else ""
        lines.append(
            f"{state.metric.name}: {value}  {state.display}  [{threshold_text(state.metric)}]  "
            f"{state.phase}: {state.reason}{stale}"
        )
    return lines


def errors_json(feed: ErrorFeed | None) -> dict[str, Any]:
    if feed is None:
        return {"configured": False, "issues": [], "spike": None}
    return {
        "configured": True,
        "stale": feed.stale,
        "error": feed.last_error,
        "fetched_at": feed.fetched_at.isoformat(timespec="seconds") if feed.fetched_at else None,
        "notes": list(feed.notes),
        "release_health": dataclasses.asdict(feed.health) if feed.health else None,
        "issues": [
            {
                "id": i.id,
                "short_id": i.short_id,
                "title": i.title,
                "culprit": i.culprit,
                "level": i.level,
                "count": i.count,
                "users": i.users,
                "first_seen": i.first_seen.isoformat() if i.first_seen else None,
                "last_seen": i.last_seen.isoformat() if i.last_seen else None,
                "badge": i.badge,
                "busiest": i.busiest,
                "permalink": i.permalink,
            }
            for i in feed.issues
        ],
        "spike": (
            {
                "current": feed.spike.current,
                "baseline": feed.spike.baseline,
                "spiking": feed.spike.spiking,
                "reason": feed.spike.reason,
            }
            if feed.spike
            else None
        ),
    }
