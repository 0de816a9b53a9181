"""OpenAPI v2 and v3 documents for the kinds the rehearsal serves, generated from the
schemas of schemas.py.

kubectl reads them to learn that the server validates fields itself (`fieldValidation` on each
PATCH operation, so `apply`, `create -f` and `diff` send `fieldValidation=Strict`), to merge
lists by key in client-side apply (`x-kubernetes-patch-merge-key`), and for `explain`. The
schemas are ours and minimal: the objects a runbook writes are closed (an unknown field is
refused under Strict validation, as a real server refuses it), the rest is left open
(`x-kubernetes-preserve-unknown-fields`) rather than described wrongly.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from cockpit.rehearsal.schemas import OPEN, all_schemas, component_of, gvk, ref
from cockpit.rehearsal.store import JSON, KINDS, SERVER_VERSION, Kind

_QUERY = {
    "dryRun": "When present, the request is validated and answered, never stored.",
    "fieldManager": "The name of the actor making the change.",
    "fieldValidation": "Ignore, Warn or Strict: what to do with unknown or duplicate fields.",
    "force": "Apply: take over fields other managers own.",
}


def _parameters(*names: str) -> list[JSON]:
    return [
        {
            "name": name,
            "in": "query",
            "description": _QUERY[name],
            "schema": {"type": "boolean" if name == "force" else "string", "uniqueItems": True},
        }
        for name in names
    ]


def _operation(kind: Kind, action: str, component: str, *params: str, body: bool = False) -> JSON:
    operation: JSON = {
        "operationId": f"{action}{kind.kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk(kind)[0],
        "parameters": _parameters(*params),
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": ref(component)}},
            }
        },
    }
    if body:
        media = ["application/json"]
        if action == "patch":
            media = [
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
                "application/apply-patch+yaml",
            ]
        operation["requestBody"] = {
            "content": {
                m: {"schema": ref(component) if action != "patch" else OPEN} for m in media
            },
            "required": True,
        }
    return operation


def _paths(kinds: list[Kind]) -> JSON:
    paths: JSON = {}
    for kind in kinds:
        component = component_of(kind)
        if component is None:
            continue
        root = f"/apis/{kind.group}/{kind.version}" if kind.group else "/api/v1"
        collection = (
            f"{root}/namespaces/{{namespace}}/{kind.plural}"
            if kind.namespaced
            else f"{root}/{kind.plural}"
        )
        ops: JSON = {}
        if "list" in kind.verbs:
            ops["get"] = _operation(kind, "list", component)
        if "create" in kind.verbs:
            ops["post"] = _operation(
                kind, "post", component, "dryRun", "fieldManager", "fieldValidation", body=True
            )
        paths[collection] = ops
        if "get" in kind.verbs:
            paths[f"{collection}/{{name}}"] = {
                "get": _operation(kind, "get", component),
                "put": _operation(
                    kind, "put", component, "dryRun", "fieldManager", "fieldValidation", body=True
                ),
                "patch": _operation(
                    kind,
                    "patch",
                    component,
                    "dryRun",
                    "fieldManager",
                    "fieldValidation",
                    "force",
                    body=True,
                ),
                "delete": _operation(kind, "delete", component, "dryRun"),
            }
    return paths


def _used(schema: Any, names: set[str], table: dict[str, JSON]) -> None:
    if isinstance(schema, dict):
        target = schema.get("$ref", "")
        if isinstance(target, str) and target.startswith("#/components/schemas/"):
            name = target.rsplit("/", 1)[1]
            if name not in names:
                names.add(name)
                _used(table[name], names, table)
        for value in schema.values():
            _used(value, names, table)
    elif isinstance(schema, list):
        for value in schema:
            _used(value, names, table)


def _group_version(path: str) -> tuple[str, str] | None:
    parts = path.strip("/").split("/")
    if parts == ["api", "v1"]:
        return "", "v1"
    if len(parts) == 3 and parts[0] == "apis":
        return parts[1], parts[2]
    return None


@cache
def v3_document(path: str) -> JSON | None:
    """The OpenAPI 3.0 document of one group version (`api/v1`, `apis/apps/v1`)."""
    found = _group_version(path)
    kinds = [k for k in KINDS if found and (k.group, k.version) == found]
    if not kinds:
        return None
    paths = _paths(kinds)
    table = all_schemas()
    names: set[str] = set()
    _used(paths, names, table)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (rehearsal)", "version": SERVER_VERSION["gitVersion"]},
        "paths": paths,
        "components": {"schemas": {name: table[name] for name in sorted(names)}},
    }


@cache
def v3_index() -> JSON:
    paths: JSON = {}
    for group, version in sorted({(k.group, k.version) for k in KINDS}):
        path = f"apis/{group}/{version}" if group else "api/v1"
        digest = hashlib.sha512(json.dumps(v3_document(path), sort_keys=True).encode()).hexdigest()
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest[:128].upper()}"}
    return {"paths": paths}


def _to_v2(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if key == "$ref":
                out[key] = value.replace("#/components/schemas/", "#/definitions/")
            else:
                out[key] = _to_v2(value)
        return out
    if isinstance(schema, list):
        return [_to_v2(v) for v in schema]
    return schema


@cache
def v2_document() -> JSON:
    """Swagger 2.0: the same schemas and paths, for clients that read `/openapi/v2` as JSON."""
    paths = _paths(list(KINDS))
    for operations in paths.values():
        for operation in operations.values():
            body = operation.pop("requestBody", None)
            params = [
                {k: v for k, v in p.items() if k != "schema"} | {"type": p["schema"]["type"]}
                for p in operation["parameters"]
            ]
            if body is not None:
                params.append({"name": "body", "in": "body", "required": True, "schema": OPEN})
            operation["parameters"] = params
            operation["responses"] = {
                "200": {
                    "description": "OK",
                    "schema": operation["responses"]["200"]["content"]["application/json"][
                        "schema"
                    ],
                }
            }
    document: JSON = _to_v2(
        {
            "swagger": "2.0",
            "info": {"title": "Kubernetes (rehearsal)", "version": SERVER_VERSION["gitVersion"]},
            "paths": paths,
            "definitions": all_schemas(),
        }
    )
    return document
