"""The registry's commands as Textual bindings, and as help's rows with the keymap applied.

A pane or screen takes its `BINDINGS` from `bindings_of(PLACE)`: what the footer shows is
then what `?` help and the command palette list, and what `cockpit validate` checks a
`[keys]` entry against (`tui/registry.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding, BindingsMap, BindingType
from textual.keys import format_key, key_to_character

from cockpit.tui.registry import Command, Place, commands_at, operator_keymap

# Key names as an operator reads them on a keyboard.
NAMED = {"escape": "escape", "enter": "enter", "tab": "tab", "space": "space"}


def binding_of(command: Command) -> Binding:
    return Binding(
        command.keys,
        command.action,
        command.label,
        show=command.footer,
        tooltip=command.tooltip,
        id=command.id,
        priority=command.priority,
    )


def bindings_of(place: Place) -> list[BindingType]:
    """A place's BINDINGS: its commands that have a key (the others are the palette's only)."""
    return [binding_of(c) for c in commands_at(place) if c.keys]


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


def place_rows(place: Place, keymap: Mapping[str, str] | None) -> list[KeyRow]:
    """Help's rows of a place: its bindings after the keymap, as Textual applies it (a key
    another binding took is gone from that one)."""
    return rows_of(bindings_of(place), keymap)
