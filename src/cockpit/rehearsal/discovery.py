"""Discovery and OpenAPI: the API groups, versions and resources (with their verbs and
subresources) kubectl reads and caches, and the OpenAPI v2 and v3 documents."""

from __future__ import annotations

from aiohttp import web

from cockpit.rehearsal import openapi
from cockpit.rehearsal.store import JSON, KINDS, NO_RESOURCE, ApiError
from cockpit.rehearsal.streams import STREAMED


def subresource_verbs(subresource: str) -> tuple[str, ...]:
    return ("get",) if subresource == "log" else ("get", "patch", "update")


def group_list() -> JSON:
    groups = sorted({k.group for k in KINDS if k.group} | {"metrics.k8s.io"})
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [api_group(g) for g in groups],
    }


def api_group(group: str) -> JSON | None:
    versions = sorted({k.version for k in KINDS if k.group == group})
    if group == "metrics.k8s.io":
        versions = ["v1beta1"]
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


def resource_list(group: str, version: str) -> JSON:
    if (group, version) == ("metrics.k8s.io", "v1beta1"):
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": "metrics.k8s.io/v1beta1",
            "resources": [
                {
                    "name": plural,
                    "singularName": "",
                    "namespaced": plural == "pods",
                    "kind": kind,
                    "verbs": ["get", "list"],
                }
                for plural, kind in (("nodes", "NodeMetrics"), ("pods", "PodMetrics"))
            ],
        }
    kinds = [k for k in KINDS if k.group == group and k.version == version]
    if not kinds:
        raise ApiError(404, "NotFound", NO_RESOURCE)
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
                **({"categories": list(k.categories)} if k.categories else {}),
            }
        )
        for sub in k.subresources:
            scale = sub == "scale"
            resources.append(
                {
                    "name": f"{k.plural}/{sub}",
                    "singularName": "",
                    "namespaced": k.namespaced,
                    **({"group": "autoscaling", "version": "v1"} if scale else {}),
                    "kind": "Scale" if scale else ("Pod" if sub == "log" else k.kind),
                    "verbs": list(subresource_verbs(sub)),
                }
            )
        if k.kind == "Pod":
            resources.extend(
                {
                    "name": f"pods/{sub}",
                    "singularName": "",
                    "namespaced": True,
                    "kind": {"portforward": "PodPortForwardOptions"}.get(
                        sub, f"Pod{sub.capitalize()}Options"
                    ),
                    "verbs": ["create", "get"],
                }
                for sub in STREAMED
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


def openapi_document(request: web.Request, parts: list[str]) -> JSON:
    accept = request.headers.get("Accept", "")
    if parts == ["v2"]:
        if "json" not in accept and accept not in ("", "*/*"):
            raise ApiError(
                406,
                "NotAcceptable",
                "only the following media types are accepted: application/json",
            )
        return openapi.v2_document()
    if parts == ["v3"]:
        return openapi.v3_index()
    if parts[:1] == ["v3"]:
        document = openapi.v3_document("/".join(parts[1:]))
        if document is None:
            raise ApiError(404, "NotFound", NO_RESOURCE)
        return document
    raise ApiError(404, "NotFound", NO_RESOURCE)
