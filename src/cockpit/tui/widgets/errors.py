"""The errors pane: new Sentry / Bugsink issues since the release started."""

from __future__ import annotations

from textual.widgets import Static

from cockpit.session import GoLiveSession


class ErrorsPane(Static):
    """Until the error-tracker source is connected, says plainly what it will follow."""

    def __init__(self, session: GoLiveSession, **kwargs: str) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.session = session

    def on_mount(self) -> None:
        self.border_title = "Errors"
        tracker = self.session.environment.errors
        if tracker is None:
            self.add_class("-not-configured")
            self.border_subtitle = "not configured"
            self.update(
                f"No error tracker configured for {self.session.env_name}.\n"
                "See errors in docs/CONFIG.md."
            )
            return
        self.border_subtitle = "waiting for data"
        where = " / ".join(p for p in (tracker.org, tracker.project) if p)
        self.update(
            f"{tracker.provider}: {tracker.url} {where}\n"
            "Waiting for data: the error feed is not connected yet."
        )
