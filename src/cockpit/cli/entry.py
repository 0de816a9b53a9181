"""The console-script entry point: every command's outcome turned into an exit code, operator
errors into their message, bugs into a crash file."""

from __future__ import annotations

import atexit
import contextlib
import os
import sys

import click

from cockpit.cli.boards import UNSETTLED
from cockpit.cli.crash import report_crash
from cockpit.cli.group import cli
from cockpit.cli.output import echo
from cockpit.errors import CockpitError


def _leave_now(code: object) -> None:
    """Exit without the interpreter's shutdown, which a watcher thread still blocked in a
    request to a silent server could make abort (134): output flushed, exit handlers run (the
    pinned kubeconfigs removed), then the process ends with its code."""
    if isinstance(code, str):
        click.echo(code, err=True)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    atexit._run_exitfuncs()
    os._exit(code if isinstance(code, int) else (0 if code is None else 1))


def main() -> None:
    """Entry point: operator errors exit 2 with a message; bugs leave a crash file, not a
    traceback on the operator's screen."""
    try:
        _main()
    except SystemExit as exc:
        if UNSETTLED:
            _leave_now(exc.code)
        raise
    if UNSETTLED:
        _leave_now(0)


def _main() -> None:
    try:
        result = cli.main(standalone_mode=False)
    except CockpitError as exc:
        echo(exc.render(), err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence for the operator
        report_crash(exc)
    # without standalone mode click returns the code of ctx.exit() instead of exiting
    if isinstance(result, int) and not isinstance(result, bool):
        sys.exit(result)
