"""Skip redundant updates: a Static given the text it already shows would still re-layout
the screen, and sources report every few seconds whether anything changed or not."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from rich.text import Text
from textual.widgets import Static

_SHOWN: WeakKeyDictionary[Static, str | Text] = WeakKeyDictionary()


def show_text(widget: Static, content: str | Text) -> None:
    """widget.update(content), unless that is what the widget already shows."""
    if widget in _SHOWN and _SHOWN[widget] == content:
        return
    _SHOWN[widget] = content
    widget.update(content)
