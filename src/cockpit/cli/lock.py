"""`cockpit lock status` and `lock break`: the environment's action lock in the cluster."""

from __future__ import annotations

import sys

import click

from cockpit.cli.group import cli, env_options, open_session
from cockpit.cli.output import echo
from cockpit.errors import CockpitError


@cli.group()
def lock() -> None:
    """The environment's action lock in the cluster (state backend = "kubernetes")."""


@lock.command("status")
@env_options
@click.pass_context
def lock_status(ctx: click.Context, config: str | None, env: str | None) -> None:
    """Who holds the action lock, and since when."""
    from cockpit.rollout import format_age

    session = open_session(ctx, config, env)
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
@env_options
@click.option("--yes", is_flag=True, help="Do not ask (required without a terminal).")
@click.pass_context
def lock_break(ctx: click.Context, config: str | None, env: str | None, yes: bool) -> None:
    """Take the action lock from whoever holds it (an incident commander's call; audited)."""
    session = open_session(ctx, config, env)
    if not yes:
        if not sys.stdin.isatty():
            raise CockpitError("refusing to break the lock without a terminal", "pass --yes")
        if not click.confirm("Take the action lock from its holder?", default=False):
            raise CockpitError("not confirmed; the lock is unchanged")
    previous = session.break_lock()
    echo(f"lock taken from {previous} and released" if previous else "the lock was free")
