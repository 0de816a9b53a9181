"""Cold start to the first complete frame: cockpit vs a bare Textual app with four empty panes.

Each is started as a fresh process (imports included) in Textual's headless mode and exits
right after its first frame is painted. Prints the median of N runs and the ratio. Both run
with their bytecode compiled, as after an install (one warm-up run each writes it, even where
PYTHONDONTWRITEBYTECODE is set for the shell), and both with the same interpreter.

    .venv/bin/python benchmarks/startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BARE = textwrap.dedent(
    """
    from textual.app import App
    from textual.containers import Horizontal, Vertical
    from textual.widgets import Footer, Static

    class Bare(App):
        def compose(self):
            with Horizontal():
                yield Static("checklist")
                with Vertical():
                    yield Static("rollout")
                    yield Static("metrics")
                    yield Static("errors")
            yield Footer()

        def on_mount(self):
            self.call_after_refresh(self.exit)

    Bare().run(headless=True, size=(120, 40))
    """
)

COCKPIT = textwrap.dedent(
    """
    import sys
    from cockpit import collector

    collector.pause_for_start_up()  # as `cockpit run` does first
    from cockpit.session import GoLiveSession
    from cockpit.tui.app import CockpitApp

    session = GoLiveSession.open(sys.argv[1], None)
    app = CockpitApp(session, start_sources=False)
    app.call_after_refresh(lambda: app.call_after_refresh(app.exit))
    app.run(headless=True, size=(120, 40))
    """
)


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True, timeout=120, env=ENV)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "cockpit.toml"
        config.write_text(
            f'checklist = "{REPO / "sample-configs" / "servicedesk-runbook.md"}"\n'
            "[environments.demo]\nproduction = true\n"
        )
        config.chmod(0o644)
        timed([sys.executable, "-c", BARE])  # warm-up: bytecode written, files cached
        timed([sys.executable, "-c", COCKPIT, str(config)])
        bare, cockpit = [], []
        for _ in range(runs):  # interleaved, so a busy moment of the machine hits both
            bare.append(timed([sys.executable, "-c", BARE]))
            cockpit.append(timed([sys.executable, "-c", COCKPIT, str(config)]))
    b, c = statistics.median(bare), statistics.median(cockpit)
    print(f"bare Textual app, 4 empty panes: median {b * 1000:.0f} ms over {runs} runs")
    print(f"cockpit (sample runbook):        median {c * 1000:.0f} ms over {runs} runs")
    print(f"ratio cockpit / bare: {c / b:.2f}x (target <= 1.5x)")
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
