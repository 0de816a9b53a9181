"""The cockpit application: composition, bindings and routing of intents to the session."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.actions import ActionParseResult
from textual.actions import parse as parse_action
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.dom import DOMNode
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.reactive import var
from textual.screen import Screen
from textual.widget import Widget
from textual.worker import Worker, WorkerState

from cockpit import collector
from cockpit.analysis import RollbackTarget
from cockpit.board import LiveBoard
from cockpit.checklist import ChecklistItem, Section
from cockpit.errors import CockpitError
from cockpit.gates import Verdict
from cockpit.rollout import argo_refusal
from cockpit.session import GoLiveSession, ItemRunResult
from cockpit.sources.kube import DeploymentView
from cockpit.sources.lease import Presence
from cockpit.text import visible_text
from cockpit.tui.bindings import KeyRow, bindings_of, place_rows
from cockpit.tui.registry import (
    APP,
    CHECKLIST,
    PLACES,
    Place,
    commands_at,
    key_of,
    operator_keymap,
)
from cockpit.tui.state_thread import StateThread
from cockpit.tui.themes import ThemeCatalog
from cockpit.tui.throttle import LatestWins, Throttle
from cockpit.tui.widgets import messages
from cockpit.tui.widgets.banner import EnvironmentBanner
from cockpit.tui.widgets.checklist import ChecklistPane, ChecklistTree
from cockpit.tui.widgets.errors import ErrorsPane, ErrorTable
from cockpit.tui.widgets.footer import CockpitFooter
from cockpit.tui.widgets.messages import MessageLine, Notice
from cockpit.tui.widgets.metrics import MetricsPane
from cockpit.tui.widgets.rollout import RolloutPane, RolloutTable
from cockpit.tui.widgets.verdict import VerdictBar

if TYPE_CHECKING:  # the screens load when first opened: none is part of the first frame
    from cockpit.tui.screens.rollback import RollbackOutcome
    from cockpit.tui.screens.rollout_detail import RolloutDetailScreen

STATE_POLL_SECONDS = 2.0
RELABEL_LIMIT = 100  # items changed elsewhere relabelled one by one; more: everything


VERDICT_INTERVAL = 0.2  # seconds: source updates closer together share one verdict


class CockpitApp(App[None]):
    CSS_PATH = "cockpit.tcss"
    TITLE = "cockpit"
    ENABLE_COMMAND_PALETTE = True

    class ChecksChanged(Message):
        """A check or step run changed item states; redraw."""

    # B: a rollback is recommended (the verdict bar says so; B is not in the footer)
    recommended: var[bool] = var(False)
    # What the footer depends on: a change refreshes the bindings (check_action decides).
    runs_active: var[bool] = var(False, bindings=True)  # escape: checks or steps are running

    PLACE: ClassVar[Place] = APP
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    def __init__(
        self,
        session: GoLiveSession,
        *,
        catalog: ThemeCatalog | None = None,
        state_poll_seconds: float = STATE_POLL_SECONDS,
        start_sources: bool = True,
    ) -> None:
        super().__init__()
        self.session = session
        self.catalog = catalog or ThemeCatalog.load(session.config)
        self.state_poll_seconds = state_poll_seconds
        self.exit_problem: str | None = None
        self.crashed: Exception | None = None  # a bug that closed the app (see cockpit run)
        self.start_sources = start_sources
        self._presence: Presence | None = None  # who else has this environment open
        # The board owns the watchers and the verdict; panes get its updates as messages.
        self.board = LiveBoard(
            session,
            on_cluster=lambda snapshot: self._to_pane(
                RolloutPane, ("cluster", snapshot.cluster), RolloutPane.Snapshot(snapshot)
            ),
            on_metric=lambda state: self._to_pane(
                MetricsPane, ("metric", state.metric.name), MetricsPane.Update(state)
            ),
            on_errors=lambda feed: self._to_pane(ErrorsPane, ("errors",), ErrorsPane.Update(feed)),
        )
        self._updates = LatestWins()
        self.verdict_now: Verdict | None = None
        # the latest notifications, for the `m` screen, and how many there were in all
        self.message_history: deque[Notice] = deque(maxlen=messages.HISTORY_KEPT)
        self.messages_told = 0
        # marks and the state poll: written and read off the UI thread, in order
        self._state_thread = StateThread()
        self._poll_queued = False
        # Every metric reports on its own: two dozen arrive together at each poll, and one
        # verdict for the lot is enough (keys pressed meanwhile are not kept waiting).
        self._request_verdict = Throttle(self, VERDICT_INTERVAL, self._refresh_verdict)
        for theme in self.catalog.themes.values():
            self.register_theme(theme)
        theme, fallback_message = self.catalog.pick(session.config.model.theme)
        self.theme = theme.name
        self._startup_messages = list(self.catalog.problems)
        if fallback_message:
            self._startup_messages.append(fallback_message)
        self.title = f"cockpit · {session.label}"

    def compose(self) -> ComposeResult:
        yield EnvironmentBanner(self.session, id="banner")
        yield VerdictBar(self.session, id="verdict")
        with Horizontal(id="panes"):
            yield ChecklistPane(self.session, id="checklist")
            with Vertical(id="side"):
                yield RolloutPane(self.session, id="rollout")
                yield MetricsPane(self.session, id="metrics")
                yield ErrorsPane(self.session, id="errors")
        yield MessageLine(id="message-line")
        yield CockpitFooter(compact=True)

    def on_mount(self) -> None:
        self.call_after_refresh(collector.settle)
        if not self.is_headless and sys.__stdin__ is not None and sys.__stdin__.isatty():
            from cockpit.tui import hangup

            hangup.watch(sys.__stdin__.fileno())  # a terminal gone without SIGHUP ends us too
        keymap = self.session.config.model.keys
        if keymap:
            self.set_keymap(operator_keymap(keymap))  # old ids under their new names
        try:
            self.session.begin()
        except CockpitError as exc:
            self._report(exc)
        bar = self.query_one(VerdictBar)
        bar.show(bar.verdict)  # the go-live clock starts with the entry begin() just wrote
        for message in self._startup_messages:
            self.notify(message, title="Theme", severity="warning", timeout=10)
        for notice in self.session.notices:
            self.notify(notice, title="State recovered", severity="warning", timeout=30)
        orphans = self.session.orphaned_records()
        if orphans:
            # a reworded item gets a new ID: its marks stay in the state under the old one
            shown = ", ".join(orphans[:3]) + (
                f" and {len(orphans) - 3} more" if orphans[3:] else ""
            )
            self.notify(
                f"{len(orphans)} item(s) marked earlier are no longer in the runbook (reworded? "
                f"their IDs changed): {shown}. Their marks are kept; `cockpit status` lists them.",
                title="Runbook changed",
                severity="warning",
                timeout=30,
            )
        self.query_one(ChecklistTree).focus()
        self.set_interval(self.state_poll_seconds, self._poll_state)
        self.set_interval(1.0, self._tick_countdown)
        if self.start_sources:
            self._start_sources()

    # --- sources -------------------------------------------------------------------------------

    class SourceUpdate(Message):
        """A source has a newer update for `pane` (taken from the mailbox when handled)."""

        def __init__(self, pane: type[Widget], key: Hashable) -> None:
            super().__init__()
            self.pane = pane
            self.key = key

    def _to_pane(self, pane: type[Widget], key: Hashable, message: Message) -> None:
        """From a watcher thread: the update waits in the mailbox, replacing an older one of
        the same source that the screen has not handled yet (latest wins)."""
        self._updates.post(key, message, lambda k: self.post_message(self.SourceUpdate(pane, k)))

    def on_cockpit_app_source_update(self, update: SourceUpdate) -> None:
        message = self._updates.take(update.key)
        if message is None:
            return
        try:
            self.query_one(update.pane).post_message(message)
        except NoMatches:  # the screen is gone (shutting down)
            return

    def _start_sources(self) -> None:
        self.board.start()
        for problem in self.board.problems:
            self._report(problem)
        self.board.problems.clear()
        presence = self.session.presence()
        if presence is not None:
            self._presence = presence
            presence.start(lambda others: self.call_from_thread(self._show_others, others))
        team = self.session.team
        if team is not None:  # colleagues' marks, and the store's reachability
            team.start(lambda: self.call_from_thread(self._team_update))
            self._team_update()

    def _team_update(self) -> None:
        """The shared progress changed (a colleague's mark, the store gone or back): redraw
        from the local copy, and say what happened, with who did it."""
        team = self.session.team
        if team is None or self._shutting_down():
            return
        self._poll_state()
        self.query_one(EnvironmentBanner).refresh_text()
        self._tell_team_news()

    def _tell_team_news(self) -> None:
        team = self.session.team
        for text in team.take_messages() if team is not None else ():
            unreachable = "unreachable" in text or "conflict" in text or "not shared" in text
            self.notify(text, title="Team", severity="warning" if unreachable else "information")

    def _show_others(self, others: list[str]) -> None:
        banner = self.query_one(EnvironmentBanner)
        banner.others = others
        banner.refresh_text()

    def on_errors_pane_update(self, _message: ErrorsPane.Update) -> None:
        self._request_verdict()

    def on_error_table_open(self, message: ErrorTable.Open) -> None:
        from cockpit.tui.screens.error_detail import ErrorDetailScreen

        self.push_screen(ErrorDetailScreen(message.issue))

    def on_metrics_pane_update(self, _message: MetricsPane.Update) -> None:
        self._request_verdict()

    def on_rollout_pane_redrawn(self, _message: RolloutPane.Redrawn) -> None:
        from cockpit.tui.screens.rollout_detail import RolloutDetailScreen

        self._request_verdict()
        if self._shutting_down():
            return  # a redraw that arrives while the screen goes away
        pane = self.query_one(RolloutPane)
        for screen in self.screen_stack:
            # an open detail follows the cluster; one still being composed shows it when mounted
            if isinstance(screen, RolloutDetailScreen) and screen.is_mounted:
                screen.follow(pane.views.values(), pane.snapshots)

    def on_rollout_detail_screen_open_logs(self, message: RolloutDetailScreen.OpenLogs) -> None:
        from cockpit.tui.screens.pod_logs import PodLogScreen

        self.push_screen(PodLogScreen(self.session, message.view, message.pod))

    def on_metrics_pane_open(self, message: MetricsPane.Open) -> None:
        from cockpit.tui.screens.metric_detail import MetricDetailScreen

        self.push_screen(MetricDetailScreen(message.state))

    def _shutting_down(self) -> bool:
        """A late message from a source after the screen is gone: nothing left to update."""
        if self._exit or not self.screen_stack:
            return True
        try:
            return not self.query_one(RolloutPane).is_attached
        except NoMatches:
            return True

    def _refresh_verdict(self) -> None:
        if self._shutting_down():
            return
        try:
            # the main screen's bar, whatever dialog is on top
            bar = self.screen_stack[0].query_one(VerdictBar)
        except (NoMatches, IndexError):  # not mounted yet, or being torn down
            return
        result = self.board.verdict()
        self.verdict_now = result
        run = self.board.analysis.current
        bar.show(
            result,
            self.session.release_version(self.board.views()),
            run.started if run is not None else None,
        )
        try:
            self.board.record(result)
        except CockpitError as exc:
            self._report(exc)
        for problem in self.board.problems:
            self._report(problem)
        self.board.problems.clear()
        if result.rollback_recommended and not self.recommended:
            self.bell()
            self.notify(
                f"The release analysis failed. Press {self._key_of('app.rollback_recommended')} "
                "to roll back to the last good revision.",
                title="ROLLBACK RECOMMENDED",
                severity="error",
                timeout=30,
            )
        if result.rollback_recommended and self.session.environment.auto_rollback:
            self._maybe_auto_rollback(result)
        self.recommended = result.rollback_recommended  # what B may do (check_action)

    def _target_view(self, target: RollbackTarget) -> DeploymentView | None:
        return self.query_one(RolloutPane).views.get((target.cluster, target.deployment))

    def action_rollback_recommended(self) -> None:
        from cockpit.tui.screens.rollback import RollbackScreen

        result = self.verdict_now
        if result is None or not result.targets:
            return
        target = result.targets[0]
        view = self._target_view(target)
        if view is None or self.session.read_only:
            return
        if len(result.targets) > 1:
            rest = ", ".join(t.deployment for t in result.targets[1:])
            self.notify(f"Also to roll back after this one: {rest}", title="Rollback", timeout=20)
        self.push_screen(
            RollbackScreen(self.session, view, target.revision, target.why), self._after_rollback
        )

    def _maybe_auto_rollback(self, result: Verdict) -> None:
        """At most one automatic rollback per failed run, only onto a revision that has not
        failed (the targets say which); a run whose targets are gone says why and stops."""
        run = self.board.analysis.current
        if self.session.read_only or run is None or run.id != result.run_id:
            return
        if not self.board.analysis.auto_rollback_due(run):
            return
        self.board.analysis.note_auto_rollback(run)
        self._auto_rollback(run.id, list(result.targets))

    @work(thread=True, exit_on_error=False, group="kube-action")
    def _auto_rollback(self, run_id: str, targets: list[RollbackTarget]) -> None:
        for target in targets:
            try:
                plan = self.session.rollback(
                    self.session.cluster(target.cluster),
                    target.deployment,
                    target.revision,
                    trigger="auto_rollback",
                    run=run_id,
                )
            except CockpitError as exc:
                self.call_from_thread(self._report, exc)
                continue
            self.call_from_thread(
                self.notify,
                f"AUTO-ROLLBACK: {target.deployment} back to revision {plan.target_revision} "
                f"({target.why}; auto_rollback = true in this environment)"
                + "".join(f"\n{m.warning(target.deployment)}" for m in plan.managed_by),
                title="AUTO-ROLLBACK",
                severity="error",
                timeout=60,
            )

    # --- intents from the rollout pane ---------------------------------------------------------

    def _picked(self, intent: Message | None) -> None:
        """A detail screen closed with an intent the operator picked there (d in the item
        detail, ctrl+z in the workload detail): it takes the route its key in the pane takes."""
        if intent is not None:
            self.post_message(intent)

    @on(RolloutTable.OpenDetail)
    def _open_workload_detail(self, intent: RolloutTable.OpenDetail) -> None:
        from cockpit.tui.screens.rollout_detail import RolloutDetailScreen

        snapshot = self.query_one(RolloutPane).snapshots.get(intent.view.cluster)
        self.push_screen(RolloutDetailScreen(intent.view, snapshot), self._picked)

    def _may_change(self, view: DeploymentView) -> bool:
        """Whether this cockpit may change the workload; when not, it says why."""
        if self.session.read_only:
            self.notify("Read-only: this cockpit cannot change deployments.", severity="warning")
            return False
        if view.read_only:  # an Argo Rollout: its controller rolls it back, not the cockpit
            self.notify(argo_refusal(view.name).message, title="Not changed", severity="warning")
            return False
        return True

    @on(RolloutTable.RollbackRequested)
    def _open_rollback(self, intent: RolloutTable.RollbackRequested) -> None:
        from cockpit.tui.screens.rollback import RollbackScreen

        if self._may_change(intent.view):
            self.push_screen(RollbackScreen(self.session, intent.view), self._after_rollback)

    @on(RolloutTable.PauseRequested)
    def _ask_to_pause(self, intent: RolloutTable.PauseRequested) -> None:
        from cockpit.tui.screens.confirm import ConfirmScreen

        view = intent.view
        if not self._may_change(view):
            return
        if view.kind != "deployment":
            self.notify(
                f"{view.label}: pausing is not supported (kubectl pauses Deployments only)",
                title="Not paused",
                severity="warning",
            )
            return
        verb = "Resume" if view.paused else "Pause"
        self.push_screen(
            ConfirmScreen(f"{verb} the rollout of {view.name} in cluster {view.cluster}?", verb),
            lambda yes: self._pause_confirmed(view, yes),
        )

    def _pause_confirmed(self, view: DeploymentView, yes: bool | None) -> None:
        if yes:
            self._toggle_pause(view)

    def _after_rollback(self, outcome: RollbackOutcome | None) -> None:
        if outcome is not None:
            self.notify(outcome.summary, title="Rollback sent", severity="warning", timeout=15)

    @work(thread=True, exit_on_error=False, group="kube-action")
    def _toggle_pause(self, view: DeploymentView) -> None:
        try:
            self.session.set_paused(self.session.cluster(view.cluster), view.name, not view.paused)
        except CockpitError as exc:
            self.call_from_thread(self._report, exc)
            return
        verb = "resumed" if view.paused else "paused"
        self.call_from_thread(self.notify, f"{view.name} {verb}.", title="Rollout")

    def action_rollback_all(self) -> None:
        from cockpit.tui.screens.rollback import RollbackAllScreen

        if self.session.read_only:
            self.notify("Read-only: this cockpit cannot change deployments.", severity="warning")
            return
        views = list(self.query_one(RolloutPane).views.values())
        if not any(v.found for v in views):
            self.notify("No deployment is known yet to roll back.", severity="warning")
            return
        self.push_screen(RollbackAllScreen(self.session, views), self._after_rollback)

    def on_unmount(self) -> None:
        self.board.stop()
        if self._presence is not None:  # a network call: at most two seconds of the exit
            leaving = threading.Thread(target=self._presence.stop, daemon=True)
            leaving.start()
            leaving.join(2.0)
        # a mark pressed just before quitting is written before the session's end
        if not self._state_thread.close():
            self.exit_problem = (
                "a mark was still being written when the cockpit closed (the state file was "
                "locked); `cockpit checklist` shows what was saved"
            )
        # Any clean exit closes the session in the audit log; a dropped SSH session or a
        # kill leaves a session_start without its end, which is what happened.
        try:
            self.session.end()
        except CockpitError as exc:
            self.exit_problem = exc.render()  # printed by the CLI once the screen is gone
        if self.session.team is not None:  # the session's end shared, two seconds at most
            self.session.team.close(2.0)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Notifications carry outside text (API errors, item texts, evidence): plain text,
        controls made visible, unless a caller asks for markup on its own words."""
        if not markup:
            message, title = visible_text(message, keep_newlines=True), visible_text(title)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)
        plain = Text.from_markup(message).plain if markup else message
        notice = Notice(messages.clock(), severity, title, plain)
        self.message_history.append(notice)
        self.messages_told += 1
        try:
            line = self.screen_stack[0].query_one(MessageLine)
        except (NoMatches, IndexError):
            return  # before the screen is composed: the history keeps it
        timeout = self.NOTIFICATION_TIMEOUT if timeout is None else timeout
        line.show(notice, timeout, self._key_of("app.messages"), told=self.messages_told)

    async def run_action(
        self,
        action: str | ActionParseResult,
        default_namespace: DOMNode | None = None,
        namespaces: Mapping[str, DOMNode] | None = None,
    ) -> bool:
        """A key whose action does not apply now says why, instead of doing nothing.

        check_action greys such a key out in the footer; Textual then drops the press without
        a word (in read-only, d s n u; ctrl+z on a workload not found). A widget that can say
        why has `refusal(action)`: the press shows it on the message line and stops there.
        """
        if await super().run_action(action, default_namespace, namespaces):
            return True
        target, name, params = self._parse_action(
            action, self if default_namespace is None else default_namespace, namespaces
        )
        refusal = getattr(target, "refusal", None)
        if callable(refusal) and not target.check_action(name, params):
            reason = refusal(name)
            if isinstance(reason, str) and reason:
                self.notify(reason, title="Not done", severity="warning")
                return True
        return False

    def refusal(self, action: str) -> str | None:
        if action == "rollback_recommended" and self.session.read_only:
            return "Read-only: this cockpit cannot roll back (started with --read-only)."
        if action == "rollback_recommended" and not self.recommended:
            rollback = self._key_of("rollout.rollback")
            return (
                f"No rollback is recommended now: {self._key_of('app.rollback_recommended')} "
                "acts when the release analysis recommends one (the verdict bar says so); "
                f"{rollback} in the rollout pane rolls back the selected deployment."
            )
        return None

    def _refresh_notifications(self) -> None:
        """Toasts are never drawn: they covered the rollout pane at 80x24 for as long as a
        rollback ran. The message line and the history show every notification instead;
        Textual still keeps them (and their timeouts) in `_notifications`."""

    def _key_of(self, binding_id: str) -> str:
        """The key this operator has for a binding (a [keys] remap moves it)."""
        return key_of(self.session.config.model.keys, binding_id)

    def action_messages(self) -> None:
        from cockpit.tui.screens.messages import MessageHistoryScreen

        self.push_screen(MessageHistoryScreen(self.message_history, told=self.messages_told))

    def _handle_exception(self, error: Exception) -> None:
        """A bug in the cockpit. Textual would print a traceback with local variables (they
        hold tokens, cluster objects, runbook text) over the operator's screen; instead the
        app closes, the terminal is restored, and `cockpit run` writes the crash file and
        prints one line. Everything the operator did is already in the audit log and state."""
        self.crashed = error
        self._return_code = 70
        if self._exception is None:  # Pilot re-raises it in tests
            self._exception = error
            self._exception_event.set()
        self.bell()
        self._close_messages_no_wait()

    def action_toggle_reasons(self) -> None:
        self.query_one(VerdictBar).toggle()

    def _tick_countdown(self) -> None:
        """Bake time and initial delays count down on screen while they last."""
        if self.verdict_now is not None and self.verdict_now.bake_remaining > 0:
            self._request_verdict()

    def key_rows(self) -> list[tuple[str, list[KeyRow]]]:
        """Every place's keys as this operator has them ([keys] applied), in help's order."""
        keymap = self.session.config.model.keys
        sections = [(place.title, place_rows(place, keymap)) for place in PLACES]
        return [(title, rows) for title, rows in sections if rows]

    async def action_quit(self) -> None:
        """Quit, unless a step's commands run or wait between two scripts: ctrl+q there says
        so, and so does every other way to quit (the palette's "Quit the application")."""
        from cockpit.tui.screens.step_run import StepRunScreen

        for screen in self.screen_stack:
            if isinstance(screen, StepRunScreen) and screen.state in ("running", "paused"):
                screen.action_quit()
                return
        await super().action_quit()

    def action_help(self) -> None:
        from cockpit.tui.screens.help import HelpScreen

        self.push_screen(HelpScreen(self.key_rows()))

    def action_retry_clusters(self) -> None:
        """Reading only: nothing is sent but lists and watches, so read-only allows it too."""
        try:
            asked = self.board.retry_clusters()
        except CockpitError as exc:
            self._report(exc)
            return
        if asked:
            troubled = ", ".join(self.query_one(RolloutPane).clusters_in_trouble()) or "clusters"
            self.notify(f"Trying {troubled} again now.", title="Retry")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_runs":
            # hidden unless something runs (runs_active follows the workers for the footer)
            return bool(self._running_workers())
        if action == "rollback_recommended":
            return self.recommended and not self.session.read_only
        if action == "rollback_all":  # the palette's: no clusters, nothing to roll back
            return bool(self.session.environment.clusters)
        if action == "retry_clusters":
            try:  # hidden while every cluster is seen
                return bool(self.query_one(RolloutPane).clusters_in_trouble())
            except NoMatches:
                return False
        return True

    def _running_workers(self) -> list[Worker[object]]:
        return [
            w
            for w in self.workers
            if w.group in ("checks", "section")
            and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
        ]

    def on_worker_state_changed(self, _event: Worker.StateChanged) -> None:
        if self._exit or not self.screen_stack:
            return  # a worker cancelled at shutdown: no bindings left to refresh
        self.runs_active = bool(self._running_workers())

    def action_cancel_runs(self) -> None:
        running = self._running_workers()
        for worker in running:
            worker.cancel()
        if running:
            self.notify(
                "Cancelled; the cancel is in the audit log.", title="Run", severity="warning"
            )

    # --- running checks and steps --------------------------------------------------------------

    def run_item(self, item: ChecklistItem) -> None:
        from cockpit.tui.screens.step_run import StepRunScreen

        session = self.session
        if session.checks_for(item.id):
            self._run_checks([item], f"{item.text}")
        elif item.kind == "step":
            try:
                plan = session.plan_step(item)
            except CockpitError as exc:
                self._report(exc)
                return
            self.push_screen(
                StepRunScreen(session, item, plan, ask=True), lambda _outcome: self._refresh_views()
            )
        else:
            self.notify(
                f"{item.text!r} is a manual item: mark it with d, or bind it to a check in "
                "[[checks]] (docs/CONFIG.md).",
                title="Nothing to run",
                severity="warning",
            )

    @work(group="checks", exit_on_error=False)
    async def _run_checks(self, items: list[ChecklistItem], what: str) -> None:
        try:
            results = await self.session.run_items(
                items, on_change=lambda _changed: self.post_message(self.ChecksChanged())
            )
        except CockpitError as exc:
            self._report(exc)
            return
        self._summarise(what, results)

    def _summarise(self, what: str, results: list[ItemRunResult]) -> None:
        failed = [r for r in results if not r.passed]
        if not results:
            return
        if failed:
            first = failed[0]
            self.notify(
                f"{len(failed)} of {len(results)} failed. {first.item.text}: {first.evidence}",
                title=f"Checks: {what}",
                severity="error",
                timeout=15,
            )
        else:
            self.notify(f"{len(results)} passed.", title=f"Checks: {what}")

    def on_cockpit_app_checks_changed(self, _message: ChecksChanged) -> None:
        self._refresh_views()

    @on(ChecklistTree.RunSection)
    def _run_section_intent(self, intent: ChecklistTree.RunSection) -> None:
        self._run_section(intent.section)

    @work(group="section", exclusive=True, exit_on_error=False)
    async def _run_section(self, section: Section) -> None:
        from cockpit.tui.screens.step_run import StepOutcome, StepRunScreen

        session = self.session
        items = list(section.walk_items())
        check_items = [i for i in items if session.checks_for(i.id)]
        # an item with checks is run by its checks, a step bound to one included (as `r` does)
        steps = [
            i
            for i in items
            if i.kind == "step"
            and i not in check_items
            and (i.scripts or i.id in session.environment.steps)
        ]
        if not check_items and not steps:
            self.notify(f"Nothing in {section.title!r} can be run.", title="Run section")
            return
        checks_task = (
            asyncio.create_task(
                session.run_items(
                    check_items, on_change=lambda _c: self.post_message(self.ChecksChanged())
                )
            )
            if check_items
            else None
        )
        stopped: str | None = None
        try:
            for position, step in enumerate(steps):
                try:
                    plan = session.plan_step(step)
                except CockpitError as exc:
                    self._report(exc)
                    stopped = f"{step.text}: not run"
                    break
                ask = position == 0 or session.environment.confirm_each_step or plan.production
                outcome = await self.push_screen_wait(StepRunScreen(session, step, plan, ask=ask))
                self._refresh_views()
                if outcome is not StepOutcome.PASSED:
                    stopped = f"{step.text}: {outcome}"
                    break
            results = await checks_task if checks_task else []
        except asyncio.CancelledError:
            if checks_task:
                checks_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await checks_task
            raise
        except CockpitError as exc:
            self._report(exc)
            return
        self._summarise(section.title, results)
        if stopped:
            self.notify(
                f"Stopped at step {stopped}", title=f"Run {section.title}", severity="error"
            )

    # --- state ---------------------------------------------------------------------------------

    class MarkWritten(Message):
        """The state thread wrote a mark (or was refused it: `error`)."""

        def __init__(self, item: ChecklistItem, error: CockpitError | None) -> None:
            super().__init__()
            self.item = item
            self.error = error

    class StateRead(Message):
        """The state thread looked at the state file for changes made elsewhere."""

        def __init__(self, changed: bool, error: CockpitError | None) -> None:
            super().__init__()
            self.changed = changed
            self.error = error

    class StateThreadFailed(Message):
        """A bug in a job of the state thread: the app closes as for any bug of its own."""

        def __init__(self, error: Exception) -> None:
            super().__init__()
            self.error = error

    def _off_the_ui_thread(self, job: Callable[[], Message]) -> None:
        """Run `job` on the state thread, after the jobs asked for before it; the message it
        returns is posted to the app."""

        def run() -> None:
            try:
                outcome = job()
            except Exception as exc:  # noqa: BLE001 - posted: the app closes as for any bug
                self.post_message(self.StateThreadFailed(exc))
                return
            self.post_message(outcome)

        self._state_thread.submit(run)

    def on_cockpit_app_state_thread_failed(self, message: StateThreadFailed) -> None:
        self._handle_exception(message.error)

    def _mark(self, change: Callable[[], object], item: ChecklistItem) -> None:
        """Write a mark (done, skip, note, reopen) on the state thread, in the order pressed:
        it fsyncs the audit log and the state under a lock another cockpit may hold."""

        def job() -> Message:
            try:
                change()
            except CockpitError as exc:
                return self.MarkWritten(item, exc)
            return self.MarkWritten(item, None)

        self._off_the_ui_thread(job)

    def on_cockpit_app_mark_written(self, message: MarkWritten) -> None:
        if message.error is not None:
            self._report(message.error)
        self._refresh_views(message.item)
        self._tell_team_news()  # a conflict the mark met, or the mark not shared yet

    def _poll_state(self) -> None:
        """Another cockpit or `cockpit mark` may have changed the state file: show it. The file
        is read on the state thread (its lock may be held); one poll at a time."""
        if self._poll_queued:
            return
        self._poll_queued = True

        def job() -> Message:
            try:
                return self.StateRead(self.session.reload_if_changed(), None)
            except CockpitError as exc:
                return self.StateRead(False, exc)

        self._off_the_ui_thread(job)

    def on_cockpit_app_state_read(self, message: StateRead) -> None:
        self._poll_queued = False
        if message.error is not None:
            self._report(message.error)
            return
        if message.changed:
            ids = self.session.changed_items
            if ids is not None and len(ids) <= RELABEL_LIMIT:  # another process's mark or two
                found = [self.session.checklist.item(i) for i in ids]
                if not self._shutting_down():
                    self.query_one(ChecklistPane).refresh_labels(i for i in found if i is not None)
                    self.query_one(EnvironmentBanner).refresh_text()
                    self._refresh_verdict()
            else:
                self._refresh_views()
            for notice in self.session.notices:
                self.notify(notice, title="State recovered", severity="warning", timeout=30)
            self.session.notices.clear()

    def _refresh_views(self, item: ChecklistItem | None = None) -> None:
        """Redraw what depends on the state: one item and its sections, or everything."""
        if self._shutting_down():
            return
        self.query_one(ChecklistPane).refresh_labels(None if item is None else [item])
        self.query_one(EnvironmentBanner).refresh_text()
        self._refresh_verdict()

    def _report(self, exc: CockpitError) -> None:
        text = exc.message + (f"\n{exc.hint}" if exc.hint else "")
        self.notify(text, title="Not done", severity="error", timeout=12)

    # --- intents from the checklist ------------------------------------------------------------

    @on(ChecklistTree.OpenDetail)
    def _open_item_detail(self, intent: ChecklistTree.OpenDetail) -> None:
        from cockpit.tui.screens.item_detail import ItemDetailScreen

        view = self.session.view(intent.item)
        self.push_screen(ItemDetailScreen(self.session, view), self._picked)

    @on(ChecklistTree.Run)
    def _run_intent(self, intent: ChecklistTree.Run) -> None:
        self.run_item(intent.item)

    @on(ChecklistTree.MarkDone)
    def _mark_done(self, intent: ChecklistTree.MarkDone) -> None:
        item = intent.item
        self._mark(lambda: self.session.mark_done(item.id), item)

    @on(ChecklistTree.Skip)
    def _ask_skip_reason(self, intent: ChecklistTree.Skip) -> None:
        from cockpit.tui.screens.prompt import TextPrompt

        item = intent.item
        self.push_screen(
            TextPrompt("Skip — why?", item.text, required=True, placeholder="reason"),
            lambda reason: (
                self._mark(lambda: self.session.skip(item.id, reason), item) if reason else None
            ),
        )

    @on(ChecklistTree.AddNote)
    def _ask_note(self, intent: ChecklistTree.AddNote) -> None:
        from cockpit.tui.screens.prompt import TextPrompt

        item = intent.item
        self.push_screen(
            TextPrompt("Add a note", item.text, required=True, placeholder="note"),
            lambda note: (
                self._mark(lambda: self.session.add_note(item.id, note), item) if note else None
            ),
        )

    @on(ChecklistTree.Reopen)
    def _ask_reopen_reason(self, intent: ChecklistTree.Reopen) -> None:
        from cockpit.tui.screens.prompt import TextPrompt

        item = intent.item
        self.push_screen(
            TextPrompt(
                "Reopen — back to pending",
                item.text,
                required=False,
                placeholder="reason (optional)",
            ),
            lambda reason: (
                self._mark(lambda: self.session.reopen(item.id, reason), item)
                if reason is not None
                else None
            ),
        )

    # --- command palette -----------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The registry's commands of every place on this screen, and everywhere's: what the
        footer offers now, and the keys it hides (filter, next section...). A command that
        cannot apply now (check_action False: nothing runs to cancel) is left out, as the
        footer leaves it out; one greyed out is listed and, chosen, says why (run_action).
        Read-only leaves out every command that changes something."""
        for system in super().get_system_commands(screen):
            if system.title != "Quit":  # the registry's, which a running step refuses
                yield system
        keymap = self.session.config.model.keys
        for place, node in self._places_on(screen):
            keys = {row.binding_id: row.keys_text for row in place_rows(place, keymap)}
            for command in commands_at(place):
                if not command.palette or (command.changes and self.session.read_only):
                    continue
                _namespace, name, params = parse_action(command.action)
                if node.check_action(name, params) is False:
                    continue
                help_text = command.tooltip
                if command.keys:
                    help_text += f" · key {keys.get(command.id) or 'none'}"
                yield SystemCommand(
                    command.title, help_text, partial(self.run_action, command.action, node)
                )
            if place == CHECKLIST and isinstance(node, ChecklistTree):
                pane = self.query_one(ChecklistPane)
                for section in self.session.checklist.all_sections():
                    yield SystemCommand(
                        f"Checklist: go to section {section.title}",
                        f"Move the cursor to {section.id}",
                        partial(pane.go_to_section, section.id),
                    )

    def _places_on(self, screen: Screen[object]) -> list[tuple[Place, DOMNode]]:
        """The places of the registry on this screen (a pane hidden, as the rollout table
        without clusters or a closed filter line, is not there), and everywhere's: the app."""
        found: dict[str, DOMNode] = {APP.name: self}
        for node in (screen, *screen.query("*")):
            place = getattr(node, "PLACE", None)
            if isinstance(place, Place) and node.display:
                found.setdefault(place.name, node)
        return [(place, found[place.name]) for place in PLACES if place.name in found]
