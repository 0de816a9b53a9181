"""Help and palette from the live bindings, so neither can drift from the keys.

`?` and the palette were written by hand: `?` omitted B and the errors pane's `c`, and both
would have been wrong after a `[keys]` remap. Here every row is read from a widget's own
BINDINGS with the operator's keymap applied, as the key handler itself sees them."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingsMap, BindingType
from textual.dom import DOMNode
from textual.keys import format_key, key_to_character

# Key names as an operator reads them on a keyboard.
NAMED = {"escape": "escape", "enter": "enter", "tab": "tab", "space": "space"}


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
    bindings: BindingsMap | list[BindingType], keymap: dict[str, str] | None
) -> list[KeyRow]:
    """One row per binding (by id, or action), its keys after the keymap."""
    live = bindings.copy() if isinstance(bindings, BindingsMap) else BindingsMap(bindings)
    if keymap:
        live.apply_keymap(keymap)
    grouped: dict[str, list[Binding]] = {}
    for _key, key_bindings in live.key_to_bindings.items():
        for binding in key_bindings:
            grouped.setdefault(binding.id or binding.action, []).append(binding)
    rows = []
    for name, group in grouped.items():
        first = group[0]
        keys = tuple(dict.fromkeys(key_label(b.key) for b in group))
        rows.append(
            KeyRow(keys, first.description, first.tooltip or first.description, first.id, name)
        )
    return rows


def node_rows(node: DOMNode, keymap: dict[str, str] | None) -> list[KeyRow]:
    return rows_of(node._bindings, keymap)
