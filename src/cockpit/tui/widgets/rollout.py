"""The rollout pane: a row per workload per cluster, kubectl's verdict and pod trouble."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import var
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from cockpit.rollout import format_age, image_tags
from cockpit.session import GoLiveSession
from cockpit.sources.kube import SHORT_KIND, ClusterSnapshot, DeploymentView
from cockpit.text import visible_text
from cockpit.tui.bindings import bindings_of
from cockpit.tui.registry import ROLLOUT, Place, key_of
from cockpit.tui.themes import theme_variables
from cockpit.tui.throttle import Throttle
from cockpit.tui.widgets.shown import ShownText, Subtitled, as_text, show_text

STATUS_LINES = 4  # verdict messages and pod trouble under the table
STATUS_LINES_COMPACT = 2  # when the rows take two lines each, the pane is narrow and short
REDRAW_INTERVAL = 0.25  # seconds between redraws while snapshots keep coming
# Columns on one line per workload, widest first; the first that fits the pane is taken.
# Name, kind, verdict, revision, ready/desired and the tag are in every layout; the image's
# registry path only in the detail (it pushed the tag out of sight at 160 columns).
LAYOUTS = (
    ("Workload", "Kind", "Verdict", "Rev", "Ready", "Upd", "Tag", "Age"),
    ("Workload", "Kind", "Verdict", "Rev", "Ready", "Tag", "Age"),
    ("Workload", "Kind", "Verdict", "Rev", "Ready", "Tag"),
)
COMPACT = ("Workload", "Verdict")  # two lines per workload, for a narrow pane
VERDICT_STYLE = {"complete": "success", "progressing": "accent", "waiting": "warning"}


class RolloutTable(DataTable[Text]):
    PLACE: ClassVar[Place] = ROLLOUT
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    # One message per intent, each with its own handler in the app (no action strings).

    class WorkloadIntent(Message):
        """The operator asked for something about a workload (never posted itself)."""

        def __init__(self, view: DeploymentView) -> None:
            super().__init__()
            self.view = view

    class OpenDetail(WorkloadIntent):
        """Open the workload's detail."""

    class RollbackRequested(WorkloadIntent):
        """Open the rollback preview of the workload."""

    class PauseRequested(WorkloadIntent):
        """Ask to pause the workload's rollout, or resume it when paused."""

    def selected_view(self) -> DeploymentView | None:
        pane = self.parent
        if not isinstance(pane, RolloutPane) or self.row_count == 0:
            return None
        keys = list(pane.views)
        if not 0 <= self.cursor_row < len(keys):
            return None
        return pane.views[keys[self.cursor_row]]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("rollback", "toggle_pause"):
            pane = self.parent
            if isinstance(pane, RolloutPane) and pane.session.read_only:
                return None
            view = self.selected_view()
            return True if view is not None and view.found else None
        if action == "open_detail":
            return True if self.selected_view() is not None else None
        return True

    def refusal(self, action: str) -> str | None:
        """Why ctrl+z, p or enter do nothing on this row (the app shows it)."""
        pane = self.parent
        read_only = isinstance(pane, RolloutPane) and pane.session.read_only
        if action in ("rollback", "toggle_pause") and read_only:
            return "Read-only: this cockpit cannot change workloads (started with --read-only)."
        view = self.selected_view()
        if view is None:
            return "No workload selected."
        if not view.found:
            return f"{view.label}: not seen in cluster {view.cluster} yet ({view.verdict.message})."
        return None

    def _intent(self, intent: type[WorkloadIntent]) -> None:
        view = self.selected_view()
        if view is not None:
            self.post_message(intent(view))

    def action_open_detail(self) -> None:
        self._intent(self.OpenDetail)

    def action_rollback(self) -> None:
        self._intent(self.RollbackRequested)

    def action_toggle_pause(self) -> None:
        self._intent(self.PauseRequested)


class RolloutPane(Subtitled, Vertical):
    """Fed by ClusterWatcher snapshots; keeps the last rows when a cluster goes away."""

    DEFAULT_CSS = """
    RolloutPane > RolloutTable {
        height: 1fr;
        background: $surface;
    }
    RolloutPane > #rollout-status {
        height: auto;
        max-height: 4;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        color: $text-muted;
    }
    RolloutPane.-not-configured > #rollout-status {
        text-wrap: wrap;
        max-height: 100%;
    }
    RolloutPane.-stale > RolloutTable {
        opacity: 0.6;
    }
    RolloutPane.-stale > #rollout-status {
        color: $warning;
    }
    """

    class Snapshot(Message):
        def __init__(self, snapshot: ClusterSnapshot) -> None:
            super().__init__()
            self.snapshot = snapshot

    # What keys depend on (check_action decides): the workloads found (ctrl+z, p) and the
    # clusters in trouble (the app's retry key).
    found: var[frozenset[tuple[str, str]]] = var(frozenset(), init=False)
    in_trouble: var[tuple[str, ...]] = var((), init=False)

    def watch_found(self) -> None:
        self.app.refresh_bindings()

    def watch_in_trouble(self) -> None:
        # the footer of the screen on top: the workload detail's shows the retry key too
        self.app.refresh_bindings()

    def __init__(self, session: GoLiveSession, **kwargs: str) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.session = session
        self.snapshots: dict[str, ClusterSnapshot] = {}
        self.views: dict[tuple[str, str], DeploymentView] = {}
        self._rows: dict[str, tuple[tuple[str, str], ...]] = {}
        self._columns: tuple[str, ...] = ()
        self._redraw_soon = Throttle(self, REDRAW_INTERVAL, self._redraw_now)
        # classes before mounting: one set later restyles the pane and its table again
        self.set_class(not session.environment.clusters, "-not-configured", update=False)

    def compose(self) -> ComposeResult:
        table = RolloutTable(cursor_type="row", zebra_stripes=False)
        configured = bool(self.session.environment.clusters)
        table.display = configured
        yield table
        status = (
            ""
            if configured
            else f"No clusters configured for {self.session.env_name}.\n"
            "See clusters in docs/CONFIG.md."
        )
        yield ShownText(as_text(status), id="rollout-status")  # the name: no markup

    def on_mount(self) -> None:
        self.border_title = "Rollout"
        clusters = self.session.environment.clusters
        if not clusters:
            self.subtitle = "not configured"
            return
        for cluster in clusters:
            for ref in cluster.targets:
                self.views[(cluster.name, ref.name)] = DeploymentView(
                    cluster.name, cluster.namespace, ref.name, None, kind=ref.kind
                )
        self.subtitle = "connecting"
        self._redraw()
        self.set_interval(1.0, self._tick)

    class Redrawn(Message):
        """The pane shows new snapshots: the verdict can be recomputed."""

    def on_rollout_pane_snapshot(self, message: Snapshot) -> None:
        """Keep the snapshot; redraw now, or within REDRAW_INTERVAL when busy.

        Three busy clusters send up to ten snapshots a second each; redrawing the table and
        recomputing the verdict for every one would take the frame time keys need.
        """
        message.stop()
        snapshot = message.snapshot
        self.snapshots[snapshot.cluster] = snapshot
        if snapshot.synced:
            for view in snapshot.deployments:
                self.views[(view.cluster, view.name)] = view
        self._redraw_soon()

    def _redraw_now(self) -> None:
        self._redraw()
        self.post_message(self.Redrawn())

    def _tick(self) -> None:
        self._redraw_status()

    def _colour(self, variable: str) -> str:
        return theme_variables(self.app).get(variable, "")

    def _cells(self, view: DeploymentView, now: datetime) -> dict[str, tuple[str, str]]:
        """Every field a row can show, as (text, style), by column name."""
        verdict = view.verdict
        trouble = [t for t in view.trouble if t.failing()]
        waiting = len(trouble) < len(view.trouble)  # unschedulable, within its grace
        if trouble or verdict.state == "failed":
            state, variable = ("FAILING" if trouble else "FAILED"), "error"
        elif waiting:
            state, variable = "waiting", "warning"  # the trouble line below says for what
        elif not view.found and view.unknown:
            state, variable = "unknown", "warning"  # the message says why it cannot be seen
        elif not view.found:
            synced = self.snapshots.get(view.cluster)
            if synced is not None and synced.synced:
                state, variable = "missing", "warning"
            else:
                state, variable = "waiting", "foreground-muted"
        else:
            state, variable = verdict.state, VERDICT_STYLE.get(verdict.state, "foreground")
        if view.kind == "rollout" and view.found and not trouble:
            # Argo's own phase, and its canary step: the controller, not kubectl, judges it
            phase = str((view.deployment or {}).get("status", {}).get("phase") or state)
            step = view.step
            phase = phase.upper() if verdict.state == "failed" else phase.lower()  # as FAILED
            state = phase + (f" {step[0]}/{step[1]}" if step else "")
        if view.paused:
            state += " (paused)"
        tag = image_tags(view.images) or "-"
        old = image_tags(view.old_images)
        if old:
            tag += " ← " + old
        desired, updated, ready, _available = view.counts
        found = view.found
        return {
            "Workload": (view.name, "bold"),
            "Kind": (SHORT_KIND[view.kind], ""),
            "Verdict": (state, f"bold {self._colour(variable)}"),
            "Rev": (str(view.revision or "-"), ""),
            "Ready": (f"{ready}/{desired}" if found else "-", ""),
            "Upd": (str(updated) if found else "-", ""),
            "Tag": (tag, "bold"),
            "Age": (format_age(view.last_change, now) if found else "-", ""),
            "Cluster": (view.cluster, ""),
        }

    def _layout(self, cells: list[dict[str, tuple[str, str]]]) -> tuple[str, ...]:
        """The widest set of columns that fits the pane on one line per workload; when even
        the essential ones do not, two lines per workload (COMPACT)."""
        # two columns for the vertical scroll bar, should the pane reach its max-height
        room = (self.content_size.width or self.app.size.width) - 2
        several = len(self.session.environment.clusters) > 1
        for layout in LAYOUTS:
            columns = (*layout, "Cluster") if several else layout
            needed = sum(
                max([cell_len(column)] + [cell_len(c[column][0]) for c in cells]) + 2
                for column in columns
            )
            if needed <= room:
                return columns
        return COMPACT

    def _compact(self, cells: dict[str, tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        """Two lines: name and verdict; kind, revision, ready/desired and the tag."""
        about = f"{cells['Kind'][0]} r{cells['Rev'][0]} {cells['Ready'][0]}"
        if len(self.session.environment.clusters) > 1:
            about += f" @{cells['Cluster'][0]}"
        name, verdict, tag = cells["Workload"], cells["Verdict"], cells["Tag"]
        return ((f"{name[0]}\n{about}", ""), (f"{verdict[0]}\n{tag[0]}", verdict[1]))

    def _text(self, text: str, style: str, compact: bool) -> Text:
        if not compact:
            return Text(visible_text(text), style=style)
        first, _, second = text.partition("\n")
        # the first line carries the style (name bold, verdict coloured); the second is plain
        out = Text(visible_text(first), style=style or "bold")
        out.append("\n" + visible_text(second), style="")
        return out

    def _redraw(self) -> None:
        """Update the cells that changed; rebuild only when the rows or the columns changed.

        A busy cluster sends a snapshot every few hundred milliseconds: rebuilding a 100-row
        table each time would cost more than the frame budget of the keys being pressed.
        """
        table = self.query_one(RolloutTable)
        now = datetime.now(UTC)
        cells = {
            f"{cluster}/{name}": self._cells(view, now)
            for (cluster, name), view in self.views.items()
        }
        columns = self._layout(list(cells.values()))
        compact = columns == COMPACT
        rows = {
            key: self._compact(c) if compact else tuple(c[column] for column in columns)
            for key, c in cells.items()
        }
        if columns != self._columns or list(rows) != list(self._rows):
            cursor = table.cursor_row
            table.clear(columns=columns != self._columns)
            if columns != self._columns:
                self._columns = columns
                table.show_header = not compact
                for label in columns:
                    table.add_column(label, key=label)
            for key, row in rows.items():
                table.add_row(
                    *(self._text(text, style, compact) for text, style in row),
                    key=key,
                    height=2 if compact else 1,
                )
            if table.row_count:
                table.move_cursor(row=min(cursor, table.row_count - 1))
        else:
            for key, row in rows.items():
                before = self._rows[key]
                for column, cell in enumerate(row):
                    if cell != before[column]:
                        # widening a column re-lays-out the pane: only when the text needs it
                        width = table.columns[ColumnKey(columns[column])].content_width
                        wider = max(cell_len(line) for line in cell[0].split("\n")) > width
                        table.update_cell(
                            key,
                            columns[column],
                            self._text(cell[0], cell[1], compact),
                            update_width=wider,
                        )
        self._rows = rows
        self.found = frozenset(key for key, view in self.views.items() if view.found)
        self._redraw_status()

    def on_resize(self) -> None:
        """A wider or narrower terminal may take other columns."""
        if self.views:
            self._redraw()

    def clusters_in_trouble(self) -> tuple[str, ...]:
        """Clusters that cannot be seen, or not all of it (STALE, never reached, a kind
        refused): those the retry key is for."""
        return tuple(
            name
            for name, snapshot in self.snapshots.items()
            if not snapshot.connected or snapshot.last_error
        )

    def _retry_key(self) -> str:
        """The retry key as this operator has it (a keymap in the config may move it)."""
        return key_of(self.session.config.model.keys, "app.retry_clusters")

    def _redraw_status(self) -> None:
        lines: list[str] = []
        stale = False
        now = datetime.now(UTC)
        for cluster in self.session.environment.clusters:
            snapshot = self.snapshots.get(cluster.name)
            if snapshot is None:
                lines.append(f"{cluster.name}: connecting…")
                continue
            if not snapshot.connected:
                stale = True
                age = snapshot.stale_for(now)
                since = f"stale for {int(age)}s" if age is not None else "never reached"
                # the key first: a plugin's message is long, and the line ends in "…"
                lines.append(
                    f"{cluster.name}: {since} ({self._retry_key()}: retry now) — "
                    f"{snapshot.last_error}"
                )
        moving: list[DeploymentView] = []
        for view in self.views.values():
            for trouble in view.trouble[:2]:
                lines.append(f"{view.name}: {trouble}")
            if view.found and view.verdict.state in ("progressing", "waiting", "failed"):
                moving.append(view)
        if len(moving) == 1:
            lines.append(moving[0].verdict.message)
        elif moving:
            names = ", ".join(v.name for v in moving[:3]) + (", …" if len(moving) > 3 else "")
            lines.append(f"{len(moving)} rolling out: {names} (Enter on a row for details)")
        self.set_class(stale, "-stale")
        self.in_trouble = self.clusters_in_trouble()
        self.subtitle = "STALE" if stale else ("live" if self.snapshots else "connecting")
        shown = lines[: STATUS_LINES_COMPACT if self._columns == COMPACT else STATUS_LINES]
        status = self.query_one("#rollout-status", ShownText)
        show_text(status, "\n".join(shown))
        status.display = bool(shown)  # an empty line would cost a workload's row
        self._fit_height(len(shown))

    def _fit_height(self, status_lines: int) -> None:
        """As tall as its rows and status need, so every workload shows while the metrics
        and errors panes keep the rest; CSS max-height caps it and the table scrolls."""
        table = self.query_one(RolloutTable)
        rows = sum(2 if self._columns == COMPACT else 1 for _ in self._rows)
        height = rows + (1 if table.show_header else 0) + status_lines + 2  # + the border
        if self.styles.height is None or self.styles.height.value != height:
            self.styles.height = height
