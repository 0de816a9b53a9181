"""The cockpit as `cockpit run` starts it, with timestamps for the benchmarks.

Run inside a pseudo-terminal by benchmarks/harness.py. It logs, on CLOCK_MONOTONIC (shared by
all processes, so the harness can subtract its own timestamps):

    key <t>          the checklist cursor moved (the key's action has run)
    frame <t> <n>    a frame of n characters was handed to the terminal writer

With --marks-per-second, it also marks random pending checklist items done at that rate, the
way an operator (or a second cockpit) would, so the checklist pane keeps changing.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any, TextIO

from cockpit.session import GoLiveSession
from cockpit.tui.app import CockpitApp
from cockpit.tui.widgets.checklist import ChecklistTree


def logging_action(original: Callable[[Any], None], log: TextIO) -> Callable[[Any], None]:
    def action(self: Any) -> None:
        original(self)
        log.write(f"key {time.monotonic()}\n")

    return action


def trace_slow(log: TextIO, limit: float) -> None:
    """Log `slow <t> <ms> <name>` for the UI-thread handlers that can take long."""
    from textual.screen import Screen

    from cockpit.tui.widgets.errors import ErrorsPane
    from cockpit.tui.widgets.metrics import MetricsPane
    from cockpit.tui.widgets.rollout import RolloutPane

    def timed(owner: type, name: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.monotonic()
            try:
                return original(*args, **kwargs)
            finally:
                took = time.monotonic() - start
                if took > limit:
                    log.write(f"slow {start} {took * 1000:.1f} {owner.__name__}.{name}\n")

        setattr(owner, name, wrapper)

    timed(CockpitApp, "on_cockpit_app_mark_written")  # a mark's part on the UI thread
    timed(CockpitApp, "on_cockpit_app_state_read")
    timed(CockpitApp, "_refresh_verdict")
    timed(CockpitApp, "_poll_state")
    timed(RolloutPane, "on_rollout_pane_snapshot")
    timed(RolloutPane, "_tick")
    timed(MetricsPane, "on_metrics_pane_update")
    timed(ErrorsPane, "on_errors_pane_update")
    timed(Screen, "_compositor_refresh")
    timed(Screen, "_refresh_layout")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--env", default=None)
    parser.add_argument("--log", required=True)
    parser.add_argument("--marks-per-second", type=float, default=0.0)
    parser.add_argument(
        "--slow-ms", type=float, default=0.0, help="also log handlers that run longer than this"
    )
    args = parser.parse_args()
    log = open(args.log, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as we do
    if args.slow_ms:
        trace_slow(log, args.slow_ms / 1000)
    for name in ("action_cursor_down", "action_cursor_up"):
        setattr(ChecklistTree, name, logging_action(getattr(ChecklistTree, name), log))
    session = GoLiveSession.open(args.config, args.env)
    app = CockpitApp(session)

    def hook_driver() -> None:
        driver = app._driver
        if driver is None:
            return
        write = driver.write

        def logged(data: str) -> None:
            write(data)
            log.write(f"frame {time.monotonic()} {len(data)}\n")

        driver.write = logged  # type: ignore[method-assign]
        log.write(f"ready {time.monotonic()}\n")

    rng = random.Random(5)
    pending = list(session.checklist.items())
    rng.shuffle(pending)

    def mark() -> None:
        if pending and len(app.screen_stack) == 1:  # not while a dialog is open
            app.post_message(ChecklistTree.MarkDone(pending.pop()))

    app.call_after_refresh(hook_driver)
    if args.marks_per_second > 0:
        app.call_after_refresh(lambda: app.set_interval(1 / args.marks_per_second, mark))
    app.run()


if __name__ == "__main__":
    main()
