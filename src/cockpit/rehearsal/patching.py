"""The three patch flavours the Kubernetes API accepts, as the rehearsal cluster applies them.

JSON Patch (RFC 6902) exactly; JSON Merge Patch (RFC 7386) exactly; strategic merge patch for
the cases kubectl produces (`set image`, pause/resume, annotations): maps merge, `null`
deletes, and lists of named objects (containers, env, volumes...) merge by their `name`.
"""

from __future__ import annotations

import copy
from typing import Any


class PatchError(Exception):
    """The patch does not apply; the message says why (sent back as 422)."""


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _walk(document: Any, path: str) -> tuple[Any, str]:
    if not path.startswith("/"):
        raise PatchError(f"path {path!r} must start with /")
    tokens = [_unescape(t) for t in path.split("/")[1:]]
    parent = document
    for token in tokens[:-1]:
        if isinstance(parent, list):
            try:
                parent = parent[int(token)]
            except (ValueError, IndexError) as exc:
                raise PatchError(f"path {path!r} does not exist") from exc
        elif isinstance(parent, dict) and token in parent:
            parent = parent[token]
        else:
            raise PatchError(f"path {path!r} does not exist")
    return parent, tokens[-1]


def json_patch(document: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise PatchError("a JSON patch is a list of operations")
    result = copy.deepcopy(document)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"malformed operation {op!r}")
        kind, path = op["op"], op["path"]
        if path == "":
            if kind in ("replace", "add"):
                result = copy.deepcopy(op.get("value"))
                continue
            raise PatchError(f"cannot {kind} the whole document")
        parent, key = _walk(result, path)
        if kind == "test":
            current = _get(parent, key, path)
            if current != op.get("value"):
                raise PatchError(f"test failed at {path}")
        elif kind == "remove":
            _get(parent, key, path)
            if isinstance(parent, list):
                parent.pop(int(key))
            else:
                del parent[key]
        elif kind in ("add", "replace"):
            value = copy.deepcopy(op.get("value"))
            if isinstance(parent, list):
                if key == "-":
                    parent.append(value)
                elif kind == "add":
                    parent.insert(int(key), value)
                else:
                    _get(parent, key, path)
                    parent[int(key)] = value
            elif isinstance(parent, dict):
                if kind == "replace" and key not in parent:
                    raise PatchError(f"path {path!r} does not exist")
                parent[key] = value
            else:
                raise PatchError(f"path {path!r} does not exist")
        elif kind in ("move", "copy"):
            source_parent, source_key = _walk(result, op.get("from", ""))
            value = copy.deepcopy(_get(source_parent, source_key, op.get("from", "")))
            if kind == "move":
                if isinstance(source_parent, list):
                    source_parent.pop(int(source_key))
                else:
                    del source_parent[source_key]
            if isinstance(parent, list):
                parent.insert(len(parent) if key == "-" else int(key), value)
            else:
                parent[key] = value
        else:
            raise PatchError(f"unknown operation {kind!r}")
    return result


def _get(parent: Any, key: str, path: str) -> Any:
    try:
        return parent[int(key)] if isinstance(parent, list) else parent[key]
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise PatchError(f"path {path!r} does not exist") from exc


def merge_patch(document: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(document) if isinstance(document, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return copy.deepcopy(value)


def strategic_merge_patch(document: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return _strip_directives(patch)  # the map is replaced, not merged
    result = copy.deepcopy(document) if isinstance(document, dict) else {}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(result.get(field), list) and isinstance(value, list):
                result[field] = [v for v in result[field] if v not in value]
            continue
        if key.startswith("$"):  # $setElementOrder/..., $retainKeys, $patch: merge
            continue
        if value is None or (isinstance(value, dict) and value.get("$patch") == "delete"):
            result.pop(key, None)
        elif isinstance(value, list) and _named_list(value) and _named_list(result.get(key)):
            result[key] = _merge_named(result.get(key) or [], value)
        elif isinstance(value, dict):
            result[key] = strategic_merge_patch(result.get(key), value)
        else:
            result[key] = _strip_directives(value)
    return result


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value)


def _merge_named(current: list[Any], patch: list[Any]) -> list[Any]:
    merged = [copy.deepcopy(item) for item in current]
    index = {item["name"]: i for i, item in enumerate(merged)}
    for item in patch:
        if item.get("$patch") == "delete":
            if item["name"] in index:
                merged = [m for m in merged if m["name"] != item["name"]]
                index = {m["name"]: i for i, m in enumerate(merged)}
            continue
        if item["name"] in index:
            merged[index[item["name"]]] = strategic_merge_patch(merged[index[item["name"]]], item)
        else:
            merged.append(copy.deepcopy(item))
            index[item["name"]] = len(merged) - 1
    return merged
