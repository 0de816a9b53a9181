"""A pod's logs, one key from the workload detail: followed, searchable, bounded, plain.

The current container is followed as `kubectl logs -f` does (and again after each restart);
`p` shows the previous container's last lines instead (`--previous`: what the crashed run
said before it died); `c` goes through the pod's containers, init containers first. Lines are
outside text: control characters made visible, never markup, never sent to the terminal.
The buffer keeps the last BUFFER_LINES lines and says how many older ones it dropped. What
goes wrong (403 on pods/log, the pod gone, the container not started yet, the network) is a
stated line, and the follower retries or ends as the notice says.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from cockpit.rollout import JSON, pod_state
from cockpit.session import GoLiveSession
from cockpit.sources.kube import DeploymentView
from cockpit.sources.pod_logs import LogEvent, LogNotice, PodLogFollower
from cockpit.text import visible_text
from cockpit.tui.bindings import bindings_of
from cockpit.tui.plain import safe
from cockpit.tui.registry import POD_LOGS, Place
from cockpit.tui.screens.frame import DetailScreen
from cockpit.tui.widgets.footer import CockpitFooter
from cockpit.tui.widgets.log_lines import BUFFER_LINES, LogLines

DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container"


def default_container(pod: JSON) -> str:
    """kubectl's choice (its annotation, else the first container), unless a container is in
    trouble: a crash-looping init container is the one whose log explains the pod."""
    state = pod_state(pod)
    annotated = (pod.get("metadata", {}).get("annotations") or {}).get(DEFAULT_CONTAINER)
    if annotated in state.containers:
        return str(annotated)
    if state.troubled_container in state.containers:
        return str(state.troubled_container)
    regular = [c for c in state.containers if c not in state.init_containers]
    return (regular or list(state.containers) or [""])[0]


class PodLogScreen(DetailScreen[None]):
    DEFAULT_CSS = """
    PodLogScreen #log-head {
        height: auto;
        padding: 0 1;
    }
    PodLogScreen LogLines {
        height: 1fr;
    }
    PodLogScreen #log-status {
        height: auto;
        max-height: 2;
        padding: 0 1;
        color: $text-muted;
    }
    PodLogScreen #log-status.-problem {
        color: $warning;
        text-style: bold;
    }
    PodLogScreen #log-search {
        display: none;
    }
    """
    PLACE: ClassVar[Place] = POD_LOGS
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    class Got(Message):
        """Lines or a notice from the follower thread."""

        def __init__(self, follower: PodLogFollower, event: LogEvent) -> None:
            super().__init__()
            self.follower = follower
            self.event = event

    def __init__(
        self,
        session: GoLiveSession,
        view: DeploymentView,
        pod: JSON,
        *,
        container: str | None = None,
        previous: bool = False,
        start: bool = True,
    ) -> None:
        super().__init__()
        self.session = session
        self.view = view
        self.pod = pod
        self.pod_name = str(pod.get("metadata", {}).get("name", "?"))
        self.containers = pod_state(pod).containers
        self.init_containers = pod_state(pod).init_containers
        self.container = container or default_container(pod)
        self.previous = previous
        self.start = start  # False in picture tests: lines are added by hand
        self.follower: PodLogFollower | None = None
        self.notice = LogNotice("connecting…")

    def compose(self) -> ComposeResult:
        with Vertical(id="log-frame", classes="frame") as frame:
            frame.border_title = f"Logs · pod {visible_text(self.pod_name)}"
            yield Static(id="log-head")
            yield LogLines(limit=BUFFER_LINES, id="log-lines")
            yield Static(id="log-status")
            yield Input(placeholder="search: type, enter finds; escape closes", id="log-search")
        yield CockpitFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one(LogLines).focus()
        self._open()

    def on_unmount(self) -> None:
        self._stop()

    # --- the stream ----------------------------------------------------------------------------

    def _stop(self) -> None:
        if self.follower is not None:
            self.follower.stop()
            self.follower = None

    def _open(self) -> None:
        """(Re)open the log of the chosen container and run; the old follower stops."""
        self._stop()
        self.query_one(LogLines).reset()
        self._show_head()
        if not self.start:
            self._show_status()
            return
        try:
            cluster = self.session.cluster(self.view.cluster)
        except Exception as exc:  # noqa: BLE001 - a CockpitError: stated in the view
            self.notice = LogNotice(str(exc), problem=True, ended=True)
            self._show_status()
            return
        self.follower = PodLogFollower(
            cluster,
            self.session.config,
            self.view.namespace,
            self.pod_name,
            self.container,
            previous=self.previous,
        )
        self.notice = LogNotice(f"connecting to {self.follower.what}…")
        self._show_status()
        self._follow(self.follower)

    @work(thread=True, group="pod-log", exit_on_error=False)
    def _follow(self, follower: PodLogFollower) -> None:
        try:
            follower.run(lambda event: self.post_message(self.Got(follower, event)))
        except Exception as exc:  # noqa: BLE001 - a bug of ours: said in the view, no traceback
            said = LogNotice(f"the log view stopped: {type(exc).__name__}", True, ended=True)
            self.post_message(self.Got(follower, said))

    def on_pod_log_screen_got(self, message: Got) -> None:
        if message.follower is not self.follower:
            return  # from a stream already replaced
        event = message.event
        if isinstance(event, LogNotice):
            self.notice = event
        else:
            self.add_lines([(line.stamp, line.text) for line in event])
        self._show_status()

    def add_lines(self, lines: list[tuple[str, str]]) -> None:
        """Outside text in: every control character made visible before it is kept."""
        self.query_one(LogLines).add(
            [(visible_text(stamp), visible_text(text)) for stamp, text in lines]
        )

    # --- what the screen says ------------------------------------------------------------------

    def _show_head(self) -> None:
        def name(container: str) -> str:
            label = f"init:{container}" if container in self.init_containers else container
            return f"[b]{safe(label)}[/b]" if container == self.container else safe(label)

        run = "previous (terminated) container" if self.previous else "current container"
        choice = ""
        if len(self.containers) > 1:
            choice = f"   containers (c): {' '.join(name(c) for c in self.containers)}"
        head = f"{run} [b]{safe(self.container)}[/b]{choice}"
        head += "\n[dim]p: current / previous   /: search   n N: next / previous match[/]"
        self.query_one("#log-head", Static).update(head)

    def _show_status(self) -> None:
        lines = self.query_one(LogLines)
        parts = [self.notice.text]
        count = len(lines.entries)
        kept = f"{count:,} lines" if count != 1 else "1 line"
        if lines.dropped:
            kept += f" (the last {lines.limit:,}; {lines.dropped:,} older dropped)"
        parts.append(kept)
        if lines.search_text:
            found = lines.matches()
            where = f"line {lines.current + 1}" if lines.current is not None else "none"
            parts.append(f"search “{lines.search_text}”: {len(found)} lines match, at {where}")
        status = self.query_one("#log-status", Static)
        status.update(Text(visible_text("  ·  ".join(parts))), layout=False)
        status.set_class(self.notice.problem, "-problem")
        self.subtitle = "ended" if self.notice.ended else ("following" if self.follower else "")

    # --- keys ----------------------------------------------------------------------------------

    def action_close(self) -> None:
        search = self.query_one("#log-search", Input)
        if search.display:
            search.display = False
            self.query_one(LogLines).focus()
            return
        self._stop()
        self.dismiss(None)

    def action_toggle_previous(self) -> None:
        self.previous = not self.previous
        self._open()

    def action_next_container(self) -> None:
        if len(self.containers) < 2:
            self.notify("The pod has one container.", title="Logs")
            return
        at = self.containers.index(self.container) if self.container in self.containers else -1
        self.container = self.containers[(at + 1) % len(self.containers)]
        self._open()

    def action_search(self) -> None:
        search = self.query_one("#log-search", Input)
        search.display = True  # at once: a hidden widget cannot take the focus
        search.value = self.query_one(LogLines).search_text
        self.set_focus(search)  # now: keys typed right after / go to the search

    def on_input_submitted(self, message: Input.Submitted) -> None:
        message.stop()
        lines = self.query_one(LogLines)
        lines.search_text = message.value
        lines.current = None
        message.input.display = False
        lines.focus()
        if message.value and lines.find(True) is None:
            self.notify(f"“{message.value}” is not in the log.", title="Search")
        lines.refresh()
        self._show_status()

    def action_find(self, forward: bool) -> None:
        lines = self.query_one(LogLines)
        if not lines.search_text:
            self.action_search()
            return
        lines.find(forward)
        self._show_status()

    def action_toggle_stamps(self) -> None:
        lines = self.query_one(LogLines)
        lines.set_stamps(not lines.show_stamps)

    def _searching(self) -> bool:
        return bool(self.query_one("#log-search", Input).display)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self._searching() and action != "close":
            return False  # the keys are the search's text now, / included
        if action == "next_container":
            return True if len(self.containers) > 1 else None
        return True
