"""Textual's Footer, composed again only when what it shows changed, and without the keys it
replaced.

- The Footer is composed again whenever the bindings may have changed (a run starts, a
  rollback becomes recommended, focus moves): each time every key is mounted and styled
  afresh, three times over before the first frame. Most of those changes leave the keys as
  they were (focus moving between widgets with the same keys), so this footer first compares
  what it would show (keys, labels, whether each is enabled, tooltips) with what it shows, and
  composes again only when they differ.
- Each key Textual's Footer shows binds the Footer's `compact` to itself (`data_bind`), which
  adds a watcher to the Footer; Textual prunes a reactive's watchers only when that reactive
  changes, and `compact` never does, so every key of every earlier footer stayed alive, with
  its styles, render caches and message queue (found by a traced memory run: 148, 184, 258,
  332 keys kept at 15, 21, 28 and 34 minutes, growing linearly). After each recompose this
  footer drops the watchers of keys that are gone, by Textual's own rule for it (a watcher
  whose node is closing or closed goes).
- Moving the cursor through the checklist greys keys out and back (a step cannot be run on a
  heading) about once a second under load: recomposing for that removed, mounted and styled
  ten keys each time, and re-laid-out the screen four times over (benchmarks/keys.py
  --trace-layout). When the keys are the same keys in the same places and only whether each
  is enabled, its label or its tooltip differ, the keys on screen take the new values instead.
  A key that comes or goes (B, while a rollback is recommended) is mounted or removed alone.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.compose import compose
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# classes a key's state sets, not its place: -disabled (greyed out), -compact (the footer's)
_STATE_CLASSES = frozenset({"-disabled", "-compact"})


class CockpitFooter(Footer):
    _shown: Hashable = None  # what the keys on screen were composed from

    def _what_to_show(self) -> Hashable:
        """Everything Footer.compose reads, as a value to compare."""
        if not self._bindings_ready:
            return None
        app = self.app
        active = self.screen.active_bindings

        def key(binding: Binding, enabled: bool, tooltip: str) -> Hashable:
            return (
                binding.key,
                binding.action,
                binding.description,
                binding.tooltip,
                binding.group,
                app.get_key_display(binding),
                enabled,
                tooltip,
            )

        keys = tuple(
            key(binding, enabled, tooltip)
            for (_, binding, enabled, tooltip) in active.values()
            if binding.show
        )
        palette = active.get(app.COMMAND_PALETTE_BINDING)  # shown though its show is False
        palette_key = key(*palette[1:]) if palette is not None else None
        return (keys, palette_key, self.show_command_palette, app.ENABLE_COMMAND_PALETTE)

    def compose(self) -> ComposeResult:
        # What is composed is read here, not before the old keys are removed: bindings that
        # change meanwhile (focus moving on) are what these keys show.
        self._shown = self._what_to_show()
        yield from super().compose()

    async def recompose(self) -> None:
        if self.is_attached and self._shown is not None:
            if self._what_to_show() == self._shown:
                return  # the same keys: composing them again would change nothing on screen
            if await self._change_in_place():
                self._drop_gone_watchers()
                return
        await super().recompose()
        self._drop_gone_watchers()

    def _drop_gone_watchers(self) -> None:
        for watchers in getattr(self, "__watchers", {}).values():
            watchers[:] = [
                (node, callback)
                for node, callback in watchers
                if node.is_attached and not node._closing and not node._closed
            ]

    async def _change_in_place(self) -> bool:
        """Make the keys on screen what composing would show, when the keys that stay keep
        their order: those kept take their new state, those gone go, new ones are mounted in
        their places. False, with nothing changed, when keys swap places."""
        shown = [child for child in self.children if not child.has_class("-textual-system")]
        fresh = compose(self)  # widgets only made; compose records what they show in _shown
        if not all(type(key) is FooterKey for key in (*shown, *fresh)):
            return False  # grouped keys (KeyGroup, FooterLabel): composed again
        old_places = [_place(key) for key in shown]
        new_places = [_place(key) for key in fresh]
        if len(set(old_places)) < len(old_places) or len(set(new_places)) < len(new_places):
            return False
        kept = set(old_places) & set(new_places)
        if [p for p in old_places if p in kept] != [p for p in new_places if p in kept]:
            return False
        on_screen = {place: key for place, key in zip(old_places, shown, strict=True)}
        gone = [key for place, key in on_screen.items() if place not in kept]
        if gone:
            await self.remove_children(gone)
        placed: list[Widget] = []
        for place, new in zip(new_places, fresh, strict=True):
            if place in kept:
                old = on_screen[place]
                assert isinstance(old, FooterKey) and isinstance(new, FooterKey)
                _take_state(old, new)
                placed.append(old)
                continue
            if placed:
                await self.mount(new, after=placed[-1])
            elif self.children:
                await self.mount(new, before=0)
            else:
                await self.mount(new)
            placed.append(new)
        return True


def _place(key: Widget) -> Hashable:
    """What makes a key the same key: its key, its action and the classes of its place."""
    assert isinstance(key, FooterKey)
    return (key.key, key.action, frozenset(key.classes - _STATE_CLASSES))


def _take_state(old: FooterKey, new: FooterKey) -> None:
    resized = (old.key_display, old.description) != (new.key_display, new.description)
    old.key_display, old.description = new.key_display, new.description
    old._disabled = new._disabled  # what a click on it reads
    old.set_class(new._disabled, "-disabled")
    if old.tooltip != new.tooltip:
        old.tooltip = new.tooltip
    old.refresh(layout=resized)  # a new label may need another width
