"""A deployment in depth: ReplicaSets by revision, pods, recent events, history."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from cockpit.rollout import format_age, parse_time
from cockpit.sources.kube import DeploymentView
from cockpit.tui.plain import safe


def describe(view: DeploymentView) -> str:
    lines = [f"[b]{safe(view.name)}[/b]  cluster {safe(view.cluster)} / {safe(view.namespace)}"]
    if not view.found:
        return lines[0] + "\n\nnot found in the cluster"
    verdict = view.verdict
    lines.append(f"kubectl rollout status: {safe(verdict.message)}")
    for trouble in view.trouble:
        lines.append(f"[b]pod trouble[/b]: {safe(str(trouble))}")
    if view.paused:
        lines.append("[b]paused[/b]: the controller does not roll out until resumed")
    lines += ["", "[b]History[/b]  (revision, images, change-cause, age, ready/replicas)"]
    for row in reversed(view.history):
        marker = "→" if row.current else " "
        cause = f"  {safe(row.change_cause)}" if row.change_cause else ""
        lines.append(
            f" {marker} {row.revision:>3}  {safe(', '.join(row.images))}{cause}  "
            f"{row.age()}  {row.ready}/{row.replicas}"
        )
    lines += ["", "[b]Pods[/b]  (name, revision, phase, ready, restarts, reason)"]
    for pod in sorted(view.pods, key=lambda p: p["metadata"]["name"]):
        statuses = pod.get("status", {}).get("containerStatuses") or []
        ready = sum(1 for s in statuses if s.get("ready"))
        restarts = sum(int(s.get("restartCount", 0)) for s in statuses)
        reason = ""
        for s in statuses:
            waiting = (s.get("state") or {}).get("waiting")
            if waiting:
                reason = waiting.get("reason", "")
        lines.append(
            f"  {safe(pod['metadata']['name'])}  rev {view.pod_revision(pod) or '?'}  "
            f"{pod.get('status', {}).get('phase', '?')}  {ready}/{len(statuses)}  "
            f"{restarts}  {safe(reason)}"
        )
    lines += ["", "[b]Recent events[/b]"]
    for event in view.events[-12:]:
        when = parse_time(
            event.get("lastTimestamp") or event.get("metadata", {}).get("creationTimestamp")
        )
        lines.append(
            f"  {format_age(when)} ago  {safe(str(event.get('reason', '')))}: "
            f"{safe(str(event.get('message', '')))}"
        )
    return "\n".join(lines)


class RolloutDetailScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    RolloutDetailScreen {
        align: center middle;
    }
    RolloutDetailScreen > VerticalScroll {
        width: 95%;
        max-width: 140;
        height: 90%;
        border: thick $primary;
        background: $panel;
        padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape,q", "close", "Close", tooltip="Back to the cockpit", id="rollout_detail.close"
        ),
        Binding(
            "ctrl+z",
            "pick('rollback')",
            "Roll back",
            tooltip="Roll this deployment back",
            id="rollout_detail.rollback",
        ),
    ]

    def __init__(self, view: DeploymentView) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Deployment"
            yield Static(describe(self.view), id="rollout-detail-body")

    def action_close(self) -> None:
        self.dismiss(None)

    def action_pick(self, action: str) -> None:
        self.dismiss(action)
