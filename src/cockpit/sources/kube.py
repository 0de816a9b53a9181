"""Kubernetes: watch the environment's Deployments, and act on them (rollback, pause, resume).

One API client per cluster (kubeconfig + context, or the pod's service account). Each kind of
object (Deployments, ReplicaSets, Pods, Events) is listed once and then watched from the
list's resourceVersion; a 410 Gone lists again; a lost connection is retried with capped
exponential backoff and jitter. In steady state there are only watches, no polling. Objects
stay raw JSON (`_preload_content=False`): the pure functions in `cockpit.rollout` read them, and
nothing depends on the client's model classes accepting every server's answer.

The blocking client runs in threads; snapshots go out through a callback, which must be
thread-safe (the TUI posts a message; the headless commands collect them).
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from types import MappingProxyType
from typing import Any

from cockpit.config import ClusterConfig, LoadedConfig
from cockpit.errors import CockpitError
from cockpit.rollout import (
    JSON,
    HistoryRow,
    PodTrouble,
    RolloutVerdict,
    UndoPlan,
    UndoRefused,
    argo_refusal,
    argo_step,
    current_revision,
    history,
    images_of,
    owned_replicasets,
    parse_time,
    plan_undo,
    revision_number,
    revision_of,
    revision_pods,
    revision_template,
    trouble_of_pods,
    workload_status,
)
from cockpit.sources.kube_auth import ClusterClient, CredentialError, shared_client
from cockpit.sources.kube_mirror import REVISION_KINDS, Mirror, about, controller_uid, owner_uids

WATCH_SECONDS = 240
READ_TIMEOUT = 60.0  # seconds of silence after which a request or a watch is given up
BACKOFF_START = 0.5
BACKOFF_CAP = 30.0
WATCH_HELD = 10.0  # seconds a watch must last before its failure resets the backoff
EVENTS_KEPT = 200


class _Relist(Exception):
    """The watch's resourceVersion expired (410 Gone): list again."""


def watch_lines(response: Any) -> Iterator[bytes]:
    """The newline-separated JSON events of a streamed watch response."""
    pending = b""
    for chunk in response.stream(None, decode_content=True):  # each chunk as it comes
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            if line.strip():
                yield line
    if pending.strip():
        yield pending


class KubeError(CockpitError):
    """The Kubernetes API refused or could not be reached; the message says which."""


class RollbackConflict(KubeError):
    """The Deployment changed between the preview and the confirmation (HTTP 409)."""


def api_client(cluster: ClusterConfig, loaded: LoadedConfig) -> Any:
    """The ApiClient of one configured cluster, shared in the process (its credential plugin
    run when there is no valid credential yet)."""
    try:
        return shared_client(cluster, loaded).get()
    except CredentialError as exc:
        raise KubeError(exc.message, exc.hint) from exc


def raw_json(response: Any) -> JSON:
    """The JSON of an answer read with `_preload_content=False` (the client's own models
    would drop fields they do not know)."""
    data = response.data if hasattr(response, "data") else response
    result: JSON = json.loads(data)
    return result


def describe_api_error(exc: BaseException) -> str:
    """A one-line reason for an API failure, without the client's multi-line dumps."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(exc, CockpitError):
        return exc.message
    if isinstance(exc, ApiException):
        message = exc.reason or ""
        with contextlib.suppress(ValueError, TypeError):
            body = json.loads(exc.body or "{}")
            message = body.get("message") or message
        return f"HTTP {exc.status}: {message}"
    text = str(exc)
    if "Connection refused" in text or "NewConnectionError" in text:
        return "connection refused"
    if "timed out" in text.lower():
        return "timed out"
    return f"{type(exc).__name__}: {text[:200]}"


# --- what the pane shows ------------------------------------------------------------------


# Where each kind's counts live: (object part, key) for desired, updated, ready, available.
_COUNTS: dict[str, tuple[tuple[str, str], ...]] = {
    "deployment": (
        ("spec", "replicas"),
        ("status", "updatedReplicas"),
        ("status", "readyReplicas"),
        ("status", "availableReplicas"),
    ),
    "daemonset": (
        ("status", "desiredNumberScheduled"),
        ("status", "updatedNumberScheduled"),
        ("status", "numberReady"),
        ("status", "numberAvailable"),
    ),
}
# The API's plural of each kind, and of the objects that hold its revisions.
PLURALS = {
    "deployment": "deployments",
    "statefulset": "statefulsets",
    "daemonset": "daemonsets",
    "rollout": "rollouts",
}
REVISION_PLURALS = {
    "deployment": "replicasets",
    "statefulset": "controllerrevisions",
    "daemonset": "controllerrevisions",
    "rollout": "replicasets",
}
ARGO_GROUP, ARGO_VERSION = "argoproj.io", "v1alpha1"


@dataclass(frozen=True)
class WorkloadView:
    """One workload (Deployment, StatefulSet, DaemonSet, Argo Rollout) of one cluster, with
    kubectl's verdict for its kind and the cockpit's checks of its new revision's pods.

    `deployment` and `replicasets` keep their names from when only Deployments were watched:
    they hold the workload object and its revisions (ReplicaSets or ControllerRevisions).
    """

    cluster: str
    namespace: str
    name: str
    deployment: JSON | None
    replicasets: tuple[JSON, ...] = ()
    pods: tuple[JSON, ...] = ()
    events: tuple[JSON, ...] = ()
    unknown: str | None = None  # why the workload cannot be seen (403, plugin failing...)
    kind: str = "deployment"

    @property
    def workload(self) -> JSON | None:
        return self.deployment

    @property
    def revisions(self) -> tuple[JSON, ...]:
        return self.replicasets

    @property
    def found(self) -> bool:
        return self.deployment is not None

    @property
    def read_only(self) -> bool:
        """The cockpit never changes this kind (an Argo Rollout has its own controller)."""
        return self.kind == "rollout"

    @property
    def label(self) -> str:
        """The name, with the kind when it is not a Deployment (as kubectl would write it)."""
        return self.name if self.kind == "deployment" else f"{SHORT_KIND[self.kind]}/{self.name}"

    @cached_property
    def verdict(self) -> RolloutVerdict:
        if self.deployment is None and self.unknown:
            return RolloutVerdict("waiting", f"cannot see: {self.unknown}")
        if self.deployment is None:
            return RolloutVerdict("waiting", f'{self.kind} "{self.name}" not found')
        return workload_status(self.kind, self.deployment)

    @cached_property
    def new_replicaset(self) -> JSON | None:
        """The revision running the current template (a ReplicaSet or ControllerRevision)."""
        if self.deployment is None:
            return None
        return current_revision(self.kind, self.deployment, list(self.replicasets))

    @property
    def new_revision(self) -> JSON | None:
        return self.new_replicaset

    @cached_property
    def trouble(self) -> list[PodTrouble]:
        return trouble_of_pods(self.pods_of_new())

    @property
    def failing(self) -> bool:
        """kubectl's failed verdict, or pod trouble past its grace (an unschedulable pod may
        be waiting for the autoscaler)."""
        return self.verdict.state == "failed" or any(t.failing() for t in self.trouble)

    @cached_property
    def history(self) -> list[HistoryRow]:
        if self.deployment is None:
            return []
        return history(self.deployment, list(self.replicasets), kind=self.kind, pods=self.pods)

    @property
    def revision(self) -> int:
        if self.deployment is None:
            return 0
        if self.kind == "deployment":
            return revision_of(self.deployment)
        current = self.new_replicaset
        return revision_number(self.kind, current) if current is not None else 0

    @property
    def paused(self) -> bool:
        return bool(self.deployment and self.deployment.get("spec", {}).get("paused"))

    @property
    def images(self) -> list[str]:
        if self.deployment is None:
            return []
        return images_of(self.deployment.get("spec", {}).get("template", {}))

    @cached_property
    def old_images(self) -> list[str]:
        """Images of older revisions that still run pods (mid-rollout)."""
        current = self.new_replicaset
        found: list[str] = []
        if self.deployment is None:
            return found
        for rs in owned_replicasets(self.deployment, list(self.replicasets)):
            if rs is current:
                continue
            if self.kind in ("statefulset", "daemonset"):
                running = bool(revision_pods(self.kind, self.deployment, rs, list(self.pods)))
            else:
                running = bool(rs.get("status", {}).get("replicas"))
            if not running:
                continue
            for image in images_of(revision_template(self.kind, rs)):
                if image not in found:
                    found.append(image)
        return found

    @property
    def counts(self) -> tuple[int, int, int, int]:
        """desired, updated, ready, available."""
        if self.deployment is None:
            return (0, 0, 0, 0)
        fields = _COUNTS.get(self.kind, _COUNTS["deployment"])
        values = []
        for part, key in fields:
            default = 1 if (part, key) == ("spec", "replicas") else 0
            values.append(int(self.deployment.get(part, {}).get(key, default) or 0))
        return (values[0], values[1], values[2], values[3])

    @property
    def last_change(self) -> datetime | None:
        """When the workload last progressed: a Deployment's Progressing condition's update
        time; otherwise its current revision's creation (the others keep no such condition)."""
        if self.deployment is None:
            return None
        for condition in self.deployment.get("status", {}).get("conditions") or []:
            if condition.get("type") == "Progressing":
                return parse_time(condition.get("lastUpdateTime"))
        current = self.new_replicaset
        if self.kind != "deployment" and current is not None:
            return parse_time(current.get("metadata", {}).get("creationTimestamp"))
        return parse_time(self.deployment.get("metadata", {}).get("creationTimestamp"))

    @property
    def step(self) -> tuple[int, int] | None:
        """An Argo Rollout's canary step (index, count)."""
        if self.kind != "rollout" or self.deployment is None:
            return None
        return argo_step(self.deployment)

    def released_since(self, started: datetime | None) -> bool:
        """A new revision began rolling out after `started` (not just pods settling)."""
        current = self.new_replicaset
        if started is None or current is None or len(self.replicasets) < 2:
            return False
        created = parse_time(current.get("metadata", {}).get("creationTimestamp"))
        if created is not None and created >= started.replace(microsecond=0):
            return True
        # a rollback adopts an old ReplicaSet: its revision history says it came back
        annotations = current.get("metadata", {}).get("annotations") or {}
        return bool(annotations.get("deployment.kubernetes.io/revision-history")) and bool(
            self.last_change and self.last_change >= started.replace(microsecond=0)
        )

    def stuck_after_rollback(self) -> list[str]:
        """Pods a rollback will not replace by itself: a StatefulSet with OrderedReady pod
        management waits for its not-Ready pods of the new revision to become Ready before it
        replaces them, which a broken release never does; Kubernetes' documentation ("forced
        rollback") says to delete them by hand once the template is reverted."""
        if self.kind != "statefulset" or self.deployment is None:
            return []
        if self.deployment.get("spec", {}).get("podManagementPolicy") == "Parallel":
            return []
        return sorted(
            str(p.get("metadata", {}).get("name"))
            for p in self.pods_of_new()
            if not any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in p.get("status", {}).get("conditions") or []
            )
        )

    def pod_revision(self, pod: JSON) -> int | None:
        """The revision number a pod of this workload runs (None when it cannot be told)."""
        if self.deployment is None:
            return None
        for rs in self.replicasets:
            if pod in revision_pods(self.kind, self.deployment, rs, [pod]):
                return revision_number(self.kind, rs)
        return None

    def pods_of_new(self) -> list[JSON]:
        if self.deployment is None:
            return []
        return revision_pods(self.kind, self.deployment, self.new_replicaset, list(self.pods))


DeploymentView = WorkloadView  # the name from when only Deployments were watched
SHORT_KIND = {"deployment": "deploy", "statefulset": "sts", "daemonset": "ds", "rollout": "rollout"}
KIND_TITLE = {
    "deployment": "Deployment",
    "statefulset": "StatefulSet",
    "daemonset": "DaemonSet",
    "rollout": "Argo Rollout",
}


@dataclass(frozen=True)
class ClusterSnapshot:
    """Everything known about one cluster right now, and how fresh it is."""

    cluster: str
    namespace: str
    deployments: tuple[WorkloadView, ...]  # every watched workload, whatever its kind
    connected: bool
    synced: bool
    last_ok: datetime | None = None
    last_error: str | None = None
    requests: dict[str, int] = field(default_factory=dict)
    # every kind the watched workloads need has answered, the optional ones too (Argo
    # Rollouts: synced does not wait for them): a one-shot `status` printed a Rollout
    # "unknown" when the snapshot it took came before their first list
    listed: bool = True

    def stale_for(self, now: datetime | None = None) -> float | None:
        if self.connected:
            return None
        if self.last_ok is None:
            return None
        return max(0.0, ((now or datetime.now(UTC)) - self.last_ok).total_seconds())


# --- the watcher ---------------------------------------------------------------------------------


def watched_kinds(cluster: ClusterConfig) -> tuple[str, ...]:
    """The kinds to list and watch for this cluster's workloads: a config of Deployments
    watches Deployments, ReplicaSets, Pods and Events, as before; StatefulSets and DaemonSets
    add their kinds and ControllerRevisions, Argo Rollouts theirs."""
    kinds = {ref.kind for ref in cluster.targets} or {"deployment"}
    found: list[str] = []
    for kind in ("deployment", "statefulset", "daemonset", "rollout"):
        if kind in kinds:
            found += [PLURALS[kind], REVISION_PLURALS[kind]]
    found += ["pods", "events"]
    return tuple(dict.fromkeys(found))


def _required(kinds: tuple[str, ...]) -> frozenset[str]:
    """Kinds without which a rollout cannot be judged. Events only add detail, and Argo
    Rollouts are optional: a cluster without their CRD shows those rows unknown, not STALE."""
    return frozenset(kinds) - {"events", "rollouts"}


class ClusterWatcher:
    """List-then-watch of the workloads, their revisions, Pods and Events of one namespace."""

    def __init__(
        self,
        cluster: ClusterConfig,
        loaded: LoadedConfig,
        on_snapshot: Callable[[ClusterSnapshot], object],
        *,
        watch_seconds: int = WATCH_SECONDS,
        read_timeout: float = READ_TIMEOUT,
        backoff_cap: float = BACKOFF_CAP,
    ) -> None:
        self.cluster = cluster
        self.loaded = loaded
        self.on_snapshot = on_snapshot
        self.watch_seconds = watch_seconds
        self.read_timeout = read_timeout
        self.backoff_cap = backoff_cap
        self._lock = threading.Lock()
        self.KINDS = watched_kinds(cluster)
        self.required = _required(self.KINDS)
        self._mirror = Mirror(self.KINDS)
        self._synced: set[str] = set()
        self._failing: dict[str, str] = {}
        self._last_ok: datetime | None = None
        self._stop = threading.Event()
        self._retry = threading.Event()
        self._dirty = threading.Event()
        # the last view of each workload: kept while its objects are the same ones
        self._views: dict[tuple[str, str], WorkloadView] = {}
        self._targets = cluster.targets  # parsed once: the config does not change
        # which views an object is in: by the UIDs of the workload and its revisions, by the
        # names of the workload, its revisions and pods (what events are about), by the
        # workload's kind and name; kept as views are built, read to find what a change touched
        self._by_uid: dict[object, set[tuple[str, str]]] = {}
        self._by_name: dict[object, set[tuple[str, str]]] = {}
        self._target_of: dict[tuple[str, object], tuple[str, str]] = {
            (PLURALS[ref.kind], ref.name): (ref.kind, ref.name) for ref in self._targets
        }
        self._seen_state: tuple[frozenset[tuple[str, str]], frozenset[str]] | None = None
        self._threads: list[threading.Thread] = []
        self._watches: list[Any] = []
        self.requests: dict[str, int] = {"list": 0, "watch": 0}
        self._shared: ClusterClient | None = None

    @property
    def _objects(self) -> Mapping[str, Mapping[str, JSON]]:
        """The mirror's objects by kind and name, for tests to read, read-only at both levels
        (the objects themselves are never changed in place): a change goes through `_apply`
        or the mirror, which keep the indexes and the record of what changed."""
        return MappingProxyType(
            {kind: MappingProxyType(items) for kind, items in self._mirror.objects.items()}
        )

    @property
    def client(self) -> ClusterClient:
        if self._shared is None:
            self._shared = shared_client(self.cluster, self.loaded)
        return self._shared

    def start(self) -> None:
        for kind in self.KINDS:
            thread = threading.Thread(
                target=self._run, args=(kind,), name=f"kube-{self.cluster.name}-{kind}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        publisher = threading.Thread(
            target=self._publish_loop, name=f"kube-{self.cluster.name}-publish", daemon=True
        )
        publisher.start()
        self._threads.append(publisher)

    def stop(self) -> None:
        self._stop.set()
        self._retry.set()
        self._dirty.set()
        for response in list(self._watches):
            with contextlib.suppress(Exception):
                response.shutdown()  # interrupts the read blocked in the watch thread

    def join(self, timeout: float) -> bool:
        """Wait (at most timeout seconds) for the threads to end after stop(); True if they
        did. A thread blocked in a request to a server that does not answer may not."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    # --- threads ----------------------------------------------------------------------------------

    def _api(self, kind: str) -> tuple[Any, Callable[..., Any]]:
        from kubernetes import client

        api = self.client.get()
        apps = client.AppsV1Api(api)
        core = client.CoreV1Api(api)
        if kind == "rollouts":
            custom = client.CustomObjectsApi(api)

            def rollouts(namespace: str, **kwargs: Any) -> Any:
                return custom.list_namespaced_custom_object(
                    ARGO_GROUP, ARGO_VERSION, namespace, "rollouts", **kwargs
                )

            return api, rollouts
        return api, {
            "deployments": apps.list_namespaced_deployment,
            "replicasets": apps.list_namespaced_replica_set,
            "statefulsets": apps.list_namespaced_stateful_set,
            "daemonsets": apps.list_namespaced_daemon_set,
            "controllerrevisions": apps.list_namespaced_controller_revision,
            "pods": core.list_namespaced_pod,
            "events": core.list_namespaced_event,
        }[kind]

    def retry_now(self) -> None:
        """The operator says the cause is fixed (logged in): try again now, not after backoff."""
        self.client.retry_now()
        self._retry.set()

    def _run(self, kind: str) -> None:
        """List, then watch until the watch breaks; again after a backoff that grows until a
        watch holds (a list that succeeds does not reset it: a watch denied at once would
        otherwise re-list every half second)."""
        from kubernetes.client.exceptions import ApiException

        backoff = BACKOFF_START
        namespace = self.cluster.namespace
        while not self._stop.is_set():
            api = None
            try:
                api, list_fn = self._api(kind)
                version = self._list(kind, list_fn, namespace)
                self._ok(kind)
                while not self._stop.is_set():
                    opened = time.monotonic()
                    try:
                        version = self._watch(kind, list_fn, version)
                    except Exception:
                        if time.monotonic() - opened >= WATCH_HELD:
                            backoff = BACKOFF_START  # it held a while before it broke
                        raise
                    backoff = BACKOFF_START  # a watch that ends as watches end has held
            except _Relist:
                continue  # our resourceVersion is too old: list again
            except ApiException as exc:
                if exc.status == 410:
                    continue
                if exc.status == 401 and api is not None:
                    self.client.unauthorized(api)  # a new credential next time (plugin re-run)
                if exc.status == 404 and kind == "rollouts":
                    self._fail(kind, "this cluster does not serve Argo Rollouts (no CRD)")
                else:
                    self._fail(kind, describe_api_error(exc))
            except Exception as exc:  # noqa: BLE001 - any transport failure: stale, then retry
                self._fail(kind, describe_api_error(exc))
            delay = backoff * random.uniform(0.5, 1.0)
            backoff = min(self.backoff_cap, backoff * 2)
            if self._retry.wait(delay):
                self._retry.clear()
                backoff = BACKOFF_START

    def _list(self, kind: str, list_fn: Callable[..., Any], namespace: str) -> str:
        """List `kind` into the mirror; returns the list's resourceVersion to watch from.

        A method of its own so that the list's whole answer is let go once its objects are
        mirrored: held in `_run` it lived as long as the watch after it, and after a re-list
        of Events that was a whole hour of them (the one-hour memory run: 14 MB), and of the
        other kinds a second copy of every object the watch had since replaced."""
        body = raw_json(
            list_fn(namespace, _preload_content=False, _request_timeout=(5, self.read_timeout))
        )
        self.requests["list"] += 1
        with self._lock:
            self._mirror.replace_all(kind, _mirrored(kind, body.get("items") or []))
            self._synced.add(kind)
        return str(body.get("metadata", {}).get("resourceVersion", ""))

    def _watch(self, kind: str, list_fn: Callable[..., Any], version: str) -> str:
        """One watch request, read line by line; returns the resourceVersion to go on from.

        The server ends a watch after watch_seconds. A watch that stays silent longer than
        read_timeout (no event, no bookmark) is ended by us and opened again quietly: a quiet
        namespace is not a failure. But if the new request then gets no answer at all, the
        exception reaches _run and the cluster shows STALE: that is how a server that accepts
        connections and never answers is noticed.
        """
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import ProtocolError, ReadTimeoutError

        self.requests["watch"] += 1
        response = list_fn(
            self.cluster.namespace,
            watch=True,
            resource_version=version,
            timeout_seconds=self.watch_seconds,
            allow_watch_bookmarks=True,
            _preload_content=False,
            _request_timeout=(5, self.read_timeout),
        )
        self._watches.append(response)
        self._ok(kind)
        try:
            for line in watch_lines(response):
                if self._stop.is_set():
                    break
                try:
                    event = json.loads(line)
                except ValueError as exc:
                    raise ValueError(f"watch of {kind}: a line that is not JSON") from exc
                if not isinstance(event, dict):
                    continue
                kind_of = event.get("type")
                obj: JSON = event["object"] if isinstance(event.get("object"), dict) else {}
                if kind_of == "ERROR":
                    if obj.get("code") == 410:
                        raise _Relist
                    raise ApiException(status=obj.get("code"), reason=obj.get("message"))
                metadata: JSON = obj["metadata"] if isinstance(obj.get("metadata"), dict) else {}
                version = str(metadata.get("resourceVersion", version))
                if kind_of == "BOOKMARK":
                    continue
                self._apply(kind, str(kind_of), obj)
                self._ok(kind)
        except (ReadTimeoutError, ProtocolError) as exc:
            if "timed out" not in str(exc).lower() and not isinstance(exc, ReadTimeoutError):
                raise
        finally:
            self._watches.remove(response)
            with contextlib.suppress(Exception):
                response.release_conn()
        return version

    def _apply(self, kind: str, event_type: str, obj: JSON) -> None:
        name = obj.get("metadata", {}).get("name")
        if not name:
            return
        with self._lock:
            mirror = self._mirror
            if event_type == "DELETED":
                mirror.delete(kind, name)
            else:
                mirror.put(kind, obj)
            if kind == "events" and len(mirror.objects[kind]) > EVENTS_KEPT * 2:
                newest = sorted(mirror.objects[kind].values(), key=_event_time)[-EVENTS_KEPT:]
                mirror.replace_all(kind, {e["metadata"]["name"]: e for e in newest})
        self._dirty.set()

    def _ok(self, kind: str) -> None:
        with self._lock:
            self._failing.pop(kind, None)
            self._last_ok = datetime.now(UTC)
        self._dirty.set()

    def _fail(self, kind: str, reason: str) -> None:
        with self._lock:
            self._failing[kind] = reason
        self._dirty.set()

    def _publish_loop(self) -> None:
        while not self._stop.is_set():
            self._dirty.wait(1.0)
            if self._stop.is_set():
                return
            if not self._dirty.is_set():
                continue
            self._dirty.clear()
            self.on_snapshot(self.snapshot())
            time.sleep(0.1)  # coalesce bursts of pod events into one redraw

    def snapshot(self) -> ClusterSnapshot:
        """Every watched workload's view. A view is built again only when an object it is
        made of (or would be: a new pod of its revision, an event about it) changed since
        the last snapshot; after a re-list, or when what failed or synced changed, all are."""
        with self._lock:
            changed, wholesale = self._mirror.take_changes()
            failing = dict(self._failing)
            synced = set(self._synced)
            last_ok = self._last_ok
            state = (frozenset(failing.items()), frozenset(synced))
            stale: set[tuple[str, str]] | None = None  # None: every view
            if not wholesale and state == self._seen_state:
                stale = self._touched_by(changed)
            self._seen_state = state
            views = []
            for ref in self._targets:
                key = (ref.kind, ref.name)
                view = self._views.get(key)
                if view is None or stale is None or key in stale:
                    view = self._view(ref.kind, ref.name, failing, synced)
                views.append(view)
        kinds_by_reason: dict[str, list[str]] = {}
        for kind, why in sorted(failing.items()):
            kinds_by_reason.setdefault(why, []).append(kind)
        error = (
            "; ".join(f"{', '.join(kinds)}: {why}" for why, kinds in kinds_by_reason.items())
            or None
        )
        return ClusterSnapshot(
            cluster=self.cluster.name,
            namespace=self.cluster.namespace,
            deployments=tuple(views),
            connected=not (self.required & failing.keys()),
            synced=self.required <= synced,
            listed=frozenset(self.KINDS) - {"events"} <= synced | failing.keys(),
            last_ok=last_ok,
            last_error=error,
            requests=dict(self.requests),
        )

    def _touched_by(self, changed: list[tuple[str, JSON]]) -> set[tuple[str, str]]:
        """The views each changed object, before and after the change, is or may now be in:
        a workload's own; a revision's controller's; a pod's owners' (a revision's UID
        leads to its workload's view); an event's, by the name of what it is about. A pod of
        a revision made in the same batch needs no lookup of its own: the revision leads to
        its controller's view, which is built again and finds the pod in the index."""
        found: set[tuple[str, str]] = set()
        by_uid, by_name = self._by_uid, self._by_name
        for kind, obj in changed:
            target = self._target_of.get((kind, (obj.get("metadata") or {}).get("name")))
            if target is not None:
                found.add(target)
            if kind in REVISION_KINDS:
                found |= by_uid.get(controller_uid(obj), set())
            elif kind == "pods":
                for uid in owner_uids(obj):
                    found |= by_uid.get(uid, set())
            elif kind == "events":
                found |= by_name.get(about(obj), set())
        return found

    def _view(
        self, kind: str, name: str, failing: dict[str, str], synced: set[str]
    ) -> WorkloadView:
        """One workload with its revisions, pods and recent events, from the mirror's indexes
        (the cost is this workload's objects, not all). Called with the lock held."""
        plural = PLURALS[kind]
        mirror = self._mirror
        obj = mirror.get(plural, name)
        revisions: list[JSON] = []
        pods: list[JSON] = []
        events: list[JSON] = []
        if obj is not None:
            uid = obj["metadata"].get("uid")
            revisions = mirror.revisions(REVISION_PLURALS[kind], uid)
            owners = {uid} | {r["metadata"].get("uid") for r in revisions}
            if kind in ("deployment", "rollout"):
                owners.discard(uid)  # their pods are their ReplicaSets'
            owners.discard(None)  # an object without a UID owns nothing
            pods = mirror.pods_of(owners)
            names = {name} | {rs["metadata"]["name"] for rs in revisions}
            names |= {p["metadata"]["name"] for p in pods}
            events = sorted(mirror.events_about(names), key=_event_time)[-30:]
        unknown = failing.get(plural) if obj is None else None
        if obj is None and unknown is None and plural not in synced:
            # not listed yet (Argo Rollouts are optional, so a snapshot may be out before
            # their first list): not seen is not "missing"
            unknown = f"{plural} not listed yet"
        key = (kind, name)
        last = self._views.get(key)
        if (
            last is not None
            and last.deployment is obj
            and last.unknown == unknown
            and _same(last.replicasets, revisions)
            and _same(last.pods, pods)
            and _same(last.events, events)
        ):
            # A watch event replaces an object with a new one, never changes it in place:
            # the same objects make the same view, and its verdict, trouble and history
            # (worked out once, when first asked) serve again.
            return last
        view = WorkloadView(
            cluster=self.cluster.name,
            namespace=self.cluster.namespace,
            name=name,
            deployment=obj,
            replicasets=tuple(revisions),
            pods=tuple(pods),
            events=tuple(events),
            unknown=unknown,
            kind=kind,
        )
        if last is not None:
            self._register(key, last, add=False)
        self._register(key, view, add=True)
        self._views[key] = view
        return view

    def _register(self, key: tuple[str, str], view: WorkloadView, *, add: bool) -> None:
        """Note (or forget) which UIDs and names lead to this view."""
        uids = [
            (o.get("metadata") or {}).get("uid") for o in (view.deployment, *view.replicasets) if o
        ]
        names: list[object] = [view.name]
        names += [(o.get("metadata") or {}).get("name") for o in (*view.replicasets, *view.pods)]
        for table, keys in ((self._by_uid, uids), (self._by_name, names)):
            for item in keys:
                if item is None:
                    continue
                if add:
                    table.setdefault(item, set()).add(key)
                else:
                    views = table.get(item)
                    if views is not None:
                        views.discard(key)
                        if not views:
                            del table[item]


def _mirrored(kind: str, items: list[JSON]) -> dict[str, JSON]:
    """A list's objects by name, as the mirror keeps them: of Events only the newest
    EVENTS_KEPT, as a watch keeps them. A namespace keeps its Events for an hour (the API
    server's --event-ttl): in a busy one a re-list returned thousands, and the mirror grew
    with every re-list for that hour (the one-hour memory run found it)."""
    if kind == "events" and len(items) > EVENTS_KEPT:
        items = sorted(items, key=_event_time)[-EVENTS_KEPT:]
    return {item["metadata"]["name"]: item for item in items}


def _same(kept: tuple[JSON, ...], found: list[JSON]) -> bool:
    """The same objects (not equal ones: identical), in the same order."""
    return len(kept) == len(found) and all(a is b for a, b in zip(kept, found, strict=True))


def _event_time(event: JSON) -> str:
    return str(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event.get("metadata", {}).get("creationTimestamp")
        or ""
    )


def read_rollout(
    client_api: Any,
    namespace: str,
    name: str,
    timeout: tuple[float, float],
    *,
    with_pods: bool = True,
    kind: str = "deployment",
) -> tuple[JSON, list[JSON], list[JSON]]:
    """A workload with its revisions (and pods), selected by its selector, as kubectl: a
    Deployment's ReplicaSets, a StatefulSet's or DaemonSet's ControllerRevisions."""
    from kubernetes import client

    apps = client.AppsV1Api(client_api)
    read, revisions_of = {
        "deployment": (apps.read_namespaced_deployment, apps.list_namespaced_replica_set),
        "statefulset": (
            apps.read_namespaced_stateful_set,
            apps.list_namespaced_controller_revision,
        ),
        "daemonset": (apps.read_namespaced_daemon_set, apps.list_namespaced_controller_revision),
    }[kind]
    workload = raw_json(read(name, namespace, _preload_content=False, _request_timeout=timeout))
    selector = workload.get("spec", {}).get("selector", {}).get("matchLabels") or {}
    labels = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    revisions = raw_json(
        revisions_of(
            namespace, label_selector=labels, _preload_content=False, _request_timeout=timeout
        )
    ).get("items", [])
    pods: list[JSON] = []
    if with_pods:
        pods = raw_json(
            client.CoreV1Api(client_api).list_namespaced_pod(
                namespace, label_selector=labels, _preload_content=False, _request_timeout=timeout
            )
        ).get("items", [])
    return workload, revisions, pods


# --- actions ----------------------------------------------------------------------


@dataclass(frozen=True)
class AccessCheck:
    allowed: bool
    reason: str


class WorkloadActions:
    """Rollback, pause and resume of one cluster's workloads, with kubectl's semantics for
    each kind; an Argo Rollout is refused (its controller owns it)."""

    def __init__(self, cluster: ClusterConfig, loaded: LoadedConfig) -> None:
        self.cluster = cluster
        self.loaded = loaded
        self.client = shared_client(cluster, loaded)
        self._client: Any = None

    def _apis(self) -> tuple[Any, Any]:
        from kubernetes import client

        try:
            self._client = self.client.get()
        except CredentialError as exc:
            raise KubeError(exc.message, exc.hint) from exc
        return client.AppsV1Api(self._client), client.AuthorizationV1Api(self._client)

    def _refused(self, exc: Any) -> None:
        if getattr(exc, "status", None) == 401:
            self.client.unauthorized(self._client)  # next time: a new credential

    def kind_of(self, name: str) -> str:
        """The configured kind of NAME (a Deployment when the config does not list it)."""
        ref = self.cluster.target(name)
        return ref.kind if ref is not None else "deployment"

    def fetch(self, name: str) -> tuple[JSON, list[JSON]]:
        deployment, replicasets, _pods = self._read(name, with_pods=False)
        return deployment, replicasets

    def view(self, name: str) -> WorkloadView:
        """The workload read now, with its revisions and pods (for what a plan cannot tell)."""
        obj, revisions, pods = self._read(name, with_pods=True)
        return WorkloadView(
            self.cluster.name,
            self.cluster.namespace,
            name,
            obj,
            tuple(owned_replicasets(obj, revisions)),
            tuple(pods),
            kind=self.kind_of(name),
        )

    def _read(self, name: str, *, with_pods: bool) -> tuple[JSON, list[JSON], list[JSON]]:
        from kubernetes.client.exceptions import ApiException

        kind = self.kind_of(name)
        if kind == "rollout":
            raise argo_refusal(name)
        self._apis()
        namespace = self.cluster.namespace
        try:
            found = read_rollout(
                self._client, namespace, name, (5, 20), with_pods=with_pods, kind=kind
            )
        except ApiException as exc:
            self._refused(exc)
            raise KubeError(
                f"{self.cluster.name}/{namespace}/{name}: {describe_api_error(exc)}"
            ) from exc
        except Exception as exc:
            raise KubeError(
                f"{self.cluster.name}: cannot reach the API: {describe_api_error(exc)}",
                "check the cluster's kubeconfig, context and network",
            ) from exc
        return found

    def can_patch(self, name: str | None = None) -> AccessCheck:
        """RBAC preflight: may we patch NAME's kind (deployments by default) here?"""
        _, authz = self._apis()
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "group": "apps",
                    "resource": PLURALS[self.kind_of(name) if name else "deployment"],
                    "verb": "patch",
                    "namespace": self.cluster.namespace,
                }
            },
        }
        try:
            review = raw_json(
                authz.create_self_subject_access_review(
                    body, _preload_content=False, _request_timeout=(5, 20)
                )
            )
        except Exception as exc:  # noqa: BLE001 - a failed preflight is a refusal, stated
            return AccessCheck(False, f"access review failed: {describe_api_error(exc)}")
        status = review.get("status") or {}
        allowed = bool(status.get("allowed"))
        reason = str(status.get("reason") or ("allowed" if allowed else "denied"))
        return AccessCheck(allowed, reason)

    def plan_rollback(self, name: str, to_revision: int = 0) -> UndoPlan:
        deployment, replicasets = self.fetch(name)
        return plan_undo(deployment, replicasets, to_revision, kind=self.kind_of(name))

    def rollback(self, name: str, to_revision: int = 0) -> UndoPlan:
        """Fetch, plan with kubectl's rules, and send that plan."""
        return self.send_rollback(self.plan_rollback(name, to_revision))

    def send_rollback(self, plan: UndoPlan) -> UndoPlan:
        """Send exactly this plan: kubectl's patch, with the resourceVersion of the Deployment
        as it was when the plan was made. If anyone changed the Deployment since (kubectl, CI,
        a controller), the API server refuses with 409 and nothing changes."""
        from kubernetes.client.exceptions import ApiException

        apps, _ = self._apis()
        try:
            self._patcher(apps, plan.kind)(
                plan.deployment,
                self.cluster.namespace,
                plan.patch,
                _preload_content=False,
                _request_timeout=(5, 30),
            )
        except ApiException as exc:
            self._refused(exc)
            if exc.status in (409, 422) and self._changed_since(plan):
                raise RollbackConflict(
                    f"{plan.deployment} changed since this rollback was previewed (its spec "
                    f"is no longer generation {plan.generation}); nothing was sent",
                    "read the new preview and confirm again if it is still what you want",
                ) from exc
            raise KubeError(
                f"rollback of {plan.deployment} refused: {describe_api_error(exc)}"
            ) from exc
        except Exception as exc:
            raise KubeError(
                f"rollback of {plan.deployment} failed: {describe_api_error(exc)}"
            ) from exc
        return plan

    @staticmethod
    def _patcher(apps: Any, kind: str) -> Callable[..., Any]:
        """The patch call of this kind (a list body goes as a JSON patch, a dict as a
        strategic merge patch)."""
        patchers: dict[str, Callable[..., Any]] = {
            "deployment": apps.patch_namespaced_deployment,
            "statefulset": apps.patch_namespaced_stateful_set,
            "daemonset": apps.patch_namespaced_daemon_set,
        }
        return patchers[kind]

    def _changed_since(self, plan: UndoPlan) -> bool:
        """After a refusal: is the Deployment's spec another than the one the plan saw?"""
        try:
            deployment, _ = self.fetch(plan.deployment)
        except KubeError:
            return False
        generation = deployment.get("metadata", {}).get("generation")
        return bool(generation != plan.generation)

    def set_paused(self, name: str, paused: bool) -> None:
        from kubernetes.client.exceptions import ApiException

        kind = self.kind_of(name)
        if kind == "rollout":
            raise KubeError(argo_refusal(name).message)
        if kind != "deployment":  # kubectl: `rollout pause` of any other kind
            raise KubeError(
                f"{kind} {name}: pausing is not supported",
                "kubectl pauses Deployments only; a StatefulSet's rollout can be held with a "
                "partition (spec.updateStrategy.rollingUpdate.partition)",
            )
        apps, _ = self._apis()
        try:
            apps.patch_namespaced_deployment(
                name,
                self.cluster.namespace,
                {"spec": {"paused": paused}},
                _preload_content=False,
                _request_timeout=(5, 30),
            )
        except ApiException as exc:
            self._refused(exc)
            verb = "pause" if paused else "resume"
            raise KubeError(f"{verb} of {name} refused: {describe_api_error(exc)}") from exc
        except Exception as exc:
            raise KubeError(f"cannot reach the API: {describe_api_error(exc)}") from exc


DeploymentActions = WorkloadActions  # the name from when only Deployments were watched

__all__ = [
    "AccessCheck",
    "ClusterSnapshot",
    "ClusterWatcher",
    "DeploymentActions",
    "DeploymentView",
    "KubeError",
    "RollbackConflict",
    "UndoRefused",
    "WorkloadActions",
    "WorkloadView",
    "api_client",
]
