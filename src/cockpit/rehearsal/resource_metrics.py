"""metrics.k8s.io as metrics-server serves it (`kubectl top`): each running pod's and the
node's usage, from the rehearsal kubelet."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from cockpit.rehearsal.selectors import selector
from cockpit.rehearsal.store import BY_PLURAL, JSON, NO_RESOURCE, ApiError, Store, now_iso

if TYPE_CHECKING:
    from cockpit.rehearsal.kube import RehearsalCluster


def resource_metrics(
    cluster: RehearsalCluster, store: Store, request: web.Request, version: str, rest: list[str]
) -> JSON:
    """metrics.k8s.io as metrics-server serves it: usage of each running pod and the node."""
    if version != "v1beta1":
        raise ApiError(404, "NotFound", NO_RESOURCE)
    if request.method != "GET":
        raise ApiError(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    if not rest or rest[0] not in ("pods", "nodes") or len(rest) > 2:
        raise ApiError(404, "NotFound", NO_RESOURCE)
    stamp = now_iso()
    match = selector(
        BY_PLURAL[("", rest[0])],
        request.query.get("labelSelector", ""),
        request.query.get("fieldSelector", ""),
    )
    items: list[JSON]
    if rest[0] == "nodes":
        items = [
            {
                "metadata": {
                    "name": node["metadata"]["name"],
                    "labels": node["metadata"].get("labels", {}),
                    "creationTimestamp": stamp,
                },
                "timestamp": stamp,
                "window": "20s",
                "usage": cluster.kubelet.node_usage(),
            }
            for node in store.list(BY_PLURAL[("", "nodes")], None)
            if match(node)
        ]
        kind = "NodeMetrics"
    else:
        items = [
            {
                "metadata": {
                    "name": pod["metadata"]["name"],
                    "namespace": pod["metadata"]["namespace"],
                    "labels": pod["metadata"].get("labels", {}),
                    "creationTimestamp": stamp,
                },
                "timestamp": stamp,
                "window": "20s",
                "containers": cluster.kubelet.pod_usage(pod),
            }
            for pod in store.list(BY_PLURAL[("", "pods")], namespace)
            if match(pod) and pod.get("status", {}).get("phase") == "Running"
        ]
        kind = "PodMetrics"
    if len(rest) == 2:
        found = [i for i in items if i["metadata"]["name"] == rest[1]]
        if not found:
            raise ApiError(404, "NotFound", f'{rest[0]}.metrics.k8s.io "{rest[1]}" not found')
        return {"kind": kind, "apiVersion": "metrics.k8s.io/v1beta1", **found[0]}
    return {
        "kind": f"{kind}List",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {},
        "items": items,
    }
