"""Textual's Footer, without the keys it replaced.

The Footer is composed again whenever the bindings change (a run starts, a rollback becomes
recommended, focus moves). Each key it shows binds the Footer's `compact` to itself
(`data_bind`), which adds a watcher to the Footer; Textual prunes a reactive's watchers only
when that reactive changes, and `compact` never does, so every key of every earlier footer
stayed alive, with its styles, render caches and message queue (found by a traced memory
run: 148, 184, 258, 332 keys kept at 15, 21, 28 and 34 minutes, growing linearly). After each
recompose this footer drops the watchers of keys that are gone, by Textual's own rule for it
(a watcher whose node is closing or closed goes).
"""

from __future__ import annotations

from textual.widgets import Footer


class CockpitFooter(Footer):
    async def recompose(self) -> None:
        await super().recompose()
        for watchers in getattr(self, "__watchers", {}).values():
            watchers[:] = [
                (node, callback)
                for node, callback in watchers
                if node.is_attached and not node._closing and not node._closed
            ]
