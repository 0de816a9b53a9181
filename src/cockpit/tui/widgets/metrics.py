"""The metrics pane: Prometheus sparklines, gates and the GO / NO-GO verdict."""

from __future__ import annotations

from textual.widgets import Static

from cockpit.session import GoLiveSession


class MetricsPane(Static):
    """Until the Prometheus source is connected, says plainly what it will show."""

    def __init__(self, session: GoLiveSession, **kwargs: str) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.session = session

    def on_mount(self) -> None:
        self.border_title = "Metrics"
        env = self.session.environment
        if env.prometheus is None:
            self.add_class("-not-configured")
            self.border_subtitle = "not configured"
            self.update(
                f"No Prometheus configured for {self.session.env_name}.\n"
                "See prometheus in docs/CONFIG.md."
            )
            return
        self.border_subtitle = "waiting for data"
        names = ", ".join(m.name for m in env.metrics) or "no metrics listed"
        self.update(
            f"{env.prometheus.url}\nMetrics: {names}\n"
            "Waiting for data: the Prometheus source is not connected yet."
        )
