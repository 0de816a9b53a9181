"""Cheap text updates. `Static.update` re-lays-out the whole screen by default; sources report
every few seconds whether anything changed or not, and a metric's value changes at every poll.
So: nothing at all when the text is the same, and no re-layout when the new text has the same
shape (lines and widest line) and fits the widget without wrapping."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

_SHOWN: WeakKeyDictionary[Static, str | Text] = WeakKeyDictionary()


def _shape(content: str | Text) -> tuple[int, int]:
    lines = (content.plain if isinstance(content, Text) else content).split("\n")
    return len(lines), max(cell_len(line) for line in lines)


def show_text(widget: Static, content: str | Text) -> None:
    """widget.update(content), unless that is what the widget already shows."""
    old = _SHOWN.get(widget)
    if old is not None and old == content:
        return
    _SHOWN[widget] = content
    shape = _shape(content)
    same_size = old is not None and _shape(old) == shape
    fits = shape[1] <= widget.content_size.width
    widget.update(content, layout=not (same_size and fits))
