"""The `cockpit` command group: its shared options, how a command opens the session, and
the rule that an operator error is its message and exit code 2."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from cockpit import __version__, collector
from cockpit.cli.output import echo, secho
from cockpit.errors import CockpitError
from cockpit.secrets import secret_values

if TYPE_CHECKING:  # the rest is imported by the commands that use it: `--help` stays quick
    from cockpit.session import GoLiveSession


F = TypeVar("F", bound=Callable[..., Any])


def env_options(func: F) -> F:
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


def pick(ctx: click.Context, name: str, value: str | None) -> str | None:
    if value is not None:
        return value
    parent = ctx.find_root().params.get(name)
    return parent if isinstance(parent, str) else None


def open_session(
    ctx: click.Context, config: str | None, env: str | None, **kw: Any
) -> GoLiveSession:
    from cockpit.session import GoLiveSession

    read_only = bool(ctx.find_root().params.get("read_only")) or kw.pop("read_only", False)
    with collector.paused():  # config, runbook, state: allocations that stay
        session = GoLiveSession.open(
            pick(ctx, "config", config), pick(ctx, "env", env), read_only=read_only, **kw
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
@env_options
@click.option("--read-only", is_flag=True, help="Refuse every action that changes anything.")
@click.version_option(__version__, prog_name="cockpit")
@click.pass_context
def cli(ctx: click.Context, config: str | None, env: str | None, read_only: bool) -> None:
    """A terminal cockpit for production go-lives.

    Without a command, opens the cockpit (same as `cockpit run`).
    """
    if ctx.invoked_subcommand is None:
        # `run` is registered on this group by cli/run.py, as every command is
        ctx.invoke(cli.commands["run"], config=config, env=env)
