"""What the commands print: every secret this process read masked, outside text's control
characters made visible, and the checklist marks and progress bar the commands share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from cockpit.secrets import scrub, seen
from cockpit.text import visible_text

if TYPE_CHECKING:
    from cockpit.session import Progress


STATUS_MARKS = {
    "pending": "[ ]",
    "running": "[~]",
    "passed": "[✓]",
    "failed": "[✗]",
    "done": "[x]",
    "skipped": "[-]",
}


def _shown(message: object, styled: bool) -> str:
    """Every secret this process has read replaced by ***, and (unless the caller styled it
    and made the outside text in it visible itself) control characters made visible: an
    image name, an annotation or a check's evidence must not drive the terminal."""
    text = str(message) if styled else visible_text(message, keep_newlines=True)
    return scrub(text, seen())


def echo(message: object = None, *, styled: bool = False, **kwargs: Any) -> None:
    """click.echo for all output: a source's error text or a check's evidence may quote a
    token or carry escape sequences."""
    click.echo(None if message is None else _shown(message, styled), **kwargs)


def secho(message: object = None, **kwargs: Any) -> None:
    click.secho(None if message is None else _shown(message, False), **kwargs)


def progress_line(progress: Progress) -> str:
    width = 30
    filled = int(width * progress.percent / 100)
    bar = "█" * filled + "░" * (width - filled)
    return (
        f"{bar} {progress.percent:3d}%  {progress.done} done, {progress.skipped} skipped, "
        f"{progress.failed} failed, {progress.pending} to do, of {progress.total}"
    )
