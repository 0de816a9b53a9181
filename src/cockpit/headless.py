"""Live sources for the headless commands: the same watchers the TUI uses, collected."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from cockpit.gates import MetricState, Verdict, threshold_text
from cockpit.session import GoLiveSession
from cockpit.sources.errors import ErrorFeed
from cockpit.sources.kube import ClusterSnapshot, ClusterWatcher, DeploymentView


class RolloutMonitor:
    """Runs one ClusterWatcher per cluster and keeps their latest snapshots."""

    def __init__(self, session: GoLiveSession) -> None:
        self.session = session
        self.snapshots: dict[str, ClusterSnapshot] = {}
        self.watchers: list[ClusterWatcher] = []
        self._changed = threading.Condition()
        self._version = 0

    def _receive(self, snapshot: ClusterSnapshot) -> None:
        with self._changed:
            self.snapshots[snapshot.cluster] = snapshot
            self._version += 1
            self._changed.notify_all()

    def start(self) -> None:
        for cluster in self.session.environment.clusters:
            watcher = ClusterWatcher(cluster, self.session.config, self._receive)
            watcher.start()
            self.watchers.append(watcher)

    def stop(self) -> None:
        for watcher in self.watchers:
            watcher.stop()

    def current(self) -> list[ClusterSnapshot]:
        with self._changed:
            return [
                self.snapshots[c.name]
                for c in self.session.environment.clusters
                if c.name in self.snapshots
            ]

    def wait_synced(self, seconds: float) -> list[ClusterSnapshot]:
        """Until every cluster has been listed once, or has failed, or the time is up."""
        deadline = time.monotonic() + seconds
        names = [c.name for c in self.session.environment.clusters]
        with self._changed:
            while time.monotonic() < deadline:
                settled = all(
                    n in self.snapshots
                    and (self.snapshots[n].synced or self.snapshots[n].last_error)
                    for n in names
                )
                if settled:
                    break
                self._changed.wait(max(0.05, deadline - time.monotonic()))
        return self.current()

    def next_change(self) -> list[ClusterSnapshot]:
        with self._changed:
            seen = self._version
            while self._version == seen:
                self._changed.wait(1.0)
        return self.current()


def _verdict(view: DeploymentView) -> str:
    if view.trouble:
        return "failing"
    return view.verdict.state if view.found else "missing"


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
                f"{view.cluster}/{view.name}  rev {view.revision or '-'}  {images}  "
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
        "rollback_recommended": result.rollback_recommended,
    }


def metric_lines(states: list[MetricState]) -> list[str]:
    lines = []
    for state in states:
        value = "-" if state.current is None else f"{state.current:g}{state.metric.unit}"
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
