"""The errors pane: what the release broke (NEW, REGRESSED) and what is busiest right now."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from cockpit.rollout import format_age
from cockpit.session import GoLiveSession
from cockpit.sources.errors import ErrorFeed, ErrorIssue
from cockpit.text import visible_text
from cockpit.tui.themes import theme_variables
from cockpit.tui.widgets.shown import show_subtitle, show_text


class ErrorTable(DataTable[Text]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter", "open_detail", "Issue", tooltip="The issue and its link", id="errors.detail"
        ),
    ]

    class Open(Message):
        def __init__(self, issue: ErrorIssue) -> None:
            super().__init__()
            self.issue = issue

    def action_open_detail(self) -> None:
        pane = self.parent
        if isinstance(pane, ErrorsPane) and 0 <= self.cursor_row < len(pane.feed.issues):
            self.post_message(self.Open(pane.feed.issues[self.cursor_row]))


class ErrorsPane(Vertical):
    DEFAULT_CSS = """
    ErrorsPane > ErrorTable {
        height: 1fr;
        background: $surface;
    }
    ErrorsPane > #errors-status {
        height: auto;
        max-height: 2;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    ErrorsPane.-stale > ErrorTable { opacity: 0.6; }
    ErrorsPane.-stale > #errors-status { color: $warning; }
    ErrorsPane.-spike > #errors-status { color: $error; text-style: bold; }
    """

    class Update(Message):
        def __init__(self, feed: ErrorFeed) -> None:
            super().__init__()
            self.feed = feed

    def __init__(self, session: GoLiveSession, **kwargs: str) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.session = session
        self.feed = ErrorFeed()

    def compose(self) -> ComposeResult:
        yield ErrorTable(cursor_type="row")
        yield Static("", id="errors-status")

    def on_mount(self) -> None:
        self.border_title = "Errors"
        tracker = self.session.environment.errors
        table = self.query_one(ErrorTable)
        for label in ("", "Issue", "Title", "Events", "Users", "First", "Last"):
            table.add_column(label, key=label or "badge")
        if tracker is None:
            self.add_class("-not-configured")
            show_subtitle(self, "not configured")
            table.display = False
            self.query_one("#errors-status", Static).update(
                f"No error tracker configured for {self.session.env_name}.\n"
                "See errors in docs/CONFIG.md."
            )
            return
        show_subtitle(self, "waiting for data")
        self.query_one("#errors-status", Static).update(f"{tracker.provider}: {tracker.url}")

    def _colour(self, variable: str) -> str:
        return theme_variables(self.app).get(variable, "")

    def on_errors_pane_update(self, message: Update) -> None:
        feed = self.feed = message.feed
        table = self.query_one(ErrorTable)
        cursor = table.cursor_row
        table.clear()
        for issue in feed.issues:
            badge_style = {"NEW": "error", "REGRESSED": "warning"}.get(issue.badge, "")
            table.add_row(
                Text(
                    issue.badge or ("busy" if issue.busiest else ""),
                    style=f"bold {self._colour(badge_style)}" if badge_style else "dim",
                ),
                Text(visible_text(issue.short_id)),
                Text(visible_text(issue.title[:80])),
                Text(str(issue.count), justify="right"),
                Text("-" if issue.users is None else str(issue.users), justify="right"),
                Text(format_age(issue.first_seen)),
                Text(format_age(issue.last_seen)),
            )
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))
        status = self.query_one("#errors-status", Static)
        self.set_class(feed.stale, "-stale")
        spiking = bool(feed.spike and feed.spike.spiking)
        self.set_class(spiking, "-spike")
        lines = []
        if feed.stale:
            since = format_age(feed.last_ok) + " ago" if feed.last_ok else "never reached"
            lines.append(f"stale ({since}): {feed.last_error}")
            show_subtitle(self, "STALE")
        else:
            new = sum(1 for i in feed.issues if i.badge == "NEW")
            regressed = sum(1 for i in feed.issues if i.badge == "REGRESSED")
            show_subtitle(self, f"{new} new · {regressed} regressed")
        if feed.spike is not None:
            lines.append(("SPIKE: " if spiking else "") + feed.spike.reason)
        lines += list(feed.notes)
        show_text(status, "\n".join(lines))
