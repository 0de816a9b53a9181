"""The `cockpit` command: the TUI by default, and headless commands for CI and scripts.

One module per command or family of commands, each registering itself on the group of
`group.py`; every command imports what it needs when it runs, so `cockpit --help` stays quick.
"""

from __future__ import annotations

# each module registers its commands on `cli` when imported
from cockpit.cli import (  # noqa: F401
    audit,
    check,
    checklist,
    gate,
    lock,
    rehearse,
    release,
    report,
    rollout_actions,
    run,
    starter,
    status,
    validate,
)
from cockpit.cli.entry import main
from cockpit.cli.group import cli
from cockpit.cli.output import echo, secho

__all__ = ["cli", "echo", "main", "secho"]
