"""Writing objects as the API server does: create, update (the status and scale subresources
too) with resourceVersion preconditions, server-side apply, delete with propagation and
preconditions, delete collections; dry runs answered, never stored; each write wakes the watches."""

from __future__ import annotations

import asyncio
import copy
from typing import TYPE_CHECKING

import yaml
from aiohttp import web

from cockpit.rehearsal.admission import admit, allocate_cluster_ip
from cockpit.rehearsal.reads import list_body, scale_body
from cockpit.rehearsal.server_side_apply import record_update, server_side_apply
from cockpit.rehearsal.store import (
    BY_PLURAL,
    JSON,
    KINDS,
    NO_RESOURCE,
    ApiError,
    Kind,
    Store,
    not_found,
    now_iso,
    status_details,
)

if TYPE_CHECKING:
    from cockpit.rehearsal.kube import RehearsalCluster


def field_manager(request: web.Request) -> str:
    """The field manager: as sent, or the client's user agent up to its first `/`."""
    sent = request.query.get("fieldManager")
    return sent or request.headers.get("User-Agent", "unknown").split("/", 1)[0]


class ObjectWriter:
    """The API's write rules applied to the rehearsal store."""

    def __init__(self, cluster: RehearsalCluster) -> None:
        self.cluster = cluster

    @property
    def store(self) -> Store:
        assert self.cluster.store is not None
        return self.cluster.store

    def namespace_exists(self, kind: Kind, namespace: str) -> None:
        if kind.namespaced:
            namespaces = BY_PLURAL[("", "namespaces")]
            if self.store.find(namespaces, "", namespace) is None:
                raise not_found(namespaces, namespace)

    def _stored_form(self, kind: Kind, obj: JSON) -> JSON:
        if kind.kind == "Service":
            taken = {
                s.get("spec", {}).get("clusterIP", "")
                for s in self.store.list(kind, None)
                if s["metadata"]["uid"] != obj["metadata"].get("uid")
            }
            allocate_cluster_ip(obj, taken)
        return obj

    def create(
        self, kind: Kind, namespace: str, body: JSON, dry_run: bool, manager: str | None
    ) -> JSON:
        meta = body.setdefault("metadata", {})
        if kind.namespaced:
            sent = meta.get("namespace")
            if sent and sent != namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request",
                )
            meta["namespace"] = namespace
        for key in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp"):
            meta.pop(key, None)
        if kind.kind not in ("Pod", "Namespace", "Node", "Service"):
            body.pop("status", None)
        admit(kind, body, None)
        if manager is not None:
            meta.pop("managedFields", None)
            record_update(kind, None, body, manager)
        created = self.store.put(kind, self._stored_form(kind, body), create=True, dry_run=dry_run)
        self.notify()
        return copy.deepcopy(created)

    def update(
        self,
        kind: Kind,
        current: JSON,
        body: JSON,
        subresource: str | None,
        dry_run: bool,
        manager: str | None,
    ) -> JSON:
        meta = body.setdefault("metadata", {}) if isinstance(body, dict) else None
        if meta is None:
            raise ApiError(400, "BadRequest", "the request body is not an object")
        wanted_rv = meta.get("resourceVersion")
        if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f"Operation cannot be fulfilled on {kind.resource} "
                f'"{current["metadata"]["name"]}": the object has been modified; please apply '
                "your changes to the latest version and try again",
                status_details(kind, current["metadata"]["name"]),
            )
        if meta.get("name") not in (None, current["metadata"]["name"]):
            raise ApiError(
                400, "BadRequest", "the name of the object does not match the name on the URL"
            )
        if subresource == "status":
            merged = copy.deepcopy(current)
            merged["status"] = body.get("status", {})
            body = merged
        elif subresource == "scale":
            replicas = body.get("spec", {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiError(
                    422,
                    "Invalid",
                    f'Scale.autoscaling "{current["metadata"]["name"]}" is invalid: '
                    "spec.replicas: Invalid value: must be greater than or equal to 0",
                )
            merged = copy.deepcopy(current)
            merged["spec"]["replicas"] = replicas
            body = merged
            if manager is not None:
                record_update(kind, current, body, manager)
        else:
            for key in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
                if key in current["metadata"]:
                    meta[key] = current["metadata"][key]
            meta["name"] = current["metadata"]["name"]
            if kind.namespaced:
                meta["namespace"] = current["metadata"]["namespace"]
            if "status" in current:
                body["status"] = copy.deepcopy(current["status"])  # status only via /status
            if "managedFields" not in meta and "managedFields" in current["metadata"]:
                meta["managedFields"] = current["metadata"]["managedFields"]
            admit(kind, body, current)
            if manager is not None:
                meta["managedFields"] = current["metadata"].get("managedFields", [])
                record_update(kind, current, body, manager)
        updated = self.store.put(kind, self._stored_form(kind, body), dry_run=dry_run)
        self.notify()
        if subresource == "scale":
            return scale_body(kind, updated)
        return copy.deepcopy(updated)

    async def apply(
        self,
        request: web.Request,
        kind: Kind,
        namespace: str,
        name: str,
        subresource: str | None,
        raw: bytes,
        dry_run: bool,
    ) -> web.Response:
        manager = request.query.get("fieldManager")
        if not manager:
            raise ApiError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                "required for apply patch",
            )
        if subresource is not None:
            raise ApiError(404, "NotFound", NO_RESOURCE)
        try:
            intent = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ApiError(400, "BadRequest", f"error decoding YAML: {exc}") from None
        if not isinstance(intent, dict):
            raise ApiError(400, "BadRequest", "the apply patch is not an object")
        force = request.query.get("force") == "true"
        current = self.store.find(kind, namespace, name)
        merged = server_side_apply(kind, current, intent, manager, force)
        meta = merged.setdefault("metadata", {})
        meta["name"] = name
        if current is None:
            self.namespace_exists(kind, namespace)
            return web.json_response(
                self.create(kind, namespace, merged, dry_run, None), status=201
            )
        meta.pop("resourceVersion", None)
        if intent.get("metadata", {}).get("resourceVersion"):
            meta["resourceVersion"] = intent["metadata"]["resourceVersion"]
        return web.json_response(self.update(kind, current, merged, None, dry_run, None))

    def delete(
        self,
        request: web.Request,
        kind: Kind,
        namespace: str,
        name: str,
        options: JSON,
        dry_run: bool,
    ) -> JSON:
        dry_run = dry_run or "All" in (options.get("dryRun") or [])
        propagation = request.query.get("propagationPolicy") or options.get(
            "propagationPolicy", "Background"
        )
        if propagation not in ("Background", "Foreground", "Orphan"):
            raise ApiError(
                400,
                "BadRequest",
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
                f'"{propagation}": supported values: "Foreground", "Background", "Orphan", "nil"',
            )
        current = self.store.get(kind, namespace, name)
        wanted_uid = (options.get("preconditions") or {}).get("uid")
        wanted_rv = (options.get("preconditions") or {}).get("resourceVersion")
        if (wanted_uid and wanted_uid != current["metadata"]["uid"]) or (
            wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]
        ):
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {kind.resource} "{name}": Precondition failed',
            )
        if dry_run:
            return copy.deepcopy(current)
        if propagation == "Foreground":
            marked = copy.deepcopy(current)
            marked["metadata"]["deletionTimestamp"] = now_iso()
            finalizers = marked["metadata"].setdefault("finalizers", [])
            if "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            stored = self.store.put(kind, marked)
            self.notify()
            return copy.deepcopy(stored)
        if propagation == "Orphan":
            self._orphan(current["metadata"]["uid"])
        deleted = self.store.delete(kind, namespace, name)
        if kind.kind == "Pod":
            self.cluster.kubelet.forget(deleted)
        self.notify()
        return copy.deepcopy(deleted)

    def _orphan(self, uid: str) -> None:
        for kind in KINDS:
            if not kind.stored:
                continue
            for obj in self.store.list(kind, None):
                refs = obj["metadata"].get("ownerReferences") or []
                if any(ref.get("uid") == uid for ref in refs):
                    freed = copy.deepcopy(obj)
                    freed["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                    if not freed["metadata"]["ownerReferences"]:
                        del freed["metadata"]["ownerReferences"]
                    self.store.put(kind, freed)

    def delete_collection(
        self, request: web.Request, kind: Kind, namespace: str | None, dry_run: bool
    ) -> JSON:
        listed = list_body(self.store, request, kind, namespace)
        if not dry_run:
            for obj in listed["items"]:
                self.store.delete(
                    kind, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
                )
            self.notify()
        return listed

    def notify(self) -> None:
        task = asyncio.get_running_loop().create_task(self.store.notify())
        self.cluster.background.add(task)
        task.add_done_callback(self.cluster.background.discard)
