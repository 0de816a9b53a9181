"""`cockpit run`: the four-pane TUI."""

from __future__ import annotations

import sys

import click

from cockpit import collector
from cockpit.cli.crash import report_crash
from cockpit.cli.group import cli, env_options, open_session
from cockpit.cli.output import echo


@cli.command()
@env_options
@click.pass_context
def run(ctx: click.Context, config: str | None, env: str | None) -> None:
    """Open the four-pane cockpit."""
    collector.pause_for_start_up()  # until the first frame (the app settles it)
    session = open_session(ctx, config, env, via="tui")
    from cockpit.tui.app import CockpitApp

    app = CockpitApp(session)
    app.run()
    if app.crashed is not None:  # the terminal is restored by now; state was saved already
        report_crash(app.crashed)
    if app.exit_problem:
        echo(app.exit_problem, err=True)
    if app.return_code:
        sys.exit(app.return_code)
