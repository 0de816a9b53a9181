"""The verdict bar: release, elapsed go-live time, GO / NO-GO / PENDING and why."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text
from textual.widgets import Static

from cockpit.gates import Verdict
from cockpit.session import GoLiveSession
from cockpit.text import visible_text
from cockpit.tui.widgets.shown import show_text


class VerdictBar(Static):
    DEFAULT_CSS = """
    VerdictBar {
        height: auto;
        max-height: 2;
        padding: 0 1;
        background: $panel;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    VerdictBar.-go { background: $success-darken-2; }
    VerdictBar.-no-go { background: $error-darken-1; }
    VerdictBar.-recommend { text-style: bold; }
    VerdictBar.-expanded { max-height: 12; text-wrap: wrap; }
    """

    def __init__(self, session: GoLiveSession, **kwargs: str) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.session = session
        self.verdict = Verdict("PENDING", ("waiting for the first measurements",))
        self.release: str | None = None
        self.expanded = False  # every reason on its own line, not just the first

    def on_mount(self) -> None:
        self.show(self.verdict)
        self.set_interval(30, lambda: self.show(self.verdict))

    def show(self, verdict: Verdict, release: str | None = None) -> None:
        self.verdict = verdict
        if release:
            self.release = release
        started = self.session.go_live_started()
        elapsed = "-"
        if started is not None:
            # max(): a wall clock set back (NTP step, a VM resumed) must not show -1:59
            minutes = max(0, int((datetime.now(UTC) - started).total_seconds() // 60))
            elapsed = f"{minutes // 60}:{minutes % 60:02d}"
        text = Text()
        text.append(f" {verdict.state} ", style="bold reverse")
        if self.release:
            text.append(f"  release {visible_text(self.release)}")
        text.append(f"  go-live {elapsed}")
        if verdict.rollback_recommended:
            text.append("  ROLLBACK RECOMMENDED — press B", style="bold")
        if verdict.judging:
            text.append(f"  judging {visible_text(verdict.judging)}")
        if verdict.reasons and self.expanded:
            for reason in verdict.reasons:
                text.append(f"\n• {visible_text(reason)}")
        elif verdict.reasons:
            # first, so a narrow terminal cuts the reason, not the hint that there are more
            more = f"(+{len(verdict.reasons) - 1} more: v) " if len(verdict.reasons) > 1 else ""
            text.append(f"\n{more}{visible_text(verdict.reasons[0])}")
        self.set_class(verdict.state == "GO", "-go")
        self.set_class(verdict.state == "NO-GO", "-no-go")
        self.set_class(verdict.rollback_recommended, "-recommend")
        self.set_class(self.expanded, "-expanded")
        show_text(self, text)

    def toggle(self) -> None:
        self.expanded = not self.expanded
        self.show(self.verdict)
