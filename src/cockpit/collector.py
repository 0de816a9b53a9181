"""The garbage collector while the cockpit starts, and after.

Starting the TUI allocates a few hundred thousand objects (modules, classes, pydantic's
schemas, the parsed config and runbook, the widgets and their styles) nearly all of which live
as long as the process. With Python's default thresholds the young generation is collected
every 700 allocations, each time walking objects that are not garbage: about 260 collections
and a fifth of the start-up's CPU time before the first frame (benchmarks/startup.py; measured
with `gc.callbacks`). So the collector is paused from the start of `cockpit run` until the
first frame, then `settle` freezes what start-up made and collects less often from then on.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# Young-generation size for the garbage collector, in allocations (Python's default is 700).
GC_YOUNG_THRESHOLD = 10_000


def pause_for_start_up() -> None:
    """No collections until `settle`: what start-up allocates is kept, not garbage."""
    gc.disable()


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """No collections inside (a long run of allocations that all stay alive); the collector
    is left as it was found."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def settle() -> None:
    """After the first frame: keep start-up objects out of collections, and collect less often.

    Rendering allocates many short-lived objects. With Python's default thresholds the
    collector promoted them into the old generation and ran a full collection every few
    seconds under load, each pausing the screen for 100-150 ms (benchmarks/keys.py measured
    p95 key-to-frame of 124 ms before, 47 ms after). Freezing moves everything alive after
    start-up (modules, classes, the parsed config and runbook) out of the collector's reach.
    """
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, max(middle, 20), old)
    gc.enable()
