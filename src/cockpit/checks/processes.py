"""Running a program for a runbook step or a `command` check.

A command runs in its own process group so that a timeout or a cancel kills everything it
started (a `kubectl` behind a wrapper script, a `sleep` in a pipeline), not just the direct
child. Output is captured into a bounded buffer: a chatty command cannot exhaust memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.secrets import child_environment, scrub

KILL_GRACE_SECONDS = 2.0
SHELL_MARKERS = ("|", "&&", "||", ";", ">", "<", "$(", "`", "*", "?", "~", "&")


@dataclass
class ProcessOutcome:
    exit_code: int | None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    timed_out: bool = False
    cancelled: bool = False
    lines: int = 0


def needs_shell(command: str) -> bool:
    """Whether a command line uses shell syntax that argv splitting would break."""
    try:
        tokens = shlex.split(command)
    except ValueError:
        return True
    return any(any(marker in token for marker in SHELL_MARKERS) for token in tokens) and any(
        marker in command for marker in SHELL_MARKERS
    )


async def run_process(
    argv: list[str],
    *,
    timeout: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    on_line: Callable[[str], object] | None = None,
    keep_lines: int = 200,
    hidden: Iterable[str],
    secrets: Sequence[str],
) -> ProcessOutcome:
    """Run argv in a new process group; on timeout or cancel, kill the whole group.

    The child gets the cockpit's environment without the `hidden` variables (the configured
    secrets it does not name), plus `env`; every line it prints is scrubbed of `secrets`
    before anything sees it, so no later cut (a 120-character evidence line) can leave half
    a token behind. Both are required: a new caller must decide, not inherit a leak."""
    outcome = ProcessOutcome(exit_code=None, tail=deque(maxlen=keep_lines))
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=str(cwd) if cwd else None,
        env=child_environment(hidden, env),
        start_new_session=True,
    )

    async def pump() -> None:
        assert proc.stdout is not None
        while True:
            raw = await proc.stdout.readline()
            if not raw:
                break
            line = scrub(raw.decode("utf-8", errors="replace").rstrip("\n"), secrets)
            outcome.lines += 1
            outcome.tail.append(line)
            if on_line is not None:
                on_line(line)
        await proc.wait()

    try:
        await asyncio.wait_for(pump(), timeout)
        outcome.exit_code = proc.returncode
    except TimeoutError:
        outcome.timed_out = True
        await _kill_group(proc)
    except asyncio.CancelledError:
        outcome.cancelled = True
        await _kill_group(proc)
        raise
    return outcome


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            await asyncio.wait_for(proc.wait(), KILL_GRACE_SECONDS)
            if sig == signal.SIGTERM:
                # the leader is gone; make sure nothing it started lingers in the group
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
            return
        except TimeoutError:
            continue
