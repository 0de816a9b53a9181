"""The `command` check: a program exits as expected within its timeout (its process group is
killed at the timeout)."""

from __future__ import annotations

import shlex

from cockpit.check_types import CommandCheckConfig
from cockpit.checks.base import CheckContext, CheckFailed, CheckResult, Stopwatch
from cockpit.checks.processes import run_process
from cockpit.errors import CockpitError


async def run(check: CommandCheckConfig, ctx: CheckContext) -> CheckResult:
    if check.command is not None:
        argv = ["/bin/sh", "-c", ctx.fill(check.command)]
        shown = ctx.fill(check.command)
    else:
        argv = [ctx.fill(arg) for arg in check.argv or []]
        shown = shlex.join(argv)
    watch = Stopwatch()
    try:
        env = ctx.command_env()
    except CockpitError as exc:
        raise CheckFailed(f"no kubeconfig for the command: {exc.message}", reason="error") from exc
    try:
        outcome = await run_process(
            argv,
            timeout=ctx.timeout,
            cwd=ctx.path(check.cwd) if check.cwd else ctx.config.base_dir,
            env={**env, **{k: ctx.fill(v) for k, v in check.env.items()}},
            keep_lines=max(check.output_lines, 1),
            hidden=ctx.hidden_variables(*argv, *check.env.values()),
            secrets=ctx.secrets,
        )
    except FileNotFoundError as exc:
        raise CheckFailed(f"{argv[0]}: command not found", reason="error") from exc
    except PermissionError as exc:
        raise CheckFailed(f"{argv[0]}: not executable", reason="error") from exc
    tail = tuple(list(outcome.tail)[-check.output_lines :]) if check.output_lines else ()
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
    if outcome.exit_code != check.expect_exit:
        return CheckResult(
            False, evidence + f" (expected exit {check.expect_exit})", watch.elapsed, tail
        )
    return CheckResult(True, evidence, watch.elapsed, tail)
