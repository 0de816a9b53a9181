"""The cockpit as `cockpit run` starts it, with timestamps for the benchmarks.

Run inside a pseudo-terminal by benchmarks/harness.py. It logs, on CLOCK_MONOTONIC (shared by
all processes, so the harness can subtract its own timestamps):

    key <t> <moved>  a cursor key's action has run; moved is 1 if the cursor line changed
                     (0: a no-op, the cursor already at the top or bottom: no frame follows)
    frame <t> <n>    a frame of n characters was handed to the terminal writer

With --marks-per-second, it also marks random pending checklist items done at that rate, the
way an operator (or a second cockpit) would, so the checklist pane keeps changing.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import random
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from cockpit.session import GoLiveSession
from cockpit.tui.app import CockpitApp
from cockpit.tui.widgets.checklist import ChecklistTree


def logging_action(original: Callable[[Any], None], log: TextIO) -> Callable[[Any], None]:
    def action(self: Any) -> None:
        before = self.cursor_line
        original(self)
        log.write(f"key {time.monotonic()} {int(self.cursor_line != before)}\n")

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


def trace_layout(log: TextIO) -> None:
    """Log `layout <t> <widget> <caller>` for every refresh that asks for a new layout (each
    re-arranges the whole screen before its frame); the caller is the nearest frame of the
    cockpit's own code, or Textual's when none is on the stack."""
    import sys

    from textual.widget import Widget

    original = Widget.refresh
    ours = str(Path(__file__).resolve().parents[1] / "src" / "cockpit")

    def refresh(self: Widget, *regions: Any, **kwargs: Any) -> Any:
        if kwargs.get("layout") or kwargs.get("recompose"):
            frame = sys._getframe(1)
            caller = None
            while frame is not None:
                if frame.f_code.co_filename.startswith(ours):
                    caller = frame
                    break
                frame = frame.f_back
            where = caller or sys._getframe(1)
            name = f"{Path(where.f_code.co_filename).name}:{where.f_lineno}:{where.f_code.co_name}"
            log.write(f"layout {time.monotonic()} {type(self).__name__} {name}\n")
        return original(self, *regions, **kwargs)

    Widget.refresh = refresh  # type: ignore[method-assign]


def trace_memory(folder: Path, every: float, warmup: float, frames: int) -> None:
    """Every `every` seconds, write what Python has allocated since the warm-up snapshot.

    Runs on a thread of its own (tracemalloc's snapshots need no event loop). Each report,
    `tracemalloc-NNNN.txt` in `folder`, lists the allocation sites that grew most since the
    snapshot taken `warmup` seconds in (tracing starts a minute before), grouped by line and
    by traceback; `tracemalloc.log` gets one line per report: seconds, traced bytes and
    tracemalloc's own memory.
    """
    ignore = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen *>"),
    ]

    def snapshot() -> tracemalloc.Snapshot:
        gc.collect()
        return tracemalloc.take_snapshot().filter_traces(ignore)

    def run() -> None:
        started = time.monotonic()
        # Tracing from the start would slow start-up several times over; objects allocated
        # before tracing starts are not in the snapshots, but what grows later is.
        time.sleep(max(0.0, warmup - 60))
        tracemalloc.start(frames)
        time.sleep(min(warmup, 60.0))
        base = snapshot()
        base_size = tracemalloc.get_traced_memory()[0]
        summary = open(folder / "tracemalloc.log", "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        overhead = tracemalloc.get_tracemalloc_memory()
        summary.write(f"{time.monotonic() - started:.0f} {base_size} {overhead}\n")
        number = 0
        while True:
            time.sleep(every)
            number += 1
            now = snapshot()
            size, overhead = (
                tracemalloc.get_traced_memory()[0],
                tracemalloc.get_tracemalloc_memory(),
            )
            summary.write(f"{time.monotonic() - started:.0f} {size} {overhead}\n")
            lines = [
                f"after {time.monotonic() - started:.0f} s: traced {size / 1e6:.2f} MB "
                f"({(size - base_size) / 1e6:+.2f} MB since the warm-up snapshot)",
                "",
            ]
            lines.append("by line:")
            lines += [str(stat) for stat in now.compare_to(base, "lineno")[:30]]
            lines += ["", "by traceback:"]
            for stat in now.compare_to(base, "traceback")[:12]:
                lines.append(f"{stat.size_diff / 1e3:+.1f} KB, {stat.count_diff:+d} blocks")
                lines += ["    " + line for line in stat.traceback.format()]
            del now
            (folder / f"tracemalloc-{number:04d}.txt").write_text("\n".join(lines) + "\n")

    threading.Thread(target=run, daemon=True, name="tracemalloc").start()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--env", default=None)
    parser.add_argument("--log", required=True)
    parser.add_argument("--marks-per-second", type=float, default=0.0)
    parser.add_argument(
        "--slow-ms", type=float, default=0.0, help="also log handlers that run longer than this"
    )
    parser.add_argument(
        "--trace-layout", action="store_true", help="log what asks for each new layout"
    )
    parser.add_argument("--tracemalloc", type=float, default=0.0, help="report every N seconds")
    parser.add_argument("--tracemalloc-warmup", type=float, default=300.0)
    parser.add_argument("--tracemalloc-frames", type=int, default=6)
    parser.add_argument(
        "--profile", default=None, help="cProfile the UI thread into this file (diagnosis)"
    )
    args = parser.parse_args()
    if args.tracemalloc:
        trace_memory(
            Path(args.log).parent,
            args.tracemalloc,
            args.tracemalloc_warmup,
            args.tracemalloc_frames,
        )
    log = open(args.log, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as we do
    if args.slow_ms:
        trace_slow(log, args.slow_ms / 1000)
    if args.trace_layout:
        trace_layout(log)
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
    profiler = cProfile.Profile() if args.profile else None
    if profiler is not None:  # the UI thread only: where a key waits for its frame
        profiler.enable()
    app.run()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)


if __name__ == "__main__":
    main()
