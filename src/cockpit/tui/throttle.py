"""At most one call per interval: the first at once, the ones after it folded into one at the
end of the interval. For work that sources ask for in bursts (snapshots, metric updates)."""

from __future__ import annotations

import time
from collections.abc import Callable

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
