"""Which checks belong to which checklist item: the config's [[checks]] bound to item IDs.

A binding names its item by ID or by exact text; one that names no item, or several, is a
config error that suggests the nearest ID, so a typo never leaves a check silently unbound.
"""

from __future__ import annotations

import difflib

from cockpit.checklist import Checklist
from cockpit.checks import BoundCheck, compile_binding
from cockpit.config import CheckBinding, LoadedConfig
from cockpit.errors import ConfigError


def bind_checks(
    loaded: LoadedConfig, checklist: Checklist, env_name: str
) -> dict[str, tuple[CheckBinding, ...]]:
    """[[checks]] -> item IDs; a binding that names no item, or several, is a config error."""
    bound: dict[str, list[CheckBinding]] = {}
    problems: list[str] = []
    ids = [item.id for item in checklist.items()]
    for index, binding in enumerate(loaded.model.checks):
        where = f"{loaded.path}: checks[{index}].item"
        if binding.environments is not None:
            unknown = [e for e in binding.environments if e not in loaded.model.environments]
            if unknown:
                problems.append(
                    f"{loaded.path}: checks[{index}].environments: unknown environment(s) "
                    f"{', '.join(unknown)}"
                )
            if env_name not in binding.environments:
                continue
        found = checklist.resolve(binding.item)
        if not found:
            close = difflib.get_close_matches(binding.item, ids, n=1, cutoff=0.5)
            suggestion = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"{where}: no item with ID or text {binding.item!r}{suggestion}")
        elif len(found) > 1:
            problems.append(
                f"{where}: {binding.item!r} matches {len(found)} items; use one of the IDs: "
                + ", ".join(item.id for item in found)
            )
        else:
            bound.setdefault(found[0].id, []).append(binding)
    if problems:
        raise ConfigError(
            f"{len(problems)} check binding(s) do not resolve",
            "bind by item ID (see `cockpit checklist`) or by the item's exact text",
            details=problems,
        )
    return {key: tuple(value) for key, value in bound.items()}


def compile_checks(
    loaded: LoadedConfig, bindings: dict[str, tuple[CheckBinding, ...]]
) -> dict[str, tuple[BoundCheck, ...]]:
    """Each bound item's checks, validated into runnable ones (numbered as in the config)."""
    index_of = {id(binding): i for i, binding in enumerate(loaded.model.checks)}
    return {
        item_id: tuple(compile_binding(index_of[id(b)], item_id, b) for b in item_bindings)
        for item_id, item_bindings in bindings.items()
    }
