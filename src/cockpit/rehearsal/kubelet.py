"""The rehearsal cluster's kubelet: pods start, become ready, crash-loop or fail to pull, and
write log lines; failures are reported as Warning events, as a kubelet reports them.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import secrets
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


def _started_ids(cs: JSON) -> None:
    """What the runtime reports once a container runs: the image's digest and its own id."""
    image = str(cs.get("image", ""))
    digest = hashlib.sha256(image.encode()).hexdigest()
    cs["imageID"] = f"{image.rsplit(':', 1)[0] if ':' in image.rsplit('/', 1)[-1] else image}"
    cs["imageID"] += f"@sha256:{digest}"
    cs["containerID"] = f"containerd://{secrets.token_hex(32)}"


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
        # processes of pods that run to completion, by (pod uid, container), and when they ended
        self._runs: dict[tuple[str, str], asyncio.Task[int]] = {}
        self._finished: dict[tuple[str, str], float] = {}
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

    def write(self, pod: JSON, container: str, line: str) -> None:
        self.log(pod, container).current.append(f"{_stamp()} {line}")
        self.changed += 1

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
        for run in [k for k in self._runs if k[0] == meta["uid"]]:
            self._runs.pop(run).cancel()
        for run in [k for k in self._finished if k[0] == meta["uid"]]:
            del self._finished[run]

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
                    "imageID": "",
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
        elif pod["spec"].get("restartPolicy") in ("Never", "OnFailure"):
            if age < timing.ready_after:
                return self._store_if_changed(pod, status)
            self._run_to_completion(pod, status, now)
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
                    self.write(pod, cs["name"], f"rehearsal: starting {cs['image']}")
                    self.write(
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
                self.write(pod, cs["name"], f"rehearsal: starting {cs['image']}")
                self.write(pod, cs["name"], "rehearsal: ready")
                cs["ready"] = True
                cs["started"] = True
                cs["state"] = {"running": {"startedAt": now_iso()}}
                _started_ids(cs)
            self._reported[uid] = ("Running", 0)
            status["phase"] = "Running"
            status["conditions"] = [_ready(True, pod)]
            status["podIP"] = "10.0.0.1"
            status["hostIP"] = "10.0.0.1"
            status.setdefault("startTime", now_iso())
        return self._store_if_changed(pod, status)

    # --- pods that run to completion (restartPolicy Never or OnFailure: Jobs, `run --restart`) --

    def _run_to_completion(self, pod: JSON, status: JSON, now: float) -> None:
        """Each container runs its command (the rehearsal's declared command set, as `exec`
        does) or, without one, the image's own process, which ends at once with 0; a crash image
        exits 1. The pod succeeds when every container has exited 0; a failed container fails
        the pod (Never) or is restarted after restart_every (OnFailure)."""
        uid = pod["metadata"]["uid"]
        policy = pod["spec"].get("restartPolicy")
        timing = self.cluster.timing
        by_name = {c.get("name", ""): c for c in pod["spec"].get("containers") or []}
        for cs in status.get("containerStatuses") or []:
            state = cs.get("state") or {}
            key = (uid, cs["name"])
            terminated = state.get("terminated")
            if terminated is not None:
                restart = (
                    policy == "OnFailure"
                    and terminated.get("exitCode") != 0
                    and now - self._finished.get(key, now) >= timing.restart_every
                )
                if not restart:
                    continue
                cs["lastState"] = {"terminated": terminated}
                cs["restartCount"] = int(cs.get("restartCount", 0)) + 1
                state = {}
            if "running" not in state:
                self._start(pod, by_name.get(cs["name"], {}), cs)
                continue
            run = self._runs.get(key)
            if run is None:  # its process went with the loop it ran on (the cluster restarted)
                self._start(pod, by_name.get(cs["name"], {}), cs, again=True)
                continue
            if not run.done():
                continue
            del self._runs[key]
            code, reason, message = self._outcome(run)
            terminated = {
                "exitCode": code,
                "reason": reason,
                "startedAt": state["running"].get("startedAt"),
                "finishedAt": now_iso(),
                **({"message": message} if message else {}),
            }
            cs.update(ready=False, started=False, state={"terminated": terminated})
            self._finished[key] = now
            if code != 0 and policy == "OnFailure":
                self._event(
                    pod,
                    "BackOff",
                    f"Back-off restarting failed container {cs['name']} in pod "
                    f"{pod['metadata']['name']}_{pod['metadata']['namespace']}({uid})",
                    "Warning",
                )
        statuses = status.get("containerStatuses") or []
        ended = [(cs.get("state") or {}).get("terminated") for cs in statuses]
        if all(t is not None for t in ended):
            failed = any(t["exitCode"] != 0 for t in ended if t is not None)
            if not failed or policy == "Never":
                status["phase"] = "Failed" if failed else "Succeeded"
                status["conditions"] = [
                    {**_ready(False, pod), "reason": "PodFailed" if failed else "PodCompleted"}
                ]
                return
        status["phase"] = "Running"
        running = all("running" in (cs.get("state") or {}) for cs in statuses)
        status["conditions"] = [_ready(running, pod)]
        status["podIP"] = status["hostIP"] = "10.0.0.1"
        status.setdefault("startTime", now_iso())

    def stop(self) -> None:
        """The cluster stops: the processes of pods running to completion end with its loop."""
        for run in self._runs.values():
            run.cancel()
        self._runs.clear()

    def _start(self, pod: JSON, container: JSON, cs: JSON, *, again: bool = False) -> None:
        """Start the container's process on the cluster's loop; its output goes to its log."""
        from cockpit.rehearsal.containers import Process

        name = cs["name"]
        if not again and cs.get("restartCount", 0) == 0:
            for reason, message in (
                ("Pulled", f'Container image "{cs["image"]}" already present on machine'),
                ("Created", f"Created container: {name}"),
                ("Started", f"Started container {name}"),
            ):
                self._event(pod, reason, message)
        elif not again:
            entry = self.log(pod, name)
            entry.previous, entry.current = entry.current, []
        pending = {"out": b""}

        async def write(data: bytes) -> None:
            pending["out"] += data
            *lines, pending["out"] = pending["out"].split(b"\n")
            for line in lines:
                self.write(pod, name, line.decode(errors="replace"))

        async def run() -> int:
            if str(container.get("image", "")) in self.cluster.faults.crash:
                await write(b"rehearsal: this image is set to crash; exit code 1\n")
                return 1
            argv = [*(container.get("command") or []), *(container.get("args") or [])]
            if not argv:
                return 0  # the image's own process, which the rehearsal runs to its end at once
            try:
                return await Process(pod, container, None, write, write).run(argv)
            finally:
                if pending["out"]:
                    await write(b"\n")

        task = asyncio.get_running_loop().create_task(run())
        self.cluster.background.add(task)
        task.add_done_callback(self.cluster.background.discard)
        self._runs[(pod["metadata"]["uid"], name)] = task
        cs.update(started=True, ready=True, state={"running": {"startedAt": now_iso()}})
        _started_ids(cs)

    @staticmethod
    def _outcome(run: asyncio.Task[int]) -> tuple[int, str, str]:
        from cockpit.rehearsal.containers import ExecFailed

        try:
            code = run.result()
        except ExecFailed as exc:
            return (
                128,
                "StartError",
                "failed to create containerd task: failed to create shim task: OCI runtime "
                f"create failed: runc create failed: unable to start container process: {exc}: "
                "unknown",
            )
        except asyncio.CancelledError:
            return 137, "Error", ""
        return code, "Completed" if code == 0 else "Error", ""

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
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "started": False,
                "state": {"waiting": {"reason": "ContainerCreating"}},
            }
            for c in containers
        ],
    }
