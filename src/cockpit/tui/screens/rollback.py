"""Rollback confirmation: what will change, whether we may, and a confirm that is hard to hit.

Before anything is sent the screen shows the deployment, cluster, current and target revision
and images, warns when the rollout is still in progress or when a GitOps controller, Helm or
an operator manages the deployment (a patch would not last), refuses a paused deployment the way
kubectl does (and offers to resume it), and shows the RBAC preflight. Cancel has the focus. In a
production environment the operator types the deployment's name (for one deployment) or the
environment's name (for all of them) before the button does anything.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, OptionList, Static
from textual.widgets.option_list import Option

from cockpit.config import ClusterConfig
from cockpit.confirmation import TypedConfirmation
from cockpit.errors import CockpitError
from cockpit.rollout import UndoPlan, UndoRefused
from cockpit.session import GoLiveSession
from cockpit.sources.kube import AccessCheck, DeploymentView, RollbackConflict
from cockpit.tui.bindings import bindings_of
from cockpit.tui.plain import safe
from cockpit.tui.registry import ROLLBACK, ROLLBACK_ALL, Place
from cockpit.tui.screens.frame import FramedScreen

# What holds a revision of each kind, as the preview names it.
REVISION_OBJECT = {"statefulset": "ControllerRevision", "daemonset": "ControllerRevision"}

CSS = """
RollbackScreen #rb-revisions {
    height: auto;
    max-height: 8;
}
RollbackScreen #rb-buttons, RollbackAllScreen #rb-buttons {
    height: auto;
    margin-top: 1;
}
RollbackScreen #rb-warnings, RollbackAllScreen #rb-warnings {
    color: $warning;
}
RollbackScreen #rb-refused, RollbackAllScreen #rb-refused {
    color: $text-error;
    text-style: bold;
    height: auto;
}
RollbackScreen #rb-confirm.-hidden, RollbackAllScreen #rb-confirm.-hidden {
    display: none;
}
RollbackScreen Button, RollbackAllScreen Button {
    margin-right: 2;
}
"""


@dataclass(frozen=True)
class RollbackOutcome:
    """What was sent, in one line for the message line."""

    summary: str


@dataclass(frozen=True)
class Prepared:
    plan: UndoPlan | None
    refusal: UndoRefused | None
    error: str | None
    access: AccessCheck | None


class RollbackScreen(FramedScreen[RollbackOutcome]):
    """Dismisses with what was sent, or None when cancelled."""

    DEFAULT_CSS = CSS
    PLACE: ClassVar[Place] = ROLLBACK
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    class Ready(Message):
        def __init__(self, prepared: Prepared) -> None:
            super().__init__()
            self.prepared = prepared

    class Finished(Message):
        def __init__(
            self, outcome: RollbackOutcome | None, error: str | None, conflict: bool = False
        ) -> None:
            super().__init__()
            self.outcome = outcome
            self.error = error
            self.conflict = conflict

    def __init__(
        self,
        session: GoLiveSession,
        view: DeploymentView,
        to_revision: int = 0,
        why: str | None = None,
    ) -> None:
        super().__init__()
        self.session = session
        self.view = view
        self.cluster: ClusterConfig = session.cluster(view.cluster)
        self.to_revision = to_revision  # the recommended target, when the verdict names one
        self.why = why
        self.prepared: Prepared | None = None
        self.changed: str | None = None  # why the last confirmation was refused (409)
        self.busy = False
        self.holding = False  # the environment's action lock, while the preview is open
        self.confirmation = TypedConfirmation.of(session.environment.production, view.name)

    @property
    def production(self) -> bool:
        return self.confirmation.required

    def compose(self) -> ComposeResult:
        with Vertical(classes="frame") as box:
            box.border_title = f"Roll back {self.view.label} · {self.session.label}"
            with VerticalScroll():
                yield Static("Preparing: reading the workload and its history…", id="rb-details")
                yield Static("", id="rb-warnings")
                rows = [r for r in reversed(self.view.history) if not r.current]
                options = [Option("previous revision (kubectl's default)", id="0")]
                options += [
                    Option(
                        f"revision {r.revision}: {safe(', '.join(r.images))}"
                        + (f" — {safe(r.change_cause)}" if r.change_cause else "")
                        + f" ({r.age()} old)"
                        + (" — RECOMMENDED: last good" if r.revision == self.to_revision else ""),
                        id=str(r.revision),
                    )
                    for r in rows
                ]
                revisions = OptionList(*options, id="rb-revisions")
                ids = [option.id for option in options]
                if str(self.to_revision) in ids:
                    revisions.highlighted = ids.index(str(self.to_revision))
                yield revisions
            yield Input(placeholder=f"type {self.view.name} to confirm", id="rb-confirm")
            yield Static("", id="rb-refused", markup=False)
            with Horizontal(id="rb-buttons"):
                yield Button("Cancel", id="rb-cancel", variant="primary")
                yield Button("Roll back", id="rb-go", variant="error", disabled=True)
                yield Button("Resume first", id="rb-resume", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#rb-resume", Button).display = False
        confirm = self.query_one("#rb-confirm", Input)
        confirm.set_class(not self.production, "-hidden")
        # in production, typing the name is the confirmation; elsewhere Cancel has the focus
        if self.production:
            confirm.focus()
        else:
            self.query_one("#rb-cancel", Button).focus()
        self._prepare(self.to_revision)

    @work(thread=True, exclusive=True, exit_on_error=False, group="prepare")
    def _prepare(self, to_revision: int) -> None:
        actions = self.session.actions(self.cluster)
        plan = refusal = error = None
        access = None
        try:
            if not self.holding and not self.session.read_only:
                # nobody else acts on the environment while this operator reads the preview
                self.session.hold_lock(f"a rollback of {self.view.name} (being previewed)")
                self.holding = True
            plan = actions.plan_rollback(self.view.name, to_revision)
        except UndoRefused as exc:
            refusal = exc
        except CockpitError as exc:
            error = exc.message
        if error is None:
            access = actions.can_patch(self.view.name)
        self.post_message(self.Ready(Prepared(plan, refusal, error, access)))

    def on_rollback_screen_ready(self, message: Ready) -> None:
        self.prepared = prepared = message.prepared
        details = self.query_one("#rb-details", Static)
        warnings: list[str] = []
        lines = [
            f"[b]{safe(self.view.name)}[/b] in cluster [b]{safe(self.cluster.name)}[/b], "
            f"namespace {safe(self.cluster.namespace)}",
        ]
        plan = prepared.plan
        if plan is not None:
            lines += [
                f"now:     revision {plan.current_revision}  "
                f"{safe(', '.join(plan.current_images))}",
                f"back to: revision {plan.target_revision}  {safe(', '.join(plan.target_images))}"
                f"  ({REVISION_OBJECT.get(plan.kind, 'ReplicaSet')} "
                f"{safe(plan.target_replicaset)})",
            ]
            warnings += [m.warning(self.view.name) for m in plan.managed_by]
            stuck = self.view.stuck_after_rollback()
            if stuck and plan.kind == "statefulset":
                warnings.append(
                    "A StatefulSet does not replace a pod that is not Ready: after the rollback, "
                    f"delete {', '.join(stuck)} (kubectl delete pod NAME) so it is recreated "
                    "at the restored revision."
                )
            if plan.mid_rollout:
                warnings.append(
                    "The rollout is still in progress: rolling back now stops it and returns "
                    "to the target revision."
                )
        if self.changed:
            warnings.append(
                f"NOT SENT: {self.changed}. This is the new preview: read it and confirm again."
            )
            self.changed = None
        if prepared.refusal is not None and prepared.refusal.read_only:
            warnings.append(prepared.refusal.message)
        elif prepared.refusal is not None:
            warnings.append(f"kubectl would refuse: {prepared.refusal.message}")
        if prepared.error:
            warnings.append(f"Cannot prepare the rollback: {prepared.error}")
        access = prepared.access
        if access is not None:
            plural = f"{self.view.kind}s"
            if access.allowed:
                lines.append(f"RBAC: you may patch {plural} here.")
            else:
                warnings.append(
                    f"RBAC: you may NOT patch {plural} in {self.cluster.namespace}: "
                    f"{access.reason}. Nothing will be sent."
                )
        details.update("\n".join(lines))
        self.query_one("#rb-warnings", Static).update("\n".join(safe(w) for w in warnings))
        paused = prepared.refusal is not None and prepared.refusal.paused
        resume = self.query_one("#rb-resume", Button)
        had_focus = resume.has_focus or self.focused is None
        resume.display = paused and not self.session.read_only
        if had_focus and not resume.display:
            # "Resume first" pressed and gone: the focus goes where the next step is
            self._focus_next_step()
        self._update_go()

    def _focus_next_step(self) -> None:
        if self.production:
            self.query_one("#rb-confirm", Input).focus()
        else:
            self.query_one("#rb-cancel", Button).focus()

    def why_not_ready(self) -> str:
        """Why Enter (or Roll back) sends nothing now, in one line."""
        prepared = self.prepared
        if self.busy:
            return "Already sending the rollback: wait for its outcome."
        if prepared is None:
            return "Still preparing the preview: read it, then confirm."
        if prepared.plan is None:
            return "Nothing to send: the preview above says why."
        if prepared.access is None or not prepared.access.allowed:
            return "Nothing will be sent: RBAC does not allow the patch (see above)."
        refusal = self.confirmation.refusal(self.query_one("#rb-confirm", Input).value)
        return f"Not sent: {refusal}, then Enter." if refusal else ""

    def _ready_to_go(self) -> bool:
        prepared = self.prepared
        if self.busy or prepared is None or prepared.plan is None:
            return False
        if prepared.access is None or not prepared.access.allowed:
            return False
        return self.confirmation.accepts(self.query_one("#rb-confirm", Input).value)

    def _update_go(self) -> None:
        self.query_one("#rb-go", Button).disabled = not self._ready_to_go()

    def on_input_changed(self, _event: Input.Changed) -> None:
        self.query_one("#rb-refused", Static).update("")
        self._update_go()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        if self._ready_to_go():
            self._go()
        else:
            self.query_one("#rb-refused", Static).update(self.why_not_ready())

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.to_revision = int(event.option.id or 0)
        self.prepared = None
        self._update_go()
        self.query_one("#rb-details", Static).update("Preparing…")
        self._prepare(self.to_revision)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "rb-cancel":
            self.dismiss(None)
        elif event.button.id == "rb-go" and self._ready_to_go():
            self._go()
        elif event.button.id == "rb-resume":
            self.query_one("#rb-details", Static).update("Resuming, then preparing anew…")
            self._resume()

    def _go(self) -> None:
        assert self.prepared is not None and self.prepared.plan is not None
        self.busy = True
        self._update_go()
        self.query_one("#rb-details", Static).update("Sending the rollback…")
        self._send(self.prepared.plan)

    @work(thread=True, exclusive=True, exit_on_error=False, group="send")
    def _send(self, previewed: UndoPlan) -> None:
        """Exactly the plan on screen; if the Deployment changed since, a new preview."""
        try:
            plan = self.session.rollback(
                self.cluster, self.view.name, previewed.target_revision, plan=previewed
            )
        except RollbackConflict as exc:
            self.changed = exc.message
            self.post_message(self.Finished(None, None, conflict=True))
            return
        except UndoRefused as exc:
            self.post_message(self.Finished(None, exc.message))
            return
        except CockpitError as exc:
            self.post_message(
                self.Finished(None, exc.message + (f" ({exc.hint})" if exc.hint else ""))
            )
            return
        self.post_message(
            self.Finished(
                RollbackOutcome(
                    f"{plan.deployment}: rolling back from revision {plan.current_revision} to "
                    f"{plan.target_revision} ({', '.join(plan.target_images)})"
                ),
                None,
            )
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="send")
    def _resume(self) -> None:
        try:
            self.session.set_paused(self.cluster, self.view.name, False)
        except CockpitError as exc:
            self.post_message(self.Finished(None, exc.message))
            return
        self._prepare(self.to_revision)

    def on_rollback_screen_finished(self, message: Finished) -> None:
        self.busy = False
        if message.conflict:
            # someone changed the Deployment after the preview: show the new state, ask again
            self.prepared = None
            self.query_one("#rb-confirm", Input).value = ""
            self._update_go()
            self._prepare(self.to_revision)
            return
        if message.error:
            self.query_one("#rb-warnings", Static).update(f"Not rolled back: {safe(message.error)}")
            self._update_go()
            return
        self.dismiss(message.outcome)

    def action_cancel(self) -> None:
        if not self.busy:
            self.dismiss(None)

    def on_unmount(self) -> None:
        if self.holding:  # a network call: not on the UI thread
            self.holding = False
            threading.Thread(target=self.session.release_lock, daemon=True).start()


EVERY_DEPLOYMENT = RollbackOutcome("rolled back every deployment")


class RollbackAllScreen(FramedScreen[RollbackOutcome]):
    """Every deployment of the environment back to its previous revision: one confirmation,
    one audit entry per deployment."""

    DEFAULT_CSS = CSS
    PLACE: ClassVar[Place] = ROLLBACK_ALL
    BINDINGS: ClassVar[list[BindingType]] = bindings_of(PLACE)

    class Ready(Message):
        def __init__(self, lines: list[str], ready: bool) -> None:
            super().__init__()
            self.lines = lines
            self.ready = ready

    class Finished(Message):
        def __init__(self, lines: list[str]) -> None:
            super().__init__()
            self.lines = lines

    def __init__(self, session: GoLiveSession, views: list[DeploymentView]) -> None:
        super().__init__()
        self.session = session
        self.views = [v for v in views if v.found]
        self.plans: dict[tuple[str, str], UndoPlan] = {}  # what the preview showed, sent as is
        self.ready = False
        self.busy = False
        self.done = False
        self.confirmation = TypedConfirmation.of(session.environment.production, session.env_name)

    def compose(self) -> ComposeResult:
        with Vertical(classes="frame") as box:
            box.border_title = f"Roll back ALL deployments · {self.session.label}"
            with VerticalScroll():
                yield Static("Preparing…", id="rb-details")
                yield Static("", id="rb-warnings")
            yield Input(placeholder=f"type {self.session.env_name} to confirm", id="rb-confirm")
            yield Static("", id="rb-refused", markup=False)
            with Horizontal(id="rb-buttons"):
                yield Button("Cancel", id="rb-cancel", variant="primary")
                yield Button("Roll back all", id="rb-go", variant="error", disabled=True)

    def on_mount(self) -> None:
        confirm = self.query_one("#rb-confirm", Input)
        confirm.set_class(not self.confirmation.required, "-hidden")
        if self.confirmation.required:
            confirm.focus()
        else:
            self.query_one("#rb-cancel", Button).focus()
        self._prepare()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _prepare(self) -> None:
        lines: list[str] = []
        ready = bool(self.views)
        self.plans = {}
        for view in self.views:
            cluster = self.session.cluster(view.cluster)
            actions = self.session.actions(cluster)
            try:
                plan = actions.plan_rollback(view.name)
                access = actions.can_patch(view.name)
            except UndoRefused as exc:
                why = exc.message if exc.read_only else f"kubectl would refuse: {exc.message}"
                lines.append(f"{view.cluster}/{view.name}: {why}")
                continue
            except CockpitError as exc:
                lines.append(f"{view.cluster}/{view.name}: {exc.message}")
                ready = False
                continue
            if not access.allowed:
                ready = False
                lines.append(f"{view.cluster}/{view.name}: RBAC denies patch: {access.reason}")
                continue
            self.plans[(view.cluster, view.name)] = plan
            lines.append(
                f"{view.cluster}/{view.name}: revision {plan.current_revision} → "
                f"{plan.target_revision} ({', '.join(plan.target_images)})"
                + ("  [mid-rollout]" if plan.mid_rollout else "")
            )
            lines += [f"  WARNING: {m.warning(view.name)}" for m in plan.managed_by]
        self.post_message(self.Ready(lines, ready))

    def on_rollback_all_screen_ready(self, message: Ready) -> None:
        self.ready = message.ready
        self.query_one("#rb-details", Static).update(safe("\n".join(message.lines)))
        if not message.ready:
            self.query_one("#rb-warnings", Static).update(
                "Nothing will be sent while any deployment cannot be rolled back."
            )
        self._update_go()

    def _ok(self) -> bool:
        if not self.ready or self.busy or self.done:
            return False
        return self.confirmation.accepts(self.query_one("#rb-confirm", Input).value)

    def _update_go(self) -> None:
        self.query_one("#rb-go", Button).disabled = not self._ok()

    def on_input_changed(self, _event: Input.Changed) -> None:
        self.query_one("#rb-refused", Static).update("")
        self._update_go()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        """Enter confirms, as in the single rollback; when it cannot, it says why."""
        if self._ok():
            self.busy = True
            self._update_go()
            self._send()
            return
        typed = self.query_one("#rb-confirm", Input).value
        if self.done:
            why = "Already sent: Cancel closes this view."
        elif self.busy:
            why = "Already sending: wait for the outcome."
        elif not self.ready:
            why = "Nothing will be sent: the preview above says why."
        else:
            why = f"Not sent: {self.confirmation.refusal(typed)}, then Enter."
        self.query_one("#rb-refused", Static).update(why)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "rb-cancel":
            self.dismiss(EVERY_DEPLOYMENT if self.done else None)
        elif event.button.id == "rb-go" and self._ok():
            self.busy = True
            self._update_go()
            self._send()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _send(self) -> None:
        lines = []
        for view in self.views:
            cluster = self.session.cluster(view.cluster)
            previewed = self.plans.get((view.cluster, view.name))
            if previewed is None:
                lines.append(f"{view.cluster}/{view.name}: skipped (see the preview)")
                continue
            try:
                plan = self.session.rollback(cluster, view.name, plan=previewed)
                lines.append(f"{view.cluster}/{view.name}: sent, back to {plan.target_revision}")
            except UndoRefused as exc:
                lines.append(f"{view.cluster}/{view.name}: skipped: {exc.message}")
            except CockpitError as exc:
                lines.append(f"{view.cluster}/{view.name}: FAILED: {exc.message}")
        self.post_message(self.Finished(lines))

    def on_rollback_all_screen_finished(self, message: Finished) -> None:
        self.busy = False
        self.done = True
        self.query_one("#rb-details", Static).update(safe("\n".join(message.lines)))
        self.query_one("#rb-warnings", Static).update("Done. Cancel closes this view.")
        self._update_go()

    def action_cancel(self) -> None:
        if not self.busy:
            self.dismiss(EVERY_DEPLOYMENT if self.done else None)
