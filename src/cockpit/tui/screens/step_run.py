"""Running a runbook step: the exact commands, a confirmation, then the live output.

In a production environment the operator types the environment's name to confirm: a stray
Enter cannot start a migration. A production step with several scripts ("dry run, then apply")
pauses after each one: its output stays on screen to read, and the next script starts only
when the name is typed again; Escape there stops the step (audited, nothing more runs).
Escape before the start closes; Escape while running cancels the run (the process group is
killed and the cancellation is audited). The status line counts the run's time and the time
left before the running script's timeout.
"""

from __future__ import annotations

import asyncio
import time
from enum import StrEnum
from typing import ClassVar, Literal

from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import var
from textual.timer import Timer
from textual.widgets import Input, Log, Static

from cockpit.checklist import ChecklistItem
from cockpit.confirmation import TypedConfirmation
from cockpit.errors import CockpitError
from cockpit.session import GoLiveSession
from cockpit.steps import StepPlan
from cockpit.text import format_elapsed, visible_text
from cockpit.tui.bindings import bindings_of
from cockpit.tui.plain import safe
from cockpit.tui.registry import STEP_RUN, Place
from cockpit.tui.screens.frame import FramedScreen


class StepOutcome(StrEnum):
    """How the step screen closed (the section run stops at anything but PASSED)."""

    PASSED = "passed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DECLINED = "declined"  # closed before the commands started


class StepRunScreen(FramedScreen[StepOutcome]):
    # waiting for the confirmation, running, paused between production scripts, done:
    # Enter ("Continue") is for done only
    state: var[Literal["waiting", "running", "paused", "done"]] = var("waiting", bindings=True)

    DEFAULT_CSS = """
    StepRunScreen #step-commands {
        height: auto;
        max-height: 10;
        margin-bottom: 1;
    }
    StepRunScreen #step-output {
        height: 1fr;
        border: round $panel-lighten-2;
    }
    StepRunScreen #step-status {
        height: auto;
    }
    StepRunScreen #step-confirm.-hidden {
        display: none;
    }
    """

    PLACE: ClassVar[Place] = STEP_RUN
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close":
            return self.state == "done"
        return True

    def action_quit(self) -> None:
        """Quitting mid-step would leave the commands' outcome unrecorded: say so instead of
        ignoring the key."""
        if self.state == "paused":
            said = "Not quitting: the step is between two scripts. Escape stops it, then ctrl+q."
            self.app.notify(said, title="Not done", severity="warning")
            return
        if self.state == "running":
            said = "Not quitting: the commands are still running. Escape stops them, then ctrl+q."
            if self._clock is not None:
                self._clock.stop()  # the reason stays on screen instead of the clock
            self._status(f"[b]running[/b] — {safe(said)}")
            self.app.notify(said, title="Not done", severity="warning")
            return
        self.app.exit()

    def action_close(self) -> None:
        if self.state == "done":
            self.dismiss(self.outcome)

    class OutputLine(Message):
        def __init__(self, line: str) -> None:
            super().__init__()
            self.line = line

    def __init__(
        self, session: GoLiveSession, item: ChecklistItem, plan: StepPlan, *, ask: bool = True
    ) -> None:
        super().__init__()
        self.session = session
        self.item = item
        self.plan = plan
        self.ask = ask
        self.outcome = StepOutcome.DECLINED
        self._started = 0.0  # time.monotonic() when the commands started
        self._script = 0  # the script running now (1-based)
        self._script_started = 0.0
        self._paused_for = 0.0  # seconds spent waiting for the operator between scripts
        self._clock: Timer | None = None
        self.confirmation = TypedConfirmation.of(plan.production, session.env_name)
        self._go_on: asyncio.Future[bool] | None = None  # the operator's answer between scripts

    @property
    def confirm_word(self) -> str:
        return self.confirmation.word or ""

    def compose(self) -> ComposeResult:
        with Vertical(classes="frame") as box:
            box.border_title = f"Run step · {self.session.label}"
            yield Static(f"[b]{safe(self.item.text)}[/b]  ({self.plan.source})", markup=True)
            commands = "\n\n".join(
                f"# script {n} of {len(self.plan.commands)} (bash -euo pipefail)\n"
                + visible_text(c.display.rstrip("\n"), keep_newlines=True)
                for n, c in enumerate(self.plan.commands, start=1)
            )
            yield Static(commands, id="step-commands", markup=False)
            if self.plan.target:
                yield Static(f"kubectl acts on: {self.plan.target}", id="step-target", markup=False)
            if self.plan.production:
                prompt = (
                    f"PRODUCTION: type {self.session.env_name!r} and press Enter to run "
                    "these commands, or Escape to cancel"
                )
            else:
                prompt = "Press Enter to run these commands, or Escape to cancel"
            yield Static(prompt, id="step-status")
            yield Input(
                placeholder=self.confirm_word or "Enter to run",
                id="step-confirm",
            )
            yield Log(id="step-output", max_lines=5000)

    def on_mount(self) -> None:
        self.set_class(self.plan.production, "-production")
        if not self.ask:
            self._start()
        else:
            self.query_one("#step-confirm", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.state == "paused":
            if not self.confirmation.accepts(event.value):
                self._status(
                    f"[b]Not continued[/b]: type exactly {safe(self.confirm_word)!r} to run "
                    f"script {self._script + 1}, or Escape to stop here",
                )
                event.input.value = ""
                return
            self._answer(True)
            return
        if self.state != "waiting":
            return
        if not self.confirmation.accepts(event.value):
            self._status(
                f"[b]Not started[/b]: type exactly {safe(self.confirm_word)!r} to confirm",
            )
            event.input.value = ""
            return
        self._start()

    def _start(self) -> None:
        self.state = "running"
        self.query_one("#step-confirm", Input).add_class("-hidden")
        self.query_one("#step-output", Log).focus()
        self._started = time.monotonic()
        self._show_running()
        self._clock = self.set_interval(1, self._show_running)
        self._run()

    def _show_running(self) -> None:
        """How long the commands have run, counted on screen while they run."""
        if self.state != "running":
            if self._clock is not None:
                self._clock.stop()
            return
        now = time.monotonic()
        elapsed = format_elapsed(now - self._started - self._paused_for)
        total = len(self.plan.commands)
        script = f" · script {self._script} of {total}" if total > 1 and self._script else ""
        left = self.session.environment.step_timeout - (now - self._script_started)
        timeout = f" · killed in {format_elapsed(left)} (timeout)" if self._script else ""
        self._status(f"[b]running {elapsed}[/b]{script}{timeout} — Escape stops the commands")

    def _on_script(self, number: int) -> None:
        self._script = number
        self._script_started = time.monotonic()
        self._show_running()

    async def _before_next(self, number: int, total: int) -> bool:
        """Between two scripts of a production step: the output so far stays on screen, and
        the next script runs only when the name is typed again."""
        self.state = "paused"
        if self._clock is not None:
            self._clock.stop()
        paused_at = time.monotonic()
        headline = self.plan.commands[number - 1].headline
        self._status(
            f"[b]script {number - 1} of {total} done[/b] — read its output. Type "
            f"{safe(self.confirm_word)!r} and Enter to run script {number} of {total} "
            f"({safe(headline)}), or Escape to stop here"
        )
        box = self.query_one("#step-confirm", Input)
        box.value = ""
        box.remove_class("-hidden")
        box.focus()
        self._go_on = asyncio.get_running_loop().create_future()
        try:
            go_on = await self._go_on
        finally:
            self._go_on = None
            box.add_class("-hidden")
            self._paused_for += time.monotonic() - paused_at
        if go_on:
            self.state = "running"
            self.query_one("#step-output", Log).focus()
            self._clock = self.set_interval(1, self._show_running)
        return go_on

    def _answer(self, go_on: bool) -> None:
        if self._go_on is not None and not self._go_on.done():
            self._go_on.set_result(go_on)

    @work(exclusive=True, exit_on_error=False, group="step")
    async def _run(self) -> None:
        try:
            pause = self.plan.production and len(self.plan.commands) > 1
            result = await self.session.run_step(
                self.item,
                on_line=lambda line: self.post_message(self.OutputLine(line)),
                on_script=self._on_script,
                before_next=self._before_next if pause else None,
            )
        except asyncio.CancelledError:
            self.outcome = StepOutcome.CANCELLED
            raise
        except CockpitError as exc:
            self.outcome = StepOutcome.FAILED
            self.state = "done"
            self._status(f"[b]not run[/b]: {safe(exc.message)}")
            return
        self.state = "done"
        if result.stopped:
            self.outcome = StepOutcome.CANCELLED
            marked = (
                " The item is marked failed: the step is not complete."
                if (result.status == "failed")
                else ""
            )
            self._status(
                f"[b]stopped[/b]: {safe(result.evidence)}.{marked} — Enter or Escape closes"
            )
            return
        self.outcome = StepOutcome.PASSED if result.passed else StepOutcome.FAILED
        word = "[b]passed[/b]" if result.passed else "[b]FAILED[/b]"
        self._status(f"{word}: {safe(result.evidence)} — Enter or Escape closes")

    def on_step_run_screen_output_line(self, message: OutputLine) -> None:
        self.query_one("#step-output", Log).write_line(visible_text(message.line))

    def _status(self, markup: str) -> None:
        self.query_one("#step-status", Static).update(markup)

    def action_cancel(self) -> None:
        if self.state == "paused":
            self._answer(False)  # the run ends as "stopped"; nothing more is sent
            return
        if self.state == "running":
            self.workers.cancel_group(self, "step")
            self.state = "done"
            self.outcome = StepOutcome.CANCELLED
            self._status("[b]cancelled[/b]: the commands were stopped — Enter or Escape closes")
            return
        self.dismiss(self.outcome)
