"""The `command` check, and the process runner that runbook steps share with it.

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
from typing import ClassVar

from pydantic import Field, model_validator

from cockpit.checks.base import (
    CheckContext,
    CheckFailed,
    CheckResult,
    CheckSpec,
    Stopwatch,
    register,
)
from cockpit.errors import CockpitError
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


@register
class CommandCheck(CheckSpec):
    """A command exits with the expected code within its timeout."""

    TYPE: ClassVar[str] = "command"
    DEFAULT_TIMEOUT: ClassVar[float] = 60.0

    argv: list[str] | None = Field(
        default=None, description='Program and arguments, e.g. ["kubectl", "version"].'
    )
    command: str | None = Field(
        default=None, description="A shell command line; needs shell = true."
    )
    shell: bool = Field(default=False, description="Run `command` through /bin/sh -c.")
    cwd: Path | None = Field(default=None, description="Default: the config file's folder.")
    env: dict[str, str] = Field(default_factory=dict)
    expect_exit: int = 0
    output_lines: int = Field(default=10, ge=0, le=200, description="Last lines kept.")

    @model_validator(mode="after")
    def _argv_or_shell(self) -> CommandCheck:
        if (self.argv is None) == (self.command is None):
            raise ValueError("set either argv (a list) or command (with shell = true)")
        if self.command is not None and not self.shell:
            raise ValueError(
                "command is a shell line: write shell = true to run it through a shell, "
                "or use argv = [...] to run it without one"
            )
        if self.argv is not None and not self.argv:
            raise ValueError("argv is empty")
        return self

    def describe(self) -> str:
        shown = self.command if self.command is not None else shlex.join(self.argv or [])
        return f"command {shown}"

    def effect(self) -> str | None:
        return f"runs the command {self.describe().removeprefix('command ')}"

    async def run(self, ctx: CheckContext) -> CheckResult:
        if self.command is not None:
            argv = ["/bin/sh", "-c", ctx.fill(self.command)]
            shown = ctx.fill(self.command)
        else:
            argv = [ctx.fill(arg) for arg in self.argv or []]
            shown = shlex.join(argv)
        watch = Stopwatch()
        try:
            env = ctx.command_env()
        except CockpitError as exc:
            raise CheckFailed(
                f"no kubeconfig for the command: {exc.message}", reason="error"
            ) from exc
        try:
            outcome = await run_process(
                argv,
                timeout=ctx.timeout,
                cwd=ctx.path(self.cwd) if self.cwd else ctx.config.base_dir,
                env={**env, **{k: ctx.fill(v) for k, v in self.env.items()}},
                keep_lines=max(self.output_lines, 1),
                hidden=ctx.hidden_variables(*argv, *self.env.values()),
                secrets=ctx.secrets,
            )
        except FileNotFoundError as exc:
            raise CheckFailed(f"{argv[0]}: command not found", reason="error") from exc
        except PermissionError as exc:
            raise CheckFailed(f"{argv[0]}: not executable", reason="error") from exc
        tail = tuple(list(outcome.tail)[-self.output_lines :]) if self.output_lines else ()
        if outcome.timed_out:
            return CheckResult(
                False,
                f"{shown}: killed after {ctx.timeout:g} s (timeout), with its process group",
                watch.elapsed,
                tail,
                reason="timeout",
            )
        evidence = f"{shown}: exit {outcome.exit_code} in {watch.elapsed:.1f} s"
        if tail:
            evidence += f"; last output: {tail[-1][:120]}"
        if outcome.exit_code != self.expect_exit:
            return CheckResult(
                False, evidence + f" (expected exit {self.expect_exit})", watch.elapsed, tail
            )
        return CheckResult(True, evidence, watch.elapsed, tail)
