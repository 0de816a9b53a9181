"""A workload in depth, live: kubectl's verdict, pod trouble, history, pods, recent events.

The screen follows the snapshots the rollout pane gets (the app hands it each redraw), so
restarts climb and events arrive while it is open; the scroll position and the selected pod
stay where the operator left them. It reads only the parts every workload view has (name,
pods, events, history rows, trouble, verdict), so it serves any kind of workload. `l` (or
enter) on a pod opens its logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.message import Message
from textual.widgets import DataTable, Static

from cockpit.rollout import JSON, PodState, format_age, parse_time, pod_state
from cockpit.sources.kube import KIND_TITLE, ClusterSnapshot, DeploymentView
from cockpit.text import visible_text
from cockpit.tui.bindings import bindings_of
from cockpit.tui.plain import safe
from cockpit.tui.registry import RETRY_KEY, WORKLOAD_DETAIL, Place, key_of
from cockpit.tui.screens.frame import DetailScreen
from cockpit.tui.themes import theme_variables
from cockpit.tui.widgets.footer import CockpitFooter
from cockpit.tui.widgets.rollout import RolloutTable

# Narrow screens keep what says why a pod is down (waiting reason first); wide ones add where
# and since when.
POD_COLUMNS = ("Pod", "Rev", "Ready", "Restarts", "Waiting", "Last termination")
POD_COLUMNS_WIDE = (
    "Pod",
    "Rev",
    "Phase",
    "Ready",
    "Restarts",
    "Last termination",
    "Waiting",
    "Node",
    "Age",
)
EVENTS_SHOWN = 20


def same_workload(a: DeploymentView, b: DeploymentView) -> bool:
    """The same object of the same cluster."""
    return (a.cluster, a.namespace, a.name, a.kind) == (b.cluster, b.namespace, b.name, b.kind)


def describe_head(
    view: DeploymentView, snapshot: ClusterSnapshot | None, retry_key: str = RETRY_KEY
) -> str:
    """Verdict, trouble and freshness: markup of ours around outside text made safe."""
    kind = KIND_TITLE.get(view.kind, view.kind)
    title = f"{safe(kind)} " if kind else ""
    lines = [
        f"{title}[b]{safe(view.name)}[/b]  cluster {safe(view.cluster)} / {safe(view.namespace)}"
    ]
    if snapshot is not None and not snapshot.connected:
        age = snapshot.stale_for()
        since = f"for {int(age)}s" if age is not None else "never reached"
        lines.append(
            f"[b $warning]STALE {since}[/]: {safe(snapshot.last_error or '')} "
            f"— what follows is the last seen ({retry_key}: retry now)"
        )
    if not view.found:
        lines.append(safe(view.verdict.message) if view.unknown else "not found in the cluster")
        return "\n".join(lines)
    lines.append(f"kubectl rollout status: {safe(view.verdict.message)}")
    for trouble in view.trouble:
        state = "pod trouble" if trouble.failing() else "pod waiting"
        lines.append(f"[b $error]{state}[/]: {safe(str(trouble))}")
    if view.paused:
        lines.append("[b]paused[/b]: the controller does not roll out until resumed")
    return "\n".join(lines)


def describe_history(view: DeploymentView, now: datetime) -> str:
    lines = ["[b]History[/b]  (revision, images, change-cause, age, ready/replicas)"]
    for row in reversed(view.history):
        marker = "→" if row.current else " "
        cause = f"  {safe(row.change_cause)}" if row.change_cause else ""
        lines.append(
            f" {marker} {row.revision:>3}  {safe(', '.join(row.images))}{cause}  "
            f"{row.age(now)}  {row.ready}/{row.replicas}"
        )
    if not view.history:
        lines.append("  none")
    return "\n".join(lines)


def _event_time(event: JSON) -> datetime | None:
    return parse_time(
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event.get("metadata", {}).get("creationTimestamp")
    )


def describe_events(view: DeploymentView, now: datetime) -> str:
    """Warnings first, each marked; newest first within each."""
    events = sorted(
        view.events,
        key=lambda e: (
            e.get("type") == "Warning",
            _event_time(e) or datetime.min.replace(tzinfo=UTC),
        ),
        reverse=True,
    )[:EVENTS_SHOWN]
    lines = [
        f"[b]Recent events[/b]  ({len(view.events)} of the workload, its revisions and its "
        "pods; warnings first)"
    ]
    for event in events:
        warning = event.get("type") == "Warning"
        mark = "[b $error]Warning[/]" if warning else "Normal "
        involved = event.get("involvedObject") or {}
        what = f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '?')}"
        count = int(event.get("count") or 1)
        times = f" ×{count}" if count > 1 else ""
        lines.append(
            f"  {mark} {format_age(_event_time(event), now):>4}  "
            f"{safe(str(event.get('reason', '')))}{times}  {safe(what)}: "
            f"{safe(str(event.get('message', '')))}"
        )
    if not events:
        lines.append("  none")
    return "\n".join(lines)


def revision_of_pod(view: DeploymentView, pod: JSON) -> str:
    """The revision the pod runs, as the workload's own rules tell it (ReplicaSet owner, or a
    StatefulSet's / DaemonSet's controller-revision-hash)."""
    revision = view.pod_revision(pod)
    return "?" if revision is None else str(revision)


class PodTable(DataTable[Text]):
    """The workload's pods, one row each, keyed by pod name (so the cursor stays on its pod).

    The table is as tall as its pods and the screen scrolls, not the table: when the operator
    moves the cursor, the screen scrolls to keep its row in sight. Updates from the cluster
    move nothing (the screen stays where the operator left it)."""

    DEFAULT_CSS = """
    PodTable {
        height: auto;
        max-height: 100%;
        margin: 1 0;
    }
    """

    def _reveal_cursor(self) -> None:
        container = self.parent
        if isinstance(container, VerticalScroll):
            row_y = self.virtual_region.y + 1 + self.cursor_row  # below the header
            container.scroll_to_region(Region(0, row_y, 1, 1), animate=False, immediate=True)

    def action_cursor_up(self) -> None:
        super().action_cursor_up()
        self.call_after_refresh(self._reveal_cursor)

    def action_cursor_down(self) -> None:
        super().action_cursor_down()
        self.call_after_refresh(self._reveal_cursor)

    def action_page_up(self) -> None:
        super().action_page_up()
        self.call_after_refresh(self._reveal_cursor)

    def action_page_down(self) -> None:
        super().action_page_down()
        self.call_after_refresh(self._reveal_cursor)


SHOWN_PARTS = ("#rd-scroll", "#rd-head", "#rd-history", "#rd-pods", "#rd-events")


class RolloutDetailScreen(DetailScreen[RolloutTable.RollbackRequested]):
    """Dismisses with the rollback the operator asked for here (ctrl+z), which the app handles
    as ctrl+z in the rollout pane; None when closed."""

    DEFAULT_CSS = """
    RolloutDetailScreen #rd-history, RolloutDetailScreen #rd-events {
        margin: 1 0 0 0;
    }
    """
    PLACE: ClassVar[Place] = WORKLOAD_DETAIL
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    def __init__(self, view: DeploymentView, snapshot: ClusterSnapshot | None = None) -> None:
        super().__init__()
        self.view = view
        self.snapshot = snapshot
        self._rows: dict[str, tuple[tuple[str, str], ...]] = {}
        self._columns: tuple[str, ...] = ()
        self._shown: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="rd-scroll", classes="frame") as scroll:
            scroll.border_title = KIND_TITLE.get(self.view.kind, self.view.kind)
            yield Static(id="rd-head")
            yield Static(id="rd-history")
            yield PodTable(cursor_type="row", zebra_stripes=False, id="rd-pods")
            yield Static(id="rd-events")
        yield CockpitFooter(compact=True)

    def on_mount(self) -> None:
        self._show()
        # the keys move through the pods; the screen opens at its top (verdict, trouble)
        self.set_focus(self.query_one(PodTable), scroll_visible=False)
        self.set_interval(5.0, self._show)  # ages and stale-for move on between snapshots

    # --- following the cluster -----------------------------------------------------------------

    def follow(
        self, views: Iterable[DeploymentView], snapshots: Mapping[str, ClusterSnapshot]
    ) -> None:
        """New snapshots arrived (the app calls this after each rollout pane redraw)."""
        snapshot = snapshots.get(self.view.cluster)
        found = next((v for v in views if same_workload(v, self.view)), None)
        if found is self.view and snapshot is self.snapshot:
            return
        if found is not None:
            self.view = found
        self.snapshot = snapshot
        self._show()

    def _show(self) -> None:
        if not all(self.query(part) for part in SHOWN_PARTS):
            # a snapshot came before the screen was built (or after it closed): the frame can
            # be there before its parts are (a fresh Debian root's run met #rd-head missing)
            return
        now = datetime.now(UTC)
        view = self.view
        live = self.snapshot is None or self.snapshot.connected
        self.subtitle = "live" if live else "STALE"
        for part, text in (
            ("#rd-head", describe_head(view, self.snapshot, self._retry_key())),
            ("#rd-history", describe_history(view, now)),
            ("#rd-events", describe_events(view, now)),
        ):
            if self._shown.get(part) != text:  # a busy cluster sends many identical updates
                self._shown[part] = text
                self.query_one(part, Static).update(text)
        self._show_pods(now)

    def _retry_key(self) -> str:
        """The retry key as this operator has it (a `[keys]` remap moves it)."""
        session = getattr(self.app, "session", None)
        return key_of(
            session.config.model.keys if session is not None else None, "app.retry_clusters"
        )

    def _colour(self, variable: str) -> str:
        return theme_variables(self.app).get(variable, "")

    def _pod_row(self, pod: JSON, state: PodState, now: datetime) -> tuple[tuple[str, str], ...]:
        troubled = {t.pod for t in self.view.trouble}
        bad = f"bold {self._colour('error')}"
        cells = {
            "Pod": (state.name, "bold" if state.name in troubled else ""),
            "Rev": (revision_of_pod(self.view, pod), ""),
            "Phase": (state.phase, "" if state.phase == "Running" else self._colour("warning")),
            "Ready": (state.ready, ""),
            "Restarts": (str(state.restarts), bad if state.restarts else ""),
            "Last termination": (
                state.last_termination or "-",
                bad if state.last_termination else "",
            ),
            "Waiting": (state.waiting or "-", bad if state.waiting else ""),
            "Node": (state.node or "-", ""),
            "Age": (format_age(state.created, now), ""),
        }
        return tuple(cells[column] for column in self._columns)

    def _show_pods(self, now: datetime) -> None:
        table = self.query_one(PodTable)
        columns = POD_COLUMNS_WIDE if self.app.size.width >= 120 else POD_COLUMNS
        if columns != self._columns:
            self._columns = columns
            table.clear(columns=True)
            for label in columns:
                table.add_column(label, key=label)
            self._rows = {}
        pods = sorted(self.view.pods, key=lambda p: str(p.get("metadata", {}).get("name", "")))
        rows = {}
        for pod in pods:
            state = pod_state(pod)
            rows[state.name] = self._pod_row(pod, state, now)
        if list(rows) != list(self._rows):
            selected = self.selected_pod_name()
            cursor = table.cursor_row
            table.clear()
            for key, row in rows.items():
                table.add_row(*(Text(visible_text(t), style=s) for t, s in row), key=key)
            if rows:
                keys = list(rows)
                table.move_cursor(
                    row=keys.index(selected)
                    if selected in rows
                    else min(max(cursor, 0), len(keys) - 1),
                    scroll=False,
                )
        else:
            for key, row in rows.items():
                before = self._rows[key]
                for column, cell in enumerate(row):
                    if cell != before[column]:
                        table.update_cell(
                            key,
                            columns[column],
                            Text(visible_text(cell[0]), style=cell[1]),
                            update_width=True,
                        )
        self._rows = rows

    def selected_pod_name(self) -> str | None:
        table = self.query_one(PodTable)
        keys = list(self._rows)
        if not keys or not 0 <= table.cursor_row < len(keys):
            return None
        return keys[table.cursor_row]

    def selected_pod(self) -> JSON | None:
        name = self.selected_pod_name()
        return next((p for p in self.view.pods if p.get("metadata", {}).get("name") == name), None)

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        message.stop()
        self.action_logs()

    # --- actions -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "logs":
            return True if self.view.pods else None
        return True

    def action_logs(self) -> None:
        pod = self.selected_pod()
        if pod is None:
            self.notify("No pod to show the logs of.", severity="warning")
            return
        self.post_message(self.OpenLogs(self.view, pod))

    def action_rollback(self) -> None:
        self.dismiss(RolloutTable.RollbackRequested(self.view))

    class OpenLogs(Message):
        """The operator asks for a pod's logs; the app opens the log view."""

        def __init__(self, view: DeploymentView, pod: JSON) -> None:
            super().__init__()
            self.view = view
            self.pod = pod


__all__ = ["RolloutDetailScreen", "describe_events", "describe_head", "same_workload"]
