"""The thread that writes the operator's marks and reads the state file, off the UI thread.

A mark appends to the audit log and the state journal, fsyncing each, under the state file's
lock, which another cockpit or `cockpit mark` may hold for up to ten seconds (the lock is
waited for, not failed at once). On the UI thread that froze the screen for as long: keys
queued up, the clock stopped. Here every such job runs on one thread, in the order it was
asked for, so `d` then `u` always ends with the item pending, and the poll for other
cockpits' changes never overtakes a mark. The screen hears of each outcome by a message.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from cockpit.state import LOCK_TIMEOUT_SECONDS

Job = Callable[[], None]
# At the exit: long enough for a mark waiting on the state lock to be written or refused.
CLOSE_SECONDS = LOCK_TIMEOUT_SECONDS + 5.0


class StateThread:
    """Runs jobs one at a time, in order, on a thread of its own (started on first use)."""

    def __init__(self, name: str = "cockpit-state") -> None:
        self._name = name
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, job: Job) -> None:
        """Queue a job; it runs after every job submitted before it. The job reports its own
        outcome (it posts a message): an exception escaping it is a bug, and stops nothing
        else queued."""
        if self._closed:
            raise RuntimeError("the state thread is closed")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        self._jobs.put(job)

    @property
    def busy(self) -> bool:
        """A job is queued or running."""
        return self._jobs.unfinished_tasks > 0

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                job()
            finally:
                self._jobs.task_done()

    def close(self, timeout: float = CLOSE_SECONDS) -> bool:
        """Finish what was asked for (a mark pressed just before quitting is written), then
        stop the thread. False when the jobs were still running after `timeout` seconds."""
        self._closed = True
        thread = self._thread
        if thread is None:
            return True
        self._jobs.put(None)
        thread.join(timeout)
        return not thread.is_alive()
