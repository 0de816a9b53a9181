"""Cheap text updates. `Static.update` re-lays-out the whole screen by default, which repaints
every scroll bar too; sources report every few seconds whether anything changed or not, and a
metric's value changes at every poll. So: nothing at all when the text is the same, and no
re-layout unless the widget's size can follow its text (auto width or height) and the text's
shape (lines, widest line) changed."""

from __future__ import annotations

from weakref import WeakKeyDictionary

from rich.cells import cell_len
from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from cockpit.text import visible_text

_SHOWN: WeakKeyDictionary[Static, str | Text] = WeakKeyDictionary()


def _shape(content: str | Text) -> tuple[int, int]:
    lines = (content.plain if isinstance(content, Text) else content).split("\n")
    return len(lines), max(cell_len(line) for line in lines)


def show_text(widget: Static, content: str | Text) -> None:
    """widget.update(content), unless that is what the widget already shows; re-lay-out only
    when the widget's size can depend on the difference. A str is plain text (it carries
    outside text: never parsed as markup), with control characters made visible."""
    if isinstance(content, str):
        content = Text(visible_text(content, keep_newlines=True))
    old = _SHOWN.get(widget)
    if old is not None and old == content:
        return
    _SHOWN[widget] = content
    widget.update(content, layout=old is None or _resizes(widget, _shape(old), _shape(content)))


def _resizes(widget: Widget, old: tuple[int, int], new: tuple[int, int]) -> bool:
    width, height = widget.styles.width, widget.styles.height
    auto_width = width is None or width.is_auto
    auto_height = height is None or height.is_auto
    if auto_width and old[1] != new[1]:
        return True
    if auto_height:
        room = widget.content_size.width
        wraps = old[1] > room or new[1] > room  # wrapped lines: the height may change
        return old[0] != new[0] or wraps
    return False


_SUBTITLES: WeakKeyDictionary[Widget, str] = WeakKeyDictionary()


def show_subtitle(widget: Widget, text: str) -> None:
    """Set the border subtitle, unless it already reads so (Textual repaints the whole widget on
    every assignment, and the rollout pane sets it every second)."""
    if _SUBTITLES.get(widget) == text:
        return
    _SUBTITLES[widget] = text
    widget.border_subtitle = text
