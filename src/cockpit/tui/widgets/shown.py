"""Cheap text updates, by change detection: a reactive holds what a widget shows.

`Static.update` re-lays-out the whole screen by default, which repaints every scroll bar too;
sources report every few seconds whether anything changed or not, and a metric's value
changes at every poll. Setting a border subtitle repaints the whole widget, even to the text
it has (the rollout pane sets it every second: 14 KB/s of escape sequences while nothing
changed). So what a widget shows is a reactive: the same value again does nothing at all, and a
new text re-lays-out only when the widget's size can follow it (auto width or height) and the
text's shape (lines, widest line) changed.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import var
from textual.widget import Widget
from textual.widgets import Label, Static

from cockpit.text import visible_text


def _shape(content: Text) -> tuple[int, int]:
    lines = content.plain.split("\n")
    return len(lines), max(cell_len(line) for line in lines)


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


def as_text(content: str | Text) -> Text:
    """A str is plain text (it carries outside text: never parsed as markup), with control
    characters made visible."""
    if isinstance(content, str):
        return Text(visible_text(content, keep_newlines=True))
    return content


class ShownText(Static):
    """A Static whose text changes often and is mostly the same: `shown` is what it shows
    (set it through `show_text`)."""

    shown: var[Text | None] = var(None, init=False)

    def watch_shown(self, old: Text | None, new: Text | None) -> None:
        if new is not None:
            self.update(new, layout=old is None or _resizes(self, _shape(old), _shape(new)))


class ShownLabel(ShownText, Label):
    """A Label whose text changes often and is mostly the same."""


def show_text(widget: ShownText, content: str | Text) -> None:
    """Show `content`, unless it is what the widget already shows."""
    widget.shown = as_text(content)


class Subtitled(Widget):
    """A widget with a border whose subtitle is `subtitle`, set only on a change (a base of
    the panes)."""

    subtitle: var[str] = var("", init=False)

    def watch_subtitle(self, text: str) -> None:
        self.border_subtitle = text
