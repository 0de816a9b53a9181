"""`cockpit release start`: the start of a release, audited, with a Sentry deploy marker."""

from __future__ import annotations

import click

from cockpit.cli.group import cli, env_options, open_session
from cockpit.cli.output import echo


@cli.group()
def release() -> None:
    """Mark the start of a release (audited; a Sentry deploy marker when Sentry is set up)."""


@release.command("start")
@click.argument("version")
@env_options
@click.option("--no-marker", is_flag=True, help="Do not create the Sentry deploy marker.")
@click.pass_context
def release_start(
    ctx: click.Context, version: str, config: str | None, env: str | None, no_marker: bool
) -> None:
    """Start release VERSION in the environment."""
    session = open_session(ctx, config, env)
    echo(session.start_release(version, deploy_marker=not no_marker))
