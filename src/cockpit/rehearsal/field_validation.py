"""Unknown fields found (and, when decoding drops them, pruned) by walking an object
against its kind's schema: what `fieldValidation` Strict refuses and Warn names."""

from __future__ import annotations

from typing import Any

from cockpit.rehearsal.schemas import all_schemas, component_of, resolve
from cockpit.rehearsal.store import JSON, Kind


def unknown_fields(kind: Kind, obj: JSON, *, prune: bool = False) -> list[str]:
    """Paths of the fields obj carries that its schema does not know (`spec.foo`); with prune,
    they are also dropped, as decoding into the API's types drops them. Patch directives
    (`$patch`, `$setElementOrder/...`) are not fields."""
    component = component_of(kind)
    if component is None:
        return []
    found: list[str] = []
    _walk(all_schemas()[component], obj, "", found, prune)
    return found


def _walk(schema: JSON, value: Any, path: str, found: list[str], prune: bool) -> None:
    schema = resolve(schema)
    if isinstance(value, dict):
        properties = schema.get("properties")
        if properties is None:
            return
        open_ = schema.get("x-kubernetes-preserve-unknown-fields", False)
        for key, item in list(value.items()):
            where = f"{path}.{key}" if path else key
            if key in properties:
                _walk(properties[key], item, where, found, prune)
            elif not open_ and not key.startswith("$"):
                found.append(where)
                if prune:
                    del value[key]
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _walk(schema["items"], item, f"{path}[{index}]", found, prune)
