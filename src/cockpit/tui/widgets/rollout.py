"""The rollout pane: live status of the environment's Kubernetes Deployments."""

from __future__ import annotations

from textual.widgets import Static

from cockpit.session import GoLiveSession


class RolloutPane(Static):
    """Until the Kubernetes source is connected, says plainly what it will watch."""

    def __init__(self, session: GoLiveSession, **kwargs: str) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.session = session

    def on_mount(self) -> None:
        self.border_title = "Rollout"
        clusters = self.session.environment.clusters
        if not clusters:
            self.add_class("-not-configured")
            self.border_subtitle = "not configured"
            self.update(
                f"No clusters configured for {self.session.env_name}.\n"
                "See clusters in docs/CONFIG.md."
            )
            return
        self.border_subtitle = "waiting for data"
        lines = [
            f"{c.name}: {', '.join(c.deployments) or 'no deployments listed'} ({c.namespace})"
            for c in clusters
        ]
        lines.append("Waiting for data: live rollout status is not connected yet.")
        self.update("\n".join(lines))
