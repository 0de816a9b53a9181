"""The rehearsal API server's storage: kinds, objects, resourceVersions and the change log.

One resourceVersion counter for everything, as etcd's revision is for a real API server; a
bounded change log serves watches and answers 410 Gone once a client falls behind it. A dry run
goes through the same steps and returns what would be stored, leaving the store untouched.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]
ADMIN_TOKEN = "rehearsal-admin-token"
VIEWER_TOKEN = "rehearsal-viewer-token"
SERVER_VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-rehearsal",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.24",
    "compiler": "gc",
    "platform": "linux/amd64",
}


ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_VERBS = ("get", "list", "watch")


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    stored: bool = True  # False: answered from other objects (reviews, metrics), never stored

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:
        """How the API names the resource in messages: `deployments.apps`, `pods`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


KINDS = [
    Kind(
        "", "v1", "Pod", "pods", short=("po",), subresources=("status", "log"), categories=("all",)
    ),
    Kind("", "v1", "Event", "events", short=("ev",)),
    Kind("", "v1", "ConfigMap", "configmaps", short=("cm",)),
    Kind("", "v1", "Secret", "secrets"),
    Kind(
        "",
        "v1",
        "Service",
        "services",
        short=("svc",),
        subresources=("status",),
        categories=("all",),
    ),
    Kind(
        "",
        "v1",
        "Namespace",
        "namespaces",
        namespaced=False,
        short=("ns",),
        subresources=("status",),
    ),
    Kind("", "v1", "Node", "nodes", namespaced=False, short=("no",), subresources=("status",)),
    Kind(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        short=("deploy",),
        subresources=("status", "scale"),
        categories=("all",),
    ),
    Kind(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        short=("rs",),
        subresources=("status", "scale"),
        categories=("all",),
    ),
    Kind(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        short=("sts",),
        subresources=("status", "scale"),
        categories=("all",),
    ),
    Kind(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        short=("ds",),
        subresources=("status",),
        categories=("all",),
    ),
    Kind("apps", "v1", "ControllerRevision", "controllerrevisions"),
    Kind(
        "batch",
        "v1",
        "Job",
        "jobs",
        subresources=("status",),
        categories=("all",),
    ),
    Kind(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        short=("cj",),
        subresources=("status",),
        categories=("all",),
    ),
    Kind("coordination.k8s.io", "v1", "Lease", "leases"),
    # Argo Rollouts' CRD, served as its API would be; no controller: a test sets the status
    Kind("argoproj.io", "v1alpha1", "Rollout", "rollouts", short=("ro",), subresources=("status",)),
    Kind(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        namespaced=False,
        verbs=("create",),
        stored=False,
    ),
    Kind(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        namespaced=False,
        verbs=("create",),
        stored=False,
    ),
    Kind(
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        namespaced=False,
        verbs=("create",),
        stored=False,
    ),
]
BY_PLURAL = {(k.group, k.plural): k for k in KINDS}
BY_KIND = {(k.group, k.kind): k for k in KINDS}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_details(kind: Kind, name: str) -> JSON:
    """A Status's details as a real server sends them: `group` is left out for the core
    group (omitempty), so a 409 on a ConfigMap reads exactly as a real one."""
    details: JSON = {"name": name, "kind": kind.plural}
    if kind.group:
        details["group"] = kind.group
    return details


def status_body(code: int, reason: str, message: str) -> JSON:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


class ApiError(Exception):
    """A refusal the API answers with a Status object of this code and reason."""

    def __init__(self, code: int, reason: str, message: str, details: JSON | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> JSON:
        body = status_body(self.code, self.reason, self.message)
        if self.details is not None:
            body["details"] = self.details
        return body


def not_found(kind: Kind, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{kind.resource} "{name}" not found',
        status_details(kind, name),
    )


NO_RESOURCE = "the server could not find the requested resource"


@dataclass
class WatchEvent:
    rv: int
    type: str
    kind: Kind
    obj: JSON


class Store:
    """Objects by (kind, namespace, name) with one resourceVersion counter and a change log."""

    def __init__(self, history: int = 5000) -> None:
        self.rv = 100
        self.objects: dict[tuple[str, str, str, str], JSON] = {}
        # the same objects by kind, so a list reads one kind's objects, not everything
        self._by_kind: dict[tuple[str, str], dict[tuple[str, str], JSON]] = {}
        self.log: deque[WatchEvent] = deque(maxlen=history)
        self.changed = asyncio.Condition()

    def key(self, kind: Kind, namespace: str, name: str) -> tuple[str, str, str, str]:
        return (kind.group, kind.plural, namespace if kind.namespaced else "", name)

    def get(self, kind: Kind, namespace: str, name: str) -> JSON:
        found = self.objects.get(self.key(kind, namespace, name))
        if found is None:
            raise not_found(kind, name)
        return found

    def find(self, kind: Kind, namespace: str, name: str) -> JSON | None:
        return self.objects.get(self.key(kind, namespace, name))

    def list(self, kind: Kind, namespace: str | None) -> list[JSON]:
        """One kind's objects (in one namespace, or all), ordered by namespace and name."""
        found = self._by_kind.get((kind.group, kind.plural), {})
        return [
            obj for (ns, _), obj in sorted(found.items()) if namespace is None or namespace == ns
        ]

    def all_objects(self) -> builtins.list[tuple[Kind, JSON]]:
        return [(BY_PLURAL[(g, p)], obj) for (g, p, _, _), obj in self.objects.items()]

    def _record(self, event_type: str, kind: Kind, obj: JSON) -> None:
        self.log.append(WatchEvent(self.rv, event_type, kind, copy.deepcopy(obj)))

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    def put(self, kind: Kind, obj: JSON, *, create: bool = False, dry_run: bool = False) -> JSON:
        """Store obj (a create or an update) and return it as stored; with dry_run, return what
        would be stored: a new object gets no resourceVersion, a changed one keeps the old one."""
        meta = obj.setdefault("metadata", {})
        namespace = meta.get("namespace", "default") if kind.namespaced else ""
        if kind.namespaced:
            meta["namespace"] = namespace
        name = meta.get("name")
        if not name:
            prefix = meta.get("generateName")
            if not prefix:
                raise ApiError(422, "Invalid", "metadata.name: Required value")
            name = prefix + uuid.uuid4().hex[:5]
            meta["name"] = name
        key = self.key(kind, namespace, name)
        existing = self.objects.get(key)
        if create and existing is not None:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{kind.resource} "{name}" already exists',
                status_details(kind, name),
            )
        if existing is None:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now_iso())
            if "spec" in obj and kind.kind not in ("Pod", "Service", "Namespace", "Node"):
                meta["generation"] = 1
        else:
            meta["uid"] = existing["metadata"]["uid"]
            meta["creationTimestamp"] = existing["metadata"]["creationTimestamp"]
            if "generation" in existing["metadata"]:
                generation = existing["metadata"]["generation"]
                if existing.get("spec") != obj.get("spec"):
                    generation += 1
                meta["generation"] = generation
        obj["kind"] = kind.kind
        obj["apiVersion"] = kind.api_version
        if dry_run:
            if existing is None:
                meta.pop("resourceVersion", None)
            else:
                meta["resourceVersion"] = existing["metadata"]["resourceVersion"]
            return obj
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        self.objects[key] = obj
        self._by_kind.setdefault(key[:2], {})[key[2:]] = obj
        self._record("ADDED" if existing is None else "MODIFIED", kind, obj)
        return obj

    def delete(self, kind: Kind, namespace: str, name: str, *, dry_run: bool = False) -> JSON:
        obj = self.get(kind, namespace, name)
        if dry_run:
            return copy.deepcopy(obj)
        key = self.key(kind, namespace, name)
        del self.objects[key]
        del self._by_kind[key[:2]][key[2:]]
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._record("DELETED", kind, obj)
        return obj


def record_event(
    store: Store,
    involved: JSON,
    reason: str,
    message: str,
    *,
    component: str,
    event_type: str = "Normal",
) -> None:
    """An Event about an object, as its controller or the kubelet reports it; a repeat of the
    same reason and message counts up on the existing Event, as the event recorder does."""
    meta = involved["metadata"]
    kind = BY_KIND.get((involved.get("apiVersion", "v1").rpartition("/")[0], involved["kind"]))
    events = BY_PLURAL[("", "events")]
    stamp = now_iso()
    for event in store.list(events, meta["namespace"]):
        same = event["involvedObject"].get("uid") == meta["uid"]
        if same and event["reason"] == reason and event["message"] == message:
            repeat = copy.deepcopy(event)
            repeat["count"] = int(event.get("count", 1)) + 1
            repeat["lastTimestamp"] = stamp
            store.put(events, repeat)
            return
    store.put(
        events,
        {
            "metadata": {
                "name": f"{meta['name']}.{uuid.uuid4().hex[:16]}",
                "namespace": meta["namespace"],
            },
            "involvedObject": {
                "kind": involved["kind"],
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
                "apiVersion": kind.api_version if kind else involved.get("apiVersion", "v1"),
                "resourceVersion": meta.get("resourceVersion", ""),
            },
            "reason": reason,
            "message": message,
            "type": event_type,
            "count": 1,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "source": {"component": component},
            "reportingComponent": component,
            "reportingInstance": "",
        },
    )
