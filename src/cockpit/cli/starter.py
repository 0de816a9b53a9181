"""`cockpit init` and `cockpit schema`: a starter config for a runbook, and the JSON Schema
editors complete it with."""

from __future__ import annotations

from pathlib import Path

import click

from cockpit.cli.group import cli
from cockpit.cli.output import echo


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
    import json

    from cockpit.config import config_json_schema

    echo(json.dumps(config_json_schema(), indent=2))
