"""The real `cockpit` process in a pseudo-terminal: marks made with keys survive SIGKILL."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import shutil
import signal
import stat
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cockpit.cli import cli
from cockpit.identity import login_name

from .helpers import wait_until

COCKPIT = shutil.which("cockpit", path=str(Path(sys.executable).parent)) or "cockpit"


class Terminal:
    """A cockpit process on a pty of a given size, with a screen buffer we can wait on."""

    def __init__(
        self, args: list[str], cols: int = 100, rows: int = 30, env=None, sighup=signal.SIG_DFL
    ) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(
            args,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, "TERM": "xterm-256color", **(env or {})},
            start_new_session=True,
            # as from a login shell: a test run started under nohup would otherwise pass on
            # its ignored SIGHUP, and the dropped-session test would wait in vain
            preexec_fn=lambda: signal.signal(signal.SIGHUP, sighup),  # noqa: PLW1509 - only a signal disposition
        )
        os.close(slave)
        os.set_blocking(self.master, False)
        self.output = b""

    def pump(self) -> None:
        try:
            while chunk := os.read(self.master, 65536):
                self.output += chunk
        except (BlockingIOError, OSError):
            pass

    def wait_for(self, text: bytes, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            if text in self.output:
                return
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never appeared; last output: {self.output[-500:]!r}")

    def send(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        os.close(self.master)


def test_marks_made_in_the_tui_survive_sigkill(write_config, tmp_path):
    path = write_config()
    term = Terminal(
        [COCKPIT, "--config", str(path), "--env", "production"],
        env={"USER": "carol", "SUDO_USER": ""},
    )
    try:
        term.wait_for(b"Checklist")
        term.wait_for(b"Announce completion")
        shown = re.search(rb"checklist (\d+)/(\d+)", term.output)
        assert shown, term.output[-500:]
        resolved, total = int(shown[1]), int(shown[2])
        for marked in (1, 2):
            term.send("]")  # the next unresolved item: "Change approved", then "Backup taken"
            time.sleep(0.3)
            term.send("d")
            # the screen says it is done: from here on the operator counts on it
            term.wait_for(f"checklist {resolved + marked}/{total}".encode())
        # killed the moment the screen shows the second mark, without waiting for the disk:
        # a mark the cockpit shows before it is saved would be lost here
    finally:
        term.kill()

    assert term.proc.returncode == -signal.SIGKILL
    runner = CliRunner()
    status = json.loads(
        runner.invoke(cli, ["checklist", "--json", "-c", str(path), "-e", "production"]).output
    )
    before = {i["text"]: i for i in status["sections"][0]["items"]}
    assert before["Change approved"]["status"] == "done"
    assert before["Change approved"]["by"] == login_name()  # not the forged USER
    assert before["Backup taken"]["status"] == "done"
    verify = runner.invoke(cli, ["audit", "verify", "-c", str(path)])
    assert verify.exit_code == 0, verify.output
    assert "3 entries" in verify.output  # session_start and two marks; no session_end


def test_startup_error_is_a_message_not_a_traceback(tmp_path):
    bad = tmp_path / "cockpit.toml"
    bad.write_text('checklist = "missing.md"\n[environments.prod]\nlable = "x"\n')
    result = subprocess.run(
        [COCKPIT, "--config", str(bad)], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "environments.prod.lable: unknown key; did you mean 'label'?" in result.stderr
    assert f"{bad}:3:" in result.stderr


def test_a_bug_in_the_tui_leaves_a_private_crash_file_and_one_line(tmp_path):
    """A bug (injected: the banner raises, with a secret in its message) closes the cockpit:
    the terminal gets one line naming the crash file, no traceback with local variables; the
    file is 0600, has the traceback, and no secret."""
    canary = "canary-9f3b-secret-value"
    (tmp_path / "runbook.md").write_text("# R\n\n## S\n- [ ] x\n")
    (tmp_path / "cockpit.toml").write_text(
        'checklist = "runbook.md"\n[environments.staging]\n'
        '[environments.staging.prometheus]\nurl = "http://127.0.0.1:9"\n'
        'token_env = "COCKPIT_TEST_TOKEN"\n'
    )
    inject = (
        "import os, cockpit.tui.widgets.banner as banner\n"
        "def boom(self):\n"
        "    raise RuntimeError('banner broke: ' + os.environ['COCKPIT_TEST_TOKEN'])\n"
        "banner.EnvironmentBanner.refresh_text = boom\n"
        "import sys; sys.argv = ['cockpit', 'run', '--config', sys.argv[1]]\n"
        "from cockpit.cli import main; main()\n"
    )
    env = {"COCKPIT_TEST_TOKEN": canary, "XDG_STATE_HOME": str(tmp_path / "xdg")}
    terminal = Terminal([sys.executable, "-c", inject, str(tmp_path / "cockpit.toml")], env=env)
    try:
        wait_until(lambda: terminal.pump() or terminal.proc.poll() is not None, timeout=30)
        terminal.pump()
    finally:
        if terminal.proc.poll() is None:
            terminal.proc.kill()
        os.close(terminal.master)
    assert terminal.proc.returncode == 70
    out = terminal.output.decode("utf-8", "replace")
    assert "internal error: RuntimeError: banner broke: ***" in out
    assert canary not in out and "locals" not in out.lower()
    (crash,) = (tmp_path / "xdg" / "cockpit").glob("crash-*.log")
    assert f"Details: {crash}" in out.replace("\r\n", "").replace("\n", "")
    assert stat.S_IMODE(crash.stat().st_mode) == 0o600
    text = crash.read_text()
    assert "Traceback" in text and "RuntimeError: banner broke: ***" in text
    assert canary not in text


@pytest.mark.parametrize("sighup", [signal.SIG_DFL, signal.SIG_IGN], ids=["default", "nohup"])
def test_a_terminal_gone_without_sighup_ends_the_cockpit(write_config, tmp_path, sighup):
    """The terminal hangs up and no SIGHUP comes (no controlling terminal here, as under a
    wrapper that passes no signals on): the cockpit must end, not spin on its dead input;
    under nohup, where its own SIGHUP is ignored too, a few seconds later."""
    path = write_config()
    term = Terminal([COCKPIT, "--config", str(path), "--env", "production"], sighup=sighup)
    try:
        term.wait_for(b"Announce completion")
        os.close(term.master)  # the terminal hangs up
        term.proc.wait(15)  # about a second to notice, then SIGHUP: a default death
    finally:
        if term.proc.poll() is None:
            term.proc.kill()
            term.proc.wait(10)
    assert term.proc.returncode in (-signal.SIGHUP, 128 + signal.SIGHUP)
