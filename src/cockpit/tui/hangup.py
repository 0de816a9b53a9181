"""Leave when the terminal is gone.

An SSH session that drops normally ends the cockpit: the shell passes SIGHUP on to its jobs.
Not always: under `make`, a wrapper script that does not pass signals on, `nohup`, or a
terminal multiplexer killed outright, no SIGHUP comes, and the terminal just hangs up. Then
every read of it returns nothing (Textual's input thread took that for piped input and spun
at most of a core), every write fails (its writer thread died, so the screen's thread waited
forever on the full queue), and the cockpit lived on, unseen, holding its presence in the
team's view. A thread of its own asks the terminal every second whether it is still there
(a hung-up terminal answers EIO) and, once it is not, ends the process as a hang-up does:
SIGHUP to its process group (step commands it started included), then, if that is ignored,
an exit. Nothing is lost by it: every mark is on disk before the screen shows it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import termios
import threading
import time

GRACE = 5.0  # seconds after SIGHUP before the exit, for a process that ignores it
EXIT_STATUS = 128 + signal.SIGHUP


def hung_up(fd: int) -> bool:
    """True once the terminal on `fd` has hung up (not when `fd` is no terminal at all)."""
    try:
        termios.tcgetattr(fd)
    except termios.error as exc:
        return bool(exc.args) and exc.args[0] == errno.EIO
    return False


def watch(fd: int, *, every: float = 1.0) -> threading.Thread:
    """Start the watch of the terminal on `fd`; a daemon thread, it ends with the process."""

    def run() -> None:
        while not hung_up(fd):
            time.sleep(every)
        with contextlib.suppress(OSError):
            os.killpg(os.getpgrp(), signal.SIGHUP)
        time.sleep(GRACE)
        os._exit(EXIT_STATUS)

    thread = threading.Thread(target=run, name="terminal-hangup", daemon=True)
    thread.start()
    return thread
