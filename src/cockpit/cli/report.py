"""`cockpit report`: the go-live report in Markdown or HTML."""

from __future__ import annotations

from pathlib import Path

import click

from cockpit.cli.group import cli, env_options, open_session
from cockpit.cli.output import echo
from cockpit.errors import CockpitError
from cockpit.private_files import write_private
from cockpit.secrets import scrub


@cli.command()
@env_options
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
    from cockpit.report import build_html, build_markdown

    ctx.find_root().params["read_only"] = True  # a report changes nothing
    session = open_session(ctx, config, env)
    text = build_html(session) if output_format == "html" else build_markdown(session)
    text = scrub(text, session.secrets)
    if output:
        write_private(Path(output), text.encode(), "report file", CockpitError)
        echo(f"wrote {output}", err=True)
    else:
        echo(text)
