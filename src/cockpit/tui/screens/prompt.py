"""A small modal that asks for one line of text: a skip reason, a note."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label, Static

from cockpit.tui.bindings import bindings_of
from cockpit.tui.registry import PROMPT, Place
from cockpit.tui.screens.frame import FramedScreen


class TextPrompt(FramedScreen[str | None]):
    """Enter submits, Escape cancels; a required answer cannot be left empty."""

    DEFAULT_CSS = """
    TextPrompt #prompt-item {
        color: $text-muted;
        margin-bottom: 1;
    }
    TextPrompt #prompt-error {
        color: $error;
        height: auto;
    }
    """

    PLACE: ClassVar[Place] = PROMPT
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    def __init__(self, title: str, item_text: str, *, required: bool, placeholder: str) -> None:
        super().__init__()
        self.prompt_title = title
        self.item_text = item_text
        self.required = required
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="frame"):
            yield Label(self.prompt_title, id="prompt-title")
            yield Static(self.item_text, id="prompt-item", markup=False)
            yield Input(placeholder=self.placeholder, id="prompt-input")
            yield Static("", id="prompt-error")
            yield Static("Enter to save · Escape to cancel", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if self.required and not value:
            self.query_one("#prompt-error", Static).update("A reason is required.")
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)
