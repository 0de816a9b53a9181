"""The verdict bar: release, elapsed go-live time, GO / NO-GO / PENDING and why."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text

from cockpit.gates import Verdict
from cockpit.session import GoLiveSession
from cockpit.text import format_elapsed, visible_text
from cockpit.tui.registry import key_of
from cockpit.tui.widgets.shown import ShownText, show_text


class VerdictBar(ShownText):
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
        self.run_started: datetime | None = None  # the current release analysis run's start

    def _key(self, binding_id: str) -> str:
        return key_of(self.session.config.model.keys, binding_id)

    def on_mount(self) -> None:
        self.show(self.verdict)
        self.set_interval(1, lambda: self.show(self.verdict))  # the clock counts seconds

    def show(
        self, verdict: Verdict, release: str | None = None, run_started: datetime | None = None
    ) -> None:
        self.verdict = verdict
        if release:
            self.release = release
        if run_started is not None:
            self.run_started = run_started
        # The release run's age: since the watched revision changed (cockpit.analysis), not
        # since the first audit entry, which may be a mark made days before the window.
        # Without clusters there is no run: the go-live's first entry is all there is.
        started, clock = self.run_started, "run"
        if started is None:
            started, clock = self.session.go_live_started(), "go-live"
        elapsed = "-"
        if started is not None:
            elapsed = format_elapsed((datetime.now(UTC) - started).total_seconds())
        text = Text()
        text.append(f" {verdict.state} ", style="bold reverse")
        if self.release:
            text.append(f"  release {visible_text(self.release)}")
        text.append(f"  {clock} {elapsed}")
        if verdict.rollback_recommended:
            rollback = self._key("app.rollback_recommended")
            text.append(f"  ROLLBACK RECOMMENDED — press {rollback}", style="bold")
        if verdict.judging:
            text.append(f"  judging {visible_text(verdict.judging)}")
        if verdict.reasons and self.expanded:
            for reason in verdict.reasons:
                text.append(f"\n• {visible_text(reason)}")
        elif verdict.reasons:
            # first, so a narrow terminal cuts the reason, not the hint that there are more
            more = ""
            if len(verdict.reasons) > 1:
                more = f"(+{len(verdict.reasons) - 1} more: {self._key('app.verdict_reasons')}) "
            text.append(f"\n{more}{visible_text(verdict.reasons[0])}")
        self.set_class(verdict.state == "GO", "-go")
        self.set_class(verdict.state == "NO-GO", "-no-go")
        self.set_class(verdict.rollback_recommended, "-recommend")
        self.set_class(self.expanded, "-expanded")
        show_text(self, text)

    def toggle(self) -> None:
        self.expanded = not self.expanded
        self.show(self.verdict)
