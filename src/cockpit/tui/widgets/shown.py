"""Cheap text updates, by change detection: a reactive holds what a widget shows.

`Static.update` re-lays-out the whole screen by default, which repaints every scroll bar too;
sources report every few seconds whether anything changed or not, and a metric's value
changes at every poll. Setting a border subtitle repaints the whole widget, even to the text
it has (the rollout pane sets it every second: 14 KB/s of escape sequences while nothing
changed). So what a widget shows is a reactive: the same value again does nothing at all, and a
new text re-lays-out only when the widget's size can follow it: an auto width and a new widest
line, or an auto height and a new number of lines as the widget wraps or cuts them (the
verdict bar's clock ticks every second in a line often wider than the bar: re-laying-out the
screen for it was the slowest part of a frame). A widget with no width rule fills its
container: a new widest line changes nothing there (taking it for auto re-laid-out the screen
at each new verdict reason, about once a second under load: benchmarks/keys.py --trace-layout).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import var
from textual.visual import visualize
from textual.widget import Widget
from textual.widgets import Label, Static

from cockpit.text import visible_text

if TYPE_CHECKING:
    from textual.css.scalar import Scalar
    from textual.css.styles import RulesMap


def _shape(content: Text) -> tuple[int, int]:
    lines = content.plain.split("\n")
    return len(lines), max(cell_len(line) for line in lines)


def _height(widget: Widget, content: Text, width: int) -> int:
    """Lines `content` takes at `width`, by the widget's own rules (wrap, overflow)."""
    # the styles answer the rules a Visual reads (Textual's own widgets pass them the same way)
    rules = cast("RulesMap", widget.styles)
    return visualize(widget, content, markup=False).get_height(rules, width)


def _follows_content(rule: Scalar | None) -> bool:
    """Whether a width or height rule lets the text size the widget: `auto`, or a fraction
    (Textual sizes a fraction by its content in a container that is itself sized so). No
    rule at all fills the container, whatever the text (Textual's box model)."""
    return rule is not None and (rule.is_auto or rule.is_fraction)


def _resizes(widget: Widget, old: Text, new: Text) -> bool:
    auto_width = _follows_content(widget.styles.width)
    auto_height = _follows_content(widget.styles.height)
    old_shape, new_shape = _shape(old), _shape(new)
    if auto_width and old_shape[1] != new_shape[1]:
        return True
    if auto_height:
        if old_shape[0] != new_shape[0]:
            return True
        room = widget.content_size.width
        if old_shape[1] <= room and new_shape[1] <= room:
            return False  # neither wraps: as many lines as before
        # A line wider than the room wraps (or is cut, by the widget's rules): the height
        # follows only if the wrapped heights differ, as with a clock in a long line.
        return room <= 0 or _height(widget, old, room) != _height(widget, new, room)
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
            self.update(new, layout=old is None or _resizes(self, old, new))


class ShownLabel(ShownText, Label):
    """A Label whose text changes often and is mostly the same."""


def show_text(widget: ShownText, content: str | Text) -> None:
    """Show `content`, unless it is what the widget already shows."""
    widget.shown = as_text(content)


class Subtitled(Widget):
    """A widget with a border whose subtitle is `subtitle`, set only on a change (a base of
    the panes). Put it after the Textual base whose CSS the pane needs: Textual reads default
    CSS along the first base of each class only."""

    subtitle: var[str] = var("", init=False)

    def watch_subtitle(self, text: str) -> None:
        self.border_subtitle = text
