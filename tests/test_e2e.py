"""The rehearsal story end to end: bad release, NO-GO, rollback, GO, report.

Once in-process with Pilot (fast), and once as an operator would live it: the real
`cockpit rehearse bad-release` in tmux at 80x24 and 160x48, driven with keys, both at once.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cockpit.cli import cli
from cockpit.rehearsal.run import start_rehearsal
from cockpit.rehearsal.scenario import load_scenario
from cockpit.session import GoLiveSession
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.rollback import RollbackScreen
from cockpit.tui.widgets.verdict import VerdictBar

from .helpers import until, wait_until

COCKPIT = str(Path(sys.executable).parent / "cockpit")


def report_of(config: Path, fmt: str = "md") -> str:
    result = CliRunner().invoke(cli, ["report", "-c", str(config), "--format", fmt])
    assert result.exit_code == 0, result.output
    return result.output


def check_report(config: Path) -> None:
    markdown = report_of(config)
    assert "# Go-live report — ServiceDesk REHEARSAL" in markdown
    assert "ROLLBACK requested: rehearsal/servicedesk-app revision 2 → 1" in markdown
    assert "ROLLBACK sent: rehearsal/servicedesk-app back to revision 1" in markdown
    gates = markdown.split("## Gate values at key moments", 1)[1].split("## Checklist", 1)[0]
    assert "| NO-GO |" in gates and "| GO |" in gates
    assert "(Failed)" in gates  # the value that failed a gate is in the report
    assert "Final verdict: **GO**" in markdown
    assert "hash chain intact" in markdown
    page = report_of(config, "html")
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page
    assert "<link" not in page and "<script" not in page  # one self-contained file


async def test_pilot_bad_release_rollback_and_report(tmp_path, operator):
    scenario = load_scenario("bad-release").model_copy(update={"time_scale": 0.4})
    rehearsal = await asyncio.to_thread(start_rehearsal, tmp_path / "r", scenario=scenario)
    try:
        session = GoLiveSession.open(rehearsal.config, None, operator=operator, via="tui")
        app = CockpitApp(session)
        async with app.run_test(size=(160, 48)) as pilot:
            bar = app.query_one(VerdictBar)

            def verdict_until(predicate, seconds):
                return until(pilot, predicate, seconds, every=0.2, what=lambda: bar.verdict)

            await verdict_until(
                lambda: bar.verdict.state == "NO-GO" and bar.verdict.rollback_recommended, 90
            )
            await pilot.press("B")
            await verdict_until(
                lambda: isinstance(app.screen, RollbackScreen) and app.screen.prepared is not None,
                30,
            )
            await pilot.press(*"servicedesk-app", "enter")
            await verdict_until(lambda: not isinstance(app.screen, RollbackScreen), 30)
            await verdict_until(lambda: bar.verdict.state == "GO", 120)
    finally:
        await asyncio.to_thread(rehearsal.stop)
    check_report(rehearsal.config)


# --- the real thing, in tmux --------------------------------------------------------------------


class Tmux:
    """A tmux session on a tmux server of its own (`-L`): the developer's own tmux server,
    its sessions and its config are never touched, and the server ends with the session."""

    def __init__(self, name: str, cols: int, rows: int, command: str) -> None:
        self.name = name
        self.socket = f"cockpit-test-{os.getpid()}-{name}"
        self.tmux(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            str(cols),
            "-y",
            str(rows),
            command,
            check=True,
        )

    def tmux(self, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=check
        )

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name).stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys, check=True)

    def alive(self) -> bool:
        return self.tmux("has-session", "-t", self.name).returncode == 0

    def kill(self) -> None:
        self.tmux("kill-server")


def verdict_line(screen: str) -> str:
    lines = screen.splitlines()
    return lines[1] if len(lines) > 1 else ""


def wait_screen(term: Tmux, predicate, seconds: float) -> str:
    seen = [""]

    def shown() -> str | None:
        seen[0] = term.screen()
        return seen[0] if predicate(seen[0]) else None

    return wait_until(shown, seconds, every=0.5, what=lambda: f"{term.name}; screen:\n{seen[0]}")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux missing: `make test` installs it")
def test_tmux_bad_release_at_80x24_and_160x48(tmp_path):
    sizes = {"e2e-small": (80, 24), "e2e-large": (160, 48)}
    terms = {}
    try:
        for name, (cols, rows) in sizes.items():
            folder = tmp_path / name
            command = f"{COCKPIT} rehearse bad-release --folder {folder} --time-scale 0.5"
            terms[name] = Tmux(f"{name}-{id(tmp_path)}", cols, rows, command)
        for term in terms.values():
            wait_screen(term, lambda s: "NO-GO" in verdict_line(s) and "ROLLBACK" in s, 120)
            term.keys("B")
        for term in terms.values():
            wait_screen(term, lambda s: "back to: revision 1" in s, 30)
            term.keys("servicedesk-app", "Enter")
        for term in terms.values():
            wait_screen(term, lambda s: verdict_line(s).strip().startswith("GO"), 150)
            term.keys("C-q")
        for term in terms.values():
            deadline = time.monotonic() + 30
            while term.alive() and time.monotonic() < deadline:
                time.sleep(0.5)
            assert not term.alive(), "the cockpit did not quit"
    finally:
        for term in terms.values():
            term.kill()
    for name in sizes:
        check_report(tmp_path / name / "cockpit.toml")
