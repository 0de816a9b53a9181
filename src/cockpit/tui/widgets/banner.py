"""The top bar: which environment this is, unmistakably, and how far the go-live has got."""

from __future__ import annotations

from cockpit.session import GoLiveSession
from cockpit.tui.widgets.shown import ShownText, show_text


class EnvironmentBanner(ShownText):
    """One line; red and shouting in production, so nobody mistakes it for staging."""

    DEFAULT_CSS = """
    EnvironmentBanner {
        height: 1;
        padding: 0 1;
        background: $primary-darken-2;
        color: $text;
        text-style: bold;
    }
    EnvironmentBanner.-production {
        background: $error;
        color: $text;
    }
    EnvironmentBanner.-read-only {
        text-style: bold italic;
    }
    """

    def __init__(self, session: GoLiveSession, **kwargs: str) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.session = session
        self.others: list[str] = []  # other operators with this environment open
        # classes before mounting: one set later restyles the banner again
        self.set_class(session.environment.production, "-production", update=False)
        self.set_class(session.read_only, "-read-only", update=False)

    def on_mount(self) -> None:
        self.refresh_text()

    def refresh_text(self) -> None:
        session = self.session
        progress = session.progress()
        parts = []
        if session.environment.production:
            parts.append("▲ PRODUCTION ▲")
        parts.append(session.label)
        if session.label != session.env_name:
            parts.append(f"({session.env_name})")
        if session.read_only:
            parts.append("· READ-ONLY")
        parts.append(f"· checklist {progress.resolved}/{progress.total}")
        if progress.failed:
            parts.append(f"· {progress.failed} FAILED")
        parts.append(f"· {session.operator}")
        if self.others:
            parts.append(f"· also here: {', '.join(self.others)}")
        shared = session.team.banner() if session.team is not None else None
        if shared:
            parts.append(f"· {shared}")
        show_text(self, " ".join(parts))
