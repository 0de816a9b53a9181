"""The rehearsal cluster's kubelet: pods start, become ready, crash-loop or fail to pull, and
write log lines; failures are reported as Warning events, as a kubelet reports them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cockpit.rehearsal.store import BY_PLURAL, JSON, Store, now_iso, record_event

if TYPE_CHECKING:
    from cockpit.rehearsal.kube import RehearsalCluster


NODE = "rehearsal-node-1"
NODE_LABELS = {
    "kubernetes.io/hostname": NODE,
    "kubernetes.io/os": "linux",
    "kubernetes.io/arch": "amd64",
}


@dataclass
class ContainerLog:
    """What a container wrote: this run's lines, and the last terminated run's (`--previous`)."""

    current: list[str] = field(default_factory=list)
    previous: list[str] | None = None


def _ready(ready: bool, pod: JSON) -> JSON:
    """The Ready condition, its transition time kept while its status does not change."""
    value = "True" if ready else "False"
    for condition in pod.get("status", {}).get("conditions") or []:
        same = condition.get("type") == "Ready" and condition.get("status") == value
        if same and condition.get("lastTransitionTime"):
            return dict(condition)
    return {"type": "Ready", "status": value, "lastTransitionTime": now_iso()}


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Kubelet:
    """The one node's scheduler and kubelet; what a real kubelet keeps outside the API (container
    logs, which failures it has reported) lives here."""

    def __init__(self, cluster: RehearsalCluster) -> None:
        self.cluster = cluster
        self.logs: dict[tuple[str, str, str], ContainerLog] = {}
        self._reported: dict[str, tuple[str, int]] = {}  # pod uid -> (state, restarts) reported
        self._started: dict[str, float] = {}  # pod uid -> when its containers started
        self.changed = 0  # bumped on every new log line, for followers

    @property
    def store(self) -> Store:
        assert self.cluster.store is not None
        return self.cluster.store

    def pod_ready(self, pod: JSON) -> bool:
        return any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in pod.get("status", {}).get("conditions") or []
        )

    def log(self, pod: JSON, container: str) -> ContainerLog:
        meta = pod["metadata"]
        return self.logs.setdefault((meta["namespace"], meta["name"], container), ContainerLog())

    def _write(self, pod: JSON, container: str, line: str) -> None:
        self.log(pod, container).current.append(f"{_stamp()} {line}")
        self.changed += 1

    def write_log(self, pod: JSON, container: str, line: str) -> None:
        """A line the container writes now (tests and scenarios make an app say things)."""
        self._write(pod, container, line)

    def _event(self, pod: JSON, reason: str, message: str, event_type: str = "Normal") -> None:
        component = "default-scheduler" if reason.endswith("Scheduling") else "kubelet"
        if reason == "Scheduled":
            component = "default-scheduler"
        record_event(self.store, pod, reason, message, component=component, event_type=event_type)

    def forget(self, pod: JSON) -> None:
        """A deleted pod's logs go with it."""
        meta = pod["metadata"]
        for key in [k for k in self.logs if k[:2] == (meta["namespace"], meta["name"])]:
            del self.logs[key]
        self._reported.pop(meta["uid"], None)
        self._started.pop(meta["uid"], None)

    def _schedule(self, pod: JSON, status: JSON) -> bool:
        """Bind the pod to the node when its nodeSelector allows; False while unschedulable."""
        wanted = pod["spec"].get("nodeSelector") or {}
        if all(NODE_LABELS.get(k) == v for k, v in wanted.items()):
            pod["spec"]["nodeName"] = NODE
            self._event(
                pod,
                "Scheduled",
                f"Successfully assigned {pod['metadata']['namespace']}/"
                f"{pod['metadata']['name']} to {NODE}",
            )
            return True
        status["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/1 nodes are available: 1 node(s) didn't match Pod's node "
                "affinity/selector.",
                "lastTransitionTime": now_iso(),
            }
        ]
        if self._reported.get(pod["metadata"]["uid"], ("",))[0] != "unschedulable":
            self._reported[pod["metadata"]["uid"]] = ("unschedulable", 0)
            self._event(
                pod,
                "FailedScheduling",
                "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
                "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
                "Warning",
            )
        return False

    def advance_pod(self, pod: JSON, now: float) -> JSON:
        """Move a pod along: scheduled, then ready after a delay, or crash-looping, or unable to
        pull its image; each change is reported as events and log lines, as a kubelet does."""
        pods = BY_PLURAL[("", "pods")]
        status = copy.deepcopy(pod["status"])
        if not pod["spec"].get("nodeName"):
            pod = copy.deepcopy(pod)  # scheduling writes spec.nodeName
        if not pod["spec"].get("nodeName") and not self._schedule(pod, status):
            if status != pod["status"]:
                pod["status"] = status
                return self.store.put(pods, pod)
            return pod
        uid = pod["metadata"]["uid"]
        noted = (pod["metadata"].get("annotations") or {}).get("rehearsal/started")
        started = float(noted) if noted else self._started.setdefault(uid, now)
        if not status.get("containerStatuses"):
            status["phase"] = "Pending"
            status["containerStatuses"] = [
                {
                    "name": c.get("name", ""),
                    "image": c.get("image", ""),
                    "ready": False,
                    "restartCount": 0,
                    "started": False,
                    "state": {"waiting": {"reason": "ContainerCreating"}},
                }
                for c in pod["spec"].get("containers") or []
            ]
        age = now - started
        images = [c.get("image", "") for c in pod["spec"].get("containers") or []]
        statuses = status.get("containerStatuses") or []
        timing = self.cluster.timing
        reported, reported_restarts = self._reported.get(uid, ("", 0))
        if any(image in self.cluster.faults.pull for image in images):
            if age < timing.ready_after:
                return self._store_if_changed(pod, status)
            reason = "ErrImagePull" if age < timing.ready_after * 2 else "ImagePullBackOff"
            for cs in statuses:
                cs["state"] = {
                    "waiting": {
                        "reason": reason,
                        "message": f'Back-off pulling image "{cs["image"]}"',
                    }
                }
                if reported != reason:
                    if reason == "ErrImagePull":
                        self._event(
                            pod,
                            "Failed",
                            f'Failed to pull image "{cs["image"]}": rehearsal: this image is '
                            "set to fail to pull",
                            "Warning",
                        )
                    else:
                        self._event(pod, "BackOff", f'Back-off pulling image "{cs["image"]}"')
                    self._event(pod, "Failed", f"Error: {reason}", "Warning")
            self._reported[uid] = (reason, 0)
            status["phase"] = "Pending"
        elif any(image in self.cluster.faults.crash for image in images):
            if age < timing.ready_after:
                return self._store_if_changed(pod, status)
            restarts = int((age - timing.ready_after) / timing.restart_every) + 1
            for cs in statuses:
                if restarts > reported_restarts:
                    entry = self.log(pod, cs["name"])
                    if entry.current or reported_restarts:
                        entry.previous = entry.current
                    entry.current = []
                    self._write(pod, cs["name"], f"rehearsal: starting {cs['image']}")
                    self._write(
                        pod, cs["name"], "rehearsal: this image is set to crash; exit code 1"
                    )
                    self._event(
                        pod,
                        "BackOff",
                        f"Back-off restarting failed container {cs['name']} in pod "
                        f"{pod['metadata']['name']}_{pod['metadata']['namespace']}({uid})",
                        "Warning",
                    )
                cs["restartCount"] = restarts
                cs["ready"] = False
                cs["started"] = False
                cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
                cs["state"] = {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off restarting failed container {cs['name']}",
                    }
                }
            self._reported[uid] = ("CrashLoopBackOff", restarts)
            status["phase"] = "Running"
            status["conditions"] = [_ready(False, pod)]
        else:
            if age < timing.ready_after or self.pod_ready(pod):
                return self._store_if_changed(pod, status)
            for cs in statuses:
                self._event(
                    pod, "Pulled", f'Container image "{cs["image"]}" already present on machine'
                )
                self._event(pod, "Created", f"Created container: {cs['name']}")
                self._event(pod, "Started", f"Started container {cs['name']}")
                self._write(pod, cs["name"], f"rehearsal: starting {cs['image']}")
                self._write(pod, cs["name"], "rehearsal: ready")
                cs["ready"] = True
                cs["started"] = True
                cs["state"] = {"running": {"startedAt": now_iso()}}
            self._reported[uid] = ("Running", 0)
            status["phase"] = "Running"
            status["conditions"] = [_ready(True, pod)]
            status["podIP"] = "10.0.0.1"
            status["hostIP"] = "10.0.0.1"
            status.setdefault("startTime", now_iso())
        return self._store_if_changed(pod, status)

    def advance_unowned(self, now: float) -> None:
        """Pods no controller moves along itself: bare pods (`kubectl run`)."""
        for pod in self.store.list(BY_PLURAL[("", "pods")], None):
            if not pod["metadata"].get("ownerReferences"):
                self.advance_pod(pod, now)

    def _store_if_changed(self, pod: JSON, status: JSON) -> JSON:
        pods = BY_PLURAL[("", "pods")]
        stored = self.store.get(pods, pod["metadata"]["namespace"], pod["metadata"]["name"])
        if status == stored["status"] and pod["spec"] == stored["spec"]:
            return stored
        fresh = copy.deepcopy(pod)
        fresh["status"] = status
        return self.store.put(pods, fresh)

    def pod_usage(self, pod: JSON) -> list[JSON]:
        """What metrics-server would report: a steady, made-up usage per running container."""
        usage = []
        for container in pod["spec"].get("containers") or []:
            seed = sum(pod["metadata"]["name"].encode()) + len(container.get("name", ""))
            usage.append(
                {
                    "name": container.get("name", ""),
                    "usage": {
                        "cpu": f"{(3 + seed % 17) * 1_000_000}n",
                        "memory": f"{24 + seed % 40}Mi",
                    },
                }
            )
        return usage

    def node_usage(self) -> JSON:
        pods = [p for p in self.store.list(BY_PLURAL[("", "pods")], None) if self.pod_ready(p)]
        cpu = 150_000_000 + sum(
            int(c["usage"]["cpu"][:-1]) for p in pods for c in self.pod_usage(p)
        )
        memory = 900 + sum(int(c["usage"]["memory"][:-2]) for p in pods for c in self.pod_usage(p))
        return {"cpu": f"{cpu}n", "memory": f"{memory}Mi"}


def new_pod_status(containers: list[JSON]) -> JSON:
    """The status of a pod a controller has just made: pending, its containers being created."""
    return {
        "phase": "Pending",
        "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [
            {
                "name": c.get("name", "app"),
                "image": c.get("image", ""),
                "ready": False,
                "restartCount": 0,
                "started": False,
                "state": {"waiting": {"reason": "ContainerCreating"}},
            }
            for c in containers
        ],
    }
