"""The rehearsal Kubernetes cluster: the API subset the cockpit and kubectl use, on loopback.

No real API server can run here, so this stand-in speaks the real REST protocol (discovery,
get/list/watch with resourceVersions and 410 Gone, create/update/delete, JSON, merge and
strategic merge patches, 409 conflicts, Tables for `kubectl get`) on aiohttp, and runs a
deployment controller that rolls out progressively (maxSurge / maxUnavailable), keeps revision
annotations and revision history like the real one, honours `paused`, sets the Progressing and
Available conditions including ProgressDeadlineExceeded, and can be told to make the pods of an
image crash-loop or fail to pull. Real kubectl works against it; the tests prove it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import json
import math
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from cockpit.rehearsal.patching import PatchError, json_patch, merge_patch, strategic_merge_patch
from cockpit.rehearsal.pki import CertificateAuthority
from cockpit.rollout import (
    CHANGE_CAUSE,
    POD_TEMPLATE_HASH,
    REVISION,
    REVISION_HISTORY,
    owned_replicasets,
    revision_of,
    same_template,
)

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


@dataclass(frozen=True)
class Kind:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "get",
        "list",
        "patch",
        "update",
        "watch",
        "deletecollection",
    )

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


KINDS = [
    Kind("", "v1", "Pod", "pods", short=("po",)),
    Kind("", "v1", "Event", "events", short=("ev",)),
    Kind("", "v1", "ConfigMap", "configmaps", short=("cm",)),
    Kind("", "v1", "Secret", "secrets"),
    Kind("", "v1", "Namespace", "namespaces", namespaced=False, short=("ns",)),
    Kind("apps", "v1", "Deployment", "deployments", short=("deploy",)),
    Kind("apps", "v1", "ReplicaSet", "replicasets", short=("rs",)),
    Kind("batch", "v1", "CronJob", "cronjobs", short=("cj",)),
    Kind("coordination.k8s.io", "v1", "Lease", "leases"),
    Kind(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        namespaced=False,
        verbs=("create",),
    ),
]
BY_PLURAL = {(k.group, k.plural): k for k in KINDS}


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message


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
        self.log: deque[WatchEvent] = deque(maxlen=history)
        self.changed = asyncio.Condition()

    def key(self, kind: Kind, namespace: str, name: str) -> tuple[str, str, str, str]:
        return (kind.group, kind.plural, namespace if kind.namespaced else "", name)

    def get(self, kind: Kind, namespace: str, name: str) -> JSON:
        found = self.objects.get(self.key(kind, namespace, name))
        if found is None:
            raise ApiError(
                404, "NotFound", f'{kind.plural}.{kind.group or "core"} "{name}" not found'
            )
        return found

    def find(self, kind: Kind, namespace: str, name: str) -> JSON | None:
        return self.objects.get(self.key(kind, namespace, name))

    def list(self, kind: Kind, namespace: str | None) -> list[JSON]:
        return [
            obj
            for (group, plural, ns, _), obj in sorted(self.objects.items())
            if group == kind.group and plural == kind.plural and (namespace in (None, ns))
        ]

    def _record(self, event_type: str, kind: Kind, obj: JSON) -> None:
        self.log.append(WatchEvent(self.rv, event_type, kind, copy.deepcopy(obj)))

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    def put(self, kind: Kind, obj: JSON, *, create: bool = False) -> JSON:
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
            raise ApiError(409, "AlreadyExists", f'{kind.plural} "{name}" already exists')
        if existing is None:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now_iso())
            if kind.kind == "Deployment":
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
        self.rv += 1
        meta["resourceVersion"] = str(self.rv)
        self.objects[key] = obj
        self._record("ADDED" if existing is None else "MODIFIED", kind, obj)
        return obj

    def delete(self, kind: Kind, namespace: str, name: str) -> JSON:
        obj = self.get(kind, namespace, name)
        del self.objects[self.key(kind, namespace, name)]
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._record("DELETED", kind, obj)
        return obj


@dataclass
class Faults:
    """Images whose pods misbehave, and how; and an API server having a bad day.

    api: None (healthy), "500" (every request fails), "garbage" (200 with a body that is not
    JSON), "huge" (200 with a valid list padded to HUGE_BODY bytes), "stall" (requests are
    accepted and never answered); only for the HTTP methods in api_methods, when given."""

    crash: set[str] = field(default_factory=set)
    pull: set[str] = field(default_factory=set)
    api: str | None = None
    api_methods: set[str] | None = None


HUGE_BODY = 48 * 2**20  # bytes of padding in a "huge" answer


@dataclass
class Timing:
    """Seconds a pod takes to become ready, and between crash-loop restarts."""

    ready_after: float = 1.0
    restart_every: float = 1.0
    tick: float = 0.1


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


def deployment_defaults(obj: JSON) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy["type"] = "RollingUpdate"
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxSurge", "25%")
        rolling.setdefault("maxUnavailable", "25%")
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {})
    pod_spec = template.setdefault("spec", {})
    pod_spec.setdefault("restartPolicy", "Always")
    pod_spec.setdefault("terminationGracePeriodSeconds", 30)
    pod_spec.setdefault("dnsPolicy", "ClusterFirst")
    pod_spec.setdefault("schedulerName", "default-scheduler")
    pod_spec.setdefault("securityContext", {})
    for container in pod_spec.get("containers") or []:
        container.setdefault("imagePullPolicy", "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
    obj.setdefault("status", {})


class RehearsalCluster:
    """The API server and its controllers, in a thread of its own with its own event loop."""

    def __init__(
        self, folder: Path, *, timing: Timing | None = None, host: str = "127.0.0.1"
    ) -> None:
        # kubectl sends bearer tokens only over TLS, so the rehearsal API speaks HTTPS with a
        # CA of its own, which its kubeconfig carries.
        self.ca = CertificateAuthority(folder / "pki")
        self.leaf = self.ca.issue("apiserver", ["localhost", "rehearsal"], ip=host)
        self.timing = timing or Timing()
        self.faults = Faults()
        self.host = host
        self.port = 0
        self.store: Store | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._controller_task: asyncio.Task[None] | None = None
        self._progress: dict[str, tuple[Any, float]] = {}
        self._watch_tasks: set[asyncio.Task[Any]] = set()
        self.requests: list[tuple[str, str]] = []
        self.frozen = False  # tests freeze the controllers to compare a still picture
        self.denied: dict[str, set[tuple[str, str]]] = {VIEWER_TOKEN: {("patch", "deployments")}}

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self, port: int = 0) -> RehearsalCluster:
        self.port = port
        self._thread = threading.Thread(target=self._run, name="rehearsal-kube", daemon=True)
        self._thread.start()
        if not self._started.wait(15):
            raise RuntimeError("the rehearsal cluster did not start")
        return self

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._serve())
        self.loop.close()

    async def _serve(self) -> None:
        if self.store is None:
            self.store = Store()
            self._seed()
        self.store.changed = asyncio.Condition()  # conditions belong to one event loop
        self._stopped = asyncio.Event()
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(str(self.leaf.cert), str(self.leaf.key))
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True, ssl_context=tls)
        await site.start()
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self._controller_task = asyncio.create_task(self._controller())
        self._started.set()
        await self._stopped.wait()
        self._controller_task.cancel()
        for task in list(self._watch_tasks):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._controller_task
        await self._runner.cleanup()

    def stop(self) -> None:
        """Stop serving (watches are cut); the objects are kept for a restart on the same port."""
        if self.loop is None or self._stopped is None:
            return
        self.loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(15)
        self._started.clear()

    def restart(self) -> None:
        self.start(self.port)

    def call(self, func: Callable[[], Any]) -> Any:
        """Run a function on the cluster's loop (tests and the rehearsal use this)."""
        assert self.loop is not None
        future: Any = asyncio.run_coroutine_threadsafe(self._call(func), self.loop)
        return future.result(15)

    async def _call(self, func: Callable[[], Any]) -> Any:
        result = func()
        assert self.store is not None
        await self.store.notify()
        return result

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "rehearsal",
                    "cluster": {
                        "server": self.url,
                        "certificate-authority-data": base64.b64encode(self.ca.pem).decode(),
                    },
                }
            ],
            "users": [
                {"name": "rehearsal-admin", "user": {"token": ADMIN_TOKEN}},
                {"name": "rehearsal-viewer", "user": {"token": VIEWER_TOKEN}},
            ],
            "contexts": [
                {
                    "name": "rehearsal",
                    "context": {
                        "cluster": "rehearsal",
                        "user": "rehearsal-admin",
                        "namespace": namespace,
                    },
                },
                {
                    "name": "rehearsal-viewer",
                    "context": {
                        "cluster": "rehearsal",
                        "user": "rehearsal-viewer",
                        "namespace": namespace,
                    },
                },
            ],
            "current-context": "rehearsal",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)
        return path

    # --- seeding -------------------------------------------------------------------------------

    def _seed(self) -> None:
        assert self.store is not None
        for name in ("default", "kube-system"):
            self.store.put(
                BY_PLURAL[("", "namespaces")],
                {"metadata": {"name": name}, "spec": {}, "status": {"phase": "Active"}},
            )

    def freeze(self) -> None:
        """Stop the controllers after their current pass (the API keeps serving)."""
        self.call(lambda: setattr(self, "frozen", True))

    def thaw(self) -> None:
        self.call(lambda: setattr(self, "frozen", False))

    def add_namespace(self, name: str) -> None:
        kind = BY_PLURAL[("", "namespaces")]

        def add() -> None:
            assert self.store is not None
            if self.store.find(kind, "", name) is None:
                self.store.put(kind, {"metadata": {"name": name}, "status": {"phase": "Active"}})

        self.call(add)

    def create_deployment(
        self,
        name: str,
        image: str,
        *,
        namespace: str = "default",
        replicas: int = 3,
        container: str = "app",
        change_cause: str | None = None,
        progress_deadline: int = 600,
        app_label: str | None = None,
    ) -> None:
        self.add_namespace(namespace)
        annotations = {CHANGE_CAUSE: change_cause} if change_cause else {}
        label = app_label or name
        body: JSON = {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "annotations": annotations,
                "labels": {"app": label},
            },
            "spec": {
                "replicas": replicas,
                "progressDeadlineSeconds": progress_deadline,
                "selector": {"matchLabels": {"app": label}},
                "template": {
                    "metadata": {"labels": {"app": label}},
                    "spec": {"containers": [{"name": container, "image": image}]},
                },
            },
        }
        deployment_defaults(body)
        kind = BY_PLURAL[("apps", "deployments")]
        self.call(lambda: self.store.put(kind, body, create=True))  # type: ignore[union-attr]

    def get_object(self, plural: str, namespace: str, name: str, group: str = "apps") -> JSON:
        kind = BY_PLURAL[(group, plural)]
        store = self.store
        assert store is not None
        return copy.deepcopy(self.call(lambda: store.get(kind, namespace, name)))

    def list_objects(self, plural: str, namespace: str | None, group: str = "apps") -> list[JSON]:
        kind = BY_PLURAL[(group, plural)]
        store = self.store
        assert store is not None
        return copy.deepcopy(self.call(lambda: store.list(kind, namespace)))

    # --- HTTP ----------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path_qs))
        fault = self.faults.api
        methods = self.faults.api_methods
        if methods is not None and request.method not in methods:
            fault = None
        if fault == "stall":
            while self.faults.api == "stall" and not (self._stopped and self._stopped.is_set()):
                await asyncio.sleep(0.1)
            raise web.HTTPServiceUnavailable()  # the stall ended: drop this request
        if fault == "500":
            return web.json_response(
                status_body(500, "InternalError", "rehearsal: the API server is failing"),
                status=500,
            )
        if fault == "garbage":
            return web.Response(body=b"\x00\x9fnot json{", content_type="application/json")
        if fault == "huge":
            padding = "x" * HUGE_BODY
            body = {
                "kind": "List",
                "metadata": {"resourceVersion": "1"},
                "items": [],
                "pad": padding,
            }
            return web.json_response(body)
        try:
            token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if token not in (ADMIN_TOKEN, VIEWER_TOKEN):
                raise ApiError(401, "Unauthorized", "Unauthorized")
            return await self._route(request, token)
        except ApiError as exc:
            return web.json_response(
                status_body(exc.code, exc.reason, exc.message), status=exc.code
            )
        except PatchError as exc:
            return web.json_response(status_body(422, "Invalid", str(exc)), status=422)
        except json.JSONDecodeError as exc:
            return web.json_response(
                status_body(400, "BadRequest", f"body is not JSON: {exc}"), status=400
            )

    async def _route(self, request: web.Request, token: str) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if parts == ["version"]:
            return web.json_response(SERVER_VERSION)
        if parts == ["api"]:
            return web.json_response(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{self.host}:{self.port}"}
                    ],
                }
            )
        if parts == ["apis"]:
            return web.json_response(self._group_list())
        if parts in (["api", "v1"],):
            return web.json_response(self._resource_list("", "v1"))
        if len(parts) == 3 and parts[0] == "apis":
            return web.json_response(self._resource_list(parts[1], parts[2]))
        if len(parts) == 2 and parts[0] == "apis":
            found = self._group(parts[1])
            if found is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            return web.json_response(found)
        if parts and parts[0] in ("openapi", "healthz", "readyz", "livez"):
            if parts[0] != "openapi":
                return web.Response(text="ok")
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        # resource paths
        if parts[:2] == ["api", "v1"]:
            group, rest = "", parts[2:]
        elif parts and parts[0] == "apis" and len(parts) >= 3:
            group, rest = parts[1], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        kind = BY_PLURAL.get((group, rest[0]))
        if kind is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        verb = self._verb(request, name)
        if (verb, kind.plural) in self.denied.get(token, set()):
            raise ApiError(
                403,
                "Forbidden",
                f'{kind.plural}.{kind.group or "core"} "{name or ""}" is forbidden: User '
                f'"rehearsal-viewer" cannot {verb} resource "{kind.plural}" in API group '
                f'"{kind.group}" in the namespace "{namespace}"',
            )
        assert self.store is not None
        store = self.store
        if kind.kind == "SelfSubjectAccessReview":
            return web.json_response(self._access_review(await request.json(), token), status=201)
        ns = namespace if kind.namespaced else ""
        if request.method == "GET":
            if name is None:
                if request.query.get("watch") in ("1", "true"):
                    return await self._watch(request, kind, namespace)
                return self._respond(request, kind, self._list(request, kind, namespace))
            obj = store.get(kind, ns or "default", name)
            if subresource == "scale":
                return web.json_response(self._scale_body(obj))
            return self._respond(request, kind, obj)
        if request.method == "POST":
            body = await request.json()
            body.setdefault("metadata", {})
            if kind.namespaced:
                body["metadata"]["namespace"] = ns or "default"
            if kind.kind == "Deployment":
                deployment_defaults(body)
            created = store.put(kind, body, create=True)
            await store.notify()
            return web.json_response(created, status=201)
        if name is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
        current = store.get(kind, ns or "default", name)
        if request.method == "DELETE":
            deleted = store.delete(kind, ns or "default", name)
            await store.notify()
            return web.json_response(deleted)
        if request.method == "PUT":
            body = await request.json()
            updated = self._apply_update(kind, current, body, subresource)
            await store.notify()
            return web.json_response(updated)
        if request.method == "PATCH":
            content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
            patch = await request.json()
            base = copy.deepcopy(current)
            if content_type == "application/json-patch+json":
                patched = json_patch(base, patch)
            elif content_type == "application/merge-patch+json":
                patched = merge_patch(base, patch)
            elif content_type == "application/strategic-merge-patch+json":
                patched = strategic_merge_patch(base, patch)
            else:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format"
                    f" - accepted media types include: application/json-patch+json, "
                    f"application/merge-patch+json, application/strategic-merge-patch+json "
                    f"(got {content_type})",
                )
            updated = self._apply_update(kind, current, patched, subresource)
            await store.notify()
            return web.json_response(updated)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")

    def _apply_update(self, kind: Kind, current: JSON, body: JSON, subresource: str | None) -> JSON:
        assert self.store is not None
        wanted_rv = (body.get("metadata") or {}).get("resourceVersion")
        if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f"Operation cannot be fulfilled on {kind.plural}.{kind.group or 'core'} "
                f'"{current["metadata"]["name"]}": the object has been modified; please apply '
                "your changes to the latest version and try again",
            )
        body.setdefault("metadata", {})
        body["metadata"]["name"] = current["metadata"]["name"]
        if kind.namespaced:
            body["metadata"]["namespace"] = current["metadata"]["namespace"]
        if subresource == "status":
            merged = copy.deepcopy(current)
            merged["status"] = body.get("status", {})
            body = merged
        elif subresource == "scale":
            merged = copy.deepcopy(current)
            merged["spec"]["replicas"] = int(body.get("spec", {}).get("replicas", 0))
            body = merged
        elif "status" in current:
            body["status"] = copy.deepcopy(current["status"])  # status only via /status
        if kind.kind == "Deployment":
            deployment_defaults(body)
        return self.store.put(kind, body)

    def _verb(self, request: web.Request, name: str | None) -> str:
        method = request.method
        if method == "GET":
            if name is None:
                return "watch" if request.query.get("watch") in ("1", "true") else "list"
            return "get"
        return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
            method, method.lower()
        )

    def _access_review(self, body: JSON, token: str) -> JSON:
        attributes = (body.get("spec") or {}).get("resourceAttributes") or {}
        verb = attributes.get("verb", "")
        resource = attributes.get("resource", "")
        allowed = (verb, resource) not in self.denied.get(token, set())
        review = copy.deepcopy(body)
        review.update({"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1"})
        review.setdefault("metadata", {})
        review["status"] = {"allowed": allowed}
        if not allowed:
            review["status"]["reason"] = f"rehearsal RBAC: this user may not {verb} {resource}"
        return review

    def _scale_body(self, obj: JSON) -> JSON:
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {k: obj["metadata"][k] for k in ("name", "namespace", "resourceVersion")},
            "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
            "status": {"replicas": obj.get("status", {}).get("replicas", 0)},
        }

    # --- list, watch, tables --------------------------------------------------------------------

    def _matches(self, request: web.Request, obj: JSON) -> bool:
        fields = request.query.get("fieldSelector", "")
        for term in filter(None, fields.split(",")):
            key, _, value = term.partition("=")
            value = value.lstrip("=")
            if key == "metadata.name" and obj["metadata"].get("name") != value:
                return False
            if key == "metadata.namespace" and obj["metadata"].get("namespace") != value:
                return False
            if key.startswith("involvedObject."):
                involved = obj.get("involvedObject", {})
                if str(involved.get(key.split(".", 1)[1])) != value:
                    return False
        labels = obj["metadata"].get("labels") or {}
        for term in filter(None, request.query.get("labelSelector", "").split(",")):
            if "!=" in term:
                key, value = term.split("!=", 1)
                if labels.get(key) == value:
                    return False
            elif "=" in term:
                key, value = term.replace("==", "=").split("=", 1)
                if labels.get(key) != value:
                    return False
            elif term.startswith("!"):
                if term[1:] in labels:
                    return False
            elif term not in labels:
                return False
        return True

    def _list(self, request: web.Request, kind: Kind, namespace: str | None) -> JSON:
        assert self.store is not None
        items = [o for o in self.store.list(kind, namespace) if self._matches(request, o)]
        return {
            "kind": f"{kind.kind}List",
            "apiVersion": kind.api_version,
            "metadata": {"resourceVersion": str(self.store.rv)},
            "items": copy.deepcopy(items),
        }

    def _respond(self, request: web.Request, kind: Kind, body: JSON) -> web.Response:
        if "as=Table" in request.headers.get("Accept", ""):
            return web.json_response(self._table(kind, body))
        return web.json_response(body)

    def _table(self, kind: Kind, body: JSON) -> JSON:
        items = body.get("items", [body])
        columns, row = _TABLES.get(kind.plural, _TABLES["*"])
        return {
            "kind": "Table",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": body.get("metadata", {}).get("resourceVersion", "")},
            "columnDefinitions": [
                {
                    "name": c,
                    "type": "string",
                    "format": "name" if c == "Name" else "",
                    "description": c,
                    "priority": 0,
                }
                for c in columns
            ],
            "rows": [
                {
                    "cells": row(item),
                    "object": {
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": item["metadata"],
                    },
                }
                for item in items
            ],
        }

    async def _watch(
        self, request: web.Request, kind: Kind, namespace: str | None
    ) -> web.StreamResponse:
        assert self.store is not None
        store = self.store
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        task = asyncio.current_task()
        if task is not None:
            self._watch_tasks.add(task)
        timeout = float(request.query.get("timeoutSeconds", "1800"))
        deadline = time.monotonic() + timeout
        since_raw = request.query.get("resourceVersion", "")
        initial = request.query.get("sendInitialEvents") == "true"
        bookmarks = request.query.get("allowWatchBookmarks") == "true"

        async def send(event_type: str, obj: JSON) -> None:
            line = json.dumps({"type": event_type, "object": obj}) + "\n"
            await response.write(line.encode())

        try:
            if since_raw in ("", "0") or initial:
                since = store.rv
                for obj in store.list(kind, namespace):
                    if self._matches(request, obj):
                        await send("ADDED", copy.deepcopy(obj))
                if initial and bookmarks:
                    await send(
                        "BOOKMARK",
                        {
                            "kind": kind.kind,
                            "apiVersion": kind.api_version,
                            "metadata": {
                                "resourceVersion": str(store.rv),
                                "annotations": {"k8s.io/initial-events-end": "true"},
                            },
                        },
                    )
            else:
                since = int(since_raw)
                oldest = store.log[0].rv if store.log else store.rv
                if since < oldest - 1 and store.log and len(store.log) == store.log.maxlen:
                    await send(
                        "ERROR",
                        status_body(
                            410, "Expired", f"too old resource version: {since} ({oldest - 1})"
                        ),
                    )
                    return response
            while time.monotonic() < deadline:
                for event in list(store.log):
                    if event.rv <= since:
                        continue
                    since = event.rv
                    if event.kind is not kind:
                        continue
                    if (
                        namespace is not None
                        and event.obj["metadata"].get("namespace") != namespace
                    ):
                        continue
                    if self._matches(request, event.obj):
                        await send(event.type, event.obj)
                async with store.changed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            store.changed.wait(), max(0.05, min(5.0, deadline - time.monotonic()))
                        )
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            if task is not None:
                self._watch_tasks.discard(task)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response

    def _group_list(self) -> JSON:
        groups = sorted({k.group for k in KINDS if k.group})
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [self._group(g) for g in groups],
        }

    def _group(self, group: str) -> JSON | None:
        versions = sorted({k.version for k in KINDS if k.group == group})
        if not versions:
            return None
        entry = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": entry,
            "preferredVersion": entry[0],
        }

    def _resource_list(self, group: str, version: str) -> JSON:
        kinds = [k for k in KINDS if k.group == group and k.version == version]
        if not kinds:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        resources: list[JSON] = []
        for k in kinds:
            resources.append(
                {
                    "name": k.plural,
                    "singularName": k.kind.lower(),
                    "namespaced": k.namespaced,
                    "kind": k.kind,
                    "verbs": list(k.verbs),
                    **({"shortNames": list(k.short)} if k.short else {}),
                }
            )
            if k.kind in ("Deployment", "ReplicaSet"):
                resources.append(
                    {
                        "name": f"{k.plural}/status",
                        "singularName": "",
                        "namespaced": True,
                        "kind": k.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
                resources.append(
                    {
                        "name": f"{k.plural}/scale",
                        "singularName": "",
                        "namespaced": True,
                        "group": "autoscaling",
                        "version": "v1",
                        "kind": "Scale",
                        "verbs": ["get", "patch", "update"],
                    }
                )
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources,
        }

    # --- controllers -----------------------------------------------------------------------------

    async def _controller(self) -> None:
        while True:
            try:
                if self._reconcile():
                    assert self.store is not None
                    await self.store.notify()
            except Exception as exc:  # noqa: BLE001 - keep the rehearsal alive, say what broke
                print(f"rehearsal controller error: {type(exc).__name__}: {exc}", flush=True)
            await asyncio.sleep(self.timing.tick)

    def _reconcile(self) -> bool:
        if self.frozen:
            return False
        assert self.store is not None
        store = self.store
        before = store.rv
        deployments = BY_PLURAL[("apps", "deployments")]
        for deployment in store.list(deployments, None):
            self._reconcile_deployment(copy.deepcopy(deployment))
        self._reconcile_pods()
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
        if marker != last_marker:
            self._progress[progress_key] = (marker, time.monotonic())
            last_time = time.monotonic()
        complete = updated == desired and updated_available == desired and total == desired
        rs_name = current["metadata"]["name"] if current else name
        deadline = float(spec.get("progressDeadlineSeconds", 600))
        if paused:
            result.append(
                condition(
                    "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", False
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
            "spec": {"replicas": 0, "selector": selector, "template": template},
            "status": {"replicas": 0},
        }
        rs = self.store.put(BY_PLURAL[("apps", "replicasets")], body, create=True)
        self._event(dep, "ScalingReplicaSet", f"Created new replica set {rs['metadata']['name']}")
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
        self._event(
            dep,
            "ScalingReplicaSet",
            f"Scaled {direction} replica set {fresh['metadata']['name']} from {old} to {replicas}",
        )

    def _event(
        self,
        involved: JSON,
        reason: str,
        message: str,
        kind_name: str = "Deployment",
        event_type: str = "Normal",
    ) -> None:
        assert self.store is not None
        meta = involved["metadata"]
        stamp = now_iso()
        self.store.put(
            BY_PLURAL[("", "events")],
            {
                "metadata": {
                    "name": f"{meta['name']}.{uuid.uuid4().hex[:12]}",
                    "namespace": meta["namespace"],
                },
                "involvedObject": {
                    "kind": kind_name,
                    "name": meta["name"],
                    "namespace": meta["namespace"],
                    "uid": meta["uid"],
                    "apiVersion": "apps/v1" if kind_name != "Pod" else "v1",
                },
                "reason": reason,
                "message": message,
                "type": event_type,
                "count": 1,
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "source": {"component": "deployment-controller"},
                "reportingComponent": "deployment-controller",
            },
        )

    # --- pods ------------------------------------------------------------------------------------

    def _reconcile_pods(self) -> None:
        assert self.store is not None
        store = self.store
        rs_kind = BY_PLURAL[("apps", "replicasets")]
        pod_kind = BY_PLURAL[("", "pods")]
        now = time.monotonic()
        for rs in store.list(rs_kind, None):
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
                pods.sort(key=lambda p: (self._pod_ready(p), p["metadata"]["creationTimestamp"]))
                for pod in pods[: len(pods) - wanted]:
                    store.delete(pod_kind, namespace, pod["metadata"]["name"])
                pods = pods[len(pods) - wanted :]
            ready = 0
            for pod in pods:
                ready += self._pod_ready(self._advance_pod(pod, now))
            status = {
                "replicas": len(pods),
                "fullyLabeledReplicas": len(pods),
                "readyReplicas": ready,
                "availableReplicas": ready,
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
        spec["nodeName"] = "rehearsal-node-1"
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
            "status": {
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
            },
        }
        return self.store.put(BY_PLURAL[("", "pods")], body, create=True)

    def _pod_ready(self, pod: JSON) -> bool:
        return any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in pod.get("status", {}).get("conditions") or []
        )

    def _advance_pod(self, pod: JSON, now: float) -> JSON:
        """Move a pod along: ready after a delay, or crash-looping, or unable to pull."""
        assert self.store is not None
        started = float(pod["metadata"].get("annotations", {}).get("rehearsal/started", now))
        age = now - started
        images = [c.get("image", "") for c in pod["spec"].get("containers") or []]
        status = copy.deepcopy(pod["status"])
        statuses = status.get("containerStatuses") or []
        timing = self.timing
        if any(image in self.faults.pull for image in images):
            if age < timing.ready_after:
                return pod
            reason = "ErrImagePull" if age < timing.ready_after * 2 else "ImagePullBackOff"
            for cs in statuses:
                cs["state"] = {
                    "waiting": {
                        "reason": reason,
                        "message": f'Back-off pulling image "{cs["image"]}"',
                    }
                }
            status["phase"] = "Pending"
        elif any(image in self.faults.crash for image in images):
            if age < timing.ready_after:
                return pod
            restarts = int((age - timing.ready_after) / timing.restart_every) + 1
            for cs in statuses:
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
            status["phase"] = "Running"
            status["conditions"] = [{"type": "Ready", "status": "False"}]
        else:
            if age < timing.ready_after or self._pod_ready(pod):
                return pod
            for cs in statuses:
                cs["ready"] = True
                cs["started"] = True
                cs["state"] = {"running": {"startedAt": now_iso()}}
            status["phase"] = "Running"
            status["conditions"] = [{"type": "Ready", "status": "True"}]
            status["podIP"] = "10.0.0.1"
        if status == pod["status"]:
            return pod
        fresh = copy.deepcopy(pod)
        fresh["status"] = status
        return self.store.put(BY_PLURAL[("", "pods")], fresh)


def _age(obj: JSON) -> str:
    from cockpit.rollout import format_age, parse_time

    return format_age(parse_time(obj["metadata"].get("creationTimestamp")))


def _deploy_row(o: JSON) -> list[Any]:
    s = o.get("status", {})
    replicas = o.get("spec", {}).get("replicas", 1)
    return [
        o["metadata"]["name"],
        f"{s.get('readyReplicas', 0)}/{replicas}",
        s.get("updatedReplicas", 0),
        s.get("availableReplicas", 0),
        _age(o),
    ]


def _rs_row(o: JSON) -> list[Any]:
    s = o.get("status", {})
    return [
        o["metadata"]["name"],
        o.get("spec", {}).get("replicas", 0),
        s.get("replicas", 0),
        s.get("readyReplicas", 0),
        _age(o),
    ]


def _pod_row(o: JSON) -> list[Any]:
    s = o.get("status", {})
    statuses = s.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    shown = s.get("phase", "Pending")
    for c in statuses:
        waiting = (c.get("state") or {}).get("waiting")
        if waiting:
            shown = waiting.get("reason", shown)
    return [o["metadata"]["name"], f"{ready}/{len(statuses)}", shown, restarts, _age(o)]


_TABLES: dict[str, tuple[list[str], Callable[[JSON], list[Any]]]] = {
    "deployments": (["Name", "Ready", "Up-to-date", "Available", "Age"], _deploy_row),
    "replicasets": (["Name", "Desired", "Current", "Ready", "Age"], _rs_row),
    "pods": (["Name", "Ready", "Status", "Restarts", "Age"], _pod_row),
    "*": (["Name", "Age"], lambda o: [o["metadata"]["name"], _age(o)]),
}
