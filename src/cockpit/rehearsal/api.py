"""The rehearsal cluster's HTTP API: the REST protocol of a Kubernetes API server, on aiohttp.

Discovery, OpenAPI v2 and v3, get/list/watch with resourceVersions and 410 Gone, create,
update, delete (with propagation), the four patch types including server-side apply, dry runs
(`dryRun=All`: validated, defaulted, answered, never stored), the scale, status and log
subresources, access and identity reviews, Tables for `kubectl get`, label and field selectors.
What it does not serve it refuses as a real server does: 404, 405 or 415 with a Status object.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from typing import TYPE_CHECKING, Any

import yaml
from aiohttp import web

from cockpit.rehearsal import openapi
from cockpit.rehearsal.admission import admit, allocate_cluster_ip
from cockpit.rehearsal.patching import PatchError, json_patch, merge_patch, strategic_merge_patch
from cockpit.rehearsal.protobuf import ProtobufError, decode_object
from cockpit.rehearsal.selectors import selector
from cockpit.rehearsal.server_side_apply import record_update, server_side_apply
from cockpit.rehearsal.store import (
    ADMIN_TOKEN,
    BY_PLURAL,
    JSON,
    KINDS,
    NO_RESOURCE,
    SERVER_VERSION,
    VIEWER_TOKEN,
    ApiError,
    Kind,
    Store,
    not_found,
    now_iso,
    status_body,
    status_details,
)
from cockpit.rehearsal.streams import STREAMED, Streams
from cockpit.rehearsal.tables import table

if TYPE_CHECKING:
    from cockpit.rehearsal.kube import RehearsalCluster

WARNINGS = web.RequestKey("warnings", list[str])
HUGE_BODY = 48 * 2**20  # bytes of padding in a "huge" answer
STREAMS = ("proxy",)
USERS = {ADMIN_TOKEN: "rehearsal-admin", VIEWER_TOKEN: "rehearsal-viewer"}
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)


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


def _json(body: JSON, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


def _status(exc: ApiError) -> web.Response:
    return _json(exc.status(), exc.code)


def _unsupported_media(content_type: str, accepted: tuple[str, ...]) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(accepted)}",
        {"causes": [{"reason": "UnexpectedServerResponse", "message": content_type}]},
    )


class ApiServer:
    def __init__(self, cluster: RehearsalCluster) -> None:
        self.cluster = cluster
        self.streams = Streams(cluster)

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
            return _json(self._group_list())
        if parts == ["api", "v1"]:
            return _json(self._resource_list("", "v1"))
        if len(parts) == 3 and parts[0] == "apis":
            return _json(self._resource_list(parts[1], parts[2]))
        if len(parts) == 2 and parts[0] == "apis":
            found = self._group(parts[1])
            if found is None:
                raise ApiError(404, "NotFound", NO_RESOURCE)
            return _json(found)
        if parts and parts[0] == "openapi":
            return self._openapi(request, parts[1:])
        if parts and parts[0] in ("healthz", "readyz", "livez"):
            return web.Response(text="ok")
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif parts and parts[0] == "apis" and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", NO_RESOURCE)
        if group == "metrics.k8s.io":
            return self._metrics(request, version, rest)
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
        allowed = kind.verbs if subresource is None else self._subresource_verbs(subresource)
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
            body = await self._body(request, kind)
            return _json(self._review(kind, body, token), 201)
        if verb in ("list", "watch"):
            if verb == "watch":
                return await self._watch(request, kind, namespace)
            return self._respond(request, kind, self._list(request, kind, namespace))
        if verb == "get":
            assert name is not None
            obj = self.store.get(kind, ns, name)
            if subresource == "scale":
                return _json(self._scale_body(kind, obj))
            if subresource == "log":
                return await self._log(request, obj)
            return self._respond(request, kind, obj)
        if verb == "create":
            body = await self._body(request, kind)
            self._namespace_exists(kind, ns)
            created = self._create(kind, ns, body, dry_run, self._manager(request))
            return _json(created, 201)
        if verb == "deletecollection":
            return _json(self._delete_collection(request, kind, namespace, dry_run))
        assert name is not None
        if verb == "delete":
            options = await self._optional_body(request)
            return _json(self._delete(request, kind, ns, name, options, dry_run))
        if verb == "update":
            body = await self._body(request, kind, subresource)
            current = self.store.get(kind, ns, name)
            return _json(
                self._update(kind, current, body, subresource, dry_run, self._manager(request))
            )
        # patch
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type not in PATCH_TYPES:
            raise _unsupported_media(content_type, PATCH_TYPES)
        raw = await request.read()
        if content_type == "application/apply-patch+yaml":
            return await self._apply(request, kind, ns, name, subresource, raw, dry_run)
        patch = self._decode_json(raw)
        if subresource is None and content_type != "application/json-patch+json":
            self._validate_fields(request, kind, patch)
        current = self.store.get(kind, ns, name)
        base = copy.deepcopy(current if subresource != "scale" else self._scale_body(kind, current))
        if content_type == "application/json-patch+json":
            patched = json_patch(base, patch)
        elif content_type == "application/merge-patch+json":
            patched = merge_patch(base, patch)
        else:
            patched = strategic_merge_patch(base, patch)
        if subresource is None and content_type == "application/json-patch+json":
            self._validate_fields(request, kind, patched)
        return _json(
            self._update(kind, current, patched, subresource, dry_run, self._manager(request))
        )

    @staticmethod
    def _subresource_verbs(subresource: str) -> tuple[str, ...]:
        return ("get",) if subresource == "log" else ("get", "patch", "update")

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

    # --- bodies --------------------------------------------------------------------------------

    @staticmethod
    def _decode_json(raw: bytes) -> Any:
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(
                400, "BadRequest", f"the request body is not valid JSON: {exc}"
            ) from None

    async def _body(self, request: web.Request, kind: Kind, subresource: str | None = None) -> JSON:
        raw = await request.read()
        content_type = request.headers.get("Content-Type", "application/json").split(";")[0]
        if content_type.strip() == "application/vnd.kubernetes.protobuf":
            try:
                body = decode_object(raw)
            except ProtobufError as exc:
                raise _unsupported_media(
                    f"application/vnd.kubernetes.protobuf ({exc})",
                    ("application/json", "application/yaml"),
                ) from None
        elif content_type.strip() in ("application/json", ""):
            body = self._decode_json(raw)
        elif content_type.strip() == "application/yaml":
            try:
                body = yaml.safe_load(raw)
            except yaml.YAMLError as exc:
                raise ApiError(
                    400, "BadRequest", f"the request body is not valid YAML: {exc}"
                ) from None
        else:
            raise _unsupported_media(
                content_type,
                ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf"),
            )
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the request body is not an object")
        sent = (body.get("apiVersion"), body.get("kind"))
        expected = (
            ("autoscaling/v1", "Scale")
            if subresource == "scale"
            else (
                kind.api_version,
                kind.kind,
            )
        )
        if sent not in ((None, None), expected):
            raise ApiError(
                400,
                "BadRequest",
                f"the API version in the data ({sent[0]}) does not match the expected API "
                f"version ({expected[0]})"
                if sent[0] != expected[0]
                else f"{sent[1]} in version {expected[0]!r} cannot be handled as a {expected[1]}",
            )
        if subresource != "scale":
            self._validate_fields(request, kind, body)
        return body

    def _validate_fields(self, request: web.Request, kind: Kind, body: Any) -> None:
        """fieldValidation: Strict refuses unknown fields; Warn and Ignore (the default) drop
        them, Warn with a warning per field, as a real API server does."""
        if not isinstance(body, dict):
            return
        mode = request.query.get("fieldValidation", "Ignore")
        if mode not in ("Ignore", "Warn", "Strict"):
            raise ApiError(
                400,
                "BadRequest",
                f'Invalid field validation directive: "{mode}": supported values: "Ignore", '
                '"Warn", "Strict"',
            )
        unknown = openapi.unknown_fields(kind, body, prune=mode != "Strict")
        if unknown and mode == "Strict":
            raise ApiError(
                400,
                "BadRequest",
                f'{kind.kind} in version "{kind.version}" cannot be handled as a '
                f"{kind.kind}: strict decoding error: "
                + ", ".join(f'unknown field "{f}"' for f in unknown),
            )
        if unknown and mode == "Warn":
            request[WARNINGS] = [f'unknown field "{f}"' for f in unknown]

    async def _optional_body(self, request: web.Request) -> JSON:
        raw = await request.read()
        if not raw.strip():
            return {}
        if "protobuf" in request.headers.get("Content-Type", ""):
            try:
                return decode_object(raw)
            except ProtobufError:
                return {}
        body = self._decode_json(raw)
        return body if isinstance(body, dict) else {}

    def _namespace_exists(self, kind: Kind, namespace: str) -> None:
        if kind.namespaced:
            namespaces = BY_PLURAL[("", "namespaces")]
            if self.store.find(namespaces, "", namespace) is None:
                raise not_found(namespaces, namespace)

    # --- writes --------------------------------------------------------------------------------

    def _stored_form(self, kind: Kind, obj: JSON) -> JSON:
        if kind.kind == "Service":
            taken = {
                s.get("spec", {}).get("clusterIP", "")
                for s in self.store.list(kind, None)
                if s["metadata"]["uid"] != obj["metadata"].get("uid")
            }
            allocate_cluster_ip(obj, taken)
        return obj

    @staticmethod
    def _manager(request: web.Request) -> str:
        """The field manager: as sent, or the client's user agent up to its first `/`."""
        sent = request.query.get("fieldManager")
        return sent or request.headers.get("User-Agent", "unknown").split("/", 1)[0]

    def _create(
        self, kind: Kind, namespace: str, body: JSON, dry_run: bool, manager: str | None
    ) -> JSON:
        meta = body.setdefault("metadata", {})
        if kind.namespaced:
            sent = meta.get("namespace")
            if sent and sent != namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request",
                )
            meta["namespace"] = namespace
        for key in ("resourceVersion", "uid", "creationTimestamp", "deletionTimestamp"):
            meta.pop(key, None)
        if kind.kind not in ("Pod", "Namespace", "Node", "Service"):
            body.pop("status", None)
        admit(kind, body, None)
        if manager is not None:
            meta.pop("managedFields", None)
            record_update(kind, None, body, manager)
        created = self.store.put(kind, self._stored_form(kind, body), create=True, dry_run=dry_run)
        self._notify()
        return copy.deepcopy(created)

    def _update(
        self,
        kind: Kind,
        current: JSON,
        body: JSON,
        subresource: str | None,
        dry_run: bool,
        manager: str | None,
    ) -> JSON:
        meta = body.setdefault("metadata", {}) if isinstance(body, dict) else None
        if meta is None:
            raise ApiError(400, "BadRequest", "the request body is not an object")
        wanted_rv = meta.get("resourceVersion")
        if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f"Operation cannot be fulfilled on {kind.resource} "
                f'"{current["metadata"]["name"]}": the object has been modified; please apply '
                "your changes to the latest version and try again",
                status_details(kind, current["metadata"]["name"]),
            )
        if meta.get("name") not in (None, current["metadata"]["name"]):
            raise ApiError(
                400, "BadRequest", "the name of the object does not match the name on the URL"
            )
        if subresource == "status":
            merged = copy.deepcopy(current)
            merged["status"] = body.get("status", {})
            body = merged
        elif subresource == "scale":
            replicas = body.get("spec", {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiError(
                    422,
                    "Invalid",
                    f'Scale.autoscaling "{current["metadata"]["name"]}" is invalid: '
                    "spec.replicas: Invalid value: must be greater than or equal to 0",
                )
            merged = copy.deepcopy(current)
            merged["spec"]["replicas"] = replicas
            body = merged
            if manager is not None:
                record_update(kind, current, body, manager)
        else:
            for key in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
                if key in current["metadata"]:
                    meta[key] = current["metadata"][key]
            meta["name"] = current["metadata"]["name"]
            if kind.namespaced:
                meta["namespace"] = current["metadata"]["namespace"]
            if "status" in current:
                body["status"] = copy.deepcopy(current["status"])  # status only via /status
            if "managedFields" not in meta and "managedFields" in current["metadata"]:
                meta["managedFields"] = current["metadata"]["managedFields"]
            admit(kind, body, current)
            if manager is not None:
                meta["managedFields"] = current["metadata"].get("managedFields", [])
                record_update(kind, current, body, manager)
        updated = self.store.put(kind, self._stored_form(kind, body), dry_run=dry_run)
        self._notify()
        if subresource == "scale":
            return self._scale_body(kind, updated)
        return copy.deepcopy(updated)

    async def _apply(
        self,
        request: web.Request,
        kind: Kind,
        namespace: str,
        name: str,
        subresource: str | None,
        raw: bytes,
        dry_run: bool,
    ) -> web.Response:
        manager = request.query.get("fieldManager")
        if not manager:
            raise ApiError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                "required for apply patch",
            )
        if subresource is not None:
            raise ApiError(404, "NotFound", NO_RESOURCE)
        try:
            intent = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ApiError(400, "BadRequest", f"error decoding YAML: {exc}") from None
        if not isinstance(intent, dict):
            raise ApiError(400, "BadRequest", "the apply patch is not an object")
        force = request.query.get("force") == "true"
        current = self.store.find(kind, namespace, name)
        merged = server_side_apply(kind, current, intent, manager, force)
        meta = merged.setdefault("metadata", {})
        meta["name"] = name
        if current is None:
            self._namespace_exists(kind, namespace)
            return _json(self._create(kind, namespace, merged, dry_run, None), 201)
        meta.pop("resourceVersion", None)
        if intent.get("metadata", {}).get("resourceVersion"):
            meta["resourceVersion"] = intent["metadata"]["resourceVersion"]
        return _json(self._update(kind, current, merged, None, dry_run, None))

    def _delete(
        self,
        request: web.Request,
        kind: Kind,
        namespace: str,
        name: str,
        options: JSON,
        dry_run: bool,
    ) -> JSON:
        dry_run = dry_run or "All" in (options.get("dryRun") or [])
        propagation = request.query.get("propagationPolicy") or options.get(
            "propagationPolicy", "Background"
        )
        if propagation not in ("Background", "Foreground", "Orphan"):
            raise ApiError(
                400,
                "BadRequest",
                f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
                f'"{propagation}": supported values: "Foreground", "Background", "Orphan", "nil"',
            )
        current = self.store.get(kind, namespace, name)
        wanted_uid = (options.get("preconditions") or {}).get("uid")
        wanted_rv = (options.get("preconditions") or {}).get("resourceVersion")
        if (wanted_uid and wanted_uid != current["metadata"]["uid"]) or (
            wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]
        ):
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {kind.resource} "{name}": Precondition failed',
            )
        if dry_run:
            return copy.deepcopy(current)
        if propagation == "Foreground":
            marked = copy.deepcopy(current)
            marked["metadata"]["deletionTimestamp"] = now_iso()
            finalizers = marked["metadata"].setdefault("finalizers", [])
            if "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            stored = self.store.put(kind, marked)
            self._notify()
            return copy.deepcopy(stored)
        if propagation == "Orphan":
            self._orphan(current["metadata"]["uid"])
        deleted = self.store.delete(kind, namespace, name)
        if kind.kind == "Pod":
            self.cluster.kubelet.forget(deleted)
        self._notify()
        return copy.deepcopy(deleted)

    def _orphan(self, uid: str) -> None:
        for kind in KINDS:
            if not kind.stored:
                continue
            for obj in self.store.list(kind, None):
                refs = obj["metadata"].get("ownerReferences") or []
                if any(ref.get("uid") == uid for ref in refs):
                    freed = copy.deepcopy(obj)
                    freed["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                    if not freed["metadata"]["ownerReferences"]:
                        del freed["metadata"]["ownerReferences"]
                    self.store.put(kind, freed)

    def _delete_collection(
        self, request: web.Request, kind: Kind, namespace: str | None, dry_run: bool
    ) -> JSON:
        listed = self._list(request, kind, namespace)
        if not dry_run:
            for obj in listed["items"]:
                self.store.delete(
                    kind, obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
                )
            self._notify()
        return listed

    def _notify(self) -> None:
        task = asyncio.get_running_loop().create_task(self.store.notify())
        self.cluster.background.add(task)
        task.add_done_callback(self.cluster.background.discard)

    # --- reviews, scale, logs, metrics ----------------------------------------------------------

    def _review(self, kind: Kind, body: JSON, token: str) -> JSON:
        review = copy.deepcopy(body)
        review.update({"kind": kind.kind, "apiVersion": kind.api_version})
        review.setdefault("metadata", {})
        review["metadata"].setdefault("creationTimestamp", None)
        if kind.kind == "SelfSubjectReview":
            review["status"] = {
                "userInfo": {
                    "username": self._user(token),
                    "groups": ["system:authenticated"],
                }
            }
            return review
        if kind.kind == "SelfSubjectRulesReview":
            review["status"] = {
                "resourceRules": self._rules(token),
                "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["*"]}],
                "incomplete": False,
            }
            return review
        spec = review.setdefault("spec", {})
        attributes = spec.get("resourceAttributes")
        if attributes is None and spec.get("nonResourceAttributes") is None:
            raise ApiError(
                422,
                "Invalid",
                'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.'
                'resourceAttributes: Invalid value: "null": exactly one of '
                "nonResourceAttributes or resourceAttributes must be specified",
            )
        attributes = attributes or {}
        verb = attributes.get("verb", "")
        resource = attributes.get("resource", "")
        if attributes.get("subresource"):
            resource = f"{resource}/{attributes['subresource']}"
        denied = self.cluster.denied.get(token, set())
        allowed = (verb, resource) not in denied and not (verb == "*" and denied)
        review["status"] = {"allowed": allowed}
        if not allowed:
            review["status"]["reason"] = f"rehearsal RBAC: this user may not {verb} {resource}"
        return review

    def _rules(self, token: str) -> list[JSON]:
        """The caller's rights as RBAC rules: everything, less what it is denied (rules only
        add, so a resource with a denied verb is listed with the verbs that remain)."""
        denied = self.cluster.denied.get(token, set())
        if not denied:
            return [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
        rules: list[JSON] = []
        for kind in KINDS:
            verbs = [v for v in kind.verbs if (v, kind.plural) not in denied]
            if verbs:
                rules.append(
                    {
                        "verbs": verbs if len(verbs) < len(kind.verbs) else ["*"],
                        "apiGroups": [kind.group],
                        "resources": [kind.plural],
                    }
                )
        return rules

    def _scale_body(self, kind: Kind, obj: JSON) -> JSON:
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

    async def _log(self, request: web.Request, pod: JSON) -> web.StreamResponse:
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
        kubelet = self.cluster.kubelet
        entry = kubelet.log(pod, name)
        previous = request.query.get("previous") == "true"
        if previous and entry.previous is None:
            raise ApiError(
                400,
                "BadRequest",
                f'previous terminated container "{name}" in pod "{pod["metadata"]["name"]}" '
                "not found",
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
                if self.store.find(pods, meta["namespace"], meta["name"]) is None:
                    break
                if self.cluster.stopped_event and self.cluster.stopped_event.is_set():
                    break
                await asyncio.sleep(0.1)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response

    def _metrics(self, request: web.Request, version: str, rest: list[str]) -> web.Response:
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
                    "usage": self.cluster.kubelet.node_usage(),
                }
                for node in self.store.list(BY_PLURAL[("", "nodes")], None)
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
                    "containers": self.cluster.kubelet.pod_usage(pod),
                }
                for pod in self.store.list(BY_PLURAL[("", "pods")], namespace)
                if match(pod) and pod.get("status", {}).get("phase") == "Running"
            ]
            kind = "PodMetrics"
        if len(rest) == 2:
            found = [i for i in items if i["metadata"]["name"] == rest[1]]
            if not found:
                raise ApiError(404, "NotFound", f'{rest[0]}.metrics.k8s.io "{rest[1]}" not found')
            return _json({"kind": kind, "apiVersion": "metrics.k8s.io/v1beta1", **found[0]})
        return _json(
            {
                "kind": f"{kind}List",
                "apiVersion": "metrics.k8s.io/v1beta1",
                "metadata": {},
                "items": items,
            }
        )

    # --- list, watch, tables -------------------------------------------------------------------

    def _list(self, request: web.Request, kind: Kind, namespace: str | None) -> JSON:
        match = selector(
            kind, request.query.get("labelSelector", ""), request.query.get("fieldSelector", "")
        )
        items = [o for o in self.store.list(kind, namespace) if match(o)]
        return {
            "kind": f"{kind.kind}List",
            "apiVersion": kind.api_version,
            "metadata": {"resourceVersion": str(self.store.rv)},
            "items": copy.deepcopy(items),
        }

    def _respond(self, request: web.Request, kind: Kind, body: JSON) -> web.Response:
        if "as=Table" in request.headers.get("Accept", ""):
            return _json(table(kind, body))
        return _json(body)

    async def _watch(
        self, request: web.Request, kind: Kind, namespace: str | None
    ) -> web.StreamResponse:
        store = self.store
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
            self.cluster.watch_tasks.add(task)
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
                    if (
                        namespace is not None
                        and event.obj["metadata"].get("namespace") != namespace
                    ):
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
                self.cluster.watch_tasks.discard(task)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response

    # --- discovery and OpenAPI ------------------------------------------------------------------

    def _group_list(self) -> JSON:
        groups = sorted({k.group for k in KINDS if k.group} | {"metrics.k8s.io"})
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [self._group(g) for g in groups],
        }

    def _group(self, group: str) -> JSON | None:
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

    def _resource_list(self, group: str, version: str) -> JSON:
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
                        "verbs": list(self._subresource_verbs(sub)),
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

    def _openapi(self, request: web.Request, parts: list[str]) -> web.Response:
        accept = request.headers.get("Accept", "")
        if parts == ["v2"]:
            if "json" not in accept and accept not in ("", "*/*"):
                raise ApiError(
                    406,
                    "NotAcceptable",
                    "only the following media types are accepted: application/json",
                )
            return _json(openapi.v2_document())
        if parts == ["v3"]:
            return _json(openapi.v3_index())
        if parts[:1] == ["v3"]:
            document = openapi.v3_document("/".join(parts[1:]))
            if document is None:
                raise ApiError(404, "NotFound", NO_RESOURCE)
            return _json(document)
        raise ApiError(404, "NotFound", NO_RESOURCE)
