"""The metrics pane: one row per metric with a sparkline, its value, threshold and state."""

from __future__ import annotations

import math
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Label, Sparkline, Static

from cockpit.gates import MetricState, format_value, threshold_text
from cockpit.rollout import format_age
from cockpit.session import GoLiveSession
from cockpit.text import visible_text
from cockpit.tui.bindings import bindings_of
from cockpit.tui.registry import METRICS, Place
from cockpit.tui.widgets.shown import ShownLabel, ShownText, Subtitled, show_text

DISPLAY_CLASS = {
    "ok": "-ok",
    "warn": "-warn",
    "breach": "-breach",
    "no data": "-nodata",
    "error": "-error",
    "pending": "-pending",
}


SHORT_WORDS = {
    "ok": "ok",
    "warn": "warn",
    "breach": "FAIL",
    "no data": "n/d",
    "error": "ERR",
    "pending": "wait",
}


def value_text(state: MetricState | None) -> str:
    """The newest value with its unit, always (gates.format_value)."""
    if state is None or state.current is None:
        return "-"
    return format_value(state.current, state.metric.unit)


def state_word(state: MetricState | None) -> str:
    if state is None:
        return "wait"
    if state.stale and state.phase != "Error":
        return "stale"
    if state.warnings:
        return "partial"  # Prometheus warned the value may miss part of the data
    if state.phase == "Pending":
        # not judged yet (initial_delay, a rollout the failed revision's pods still serve):
        # a value beyond the threshold is coloured as one, but the gate has not failed
        return "wait"
    return SHORT_WORDS.get(state.display, state.display)


class MetricRow(Horizontal):
    """name | sparkline | value | state — one line, readable at 80 columns."""

    DEFAULT_CSS = """
    MetricRow {
        height: 1;
        width: 1fr;
    }
    MetricRow > .metric-name {
        width: 9;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    MetricRow > Sparkline {
        width: 1fr;
        min-width: 4;
        margin: 0 0 0 1;
    }
    MetricRow > .metric-value {
        width: 11;
        margin-left: 1;
        text-align: right;
    }
    MetricRow > .metric-state {
        width: 7;
        margin-left: 1;
        text-style: bold;
    }
    MetricRow.-ok > .metric-state { color: $success; }
    MetricRow.-warn > .metric-state { color: $warning; }
    MetricRow.-breach > .metric-state { color: $error; }
    MetricRow.-error > .metric-state { color: $error; }
    MetricRow.-nodata > .metric-state { color: $warning; }
    MetricRow.-pending > .metric-state { color: $text-muted; }
    MetricRow.-stale { opacity: 0.6; }
    MetricRow.-ok > Sparkline > .sparkline--max-color { color: $success; }
    MetricRow.-ok > Sparkline > .sparkline--min-color { color: $success-darken-2; }
    MetricRow.-warn > Sparkline > .sparkline--max-color { color: $warning; }
    MetricRow.-warn > Sparkline > .sparkline--min-color { color: $success-darken-2; }
    MetricRow.-breach > Sparkline > .sparkline--max-color { color: $error; }
    MetricRow.-breach > Sparkline > .sparkline--min-color { color: $warning-darken-2; }
    MetricRow.-selected { background: $boost; }
    """

    def __init__(self, name: str, index: int = 0) -> None:
        super().__init__()
        self.metric_name = name
        self.index = index  # its line in the pane: rows are one line each
        # the parts an update changes, kept: a query walks and matches the row's children
        # on every poll of every metric
        self.sparkline = Sparkline([], summary_function=max)
        self.value_label = ShownLabel("-", classes="metric-value")
        self.state_label = ShownLabel("wait", classes="metric-state")

    def compose(self) -> ComposeResult:
        yield Label(self.metric_name, classes="metric-name")
        yield self.sparkline
        yield self.value_label
        yield self.state_label

    def show(self, state: MetricState) -> None:
        # Classes only when they change: each add or remove restyles the row and its
        # children, and taking the class off and on again on every poll of 24 metrics was
        # a third of the screen's time under load (py-spy, benchmarks/keys.py).
        wanted = DISPLAY_CLASS.get(state.display, "-pending")
        if not self.has_class(wanted):
            self.remove_class(*(css for css in DISPLAY_CLASS.values() if css != wanted))
            self.add_class(wanted)
        if self.has_class("-stale") != state.stale:
            self.set_class(state.stale, "-stale")
        data = [p.value for p in state.points if not math.isnan(p.value)]
        self.sparkline.data = data  # a reactive: the same values draw nothing
        show_text(self.value_label, value_text(state))
        show_text(self.state_label, state_word(state))
        tooltip = f"{threshold_text(state.metric)}\n{state.phase}: {state.reason}"
        if tooltip != self.tooltip:
            self.tooltip = tooltip


class MetricsPane(VerticalScroll, Subtitled, can_focus=True):
    """Fed by the MetricsWatcher; Enter opens the selected metric's plot and reasons.

    VerticalScroll comes first: Textual takes a widget's default CSS from its first base
    only, and behind Subtitled the pane lost VerticalScroll's `overflow-y: auto` (metrics
    beyond the pane's height could not be scrolled to, nor the selection follow them)."""

    PLACE: ClassVar[Place] = METRICS
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    class Update(Message):
        def __init__(self, state: MetricState) -> None:
            super().__init__()
            self.state = state

    class Open(Message):
        def __init__(self, state: MetricState) -> None:
            super().__init__()
            self.state = state

    def __init__(self, session: GoLiveSession, **kwargs: str) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.session = session
        self.states: dict[str, MetricState] = {}
        self.selected = 0
        # kept, not queried: two dozen updates arrive at every poll
        self.rows: list[MetricRow] = []
        self.rows_by_name: dict[str, list[MetricRow]] = {}
        # Rows out of view take their newest state when they come into view, not at every
        # poll: a change to a widget the screen does not show makes Textual arrange every
        # widget again at the next lookup of any such widget's size (with 24 metrics in a
        # pane of 8 lines, nine such arranges a second under load, 6 ms each).
        self.waiting: set[int] = set()  # indexes in rows
        self.status = ShownText("", id="metrics-status")
        # classes before mounting: one set later restyles the pane and its rows again
        env = session.environment
        self.set_class(env.prometheus is None or not env.metrics, "-not-configured", update=False)

    def compose(self) -> ComposeResult:
        env = self.session.environment
        if env.prometheus is None or not env.metrics:
            yield Static(
                f"No Prometheus metrics configured for {self.session.env_name}.\n"
                "See metrics in docs/CONFIG.md.",
                id="metrics-empty",
            )
            return
        for index, metric in enumerate(env.metrics):
            row = MetricRow(metric.name, index)
            self.rows.append(row)
            self.rows_by_name.setdefault(metric.name, []).append(row)
            yield row
        yield self.status

    def on_mount(self) -> None:
        self.border_title = "Metrics"
        env = self.session.environment
        if env.prometheus is None or not env.metrics:
            self.subtitle = "not configured"
        else:
            self.subtitle = "waiting for data"
            self._highlight()

    def _fit_names(self, pane_width: int) -> None:
        """Names as wide as the longest needs (p95 latency, not `p95 late…`), leaving the
        sparkline at least 4 columns; value (11), state (7: `partial`), margins (3) and a
        scroll bar (2) take 23: the state word is never the one cut."""
        longest = max((len(m.name) for m in self.session.environment.metrics), default=9)
        width = max(6, min(longest, pane_width - 23 - 4))
        for label in self.query(".metric-name"):
            label.styles.width = width

    def on_metrics_pane_update(self, message: Update) -> None:
        state = message.state
        self.states[state.metric.name] = state
        for row in self.rows_by_name.get(state.metric.name, ()):
            if self._in_view(row.index):
                row.show(state)
            else:
                self.waiting.add(row.index)
        stale = [s for s in self.states.values() if s.stale]
        if stale:
            newest_ok = max((s.last_ok for s in stale if s.last_ok), default=None)
            age = format_age(newest_ok) if newest_ok else "start"
            self.subtitle = f"STALE since {age}"
            show_text(
                self.status,
                Text(visible_text(f"Prometheus: {stale[0].last_error}"), style="italic"),
            )
            self.status.display = True
        else:
            partial = [s for s in self.states.values() if s.warnings]
            prometheus = self.session.environment.prometheus
            insecure = prometheus is not None and prometheus.insecure_skip_verify
            self.subtitle = (
                "live"
                + (" · PARTIAL" if partial else "")
                + (" · TLS NOT VERIFIED" if insecure else "")
            )
            firing = [line for s in self.states.values() for line in s.details]
            notes = [f"Prometheus warned ({p.metric.name}): {p.warnings[0]}" for p in partial[:1]]
            notes += [f"ALERT {line}" for line in firing[:3]]
            if len(firing) > 3:
                notes.append(f"… {len(firing) - 3} more firing (Enter on the alerts row)")
            note = "\n".join(notes)
            show_text(self.status, Text(visible_text(note, keep_newlines=True), style="italic"))
            self.status.display = bool(note)  # an empty line would push a metric out of sight

    def _in_view(self, index: int) -> bool:
        """Whether the row on line `index` shows now (from the scroll position and the
        pane's height: asking the row for its region is what costs the arrange)."""
        top = round(self.scroll_y)
        return top <= index < top + self.scrollable_content_region.height

    def _show_waiting(self) -> None:
        """Rows come into view with their newest state."""
        for index in sorted(self.waiting):
            if self._in_view(index):
                self.waiting.discard(index)
                row = self.rows[index]
                state = self.states.get(row.metric_name)
                if state is not None:
                    row.show(state)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.waiting:
            self._show_waiting()

    def on_resize(self, event: events.Resize) -> None:
        self._fit_names(event.size.width)
        if self.waiting:
            self._show_waiting()

    def _rows(self) -> list[MetricRow]:
        return self.rows

    def _highlight(self) -> None:
        for index, row in enumerate(self._rows()):
            row.set_class(index == self.selected and self.has_focus, "-selected")

    def on_focus(self) -> None:
        self._highlight()

    def on_blur(self) -> None:
        self._highlight()

    def action_move(self, delta: int) -> None:
        rows = self._rows()
        if rows:
            self.selected = (self.selected + delta) % len(rows)
            self._highlight()
            # the selected row in view: Enter opens the metric the operator can see
            self.scroll_to_widget(rows[self.selected], animate=False)

    def action_open_detail(self) -> None:
        rows = self._rows()
        if not rows:
            return
        state = self.states.get(rows[self.selected].metric_name)
        if state is None:
            self.app.notify("No measurement yet for this metric.", severity="warning")
            return
        self.post_message(self.Open(state))
