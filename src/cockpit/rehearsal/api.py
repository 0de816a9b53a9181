"""The rehearsal cluster's HTTP API: the REST protocol of a Kubernetes API server, on aiohttp.

Discovery, OpenAPI v2 and v3, get/list/watch with resourceVersions and 410 Gone, create,
update, delete (with propagation), the four patch types including server-side apply, dry runs
(`dryRun=All`: validated, defaulted, answered, never stored), the scale, status and log
subresources, access and identity reviews, Tables for `kubectl get`, label and field selectors.
What it does not serve it refuses as a real server does: 404, 405 or 415 with a Status object.

This module is the front door: faults, authentication, routing, RBAC and the verb; what each
route does is in discovery.py, request_bodies.py, reads.py, writes.py, access_reviews.py,
pod_logs.py and resource_metrics.py.
"""

from __future__ import annotations

import asyncio
import copy
from typing import TYPE_CHECKING

from aiohttp import web

from cockpit.rehearsal.access_reviews import answer_review
from cockpit.rehearsal.discovery import (
    api_group,
    group_list,
    openapi_document,
    resource_list,
    subresource_verbs,
)
from cockpit.rehearsal.patching import PatchError, json_patch, merge_patch, strategic_merge_patch
from cockpit.rehearsal.pod_logs import serve_log
from cockpit.rehearsal.reads import list_body, respond, scale_body, watch
from cockpit.rehearsal.request_bodies import (
    WARNINGS,
    decode_json,
    optional_body,
    read_body,
    unsupported_media,
    validate_fields,
)
from cockpit.rehearsal.resource_metrics import resource_metrics
from cockpit.rehearsal.store import (
    ADMIN_TOKEN,
    BY_PLURAL,
    JSON,
    NO_RESOURCE,
    SERVER_VERSION,
    VIEWER_TOKEN,
    ApiError,
    Store,
    status_body,
    status_details,
)
from cockpit.rehearsal.streams import STREAMED, Streams
from cockpit.rehearsal.writes import ObjectWriter, field_manager

if TYPE_CHECKING:
    from cockpit.rehearsal.kube import RehearsalCluster

HUGE_BODY = 48 * 2**20  # bytes of padding in a "huge" answer
STREAMS = ("proxy",)
USERS = {ADMIN_TOKEN: "rehearsal-admin", VIEWER_TOKEN: "rehearsal-viewer"}
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)


def _json(body: JSON, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _status(exc: ApiError) -> web.Response:
    return _json(exc.status(), exc.code)


class ApiServer:
    def __init__(self, cluster: RehearsalCluster) -> None:
        self.cluster = cluster
        self.streams = Streams(cluster)
        self.writes = ObjectWriter(cluster)

    @property
    def store(self) -> Store:
        assert self.cluster.store is not None
        return self.cluster.store

    def _user(self, token: str) -> str:
        return USERS.get(token) or self.cluster.tokens.get(token, "")

    # --- entry ---------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        cluster = self.cluster
        cluster.requests.append((request.method, request.path_qs))
        seen = {"User-Agent": request.headers.getall("User-Agent", [])}
        for name in request.headers:
            if name.lower().startswith("impersonate-"):
                seen[name] = request.headers.getall(name)
        cluster.request_headers.append(seen)
        fault = cluster.faults.api
        methods = cluster.faults.api_methods
        if methods is not None and request.method not in methods:
            fault = None
        if fault == "stall":
            stopped = cluster.stopped_event
            while cluster.faults.api == "stall" and not (stopped and stopped.is_set()):
                await asyncio.sleep(0.1)
            raise web.HTTPServiceUnavailable()  # the stall ended: drop this request
        if fault == "500":
            return _json(
                status_body(500, "InternalError", "rehearsal: the API server is failing"), 500
            )
        if fault == "garbage":
            return web.Response(body=b"\x00\x9fnot json{", content_type="application/json")
        if fault == "huge":
            padding = "x" * HUGE_BODY
            return _json(
                {"kind": "List", "metadata": {"resourceVersion": "1"}, "items": [], "pad": padding}
            )
        try:
            token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
            if token not in USERS and token not in cluster.tokens:
                raise ApiError(401, "Unauthorized", "Unauthorized")
            response = await self._route(request, token)
            for warning in request.get(WARNINGS, []):
                if not response.prepared:
                    quoted = warning.replace("\\", "\\\\").replace('"', '\\"')
                    response.headers.add("Warning", f'299 - "{quoted}"')
            return response
        except ApiError as exc:
            return _status(exc)
        except PatchError as exc:
            return _json(status_body(422, "Invalid", str(exc)), 422)
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            # a body or parameter of the wrong shape (`tailLines=x`, `metadata: "a"`): the API
            # server answers 400 for what it cannot decode, never a bare 500
            return _json(
                status_body(
                    400, "BadRequest", f"the request cannot be decoded: {type(exc).__name__}: {exc}"
                ),
                400,
            )

    # --- routing -------------------------------------------------------------------------------

    async def _route(self, request: web.Request, token: str) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if parts == ["version"]:
            return _json(SERVER_VERSION)
        if parts == ["api"]:
            return _json(
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {
                            "clientCIDR": "0.0.0.0/0",
                            "serverAddress": f"{self.cluster.host}:{self.cluster.port}",
                        }
                    ],
                }
            )
        if parts == ["apis"]:
            return _json(group_list())
        if parts == ["api", "v1"]:
            return _json(resource_list("", "v1"))
        if len(parts) == 3 and parts[0] == "apis":
            return _json(resource_list(parts[1], parts[2]))
        if len(parts) == 2 and parts[0] == "apis":
            found = api_group(parts[1])
            if found is None:
                raise ApiError(404, "NotFound", NO_RESOURCE)
            return _json(found)
        if parts and parts[0] == "openapi":
            return _json(openapi_document(request, parts[1:]))
        if parts and parts[0] in ("healthz", "readyz", "livez"):
            return web.Response(text="ok")
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts and parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", NO_RESOURCE)
        if group == "metrics.k8s.io":
            return _json(resource_metrics(self.cluster, self.store, request, version, rest))
        namespace: str | None = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise ApiError(404, "NotFound", NO_RESOURCE)
        kind = BY_PLURAL.get((group, rest[0]))
        if kind is None or kind.version != version:
            raise ApiError(404, "NotFound", NO_RESOURCE)
        if namespace is not None and not kind.namespaced:
            raise ApiError(404, "NotFound", NO_RESOURCE)
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        if kind.kind == "Pod" and subresource in STREAMED and name and namespace:
            # a WebSocket upgrade is a GET, yet it needs `create`, as API servers check since
            # 1.31 (AuthorizePodWebsocketUpgradeCreatePermission)
            verb = "create"
            if (verb, f"pods/{subresource}") in self.cluster.denied.get(token, set()):
                raise ApiError(
                    403,
                    "Forbidden",
                    f'pods "{name}" is forbidden: User "{self._user(token)}" cannot {verb} '
                    f'resource "pods/{subresource}" in API group "" in the namespace '
                    f'"{namespace}"',
                    {"name": name, "kind": "pods"},
                )
            return await self.streams.serve(request, namespace, name, subresource)
        if kind.kind == "Pod" and subresource in STREAMS:
            raise ApiError(
                404,
                "NotFound",
                f"pods/{subresource} is not served by the rehearsal cluster (use port-forward)",
            )
        if subresource is not None and subresource not in kind.subresources:
            raise ApiError(404, "NotFound", NO_RESOURCE)
        if kind.namespaced and namespace is None and (name is not None or request.method != "GET"):
            raise ApiError(404, "NotFound", NO_RESOURCE)
        verb = self._verb(request, name, subresource)
        allowed = kind.verbs if subresource is None else subresource_verbs(subresource)
        if verb not in allowed:
            raise ApiError(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
                status_details(kind, name or ""),
            )
        denied = self.cluster.denied.get(token, set())
        # a subresource (pods/log) is its own RBAC resource; denying the object denies it too
        resource = kind.plural if subresource is None else f"{kind.plural}/{subresource}"
        if (verb, kind.plural) in denied or (verb, resource) in denied:
            raise ApiError(
                403,
                "Forbidden",
                f'{kind.resource} "{name or ""}" is forbidden: User "{self._user(token)}" cannot '
                f'{verb} resource "{resource}" in API group "{kind.group}"'
                + (f' in the namespace "{namespace}"' if namespace else " at the cluster scope"),
                status_details(kind, name or ""),
            )
        dry_run = self._dry_run(request)
        ns = namespace if kind.namespaced and namespace is not None else ""
        if not kind.stored:
            body = await read_body(request, kind)
            return _json(answer_review(self.cluster, kind, body, token, self._user(token)), 201)
        if verb in ("list", "watch"):
            if verb == "watch":
                return await watch(self.cluster, self.store, request, kind, namespace)
            return respond(request, kind, list_body(self.store, request, kind, namespace))
        if verb == "get":
            assert name is not None
            obj = self.store.get(kind, ns, name)
            if subresource == "scale":
                return _json(scale_body(kind, obj))
            if subresource == "log":
                return await serve_log(self.cluster, self.store, request, obj)
            return respond(request, kind, obj)
        if verb == "create":
            body = await read_body(request, kind)
            self.writes.namespace_exists(kind, ns)
            created = self.writes.create(kind, ns, body, dry_run, field_manager(request))
            return _json(created, 201)
        if verb == "deletecollection":
            return _json(self.writes.delete_collection(request, kind, namespace, dry_run))
        assert name is not None
        if verb == "delete":
            options = await optional_body(request)
            return _json(self.writes.delete(request, kind, ns, name, options, dry_run))
        if verb == "update":
            body = await read_body(request, kind, subresource)
            current = self.store.get(kind, ns, name)
            return _json(
                self.writes.update(
                    kind, current, body, subresource, dry_run, field_manager(request)
                )
            )
        # patch
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type not in PATCH_TYPES:
            raise unsupported_media(content_type, PATCH_TYPES)
        raw = await request.read()
        if content_type == "application/apply-patch+yaml":
            return await self.writes.apply(request, kind, ns, name, subresource, raw, dry_run)
        patch = decode_json(raw)
        if subresource is None and content_type != "application/json-patch+json":
            validate_fields(request, kind, patch)
        current = self.store.get(kind, ns, name)
        base = copy.deepcopy(current if subresource != "scale" else scale_body(kind, current))
        if content_type == "application/json-patch+json":
            patched = json_patch(base, patch)
        elif content_type == "application/merge-patch+json":
            patched = merge_patch(base, patch)
        else:
            patched = strategic_merge_patch(base, patch)
        if subresource is None and content_type == "application/json-patch+json":
            validate_fields(request, kind, patched)
        return _json(
            self.writes.update(kind, current, patched, subresource, dry_run, field_manager(request))
        )

    def _verb(self, request: web.Request, name: str | None, subresource: str | None) -> str:
        method = request.method
        if method == "GET":
            if name is None:
                return "watch" if request.query.get("watch") in ("1", "true") else "list"
            return "get"
        if method == "DELETE" and name is None:
            return "deletecollection"
        if method == "POST" and name is not None:
            return "post-to-name"  # never allowed: 405
        return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
            method, method.lower()
        )

    def _dry_run(self, request: web.Request) -> bool:
        values = request.query.getall("dryRun", [])
        for value in values:
            if value != "All":
                raise ApiError(
                    400,
                    "BadRequest",
                    f'Invalid dryRun value: "{value}": supported values: "All"',
                )
        return bool(values)
