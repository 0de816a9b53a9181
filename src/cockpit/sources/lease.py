"""One action lock per environment, as a coordination.k8s.io Lease in the cluster's own store.

Several operators run one go-live from their own SSH sessions, often on different bastions;
two rollbacks sent at once (or a rollback while a colleague pauses) must not both happen. The
Kubernetes API already gives what that needs: a Lease object, and optimistic concurrency on
its resourceVersion. A cockpit takes the Lease before it sends a rollback or a pause and
gives it back after; while it holds it, it renews it. Another cockpit that finds the Lease held
(and not expired) is refused with the holder's name and since when; a cockpit killed while
holding it loses it when `leaseDurationSeconds` pass without a renewal.

Every write carries the resourceVersion the cockpit read, so of two cockpits taking a free
Lease at the same moment exactly one succeeds (the other gets 409 and reads the winner).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cockpit.errors import CockpitError
from cockpit.rollout import format_age, parse_time
from cockpit.sources.kube import describe_api_error, raw_json
from cockpit.sources.kube_auth import shared_client

if TYPE_CHECKING:
    from cockpit.config import ClusterConfig, LoadedConfig

LEASE_SECONDS = 15  # a holder that stops renewing loses the lock this long after its last renewal
CLOCK_SKEW = 30  # seconds two bastions' clocks may disagree by
TIMEOUT = (5, 15)


class LeaseHeld(CockpitError):
    """Someone else holds the lock; the message names them."""

    def __init__(self, message: str, hint: str, holder: str) -> None:
        super().__init__(message, hint)
        self.holder = holder


def holder_identity(operator: str) -> str:
    """Who holds the lock, as colleagues read it: alice on bastion-2 (pid 4711)."""
    return f"{operator} on {socket.gethostname()} (pid {os.getpid()})"


def lease_name(*parts: str) -> str:
    """A valid object name (RFC 1123: lowercase letters, digits, '-', at most 63) from parts
    that may not be (an environment named `Prod_EU`); a short hash keeps distinct names
    distinct once lowercased."""
    import hashlib
    import re

    wanted = "-".join(parts)
    slug = re.sub(r"[^a-z0-9-]+", "-", wanted.lower()).strip("-")
    if slug == wanted and len(slug) <= 63:
        return slug
    digest = hashlib.sha256(wanted.encode()).hexdigest()[:8]
    return f"{slug[:54].rstrip('-')}-{digest}"


def _micro(moment: datetime) -> str:
    """A Lease's MicroTime: RFC 3339 with microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ActionLock:
    """The environment's action lock: `with lock.held("rollback of web"):` or refused."""

    def __init__(
        self,
        cluster: ClusterConfig,
        loaded: LoadedConfig,
        *,
        namespace: str,
        name: str,
        identity: str,
        duration: int = LEASE_SECONDS,
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.duration = duration
        self.client = shared_client(cluster, loaded)
        self._renewing: threading.Event | None = None
        self._version: str | None = None
        self._holds = 0  # actions of this cockpit holding the lock now (it is re-entrant)
        self._observed: dict[tuple[str, str], float] = {}  # (holder, renewTime): first seen
        self._guard = threading.Lock()

    def api(self) -> Any:
        """The cluster's CoordinationV1Api, with the cluster's shared credential."""
        return self._api()

    def _api(self) -> Any:
        from kubernetes import client

        return client.CoordinationV1Api(self.client.get())

    def _read(self) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        try:
            return raw_json(
                self._api().read_namespaced_lease(
                    self.name, self.namespace, _preload_content=False, _request_timeout=TIMEOUT
                )
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise self._cannot(describe_api_error(exc)) from exc
        except Exception as exc:
            raise self._cannot(describe_api_error(exc)) from exc

    def _cannot(self, why: str) -> CockpitError:
        return CockpitError(
            f"cannot take the action lock (Lease {self.namespace}/{self.name} in cluster "
            f"{self.cluster.name}): {why}; nothing was sent",
            "the lock keeps two operators from acting at once; check the cluster and that you "
            "may get, create and update leases (coordination.k8s.io) in that namespace",
        )

    def _body(self, now: datetime, lease: dict[str, Any] | None, *, taking: bool) -> Any:
        spec = dict((lease or {}).get("spec") or {})
        transitions = int(spec.get("leaseTransitions") or 0)
        if taking and spec.get("holderIdentity") not in (None, "", self.identity):
            transitions += 1
        body: dict[str, Any] = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.duration,
                "acquireTime": spec.get("acquireTime") if not taking else _micro(now),
                "renewTime": _micro(now),
                "leaseTransitions": transitions,
            },
        }
        if lease is not None:
            body["metadata"]["resourceVersion"] = lease["metadata"]["resourceVersion"]
        return body

    def holder(self, lease: dict[str, Any] | None, now: datetime) -> str | None:
        """Who holds the Lease now (None: free or expired).

        Bastions' clocks disagree, so as client-go's leader election does, a record counts as
        expired when this cockpit has seen it unchanged for its duration (by its own
        monotonic clock); a renewTime older than the duration plus a margin for skew by the
        wall clock expires it at once (a holder that died long ago)."""
        spec = (lease or {}).get("spec") or {}
        holder = spec.get("holderIdentity")
        renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
        if not holder or renewed is None:
            return None
        if holder == self.identity:
            return str(holder)
        duration = int(spec.get("leaseDurationSeconds") or self.duration)
        if renewed + timedelta(seconds=duration + max(duration, CLOCK_SKEW)) < now:
            return None
        key = (str(holder), str(spec.get("renewTime")))
        first_seen = self._observed.setdefault(key, time.monotonic())
        if time.monotonic() - first_seen > duration:
            return None
        return str(holder)

    def missing_verbs(self) -> list[str]:
        """The verbs on leases this operator lacks in the lock's namespace (RBAC preflight):
        get, create and update for the lock, list and delete for presence."""
        from kubernetes import client

        missing = []
        api = client.AuthorizationV1Api(self.client.get())
        for verb in ("get", "create", "update", "list", "delete"):
            body: Any = {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {
                    "resourceAttributes": {
                        "group": "coordination.k8s.io",
                        "resource": "leases",
                        "verb": verb,
                        "namespace": self.namespace,
                    }
                },
            }
            try:
                review = raw_json(
                    api.create_self_subject_access_review(
                        body, _preload_content=False, _request_timeout=TIMEOUT
                    )
                )
            except Exception as exc:
                raise self._cannot(f"access review failed: {describe_api_error(exc)}") from exc
            if not (review.get("status") or {}).get("allowed"):
                missing.append(verb)
        return missing

    def status(self) -> tuple[str | None, datetime | None]:
        """Who holds the lock now and since when ((None, None): free)."""
        lease = self._read()
        holder = self.holder(lease, datetime.now(UTC))
        if holder is None or lease is None:
            return None, None
        return holder, parse_time((lease.get("spec") or {}).get("acquireTime"))

    def where(self) -> str:
        return f"Lease {self.namespace}/{self.name} in cluster {self.cluster.name}"

    def acquire(self, doing: str) -> None:
        """Take the lock or raise LeaseHeld; two cockpits at once: exactly one gets it."""
        from kubernetes.client.exceptions import ApiException

        for _ in range(5):
            now = datetime.now(UTC)
            lease = self._read()
            holder = self.holder(lease, now)
            if holder is not None and holder != self.identity:
                assert lease is not None
                since = parse_time(lease["spec"].get("acquireTime"))
                raise LeaseHeld(
                    f"{holder} holds the action lock (since {format_age(since)} ago); "
                    f"{doing} was not sent",
                    "wait for them to finish, or talk to them; an incident commander can take "
                    "it over with `cockpit lock break`",
                    holder,
                )
            api = self._api()
            try:
                if lease is None:
                    answer = api.create_namespaced_lease(
                        self.namespace,
                        self._body(now, None, taking=True),
                        _preload_content=False,
                        _request_timeout=TIMEOUT,
                    )
                else:
                    answer = api.replace_namespaced_lease(
                        self.name,
                        self.namespace,
                        self._body(now, lease, taking=holder != self.identity),
                        _preload_content=False,
                        _request_timeout=TIMEOUT,
                    )
            except ApiException as exc:
                if exc.status == 409:
                    continue  # another cockpit wrote it first: read who, and decide again
                raise self._cannot(describe_api_error(exc)) from exc
            except Exception as exc:
                raise self._cannot(describe_api_error(exc)) from exc
            self._version = raw_json(answer)["metadata"]["resourceVersion"]
            with self._guard:
                self._holds += 1
            self._start_renewing()
            return
        raise self._cannot("the Lease kept changing under us")

    def _start_renewing(self) -> None:
        if self._renewing is not None:
            return
        stop = self._renewing = threading.Event()

        def renew() -> None:
            while not stop.wait(self.duration / 3):
                try:
                    self._renew_once()
                except Exception:  # noqa: BLE001 - the next renewal tries again; expiry is the bound
                    continue

        threading.Thread(target=renew, name="action-lock", daemon=True).start()

    def _renew_once(self) -> None:
        lease = self._read()
        if lease is None or self.holder(lease, datetime.now(UTC)) != self.identity:
            return  # lost (broken by a commander, or expired): nothing to renew
        answer = self._api().replace_namespaced_lease(
            self.name,
            self.namespace,
            self._body(datetime.now(UTC), lease, taking=False),
            _preload_content=False,
            _request_timeout=TIMEOUT,
        )
        self._version = raw_json(answer)["metadata"]["resourceVersion"]

    def release(self) -> None:
        """Give the lock back (if still ours and no other action of this cockpit holds it):
        the holder is cleared, the object stays. Never raises: a release that fails leaves
        the Lease to expire, and must not hide the outcome of the action it guarded."""
        with self._guard:
            self._holds = max(0, self._holds - 1)
            if self._holds:
                return
        if self._renewing is not None:
            self._renewing.set()
            self._renewing = None
        try:
            self._give_back()
        except Exception:  # noqa: BLE001 - it expires by itself within lease_seconds
            return

    def _give_back(self) -> None:
        from kubernetes.client.exceptions import ApiException

        try:
            lease = self._read()
        except CockpitError:
            return  # it expires by itself
        if lease is None or self.holder(lease, datetime.now(UTC)) != self.identity:
            return
        body = self._body(datetime.now(UTC), lease, taking=False)
        body["spec"]["holderIdentity"] = None
        body["spec"]["renewTime"] = None
        try:
            self._api().replace_namespaced_lease(
                self.name, self.namespace, body, _preload_content=False, _request_timeout=TIMEOUT
            )
        except (ApiException, OSError):
            return  # someone else wrote it, or the API is gone: it expires by itself

    def break_lock(self) -> str | None:
        """Take the lock whoever holds it (an incident commander's decision, audited by the
        caller); returns who held it."""
        from kubernetes.client.exceptions import ApiException

        now = datetime.now(UTC)
        lease = self._read()
        previous = self.holder(lease, now)
        try:
            if lease is None:
                self._api().create_namespaced_lease(
                    self.namespace,
                    self._body(now, None, taking=True),
                    _preload_content=False,
                    _request_timeout=TIMEOUT,
                )
            else:
                self._api().replace_namespaced_lease(
                    self.name,
                    self.namespace,
                    self._body(now, lease, taking=True),
                    _preload_content=False,
                    _request_timeout=TIMEOUT,
                )
        except ApiException as exc:
            raise self._cannot(f"HTTP {exc.status}") from exc
        self._give_back()
        return previous


PRESENCE_LABEL = "cockpit.dev/presence"  # its value: the environment


class Presence:
    """Who has the cockpit open on this environment: a Lease per operator, renewed while the
    cockpit runs, deleted when it closes, expired when it dies. The banner lists the others."""

    def __init__(self, lock: ActionLock, environment: str) -> None:
        import hashlib

        self.lock = lock
        self.environment = environment
        digest = hashlib.sha256(lock.identity.encode()).hexdigest()[:10]
        self.name = lease_name("cockpit", environment, "here", digest)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._renewed: dict[str, Any] | None = None  # this operator's Lease as last written

    def _body(self, lease: dict[str, Any] | None) -> Any:
        now = _micro(datetime.now(UTC))
        body: dict[str, Any] = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": self.lock.namespace,
                "labels": {PRESENCE_LABEL: self.environment},
            },
            "spec": {
                "holderIdentity": self.lock.identity,
                "leaseDurationSeconds": self.lock.duration,
                "acquireTime": ((lease or {}).get("spec") or {}).get("acquireTime") or now,
                "renewTime": now,
            },
        }
        if lease is not None:
            body["metadata"]["resourceVersion"] = lease["metadata"]["resourceVersion"]
        return body

    def announce(self) -> None:
        """Create or renew this operator's Lease: one request (the renewal, with the
        resourceVersion of the last one) while nobody else wrote it."""
        from kubernetes.client.exceptions import ApiException

        api = self.lock.api()
        if self._renewed is not None:
            try:
                answer = api.replace_namespaced_lease(
                    self.name,
                    self.lock.namespace,
                    self._body(self._renewed),
                    _preload_content=False,
                    _request_timeout=TIMEOUT,
                )
                self._renewed = raw_json(answer)
                return
            except ApiException as exc:
                self._renewed = None
                if exc.status not in (404, 409):
                    raise
        try:
            lease = raw_json(
                api.read_namespaced_lease(
                    self.name, self.lock.namespace, _preload_content=False, _request_timeout=TIMEOUT
                )
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
            created = api.create_namespaced_lease(
                self.lock.namespace,
                self._body(None),
                _preload_content=False,
                _request_timeout=TIMEOUT,
            )
            self._renewed = raw_json(created)
            return
        renewed = api.replace_namespaced_lease(
            self.name,
            self.lock.namespace,
            self._body(lease),
            _preload_content=False,
            _request_timeout=TIMEOUT,
        )
        self._renewed = raw_json(renewed)

    def others(self) -> list[str]:
        """The other operators with a live Lease on this environment, oldest first."""
        answer = raw_json(
            self.lock.api().list_namespaced_lease(
                self.lock.namespace,
                label_selector=f"{PRESENCE_LABEL}={self.environment}",
                _preload_content=False,
                _request_timeout=TIMEOUT,
            )
        )
        now = datetime.now(UTC)
        found = []
        for lease in answer.get("items") or []:
            holder = self.lock.holder(lease, now)
            if holder and holder != self.lock.identity:
                since = parse_time((lease.get("spec") or {}).get("acquireTime")) or now
                found.append((since, holder))
        return [holder for _, holder in sorted(found)]

    def start(self, on_change: Any) -> None:
        """Announce every lease_seconds / 3 and report the others to `on_change(list)`."""

        def run() -> None:
            seen: list[str] | None = None
            while not self._stop.is_set():
                try:
                    self.announce()
                    now = self.others()
                except Exception:  # noqa: BLE001 - presence is best effort; the next round retries
                    now = seen or []
                if now != seen:
                    seen = now
                    on_change(now)
                self._stop.wait(self.lock.duration / 3)

        self._thread = threading.Thread(target=run, name="presence", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Leave: delete this operator's Lease (expiry does it when the cockpit dies)."""
        self._stop.set()
        try:
            self.lock.api().delete_namespaced_lease(
                self.name, self.lock.namespace, _request_timeout=TIMEOUT
            )
        except Exception:  # noqa: BLE001 - it expires by itself
            return


__all__ = ["LEASE_SECONDS", "ActionLock", "LeaseHeld", "Presence", "holder_identity"]
