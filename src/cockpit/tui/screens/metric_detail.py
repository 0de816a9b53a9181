"""A metric in depth: a larger plot with its threshold line, the query, the measurements and
the reason for the gate's state — what an operator needs to trust (or overrule) a NO-GO."""

from __future__ import annotations

import math
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from cockpit.gates import MetricState, threshold_text
from cockpit.text import visible_text
from cockpit.tui.bindings import bindings_of
from cockpit.tui.registry import METRIC_DETAIL, Place
from cockpit.tui.screens.frame import DetailScreen

BLOCKS = " ▁▂▃▄▅▆▇█"


def plot(state: MetricState, width: int = 64, height: int = 10) -> Text:
    """Columns of blocks, one per point (resampled to width), with the fail threshold as ─."""
    values = [p.value for p in state.points]
    text = Text()
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        text.append("no data in the window\n", style="italic")
        return text
    if len(values) > width:
        step = len(values) / width
        values = [values[int(i * step)] for i in range(width)]
    limit = state.metric.fail
    top = max([*finite, limit or 0.0]) * 1.1 or 1.0
    bottom = min([*finite, 0.0])
    span = (top - bottom) or 1.0
    threshold_row = None
    if limit is not None:
        threshold_row = int((limit - bottom) / span * height)
    for row in range(height - 1, -1, -1):
        label = f"{bottom + span * (row + 1) / height:>9.3g} │"
        text.append(label, style="dim")
        for value in values:
            if math.isnan(value):
                text.append("·", style="dim")
                continue
            level = (value - bottom) / span * height - row
            beyond = limit is not None and (
                value >= limit if state.metric.direction == "upper" else value < limit
            )
            style = "bold red" if beyond else "green"
            if level >= 1:
                text.append("█", style=style)
            elif level > 0:
                text.append(BLOCKS[max(1, int(level * 8))], style=style)
            elif row == threshold_row:
                text.append("─", style="red")
            else:
                text.append(" ")
        text.append("\n")
    first, last = state.points[0].at, state.points[-1].at
    text.append(f"{'':>9} └ {first:%H:%M} … {last:%H:%M} UTC", style="dim")
    if limit is not None:
        text.append(f"   ─ fail at {limit:g}{state.metric.unit}", style="red")
    return text


class MetricDetailScreen(DetailScreen[None]):
    PLACE: ClassVar[Place] = METRIC_DETAIL
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    def __init__(self, state: MetricState) -> None:
        super().__init__()
        self.state = state

    def compose(self) -> ComposeResult:
        state = self.state
        metric = state.metric
        with VerticalScroll(classes="frame") as scroll:
            scroll.border_title = f"Metric · {metric.name}"
            yield Static(plot(state))
            summary = Text()
            summary.append(f"\nphase {state.phase}", style="bold")
            summary.append(f" — {visible_text(state.reason)}\n")
            summary.append(
                f"threshold: {threshold_text(metric)}; failure_limit "
                f"{metric.failure_limit}; no_data = {metric.no_data}; "
                f"{'a gate' if metric.gate else 'not a gate'}\n"
            )
            summary.append(f"window {metric.window}, step {metric.step}, every {metric.interval}\n")
            summary.append("query: ", style="bold")
            summary.append(visible_text(state.query) + "\n")
            if state.last_error:
                summary.append(f"last error: {visible_text(state.last_error)}\n", style="red")
            for warning in state.warnings:
                summary.append(f"Prometheus warned: {visible_text(warning)}\n", style="yellow")
            if state.metric.alerts is not None:
                summary.append("\nfiring now\n", style="bold")
                for line in state.details or ("none",):
                    summary.append(f"  {visible_text(line)}\n")
            summary.append("\nlast measurements\n", style="bold")
            for measurement in state.measurements[-10:]:
                shown = "NaN" if math.isnan(measurement.value) else f"{measurement.value:.4g}"
                summary.append(
                    f"  {measurement.at:%H:%M:%S}  {shown}{metric.unit}  {measurement.outcome}\n"
                )
            yield Static(summary)
