"""ShownText re-lays-out the screen only when its new text can change its size.

A layout of the whole screen is the costliest part of a frame (the tail of key-to-frame
latency), and the verdict bar's clock changes every second in a line that may be wider than
the bar. These tests hold both sides of the rule: no layout when the wrapped height stays, a
layout (and the widget's height following) when it changes.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult

from cockpit.tui.widgets.shown import ShownText, show_text

WIDTH = 20  # the widget's content width in every test below


class _Counting(ShownText):
    """Counts the refreshes that ask for a layout."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.layouts = 0

    def refresh(self, *regions: Any, layout: bool = False, **kwargs: Any) -> Any:
        self.layouts += int(layout)
        return super().refresh(*regions, layout=layout, **kwargs)


class _Probe(_Counting):
    DEFAULT_CSS = """
    _Probe { width: 20; height: auto; }
    _Probe.-cut { text-wrap: nowrap; text-overflow: ellipsis; }
    """


class _Filling(_Counting):
    """No width rule: the widget fills its container (the verdict bar, the status lines)."""

    DEFAULT_CSS = """
    _Filling { height: auto; }
    _Filling.-auto { width: auto; }
    """


class _Host(App[None]):
    def __init__(self, classes: str = "", probe: type[_Counting] | None = None) -> None:
        super().__init__()
        self.probe_classes = classes
        self.probe_type = probe or _Probe

    def compose(self) -> ComposeResult:
        yield self.probe_type(id="probe", classes=self.probe_classes)


async def _shown(app: _Host, pilot: Any, text: str) -> tuple[int, int]:
    probe = app.query_one(_Counting)
    before = probe.layouts
    show_text(probe, Text(text))
    await pilot.pause()
    return probe.layouts - before, probe.size.height


async def test_a_widget_that_fills_its_container_asks_no_layout_for_a_wider_line() -> None:
    app = _Host(probe=_Filling)
    async with app.run_test(size=(40, 10)) as pilot:
        await _shown(app, pilot, "short")
        layouts, height = await _shown(app, pilot, "a longer line, same height")
        assert (layouts, height) == (0, 1)
        assert app.query_one(_Counting).size.width == 40  # the container's width, as before


async def test_an_auto_width_follows_a_wider_line() -> None:
    app = _Host(classes="-auto", probe=_Filling)
    async with app.run_test(size=(40, 10)) as pilot:
        await _shown(app, pilot, "short")
        assert app.query_one(_Counting).size.width == len("short")
        layouts, _height = await _shown(app, pilot, "a longer line")
        assert layouts >= 1 and app.query_one(_Counting).size.width == len("a longer line")


async def test_a_wrapped_line_that_keeps_its_height_asks_no_layout() -> None:
    app = _Host()
    async with app.run_test(size=(40, 10)) as pilot:
        await _shown(app, pilot, "x" * 30)  # first text: lays out, two lines
        layouts, height = await _shown(app, pilot, "y" * 31)
        assert (layouts, height) == (0, 2)


async def test_a_wrapped_line_that_grows_a_line_lays_out_and_the_height_follows() -> None:
    app = _Host()
    async with app.run_test(size=(40, 10)) as pilot:
        await _shown(app, pilot, "x" * 30)
        layouts, height = await _shown(app, pilot, "x" * 41)  # three lines at 20 columns
        assert layouts >= 1 and height == 3
        layouts, height = await _shown(app, pilot, "x" * WIDTH)  # exactly the room: one line
        assert layouts >= 1 and height == 1


async def test_exactly_the_width_is_one_line_and_one_more_wraps() -> None:
    app = _Host()
    async with app.run_test(size=(40, 10)) as pilot:
        await _shown(app, pilot, "x" * WIDTH)
        layouts, height = await _shown(app, pilot, "x" * (WIDTH + 1))
        assert layouts >= 1 and height == 2


async def test_a_line_that_is_cut_not_wrapped_never_changes_the_height() -> None:
    app = _Host(classes="-cut")
    async with app.run_test(size=(40, 10)) as pilot:
        await _shown(app, pilot, "x" * 30)
        layouts, height = await _shown(app, pilot, "y" * 60)
        assert (layouts, height) == (0, 1)


async def test_a_new_line_count_lays_out() -> None:
    app = _Host()
    async with app.run_test(size=(40, 10)) as pilot:
        await _shown(app, pilot, "short")
        layouts, height = await _shown(app, pilot, "short\nsecond")
        assert layouts >= 1 and height == 2
