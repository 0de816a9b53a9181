"""Every message of this cockpit session, newest first, in full."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from cockpit.text import visible_text
from cockpit.tui.widgets.messages import SEVERITY_MARK, Notice

SEVERITY_STYLE = {"information": "", "warning": "bold", "error": "bold reverse"}


class MessageHistoryScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    MessageHistoryScreen {
        align: center middle;
    }
    MessageHistoryScreen > VerticalScroll {
        width: 100;
        max-width: 95%;
        height: 90%;
        border: thick $primary;
        background: $panel;
        padding: 0 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,m", "close", "Close", tooltip="Back to the cockpit", id="messages.close"),
    ]

    def __init__(self, notices: list[Notice]) -> None:
        super().__init__()
        self.notices = list(notices)

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
        with VerticalScroll() as scroll:
            scroll.border_title = f"Messages ({len(self.notices)})"
            scroll.border_subtitle = "escape: back"
            yield Static(text)

    def action_close(self) -> None:
        self.dismiss(None)
