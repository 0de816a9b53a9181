"""`?`: what the panes mean and which keys do what."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from cockpit.tui.bindings import KeyRow, bindings_of
from cockpit.tui.registry import HELP, Place
from cockpit.tui.screens.frame import DetailScreen

INTRO = "[b]cockpit[/b] — one screen for the whole go-live. Keys as this cockpit has them:"

# What the keys cannot say: the state marks, and why nothing is lost.
NOTES = """\
[b]Moving around[/b]
  ↑ ↓ move in a pane · tab / shift+tab the next / previous pane · ctrl+p the command
  palette (every action, and "go to section") · a key that cannot act now says why
  on the message line under the panes

[b]Item states[/b]
  ○ pending   ◌ running   ✔ done / passed   ✘ failed   ⤼ skipped   ✎ has notes
  "check" items are proven by a machine; "step" items carry commands

Every action is written to the audit log first, then to the state file,
so a dropped SSH session or a crash loses nothing: start the cockpit
again and you are where you were. Another cockpit on the same
environment sees your marks within a few seconds.
"""


class HelpScreen(DetailScreen[None]):
    DEFAULT_CSS = """
    HelpScreen .help-section {
        margin-top: 1;
    }
    """

    PLACE: ClassVar[Place] = HELP
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    def __init__(self, sections: list[tuple[str, list[KeyRow]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="frame") as scroll:
            scroll.border_title = "Help"
            yield Static(INTRO)
            for title, rows in self.sections:
                text = Text(title, style="bold")
                width = max((len(r.keys_text) for r in rows), default=8) + 2
                for row in rows:
                    text.append("\n  " + row.keys_text.ljust(width), style="bold")
                    text.append(row.tooltip)
                yield Static(text, classes="help-section")
            yield Static(NOTES)
