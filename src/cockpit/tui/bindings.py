"""Help and palette from the live bindings, so neither can drift from the keys.

`?` and the palette were written by hand: `?` omitted B and the errors pane's `c`, and both
would have been wrong after a `[keys]` remap. Here every row is read from a widget's own
BINDINGS with the operator's keymap applied, as the key handler itself sees them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding, BindingsMap, BindingType
from textual.dom import DOMNode
from textual.keys import format_key, key_to_character

# Key names as an operator reads them on a keyboard.
NAMED = {"escape": "escape", "enter": "enter", "tab": "tab", "space": "space"}

# Ids that became one: each detail view had its own close id; now they share `screen.close`
# (tui/screens/frame.py). A `[keys]` entry with an old id still moves the key, and
# `cockpit validate` says to rename it.
RENAMED = {
    old: "screen.close"
    for old in (
        "detail.close",
        "error_detail.close",
        "help.close",
        "messages.close",
        "metric_detail.close",
        "pod_logs.close",
        "rollout_detail.close",
    )
}


def operator_keymap(keys: Mapping[str, str] | None) -> dict[str, str]:
    """`[keys]` as the bindings know them: an old id under its new one. The new id wins over
    an old one; of several old ones, the first (validate refuses keys that disagree)."""
    keymap: dict[str, str] = {}
    for binding_id, key in (keys or {}).items():
        if binding_id not in RENAMED:
            keymap[binding_id] = key
    for binding_id, key in (keys or {}).items():
        keymap.setdefault(RENAMED.get(binding_id, binding_id), key)
    return keymap


def key_label(key: str) -> str:
    """`question_mark` -> `?`, `right_curly_bracket` -> `}`, `ctrl+q` stays `ctrl+q`."""
    if key in NAMED:
        return NAMED[key]
    character = key_to_character(key)
    if character is not None and character.isprintable() and len(character) == 1:
        return character
    if "+" in key:
        return key
    shown = format_key(key)
    return shown if len(shown) == 1 else key.replace("_", " ")


@dataclass(frozen=True)
class KeyRow:
    keys: tuple[str, ...]  # as labels, in binding order
    description: str
    tooltip: str
    binding_id: str | None
    action: str

    @property
    def keys_text(self) -> str:
        return " ".join(self.keys)


def rows_of(
    bindings: BindingsMap | list[BindingType], keymap: Mapping[str, str] | None
) -> list[KeyRow]:
    """One row per binding of the cockpit's own (they carry an id, e.g. `checklist.done`;
    the framework's scrolling and cursor bindings do not), its keys after the keymap."""
    live = bindings.copy() if isinstance(bindings, BindingsMap) else BindingsMap(bindings)
    if keymap:
        live.apply_keymap(operator_keymap(keymap))
    grouped: dict[str, list[Binding]] = {}
    for _key, key_bindings in live.key_to_bindings.items():
        for binding in key_bindings:
            if binding.id:
                grouped.setdefault(binding.id, []).append(binding)
    rows = []
    for name, group in grouped.items():
        first = group[0]
        keys = tuple(dict.fromkeys(key_label(b.key) for b in group))
        rows.append(
            KeyRow(keys, first.description, first.tooltip or first.description, first.id, name)
        )
    return rows


def node_rows(node: DOMNode, keymap: Mapping[str, str] | None) -> list[KeyRow]:
    return rows_of(node._bindings, keymap)


def known_binding_ids() -> set[str]:
    """Every binding id a `[keys]` entry may name (the owners' own BINDINGS)."""
    from cockpit.tui.app import CockpitApp
    from cockpit.tui.screens.confirm import ConfirmScreen
    from cockpit.tui.screens.error_detail import ErrorDetailScreen
    from cockpit.tui.screens.frame import DetailScreen
    from cockpit.tui.screens.help import HelpScreen
    from cockpit.tui.screens.item_detail import ItemDetailScreen
    from cockpit.tui.screens.messages import MessageHistoryScreen
    from cockpit.tui.screens.metric_detail import MetricDetailScreen
    from cockpit.tui.screens.pod_logs import PodLogScreen
    from cockpit.tui.screens.prompt import TextPrompt
    from cockpit.tui.screens.rollback import RollbackAllScreen, RollbackScreen
    from cockpit.tui.screens.rollout_detail import RolloutDetailScreen
    from cockpit.tui.screens.step_run import StepRunScreen
    from cockpit.tui.widgets.checklist import ChecklistFilter, ChecklistTree
    from cockpit.tui.widgets.errors import ErrorFilter, ErrorTable
    from cockpit.tui.widgets.metrics import MetricsPane
    from cockpit.tui.widgets.rollout import RolloutTable

    owners: tuple[type[DOMNode], ...] = (
        CockpitApp,
        DetailScreen,
        ChecklistTree,
        ChecklistFilter,
        RolloutTable,
        MetricsPane,
        ErrorTable,
        ErrorFilter,
        ConfirmScreen,
        ErrorDetailScreen,
        HelpScreen,
        ItemDetailScreen,
        MessageHistoryScreen,
        MetricDetailScreen,
        PodLogScreen,
        TextPrompt,
        RollbackScreen,
        RollbackAllScreen,
        RolloutDetailScreen,
        StepRunScreen,
    )
    return {
        binding.id
        for owner in owners
        for binding in Binding.make_bindings(owner.BINDINGS)
        if binding.id
    }


def keymap_problems(keys: dict[str, str] | None, where: str) -> list[str]:
    """`[keys]` naming a binding that does not exist ("checklist.dnoe") did nothing at all;
    validate names it and the nearest real id."""
    import difflib

    known = known_binding_ids()
    problems = []
    merged: dict[str, tuple[str, str]] = {}  # new id -> (the first id naming it, its keys)
    for binding_id, key in (keys or {}).items():
        new = RENAMED.get(binding_id, binding_id)
        first = merged.setdefault(new, (binding_id, key))
        if first[1] != key:
            problems.append(
                f"{where}: keys: {first[0]!r} and {binding_id!r} are one binding now, "
                f"{new!r}, and name different keys ({first[1]!r}, {key!r}); keep one "
                f"{new!r} entry"
            )
    for binding_id in keys or {}:
        if binding_id in known or binding_id in RENAMED:
            continue
        # swapped letters first (`dnoe` is `done`, though difflib finds `note` nearer)
        near = [k for k in sorted(known) if sorted(k) == sorted(binding_id)]
        near = near or difflib.get_close_matches(binding_id, sorted(known), n=1)
        hint = (
            f"; did you mean {near[0]!r}?" if near else f"; known ids: {', '.join(sorted(known))}"
        )
        problems.append(f"{where}: keys: no binding with the id {binding_id!r}{hint}")
    return problems


def keymap_warnings(keys: dict[str, str] | None, where: str) -> list[str]:
    """`[keys]` entries with an id that was renamed: they work, and should be renamed."""
    return [
        f"{where}: keys: {binding_id!r} is now {RENAMED[binding_id]!r} (one close key for "
        f"every detail view, help and messages); rename the entry"
        for binding_id in keys or {}
        if binding_id in RENAMED
    ]
