"""A pod's log subresource: a container's current or previous run, tailLines, timestamps, and
follow until the container restarts or the pod is gone."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from aiohttp import web

from cockpit.rehearsal.store import BY_PLURAL, JSON, ApiError, Store

if TYPE_CHECKING:
    from cockpit.rehearsal.kube import RehearsalCluster


async def serve_log(
    cluster: RehearsalCluster, store: Store, request: web.Request, pod: JSON
) -> web.StreamResponse:
    spec = pod.get("spec", {})
    containers = [c["name"] for c in spec.get("containers") or []]
    name = request.query.get("container")
    if name is None:
        if len(containers) != 1:
            raise ApiError(
                400,
                "BadRequest",
                f"a container name must be specified for pod {pod['metadata']['name']}, "
                f"choose one of: [{' '.join(containers)}]",
            )
        name = containers[0]
    if name not in containers + [c["name"] for c in spec.get("initContainers") or []]:
        raise ApiError(
            400,
            "BadRequest",
            f"container {name} is not valid for pod {pod['metadata']['name']}",
        )
    kubelet = cluster.kubelet
    entry = kubelet.log(pod, name)
    previous = request.query.get("previous") == "true"
    if previous and entry.previous is None:
        raise ApiError(
            400,
            "BadRequest",
            f'previous terminated container "{name}" in pod "{pod["metadata"]["name"]}" not found',
        )
    waiting = [
        cs
        for cs in pod.get("status", {}).get("containerStatuses") or []
        if cs.get("name") == name and "running" not in (cs.get("state") or {})
    ]
    if not previous and not entry.current and waiting:
        reason = (waiting[0].get("state") or {}).get("waiting", {}).get("reason", "")
        raise ApiError(
            400,
            "BadRequest",
            f'container "{name}" in pod "{pod["metadata"]["name"]}" is waiting to start: '
            + (
                "trying and failing to pull image"
                if "Pull" in reason
                else reason or "ContainerCreating"
            ),
        )
    lines = list(entry.previous or []) if previous else list(entry.current)
    tail = request.query.get("tailLines")
    if tail is not None:
        lines = lines[-int(tail) :] if int(tail) > 0 else []
    stamps = request.query.get("timestamps") == "true"

    def shown(line: str) -> str:
        return (line if stamps else line.split(" ", 1)[1]) + "\n"

    follow = request.query.get("follow") == "true" and not previous
    if not follow:
        return web.Response(text="".join(shown(line) for line in lines))
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    await response.prepare(request)
    for line in lines:
        await response.write(shown(line).encode())
    run = entry.current  # a restart starts a new list (the old one becomes previous)
    sent = len(run)
    meta = pod["metadata"]
    pods = BY_PLURAL[("", "pods")]
    try:
        while True:
            current = kubelet.log(pod, name)
            if current is not entry or current.current is not run:
                break  # the container restarted: a real follow ends with its run
            for line in current.current[sent:]:
                await response.write(shown(line).encode())
            sent = len(current.current)
            if store.find(pods, meta["namespace"], meta["name"]) is None:
                break
            if cluster.stopped_event and cluster.stopped_event.is_set():
                break
            await asyncio.sleep(0.1)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await response.write_eof()
    return response
