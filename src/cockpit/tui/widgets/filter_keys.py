"""The filter key of a pane, safe against a burst: `/Redis` sent at once (tmux, a paste, a
fast typist) reaches the pane as six keys before any binding runs, and by then `/` has moved
the focus, so the letters were lost, or acted (`d` marked an item done). The pane opens its
filter here, at once, and printable keys that follow go into it."""

from __future__ import annotations

from collections.abc import Callable

from textual import events
from textual.widget import Widget
from textual.widgets import Input


def route_filter_burst(
    widget: Widget, event: events.Key, box: Input, open_filter: Callable[[], None]
) -> None:
    """Call from the pane's `on_key`: the filter key opens the filter, and while its line has
    the focus printable keys go into it."""
    if event.key in filter_keys(widget):
        event.stop()
        event.prevent_default()
        open_filter()
    elif widget.screen.focused is box and event.is_printable and event.character:
        event.stop()
        event.prevent_default()
        box.insert_text_at_cursor(event.character)


def filter_keys(widget: Widget) -> set[str]:
    """The keys bound to `filter` on the widget as this operator has them ([keys] remaps)."""
    return {
        key
        for key, bindings in widget._bindings.key_to_bindings.items()
        if any(binding.action == "filter" for binding in bindings)
    }
