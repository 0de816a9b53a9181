"""`cockpit rehearse`: the rehearsal environment on 127.0.0.1, with the cockpit opened on it."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import click

from cockpit.cli.group import cli
from cockpit.cli.output import echo


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


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
