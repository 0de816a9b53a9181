"""The `cockpit` command: the TUI by default, and headless commands for CI and scripts."""

from __future__ import annotations

import atexit
import contextlib
import difflib
import json
import os
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cockpit import __version__
from cockpit.errors import CockpitError
from cockpit.private_files import open_private, private_directory, write_private
from cockpit.secrets import scrub, secret_values, seen
from cockpit.strict_json import dumps
from cockpit.text import visible_text

if TYPE_CHECKING:  # the rest is imported by the commands that use it: `--help` stays quick
    from cockpit.checklist import ChecklistItem
    from cockpit.config import CheckBinding, LoadedConfig
    from cockpit.session import GoLiveSession, Progress

F = TypeVar("F", bound=Callable[..., Any])

STATUS_MARKS = {
    "pending": "[ ]",
    "running": "[~]",
    "passed": "[✓]",
    "failed": "[✗]",
    "done": "[x]",
    "skipped": "[-]",
}


def _shown(message: object, styled: bool) -> str:
    """Every secret this process has read replaced by ***, and (unless the caller styled it
    and made the outside text in it visible itself) control characters made visible: an
    image name, an annotation or a check's evidence must not drive the terminal."""
    text = str(message) if styled else visible_text(message, keep_newlines=True)
    return scrub(text, seen())


def echo(message: object = None, *, styled: bool = False, **kwargs: Any) -> None:
    """click.echo for all output: a source's error text or a check's evidence may quote a
    token or carry escape sequences."""
    click.echo(None if message is None else _shown(message, styled), **kwargs)


def secho(message: object = None, **kwargs: Any) -> None:
    click.secho(None if message is None else _shown(message, False), **kwargs)


def _env_options(func: F) -> F:
    func = click.option(
        "--env", "-e", "env", metavar="NAME", help="Environment (default: default_environment)."
    )(func)
    func = click.option(
        "--config",
        "-c",
        "config",
        metavar="PATH",
        help="Config file (default: $COCKPIT_CONFIG, then ./cockpit.toml).",
    )(func)
    return func


def _pick(ctx: click.Context, name: str, value: str | None) -> str | None:
    if value is not None:
        return value
    parent = ctx.find_root().params.get(name)
    return parent if isinstance(parent, str) else None


def _open(ctx: click.Context, config: str | None, env: str | None, **kw: Any) -> GoLiveSession:
    from cockpit.session import GoLiveSession

    read_only = bool(ctx.find_root().params.get("read_only")) or kw.pop("read_only", False)
    session = GoLiveSession.open(
        _pick(ctx, "config", config), _pick(ctx, "env", env), read_only=read_only, **kw
    )
    from cockpit import telemetry

    secret_values(session.config)  # remembered: a crash file scrubs them
    telemetry.install(session.config)
    for notice in session.notices:
        secho(f"notice: {notice}", fg="yellow", err=True)
    return session


class CockpitGroup(click.Group):
    """Turns operator errors into their message and exit code 2, for every subcommand."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CockpitError as exc:
            echo(exc.render(), err=True)
            ctx.exit(exc.exit_code)


@click.group(
    cls=CockpitGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@_env_options
@click.option("--read-only", is_flag=True, help="Refuse every action that changes anything.")
@click.version_option(__version__, prog_name="cockpit")
@click.pass_context
def cli(ctx: click.Context, config: str | None, env: str | None, read_only: bool) -> None:
    """A terminal cockpit for production go-lives.

    Without a command, opens the cockpit (same as `cockpit run`).
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(run, config=config, env=env)


@cli.command()
@_env_options
@click.pass_context
def run(ctx: click.Context, config: str | None, env: str | None) -> None:
    """Open the four-pane cockpit."""
    session = _open(ctx, config, env, via="tui")
    from cockpit.tui.app import CockpitApp

    app = CockpitApp(session)
    app.run()
    if app.crashed is not None:  # the terminal is restored by now; state was saved already
        _report_crash(app.crashed)
    if app.exit_problem:
        echo(app.exit_problem, err=True)
    if app.return_code:
        sys.exit(app.return_code)


@cli.command()
@_env_options
@click.pass_context
def validate(ctx: click.Context, config: str | None, env: str | None) -> None:
    """Check the config, the checklist, the check bindings and the theme."""
    from cockpit.config import discover_config, load_config

    path = discover_config(_pick(ctx, "config", config))
    loaded = load_config(path)
    env_name = loaded.environment_name(_pick(ctx, "env", env))
    from cockpit.checklist import load_checklist
    from cockpit.session import bind_checks

    checklist = load_checklist(loaded.checklist_path)
    bindings = bind_checks(loaded, checklist, env_name)
    problems = loaded.secret_problems(env_name)
    problems.extend(check_secret_problems(loaded, env_name, bindings))
    kube_problems, kube_warnings = kubeconfig_problems(loaded, env_name)
    problems.extend(kube_problems)
    from cockpit.sources.prometheus import query_problems

    prom_problems, prom_warnings = query_problems(loaded, env_name)
    problems.extend(prom_problems)
    lock_problems, lock_warnings = _lock_problems(loaded, env_name)
    problems.extend(lock_problems)
    prom_warnings += lock_warnings
    from cockpit.theme_files import own_theme_files, shipped_theme_names

    if own_theme_files(loaded):  # their colours are checked with Textual's own parser
        from cockpit.tui.themes import ThemeCatalog

        catalog = ThemeCatalog.load(loaded)
        problems.extend(catalog.problems)
        theme_names = set(catalog.themes)
    else:
        theme_names = set(shipped_theme_names())
    if loaded.model.keys:  # only then the TUI's bindings are loaded to check the ids
        from cockpit.tui.bindings import keymap_problems

        problems.extend(keymap_problems(loaded.model.keys, str(loaded.path)))
    if loaded.model.theme not in theme_names:
        problems.append(
            f"{loaded.path}: theme: no theme named {loaded.model.theme!r}; available: "
            + ", ".join(sorted(theme_names))
        )
    if problems:
        raise CockpitError(
            f"{len(problems)} problem(s) found",
            "fix them and run `cockpit validate` again",
            details=problems,
        )
    warnings = [
        f"{loaded.path}: checks[{index}] (item {binding.item!r}) is still marked "
        "suggested = true: review it, then delete that line"
        for index, binding in enumerate(loaded.model.checks)
        if binding.suggested
    ]
    warnings += [
        f"{loaded.path}: environments.{name}.metrics[{index}] ({metric.name!r}) is still marked "
        "suggested = true: check its query and thresholds, then delete that line"
        for name, environment in loaded.model.environments.items()
        for index, metric in enumerate(environment.metrics)
        if metric.suggested
    ]
    warnings += kube_warnings + prom_warnings
    for other in loaded.model.environments:
        if other != env_name:
            warnings.extend(loaded.secret_problems(other))
    for warning in warnings:
        secho(f"warning: {warning}", fg="yellow", err=True)
    items = list(checklist.items())
    echo(
        f"ok: {loaded.path} (environment {env_name!r}): checklist {loaded.checklist_path.name} "
        f"has {len(items)} items in {sum(1 for _ in checklist.all_sections())} sections, "
        f"{len(bindings)} bound to checks; theme {loaded.model.theme!r}"
    )
    for cluster in loaded.environment(env_name).clusters:
        watched = [
            f"{ref}" + (" (read-only)" if ref.kind == "rollout" else "") for ref in cluster.targets
        ]
        echo(f"  cluster {cluster.name}: {', '.join(watched) or 'no workloads listed'}")


def _lock_problems(loaded: LoadedConfig, env_name: str) -> tuple[list[str], list[str]]:
    """With the kubernetes state backend: may this operator take the action lock? A cluster
    that cannot be reached now is a warning (CI may not see it)."""
    environment = loaded.model.environments[env_name]
    cluster = environment.lock_cluster()
    if cluster is None:
        return [], []
    from cockpit.sources.lease import ActionLock, lease_name

    lock = ActionLock(
        cluster,
        loaded,
        namespace=environment.state.namespace or cluster.namespace,
        name=lease_name("cockpit", env_name),
        identity="validate",
    )
    where = f"{loaded.path}: environments.{env_name}.state"
    try:
        missing = lock.missing_verbs()
    except CockpitError as exc:
        return [], [f"{where}: the action lock's access not checked: {exc.message}"]
    if missing:
        return [
            f"{where}: you may not {', '.join(missing)} leases (coordination.k8s.io) in "
            f"namespace {lock.namespace} of cluster {cluster.name}: the action lock needs get, "
            "create and update, presence list and delete"
        ], []
    return [], []


def kubeconfig_problems(loaded: LoadedConfig, env_name: str) -> tuple[list[str], list[str]]:
    """Each cluster's context must be in the kubeconfig kubectl would read for it. No kubeconfig
    at all is only a warning: this may be a machine without the cluster's credentials (CI)."""
    from cockpit.kubeconfig import KubeconfigMissing, context_problem

    problems: list[str] = []
    warnings: list[str] = []
    for index, cluster in enumerate(loaded.model.environments[env_name].clusters):
        problem = context_problem(cluster, loaded)
        if problem is not None:
            where = f"environments.{env_name}.clusters[{index}]"
            hint = f" ({problem.hint})" if problem.hint else ""
            missing = isinstance(problem, KubeconfigMissing)
            (warnings if missing else problems).append(
                f"{loaded.path}: {where}: {problem.message}{hint}"
            )
    return problems, warnings


def check_secret_problems(
    loaded: LoadedConfig, env_name: str, bindings: dict[str, tuple[CheckBinding, ...]]
) -> list[str]:
    from cockpit.session import compile_checks

    problems = []
    for item_checks in compile_checks(loaded, bindings).values():
        for bound in item_checks:
            for name, kind, value in bound.spec.secret_refs():
                where = f"{loaded.path}: checks[{bound.index}].{name}"
                if kind == "env" and not os.environ.get(value):
                    problems.append(f"{where}: environment variable {value} is not set")
                elif kind == "file" and not loaded.resolve(Path(value)).is_file():
                    problems.append(f"{where}: secret file {loaded.resolve(Path(value))} not found")
    return problems


@cli.command()
@click.option(
    "--checklist",
    "checklist_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Your Markdown runbook.",
)
@click.option(
    "--output", "-o", default="cockpit.toml", show_default=True, type=click.Path(dir_okay=False)
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
def init(checklist_path: str, output: str, force: bool) -> None:
    """Write a starter cockpit.toml for a runbook, with suggested check bindings."""
    from cockpit.starter import write_starter

    written, suggestions, gates = write_starter(Path(checklist_path), Path(output), force=force)
    echo(
        f"wrote {written} with {suggestions} suggested check(s) and {gates} gate(s) for the "
        "targets the runbook states; review them (suggested = true), "
        f"then run: cockpit validate --config {written}"
    )


@cli.command()
def schema() -> None:
    """Print the JSON Schema of cockpit.toml (for editor completion)."""
    from cockpit.config import config_json_schema

    echo(json.dumps(config_json_schema(), indent=2))


@cli.command()
@_env_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def checklist(ctx: click.Context, config: str | None, env: str | None, as_json: bool) -> None:
    """Print the checklist with progress and item IDs."""
    session = _open(ctx, config, env)
    data = session.checklist_json()
    if as_json:
        echo(dumps(data))
        return
    total = session.progress()
    secho(f"{data['title']} — {session.label}", bold=True)
    echo(_progress_line(total))
    for section in data["sections"]:
        _print_section(section, 0)


def _progress_line(progress: Progress) -> str:
    width = 30
    filled = int(width * progress.percent / 100)
    bar = "█" * filled + "░" * (width - filled)
    return (
        f"{bar} {progress.percent:3d}%  {progress.done} done, {progress.skipped} skipped, "
        f"{progress.failed} failed, {progress.pending} to do, of {progress.total}"
    )


def _print_section(section: dict[str, Any], depth: int) -> None:
    indent = "  " * depth
    resolved = section["done"] + section["skipped"]
    echo()
    secho(f"{indent}{section['title']}  ({resolved}/{section['total']})", bold=True)
    for item in section["items"]:
        pad = indent + "  " + ("  " if "parent" in item else "")
        mark = STATUS_MARKS.get(item["status"], "[?]")
        kind = {"step": " (step)", "check": " (check)"}.get(item["kind"], "")
        colour = {"failed": "red", "passed": "green", "done": "green", "skipped": "yellow"}
        echo(
            f"{pad}{click.style(mark, fg=colour.get(item['status']))} "
            f"{visible_text(item['text'])}{kind}  "
            + click.style(visible_text(item["id"]), dim=True),
            styled=True,
        )
        for script in item["scripts"]:
            # a script is shown whole, as it runs: its first line after `$ `, the rest below
            shown = visible_text(script.rstrip("\n"), keep_newlines=True)
            for number, line in enumerate(shown.splitlines()):
                echo(f"{pad}      {'$ ' if number == 0 else '  '}{line}")
    for child in section["sections"]:
        _print_section(child, depth + 1)


@cli.command()
@click.argument("item")
@_env_options
@click.option("--done", "action", flag_value="done", help="Mark the item done.")
@click.option("--skip", "action", flag_value="skip", help="Skip the item (needs --note).")
@click.option("--reopen", "action", flag_value="reopen", help="Set the item back to pending.")
@click.option("--note", "-n", default="", help="Note (the reason, for --skip).")
@click.pass_context
def mark(
    ctx: click.Context,
    item: str,
    config: str | None,
    env: str | None,
    action: str | None,
    note: str,
) -> None:
    """Record a manual item without the TUI: ITEM is an item ID or its exact text.

    With only --note, adds a note to the item.
    """
    session = _open(ctx, config, env)
    if action == "done":
        view = session.mark_done(item, note)
    elif action == "skip":
        view = session.skip(item, note)
    elif action == "reopen":
        view = session.reopen(item, note)
    elif note:
        view = session.add_note(item, note)
    else:
        raise CockpitError("nothing to record", "pass --done, --skip --note REASON, or --note")
    echo(f"{STATUS_MARKS[view.status]} {view.item.text}  ({view.item.id}) in {session.env_name}")


@cli.command()
@_env_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--watch", "-w", is_flag=True, help="Keep printing as the rollouts change.")
@click.option(
    "--wait", "wait_seconds", default=10.0, show_default=True, help="Seconds to wait for clusters."
)
@click.pass_context
def status(
    ctx: click.Context,
    config: str | None,
    env: str | None,
    as_json: bool,
    watch: bool,
    wait_seconds: float,
) -> None:
    """Summarise the go-live: checklist progress, the live rollouts and the verdict."""
    from cockpit.board import LiveBoard
    from cockpit.headless import rollout_json, rollout_lines

    session = _open(ctx, config, env)
    board = LiveBoard(session)
    board.start()
    try:
        board.wait_ready(wait_seconds)
        _print_status(session, board, as_json)
        while watch:
            board.wait_change(3600)
            snapshots = board.current_snapshots()
            if as_json:
                echo(dumps({"rollouts": rollout_json(snapshots)}, indent=None))
            else:
                stamp = datetime.now(UTC).strftime("%H:%M:%S")
                echo(f"--- {stamp}")
                for line in rollout_lines(snapshots):
                    echo(line)
    except KeyboardInterrupt:
        pass
    finally:
        _stop_board(board)


def _has_metrics(session: GoLiveSession) -> bool:
    return session.environment.prometheus is not None and bool(session.environment.metrics)


def _print_status(session: GoLiveSession, board: Any, as_json: bool) -> None:
    from cockpit.headless import (
        errors_json,
        metric_lines,
        metrics_json,
        rollout_json,
        rollout_lines,
        run_json,
        verdict_json,
    )

    snapshots = board.current_snapshots()
    metric_states = board.metrics()
    errors = board.errors
    result = board.verdict()

    total = session.progress()
    failed = [v for v in map(session.view, session.checklist.items()) if v.status == "failed"]
    data = {
        "environment": session.env_name,
        "label": session.label,
        "production": session.environment.production,
        "read_only": session.read_only,
        "checklist": {
            "title": session.checklist.title,
            "total": total.total,
            "done": total.done,
            "skipped": total.skipped,
            "failed": total.failed,
            "pending": total.pending,
            "percent": total.percent,
            "failed_items": [v.item.id for v in failed],
        },
        "rollouts": rollout_json(snapshots),
        "metrics": metrics_json(metric_states),
        "gates": [
            {"name": m["name"], "phase": m["phase"], "reason": m["reason"]}
            for m in metrics_json(metric_states)
            if m["gate"]
        ],
        "errors": errors_json(errors),
        "verdict": verdict_json(result),
        "run": run_json(board.analysis.current),
        "release": session.release_version([v for s in snapshots for v in s.deployments]),
        "orphaned_state": session.orphaned_records(),
        "notices": session.notices,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if as_json:
        echo(dumps(data))
        return
    banner = " PRODUCTION" if session.environment.production else ""
    secho(f"{session.label} ({session.env_name}){banner}", bold=True)
    echo(f"checklist: {_progress_line(total)}")
    for view in failed:
        secho(f"  failed: {view.item.text} ({view.item.id})", fg="red")
    for orphan in session.orphaned_records():
        secho(f"  state for an item no longer in the runbook: {orphan}", fg="yellow")
    if session.environment.clusters:
        echo("rollouts:")
        for line in rollout_lines(snapshots):
            echo(f"  {line}")
    if metric_states:
        echo("metrics:")
        for line in metric_lines(metric_states):
            echo(f"  {line}")
    if errors is not None:
        data_errors = errors_json(errors)
        echo(
            f"errors: {len(data_errors['issues'])} issue(s) to look at"
            + (f" (STALE: {errors.last_error})" if errors.last_error else "")
        )
        for issue in data_errors["issues"][:10]:
            echo(
                f"  {issue['badge'] or '   '} {issue['short_id']}  {issue['title']}  "
                f"({issue['count']} events)"
            )
        if data_errors["spike"]:
            echo(f"  spike check: {data_errors['spike']['reason']}")
    _print_verdict(result)


def _print_verdict(result: Any) -> None:
    colour = {"GO": "green", "NO-GO": "red"}.get(result.state, "yellow")
    secho(f"verdict: {result.state}", fg=colour, bold=True)
    if result.judging:
        echo(f"  judging: {result.judging}")
    for reason in result.reasons:
        echo(f"  - {reason}")
    for target in result.targets:
        secho(
            f"  rollback recommended: cockpit rollback {target.deployment} --cluster "
            f"{target.cluster} --to-revision {target.revision}  ({target.why})",
            fg="red",
            bold=True,
        )


@cli.command()
@_env_options
@click.option(
    "--wait",
    "wait_for",
    default="0s",
    show_default=True,
    metavar="DURATION",
    help="Keep evaluating up to this long (e.g. 10m) while the verdict is pending.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the final evaluation as JSON.")
@click.pass_context
def gate(
    ctx: click.Context, config: str | None, env: str | None, wait_for: str, as_json: bool
) -> None:
    """Evaluate the gates: exit 0 on GO, 1 on NO-GO, 3 when still pending at the deadline.

    Usable as a promotion gate in CI: `cockpit gate --env production --wait 15m`.
    """
    import time

    from cockpit.board import LiveBoard
    from cockpit.config import duration_seconds
    from cockpit.headless import metric_lines, metrics_json, run_json, verdict_json

    try:
        budget = duration_seconds(wait_for)
    except ValueError as exc:
        raise CockpitError(f"--wait: {exc}") from None
    session = _open(ctx, config, env, via="gate")
    if (
        not _has_metrics(session)
        and not session.environment.clusters
        and session.environment.errors is None
    ):
        raise CockpitError(
            f"environment {session.env_name!r} has no metrics and no clusters to gate on",
            "add [[environments.NAME.metrics]] (docs/CONFIG.md)",
        )
    deadline = time.monotonic() + budget
    board = LiveBoard(session)
    board.start()
    pause = min([duration_seconds(m.interval) for m in session.environment.metrics] or [5.0])
    try:
        board.wait_ready(10.0)  # returns as soon as every source has answered once
        shown: tuple[str, str] | None = None
        printed = 0.0
        while True:
            result = board.verdict()
            board.record(result)
            said = (result.state, result.judging or "")
            # a line when the verdict or the run changes, and every 30 s while it waits
            if not as_json and (said != shown or time.monotonic() - printed >= 30):
                shown, printed = said, time.monotonic()
                stamp = datetime.now(UTC).strftime("%H:%M:%S")
                judging = f"  judging {result.judging}" if result.judging else ""
                echo(f"{stamp} {result.state}{judging}")
                for reason in result.reasons:
                    echo(f"  - {reason}")
            if result.state != "PENDING" or time.monotonic() + pause > deadline:
                break
            board.wait_change(pause)
    finally:
        _stop_board(board)
    states = board.metrics()
    if as_json:
        echo(
            dumps(
                {
                    "verdict": verdict_json(result),
                    "run": run_json(board.analysis.current),
                    "metrics": metrics_json(states),
                }
            )
        )
    else:
        for line in metric_lines(states):
            echo(f"  {line}")
        for target in result.targets:
            echo(
                f"  rollback recommended: cockpit rollback {target.deployment} --cluster "
                f"{target.cluster} --to-revision {target.revision}  ({target.why})"
            )
    sys.exit({"GO": 0, "NO-GO": 1}.get(result.state, 3))


@cli.command()
@click.argument("deployment")
@_env_options
@click.option("--cluster", "cluster_name", metavar="NAME", help="Cluster (when several run it).")
@click.option("--to-revision", type=click.IntRange(0), default=0, help="Default: the previous.")
@click.option("--yes", is_flag=True, help="Do not ask (required without a terminal).")
@click.pass_context
def rollback(
    ctx: click.Context,
    deployment: str,
    config: str | None,
    env: str | None,
    cluster_name: str | None,
    to_revision: int,
    yes: bool,
) -> None:
    """Roll DEPLOYMENT back like `kubectl rollout undo`, after the same checks as the TUI.

    DEPLOYMENT is any watched workload: NAME, or KIND/NAME as kubectl writes it (sts/db,
    ds/agent); an Argo Rollout is refused (use kubectl argo rollouts undo)."""
    from cockpit.rollout import UndoRefused

    session = _open(ctx, config, env)
    cluster = _cluster_for(session, deployment, cluster_name)
    ref = cluster.target(deployment)
    deployment = ref.name if ref is not None else deployment  # `sts/db` is db
    kind = ref.kind if ref is not None else "deployment"
    actions = session.actions(cluster)
    # with a shared state backend: nobody else acts from the preview to the outcome
    session.hold_lock(f"the rollback of {deployment}")
    try:
        try:
            plan = actions.plan_rollback(deployment, to_revision)
        except UndoRefused as exc:
            hint = (
                f"resume it first: cockpit resume {deployment}"
                if exc.paused
                else "nothing was sent"
            )
            raise CockpitError(f"{deployment}: {exc.message}", hint) from None
        access = actions.can_patch(deployment)
        plural = f"{kind}s"
        shown = deployment if kind == "deployment" else f"{kind} {deployment}"
        echo(f"{shown} in cluster {cluster.name}, namespace {cluster.namespace}")
        echo(f"  now:     revision {plan.current_revision}  {', '.join(plan.current_images)}")
        echo(f"  back to: revision {plan.target_revision}  {', '.join(plan.target_images)}")
        if plan.mid_rollout:
            secho("  the rollout is still in progress; rolling back stops it", fg="yellow")
        for manager in plan.managed_by:
            colour = "red" if manager.reverts else "yellow"
            secho(f"  WARNING: {manager.warning(deployment)}", fg=colour)
        stuck = actions.view(deployment).stuck_after_rollback() if kind == "statefulset" else []
        if stuck:
            secho(
                f"  a StatefulSet does not replace a pod that is not Ready: after the rollback, "
                f"delete {', '.join(stuck)} so it is recreated at revision {plan.target_revision}",
                fg="yellow",
            )
        if not access.allowed:
            raise CockpitError(
                f"RBAC: you may not patch {plural} in {cluster.namespace}: {access.reason}",
                f"nothing was sent; ask for patch rights on {plural}",
            )
        if not yes:
            if not sys.stdin.isatty():
                raise CockpitError(
                    "refusing to roll back without a terminal to confirm on", "pass --yes"
                )
            if session.environment.production:
                typed = click.prompt(f"PRODUCTION: type {deployment!r} to roll it back", default="")
                if typed.strip() != deployment:
                    raise CockpitError("not confirmed; nothing was sent")
            elif not click.confirm("Roll back?", default=False):
                raise CockpitError("not confirmed; nothing was sent")
        done = session.rollback(cluster, deployment, plan=plan)  # exactly what was shown
        echo(
            f"rollback sent: {deployment} back to revision {done.target_revision} "
            f"({', '.join(done.target_images)}); follow it with `cockpit status --watch`"
        )

    finally:
        session.release_lock()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _cluster_for(session: GoLiveSession, deployment: str, name: str | None) -> Any:
    if name is not None:
        return session.cluster(name)
    candidates = session.clusters_with(deployment)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise CockpitError(
            f"no cluster of environment {session.env_name!r} lists workload {deployment!r}",
            "workloads are listed under [[environments.NAME.clusters]] in the config "
            "(deployments, statefulsets, daemonsets, workloads)",
        )
    raise CockpitError(
        f"{deployment} runs in several clusters: " + ", ".join(c.name for c in candidates),
        "pick one with --cluster",
    )


def _pause_command(paused: bool) -> None:
    verb = "pause" if paused else "resume"

    @click.argument("deployment")
    @_env_options
    @click.option("--cluster", "cluster_name", metavar="NAME", help="Cluster (if several).")
    @click.option("--yes", is_flag=True, help="Do not ask (production: needed without a terminal).")
    @click.pass_context
    def command(
        ctx: click.Context,
        deployment: str,
        config: str | None,
        env: str | None,
        cluster_name: str | None,
        yes: bool,
    ) -> None:
        session = _open(ctx, config, env)
        session.refuse_if_read_only(f"{verb} a rollout")
        cluster = _cluster_for(session, deployment, cluster_name)
        if session.environment.production and not yes:
            # pausing production stops a rollout (or a rollback) half way: confirm like one
            if not sys.stdin.isatty():
                raise CockpitError(
                    f"refusing to {verb} {deployment} in production without a terminal to "
                    "confirm on; nothing was sent",
                    f"pass --yes: cockpit {verb} {deployment} --yes",
                )
            typed = click.prompt(
                f"PRODUCTION: type {deployment!r} to {verb} its rollout (cluster "
                f"{cluster.name}, namespace {cluster.namespace})",
                default="",
            )
            if typed.strip() != deployment:
                raise CockpitError("not confirmed; nothing was sent")
        session.set_paused(cluster, deployment, paused)
        echo(f"{deployment} {verb}d")

    cli.command(name=verb, help=f"{verb.title()} DEPLOYMENT's rollout (kubectl rollout {verb}).")(
        command
    )


_pause_command(True)
_pause_command(False)


@cli.command()
@click.argument("scenario", required=False)
@click.option("--headless", is_flag=True, help="No TUI: serve until interrupted.")
@click.option(
    "--kubeconfig", "kubeconfig", type=click.Path(dir_okay=False), help="Write the kubeconfig here."
)
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="API port (0: any free).")
@click.option("--crash-image", multiple=True, help="Pods of this image crash-loop.")
@click.option("--pull-fail-image", multiple=True, help="Pods of this image cannot pull it.")
@click.option(
    "--runbook",
    type=click.Path(exists=True, dir_okay=False),
    help="Runbook for the rehearsal (default: the sample).",
)
@click.option(
    "--folder",
    type=click.Path(file_okay=False),
    help="Keep the rehearsal's config, state and audit here (default: a temporary folder).",
)
@click.option(
    "--time-scale",
    type=click.FloatRange(0.1, 10),
    help="Speed the scenario up (< 1) or slow it down (> 1).",
)
def rehearse(
    scenario: str | None,
    headless: bool,
    kubeconfig: str | None,
    port: int,
    crash_image: tuple[str, ...],
    pull_fail_image: tuple[str, ...],
    runbook: str | None,
    folder: str | None,
    time_scale: float | None,
) -> None:
    """Start the rehearsal environment on 127.0.0.1 and open the cockpit on it.

    Without SCENARIO: the rehearsal Kubernetes cluster alone. With one (clean-release,
    bad-release, crash-loop, or a path to a scenario TOML): also Prometheus and Sentry
    stand-ins whose answers follow the scenario, and a pipeline that rolls the release out.
    """
    import signal
    import tempfile
    import time

    from cockpit.rehearsal.run import start_rehearsal
    from cockpit.rehearsal.scenario import load_scenario

    chosen = load_scenario(scenario) if scenario else None
    if chosen is not None and time_scale is not None:
        chosen = chosen.model_copy(update={"time_scale": time_scale})

    # the runbook's kubectl steps should find the kubectl installed beside cockpit, if any
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    where = (
        Path(folder).absolute() if folder else Path(tempfile.mkdtemp(prefix="cockpit-rehearsal-"))
    )
    rehearsal = start_rehearsal(
        where,
        kubeconfig=Path(kubeconfig).absolute() if kubeconfig else None,
        port=port,
        crash_images=crash_image,
        pull_fail_images=pull_fail_image,
        runbook=Path(runbook) if runbook else None,
        scenario=chosen,
    )
    try:
        if headless:
            echo(f"rehearsal Kubernetes API: {rehearsal.cluster.url}")
            echo(f"kubeconfig: {rehearsal.kubeconfig}")
            echo(f"cockpit config: {rehearsal.config}")
            echo(f"try: KUBECONFIG={rehearsal.kubeconfig} kubectl get deploy,rs,pods")
            echo("Ctrl-C stops it.", err=True)
            signal.signal(signal.SIGTERM, _interrupt)
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(1)
            return
        from cockpit.session import GoLiveSession
        from cockpit.tui.app import CockpitApp

        session = GoLiveSession.open(rehearsal.config, None, via="tui")

        CockpitApp(session).run()
        # under the state folder, beside what it reports on: not the folder the operator
        # happened to start the rehearsal from
        report = session.config.state_dir / f"report-{session.env_name}.html"
        echo(
            f"rehearsal files: {where}\n"
            f"go-live report: {sys.argv[0]} report --config {rehearsal.config} "
            f"--format html --output {report}",
            err=True,
        )
    finally:
        rehearsal.stop()


@cli.command()
@_env_options
@click.option("--section", "-s", "section_ref", metavar="ID_OR_TITLE", help="Only this section.")
@click.option("--item", "-i", "item_ref", metavar="ID", help="Only this item.")
@click.option(
    "--format",
    "-f",
    "output_format",
    type=click.Choice(["text", "json", "junit"]),
    default="text",
    show_default=True,
)
@click.option("--jobs", "-j", type=click.IntRange(1, 64), help="Checks at the same time.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write here, not stdout.")
@click.pass_context
def check(
    ctx: click.Context,
    config: str | None,
    env: str | None,
    section_ref: str | None,
    item_ref: str | None,
    output_format: str,
    jobs: int | None,
    output: str | None,
) -> None:
    """Run the bound checks; exit 0 when all pass, 1 when any fails, 2 on a usage error.

    Results are recorded in the state and audit log, as in the TUI.
    """
    import asyncio

    from cockpit.check_output import check_report_json, check_report_junit, check_report_text

    session = _open(ctx, config, env)
    items = select_items(session, section_ref, item_ref)
    runnable = [item for item in items if session.checks_for(item.id)]
    if not runnable:
        where = f" in {section_ref or item_ref}" if (section_ref or item_ref) else ""
        raise CockpitError(
            f"no checks are bound to items{where} in environment {session.env_name!r}",
            "bind items to checks with [[checks]] in the config (see docs/CONFIG.md)",
        )
    results = asyncio.run(session.run_items(runnable, jobs=jobs))
    if output_format == "json":
        text = dumps(check_report_json(session, results))
    elif output_format == "junit":
        text = check_report_junit(session, results)
    else:
        text = check_report_text(session, results, colour=output is None and sys.stdout.isatty())
    text = scrub(text, session.secrets)
    if output:
        write_private(Path(output), (text + "\n").encode(), "check output file", CockpitError)
        echo(f"wrote {output}", err=True)
    else:
        echo(text, styled=True)  # the report made its outside text visible itself
    if not all(result.passed for result in results):
        sys.exit(1)


def select_items(
    session: GoLiveSession, section_ref: str | None, item_ref: str | None
) -> list[ChecklistItem]:
    if item_ref:
        return [session.find_item(item_ref)]
    if section_ref:
        section = session.checklist.section(section_ref)
        if section is None:
            matches = [
                s
                for s in session.checklist.all_sections()
                if s.title.casefold() == section_ref.casefold()
            ]
            if len(matches) > 1:
                raise CockpitError(
                    f"{len(matches)} sections are titled {section_ref!r}",
                    "use the section ID: " + ", ".join(m.id for m in matches),
                )
            if not matches:
                ids = [s.id for s in session.checklist.all_sections()]
                close = difflib.get_close_matches(section_ref, ids, n=3, cutoff=0.5)
                raise CockpitError(
                    f"no section {section_ref!r}",
                    ("did you mean: " + ", ".join(close))
                    if close
                    else "`cockpit checklist` lists them",
                )
            section = matches[0]
        return list(section.walk_items())
    return list(session.checklist.items())


@cli.command()
@_env_options
@click.option(
    "--format",
    "-f",
    "output_format",
    type=click.Choice(["md", "html"]),
    default="md",
    show_default=True,
)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write here, not stdout.")
@click.pass_context
def report(
    ctx: click.Context, config: str | None, env: str | None, output_format: str, output: str | None
) -> None:
    """The go-live report: timeline, checklist with evidence, gates, rollbacks, verdict."""
    from cockpit.report import html_chunks, markdown_chunks

    ctx.find_root().params["read_only"] = True  # a report changes nothing
    session = _open(ctx, config, env)
    # written as it is made (whole lines at a time): memory stays flat however long the log
    chunks = (
        scrub(chunk, session.secrets)
        for chunk in (html_chunks if output_format == "html" else markdown_chunks)(session)
    )
    if output:
        write_private(Path(output), (c.encode() for c in chunks), "report file", CockpitError)
        echo(f"wrote {output}", err=True)
    else:
        for chunk in chunks:
            echo(chunk, nl=False)
        echo()


@cli.group()
def release() -> None:
    """Mark the start of a release (audited; a Sentry deploy marker when Sentry is set up)."""


@release.command("start")
@click.argument("version")
@_env_options
@click.option("--no-marker", is_flag=True, help="Do not create the Sentry deploy marker.")
@click.pass_context
def release_start(
    ctx: click.Context, version: str, config: str | None, env: str | None, no_marker: bool
) -> None:
    """Start release VERSION in the environment."""
    session = _open(ctx, config, env)
    echo(session.start_release(version, deploy_marker=not no_marker))


@cli.group()
def lock() -> None:
    """The environment's action lock in the cluster (state backend = "kubernetes")."""


@lock.command("status")
@_env_options
@click.pass_context
def lock_status(ctx: click.Context, config: str | None, env: str | None) -> None:
    """Who holds the action lock, and since when."""
    from cockpit.rollout import format_age

    session = _open(ctx, config, env)
    held = session.action_lock()
    if held is None:
        echo(f"no action lock: environment {session.env_name!r} uses the local state backend")
        return
    holder, since = held.status()
    if holder is None:
        echo(f"free: {held.where()}")
    else:
        echo(f"held by {holder} for {format_age(since)}: {held.where()}")


@lock.command("break")
@_env_options
@click.option("--yes", is_flag=True, help="Do not ask (required without a terminal).")
@click.pass_context
def lock_break(ctx: click.Context, config: str | None, env: str | None, yes: bool) -> None:
    """Take the action lock from whoever holds it (an incident commander's call; audited)."""
    session = _open(ctx, config, env)
    if not yes:
        if not sys.stdin.isatty():
            raise CockpitError("refusing to break the lock without a terminal", "pass --yes")
        if not click.confirm("Take the action lock from its holder?", default=False):
            raise CockpitError("not confirmed; the lock is unchanged")
    previous = session.break_lock()
    echo(f"lock taken from {previous} and released" if previous else "the lock was free")


@cli.group()
def audit() -> None:
    """Inspect and verify the tamper-evident audit log."""


@audit.command("verify")
@click.option("--config", "-c", "config", metavar="PATH", help="Config file.")
@click.pass_context
def audit_verify(ctx: click.Context, config: str | None) -> None:
    """Check every line's hash chain; exit 1 and name the first broken lines."""
    from cockpit.config import discover_config, load_config

    loaded = load_config(discover_config(_pick(ctx, "config", config)))
    from cockpit.audit import AuditLog
    from cockpit.state import StateStore

    heads = []
    for env_name in loaded.model.environments:
        snapshot = StateStore(loaded.state_dir, env_name).peek()
        if snapshot is not None and snapshot.audit_head:
            heads.append((f"state of {env_name!r}", snapshot.audit_head))
    result = AuditLog(loaded.audit_path).verify(heads)
    if result.ok:
        echo(f"ok: {loaded.audit_path}: {result.lines} entries, hash chain intact")
        echo(
            "  proves: no line was edited (every field, timestamps included, is hashed), "
            "deleted, inserted or moved since it was written"
            + (
                f"; and the log was not cut off after the last entry the state of "
                f"{len(heads)} environment(s) recorded"
                if heads
                else "; no state file records a head, so a cut-off tail would not show"
            )
        )
        echo(
            "  cannot prove: that nobody rewrote the whole log (and the state files) with "
            "hashes recomputed: anyone who can write these files can do that. Keep a copy of "
            "the last hash elsewhere to rule it out: "
            + (f"seq {result.last_seq} {result.last_hash}" if result.last_seq else "(empty)")
        )
        return
    secho(f"FAILED: {loaded.audit_path}: the log has been altered", fg="red", err=True)
    for problem in result.problems:
        echo(f"  {problem}", err=True)
    echo(
        "  the lines named above were edited, deleted, inserted, moved or cut off; lines "
        "before the first one named are intact",
        err=True,
    )
    sys.exit(1)


@audit.command("show")
@_env_options
@click.option("--tail", "-n", type=int, default=50, show_default=True, help="Last N entries.")
@click.pass_context
def audit_show(ctx: click.Context, config: str | None, env: str | None, tail: int) -> None:
    """Print the last entries of the audit log."""
    from cockpit.config import discover_config, load_config

    loaded = load_config(discover_config(_pick(ctx, "config", config)))
    from cockpit.audit import AuditLog

    secret_values(loaded)  # older lines may predate scrubbing: echo() masks them
    wanted = _pick(ctx, "env", env)
    entries = AuditLog(loaded.audit_path).tail(tail, wanted)
    for entry in entries:
        extra = {k: v for k, v in entry.fields.items() if k not in ("env", "actor", "via", "text")}
        who = entry.fields.get("actor", "?")
        echo(
            f"{entry.seq:>6} {entry.ts[:19]} {entry.fields.get('env', '-'):<12} {who:<10} "
            f"{entry.action:<14} " + " ".join(f"{k}={v}" for k, v in extra.items())
        )


BOARD_JOIN_SECONDS = 3.0
_UNSETTLED: list[Any] = []  # boards whose threads outlived stop() and the join


def _stop_board(board: Any) -> None:
    board.stop()
    if not board.join(BOARD_JOIN_SECONDS):
        _UNSETTLED.append(board)


def _leave_now(code: object) -> None:
    """Exit without the interpreter's shutdown, which a watcher thread still blocked in a
    request to a silent server could make abort (134): output flushed, exit handlers run (the
    pinned kubeconfigs removed), then the process ends with its code."""
    if isinstance(code, str):
        click.echo(code, err=True)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    atexit._run_exitfuncs()
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))


def main() -> None:
    """Entry point: operator errors exit 2 with a message; bugs leave a crash file, not a
    traceback on the operator's screen."""
    try:
        _main()
    except SystemExit as exc:
        if _UNSETTLED:
            _leave_now(exc.code)
        raise
    if _UNSETTLED:
        _leave_now(0)


def _main() -> None:
    try:
        result = cli.main(standalone_mode=False)
    except CockpitError as exc:
        echo(exc.render(), err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence for the operator
        _report_crash(exc)
    # without standalone mode click returns the code of ctx.exit() instead of exiting
    if isinstance(result, int) and not isinstance(result, bool):
        sys.exit(result)


def _report_crash(exc: BaseException) -> None:
    """A bug: one short line naming the crash file; the file has the traceback without local
    variables, every secret this process read or its config names scrubbed. Exit 70."""
    from cockpit import telemetry

    telemetry.report_crash(exc)
    try:
        crash: object = _write_crash_file(exc)
    except (CockpitError, OSError) as problem:  # say so, but still name the bug
        crash = f"no crash file: {getattr(problem, 'message', problem)}"
    summary = scrub(visible_text(f"{type(exc).__name__}: {exc}")[:200], seen())
    echo(
        f"internal error: {summary}\n"
        f"This is a bug in cockpit, not in your setup; everything was saved. Details: {crash}",
        err=True,
    )
    sys.exit(70)


def _write_crash_file(exc: BaseException) -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "cockpit"
    private_directory(base, "crash file folder", check_parent=False)
    path = base / f"crash-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}.log"
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, "crash file", CockpitError)
    text = "".join(traceback.format_exception(exc))  # no local variables: they hold secrets
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(scrub(text, seen()))
    return path


if __name__ == "__main__":
    main()
