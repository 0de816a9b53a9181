"""The rehearsal Kubernetes cluster: an API server, its controllers and a kubelet, on loopback.

No real API server can run here, so this stand-in speaks the real REST protocol (api.py), stores
objects with resourceVersions and a change log (store.py), runs the deployment, ReplicaSet and
garbage-collection controllers (controllers.py) and a kubelet whose pods become ready,
crash-loop or fail to pull an image on request (kubelet.py). Real kubectl works against it; the
tests prove it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from cockpit.rehearsal.admission import admit, allocate_cluster_ip, deployment_defaults
from cockpit.rehearsal.api import HUGE_BODY, ApiServer
from cockpit.rehearsal.controllers import Controllers
from cockpit.rehearsal.kubelet import NODE, NODE_LABELS, Kubelet
from cockpit.rehearsal.pki import CertificateAuthority
from cockpit.rehearsal.store import (
    ADMIN_TOKEN,
    BY_PLURAL,
    JSON,
    SERVER_VERSION,
    VIEWER_TOKEN,
    Store,
    now_iso,
)
from cockpit.rollout import CHANGE_CAUSE

__all__ = [
    "ADMIN_TOKEN",
    "BY_PLURAL",
    "HUGE_BODY",
    "VIEWER_TOKEN",
    "Faults",
    "RehearsalCluster",
    "Timing",
]


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


@dataclass
class Timing:
    """Seconds a pod takes to become ready, between crash-loop restarts, between controller
    passes, and how long an Event is kept (the API server's --event-ttl, one hour)."""

    ready_after: float = 1.0
    restart_every: float = 1.0
    tick: float = 0.1
    event_ttl: float = 3600.0


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
        self.watch_tasks: set[asyncio.Task[Any]] = set()
        self.background: set[asyncio.Task[Any]] = set()
        self.api = ApiServer(self)
        self.controllers = Controllers(self)
        self.kubelet = Kubelet(self)
        self.requests: list[tuple[str, str]] = []
        # who asked: the User-Agent and Impersonate-* headers of each request, in order
        self.request_headers: list[dict[str, list[str]]] = []
        self.tokens: dict[str, str] = {}  # further bearer tokens -> user names (tests add them)
        self.frozen = False  # tests freeze the controllers to compare a still picture
        # what each user may not do; a viewer, as with RBAC's `view` role, may not get into
        # pods either (exec, attach, port-forward)
        self.denied: dict[str, set[tuple[str, str]]] = {
            VIEWER_TOKEN: {
                ("patch", "deployments"),
                *(("create", f"pods/{sub}") for sub in ("exec", "attach", "portforward")),
            }
        }

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
        try:
            self.loop.run_until_complete(self._serve())
        finally:
            # as asyncio.run does: what still runs (a watch handler the server's shutdown did
            # not wait for) is cancelled and wound down on this loop, not later by the garbage
            # collector once the loop is closed; 5 s at most
            left = asyncio.all_tasks(self.loop)
            for task in left:
                task.cancel()
            if left:
                self.loop.run_until_complete(asyncio.wait(left, timeout=5))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    async def _serve(self) -> None:
        if self.store is None:
            self.store = Store()
            self._seed()
        self.store.changed = asyncio.Condition()  # conditions belong to one event loop
        self._stopped = asyncio.Event()
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.api.handle)
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
        self._controller_task = asyncio.create_task(self.controllers.run())
        self._started.set()
        await self._stopped.wait()
        self._controller_task.cancel()
        loop = asyncio.get_running_loop()
        for task in list(self.watch_tasks):
            if task.get_loop() is loop:
                task.cancel()
        self.kubelet.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await self._controller_task
        await self._runner.cleanup()
        # a watch still winding down when the loop closes ends with it: none is left over for
        # the next start's loop to cancel (a task of a closed loop cannot be)
        self.watch_tasks.clear()

    @property
    def stopped_event(self) -> asyncio.Event | None:
        return self._stopped

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
        """What a fresh cluster has: its namespaces, one node and the `kubernetes` Service."""
        assert self.store is not None
        namespaces = BY_PLURAL[("", "namespaces")]
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.store.put(namespaces, admit(namespaces, {"metadata": {"name": name}}, None))
        stamp = now_iso()
        self.store.put(
            BY_PLURAL[("", "nodes")],
            {
                "metadata": {"name": NODE, "labels": dict(NODE_LABELS)},
                "spec": {"podCIDR": "10.244.0.0/24"},
                "status": {
                    "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                    "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                    "conditions": [
                        {
                            "type": "Ready",
                            "status": "True",
                            "reason": "KubeletReady",
                            "message": "kubelet is posting ready status",
                            "lastHeartbeatTime": stamp,
                            "lastTransitionTime": stamp,
                        }
                    ],
                    "addresses": [
                        {"type": "InternalIP", "address": "10.0.0.1"},
                        {"type": "Hostname", "address": NODE},
                    ],
                    "nodeInfo": {
                        "kubeletVersion": SERVER_VERSION["gitVersion"],
                        "osImage": "rehearsal",
                        "kernelVersion": "rehearsal",
                        "containerRuntimeVersion": "rehearsal://1.0",
                        "operatingSystem": "linux",
                        "architecture": "amd64",
                    },
                },
            },
        )
        services = BY_PLURAL[("", "services")]
        service = {
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "clusterIP": "10.96.0.1",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
            },
        }
        admit(services, service, None)
        allocate_cluster_ip(service, set())
        self.store.put(services, service)

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
                self.store.put(kind, admit(kind, {"metadata": {"name": name}}, None))

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
