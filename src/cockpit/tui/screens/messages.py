"""Every message of this cockpit session, newest first, in full."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from cockpit.text import visible_text
from cockpit.tui.bindings import bindings_of
from cockpit.tui.registry import MESSAGES, Place
from cockpit.tui.screens.frame import DetailScreen
from cockpit.tui.widgets.messages import SEVERITY_MARK, Notice

SEVERITY_STYLE = {"information": "", "warning": "bold", "error": "bold reverse"}


class MessageHistoryScreen(DetailScreen[None]):
    PLACE: ClassVar[Place] = MESSAGES
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    def __init__(self, notices: Iterable[Notice], *, told: int | None = None) -> None:
        super().__init__()
        self.notices = list(notices)
        self.told = len(self.notices) if told is None else told  # the earlier ones are gone

    def compose(self) -> ComposeResult:
        text = Text()
        for notice in reversed(self.notices):
            head = f"{notice.at:%H:%M:%S} {SEVERITY_MARK[notice.severity]} "
            text.append(head + visible_text(notice.title), SEVERITY_STYLE[notice.severity])
            for line in notice.message.splitlines() or [""]:
                text.append("\n    " + visible_text(line))
            text.append("\n")
        if not self.notices:
            text.append("No messages yet.")
        elif self.told > len(self.notices):
            text.append(
                f"{self.told - len(self.notices)} earlier message(s) are not kept here "
                "(the audit log has every mark and action).",
                "dim",
            )
        with VerticalScroll(classes="frame") as scroll:
            scroll.border_title = (
                f"Messages ({len(self.notices)})"
                if self.told == len(self.notices)
                else f"Messages (the latest {len(self.notices)} of {self.told})"
            )
            scroll.border_subtitle = "escape: back"
            yield Static(text)
