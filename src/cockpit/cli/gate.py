"""`cockpit gate`: the promotion gate for CI, its exit code the verdict."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

from cockpit.cli.boards import stop_board
from cockpit.cli.group import cli, env_options, open_session
from cockpit.cli.output import echo
from cockpit.errors import CockpitError

if TYPE_CHECKING:
    from cockpit.session import GoLiveSession


def _has_metrics(session: GoLiveSession) -> bool:
    return session.environment.prometheus is not None and bool(session.environment.metrics)


@cli.command()
@env_options
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
    session = open_session(ctx, config, env, via="gate")
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
        # returns as soon as every source has answered once; a loaded machine or a slow API
        # server may need longer than 10 s for the first list, and --wait gives the time
        board.wait_ready(max(10.0, min(budget, 60.0)))
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
        stop_board(board)
    states = board.metrics()
    if as_json:
        from cockpit.strict_json import dumps

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
