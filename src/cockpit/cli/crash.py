"""A bug's last line of defence: one short line for the operator, the traceback in a private
crash file, every secret scrubbed from both."""

from __future__ import annotations

import os
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

from cockpit.cli.output import echo
from cockpit.errors import CockpitError
from cockpit.private_files import open_private, private_directory
from cockpit.secrets import scrub, seen
from cockpit.text import visible_text


def report_crash(exc: BaseException) -> None:
    """A bug: one short line naming the crash file; the file has the traceback without local
    variables, every secret this process read or its config names scrubbed. Exit 70."""
    from cockpit import telemetry

    telemetry.report_crash(exc)
    try:
        crash: object = write_crash_file(exc)
    except (CockpitError, OSError) as problem:  # say so, but still name the bug
        crash = f"no crash file: {getattr(problem, 'message', problem)}"
    summary = scrub(visible_text(f"{type(exc).__name__}: {exc}")[:200], seen())
    echo(
        f"internal error: {summary}\n"
        f"This is a bug in cockpit, not in your setup; everything was saved. Details: {crash}",
        err=True,
    )
    sys.exit(70)


def write_crash_file(exc: BaseException) -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "cockpit"
    private_directory(base, "crash file folder", check_parent=False)
    path = base / f"crash-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}.log"
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, "crash file", CockpitError)
    text = "".join(traceback.format_exception(exc))  # no local variables: they hold secrets
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(scrub(text, seen()))
    return path
