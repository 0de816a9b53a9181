"""The errors pane: what the release broke (NEW, REGRESSED) and what is busiest right now.

`/` filters the issues to those whose ID, title, culprit, level or badge holds what the operator
types (as in the checklist, k9s and less); Enter keeps the filter, Escape clears it. The feed
keeps arriving while a filter is on: the filter applies to every new feed.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input

from cockpit.rollout import format_age
from cockpit.session import GoLiveSession
from cockpit.sources.errors import ErrorFeed, ErrorIssue
from cockpit.text import visible_text
from cockpit.tui.bindings import bindings_of
from cockpit.tui.plain import safe
from cockpit.tui.registry import ERRORS, ERRORS_FILTER, Place
from cockpit.tui.themes import theme_variables
from cockpit.tui.widgets.filter_keys import route_filter_burst
from cockpit.tui.widgets.shown import ShownText, Subtitled, as_text, show_text


class ErrorTable(DataTable[Text]):
    PLACE: ClassVar[Place] = ERRORS
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    class Open(Message):
        def __init__(self, issue: ErrorIssue) -> None:
            super().__init__()
            self.issue = issue

    def action_open_detail(self) -> None:
        pane = self.parent
        if isinstance(pane, ErrorsPane) and 0 <= self.cursor_row < len(pane.shown):
            self.post_message(self.Open(pane.shown[self.cursor_row]))

    def action_filter(self) -> None:
        pane = self.parent
        if isinstance(pane, ErrorsPane):
            pane.open_filter()

    def on_key(self, event: events.Key) -> None:
        """`/Payment` in one burst goes into the filter (filter_keys.py says why)."""
        pane = self.parent
        if isinstance(pane, ErrorsPane):
            route_filter_burst(self, event, pane.query_one(ErrorFilter), pane.open_filter)


class ErrorFilter(Input):
    """The filter line under the issues: Enter goes back to the table, Escape clears it."""

    PLACE: ClassVar[Place] = ERRORS_FILTER
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    def action_clear_filter(self) -> None:
        for ancestor in self.ancestors:
            if isinstance(ancestor, ErrorsPane):
                ancestor.close_filter()
                return


def issue_matches(issue: ErrorIssue, query: str) -> bool:
    """Whether a filter shows the issue: its ID, title, culprit, level or badge holds the query
    (case-insensitive; the visible form of the text, as the pane shows it)."""
    wanted = query.casefold()
    fields = (issue.short_id, issue.title, issue.culprit, issue.level, issue.badge)
    return any(wanted in visible_text(field).casefold() for field in fields)


ERROR_COLUMNS = ("badge", "Issue")  # always; then the optional ones, and the Title
OPTIONAL_COLUMNS = ("Events", "Last", "Users", "First")  # while the title keeps TITLE_ROOM
TITLE_ROOM = 24
TITLE_MIN = 6  # below that the title scrolls sideways rather than vanish


class ErrorsPane(Subtitled, Vertical):
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
    ErrorsPane > ErrorFilter, ErrorsPane > ErrorFilter:focus {
        display: none;
        border: none;
        height: 1;
        padding: 0 1;
    }
    ErrorsPane.-filtering > ErrorFilter { display: block; }
    """

    class Update(Message):
        def __init__(self, feed: ErrorFeed) -> None:
            super().__init__()
            self.feed = feed

    def __init__(self, session: GoLiveSession, **kwargs: str) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.session = session
        self.feed = ErrorFeed()
        self._columns: list[str] = []
        self.filter_text = ""
        # classes before mounting: one set later restyles the pane and its table again
        self.set_class(session.environment.errors is None, "-not-configured", update=False)

    def compose(self) -> ComposeResult:
        tracker = self.session.environment.errors
        table = ErrorTable(cursor_type="row")
        table.display = tracker is not None
        yield table
        yield ErrorFilter(placeholder="filter: ID, title or culprit; Enter keeps it, Escape clears")
        if tracker is None:
            status = (
                f"No error tracker configured for {self.session.env_name}.\n"
                "See errors in docs/CONFIG.md."
            )
        else:
            status = f"{tracker.provider}: {tracker.url}"
        yield ShownText(as_text(status), id="errors-status")  # the URL: text, no markup

    @property
    def shown(self) -> list[ErrorIssue]:
        """The issues the table shows, in its order: the feed's, less those a filter hides."""
        if not self.filter_text:
            return list(self.feed.issues)
        return [issue for issue in self.feed.issues if issue_matches(issue, self.filter_text)]

    # --- filter --------------------------------------------------------------------------------

    def open_filter(self) -> None:
        if self.session.environment.errors is None:
            return
        self.add_class("-filtering")
        box = self.query_one(ErrorFilter)
        box.display = True
        self.screen.set_focus(box)

    def close_filter(self) -> None:
        box = self.query_one(ErrorFilter)
        box.value = ""
        self.apply_filter("")
        self.remove_class("-filtering")
        box.display = False
        self.query_one(ErrorTable).focus()

    def apply_filter(self, query: str) -> None:
        if query.strip() == self.filter_text:
            return
        self.filter_text = query.strip()
        self._fill()
        self._show_title()

    def on_input_changed(self, event: Input.Changed) -> None:
        if isinstance(event.input, ErrorFilter):
            event.stop()
            self.apply_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if isinstance(event.input, ErrorFilter):
            event.stop()
            if not self.filter_text:
                self.remove_class("-filtering")
                event.input.display = False
            self.query_one(ErrorTable).focus()

    def _show_title(self) -> None:
        if self.filter_text:
            shown = self.shown
            total = len(self.feed.issues)
            title = f"Errors · {len(shown)} of {total} match '{safe(self.filter_text)}'"
            # what the release broke must not hide behind a filter left on
            for badge in ("NEW", "REGRESSED"):
                hidden = sum(1 for i in self.feed.issues if i.badge == badge) - sum(
                    1 for i in shown if i.badge == badge
                )
                if hidden:
                    title += f" · {hidden} {badge} hidden"
            self.border_title = title
        else:
            self.border_title = "Errors"

    def on_mount(self) -> None:
        self.border_title = "Errors"
        configured = self.session.environment.errors is not None
        self.subtitle = "waiting for data" if configured else "not configured"

    def _colour(self, variable: str) -> str:
        return theme_variables(self.app).get(variable, "")

    def on_errors_pane_update(self, message: Update) -> None:
        self.feed = message.feed
        self._fill()
        self._show_status()
        self._show_title()

    def on_resize(self) -> None:
        if self.session.environment.errors is not None:
            self._fill()

    def _cells(self, issue: ErrorIssue) -> dict[str, Text]:
        badge_style = {"NEW": "error", "REGRESSED": "warning"}.get(issue.badge, "")
        return {
            "badge": Text(
                issue.badge or ("busy" if issue.busiest else ""),
                style=f"bold {self._colour(badge_style)}" if badge_style else "dim",
            ),
            "Issue": Text(visible_text(issue.short_id)),
            "Events": Text(str(issue.count), justify="right"),
            "Last": Text(format_age(issue.last_seen)),
            "Users": Text("-" if issue.users is None else str(issue.users), justify="right"),
            "First": Text(format_age(issue.first_seen)),
            "Title": Text(visible_text(issue.title)),
        }

    def _fill(self) -> None:
        """Columns chosen by the width: the badge and the issue always; events, last seen,
        users and first seen while the title keeps TITLE_ROOM columns; the title gets what
        is left, cut with "…" (it was 80 characters wide and pushed every count out of
        sight, and at 160 columns only Issue and a cut Title showed)."""
        table = self.query_one(ErrorTable)
        rows = [self._cells(issue) for issue in self.shown]
        room = (self.content_size.width or self.app.size.width) - 2  # the scroll bar

        def width(column: str) -> int:
            header = 0 if column == "badge" else len(column)
            return max([header] + [r[column].cell_len for r in rows]) + 2

        columns = list(ERROR_COLUMNS)
        for optional in OPTIONAL_COLUMNS:
            if room - sum(width(c) for c in (*columns, optional)) >= TITLE_ROOM + 2:
                columns.append(optional)
        title_room = max(TITLE_MIN, room - sum(width(c) for c in columns) - 2)
        columns.append("Title")
        if columns != self._columns:
            self._columns = columns
            table.clear(columns=True)
            for label in columns:
                table.add_column("" if label == "badge" else label, key=label)
        cursor = table.cursor_row
        table.clear()
        for cells in rows:
            title = cells["Title"]
            if title.cell_len > title_room:
                title.truncate(title_room, overflow="ellipsis")
            table.add_row(*(cells[c] for c in columns))
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1))

    def _show_status(self) -> None:
        feed = self.feed
        status = self.query_one("#errors-status", ShownText)
        self.set_class(feed.stale, "-stale")
        spiking = bool(feed.spike and feed.spike.spiking)
        self.set_class(spiking, "-spike")
        lines = []
        if feed.stale:
            since = format_age(feed.last_ok) + " ago" if feed.last_ok else "never reached"
            lines.append(f"stale ({since}): {feed.last_error}")
            self.subtitle = "STALE"
        else:
            new = sum(1 for i in feed.issues if i.badge == "NEW")
            regressed = sum(1 for i in feed.issues if i.badge == "REGRESSED")
            self.subtitle = f"{new} new · {regressed} regressed"
        if feed.spike is not None:
            lines.append(("SPIKE: " if spiking else "") + feed.spike.reason)
        if feed.health is not None:
            lines.append(("RELEASE HEALTH: " if feed.health.failing else "") + feed.health.reason)
        lines += list(feed.notes)
        show_text(status, "\n".join(lines))
