"""The go-live session: what both the TUI and the headless commands drive.

It opens the config, the checklist, the durable state and the audit log of one environment,
and hands each intent to the part that carries it out, every one in the same order: audit
entry first (fsynced), then the effect, then the state update. If the state write fails after
the audit line landed, nothing is lost: the state can be rebuilt from the audit log, and is,
whenever the state file turns out to be corrupt.

The parts, one job each: `progress` (what the checklist shows, marks, skips, notes),
`check_binding` (which checks belong to which item), `runs` (running checks and steps),
`cluster_actions` (rollbacks, pauses, resumes, the action lock), `release` (release starts and
verdicts), `timeline` (the audit's past, read once and followed) and `checklist_json`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from cockpit.analysis import RunStatus
from cockpit.audit import AuditLog
from cockpit.check_binding import bind_checks, compile_checks
from cockpit.checklist import Checklist, ChecklistItem, Section, load_checklist
from cockpit.checklist_json import checklist_json
from cockpit.checks import BoundCheck
from cockpit.cluster_actions import ClusterActions, unfinished_rollback_notice
from cockpit.config import (
    ClusterConfig,
    EnvironmentConfig,
    LoadedConfig,
    discover_config,
    load_config,
)
from cockpit.context import GoLiveContext
from cockpit.gates import MetricState, Verdict
from cockpit.identity import Operator
from cockpit.progress import ChecklistProgress, ItemView, Progress
from cockpit.recording import Recorder
from cockpit.release import Releases
from cockpit.rollout import UndoPlan
from cockpit.runs import ItemRunResult, ItemRuns
from cockpit.secrets import secret_values
from cockpit.sources.errors import ErrorFeed
from cockpit.sources.kube import ClusterSnapshot, DeploymentActions, DeploymentView
from cockpit.sources.lease import ActionLock, Presence
from cockpit.state import StateStore
from cockpit.steps import BeforeNext, StepPlan
from cockpit.team_progress import TeamProgress
from cockpit.timeline import AuditTimeline

__all__ = ["GoLiveSession", "ItemRunResult", "ItemView", "Progress"]


class GoLiveSession:
    """One environment's go-live, opened: its parts, and the intents callers ask of it."""

    def __init__(
        self,
        config: LoadedConfig,
        env_name: str,
        checklist: Checklist,
        *,
        operator: Operator,
        read_only: bool = False,
        via: str = "cli",
    ) -> None:
        self.config = config
        self.env_name = env_name
        self.checklist = checklist
        # every configured secret's value: scrubbed from the audit log (and so from state and
        # report), from check and step output, and kept from child processes by name
        self.secrets = secret_values(config)
        self.audit = AuditLog(config.audit_path, secrets=self.secrets)
        self.store = StateStore(config.state_dir, env_name)
        self.notices: list[str] = []
        self.recorder = Recorder(self.audit, env_name, operator, via, read_only)
        self.timeline = AuditTimeline(self.audit, env_name)
        self.bindings = bind_checks(config, checklist, env_name)
        self.compiled = compile_checks(config, self.bindings)
        self.items = ChecklistProgress(
            checklist, self.store, self.recorder, self.bindings, self.notices
        )
        self.runs = ItemRuns(self.items, self.compiled, self.check_context)
        self.cluster_actions = ClusterActions(config, self.recorder)
        self.releases = Releases(
            config, self.recorder, self.timeline, self.items, self.check_context
        )

    @classmethod
    def open(
        cls,
        config_path: str | Path | None,
        environment: str | None,
        *,
        read_only: bool = False,
        operator: Operator | None = None,
        via: str = "cli",
    ) -> GoLiveSession:
        loaded = load_config(discover_config(config_path))
        env_name = loaded.environment_name(environment)
        session = cls(
            loaded,
            env_name,
            load_checklist(loaded.checklist_path, cache=loaded.state_dir),
            operator=operator or Operator.current(),
            read_only=read_only or loaded.environment(env_name).read_only,
            via=via,
        )
        session.items.load()
        session.items.open_team(loaded)
        session.notices.extend(
            map(unfinished_rollback_notice, session.timeline.unfinished_rollbacks())
        )
        return session

    @property
    def environment(self) -> EnvironmentConfig:
        return self.config.environment(self.env_name)

    @property
    def read_only(self) -> bool:
        return self.recorder.read_only

    @property
    def operator(self) -> Operator:
        return self.recorder.operator

    @property
    def via(self) -> str:
        return self.recorder.via

    @property
    def label(self) -> str:
        return self.environment.label or self.env_name

    @property
    def team(self) -> TeamProgress | None:
        """The team's shared progress (state backend "kubernetes"), else None."""
        return self.items.team

    @property
    def changed_items(self) -> list[str] | None:
        """The item IDs the last reload_if_changed() found changed (None: any may have)."""
        return self.items.changed_items

    def check_context(self) -> GoLiveContext:
        return GoLiveContext(
            self.config, self.env_name, list(self.secrets), started=self.go_live_started()
        )

    def begin(self) -> None:
        if not self.read_only:
            self.recorder.record("session_start")

    def end(self) -> None:
        if not self.read_only:
            self.recorder.record("session_end")

    def refuse_if_read_only(self, what: str) -> None:
        self.recorder.refuse_if_read_only(what)

    # --- the checklist (progress) --------------------------------------------------------------

    def reload_if_changed(self) -> bool:
        return self.items.reload_if_changed()

    def view(self, item: ChecklistItem) -> ItemView:
        return self.items.view(item)

    def progress(self, section: Section | None = None) -> Progress:
        return self.items.progress(section)

    def find_item(self, reference: str) -> ChecklistItem:
        return self.items.find_item(reference)

    def orphaned_records(self) -> list[str]:
        return self.items.orphaned_records()

    def mark_done(self, reference: str, note: str = "") -> ItemView:
        return self.items.mark_done(reference, note)

    def skip(self, reference: str, reason: str) -> ItemView:
        return self.items.skip(reference, reason)

    def reopen(self, reference: str, reason: str = "") -> ItemView:
        return self.items.reopen(reference, reason)

    def add_note(self, reference: str, text: str) -> ItemView:
        return self.items.add_note(reference, text)

    def checklist_json(self) -> dict[str, Any]:
        return checklist_json(self.items, self.env_name)

    # --- runs of checks and steps --------------------------------------------------------------

    def checks_for(self, item_id: str) -> tuple[BoundCheck, ...]:
        return self.runs.checks_for(item_id)

    async def run_items(
        self,
        items: Sequence[ChecklistItem],
        *,
        jobs: int | None = None,
        on_change: Callable[[ItemRunResult | ChecklistItem], object] | None = None,
    ) -> list[ItemRunResult]:
        return await self.runs.run_items(items, jobs=jobs, on_change=on_change)

    def plan_step(self, item: ChecklistItem) -> StepPlan:
        return self.runs.plan_step(item)

    async def run_step(
        self,
        item: ChecklistItem,
        *,
        on_line: Callable[[str], object] | None = None,
        on_script: Callable[[int], object] | None = None,
        before_next: BeforeNext | None = None,
        timeout: float | None = None,
    ) -> ItemRunResult:
        return await self.runs.run_step(
            item, on_line=on_line, on_script=on_script, before_next=before_next, timeout=timeout
        )

    # --- clusters: rollbacks, pauses, the action lock ------------------------------------------

    def cluster(self, name: str | None) -> ClusterConfig:
        return self.cluster_actions.cluster(name)

    def clusters_with(self, deployment: str) -> list[ClusterConfig]:
        return self.cluster_actions.clusters_with(deployment)

    def actions(self, cluster: ClusterConfig) -> DeploymentActions:
        return self.cluster_actions.actions(cluster)

    def action_lock(self) -> ActionLock | None:
        return self.cluster_actions.action_lock()

    def presence(self) -> Presence | None:
        return self.cluster_actions.presence()

    def break_lock(self) -> str | None:
        return self.cluster_actions.break_lock()

    def hold_lock(self, doing: str) -> None:
        self.cluster_actions.hold_lock(doing)

    def release_lock(self) -> None:
        self.cluster_actions.release_lock()

    def rollback(
        self,
        cluster: ClusterConfig,
        deployment: str,
        to_revision: int = 0,
        *,
        plan: UndoPlan | None = None,
        trigger: str = "operator",
        run: str | None = None,
    ) -> UndoPlan:
        return self.cluster_actions.rollback(
            cluster, deployment, to_revision, plan=plan, trigger=trigger, run=run
        )

    def set_paused(self, cluster: ClusterConfig, deployment: str, paused: bool) -> None:
        self.cluster_actions.set_paused(cluster, deployment, paused)

    # --- the release and its verdict -----------------------------------------------------------

    def go_live_started(self) -> datetime | None:
        return self.timeline.go_live_started()

    def analysis_started(self) -> datetime | None:
        return self.timeline.analysis_started()

    def start_release(self, version: str, *, deploy_marker: bool = True) -> str:
        return self.releases.start_release(version, deploy_marker=deploy_marker)

    def release_version(self, views: Sequence[DeploymentView] = ()) -> str | None:
        return self.releases.release_version(views)

    def record_verdict(self, result: Verdict, metric_states: Sequence[MetricState]) -> None:
        self.releases.record_verdict(result, metric_states)

    def verdict(
        self,
        metrics: Sequence[MetricState],
        snapshots: Sequence[ClusterSnapshot],
        errors: ErrorFeed | None = None,
        run: RunStatus | None = None,
        now: datetime | None = None,
    ) -> Verdict:
        return self.releases.verdict(metrics, snapshots, errors, run, now)
