"""The two bases of the cockpit's modal views: one frame, and one close key for the details.

Every modal view (details, help, messages, prompts, the rollback and step screens) sits in
the same frame over the cockpit: centred, a thick border, the panel's background. That rule is
`FramedScreen > .frame` in cockpit.tcss, once; a view only says how big it is and, where it
warns, its border's colour. The views that only show something (an item, a workload, a pod's
logs, a metric, an error issue, help, messages) close with one binding, `screen.close`, so
one `[keys]` entry moves the close key of all of them (`CLOSE_ID` in `tui/registry.py`).
"""

from __future__ import annotations

from typing import TypeVar

from textual.reactive import var
from textual.screen import ModalScreen

ResultT = TypeVar("ResultT")


class FramedScreen(ModalScreen[ResultT]):
    """A modal view drawn in the cockpit's one frame: its container has the class `frame`."""

    # The frame's border subtitle ("live", "STALE", "following"): set only when it changes
    # (Textual repaints the whole frame on every assignment, and the detail sets it each poll).
    subtitle: var[str] = var("", init=False)

    def watch_subtitle(self, text: str) -> None:
        for frame in self.query(".frame"):
            frame.border_subtitle = text


class DetailScreen(FramedScreen[ResultT]):
    """A view that shows something and closes with `screen.close` (each view's place in
    `tui/registry.py` has it, with the keys of that view), answering None."""

    def action_close(self) -> None:
        self.dismiss(None)
