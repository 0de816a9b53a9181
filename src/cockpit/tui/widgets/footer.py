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
            if self._update_in_place():
                return
        await super().recompose()
        for watchers in getattr(self, "__watchers", {}).values():
            watchers[:] = [
                (node, callback)
                for node, callback in watchers
                if node.is_attached and not node._closing and not node._closed
            ]

    def _update_in_place(self) -> bool:
        """Give the keys on screen what composing would show, when that is the same keys in
        the same places; False (nothing changed) when a key comes, goes or moves."""
        shown = [child for child in self.children if not child.has_class("-textual-system")]
        fresh = compose(self)  # widgets only made, never mounted (compose records _shown)
        if len(shown) != len(fresh) or not all(
            _same_place(old, new) for old, new in zip(shown, fresh, strict=True)
        ):
            return False
        for old, new in zip(shown, fresh, strict=True):
            assert isinstance(old, FooterKey) and isinstance(new, FooterKey)
            resized = (old.key_display, old.description) != (new.key_display, new.description)
            old.key_display, old.description = new.key_display, new.description
            old._disabled = new._disabled  # what a click on it reads
            old.set_class(new._disabled, "-disabled")
            if old.tooltip != new.tooltip:
                old.tooltip = new.tooltip
            old.refresh(layout=resized)  # a new label may need another width
        return True


def _same_place(old: Widget, new: Widget) -> bool:
    return (
        type(old) is FooterKey
        and type(new) is FooterKey
        and (old.key, old.action) == (new.key, new.action)
        and old.classes - _STATE_CLASSES == new.classes - _STATE_CLASSES
    )
