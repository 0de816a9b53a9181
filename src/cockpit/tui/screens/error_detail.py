"""One error issue: what, where, how often, since when, and its link (copyable over SSH)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from cockpit.rollout import format_age
from cockpit.sources.errors import ErrorIssue
from cockpit.tui.bindings import bindings_of
from cockpit.tui.plain import safe
from cockpit.tui.registry import ERROR_DETAIL, Place
from cockpit.tui.screens.frame import DetailScreen


class ErrorDetailScreen(DetailScreen[None]):
    PLACE: ClassVar[Place] = ERROR_DETAIL
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    def __init__(self, issue: ErrorIssue) -> None:
        super().__init__()
        self.issue = issue

    def compose(self) -> ComposeResult:
        issue = self.issue
        lines = [
            f"[b]{safe(issue.title)}[/b]",
            "",
            f"issue     {safe(issue.short_id)}  {safe(issue.badge or '')}",
            f"level     {safe(issue.level)}",
            f"where     {safe(issue.culprit or '-')}",
            f"events    {issue.count}"
            + (f"   users {issue.users}" if issue.users is not None else ""),
            f"first     {format_age(issue.first_seen)} ago"
            + (f" ({issue.first_seen:%Y-%m-%d %H:%M:%S} UTC)" if issue.first_seen else ""),
            f"last      {format_age(issue.last_seen)} ago",
            "",
            f"link      {safe(issue.permalink or '-')}",
        ]
        with VerticalScroll(classes="frame") as scroll:
            scroll.border_title = "Error issue"
            yield Static("\n".join(lines))
            yield Static("[dim]c copies the link · escape closes[/dim]", id="copy-status")

    def action_copy_link(self) -> None:
        """The cockpit cannot know whether the terminal took it: a terminal (or tmux without
        set-clipboard) that ignores OSC 52 drops it without a word. So it says what it did."""
        status = self.query_one("#copy-status", Static)
        if not self.issue.permalink:
            said = "Nothing copied: the tracker sent no link for this issue."
        else:
            self.app.copy_to_clipboard(self.issue.permalink)
            said = (
                "Link sent to your terminal's clipboard (OSC 52). A terminal or tmux that "
                "ignores OSC 52 drops it: then select the link above."
            )
        status.update(Text(said))
        self.app.notify(said, title="Errors")
