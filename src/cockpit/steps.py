"""Runbook steps with commands: what exactly would run, and running it.

A step's scripts come from the runbook (one per shell block), or from
`[environments.E.steps."ITEM_ID"]` when the environment replaces them. `{placeholders}` are
filled from the environment. Each script runs whole, as its author wrote it and as a CI `run:`
step would: with bash, `-euo pipefail`, so the first failing command (or a failing stage of a
pipeline, or an unset variable) stops it. Splitting a block into lines would break every loop,
pipe and quoted string that spans them; what guards the operator instead is `allow_commands`,
and the confirmation screen that shows each script exactly as it will run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.checklist import ChecklistItem
from cockpit.checks.base import Stopwatch
from cockpit.checks.processes import run_process
from cockpit.context import GoLiveContext
from cockpit.errors import CockpitError
from cockpit.secrets import scrub
from cockpit.text import visible_text

# No profile or rc file: the script sees the environment the cockpit gives it, nothing more.
BASH = ("bash", "--noprofile", "--norc", "-euo", "pipefail", "-c")


@dataclass(frozen=True)
class PlannedCommand:
    """One script of a step: as shown to the operator, and the argv that runs it."""

    display: str
    argv: tuple[str, ...]

    @property
    def headline(self) -> str:
        """The script's first command line, to name it in evidence."""
        lines = [
            line.strip() for line in visible_text(self.display, keep_newlines=True).split("\n")
        ]
        first = next((line for line in lines if line and not line.startswith("#")), "")
        more = sum(1 for line in lines if line and not line.startswith("#")) > 1
        return first[:80] + (" …" if more or len(first) > 80 else "")


@dataclass(frozen=True)
class StepPlan:
    item: ChecklistItem
    commands: tuple[PlannedCommand, ...]
    source: str  # "runbook" or "config"
    environment: str
    production: bool
    env: tuple[tuple[str, str], ...] = ()
    # configured secret variables the scripts do not name: the child never sees them
    hidden: tuple[str, ...] = ()
    target: str | None = None  # the cluster, context and namespace kubectl acts on


@dataclass
class StepResult:
    passed: bool
    evidence: str
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    exit_code: int | None = None  # of the last script that ran; None: killed or never started
    # the operator stopped between two scripts (after reading the first's output)
    stopped_before: int | None = None
    total: int = 0  # scripts in the step
    completed: int = 0  # scripts that ran and succeeded
    current: int = 0  # the script running now, or waited for (1-based; 0: none yet)
    waiting: bool = False  # waiting for the operator before script `current`
    paused_seconds: float = 0.0  # time spent waiting for the operator

    def where(self) -> str:
        """Where the step was, for a cancel: what ran and what not."""
        if self.waiting:
            at = f"while waiting to run script {self.current} of {self.total}"
        elif self.current:
            at = f"while script {self.current} of {self.total} ran"
        else:
            at = "before any script ran"
        return f"{at}; {self.completed} of {self.total} script(s) had run and succeeded"


def plan_step(ctx: GoLiveContext, item: ChecklistItem) -> StepPlan:
    env = ctx.environment
    if not env.allow_commands:
        raise CockpitError(
            f"running commands is off in environment {ctx.env_name!r}",
            f"set allow_commands = true under [environments.{ctx.env_name}] to allow it",
        )
    override = env.steps.get(item.id)
    if override is not None:
        scripts, source = override.commands, "config"
    else:
        scripts, source = item.scripts, "runbook"
    if not scripts:
        raise CockpitError(
            f"step {item.text!r} has no commands to run",
            "mark it done with d once you have done it by hand",
        )
    planned: list[PlannedCommand] = []
    for script in scripts:
        text = ctx.fill(script)
        planned.append(PlannedCommand(text, (*BASH, text)))
    return StepPlan(
        item,
        tuple(planned),
        source,
        ctx.env_name,
        env.production,
        tuple(ctx.command_env().items()),
        tuple(sorted(ctx.hidden_variables(*(c.display for c in planned)))),
        ctx.command_target(),
    )


# Before script `number` of `total` (from the second on): True runs it, False stops there.
BeforeNext = Callable[[int, int], Awaitable[bool]]


async def execute_step(
    plan: StepPlan,
    *,
    timeout: float,
    on_line: Callable[[str], object] | None = None,
    on_script: Callable[[int], object] | None = None,
    before_next: BeforeNext | None = None,
    cwd: Path | None = None,
    secrets: Sequence[str],
    result: StepResult | None = None,
) -> StepResult:
    """Run the scripts in order; stop at the first that fails or times out.

    `on_script(n)` is told as script n starts (its own timeout starts then). `before_next`,
    when given, is awaited before each script after the first: a "dry run, then apply" step
    in production waits there for the operator to read the dry run's output and confirm
    again; False stops the step before that script (`stopped_before`).
    `result`, when given, is filled as the step goes: a caller cancelled half-way still knows
    what ran. Every line shown or kept is scrubbed of `secrets` (the configured secrets'
    values)."""
    result = await _execute(
        plan,
        result if result is not None else StepResult(passed=True, evidence=""),
        timeout=timeout,
        on_line=on_line,
        on_script=on_script,
        before_next=before_next,
        cwd=cwd,
        secrets=secrets,
    )
    result.evidence = scrub(result.evidence, secrets)
    return result


async def _execute(
    plan: StepPlan,
    result: StepResult,
    *,
    timeout: float,
    on_line: Callable[[str], object] | None,
    on_script: Callable[[int], object] | None,
    before_next: BeforeNext | None,
    cwd: Path | None,
    secrets: Sequence[str],
) -> StepResult:
    watch = Stopwatch()
    total = len(plan.commands)
    result.total = total
    for number, command in enumerate(plan.commands, start=1):
        result.current = number
        if number > 1 and before_next is not None:
            result.waiting = True
            paused = Stopwatch()
            go_on = await before_next(number, total)
            result.paused_seconds += paused.elapsed
            result.waiting = False
            if not go_on:
                result.passed = False
                result.stopped_before = number
                ran = number - 1
                result.evidence = (
                    f"stopped by the operator before script {number} of {total} "
                    f"({command.headline}); {ran} of {total} script(s) ran and succeeded"
                )
                return result
        if on_script is not None:
            on_script(number)
        if on_line is not None:
            shown = visible_text(command.display.rstrip("\n"), keep_newlines=True)
            for line in shown.split("\n"):
                on_line(scrub(f"$ {line}", secrets))
        try:
            outcome = await run_process(
                list(command.argv),
                timeout=timeout,
                env=dict(plan.env),
                cwd=cwd,
                on_line=on_line,
                keep_lines=200,
                hidden=plan.hidden,
                secrets=secrets,
            )
        except (FileNotFoundError, PermissionError) as exc:
            result.passed = False
            result.evidence = f"script {number}: {command.argv[0]}: {exc.strerror}"
            return result
        result.tail.extend(outcome.tail)
        result.exit_code = None if outcome.timed_out else outcome.exit_code
        if outcome.timed_out:
            result.passed = False
            result.evidence = (
                f"script {number} ({command.headline}) killed after {timeout:g} s (timeout)"
            )
            return result
        if outcome.exit_code != 0:
            result.passed = False
            last = outcome.tail[-1][:120] if outcome.tail else ""
            result.evidence = f"script {number} ({command.headline}) exited {outcome.exit_code}" + (
                f": {last}" if last else ""
            )
            return result
        result.completed = number
    took = watch.elapsed - result.paused_seconds  # the operator's reading time is not the step's
    result.evidence = f"{len(plan.commands)} script(s) succeeded in {took:.1f} s"
    return result
