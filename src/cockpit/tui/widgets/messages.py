"""The message line: the cockpit's one place for what it has to say, under the panes.

Textual's toasts stacked over the right half of an 80x24 screen, the rollout pane included,
for as long as a rollback ran. Every notification lands here instead (the newest, on one line)
and in the history (`m`); the toasts are not drawn at all
(CockpitApp._refresh_notifications)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.notifications import SeverityLevel

from cockpit.text import visible_text
from cockpit.tui.widgets.shown import ShownText, show_text

SEVERITY_MARK = {"information": "·", "warning": "▲", "error": "✖"}


def clock() -> datetime:
    """The local time a notice is stamped with (the operator's wall clock)."""
    return datetime.now()


@dataclass(frozen=True)
class Notice:
    at: datetime
    severity: SeverityLevel
    title: str
    message: str

    def line(self) -> str:
        """One line: the time, the title and the message's first line."""
        first, _, rest = self.message.partition("\n")
        title = f"{self.title}: " if self.title else ""
        more = " …" if rest.strip() else ""
        return f"{self.at:%H:%M:%S} {SEVERITY_MARK[self.severity]} {title}{first}{more}"


# Notifications kept for the `m` screen: the most recent ones. A go-live of many hours with a
# flapping source says the same things thousands of times; every mark and action is in the
# audit log anyway.
HISTORY_KEPT = 500


class MessageLine(ShownText):
    DEFAULT_CSS = """
    MessageLine {
        height: 1;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        color: $text-muted;
    }
    MessageLine.-warning { color: $text-warning; }
    MessageLine.-error { color: $text-error; text-style: bold; }
    MessageLine.-old { color: $text-disabled; text-style: none; }
    """

    def __init__(self, **kwargs: str) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.count = 0

    def show(self, notice: Notice, timeout: float, history_key: str, *, told: int = 0) -> None:
        """The newest notice, coloured by severity while it is fresh, greyed after; `told`:
        how many notices there were in all (the history keeps the latest HISTORY_KEPT)."""
        self.count += 1
        told = max(told, self.count)
        text = Text(visible_text(notice.line()))
        if told > HISTORY_KEPT:
            text.append(f"   ({history_key}: the latest {HISTORY_KEPT} of {told})", style="dim")
        elif told > 1:
            text.append(f"   ({history_key}: all {told} messages)", style="dim")
        show_text(self, text)
        self.remove_class("-old", "-warning", "-error")
        if notice.severity != "information":
            self.add_class(f"-{notice.severity}")
        count = self.count
        self.set_timer(timeout, lambda: self._age(count))

    def _age(self, count: int) -> None:
        if count == self.count:  # no newer notice came meanwhile
            self.add_class("-old")
