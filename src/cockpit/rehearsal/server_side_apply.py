"""Server-side apply and field ownership (`metadata.managedFields`), as the API server keeps them.

Every write names a field manager; the fields it sets become its own (`operation: Update`),
taken from whoever owned them before. An apply (`application/apply-patch+yaml`) states the
whole intent of one manager: its fields are merged in (lists with merge keys item by item),
fields it applied before and no longer states are removed unless another manager owns them
too, and a field another manager owns with a different value is a conflict (409) unless the
apply is forced, which takes the field over.

Fields are paths of `f:name` and `k:{"key":"value"}` steps, the FieldsV1 notation.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from cockpit.rehearsal.schemas import component_of, resolve
from cockpit.rehearsal.store import JSON, ApiError, Kind, now_iso

Path = tuple[str, ...]
ITEM: Any = type("Item", (), {"__repr__": lambda self: "<item>"})()  # a keyed list item itself
# metadata the server owns, never a manager's field
SERVER_FIELDS = {
    ("f:metadata", "f:name"),
    ("f:metadata", "f:namespace"),
    ("f:metadata", "f:uid"),
    ("f:metadata", "f:resourceVersion"),
    ("f:metadata", "f:generation"),
    ("f:metadata", "f:creationTimestamp"),
    ("f:metadata", "f:deletionTimestamp"),
    ("f:metadata", "f:managedFields"),
    ("f:metadata", "f:selfLink"),
    ("f:apiVersion",),
    ("f:kind",),
}


def _schema_of(kind: Kind) -> JSON:
    component = component_of(kind)
    return resolve({"$ref": f"#/components/schemas/{component}"}) if component else {}


def _child(schema: JSON, key: str) -> JSON:
    schema = resolve(schema)
    properties = schema.get("properties") or {}
    if key in properties:
        return resolve(properties[key])
    extra = schema.get("additionalProperties")
    return resolve(extra) if isinstance(extra, dict) else {}


def _item_key(schema: JSON, item: Any) -> str | None:
    keys = resolve(schema).get("x-kubernetes-list-map-keys")
    if not keys or not isinstance(item, dict):
        return None
    # a port's protocol is defaulted before its key is taken, as the API server defaults it
    defaults = {"protocol": "TCP"}
    chosen = {k: item.get(k, defaults.get(k)) for k in keys if k in item or k in defaults}
    if not chosen:
        return None
    return "k:" + json.dumps(chosen, separators=(",", ":"), sort_keys=True)


def _same_item(schema: JSON, old: Any, item: Any) -> bool:
    """Whether the stored item old is the one item names (their keys, defaulted, agree)."""
    if not isinstance(old, dict) or not isinstance(item, dict):
        return False
    key = _item_key(schema, item)
    return key is not None and _item_key(schema, old) == key


def leaves(value: Any, schema: JSON, prefix: Path = ()) -> dict[Path, Any]:
    """Every field path of value with its value; maps are walked, keyed lists item by item,
    other lists and scalars are leaves."""
    out: dict[Path, Any] = {}
    if isinstance(value, dict) and value:
        for key, item in value.items():
            path = (*prefix, f"f:{key}")
            if path in SERVER_FIELDS or path[:2] == ("f:status",) or path == ("f:status",):
                continue
            out.update(leaves(item, _child(schema, key), path))
    elif isinstance(value, list) and resolve(schema).get("x-kubernetes-list-map-keys"):
        items = resolve(resolve(schema).get("items") or {})
        for item in value:
            key = _item_key(schema, item)
            if key is None:
                out = {prefix: value}
                break
            out[(*prefix, key)] = ITEM
            out.update(leaves(item, items, (*prefix, key)))
    elif prefix:
        out[prefix] = value
    return out


def _to_fields(paths: set[Path]) -> JSON:
    tree: JSON = {}
    for path in sorted(paths):
        node = tree
        for step in path:
            node = node.setdefault(step, {})
            if step.startswith("k:"):
                node.setdefault(".", {})
    return tree


def _from_fields(tree: JSON, prefix: Path = ()) -> set[Path]:
    paths: set[Path] = set()
    for step, below in tree.items():
        if step == ".":
            continue
        path = (*prefix, step)
        node = below if isinstance(below, dict) else {}
        inner = {k: v for k, v in node.items() if k != "."}
        if "." in node or not inner:
            paths.add(path)  # a keyed list item itself, or a leaf
        paths |= _from_fields(inner, path)
    return paths


def _entries(obj: JSON | None) -> list[JSON]:
    return copy.deepcopy(((obj or {}).get("metadata") or {}).get("managedFields") or [])


def _owned(entry: JSON) -> set[Path]:
    return _from_fields(entry.get("fieldsV1") or {})


def _entry(manager: str, operation: str, api_version: str, paths: set[Path]) -> JSON:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": now_iso(),
        "fieldsType": "FieldsV1",
        "fieldsV1": _to_fields(paths),
    }


def _shown(path: Path) -> str:
    """`.spec.template.spec.containers[name="app"].image`, as conflicts name a field."""
    out = ""
    for step in path:
        if step.startswith("f:"):
            out += "." + step[2:]
        else:
            chosen = json.loads(step[2:])
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in chosen.items()) + "]"
    return out


def _set_owned(
    entries: list[JSON], manager: str, operation: str, api_version: str, paths: set[Path]
) -> list[JSON]:
    kept = [e for e in entries if (e.get("manager"), e.get("operation")) != (manager, operation)]
    if paths:
        kept.append(_entry(manager, operation, api_version, paths))
    return kept


def _drop(entries: list[JSON], paths: set[Path], keep_manager: tuple[str, str]) -> list[JSON]:
    """Take paths away from every other entry; entries left with nothing go."""
    out = []
    for entry in entries:
        if (entry.get("manager"), entry.get("operation")) == keep_manager:
            out.append(entry)
            continue
        left = _owned(entry) - paths
        if left:
            entry["fieldsV1"] = _to_fields(left)
            out.append(entry)
    return out


def record_update(kind: Kind, old: JSON | None, new: JSON, manager: str) -> None:
    """After a create, update or patch by manager: the fields it changed are now its own."""
    schema = _schema_of(kind)
    before = leaves(old or {}, schema)
    after = leaves(new, schema)
    changed = {p for p, v in after.items() if before.get(p, _MISSING) != v}
    gone = set(before) - set(after)
    entries = _drop(_entries(old), changed | gone, (manager, "Update"))
    mine = next(
        (e for e in entries if (e.get("manager"), e.get("operation")) == (manager, "Update")), None
    )
    owned = (_owned(mine) if mine else set()) - gone
    entries = _set_owned(entries, manager, "Update", kind.api_version, owned | changed)
    if entries:
        new.setdefault("metadata", {})["managedFields"] = entries
    else:
        new.get("metadata", {}).pop("managedFields", None)


_MISSING = object()


def _get(obj: Any, path: Path) -> Any:
    for step in path:
        if step.startswith("f:"):
            if not isinstance(obj, dict) or step[2:] not in obj:
                return _MISSING
            obj = obj[step[2:]]
        else:
            chosen = json.loads(step[2:])
            if not isinstance(obj, list):
                return _MISSING
            obj = next(
                (
                    i
                    for i in obj
                    if isinstance(i, dict) and all(i.get(k) == v for k, v in chosen.items())
                ),
                _MISSING,
            )
            if obj is _MISSING:
                return obj
    return obj


def _remove(obj: Any, path: Path) -> None:
    parent = _get(obj, path[:-1]) if len(path) > 1 else obj
    step = path[-1]
    if step.startswith("f:") and isinstance(parent, dict):
        parent.pop(step[2:], None)
    elif step.startswith("k:") and isinstance(parent, list):
        chosen = json.loads(step[2:])
        parent[:] = [
            i
            for i in parent
            if not (isinstance(i, dict) and all(i.get(k) == v for k, v in chosen.items()))
        ]


def _merge(current: Any, intent: Any, schema: JSON) -> Any:
    schema = resolve(schema)
    if isinstance(intent, dict) and isinstance(current, dict):
        merged = copy.deepcopy(current)
        for key, value in intent.items():
            merged[key] = _merge(current.get(key, _MISSING), value, _child(schema, key))
        return merged
    if (
        isinstance(intent, list)
        and isinstance(current, list)
        and schema.get("x-kubernetes-list-map-keys")
    ):
        items = resolve(schema.get("items") or {})
        merged_list = [copy.deepcopy(i) for i in current]
        for item in intent:
            index = next(
                (n for n, old in enumerate(merged_list) if _same_item(schema, old, item)),
                None,
            )
            if index is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[index] = _merge(merged_list[index], item, items)
        return merged_list
    return copy.deepcopy(intent)


def server_side_apply(
    kind: Kind, current: JSON | None, intent: JSON, manager: str, force: bool
) -> JSON:
    """The object after manager applies intent to current (None: it does not exist yet)."""
    sent = (intent.get("apiVersion"), intent.get("kind"))
    if sent != (kind.api_version, kind.kind):
        raise ApiError(
            400,
            "BadRequest",
            f"the apply patch names {sent[0]}, Kind={sent[1]}; this endpoint serves "
            f"{kind.api_version}, Kind={kind.kind}",
        )
    schema = _schema_of(kind)
    applied = leaves(intent, schema)
    entries = _entries(current)
    conflicts: list[tuple[str, str, Path]] = []
    for entry in entries:
        if (entry.get("manager"), entry.get("operation")) == (manager, "Apply"):
            continue
        for path in sorted(_owned(entry) & set(applied)):
            if applied[path] is ITEM or current is None:
                continue  # owning an item of a keyed list is no conflict; its fields may be
            if _get(current, path) != applied[path]:
                conflicts.append((str(entry.get("manager")), str(entry.get("apiVersion")), path))
    if conflicts and not force:
        shown = "\n".join(
            f'conflict with "{who}" using {version}: {_shown(p)}' for who, version, p in conflicts
        )
        count = len(conflicts)
        raise ApiError(
            409,
            "Conflict",
            f"Apply failed with {count} conflict{'s' if count > 1 else ''}: {shown}",
            {
                "causes": [
                    {
                        "reason": "FieldManagerConflict",
                        "message": f'conflict with "{who}" using {version}',
                        "field": _shown(p),
                    }
                    for who, version, p in conflicts
                ]
            },
        )
    if force:
        entries = _drop(entries, {p for _, _, p in conflicts}, (manager, "Apply"))
    base = copy.deepcopy(current) if current is not None else {}
    previous = next(
        (e for e in entries if (e.get("manager"), e.get("operation")) == (manager, "Apply")), None
    )
    if previous is not None:
        others: set[Path] = set()
        for entry in entries:
            if entry is not previous:
                others |= _owned(entry)
        # shortest first: a keyed item goes whole, before its own fields are looked for
        for path in sorted(_owned(previous) - set(applied) - others, key=len):
            if not any(o[: len(path)] == path for o in others):
                _remove(base, path)
    body = {k: v for k, v in intent.items() if k != "status"}
    merged: JSON = _merge(base, body, schema)
    merged.setdefault("metadata", {})
    entries = _set_owned(entries, manager, "Apply", kind.api_version, set(applied))
    merged["metadata"]["managedFields"] = entries
    return merged
