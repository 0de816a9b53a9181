"""`cockpit check`: the bound checks run headless, reported as text, JSON or JUnit."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cockpit.cli.group import cli, env_options, open_session
from cockpit.cli.output import echo
from cockpit.errors import CockpitError
from cockpit.private_files import write_private
from cockpit.secrets import scrub

if TYPE_CHECKING:
    from cockpit.checklist import ChecklistItem
    from cockpit.session import GoLiveSession


@cli.command()
@env_options
@click.option("--section", "-s", "section_ref", metavar="ID_OR_TITLE", help="Only this section.")
@click.option("--item", "-i", "item_ref", metavar="ID", help="Only this item.")
@click.option(
    "--format",
    "-f",
    "output_format",
    type=click.Choice(["text", "json", "junit"]),
    default="text",
    show_default=True,
)
@click.option("--jobs", "-j", type=click.IntRange(1, 64), help="Checks at the same time.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write here, not stdout.")
@click.pass_context
def check(
    ctx: click.Context,
    config: str | None,
    env: str | None,
    section_ref: str | None,
    item_ref: str | None,
    output_format: str,
    jobs: int | None,
    output: str | None,
) -> None:
    """Run the bound checks; exit 0 when all pass, 1 when any fails, 2 on a usage error.

    Results are recorded in the state and audit log, as in the TUI.
    """
    import asyncio

    from cockpit.check_output import check_report_json, check_report_junit, check_report_text

    session = open_session(ctx, config, env)
    items = select_items(session, section_ref, item_ref)
    runnable = [item for item in items if session.checks_for(item.id)]
    if not runnable:
        where = f" in {section_ref or item_ref}" if (section_ref or item_ref) else ""
        raise CockpitError(
            f"no checks are bound to items{where} in environment {session.env_name!r}",
            "bind items to checks with [[checks]] in the config (see docs/CONFIG.md)",
        )
    results = asyncio.run(session.run_items(runnable, jobs=jobs))
    if output_format == "json":
        from cockpit.strict_json import dumps

        text = dumps(check_report_json(session, results))
    elif output_format == "junit":
        text = check_report_junit(session, results)
    else:
        text = check_report_text(session, results, colour=output is None and sys.stdout.isatty())
    text = scrub(text, session.secrets)
    if output:
        write_private(Path(output), (text + "\n").encode(), "check output file", CockpitError)
        echo(f"wrote {output}", err=True)
    else:
        echo(text, styled=True)  # the report made its outside text visible itself
    if not all(result.passed for result in results):
        sys.exit(1)


def select_items(
    session: GoLiveSession, section_ref: str | None, item_ref: str | None
) -> list[ChecklistItem]:
    if item_ref:
        return [session.find_item(item_ref)]
    if section_ref:
        section = session.checklist.section(section_ref)
        if section is None:
            matches = [
                s
                for s in session.checklist.all_sections()
                if s.title.casefold() == section_ref.casefold()
            ]
            if len(matches) > 1:
                raise CockpitError(
                    f"{len(matches)} sections are titled {section_ref!r}",
                    "use the section ID: " + ", ".join(m.id for m in matches),
                )
            if not matches:
                import difflib

                ids = [s.id for s in session.checklist.all_sections()]
                close = difflib.get_close_matches(section_ref, ids, n=3, cutoff=0.5)
                raise CockpitError(
                    f"no section {section_ref!r}",
                    ("did you mean: " + ", ".join(close))
                    if close
                    else "`cockpit checklist` lists them",
                )
            section = matches[0]
        return list(section.walk_items())
    return list(session.checklist.items())
