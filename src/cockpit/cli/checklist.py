"""`cockpit checklist` and `cockpit mark`: the runbook with its progress, and manual items
recorded without the TUI."""

from __future__ import annotations

from typing import Any

import click

from cockpit.cli.group import cli, env_options, open_session
from cockpit.cli.output import STATUS_MARKS, echo, progress_line, secho
from cockpit.errors import CockpitError
from cockpit.text import visible_text


@cli.command()
@env_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def checklist(ctx: click.Context, config: str | None, env: str | None, as_json: bool) -> None:
    """Print the checklist with progress and item IDs."""
    session = open_session(ctx, config, env)
    data = session.checklist_json()
    if as_json:
        from cockpit.strict_json import dumps

        echo(dumps(data))
        return
    total = session.progress()
    secho(f"{data['title']} — {session.label}", bold=True)
    echo(progress_line(total))
    for section in data["sections"]:
        _print_section(section, 0)
    orphans = session.orphaned_records()
    if orphans:
        echo()
        secho(
            f"{len(orphans)} item(s) with marks are no longer in the runbook (reworded? their "
            "IDs changed); their marks are kept:",
            fg="yellow",
        )
        for orphan in orphans:
            secho(f"  {orphan}", fg="yellow")


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
@env_options
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
    session = open_session(ctx, config, env)
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
    if session.team is not None:  # a conflict with a colleague, or the mark not shared yet
        for text in session.team.take_messages():
            secho(text, fg="yellow", err=True)
