"""Waiting for something to become true, the one way the tests do it.

A test that waits polls a predicate until it holds or a deadline passes; on the deadline it
fails saying what it waited for and what it saw last, so a slow machine and a real bug can
be told apart from the failure alone. Deadlines are in seconds of wall time, never in tries:
how long a try takes depends on the machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

Described = str | Callable[[], object]


def _failure(what: Described, timeout: float) -> AssertionError:
    seen = what() if callable(what) else what
    return AssertionError(f"not reached in {timeout:g}s" + (f": {seen}" if seen != "" else ""))


def wait_until(
    predicate: Callable[[], T], timeout: float = 20.0, *, every: float = 0.05, what: Described = ""
) -> T:
    """Poll `predicate` until it returns something true, and return that.

    `what` (a text, or a function giving the last state) is named when the deadline passes.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise _failure(what, timeout)
        time.sleep(every)


async def until(
    pilot: Any,
    predicate: Callable[[], T],
    timeout: float = 10.0,
    *,
    every: float = 0.05,
    what: Described = "",
) -> T:
    """`wait_until` inside a Textual Pilot test: the app keeps running between polls."""
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise _failure(what, timeout)
        await pilot.pause(every)


def footer_text(app: Any) -> str:
    """The key descriptions the footer of the screen on top shows now (Pilot tests)."""
    from textual.widgets._footer import FooterKey

    return " ".join(key.description for key in app.screen.query(FooterKey))
