"""The footer lets go of the keys it replaced (Textual's own kept every one: a leak that grew
with every change of the bindings over a go-live)."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from cockpit.tui.widgets.footer import CockpitFooter

CHANGES = 60


class _Host(App[None]):
    BINDINGS = [Binding("x", "x", "Ex"), Binding("y", "y", "Why")]

    def __init__(self) -> None:
        super().__init__()
        self.shown = False

    def compose(self) -> ComposeResult:
        yield Static("host")
        yield CockpitFooter(compact=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.shown if action == "y" else True


async def test_keys_of_earlier_footers_are_not_kept() -> None:
    gc.collect()
    before = {id(o) for o in gc.get_objects() if isinstance(o, FooterKey)}  # other tests'
    app = _Host()
    async with app.run_test() as pilot:
        for _ in range(CHANGES):
            app.shown = not app.shown
            app.refresh_bindings()  # the footer is composed again
            await pilot.pause(0.02)
        await pilot.pause(0.2)
        gc.collect()
        alive = [o for o in gc.get_objects() if isinstance(o, FooterKey) and id(o) not in before]
        shown = list(app.query(FooterKey))
        assert shown, "the footer shows its keys"
        # the keys on screen and a few not yet collected, not some for every change (Textual's
        # own footer kept about 1.5 keys per change: 92 here)
        assert len(alive) <= max(3 * len(shown), CHANGES // 5), (len(alive), len(shown))
        assert app.query_one(CockpitFooter).compact  # still bound: compact reaches new keys


class _Toggles(App[None]):
    """x is always shown; y is enabled, greyed out (check_action None) or not shown at all
    (False) by `enabled`; the focus moves between two widgets with the same keys."""

    BINDINGS = [Binding("x", "x", "Ex"), Binding("y", "y", "Why")]

    def __init__(self) -> None:
        super().__init__()
        self.enabled: bool | None = True

    def compose(self) -> ComposeResult:
        yield _Focusable("one", id="one")
        yield _Focusable("two", id="two")
        yield CockpitFooter(compact=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.enabled if action == "y" else True


class _Focusable(Static, can_focus=True):
    pass


def _keys(app: App[None]) -> dict[str, FooterKey]:
    return {key.key: key for key in app.query(FooterKey)}


async def test_the_same_keys_are_not_composed_again() -> None:
    """Focus moving between widgets with the same keys, bindings refreshed with nothing
    changed: the keys on screen stay (composing them again restyled ten keys each time)."""
    app = _Toggles()
    async with app.run_test() as pilot:
        await pilot.pause(0.1)
        first = _keys(app)
        assert set(first) >= {"x", "y"}
        for target in ("#one", "#two", "#one"):
            app.query_one(target).focus()
            await pilot.pause(0.05)
        app.refresh_bindings()
        await pilot.pause(0.1)
        assert _keys(app) == first  # the very same widgets


async def test_a_key_greyed_out_or_back_changes_on_screen_in_place() -> None:
    """The same keys in the same places: the keys on screen show the change (composing ten
    keys again for it, about once a second as the cursor moves, was most of the screen's
    layouts under load)."""
    app = _Toggles()
    async with app.run_test() as pilot:
        await pilot.pause(0.1)
        first = _keys(app)
        assert not first["y"].has_class("-disabled") and not first["y"]._disabled
        app.enabled = None
        app.refresh_bindings()
        await pilot.pause(0.1)
        assert _keys(app) == first  # the very same widgets
        assert first["y"].has_class("-disabled")  # greyed out on screen
        assert first["y"]._disabled  # a click on it rings the bell, as on a composed key
        assert "Why" in str(first["y"].render())
        app.enabled = True
        app.refresh_bindings()
        await pilot.pause(0.1)
        assert _keys(app) == first
        assert not first["y"].has_class("-disabled") and not first["y"]._disabled


class _Relabelled(App[None]):
    BINDINGS = [Binding("x", "x", "Ex"), Binding("y", "y", "Why", tooltip="first tip")]

    def compose(self) -> ComposeResult:
        yield Static("host")
        yield CockpitFooter(compact=True)

    def relabel(self, label: str, tooltip: str) -> None:
        """y keeps its key and action; its label and tooltip change (as a keymap may)."""
        self._bindings.key_to_bindings["y"] = [Binding("y", "y", label, tooltip=tooltip)]
        self.refresh_bindings()


async def test_a_new_label_or_tooltip_reaches_the_key_on_screen() -> None:
    app = _Relabelled()
    async with app.run_test() as pilot:
        await pilot.pause(0.1)
        first = _keys(app)
        assert "Why" in str(first["y"].render())
        app.relabel("Why not, a longer label", "second tip")
        await pilot.pause(0.1)
        assert _keys(app) == first
        assert "Why not, a longer label" in str(first["y"].render())
        assert first["y"].tooltip == "second tip"
        assert first["y"].size.width >= len("y Why not, a longer label")  # laid out anew


async def test_a_key_that_comes_or_goes_is_mounted_or_removed_alone_in_its_place() -> None:
    """B comes and goes with a rollback recommendation, about once a second under load: the
    other keys stay the same widgets, and the key comes back where composing puts it."""
    app = _Toggles()
    async with app.run_test() as pilot:
        await pilot.pause(0.1)
        first = _keys(app)
        order = [key.key for key in app.query(FooterKey)]
        assert order.index("x") < order.index("y") < len(order) - 1  # the palette key last
        app.enabled = False  # y is not shown at all
        app.refresh_bindings()
        await pilot.pause(0.1)
        assert "y" not in _keys(app)
        assert all(_keys(app)[k] is first[k] for k in order if k != "y")
        app.enabled = True
        app.refresh_bindings()
        await pilot.pause(0.1)
        keys = _keys(app)
        assert [key.key for key in app.query(FooterKey)] == order
        assert all(keys[k] is first[k] for k in order if k != "y")
        assert not keys["y"].has_class("-disabled")
        assert "Why" in str(keys["y"].render())


class _Hooked(CockpitFooter):
    """Runs `during_removal` while the footer waits for keys to go, and `after_compose` once
    new keys are mounted; with `in_place` False, every change composes all keys again."""

    during_removal: Callable[[], None] | None = None
    after_compose: Callable[[], None] | None = None
    in_place = True

    async def _change_in_place(self) -> bool:
        return await super()._change_in_place() if self.in_place else False

    def _removing(self) -> None:
        if self.during_removal is not None:
            run, self.during_removal = self.during_removal, None
            run()

    def _mounted(self) -> None:
        if self.after_compose is not None:
            run, self.after_compose = self.after_compose, None
            run()

    def query_children(self, *args: Any, **kwargs: Any) -> Any:  # composing all again
        self._removing()
        return super().query_children(*args, **kwargs)

    def remove_children(self, *args: Any, **kwargs: Any) -> Any:  # a key going alone
        self._removing()
        return super().remove_children(*args, **kwargs)

    def mount_all(self, *args: Any, **kwargs: Any) -> Any:
        mounted = super().mount_all(*args, **kwargs)
        self._mounted()
        return mounted

    def mount(self, *args: Any, **kwargs: Any) -> Any:
        mounted = super().mount(*args, **kwargs)
        self._mounted()
        return mounted


class _RaceHost(_Toggles):
    def compose(self) -> ComposeResult:
        yield Static("host")
        yield _Hooked(compact=True)


@pytest.mark.parametrize("in_place", [False, True], ids=["composed-again", "in-place"])
async def test_bindings_that_change_during_a_recompose_and_back_are_shown(
    in_place: bool,
) -> None:
    """y is greyed out while the footer removes keys (so the keys composed next show it
    grey), then enabled again before the recompose that change queued: the footer must
    compare with what it composed (grey), not with what it saw before, and show y enabled.
    Composed again, all keys go; in place, y goes alone (it stops being shown) and comes back
    grey."""
    app = _RaceHost()
    async with app.run_test() as pilot:
        await pilot.pause(0.1)
        footer = app.query_one(_Hooked)
        footer.in_place = in_place
        assert not _keys(app)["y"].has_class("-disabled")

        def grey() -> None:
            app.enabled = None
            app.refresh_bindings()

        def back() -> None:
            app.enabled = True
            app.refresh_bindings()

        footer.during_removal, footer.after_compose = grey, back
        app.enabled = False  # y goes
        app.refresh_bindings()
        await pilot.pause(0.3)
        assert footer.during_removal is None and footer.after_compose is None  # both ran
        assert app.enabled is True
        keys = _keys(app)
        assert "y" in keys, "y not shown while enabled"
        assert not keys["y"].has_class("-disabled"), "y shown greyed out while enabled"
