"""`cockpit status`: checklist progress, the live rollouts, metrics, errors and the verdict,
once or as they change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from cockpit.cli.boards import stop_board
from cockpit.cli.group import cli, env_options, open_session
from cockpit.cli.output import echo, progress_line, secho

if TYPE_CHECKING:
    from cockpit.session import GoLiveSession


@cli.command()
@env_options
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

    session = open_session(ctx, config, env)
    board = LiveBoard(session)
    board.start()
    try:
        board.wait_ready(wait_seconds)
        _print_status(session, board, as_json)
        while watch:
            board.wait_change(3600)
            snapshots = board.current_snapshots()
            if as_json:
                from cockpit.strict_json import dumps

                echo(dumps({"rollouts": rollout_json(snapshots)}, indent=None))
            else:
                stamp = datetime.now(UTC).strftime("%H:%M:%S")
                echo(f"--- {stamp}")
                for line in rollout_lines(snapshots):
                    echo(line)
    except KeyboardInterrupt:
        pass
    finally:
        stop_board(board)


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
        from cockpit.strict_json import dumps

        echo(dumps(data))
        return
    banner = " PRODUCTION" if session.environment.production else ""
    secho(f"{session.label} ({session.env_name}){banner}", bold=True)
    echo(f"checklist: {progress_line(total)}")
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
