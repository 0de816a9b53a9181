"""At most one call per interval: the first at once, the ones after it folded into one at the
end of the interval. For work that sources ask for in bursts (snapshots, metric updates)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

from textual.message import Message
from textual.message_pump import MessagePump
from textual.timer import Timer


class Throttle:
    def __init__(self, owner: MessagePump, interval: float, action: Callable[[], None]) -> None:
        self.owner = owner
        self.interval = interval
        self.action = action
        self._timer: Timer | None = None
        self._last = 0.0

    def __call__(self) -> None:
        if self._timer is not None:
            return  # already due: the pending call will see the latest state
        wait = self._last + self.interval - time.monotonic()
        if wait <= 0:
            self._run()
        else:
            self._timer = self.owner.set_timer(wait, self._run)

    def _run(self) -> None:
        self._timer = None
        self._last = time.monotonic()
        self.action()


class LatestWins:
    """What sources post to the screen, bounded: one update in flight per key (a cluster, a
    metric), and a newer one replaces the one still waiting. A stalled screen then holds the
    latest snapshot of each source, never a queue of whole snapshots.

    `post` is called from source threads; `deliver` wraps a key in the small message the
    screen's loop handles (posting is thread-safe), and `take` there returns the newest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[Hashable, Message] = {}
        self.replaced = 0  # updates that never reached the screen because a newer came first

    def post(self, key: Hashable, message: Message, deliver: Callable[[Hashable], object]) -> None:
        with self._lock:
            in_flight = key in self._waiting
            if in_flight:
                self.replaced += 1
            self._waiting[key] = message
        if not in_flight:
            deliver(key)

    def take(self, key: Hashable) -> Message | None:
        with self._lock:
            return self._waiting.pop(key, None)
