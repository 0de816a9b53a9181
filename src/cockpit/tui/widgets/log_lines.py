"""Lines of a log, drawn one screen line at a time, with the search's matches highlighted.

Only the rows in sight are rendered, so 5,000 lines cost what 40 do. The lines are outside
text: the owner hands them in already made visible (`cockpit.text.visible_text`), and they are
drawn as plain `Text`, never parsed as markup, so `[red]` in a log reads `[red]`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

BUFFER_LINES = 5_000


class LogLines(ScrollView, can_focus=True):
    """A bounded buffer of (stamp, text) lines; stays at the bottom while it is there."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"log-lines--match", "log-lines--current"}
    DEFAULT_CSS = """
    LogLines {
        background: $surface;
        color: $text;
    }
    LogLines > .log-lines--match {
        background: $warning 40%;
        text-style: bold;
    }
    LogLines > .log-lines--current {
        background: $warning;
        color: $background;
        text-style: bold;
    }
    """

    def __init__(self, limit: int = BUFFER_LINES, **kwargs: str) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.entries: deque[tuple[str, str]] = deque(maxlen=limit)
        self.limit = limit
        self.dropped = 0  # lines pushed out of the buffer by newer ones
        self.show_stamps = False
        self.search_text = ""
        self.current: int | None = None  # the line of the match the operator is on
        self._widest = 0

    # --- content -------------------------------------------------------------------------------

    def line(self, index: int) -> str:
        stamp, text = self.entries[index]
        return f"{stamp} {text}" if self.show_stamps and stamp else text

    def reset(self) -> None:
        self.entries.clear()
        self.dropped = 0
        self.current = None
        self._widest = 0
        self.scroll_to(0, 0, animate=False)
        self._resize()

    def add(self, lines: Sequence[tuple[str, str]]) -> None:
        """Append visible-text lines; the oldest go when the buffer is full."""
        at_end = self.scroll_y >= self.max_scroll_y
        overflow = max(0, len(self.entries) + len(lines) - self.limit)
        self.entries.extend(lines)
        self.dropped += overflow
        for stamp, text in lines[-self.limit :]:
            self._widest = max(self._widest, cell_len(text) + len(stamp) + 1)
        if overflow and self.current is not None:
            self.current = self.current - overflow if self.current >= overflow else None
        self._resize()
        if at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif overflow:
            self.scroll_to(y=max(0, self.scroll_y - overflow), animate=False, immediate=True)
        self.refresh()

    def _resize(self) -> None:
        self.virtual_size = Size(self._widest, len(self.entries))

    def set_stamps(self, shown: bool) -> None:
        self.show_stamps = shown
        self.refresh()

    # --- search --------------------------------------------------------------------------------

    def matches(self) -> list[int]:
        needle = self.search_text.casefold()
        if not needle:
            return []
        return [i for i in range(len(self.entries)) if needle in self.line(i).casefold()]

    def find(self, forward: bool = True) -> int | None:
        """Move to the next (or previous) line holding the query, wrapping around."""
        found = self.matches()
        if not found:
            self.current = None
            self.refresh()
            return None
        here = self.current if self.current is not None else (-1 if forward else len(self.entries))
        after = [i for i in found if (i > here if forward else i < here)]
        target = (after[0] if forward else after[-1]) if after else found[0 if forward else -1]
        self.current = target
        self.scroll_to(y=max(0, target - self.size.height // 2), animate=False, immediate=True)
        self.refresh()
        return target

    # --- drawing -------------------------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        base = self.rich_style
        if index >= len(self.entries):
            return Strip.blank(width, base)
        text = Text(self.line(index), no_wrap=True, end="")
        needle = self.search_text.casefold()
        if needle:
            style = self.get_component_rich_style(
                "log-lines--current" if index == self.current else "log-lines--match"
            )
            folded = text.plain.casefold()
            start = folded.find(needle)
            while start >= 0 and len(folded) == len(text.plain):
                text.stylize(style, start, start + len(needle))
                start = folded.find(needle, start + len(needle))
        segments = [Segment(s.text, s.style) for s in text.render(self.app.console, end="")]
        strip = Strip(segments).crop(scroll_x, scroll_x + width)
        return strip.extend_cell_length(width).apply_style(base or Style())
