"""Marks and the UI thread: how long the screen is unresponsive while a mark is written.

A mark appends to the audit log and the state journal (each fsynced) under the state file's
lock. Two figures, from the cockpit run headless (Textual's test driver):

- **held lock**: another process holds the state lock for --hold seconds; the operator presses
  `d` and then `down`. Printed: how long after `d` the `down` key was handled (the cursor
  moved), and how long until the mark was on screen (after the lock was given up).
- **free lock**: --marks marks one after the other; printed: the time each `d` took from the
  key press until the next key was handled, p50 and max, and until its label was drawn.

    .venv/bin/python benchmarks/marks.py [--hold 3] [--marks 30]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cockpit.identity import Operator
from cockpit.session import GoLiveSession
from cockpit.tui.app import CockpitApp
from cockpit.tui.widgets.checklist import ChecklistPane, ChecklistTree

HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def world(folder: Path, items: int) -> Path:
    lines = ["# Runbook", "## Items", *[f"- [ ] Item {n}" for n in range(items)]]
    (folder / "runbook.md").write_text("\n".join(lines) + "\n")
    config = folder / "cockpit.toml"
    config.write_text(
        'default_environment = "staging"\nchecklist = "runbook.md"\n[environments.staging]\n'
    )
    return config


async def until(pilot: object, predicate: object, timeout: float = 30.0) -> float:
    start = time.monotonic()
    while not predicate():  # type: ignore[operator]
        if time.monotonic() - start > timeout:
            raise SystemExit("timed out")
        await pilot.pause(0.001)  # type: ignore[attr-defined]
    return time.monotonic()


async def measure(config: Path, hold: float, marks: int) -> None:
    session = GoLiveSession.open(config, None, operator=Operator("bench", None))
    app = CockpitApp(session, start_sources=False, state_poll_seconds=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(ChecklistPane)
        tree = app.query_one(ChecklistTree)
        items = list(session.checklist.items())

        def label(n: int) -> str:
            return str(pane._tree_nodes[items[n].id].label)

        pane.select_item(items[0].id)
        await pilot.pause()
        session.store.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(session.store.lock_path), str(hold)],
            stdout=subprocess.PIPE,
        )
        assert holder.stdout is not None
        holder.stdout.readline()  # "held"
        pressed = time.monotonic()
        await pilot.press("d", "down")
        moved = await until(pilot, lambda: tree.selected_item() is not items[0])
        shown = await until(pilot, lambda: label(0).startswith("✔"), timeout=hold + 15)
        holder.wait()
        print(
            f"held lock ({hold:g} s): next key handled {1000 * (moved - pressed):.0f} ms after d; "
            f"mark on screen after {shown - pressed:.2f} s"
        )
        keys, drawn = [], []
        for n in range(1, 1 + marks):
            pane.select_item(items[n].id)
            await pilot.pause()
            pressed = time.monotonic()
            await pilot.press("d", "down")
            keys.append(await until(pilot, lambda n=n: tree.selected_item() is not items[n]))
            drawn.append(await until(pilot, lambda n=n: label(n).startswith("✔")))
            keys[-1] -= pressed
            drawn[-1] -= pressed
        print(
            f"free lock, {marks} marks: next key handled p50 {1000 * statistics.median(keys):.1f}"
            f" ms, max {1000 * max(keys):.1f} ms; mark drawn p50 "
            f"{1000 * statistics.median(drawn):.1f} ms, max {1000 * max(drawn):.1f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hold", type=float, default=3.0)
    parser.add_argument("--marks", type=int, default=30)
    parser.add_argument("--items", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(measure(world(Path(folder), args.items), args.hold, args.marks))


if __name__ == "__main__":
    main()
