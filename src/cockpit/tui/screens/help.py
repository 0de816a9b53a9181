"""`?`: what the panes mean and which keys do what."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP_TEXT = """\
[b]cockpit[/b] — one screen for the whole go-live.

[b]Checklist pane[/b]
  ↑ ↓ / mouse    move through sections and items
  ← →            fold / unfold a section (space toggles too)
  enter          open the item's detail (on a section: fold it)
  d              mark the item done
  s              skip the item (asks for the reason; required)
  n              add a note to the item
  u              reopen: set the item back to pending
  ]              jump to the next item that is not resolved
  /              filter: only the items whose text or ID holds what you type
                 (enter keeps the filter, escape clears it)
  { }            jump to the previous / next section
                 (ctrl+p "go to section" reaches any section by name)
  r              run the item: its bound checks, or its step's scripts
                 (each shell block runs whole with bash -euo pipefail; scripts
                 need allow_commands = true; you confirm them first, in
                 production by typing the environment's name)
  R              run the section: checks at the same time, steps in order,
                 stopping at the first step that fails
  escape         stop what is running (the cancel is audited)

[b]Rollout pane[/b]
  enter          the deployment's detail, live: history, pods (restarts, last
                 termination and exit code, waiting reason), recent events;
                 ↑ ↓ a pod, l (or enter) its logs
  ctrl+z         roll back (kubectl rollout undo semantics; asks, checks RBAC first;
                 in production you type the deployment's name)
  p              pause or resume the rollout
  STALE          the API cannot be reached: rows keep their last values
  ctrl+r         retry the clusters now, e.g. after logging in again when the
                 credential plugin failed (shown while a cluster cannot be seen)

[b]Pod logs[/b] (l in the detail)
  p              previous container's last lines / back to the current one
  c              next container, init containers included
  / n N          search; next / previous match
  t              timestamps on / off
  escape         back (the follow stops)

[b]Everywhere[/b]
  tab / shift+tab  move between panes
  ctrl+p           command palette: every action, searchable
  ?                this help
  v                every reason of the verdict, or only the first
  B                roll back to the last good revision (when the run failed)
  ctrl+q           quit (everything is already saved)

[b]Item states[/b]
  ○ pending   ◌ running   ✔ done / passed   ✘ failed   ⤼ skipped   ✎ has notes
  "check" items are proven by a machine; "step" items carry commands

Every action is written to the audit log first, then to the state file,
so a dropped SSH session or a crash loses nothing: start the cockpit
again and you are where you were. Another cockpit on the same
environment sees your marks within a few seconds.
"""


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 80;
        max-width: 95%;
        height: 90%;
        border: thick $primary;
        background: $panel;
        padding: 0 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close", tooltip="Close help", id="help.close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Help"
            yield Static(HELP_TEXT)

    def action_close(self) -> None:
        self.dismiss(None)
