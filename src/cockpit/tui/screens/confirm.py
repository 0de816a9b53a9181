"""A yes/no question whose default answer is no."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Static

from cockpit.tui.bindings import bindings_of
from cockpit.tui.registry import CONFIRM, Place
from cockpit.tui.screens.frame import FramedScreen


class ConfirmScreen(FramedScreen[bool]):
    DEFAULT_CSS = """
    ConfirmScreen Horizontal {
        height: auto;
        margin-top: 1;
    }
    ConfirmScreen Button {
        margin-right: 2;
    }
    """
    PLACE: ClassVar[Place] = CONFIRM
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    def __init__(self, question: str, yes_label: str) -> None:
        super().__init__()
        self.question = question
        self.yes_label = yes_label

    def compose(self) -> ComposeResult:
        with Vertical(classes="frame"):
            yield Static(self.question, markup=False)
            with Horizontal():
                yield Button("Cancel", id="confirm-no", variant="primary")
                yield Button(self.yes_label, id="confirm-yes", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_no(self) -> None:
        self.dismiss(False)
