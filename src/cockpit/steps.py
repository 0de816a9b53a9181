"""Runbook steps with commands: what exactly would run, and running it.

A step's commands come from the runbook, or from `[environments.E.steps."ITEM_ID"]` when the
environment replaces them. `{placeholders}` are filled from the environment. Commands run
without a shell, split like a shell would split them; a command that needs shell syntax
(pipes, redirects, `&&`) is refused unless the environment's step override says `shell = true`,
so a runbook line never gets a shell by accident.
"""

from __future__ import annotations

import shlex
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.checklist import ChecklistItem
from cockpit.checks.base import CheckContext, Stopwatch
from cockpit.checks.command import needs_shell, run_process
from cockpit.errors import CockpitError


@dataclass(frozen=True)
class PlannedCommand:
    display: str
    argv: tuple[str, ...]


@dataclass(frozen=True)
class StepPlan:
    item: ChecklistItem
    commands: tuple[PlannedCommand, ...]
    source: str  # "runbook" or "config"
    environment: str
    production: bool
    env: tuple[tuple[str, str], ...] = ()


@dataclass
class StepResult:
    passed: bool
    evidence: str
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=200))


def plan_step(ctx: CheckContext, item: ChecklistItem) -> StepPlan:
    env = ctx.environment
    if not env.allow_commands:
        raise CockpitError(
            f"running commands is off in environment {ctx.env_name!r}",
            f"set allow_commands = true under [environments.{ctx.env_name}] to allow it",
        )
    override = env.steps.get(item.id)
    if override is not None:
        lines, shell, source = override.commands, override.shell, "config"
    else:
        lines, shell, source = item.commands, False, "runbook"
    if not lines:
        raise CockpitError(
            f"step {item.text!r} has no commands to run",
            "mark it done with d once you have done it by hand",
        )
    planned: list[PlannedCommand] = []
    for line in lines:
        text = ctx.fill(line)
        if shell:
            planned.append(PlannedCommand(text, ("/bin/sh", "-c", text)))
            continue
        if needs_shell(text) or "\n" in text:
            raise CockpitError(
                f"this command needs a shell: {text}",
                "replace the step's commands under "
                f'[environments.{ctx.env_name}.steps."{item.id}"] with shell = true, '
                "or write it without pipes and redirects",
            )
        try:
            argv = tuple(shlex.split(text))
        except ValueError as exc:
            raise CockpitError(f"cannot split {text!r}: {exc}", "check the quoting") from exc
        planned.append(PlannedCommand(text, argv))
    return StepPlan(
        item, tuple(planned), source, ctx.env_name, env.production, tuple(ctx.command_env().items())
    )


async def execute_step(
    plan: StepPlan,
    *,
    timeout: float,
    on_line: Callable[[str], object] | None = None,
    cwd: Path | None = None,
) -> StepResult:
    """Run the commands in order; stop at the first that fails or times out."""
    result = StepResult(passed=True, evidence="")
    watch = Stopwatch()
    for number, command in enumerate(plan.commands, start=1):
        if on_line is not None:
            on_line(f"$ {command.display}")
        try:
            outcome = await run_process(
                list(command.argv),
                timeout=timeout,
                env=dict(plan.env),
                cwd=cwd,
                on_line=on_line,
                keep_lines=200,
            )
        except (FileNotFoundError, PermissionError) as exc:
            result.passed = False
            result.evidence = f"command {number}: {command.argv[0]}: {exc.strerror}"
            return result
        result.tail.extend(outcome.tail)
        if outcome.timed_out:
            result.passed = False
            result.evidence = (
                f"command {number} ({command.display}) killed after {timeout:g} s (timeout)"
            )
            return result
        if outcome.exit_code != 0:
            result.passed = False
            last = outcome.tail[-1][:120] if outcome.tail else ""
            result.evidence = f"command {number} ({command.display}) exited {outcome.exit_code}" + (
                f": {last}" if last else ""
            )
            return result
    result.evidence = f"{len(plan.commands)} command(s) succeeded in {watch.elapsed:.1f} s"
    return result
