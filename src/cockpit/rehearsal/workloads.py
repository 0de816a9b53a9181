"""The StatefulSet and DaemonSet controllers, with ControllerRevisions as the real ones keep.

A StatefulSet runs pods `NAME-0` … `NAME-(n-1)`, created in order, each once the one before it
is ready (OrderedReady); a rolling update replaces them from the highest ordinal down, one at a
time, sparing ordinals below `partition`. A DaemonSet runs one pod on each node its
nodeSelector allows, replaced `maxUnavailable` at a time. Each template is recorded as a
ControllerRevision (`NAME-HASH`, revision number, the template as a patch), which `kubectl
rollout history` lists and `kubectl rollout undo` patches back.
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

from cockpit.rehearsal.kubelet import NODE, NODE_LABELS, new_pod_status
from cockpit.rehearsal.store import BY_PLURAL, JSON, Store, record_event
from cockpit.rollout import CHANGE_CAUSE

if TYPE_CHECKING:
    from cockpit.rehearsal.kube import RehearsalCluster

REVISION_HASH = "controller-revision-hash"


def _owner(obj: JSON) -> JSON:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _owned_by(obj: JSON, candidates: list[JSON]) -> list[JSON]:
    uid = obj["metadata"]["uid"]
    return [
        c
        for c in candidates
        if any(
            r.get("uid") == uid and r.get("controller")
            for r in c["metadata"].get("ownerReferences") or []
        )
    ]


class Workloads:
    """StatefulSets and DaemonSets, one pass at a time (called by Controllers)."""

    def __init__(self, cluster: RehearsalCluster) -> None:
        self.cluster = cluster

    @property
    def store(self) -> Store:
        assert self.cluster.store is not None
        return self.cluster.store

    def reconcile(self, now: float) -> None:
        for sts in self.store.list(BY_PLURAL[("apps", "statefulsets")], None):
            if not sts["metadata"].get("deletionTimestamp"):
                self._statefulset(copy.deepcopy(sts), now)
        for ds in self.store.list(BY_PLURAL[("apps", "daemonsets")], None):
            if not ds["metadata"].get("deletionTimestamp"):
                self._daemonset(copy.deepcopy(ds), now)

    # --- revisions ---------------------------------------------------------------------------

    def _revisions(self, owner: JSON) -> tuple[JSON, list[JSON]]:
        """The ControllerRevision of the owner's current template (made if new) and all of its
        revisions, as the controller history keeps them; a template seen before gets the next
        revision number again, as on an undo."""
        from cockpit.rehearsal.controllers import template_hash

        kind = BY_PLURAL[("apps", "controllerrevisions")]
        namespace = owner["metadata"]["namespace"]
        revisions = _owned_by(owner, self.store.list(kind, namespace))
        template = owner["spec"]["template"]
        digest = template_hash(template)[:10]
        name = f"{owner['metadata']['name']}-{digest}"
        highest = max((int(r.get("revision", 0)) for r in revisions), default=0)
        current = next((r for r in revisions if r["metadata"]["name"] == name), None)
        annotations = {
            k: v
            for k, v in (owner["metadata"].get("annotations") or {}).items()
            if k == CHANGE_CAUSE
        }
        if current is None:
            current = self.store.put(
                kind,
                {
                    "metadata": {
                        "name": name,
                        "namespace": namespace,
                        "labels": {
                            **(template.get("metadata", {}).get("labels") or {}),
                            REVISION_HASH: digest,
                        },
                        "annotations": annotations,
                        "ownerReferences": [_owner(owner)],
                    },
                    "data": {
                        "spec": {"template": {**copy.deepcopy(template), "$patch": "replace"}}
                    },
                    "revision": highest + 1,
                },
                create=True,
            )
            revisions.append(current)
        elif int(current.get("revision", 0)) < highest:
            current = copy.deepcopy(current)
            current["revision"] = highest + 1
            current["metadata"]["annotations"] = annotations
            current = self.store.put(kind, current)
        limit = int(owner["spec"].get("revisionHistoryLimit", 10))
        old = sorted(
            (r for r in revisions if r["metadata"]["name"] != name), key=lambda r: r["revision"]
        )
        for stale in old[: max(0, len(old) - limit)]:
            self.store.delete(kind, namespace, stale["metadata"]["name"])
        return current, revisions

    def _pod(self, owner: JSON, name: str | None, revision: JSON, extra: dict[str, str]) -> JSON:
        template = copy.deepcopy(owner["spec"]["template"])
        meta = template.get("metadata", {})
        labels = {
            **(meta.get("labels") or {}),
            REVISION_HASH: revision["metadata"]["labels"][REVISION_HASH],
            **extra,
        }
        if owner["kind"] == "StatefulSet":
            labels[REVISION_HASH] = revision["metadata"]["name"]
        body: JSON = {
            "metadata": {
                "namespace": owner["metadata"]["namespace"],
                "labels": labels,
                "annotations": {"rehearsal/started": str(time.monotonic())},
                "ownerReferences": [_owner(owner)],
            },
            "spec": template.get("spec", {}),
            "status": new_pod_status(template.get("spec", {}).get("containers") or []),
        }
        if name:
            body["metadata"]["name"] = name
        else:
            body["metadata"]["generateName"] = f"{owner['metadata']['name']}-"
        if owner["kind"] == "StatefulSet":
            body["spec"]["hostname"] = name
        pod = self.store.put(BY_PLURAL[("", "pods")], body, create=True)
        record_event(
            self.store,
            owner,
            "SuccessfulCreate",
            f"create Pod {pod['metadata']['name']} in {owner['kind']} "
            f"{owner['metadata']['name']} successful",
            component=f"{owner['kind'].lower()}-controller",
        )
        return pod

    def _delete_pod(self, owner: JSON, pod: JSON) -> None:
        deleted = self.store.delete(
            BY_PLURAL[("", "pods")], pod["metadata"]["namespace"], pod["metadata"]["name"]
        )
        self.cluster.kubelet.forget(deleted)
        record_event(
            self.store,
            owner,
            "SuccessfulDelete",
            f"delete Pod {pod['metadata']['name']} in {owner['kind']} "
            f"{owner['metadata']['name']} successful",
            component=f"{owner['kind'].lower()}-controller",
        )

    def _write_status(self, kind_plural: str, owner: JSON, status: JSON) -> None:
        kind = BY_PLURAL[("apps", kind_plural)]
        fresh = self.store.get(kind, owner["metadata"]["namespace"], owner["metadata"]["name"])
        if fresh.get("status") != status:
            updated = copy.deepcopy(fresh)
            updated["status"] = status
            self.store.put(kind, updated)

    # --- StatefulSet --------------------------------------------------------------------------

    def _statefulset(self, sts: JSON, now: float) -> None:
        kubelet = self.cluster.kubelet
        spec = sts["spec"]
        name = sts["metadata"]["name"]
        replicas = int(spec.get("replicas", 1))
        update, revisions = self._revisions(sts)
        update_name = update["metadata"]["name"]
        pods = {
            p["metadata"]["name"]: kubelet.advance_pod(p, now)
            for p in _owned_by(
                sts, self.store.list(BY_PLURAL[("", "pods")], sts["metadata"]["namespace"])
            )
        }
        status_before = sts.get("status") or {}
        current_name = status_before.get("currentRevision") or update_name
        strategy = spec.get("updateStrategy") or {}
        partition = int((strategy.get("rollingUpdate") or {}).get("partition", 0))
        parallel = spec.get("podManagementPolicy") == "Parallel"
        busy = False
        for ordinal in range(replicas):
            pod_name = f"{name}-{ordinal}"
            pod = pods.get(pod_name)
            if pod is None:
                if busy and not parallel:
                    break
                wanted = (
                    update
                    if ordinal >= partition
                    else next(
                        (r for r in revisions if r["metadata"]["name"] == current_name), update
                    )
                )
                pods[pod_name] = self._pod(
                    sts,
                    pod_name,
                    wanted,
                    {
                        "statefulset.kubernetes.io/pod-name": pod_name,
                        "apps.kubernetes.io/pod-index": str(ordinal),
                    },
                )
                busy = True
                continue
            if not kubelet.pod_ready(pod):
                busy = True
                if not parallel:
                    break
        for pod_name, pod in list(pods.items()):
            ordinal = (
                int(pod_name.rsplit("-", 1)[1]) if pod_name.rsplit("-", 1)[1].isdigit() else -1
            )
            if ordinal >= replicas or ordinal < 0:
                self._delete_pod(sts, pod)
                del pods[pod_name]
        # rolling update: the highest ordinal not at the update revision goes, when all are ready
        if strategy.get("type", "RollingUpdate") == "RollingUpdate" and not busy:
            stale = [
                (int(n.rsplit("-", 1)[1]), p)
                for n, p in pods.items()
                if p["metadata"]["labels"].get(REVISION_HASH) != update_name
                and int(n.rsplit("-", 1)[1]) >= partition
            ]
            if stale and all(kubelet.pod_ready(p) for p in pods.values()):
                _, highest = max(stale, key=lambda found: found[0])
                self._delete_pod(sts, highest)
                del pods[highest["metadata"]["name"]]
        ready = [p for p in pods.values() if kubelet.pod_ready(p)]
        updated = [
            p for p in pods.values() if p["metadata"]["labels"].get(REVISION_HASH) == update_name
        ]
        if len(updated) == replicas == len(pods) and all(kubelet.pod_ready(p) for p in updated):
            current_name = update_name
        current = [
            p for p in pods.values() if p["metadata"]["labels"].get(REVISION_HASH) == current_name
        ]
        status: JSON = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(pods),
            "readyReplicas": len(ready),
            "availableReplicas": len(ready),
            "currentReplicas": len(current),
            "updatedReplicas": len(updated),
            "currentRevision": current_name,
            "updateRevision": update_name,
            "collisionCount": 0,
        }
        status = {
            k: v
            for k, v in status.items()
            if v or k in ("observedGeneration", "replicas", "collisionCount", "availableReplicas")
        }
        self._write_status("statefulsets", sts, status)

    # --- DaemonSet ----------------------------------------------------------------------------

    def _daemonset(self, ds: JSON, now: float) -> None:
        kubelet = self.cluster.kubelet
        spec = ds["spec"]
        update, _ = self._revisions(ds)
        digest = update["metadata"]["labels"][REVISION_HASH]
        selector = spec.get("template", {}).get("spec", {}).get("nodeSelector") or {}
        nodes = [NODE] if all(NODE_LABELS.get(k) == v for k, v in selector.items()) else []
        pods = [
            kubelet.advance_pod(p, now)
            for p in _owned_by(
                ds, self.store.list(BY_PLURAL[("", "pods")], ds["metadata"]["namespace"])
            )
        ]
        if nodes and not pods:
            pod = self._pod(
                ds,
                None,
                update,
                {"pod-template-generation": str(ds["metadata"].get("generation", 1))},
            )
            pod["spec"]["nodeName"] = NODE
            pods = [pod]
        rolling = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
        stale = [p for p in pods if p["metadata"]["labels"].get(REVISION_HASH) != digest]
        if (stale and rolling) or not nodes:
            for pod in stale if nodes else pods:
                self._delete_pod(ds, pod)
            pods = [p for p in pods if p not in stale] if nodes else []
        ready = [p for p in pods if kubelet.pod_ready(p)]
        updated = [p for p in pods if p["metadata"]["labels"].get(REVISION_HASH) == digest]
        status: dict[str, Any] = {
            "currentNumberScheduled": len(pods),
            "desiredNumberScheduled": len(nodes),
            "numberMisscheduled": 0,
            "numberReady": len(ready),
            "numberAvailable": len(ready),
            "numberUnavailable": len(nodes) - len(ready),
            "observedGeneration": ds["metadata"].get("generation", 1),
            "updatedNumberScheduled": len(updated),
        }
        status = {
            k: v
            for k, v in status.items()
            if v
            or k
            in (
                "currentNumberScheduled",
                "desiredNumberScheduled",
                "numberMisscheduled",
                "numberReady",
                "observedGeneration",
            )
        }
        self._write_status("daemonsets", ds, status)
