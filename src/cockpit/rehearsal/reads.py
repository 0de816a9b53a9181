"""Reading objects: lists with label and field selectors, Tables for `kubectl get`, watches
from a resourceVersion (410 Gone when it is too old), and an object's scale subresource."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from cockpit.rehearsal.selectors import selector
from cockpit.rehearsal.store import JSON, ApiError, Kind, Store, status_body
from cockpit.rehearsal.tables import table

if TYPE_CHECKING:
    from cockpit.rehearsal.kube import RehearsalCluster


def list_body(store: Store, request: web.Request, kind: Kind, namespace: str | None) -> JSON:
    match = selector(
        kind, request.query.get("labelSelector", ""), request.query.get("fieldSelector", "")
    )
    items = [o for o in store.list(kind, namespace) if match(o)]
    return {
        "kind": f"{kind.kind}List",
        "apiVersion": kind.api_version,
        "metadata": {"resourceVersion": str(store.rv)},
        "items": copy.deepcopy(items),
    }


def respond(request: web.Request, kind: Kind, body: JSON) -> web.Response:
    if "as=Table" in request.headers.get("Accept", ""):
        return web.json_response(table(kind, body))
    return web.json_response(body)


async def watch(
    cluster: RehearsalCluster,
    store: Store,
    request: web.Request,
    kind: Kind,
    namespace: str | None,
) -> web.StreamResponse:
    match = selector(
        kind, request.query.get("labelSelector", ""), request.query.get("fieldSelector", "")
    )
    as_table = "as=Table" in request.headers.get("Accept", "")
    since_raw = request.query.get("resourceVersion", "")
    try:
        timeout = float(request.query.get("timeoutSeconds", "1800"))
        int(since_raw or "0")
    except ValueError as exc:
        raise ApiError(400, "BadRequest", f"invalid watch parameter: {exc}") from None
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    task = asyncio.current_task()
    if task is not None:
        cluster.watch_tasks.add(task)
    deadline = time.monotonic() + timeout
    initial = request.query.get("sendInitialEvents") == "true"
    bookmarks = request.query.get("allowWatchBookmarks") == "true"

    async def send(event_type: str, obj: JSON) -> None:
        if as_table and event_type not in {"ERROR", "BOOKMARK"}:
            obj = table(kind, obj)
        line = json.dumps({"type": event_type, "object": obj}) + "\n"
        await response.write(line.encode())

    try:
        if since_raw in ("", "0") or initial:
            since = store.rv
            for obj in store.list(kind, namespace):
                if match(obj):
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
            for event in _events_after(store, since):
                since = event.rv
                if event.kind is not kind:
                    continue
                if namespace is not None and event.obj["metadata"].get("namespace") != namespace:
                    continue
                if match(event.obj):
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
            cluster.watch_tasks.discard(task)
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await response.write_eof()
    return response


def scale_body(kind: Kind, obj: JSON) -> JSON:
    """An object as its scale subresource shows it (autoscaling/v1 Scale)."""
    labels = (obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": obj.get("spec", {}).get("replicas", 0)},
        "status": {
            "replicas": obj.get("status", {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        },
    }


def _events_after(store: Store, since: int) -> list[Any]:
    """The change log's events after `since`, read from the newest back (a watcher woken by
    one write reads that write, not the whole log)."""
    newer = []
    for event in reversed(store.log):
        if event.rv <= since:
            break
        newer.append(event)
    newer.reverse()
    return newer
