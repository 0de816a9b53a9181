"""The team's checklist progress in the cluster's own store: a few ConfigMaps, each written with
the resourceVersion it was read at.

Layout (one environment):

- `cockpit-ENV-progress-0` … `-{SHARDS-1}`: the item records, each item in the shard its ID
  hashes to. Sharding keeps every object far below the API server's 1 MiB limit (a runbook of
  1,000 items with notes is about 100 KiB per shard) and lets two operators marking different
  items usually write different objects, so they rarely conflict.
- `cockpit-ENV-timeline`: what is not about an item (session start, verdicts, lock refusals,
  rollbacks).

Every audit entry lands in exactly one of them, in the same write as its effect: each object
keeps `heads` (per audit log: the last entry applied to it, with its hash, so the chain head of
every operator's log lives off the bastion), `count` (entries ever applied) and a rolling
`timeline` of its latest TIMELINE_KEPT entries (actor, action, item, seq, hash, time). Because
the head of a log is written atomically with the effects of its entries, replaying a log after
an outage applies exactly the entries the object has not seen: nothing twice, nothing lost.

A write that meets 409 Conflict reads the object again and re-applies the operator's entries to
what is there now (a mark changes one item; the rest of the object is the colleague's), never
the whole state it read before. Colleagues' writes arrive through one watch of the objects (by
label), so an idle cockpit costs a watch request per WATCH_SECONDS.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cockpit.errors import CockpitError
from cockpit.sources.kube import describe_api_error, raw_json, watch_lines
from cockpit.sources.kube_auth import shared_client
from cockpit.sources.lease import lease_name
from cockpit.state import ItemRecord

if TYPE_CHECKING:
    from cockpit.audit import AuditEntry
    from cockpit.config import ClusterConfig, LoadedConfig

SHARDS = 4  # objects holding item records (fixed: every cockpit must route an item alike)
TIMELINE_KEPT = 200  # latest entries each object keeps (the full log stays in each audit log)
BUDGET = 512 * 1024  # bytes of data an object may reach before its timeline is cut shorter
LABEL = "cockpit.dev/progress"  # its value: the environment (as an object name part)
WATCH_SECONDS = 30  # a watch is renewed this often: 2 requests a minute when nothing happens
TIMEOUT = (3.0, 5.0)  # connect, read: a store that does not answer is noticed in seconds
BACKOFF_CAP = 5.0
FORMAT = "1"

Apply = Callable[[MutableMapping[str, ItemRecord], "AuditEntry"], None]


class StoreUnreachable(CockpitError):
    """The shared store could not be read or written; the message says why."""


class NeedsHistory(Exception):
    """An object is to be created (first use, or someone deleted it), or has no head for
    this audit log yet: it must be written from the whole log, not only from the entries not
    yet sent (once per object and log)."""


@dataclass
class ProgressObject:
    """One ConfigMap of the shared progress, decoded."""

    name: str
    version: str | None = None  # resourceVersion; None: not created yet
    items: dict[str, ItemRecord] = field(default_factory=dict)
    heads: dict[str, dict[str, Any]] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0


@dataclass(frozen=True)
class Folded:
    """What applying entries to an object did."""

    entries: tuple[AuditEntry, ...]  # those it had not seen
    items: tuple[str, ...]  # the item IDs they changed


def shard_of(item_id: str, shards: int = SHARDS) -> int:
    return int(hashlib.sha256(item_id.encode()).hexdigest()[:8], 16) % shards


def object_names(environment: str, shards: int = SHARDS) -> list[str]:
    names = [lease_name("cockpit", environment, "progress", str(k)) for k in range(shards)]
    return [*names, lease_name("cockpit", environment, "timeline")]


def log_key(first_hash: str) -> str:
    """An audit log's name in `heads`: its first entry's hash, short (a log replaced by
    another, whose seq starts again at 1, is another log)."""
    return first_hash[:16]


def record_json(record: ItemRecord) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in record.to_toml().items()
    }


def decode(obj: dict[str, Any]) -> ProgressObject:
    """A ConfigMap as the cockpit reads it; what does not parse is refused (a hand-edited
    object must not be taken for "nothing done")."""
    meta = obj.get("metadata") or {}
    data = obj.get("data") or {}
    name = str(meta.get("name"))
    try:
        raw_items = json.loads(data.get("items") or "{}")
        items = {key: ItemRecord.from_toml(key, raw) for key, raw in raw_items.items()}
        heads = json.loads(data.get("heads") or "{}")
        timeline = [json.loads(line) for line in (data.get("timeline") or "").splitlines() if line]
        count = int(data.get("count") or 0)
    except (ValueError, TypeError, AttributeError) as exc:
        raise StoreUnreachable(  # unusable as if unreachable: marks refused, the reason said
            f"shared progress ConfigMap {name} cannot be read: {exc}",
            "it was edited by hand; delete it: each open cockpit writes its audit log into "
            "it again at its next write",
        ) from exc
    if not isinstance(heads, dict):
        raise StoreUnreachable(f"shared progress ConfigMap {name}: heads is not a table")
    return ProgressObject(name, meta.get("resourceVersion"), items, heads, timeline, count)


def encode(progress: ProgressObject) -> dict[str, str]:
    """The object's data, its timeline cut shorter if the whole would pass BUDGET."""
    items = json.dumps(
        {key: record_json(r) for key, r in sorted(progress.items.items())},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    heads = json.dumps(progress.heads, sort_keys=True, separators=(",", ":"))
    lines = [json.dumps(e, sort_keys=True, separators=(",", ":")) for e in progress.timeline]
    size = len(items.encode()) + len(heads) + sum(len(line) + 1 for line in lines)
    while lines and size > BUDGET:
        size -= len(lines.pop(0)) + 1
        progress.timeline.pop(0)
    if size > BUDGET:
        raise StoreUnreachable(  # unusable until trimmed: marks refused, the reason said
            f"shared progress ConfigMap {progress.name} would hold {size // 1024} KiB of item "
            f"records (the cockpit keeps each object under {BUDGET // 1024} KiB)",
            "notes and evidence this long belong in tickets: shorten the longest records "
            "(kubectl edit) or split the runbook's environment",
        )
    return {
        "format": FORMAT,
        "items": items,
        "heads": heads,
        "timeline": "".join(line + "\n" for line in lines),
        "count": str(progress.count),
    }


def fold(progress: ProgressObject, entries: Iterable[AuditEntry], log: str, apply: Apply) -> Folded:
    """Apply, in order, the entries of audit log `log` this object has not seen (seq above its
    head for that log); updates heads, count and the rolling timeline."""
    head = int((progress.heads.get(log) or {}).get("seq") or 0)
    new = [e for e in entries if e.seq > head]
    changed: list[str] = []
    for entry in new:
        item = entry.fields.get("item")
        if isinstance(item, str):
            before = progress.items.get(item)
            apply(progress.items, entry)
            if progress.items.get(item) != before and item not in changed:
                changed.append(item)
        progress.timeline.append(
            {
                "log": log,
                "seq": entry.seq,
                "hash": entry.hash,
                "actor": entry.fields.get("actor"),
                "action": entry.action,
                **({"item": item} if isinstance(item, str) else {}),
                **(
                    {"status": entry.fields["status"]}
                    if isinstance(entry.fields.get("status"), str)
                    else {}
                ),
                "at": entry.ts,
            }
        )
        progress.heads[log] = {
            "seq": entry.seq,
            "hash": entry.hash,
            "actor": entry.fields.get("actor"),
            "at": entry.ts,
        }
        progress.count += 1
    del progress.timeline[:-TIMELINE_KEPT]
    return Folded(tuple(new), tuple(changed))


def target_of(entry: AuditEntry, environment: str, shards: int = SHARDS) -> str:
    names = object_names(environment, shards)
    item = entry.fields.get("item")
    return names[shard_of(item, shards)] if isinstance(item, str) else names[-1]


@dataclass
class Pushed:
    """What a push did: items changed, colleagues' changes met, objects written (as known
    before, as stored) so their other news can be told."""

    changed: list[str] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    written: list[tuple[ProgressObject | None, ProgressObject]] = field(default_factory=list)


@dataclass(frozen=True)
class Conflict:
    """An item a colleague changed between what this operator saw and their own write."""

    item: str
    theirs: ItemRecord
    action: str  # this operator's action applied on top


class SharedProgress:
    """The environment's shared progress objects: read, written with preconditions, watched."""

    def __init__(
        self,
        cluster: ClusterConfig,
        loaded: LoadedConfig,
        *,
        namespace: str,
        environment: str,
        shards: int = SHARDS,
        watch_seconds: int = WATCH_SECONDS,
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.environment = environment
        self.shards = shards
        self.watch_seconds = watch_seconds
        self.names = object_names(environment, shards)
        self.label = lease_name(environment)
        self.client = shared_client(cluster, loaded)
        self.objects: dict[str, ProgressObject] = {}  # as last read or written
        self.requests: Counter[str] = Counter()  # API requests by verb (the benchmarks count)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._response: Any = None

    def where(self) -> str:
        return f"ConfigMaps {self.namespace}/{self.names[0][:-2]}-* in cluster {self.cluster.name}"

    def _api(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.client.get())

    def _unreachable(self, exc: BaseException) -> StoreUnreachable:
        from urllib3.exceptions import ProtocolError

        why = "the connection was cut" if isinstance(exc, ProtocolError) else None
        return StoreUnreachable(
            f"cluster {self.cluster.name}: {why or describe_api_error(exc)}",
            "check the cluster and that you may get, list, watch, create and update configmaps "
            f"in namespace {self.namespace} (`cockpit validate`)",
        )

    # --- reading -------------------------------------------------------------------------------

    def records(self) -> dict[str, ItemRecord]:
        """Every item record of the environment, as last read."""
        merged: dict[str, ItemRecord] = {}
        with self._lock:
            for name in self.names[:-1]:
                found = self.objects.get(name)
                if found is not None:
                    merged.update(found.items)
        return merged

    def load(self) -> str:
        """List the objects (one request); returns the list's resourceVersion."""
        self.requests["list"] += 1
        try:
            answer = raw_json(
                self._api().list_namespaced_config_map(
                    self.namespace,
                    label_selector=f"{LABEL}={self.label}",
                    _preload_content=False,
                    _request_timeout=TIMEOUT,
                )
            )
        except Exception as exc:
            raise self._unreachable(exc) from exc
        found = {}
        for obj in answer.get("items") or []:
            decoded = decode(obj)
            if decoded.name in self.names:
                found[decoded.name] = decoded
        with self._lock:
            for name, known in self.objects.items():  # a write answered after the list began
                listed = found.get(name)
                if listed is not None and _newer(known.version, listed.version):
                    found[name] = known
            self.objects = found  # one deleted is gone (the next write creates it whole)
        return str((answer.get("metadata") or {}).get("resourceVersion") or "")

    def _get(self, name: str) -> ProgressObject:
        from kubernetes.client.exceptions import ApiException

        self.requests["get"] += 1
        try:
            obj = raw_json(
                self._api().read_namespaced_config_map(
                    name, self.namespace, _preload_content=False, _request_timeout=TIMEOUT
                )
            )
        except ApiException as exc:
            if exc.status == 404:
                return ProgressObject(name)
            raise self._unreachable(exc) from exc
        except Exception as exc:
            raise self._unreachable(exc) from exc
        return decode(obj)

    # --- writing -------------------------------------------------------------------------------

    def push(
        self,
        entries: list[AuditEntry],
        log: str,
        apply: Apply,
        seen: Callable[[str], ItemRecord | None],
        me: str,
        *,
        complete: bool = False,
    ) -> Pushed:
        """Write the entries each object has not seen, with its resourceVersion; on 409, read
        it again and apply them to what is there now. Says which items changed and which a
        colleague had changed since this operator's local copy (`seen`). An object that does not
        exist yet raises NeedsHistory unless `entries` is the whole log (`complete`)."""
        by_target: dict[str, list[AuditEntry]] = {}
        for entry in entries:
            by_target.setdefault(target_of(entry, self.environment, self.shards), []).append(entry)
        pushed = Pushed()
        for name, mine in by_target.items():
            self._push_one(name, mine, log, apply, seen, me, pushed, complete)
        return pushed

    def _push_one(
        self,
        name: str,
        entries: list[AuditEntry],
        log: str,
        apply: Apply,
        seen: Callable[[str], ItemRecord | None],
        me: str,
        pushed: Pushed,
        complete: bool,
    ) -> None:
        import copy

        from kubernetes.client.exceptions import ApiException

        with self._lock:
            cached = self.objects.get(name)
        current = copy.deepcopy(cached) if cached is not None else self._get(name)
        for _ in range(50):
            if (current.version is None or log not in current.heads) and not complete:
                raise NeedsHistory(name)  # new, recreated, or new to this log: from its start
            head = int((current.heads.get(log) or {}).get("seq") or 0)
            conflicts: list[Conflict] = []
            for entry in entries:
                item = entry.fields.get("item")
                if entry.seq <= head or not isinstance(item, str):
                    continue
                theirs = current.items.get(item)
                first = all(c.item != item for c in conflicts)
                if theirs is not None and theirs != seen(item) and theirs.by != me and first:
                    conflicts.append(Conflict(item, theirs, entry.action))
            folded = fold(current, entries, log, apply)
            if not folded.entries:
                with self._lock:
                    known = self.objects.get(name)
                    if known is None or _newer(current.version, known.version):
                        pushed.written.append((known, copy.deepcopy(current)))
                        self.objects[name] = current
                return
            body: dict[str, Any] = {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {
                    "name": name,
                    "namespace": self.namespace,
                    "labels": {LABEL: self.label},
                },
                "data": encode(current),
            }
            try:
                if current.version is None:
                    self.requests["create"] += 1
                    answer = self._api().create_namespaced_config_map(
                        self.namespace, body, _preload_content=False, _request_timeout=TIMEOUT
                    )
                else:
                    body["metadata"]["resourceVersion"] = current.version
                    self.requests["update"] += 1
                    answer = self._api().replace_namespaced_config_map(
                        name,
                        self.namespace,
                        body,
                        _preload_content=False,
                        _request_timeout=TIMEOUT,
                    )
            except ApiException as exc:
                if exc.status in (404, 409):  # a colleague wrote it first (or deleted it):
                    current = self._get(name)  # apply ours to what is there now
                    continue
                raise self._unreachable(exc) from exc
            except Exception as exc:
                raise self._unreachable(exc) from exc
            stored = decode(raw_json(answer))
            with self._lock:
                known = self.objects.get(name)
                if known is None or _newer(stored.version, known.version):
                    self.objects[name] = stored
                    pushed.written.append((known, stored))
            pushed.changed.extend(folded.items)
            pushed.conflicts.extend(conflicts)
            return
        raise StoreUnreachable(
            f"shared progress ConfigMap {name} kept changing under 50 writes in a row",
            "too many cockpits write at once; try again",
        )

    # --- watching ------------------------------------------------------------------------------

    def watch(
        self,
        on_change: Callable[[list[tuple[ProgressObject | None, ProgressObject]]], None],
        on_reachable: Callable[[StoreUnreachable | None], None],
    ) -> None:
        """In a thread: list, then watch; `on_change([(before, after)])` for each object a
        write changed (other cockpits' and ours), `on_reachable(None)` when the store answers
        again and `on_reachable(error)` when it stops answering."""

        def run() -> None:
            backoff = 0.25
            while not self._stop.is_set():
                try:
                    with self._lock:
                        before = dict(self.objects)
                    version = self.load()
                    with self._lock:
                        after = dict(self.objects)
                    on_reachable(None)
                    backoff = 0.25
                    changes = [
                        (before.get(n), o)
                        for n, o in after.items()
                        if before.get(n) is None or before[n].version != o.version
                    ]
                    if changes:
                        on_change(changes)
                    while version and not self._stop.is_set():
                        version = self._watch_once(version, on_change)
                except StoreUnreachable as exc:
                    if self._stop.is_set():
                        return
                    on_reachable(exc)
                except CockpitError as exc:  # an object that does not parse: say it, retry
                    on_reachable(StoreUnreachable(exc.message, exc.hint))
                self._stop.wait(backoff)
                backoff = min(BACKOFF_CAP, backoff * 2)

        threading.Thread(target=run, name="shared-progress", daemon=True).start()

    def _watch_once(
        self,
        version: str,
        on_change: Callable[[list[tuple[ProgressObject | None, ProgressObject]]], None],
    ) -> str:
        from urllib3.exceptions import ProtocolError, ReadTimeoutError

        self.requests["watch"] += 1
        try:
            response = self._api().list_namespaced_config_map(
                self.namespace,
                label_selector=f"{LABEL}={self.label}",
                watch=True,
                resource_version=version,
                timeout_seconds=self.watch_seconds,
                allow_watch_bookmarks=True,
                _preload_content=False,
                _request_timeout=(TIMEOUT[0], self.watch_seconds + 5),
            )
        except Exception as exc:
            raise self._unreachable(exc) from exc
        self._response = response
        started = time.monotonic()
        try:
            for line in watch_lines(response):
                if self._stop.is_set():
                    break
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    if obj.get("code") == 410:  # too old a resourceVersion: list again
                        return ""
                    raise self._unreachable(RuntimeError(obj.get("message") or "watch error"))
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                if event.get("type") == "DELETED":
                    with self._lock:
                        self.objects.pop(str((obj.get("metadata") or {}).get("name")), None)
                    continue
                if event.get("type") not in ("ADDED", "MODIFIED"):  # BOOKMARK: version only
                    continue
                decoded = decode(obj)
                if decoded.name not in self.names:
                    continue
                with self._lock:
                    before = self.objects.get(decoded.name)
                    if before is not None and not _newer(decoded.version, before.version):
                        continue  # our own write, already known from its answer
                    self.objects[decoded.name] = decoded
                on_change([(before, decoded)])
        except (ReadTimeoutError, ProtocolError, OSError) as exc:
            raise self._unreachable(exc) from exc
        except ValueError as exc:
            raise self._unreachable(exc) from exc
        finally:
            self._response = None
            with contextlib.suppress(Exception):  # the connection is being dropped anyway
                response.release_conn()
        if time.monotonic() - started < 0.5 and not self._stop.is_set():
            self._stop.wait(0.5)  # a watch that ends at once must not spin
        return version

    def stop(self) -> None:
        self._stop.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):  # best effort: the thread is a daemon
                response.shutdown()

    def missing_verbs(self) -> list[str]:
        """The verbs on configmaps this operator lacks in the namespace (RBAC preflight)."""
        from kubernetes import client

        missing = []
        api = client.AuthorizationV1Api(self.client.get())
        for verb in ("get", "list", "watch", "create", "update"):
            body: Any = {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {
                    "resourceAttributes": {
                        "group": "",
                        "resource": "configmaps",
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
                raise self._unreachable(exc) from exc
            if not (review.get("status") or {}).get("allowed"):
                missing.append(verb)
        return missing


def _newer(candidate: str | None, known: str | None) -> bool:
    """resourceVersions are opaque, but one object's grow; compare as numbers when both are."""
    if known is None:
        return True
    if candidate is None:
        return False
    try:
        return int(candidate) > int(known)
    except ValueError:
        return candidate != known


def now_text() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S")


__all__ = [
    "SHARDS",
    "Conflict",
    "ProgressObject",
    "SharedProgress",
    "StoreUnreachable",
    "decode",
    "encode",
    "fold",
    "object_names",
    "shard_of",
]
