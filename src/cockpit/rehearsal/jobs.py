"""The Job controller (batch/v1, NonIndexed): pods run to completion, retried up to a limit.

A Job keeps `min(parallelism, completions - succeeded)` pods running; it is Complete once
`completions` pods have succeeded, and Failed once more pods have failed than `backoffLimit`
allows (for restartPolicy OnFailure, the container restarts count), or when it has been
active longer than `activeDeadlineSeconds`. As the real controller does (1.31 and later), it
first adds the condition the end is decided by (SuccessCriteriaMet, FailureTarget), then the
final one (Complete, Failed) with completionTime, and deletes the pods still running when it
fails. A suspended Job runs no pods. The pods themselves run in the kubelet (kubelet.py).
"""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING

from cockpit.rehearsal.kubelet import new_pod_status
from cockpit.rehearsal.store import BY_PLURAL, JSON, Store, now_iso, record_event
from cockpit.rollout import parse_time

if TYPE_CHECKING:
    from cockpit.rehearsal.kube import RehearsalCluster

COMPONENT = "job-controller"


def _owned(job: JSON, pods: list[JSON]) -> list[JSON]:
    uid = job["metadata"]["uid"]
    return [
        p
        for p in pods
        if any(
            r.get("uid") == uid and r.get("controller")
            for r in p["metadata"].get("ownerReferences") or []
        )
    ]


def _condition(kind: str, reason: str, message: str) -> JSON:
    stamp = now_iso()
    return {
        "type": kind,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastProbeTime": stamp,
        "lastTransitionTime": stamp,
    }


def finished(job: JSON) -> bool:
    return any(
        c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
        for c in job.get("status", {}).get("conditions") or []
    )


class JobController:
    """Jobs, one pass at a time (called by Controllers)."""

    def __init__(self, cluster: RehearsalCluster) -> None:
        self.cluster = cluster
        self._failed_at: dict[str, float] = {}  # job uid -> when a pod of it last failed

    @property
    def store(self) -> Store:
        assert self.cluster.store is not None
        return self.cluster.store

    def reconcile(self, now: float) -> None:
        pods = BY_PLURAL[("", "pods")]
        for job in self.store.list(BY_PLURAL[("batch", "jobs")], None):
            if job["metadata"].get("deletionTimestamp") or finished(job):
                continue
            namespace = job["metadata"]["namespace"]
            owned = _owned(job, self.store.list(pods, namespace))
            moved = [self.cluster.kubelet.advance_pod(p, now) for p in owned]
            self._job(copy.deepcopy(job), moved, now)

    def _job(self, job: JSON, pods: list[JSON], now: float) -> None:
        spec = job["spec"]
        status = copy.deepcopy(job.get("status") or {})
        conditions: list[JSON] = [
            c for c in status.get("conditions") or [] if c.get("type") != "Suspended"
        ]
        suspended = [c for c in status.get("conditions") or [] if c.get("type") == "Suspended"]
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1))
        backoff_limit = int(spec.get("backoffLimit", 6))
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        phases = [p.get("status", {}).get("phase") for p in live]
        succeeded = phases.count("Succeeded")
        failed = phases.count("Failed")
        active = [p for p, phase in zip(live, phases, strict=True) if phase not in _ENDED]
        restarts = sum(
            int(cs.get("restartCount", 0))
            for p in active
            for cs in p.get("status", {}).get("containerStatuses") or []
        )
        if failed > int(status.get("failed", 0)):
            self._failed_at[job["metadata"]["uid"]] = now
        if spec.get("suspend"):
            for pod in active:
                self._delete_pod(pod)
            active = []
            conditions += suspended or [_condition("Suspended", "JobSuspended", "Job suspended")]
            status.pop("startTime", None)
        else:
            status.setdefault("startTime", now_iso())
        started = parse_time(status.get("startTime"))
        deadline = spec.get("activeDeadlineSeconds")
        end: tuple[str, str, str] | None = None
        wanted = int(completions) if completions is not None else 1
        if succeeded >= wanted and not spec.get("suspend"):
            end = ("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of "
                   "succeeded pods")  # fmt: skip
        elif failed + restarts > backoff_limit:
            end = ("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified "
                   "backoff limit")  # fmt: skip
        elif (
            deadline is not None
            and started is not None
            and time.time() - started.timestamp() >= int(deadline)
        ):
            end = ("FailureTarget", "DeadlineExceeded", "Job was active longer than specified "
                   "deadline")  # fmt: skip
        if end is not None:
            target, reason, message = end
            final = "Complete" if target == "SuccessCriteriaMet" else "Failed"
            for pod in active:
                self._delete_pod(pod)
            if final == "Failed":
                failed += len(active)  # the pods the controller ends count as failed
            active = []
            conditions += [_condition(target, reason, message), _condition(final, reason, message)]
            if final == "Complete":
                status["completionTime"] = now_iso()
                record_event(self.store, job, "Completed", "Job completed", component=COMPONENT)
            else:
                record_event(
                    self.store, job, reason, message, component=COMPONENT, event_type="Warning"
                )
        elif not spec.get("suspend"):
            missing = min(parallelism, wanted - succeeded) - len(active)
            last_failure = self._failed_at.get(job["metadata"]["uid"])
            waiting = (
                last_failure is not None and now - last_failure < self.cluster.timing.restart_every
            )
            for _ in range(max(0, missing) if not waiting else 0):
                active.append(self._create_pod(job))
        ready = sum(
            1
            for p in active
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in p.get("status", {}).get("conditions") or []
            )
        )
        status.update(
            {
                "active": len(active),
                "ready": ready,
                "succeeded": succeeded,
                "failed": failed,
                "terminating": 0,
                "uncountedTerminatedPods": {},
            }
        )
        # active, succeeded and failed are left out when zero; ready and terminating are not
        status = {
            k: v for k, v in status.items() if v not in (0, None) or k in ("ready", "terminating")
        }
        if conditions:
            status["conditions"] = conditions
        else:
            status.pop("conditions", None)
        if status != (job.get("status") or {}):
            job["status"] = status
            self.store.put(BY_PLURAL[("batch", "jobs")], job)

    def _create_pod(self, job: JSON) -> JSON:
        template = copy.deepcopy(job["spec"]["template"])
        meta = template.get("metadata", {})
        spec = template.get("spec", {})
        body = {
            "metadata": {
                "generateName": f"{job['metadata']['name']}-",
                "namespace": job["metadata"]["namespace"],
                "labels": meta.get("labels", {}),
                "annotations": {"rehearsal/started": str(time.monotonic())},
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": job["metadata"]["name"],
                        "uid": job["metadata"]["uid"],
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": spec,
            "status": new_pod_status(spec.get("containers") or []),
        }
        pod = self.store.put(BY_PLURAL[("", "pods")], body, create=True)
        record_event(
            self.store,
            job,
            "SuccessfulCreate",
            f"Created pod: {pod['metadata']['name']}",
            component=COMPONENT,
        )
        return pod

    def _delete_pod(self, pod: JSON) -> None:
        meta = pod["metadata"]
        kind = BY_PLURAL[("", "pods")]
        if self.store.find(kind, meta["namespace"], meta["name"]) is not None:
            self.cluster.kubelet.forget(self.store.delete(kind, meta["namespace"], meta["name"]))


_ENDED = ("Succeeded", "Failed")
