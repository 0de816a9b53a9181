"""The rehearsal cluster's controllers: Deployment, ReplicaSet and the garbage collector.

The deployment controller rolls out progressively (maxSurge / maxUnavailable, or Recreate),
keeps revision annotations and revision history like the real one, honours `paused` and
minReadySeconds, and sets the Progressing and Available conditions, ProgressDeadlineExceeded
included (kept while paused, as the real controller keeps it). The ReplicaSet controller
creates and removes pods; the kubelet (kubelet.py) moves them along. The garbage collector
deletes objects whose owners are gone, and finishes foreground deletions.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import math
import time
from typing import TYPE_CHECKING, Any

from cockpit.rehearsal.jobs import JobController
from cockpit.rehearsal.kubelet import new_pod_status
from cockpit.rehearsal.store import BY_PLURAL, JSON, Kind, Store, now_iso, record_event
from cockpit.rehearsal.workloads import Workloads
from cockpit.rollout import (
    CHANGE_CAUSE,
    POD_TEMPLATE_HASH,
    REVISION,
    REVISION_HISTORY,
    owned_replicasets,
    parse_time,
    revision_of,
    same_template,
)

if TYPE_CHECKING:
    from cockpit.rehearsal.kube import RehearsalCluster


def template_hash(template: JSON) -> str:
    """A stable pod-template-hash, like the controller's (different function, same purpose)."""
    clean = copy.deepcopy(template)
    clean.get("metadata", {}).get("labels", {}).pop(POD_TEMPLATE_HASH, None)
    digest = hashlib.sha256(json.dumps(clean, sort_keys=True).encode()).hexdigest()
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    value = int(digest[:16], 16)
    out = ""
    for _ in range(10):
        value, rem = divmod(value, len(alphabet))
        out += alphabet[rem]
    return out


def _int_or_percent(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        share = total * int(value[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(value)


class Controllers:
    """Every controller of the rehearsal cluster, run one pass at a time on the cluster's loop."""

    def __init__(self, cluster: RehearsalCluster) -> None:
        self.cluster = cluster
        self.workloads = Workloads(cluster)
        self.jobs = JobController(cluster)
        self._progress: dict[str, tuple[Any, float]] = {}
        self._expired_at = 0.0

    @property
    def store(self) -> Store:
        assert self.cluster.store is not None
        return self.cluster.store

    async def run(self) -> None:
        while True:
            try:
                if self._reconcile():
                    assert self.store is not None
                    await self.store.notify()
            except Exception as exc:  # noqa: BLE001 - keep the rehearsal alive, say what broke
                print(f"rehearsal controller error: {type(exc).__name__}: {exc}", flush=True)
            await asyncio.sleep(self.cluster.timing.tick)

    def _reconcile(self) -> bool:
        if self.cluster.frozen:
            return False
        assert self.store is not None
        store = self.store
        before = store.rv
        deployments = BY_PLURAL[("apps", "deployments")]
        for deployment in store.list(deployments, None):
            if not deployment["metadata"].get("deletionTimestamp"):
                self._reconcile_deployment(copy.deepcopy(deployment))
        self._reconcile_replicasets()
        self.workloads.reconcile(time.monotonic())
        self.jobs.reconcile(time.monotonic())
        self.cluster.kubelet.advance_unowned(time.monotonic())
        self._collect_garbage()
        self._expire_events()
        return store.rv != before

    def _reconcile_deployment(self, dep: JSON) -> None:
        assert self.store is not None
        store = self.store
        rs_kind = BY_PLURAL[("apps", "replicasets")]
        dep_kind = BY_PLURAL[("apps", "deployments")]
        meta, spec = dep["metadata"], dep["spec"]
        namespace, name = meta["namespace"], meta["name"]
        all_rs = store.list(rs_kind, namespace)
        owned = owned_replicasets(dep, all_rs)
        template = spec["template"]
        new_rs = next((rs for rs in owned if same_template(rs["spec"]["template"], template)), None)
        max_revision = max((revision_of(rs) for rs in owned), default=0)
        desired = int(spec.get("replicas", 1))
        paused = bool(spec.get("paused"))
        if new_rs is None and not paused:
            new_rs = self._create_replicaset(dep, max_revision + 1)
            owned.append(new_rs)
        elif new_rs is not None and revision_of(new_rs) < max_revision and not paused:
            # adoption on undo: the old ReplicaSet becomes the newest revision
            new_rs = copy.deepcopy(new_rs)
            annotations = new_rs["metadata"].setdefault("annotations", {})
            old = str(revision_of(new_rs))
            history = [h for h in annotations.get(REVISION_HISTORY, "").split(",") if h]
            annotations[REVISION_HISTORY] = ",".join([*history, old])
            annotations[REVISION] = str(max_revision + 1)
            if CHANGE_CAUSE in (meta.get("annotations") or {}):
                annotations[CHANGE_CAUSE] = meta["annotations"][CHANGE_CAUSE]
            new_rs = store.put(rs_kind, new_rs)
            owned = [
                new_rs if r["metadata"]["uid"] == new_rs["metadata"]["uid"] else r for r in owned
            ]
        old_rs = [
            rs
            for rs in owned
            if new_rs is None or rs["metadata"]["uid"] != new_rs["metadata"]["uid"]
        ]
        if not paused and new_rs is not None:
            self._roll(dep, new_rs, old_rs, desired)
            self._clean_up(dep, new_rs)
        # status
        owned = owned_replicasets(dep, store.list(rs_kind, namespace))
        current = next(
            (rs for rs in owned if same_template(rs["spec"]["template"], template)), None
        )
        total = sum(int(rs.get("status", {}).get("replicas", 0)) for rs in owned)
        ready = sum(int(rs.get("status", {}).get("readyReplicas", 0)) for rs in owned)
        available = sum(int(rs.get("status", {}).get("availableReplicas", 0)) for rs in owned)
        updated = int(current.get("status", {}).get("replicas", 0)) if current else 0
        updated_available = (
            int(current.get("status", {}).get("availableReplicas", 0)) if current else 0
        )
        rolling = spec.get("strategy", {}).get("rollingUpdate", {})
        max_unavailable = _int_or_percent(rolling.get("maxUnavailable", "25%"), desired, False)
        status: JSON = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
        }
        if desired - available > 0:
            status["unavailableReplicas"] = desired - available
        status = {k: v for k, v in status.items() if v or k == "observedGeneration"}
        conditions = {c["type"]: c for c in dep.get("status", {}).get("conditions") or []}
        stamp = now_iso()

        def condition(kind: str, value: str, reason: str, message: str, touch: bool) -> JSON:
            previous = conditions.get(kind, {})
            transition = previous.get("lastTransitionTime", stamp)
            if previous.get("status") != value:
                transition = stamp
            update = stamp if touch or not previous else previous.get("lastUpdateTime", stamp)
            return {
                "type": kind,
                "status": value,
                "lastUpdateTime": update,
                "lastTransitionTime": transition,
                "reason": reason,
                "message": message,
            }

        minimum = available >= desired - max_unavailable
        result = [
            condition(
                "Available",
                "True" if minimum else "False",
                "MinimumReplicasAvailable" if minimum else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if minimum
                else "Deployment does not have minimum availability.",
                False,
            )
        ]
        progress_key = f"{namespace}/{name}"
        marker = (meta.get("generation"), updated, updated_available, total, available)
        last_marker, last_time = self._progress.get(progress_key, (None, time.monotonic()))
        if marker != last_marker or paused:
            # a paused Deployment makes no progress and is not timed: the clock restarts on resume
            self._progress[progress_key] = (marker, time.monotonic())
            last_time = time.monotonic()
        complete = updated == desired and updated_available == desired and total == desired
        rs_name = current["metadata"]["name"] if current else name
        deadline = float(spec.get("progressDeadlineSeconds", 600))
        previous = conditions.get("Progressing", {}).get("reason")
        if paused and previous == "ProgressDeadlineExceeded":
            # the real controller does not overwrite a reported lack of progress with "paused"
            result.append(conditions["Progressing"])
        elif paused:
            result.append(
                condition(
                    "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", False
                )
            )
        elif previous == "DeploymentPaused":
            result.append(
                condition(
                    "Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", True
                )
            )
        elif complete:
            result.append(
                condition(
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{rs_name}" has successfully progressed.',
                    conditions.get("Progressing", {}).get("reason") != "NewReplicaSetAvailable",
                )
            )
        elif time.monotonic() - last_time > deadline:
            result.append(
                condition(
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    f'ReplicaSet "{rs_name}" has timed out progressing.',
                    False,
                )
            )
        else:
            result.append(
                condition(
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    f'ReplicaSet "{rs_name}" is progressing.',
                    marker != last_marker,
                )
            )
        status["conditions"] = result
        annotations = dict(meta.get("annotations") or {})
        if current is not None:
            annotations[REVISION] = str(revision_of(current))
        fresh = store.get(dep_kind, namespace, name)
        if (
            fresh.get("status") != status
            or (fresh["metadata"].get("annotations") or {}) != annotations
        ):
            updated_dep = copy.deepcopy(fresh)
            updated_dep["status"] = status
            updated_dep["metadata"]["annotations"] = annotations
            # the controller's own writes do not change the spec, so no new generation
            store.put(dep_kind, updated_dep)

    def _clean_up(self, dep: JSON, new_rs: JSON) -> None:
        """Like the deployment controller: old ReplicaSets scaled to zero beyond
        spec.revisionHistoryLimit are deleted, oldest revision first."""
        assert self.store is not None
        rs_kind = BY_PLURAL[("apps", "replicasets")]
        limit = int(dep["spec"].get("revisionHistoryLimit", 10))
        namespace = dep["metadata"]["namespace"]
        idle = [
            rs
            for rs in owned_replicasets(dep, self.store.list(rs_kind, namespace))
            if rs["metadata"]["uid"] != new_rs["metadata"]["uid"]
            and not int(rs["spec"].get("replicas", 0))
            and not int(rs.get("status", {}).get("replicas", 0))
        ]
        idle.sort(key=revision_of)
        for rs in idle[: max(0, len(idle) - limit)]:
            self.store.delete(rs_kind, namespace, rs["metadata"]["name"])

    def _create_replicaset(self, dep: JSON, revision: int) -> JSON:
        assert self.store is not None
        meta, spec = dep["metadata"], dep["spec"]
        template = copy.deepcopy(spec["template"])
        digest = template_hash(template)
        template.setdefault("metadata", {}).setdefault("labels", {})[POD_TEMPLATE_HASH] = digest
        selector = copy.deepcopy(spec.get("selector") or {"matchLabels": {}})
        selector.setdefault("matchLabels", {})[POD_TEMPLATE_HASH] = digest
        annotations = {
            k: v
            for k, v in (meta.get("annotations") or {}).items()
            if k
            not in (REVISION, REVISION_HISTORY, "kubectl.kubernetes.io/last-applied-configuration")
        }
        annotations[REVISION] = str(revision)
        annotations["deployment.kubernetes.io/desired-replicas"] = str(spec.get("replicas", 1))
        body = {
            "metadata": {
                "name": f"{meta['name']}-{digest}",
                "namespace": meta["namespace"],
                "labels": dict(template["metadata"]["labels"]),
                "annotations": annotations,
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": meta["name"],
                        "uid": meta["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": int(spec.get("minReadySeconds", 0)),
                "selector": selector,
                "template": template,
            },
            "status": {"replicas": 0},
        }
        rs = self.store.put(BY_PLURAL[("apps", "replicasets")], body, create=True)
        record_event(
            self.store,
            dep,
            "ScalingReplicaSet",
            f"Created new replica set {rs['metadata']['name']}",
            component="deployment-controller",
        )
        return rs

    def _roll(self, dep: JSON, new_rs: JSON, old_rs: list[JSON], desired: int) -> None:
        assert self.store is not None
        rs_kind = BY_PLURAL[("apps", "replicasets")]
        rolling = dep["spec"].get("strategy", {}).get("rollingUpdate", {})
        recreate = dep["spec"].get("strategy", {}).get("type") == "Recreate"
        surge = 0 if recreate else _int_or_percent(rolling.get("maxSurge", "25%"), desired, True)
        unavailable = (
            desired
            if recreate
            else _int_or_percent(rolling.get("maxUnavailable", "25%"), desired, False)
        )
        if surge == 0 and unavailable == 0:
            unavailable = 1
        all_rs = [new_rs, *old_rs]
        total_spec = sum(int(rs["spec"].get("replicas", 0)) for rs in all_rs)
        new_spec = int(new_rs["spec"].get("replicas", 0))
        # scale up the new ReplicaSet within the surge
        if new_spec < desired:
            room = desired + surge - total_spec
            target = min(desired, new_spec + max(0, room))
            if target != new_spec:
                self._scale(dep, new_rs, target)
                new_spec = target
        elif new_spec > desired:
            self._scale(dep, new_rs, desired)
            new_spec = desired
        # scale down old ReplicaSets while keeping the minimum available
        available = sum(int(rs.get("status", {}).get("availableReplicas", 0)) for rs in all_rs)
        min_available = desired - unavailable
        for rs in sorted(old_rs, key=lambda r: r["metadata"]["creationTimestamp"]):
            fresh = self.store.get(rs_kind, rs["metadata"]["namespace"], rs["metadata"]["name"])
            current = int(fresh["spec"].get("replicas", 0))
            if current == 0:
                continue
            unhealthy = current - int(fresh.get("status", {}).get("availableReplicas", 0))
            can_remove = max(0, available - min_available) + max(0, unhealthy)
            if recreate:
                can_remove = current
            remove = min(current, can_remove)
            if remove > 0:
                self._scale(dep, fresh, current - remove)
                available -= max(0, remove - max(0, unhealthy))

    def _scale(self, dep: JSON, rs: JSON, replicas: int) -> None:
        assert self.store is not None
        rs_kind = BY_PLURAL[("apps", "replicasets")]
        fresh = copy.deepcopy(
            self.store.get(rs_kind, rs["metadata"]["namespace"], rs["metadata"]["name"])
        )
        old = int(fresh["spec"].get("replicas", 0))
        fresh["spec"]["replicas"] = replicas
        fresh["metadata"].setdefault("annotations", {})[
            "deployment.kubernetes.io/desired-replicas"
        ] = str(dep["spec"].get("replicas", 1))
        self.store.put(rs_kind, fresh)
        direction = "up" if replicas > old else "down"
        record_event(
            self.store,
            dep,
            "ScalingReplicaSet",
            f"Scaled {direction} replica set {fresh['metadata']['name']} from {old} to {replicas}",
            component="deployment-controller",
        )

    def _reconcile_replicasets(self) -> None:
        assert self.store is not None
        store = self.store
        rs_kind = BY_PLURAL[("apps", "replicasets")]
        pod_kind = BY_PLURAL[("", "pods")]
        now = time.monotonic()
        for rs in store.list(rs_kind, None):
            if rs["metadata"].get("deletionTimestamp"):
                continue
            namespace = rs["metadata"]["namespace"]
            uid = rs["metadata"]["uid"]
            pods = [
                p
                for p in store.list(pod_kind, namespace)
                if any(ref.get("uid") == uid for ref in p["metadata"].get("ownerReferences") or [])
            ]
            wanted = int(rs["spec"].get("replicas", 0))
            for _ in range(wanted - len(pods)):
                pods.append(self._create_pod(rs))
            if len(pods) > wanted:
                # remove not-ready pods first, then the newest
                pods.sort(
                    key=lambda p: (
                        self.cluster.kubelet.pod_ready(p),
                        p["metadata"]["creationTimestamp"],
                    )
                )
                for pod in pods[: len(pods) - wanted]:
                    self._delete(pod_kind, pod)
                pods = pods[len(pods) - wanted :]
            ready = available = 0
            min_ready = float(rs["spec"].get("minReadySeconds", 0))
            for pod in pods:
                moved = self.cluster.kubelet.advance_pod(pod, now)
                if self.cluster.kubelet.pod_ready(moved):
                    ready += 1
                    available += _ready_for(moved) >= min_ready
            status = {
                "replicas": len(pods),
                "fullyLabeledReplicas": len(pods),
                "readyReplicas": ready,
                "availableReplicas": available,
                "observedGeneration": rs["metadata"].get("generation", 1),
            }
            status = {k: v for k, v in status.items() if v}
            if rs.get("status") != status:
                fresh = copy.deepcopy(rs)
                fresh["status"] = status
                store.put(rs_kind, fresh)

    def _create_pod(self, rs: JSON) -> JSON:
        assert self.store is not None
        template = copy.deepcopy(rs["spec"]["template"])
        meta = template.get("metadata", {})
        spec = template.get("spec", {})
        containers = spec.get("containers") or []
        body = {
            "metadata": {
                "generateName": f"{rs['metadata']['name']}-",
                "namespace": rs["metadata"]["namespace"],
                "labels": meta.get("labels", {}),
                "annotations": {"rehearsal/started": str(time.monotonic())},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": rs["metadata"]["name"],
                        "uid": rs["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": spec,
            "status": new_pod_status(containers),
        }
        pod = self.store.put(BY_PLURAL[("", "pods")], body, create=True)
        record_event(
            self.store,
            rs,
            "SuccessfulCreate",
            f"Created pod: {pod['metadata']['name']}",
            component="replicaset-controller",
        )
        return pod

    def _expire_events(self) -> None:
        """Events last an hour after their last occurrence, as the API server keeps them."""
        if time.monotonic() - self._expired_at < 1:
            return  # once a second is often enough for an hour's TTL
        self._expired_at = time.monotonic()
        events = BY_PLURAL[("", "events")]
        cutoff = time.time() - self.cluster.timing.event_ttl
        for event in self.store.list(events, None):
            last = parse_time(event.get("lastTimestamp") or event["metadata"]["creationTimestamp"])
            if last is not None and last.timestamp() < cutoff:
                self.store.delete(events, event["metadata"]["namespace"], event["metadata"]["name"])

    def _collect_garbage(self) -> None:
        """Like the garbage collector: an object none of whose owners exists any more is deleted
        (background propagation); an owner deleted in the foreground goes once its dependents
        are gone."""
        store = self.store
        everything = store.all_objects()
        uids = {obj["metadata"]["uid"] for _, obj in everything}
        dependents: dict[str, list[tuple[Kind, JSON]]] = {}
        for kind, obj in everything:
            owners = obj["metadata"].get("ownerReferences") or []
            for ref in owners:
                dependents.setdefault(str(ref.get("uid")), []).append((kind, obj))
            if owners and not any(ref.get("uid") in uids for ref in owners):
                self._delete(kind, obj)
        for kind, obj in everything:
            meta = obj["metadata"]
            if "foregroundDeletion" not in (meta.get("finalizers") or []):
                continue
            waiting = [
                (k, d)
                for k, d in dependents.get(meta["uid"], [])
                if store.find(k, d["metadata"].get("namespace", ""), d["metadata"]["name"])
            ]
            for dependent_kind, dependent in waiting:
                if not dependent["metadata"].get("deletionTimestamp"):
                    self._delete(dependent_kind, dependent)
            if not waiting:
                self._delete(kind, obj)

    def _delete(self, kind: Kind, obj: JSON) -> None:
        meta = obj["metadata"]
        if self.store.find(kind, meta.get("namespace", ""), meta["name"]) is None:
            return
        deleted = self.store.delete(kind, meta.get("namespace", ""), meta["name"])
        if kind.kind == "Pod":
            self.cluster.kubelet.forget(deleted)


def _ready_for(pod: JSON) -> float:
    """Seconds since the pod became ready (its Ready condition's last transition)."""
    for condition in pod.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready" and condition.get("status") == "True":
            since = parse_time(condition.get("lastTransitionTime"))
            return float("inf") if since is None else time.time() - since.timestamp()
    return 0.0
