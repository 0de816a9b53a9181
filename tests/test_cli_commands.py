"""The command line is a package of one module per command: every command is registered, and
every way of starting it (console script, `python -m cockpit`, `python -m cockpit.cli`) works."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from cockpit import __version__
from cockpit.cli import cli

COMMANDS = {
    "audit": {"show", "verify"},
    "check": None,
    "checklist": None,
    "gate": None,
    "init": None,
    "lock": {"break", "status"},
    "mark": None,
    "pause": None,
    "rehearse": None,
    "release": {"start"},
    "report": None,
    "resume": None,
    "rollback": None,
    "run": None,
    "schema": None,
    "status": None,
    "validate": None,
}


def test_every_command_is_registered_on_the_group():
    assert set(cli.commands) == set(COMMANDS)
    for name, subcommands in COMMANDS.items():
        command = cli.commands[name]
        if subcommands is not None:
            assert set(getattr(command, "commands", {})) == subcommands, name
    shown = CliRunner().invoke(cli, ["--help"])
    assert shown.exit_code == 0, shown.output
    for name in COMMANDS:
        assert f"  {name} " in shown.output, name


@pytest.mark.parametrize("module", ["cockpit", "cockpit.cli"])
def test_python_dash_m_starts_the_command(module):
    run = subprocess.run(
        [sys.executable, "-m", module, "--version"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"cockpit, version {__version__}"
