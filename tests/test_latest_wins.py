"""What sources post to the screen is bounded: one update in flight per source, newest wins."""

from __future__ import annotations

from textual.message import Message

from cockpit.tui.throttle import LatestWins


class Note(Message):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n


def test_a_stalled_screen_holds_only_the_newest_update_of_each_source():
    box = LatestWins()
    delivered: list[object] = []
    for n in range(1000):  # a source posting while the screen does not answer
        box.post(("cluster", "eu"), Note(n), delivered.append)
        box.post(("cluster", "us"), Note(-n), delivered.append)
    assert delivered == [("cluster", "eu"), ("cluster", "us")]  # one message each in flight
    assert box.replaced == 2 * 999
    eu, us = box.take(("cluster", "eu")), box.take(("cluster", "us"))
    assert isinstance(eu, Note) and eu.n == 999
    assert isinstance(us, Note) and us.n == -999
    assert box.take(("cluster", "eu")) is None
    box.post(("cluster", "eu"), Note(1000), delivered.append)  # handled: the next goes out
    assert delivered[-1] == ("cluster", "eu")
