"""The go-live session: what both the TUI and the headless commands drive.

It owns the config, the checklist, the durable state and the audit log of one environment, and
carries out every operator intent in the same order: audit entry first (fsynced), then the
effect, then the state update. If the state write fails after the audit line landed, nothing
is lost: the state can be rebuilt from the audit log, and is, whenever the state file turns out
to be corrupt.
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import re
import threading
from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from cockpit.analysis import RunStatus
from cockpit.audit import AuditEntry, AuditLog
from cockpit.checklist import Checklist, ChecklistItem, Section, load_checklist
from cockpit.checks import BoundCheck, CheckContext, CheckResult, compile_binding, run_checks
from cockpit.config import (
    CheckBinding,
    ClusterConfig,
    EnvironmentConfig,
    LoadedConfig,
    discover_config,
    load_config,
)
from cockpit.errors import CockpitError, ConfigError, StateError
from cockpit.gates import (
    ErrorsGateState,
    MetricState,
    RolloutFact,
    Verdict,
    VerdictInputs,
    duration_text,
    verdict,
)
from cockpit.identity import Operator
from cockpit.rollout import UndoPlan
from cockpit.secrets import secret_values
from cockpit.sources.errors import ErrorFeed
from cockpit.sources.kube import ClusterSnapshot, DeploymentActions, DeploymentView
from cockpit.sources.lease import ActionLock, Presence
from cockpit.state import (
    ITEM_STATUSES,
    AuditHead,
    ItemRecord,
    ItemStatus,
    StateSnapshot,
    StateStore,
)
from cockpit.steps import BeforeNext, StepPlan, StepResult, execute_step, plan_step
from cockpit.team_progress import TeamProgress

StatusSource = Literal["state", "document", "none"]
RESOLVED: frozenset[str] = frozenset({"done", "passed", "skipped"})
STATE_ACTIONS = frozenset({"mark", "skip", "note", "reopen", "run", "result", "cancel"})


@dataclass(frozen=True)
class ItemView:
    """An item with what is known about it right now."""

    item: ChecklistItem
    status: ItemStatus
    record: ItemRecord | None
    source: StatusSource
    checks: tuple[CheckBinding, ...] = ()

    @property
    def kind(self) -> str:
        return "check" if self.checks and self.item.kind == "manual" else self.item.kind


@dataclass(frozen=True)
class ItemRunResult:
    """What running an item gave: passed or failed, the evidence, each check's result."""

    item: ChecklistItem
    passed: bool
    evidence: str
    results: tuple[tuple[BoundCheck, CheckResult], ...]
    stopped: bool = False  # the operator stopped the step between two scripts
    recorded: ItemStatus | None = None  # the status the item was given, when not passed/failed

    @property
    def status(self) -> ItemStatus:
        if self.recorded is not None:
            return self.recorded
        return "passed" if self.passed else "failed"

    @classmethod
    def of(
        cls, item: ChecklistItem, results: list[tuple[BoundCheck, CheckResult]]
    ) -> ItemRunResult:
        ordered = tuple(sorted(results, key=lambda pair: pair[0].index))
        failed = [r for _, r in ordered if not r.passed]
        if len(ordered) == 1:
            evidence = ordered[0][1].evidence
        elif failed:
            evidence = f"{len(ordered) - len(failed)}/{len(ordered)} checks passed; " + "; ".join(
                r.evidence for r in failed
            )
        else:
            evidence = f"{len(ordered)} checks passed; " + "; ".join(r.evidence for _, r in ordered)
        return cls(item, not failed, evidence, ordered)


@dataclass(frozen=True)
class Progress:
    total: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    running: int = 0

    @property
    def resolved(self) -> int:
        return self.done + self.skipped

    @property
    def pending(self) -> int:
        return self.total - self.resolved - self.failed - self.running

    @property
    def percent(self) -> int:
        return int(100 * self.resolved / self.total) if self.total else 100

    def __add__(self, other: Progress) -> Progress:
        return Progress(
            self.total + other.total,
            self.done + other.done,
            self.skipped + other.skipped,
            self.failed + other.failed,
            self.running + other.running,
        )


@dataclass
class GoLiveSession:
    config: LoadedConfig
    env_name: str
    checklist: Checklist
    store: StateStore
    audit: AuditLog
    operator: Operator
    read_only: bool = False
    via: str = "cli"
    bindings: dict[str, tuple[CheckBinding, ...]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    # every configured secret's value: scrubbed from the audit log (and so from state and
    # report), from check and step output, and kept from child processes by name
    secrets: tuple[str, ...] = ()
    snapshot: StateSnapshot | None = None
    compiled: dict[str, tuple[BoundCheck, ...]] = field(default_factory=dict)
    _seen_mtime: tuple[int, ...] | None = None
    _actions: dict[str, DeploymentActions] = field(default_factory=dict)
    _lock: ActionLock | None = None
    team: TeamProgress | None = None  # the team's shared progress (state backend "kubernetes")
    _started: datetime | None = None
    _release: str | None = None  # "" once the audit was read and had no release start
    _analysis_lock: threading.Lock = field(default_factory=threading.Lock)
    # marks are written on the TUI's state thread while check results are recorded on its
    # event loop: one at a time, so the snapshot kept is always the newest one written
    _state_lock: threading.RLock = field(default_factory=threading.RLock)
    _analysis_offset: int = 0  # audit bytes already read by analysis_started()
    _analysis_seen: int = 0
    _analysis_latest: datetime | None = None
    _timeline_entries: list[AuditEntry] | None = None
    # the item IDs the last reload_if_changed() found changed (None: any may have)
    changed_items: list[str] | None = None

    # --- opening -------------------------------------------------------------------------------

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
        checklist = load_checklist(loaded.checklist_path)
        secrets = secret_values(loaded)
        session = cls(
            config=loaded,
            env_name=env_name,
            checklist=checklist,
            store=StateStore(loaded.state_dir, env_name),
            audit=AuditLog(loaded.audit_path, secrets=secrets),
            secrets=secrets,
            operator=operator or Operator.current(),
            read_only=read_only or loaded.environment(env_name).read_only,
            via=via,
        )
        session.bindings = bind_checks(loaded, checklist, env_name)
        session.compiled = compile_checks(loaded, session.bindings)
        session._load_state()
        session._open_team()
        session._note_unfinished_rollbacks()
        return session

    def _open_team(self) -> None:
        """With the kubernetes backend: read the shared progress and send it what this audit
        log has that it lacks; the local state then mirrors it (unreachable: said, not fatal)."""
        cluster = self.environment.lock_cluster()
        if cluster is None:
            return
        from cockpit.sources.progress import SharedProgress

        shared = SharedProgress(
            cluster,
            self.config,
            namespace=self.environment.state.namespace or cluster.namespace,
            environment=self.env_name,
            watch_seconds=self.environment.state.watch_seconds,
        )
        self.team = TeamProgress(
            shared,
            self.store,
            self.audit,
            environment=self.env_name,
            me=self.operator.user,
            apply=apply_entry,
            describe=self._describe_item,
            read_only=self.read_only,
        )
        self.team.connect()
        self.snapshot = self.store.load()
        self._seen_mtime = self.store.mtime_ns()

    def _describe_item(self, item_id: str) -> str:
        item = self.checklist.item(item_id)
        return repr(item.text) if item is not None else item_id

    @property
    def environment(self) -> EnvironmentConfig:
        return self.config.environment(self.env_name)

    @property
    def label(self) -> str:
        return self.environment.label or self.env_name

    def _load_state(self) -> None:
        """The state file, or, when it is damaged or missing, the state rebuilt from the audit
        log and saved: whichever command opens it first (a `report` too) repairs it for all."""
        missing = not self.store.path.exists() and not self.store.path.is_symlink()
        self.snapshot = self.store.load()
        self._seen_mtime = self.store.mtime_ns()
        corrupt = self.store.last_corruption
        if corrupt is not None:
            self.store.last_corruption = None
            rebuilt, saved = self._rebuild_from_audit()
            self.notices.append(
                f"state file {corrupt.path} was unreadable ({corrupt.reason}); it was moved to "
                f"{corrupt.moved_to} and {rebuilt} item(s) were restored from the audit log" + saved
            )
        elif missing:
            rebuilt, saved = self._rebuild_from_audit(only_if_any=True)
            if rebuilt:
                self.notices.append(
                    f"state file {self.store.path} was missing; {rebuilt} item(s) were "
                    "restored from the audit log" + saved
                )

    def _note_unfinished_rollbacks(self) -> None:
        """A rollback whose request is audited but whose outcome is not: the cockpit stopped
        (killed, crashed, the machine went down) while waiting for the API server."""
        pending: dict[tuple[str, str], AuditEntry] = {}
        for entry in self._timeline():
            key = (str(entry.fields.get("cluster")), str(entry.fields.get("deployment")))
            if entry.action == "rollback_requested":
                pending[key] = entry
            elif entry.action == "rollback":
                pending.pop(key, None)
        for (cluster, deployment), entry in pending.items():
            self.notices.append(
                f"a rollback of {deployment} (cluster {cluster}) to revision "
                f"{entry.fields.get('to_revision')} was requested at {entry.ts[:19]} by "
                f"{entry.fields.get('actor')}, and no outcome was recorded: the cockpit stopped "
                "while waiting for the API server. Check the deployment's revision in the "
                "rollout pane (or `cockpit status`) before rolling back again."
            )

    def _timeline(self) -> list[AuditEntry]:
        """The audit's timeline of this environment as it was at open (first entry, release
        starts, rollbacks, runs, latest verdict): from the audit index, not the whole log."""
        if self._timeline_entries is None:
            self._timeline_entries, _ = self.audit.timeline(self.env_name)
        return self._timeline_entries

    def _rebuild_from_audit(self, *, only_if_any: bool = False) -> tuple[int, str]:
        """Fold this environment's audit entries into a state and save it; (items, a note on
        the saving). A read-only cockpit saves it too (it is the cockpit's own record, not an
        effect), without an audit line of its own; when it cannot write, it says so."""
        records: dict[str, ItemRecord] = {}
        for entry in self.audit.entries(self.env_name):
            apply_entry(records, entry)
        if only_if_any and not records:
            return 0, ""
        try:
            if self.read_only:
                head = self.audit.head()
            else:
                head = _head(self._audit("state_rebuilt", items=len(records)))
            self.snapshot = self.store.update(lambda items: items.update(records), audit_head=head)
        except StateError as exc:
            if not self.read_only:
                raise
            self.snapshot = StateSnapshot(environment=self.env_name, items=records)
            return len(records), f" (not saved: {exc.message})"
        self._seen_mtime = self.store.mtime_ns()
        return len(records), ""

    def reload_if_changed(self) -> bool:
        """Pick up changes another cockpit (or `cockpit mark`) made to the same state file."""
        with self._state_lock:
            return self._reload_if_changed()

    def _reload_if_changed(self) -> bool:
        mtime = self.store.mtime_ns()
        if mtime == self._seen_mtime:
            return False
        before = self.snapshot.items if self.snapshot is not None else None
        self._load_state()
        after = self.snapshot.items if self.snapshot is not None else {}
        if before is None or self.notices:  # rebuilt or recovered: everything may differ
            self.changed_items = None
        else:  # unchanged records are the very objects they were (or equal, after a re-read)
            self.changed_items = [
                key
                for key, record in after.items()
                if (old := before.get(key)) is not record and old != record
            ] + [key for key in before if key not in after]
        return True

    # --- reading -------------------------------------------------------------------------------

    def view(self, item: ChecklistItem) -> ItemView:
        assert self.snapshot is not None
        record = self.snapshot.record(item.id)
        checks = self.bindings.get(item.id, ())
        if record is not None and record.status != "pending":
            return ItemView(item, record.status, record, "state", checks)
        if item.done_in_document:
            return ItemView(item, "done", record, "document", checks)
        return ItemView(item, "pending", record, "none", checks)

    def progress(self, section: Section | None = None) -> Progress:
        items: Iterable[ChecklistItem] = (
            section.walk_items() if section is not None else self.checklist.items()
        )
        total = done = skipped = failed = running = 0
        for item in items:
            status = self.view(item).status
            total += 1
            done += status in ("done", "passed")
            skipped += status == "skipped"
            failed += status == "failed"
            running += status == "running"
        return Progress(total, done, skipped, failed, running)

    def find_item(self, reference: str) -> ChecklistItem:
        """An item by ID or exact text; an unknown one gets the nearest IDs suggested."""
        found = self.checklist.resolve(reference)
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise CockpitError(
                f"{reference!r} matches {len(found)} items",
                "use the item ID instead: " + ", ".join(i.id for i in found),
            )
        ids = [item.id for item in self.checklist.items()]
        close = difflib.get_close_matches(reference, ids, n=3, cutoff=0.5)
        hint = (
            "did you mean: " + ", ".join(close)
            if close
            else "`cockpit checklist` lists every item with its ID"
        )
        raise CockpitError(f"no checklist item {reference!r}", hint)

    # --- intents -------------------------------------------------------------------------------

    def mark_done(self, reference: str, note: str = "") -> ItemView:
        return self._set_status(reference, "mark", "done", note)

    def skip(self, reference: str, reason: str) -> ItemView:
        if not reason.strip():
            raise CockpitError(
                "skipping an item needs a reason", "give one with --note, e.g. --note 'n/a here'"
            )
        return self._set_status(reference, "skip", "skipped", reason.strip())

    def reopen(self, reference: str, reason: str = "") -> ItemView:
        return self._set_status(reference, "reopen", "pending", reason.strip())

    def add_note(self, reference: str, text: str) -> ItemView:
        if not text.strip():
            raise CockpitError("the note is empty", "type some text for the note")
        item = self.find_item(reference)
        self.refuse_if_read_only("add a note")
        self.refuse_if_unshared("add a note")
        self._record("note", item, note=text.strip())
        return self.view(item)

    def _set_status(self, reference: str, action: str, status: ItemStatus, note: str) -> ItemView:
        item = self.find_item(reference)
        self.refuse_if_read_only("change the checklist")
        self.refuse_if_unshared("change the checklist")
        self._record(action, item, status=status, note=note or None)
        return self.view(item)

    def begin(self) -> None:
        if not self.read_only:
            self._audit("session_start")

    def end(self) -> None:
        if not self.read_only:
            self._audit("session_end")

    def refuse_if_read_only(self, what: str) -> None:
        if self.read_only:
            raise CockpitError(
                f"read-only: cannot {what} in environment {self.env_name!r}",
                "start the cockpit without --read-only (and without read_only = true) to act",
            )

    def refuse_if_unshared(self, what: str) -> None:
        """With a shared backend whose store cannot be reached: refused, one line saying why."""
        if self.team is not None:
            self.team.refuse_if_unreachable(what)

    def _audit(self, action: str, **fields: Any) -> AuditEntry:
        entry = self.audit.append(action, self.env_name, self.operator, via=self.via, **fields)
        if self.team is not None:
            self.team.nudge()  # shared in the background (an item's entry at once, below)
        return entry

    # --- checks --------------------------------------------------------------------------------

    def checks_for(self, item_id: str) -> tuple[BoundCheck, ...]:
        return self.compiled.get(item_id, ())

    def check_context(self) -> CheckContext:
        return CheckContext(
            self.config, self.env_name, list(self.secrets), started=self.go_live_started()
        )

    async def run_items(
        self,
        items: Sequence[ChecklistItem],
        *,
        jobs: int | None = None,
        on_change: Callable[[ItemRunResult | ChecklistItem], object] | None = None,
    ) -> list[ItemRunResult]:
        """Run the bound checks of these items (bounded concurrency) and record each result.

        Each item: audit `run`, state `running`, the checks, then audit `result` and state
        `passed`/`failed` with the evidence. A cancel records `cancel` and restores what the
        item showed before the run.
        """
        runnable = [item for item in items if self.checks_for(item.id)]
        if not runnable:
            return []
        if not self.read_only:
            self.refuse_if_unshared("run checks")
        if self.read_only:
            effects = [
                f"{item.text!r} {effect}"
                for item in runnable
                for bound in self.checks_for(item.id)
                if (effect := bound.spec.effect()) is not None
            ]
            if effects:
                more = f" (and {len(effects) - 3} more)" if len(effects) > 3 else ""
                raise CockpitError(
                    "read-only: these checks would change something, so none was run: "
                    + "; ".join(effects[:3])
                    + more,
                    "run them in a cockpit that is not read-only, or leave those items out "
                    "(cockpit check --item ID)",
                )
        ctx = self.check_context()
        before: dict[str, ItemRecord | None] = {}
        pending: dict[str, list[tuple[BoundCheck, CheckResult]]] = {}
        finished: list[ItemRunResult] = []
        for item in runnable:
            assert self.snapshot is not None
            before[item.id] = self.snapshot.record(item.id)
            pending[item.id] = []
            if not self.read_only:
                names = [b.name for b in self.checks_for(item.id)]
                self._record("run", item, status="running", checks=names)
            if on_change:
                on_change(item)

        async def collect(bound: BoundCheck, result: CheckResult) -> None:
            results = pending[bound.item_id]
            results.append((bound, result))
            if len(results) < len(self.checks_for(bound.item_id)):
                return
            item = self.checklist.item(bound.item_id)
            assert item is not None
            outcome = ItemRunResult.of(item, results)
            finished.append(outcome)
            del pending[bound.item_id]
            if not self.read_only:
                self._record(
                    "result",
                    item,
                    status=outcome.status,
                    evidence=outcome.evidence,
                    checks=[
                        {
                            "check": b.name,
                            "passed": r.passed,
                            "evidence": r.evidence,
                            "seconds": round(r.duration, 3),
                            **({"reason": r.reason} if r.reason else {}),
                        }
                        for b, r in outcome.results
                    ],
                )
            if on_change:
                on_change(outcome)

        every = [bound for item in runnable for bound in self.checks_for(item.id)]
        try:
            await run_checks(
                every, ctx, jobs=jobs or self.environment.max_parallel_checks, on_result=collect
            )
        except asyncio.CancelledError:
            for item_id in list(pending):
                unfinished = self.checklist.item(item_id)
                if unfinished is None or self.read_only:
                    continue
                previous = before.get(item_id)
                self._record(
                    "cancel",
                    unfinished,
                    status=previous.status if previous else "pending",
                    evidence=previous.evidence if previous else None,
                )
                if on_change:
                    on_change(unfinished)
            raise
        return finished

    def _record(self, action: str, item: ChecklistItem, **fields: Any) -> AuditEntry:
        with self._state_lock:
            entry = self._audit(action, item=item.id, text=item.text, **fields)
            if self.team is not None:
                self.snapshot = self.team.record(entry, _head(entry))
            else:
                self.snapshot = self.store.update(
                    lambda items: apply_entry(items, entry), audit_head=_head(entry)
                )
            self._seen_mtime = self.store.mtime_ns()
            return entry

    # --- steps ---------------------------------------------------------------------------------

    def plan_step(self, item: ChecklistItem) -> StepPlan:
        """The exact commands a step would run here, or a CockpitError saying why not."""
        self.refuse_if_read_only("run commands")
        return plan_step(self.check_context(), item)

    async def run_step(
        self,
        item: ChecklistItem,
        *,
        on_line: Callable[[str], object] | None = None,
        on_script: Callable[[int], object] | None = None,
        before_next: BeforeNext | None = None,
        timeout: float | None = None,
    ) -> ItemRunResult:
        """Run a step's scripts in order, stopping at the first that fails; audited.

        A production step with several scripts runs only with `before_next` (the operator
        reads each script's output and confirms the next). Cut short (stopped between two
        scripts, or cancelled), the audit keeps what ran: see `_cut_short`."""
        self.refuse_if_read_only("run commands")
        self.refuse_if_unshared("run commands")
        plan = self.plan_step(item)
        if plan.production and len(plan.commands) > 1 and before_next is None:
            raise CockpitError(
                f"step {item.text!r} has {len(plan.commands)} scripts and this is production: "
                "each next script waits for the operator",
                "run it from the cockpit (r), which shows each script's output and asks again",
            )
        assert self.snapshot is not None
        previous = self.snapshot.record(item.id)
        self._record("run", item, status="running", commands=[c.display for c in plan.commands])
        progress = StepResult(passed=True, evidence="")
        try:
            result = await execute_step(
                plan,
                timeout=timeout or self.environment.step_timeout,
                on_line=on_line,
                on_script=on_script,
                before_next=before_next,
                cwd=self.config.base_dir,
                secrets=self.secrets,
                result=progress,
            )
        except asyncio.CancelledError:
            self._cut_short(item, previous, progress, f"cancelled {progress.where()}")
            raise
        if result.stopped_before is not None:
            status = self._cut_short(item, previous, result, result.evidence)
            return ItemRunResult(item, False, result.evidence, (), stopped=True, recorded=status)
        outcome = ItemRunResult(item, result.passed, result.evidence, ())
        self._record(
            "result",
            item,
            status=outcome.status,
            evidence=result.evidence,
            output_tail=list(result.tail)[-20:],
            exit_code=result.exit_code,
        )
        return outcome

    def _cut_short(
        self, item: ChecklistItem, previous: ItemRecord | None, run: StepResult, said: str
    ) -> ItemStatus:
        """Audit a step cut short with what ran (output, exit code, scripts done). None done:
        the item keeps the status it had; some done: failed, since the step is half done
        (a dry run and no apply, or an apply and not its check)."""
        if run.completed == 0:
            status: ItemStatus = previous.status if previous else "pending"
            evidence = previous.evidence if previous else None
        else:
            status, evidence = "failed", f"{said}: the step is not complete"
        self._record(
            "cancel",
            item,
            status=status,
            evidence=evidence,
            note=said,
            output_tail=list(run.tail)[-20:],
            exit_code=run.exit_code,
            scripts_completed=run.completed,
            scripts=run.total,
        )
        return status

    # --- Kubernetes ----------------------------------------------------------------------------

    def cluster(self, name: str | None) -> ClusterConfig:
        clusters = self.environment.clusters
        if not clusters:
            raise CockpitError(
                f"environment {self.env_name!r} has no clusters",
                f"add [[environments.{self.env_name}.clusters]] to the config",
            )
        if name is None:
            return clusters[0]
        for cluster in clusters:
            if cluster.name == name:
                return cluster
        raise CockpitError(
            f"no cluster {name!r} in environment {self.env_name!r}",
            "clusters: " + ", ".join(c.name for c in clusters),
        )

    def clusters_with(self, deployment: str) -> list[ClusterConfig]:
        """The clusters that list this workload (NAME or KIND/NAME, any kind)."""
        return [c for c in self.environment.clusters if c.target(deployment) is not None]

    def action_lock(self) -> ActionLock | None:
        """The environment's action lock in the cluster store (None with the local backend)."""
        cluster = self.environment.lock_cluster()
        if cluster is None:
            return None
        if self._lock is None:
            from cockpit.sources.lease import holder_identity, lease_name

            self._lock = ActionLock(
                cluster,
                self.config,
                namespace=self.environment.state.namespace or cluster.namespace,
                name=lease_name("cockpit", self.env_name),
                identity=holder_identity(str(self.operator)),
                duration=self.environment.state.lease_seconds,
            )
        return self._lock

    def presence(self) -> Presence | None:
        """This operator's presence on the environment (None with the local backend)."""
        lock = self.action_lock()
        if lock is None:
            return None
        return Presence(lock, self.env_name)

    def break_lock(self) -> str | None:
        """Take the action lock from whoever holds it and release it (audited); who held it."""
        self.refuse_if_read_only("break the action lock")
        lock = self.action_lock()
        if lock is None:
            raise CockpitError(
                f"environment {self.env_name!r} has no action lock",
                'set [environments.NAME.state] backend = "kubernetes" to share one between '
                "cockpits on several bastions",
            )
        previous = lock.break_lock()
        self._audit("lock_broken", previous_holder=previous, lease=lock.where())
        return previous

    def hold_lock(self, doing: str) -> None:
        """Take the action lock for a decision in progress (a rollback being previewed), so
        no colleague acts while the operator reads; LeaseHeld names who has it. Re-entrant:
        the action itself takes it again. `release_lock` gives it back."""
        lock = self.action_lock()
        if lock is not None:
            lock.acquire(doing)

    def release_lock(self) -> None:
        lock = self.action_lock()
        if lock is not None:
            lock.release()

    @contextlib.contextmanager
    def _locked(self, doing: str, where: dict[str, Any]) -> Iterator[None]:
        """Hold the environment's action lock for one action, or refuse it (audited)."""
        lock = self.action_lock()
        if lock is None:
            yield
            return
        try:
            lock.acquire(doing)
        except CockpitError as exc:
            self._audit("lock_refused", **where, doing=doing, error=exc.message)
            raise
        try:
            yield
        finally:
            lock.release()

    def actions(self, cluster: ClusterConfig) -> DeploymentActions:
        cached = self._actions.get(cluster.name)
        if cached is None:
            cached = self._actions[cluster.name] = DeploymentActions(cluster, self.config)
        return cached

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
        """kubectl rollout undo, audited before (what was asked) and after (what happened).

        `plan`: the plan the operator saw and confirmed; exactly it is sent, and a Deployment
        changed since refuses it (RollbackConflict). Without one (automatic rollback), the
        plan is made now. `run`: the release analysis run an automatic rollback answers."""
        self.refuse_if_read_only("roll back")
        actions = self.actions(cluster)
        if plan is None:
            plan = actions.plan_rollback(deployment, to_revision)
        elif plan.deployment != deployment:
            raise CockpitError(f"the plan is for {plan.deployment}, not {deployment}")
        where = {
            "cluster": cluster.name,
            "namespace": cluster.namespace,
            "deployment": deployment,
            "trigger": trigger,
        }
        if plan.kind != "deployment":
            where["kind"] = plan.kind  # `deployment` names the workload, whatever its kind
        self._audit(
            "rollback_requested",
            run=run,
            **where,
            from_revision=plan.current_revision,
            to_revision=plan.target_revision,
            from_images=list(plan.current_images),
            to_images=list(plan.target_images),
            mid_rollout=plan.mid_rollout,
            resource_version=plan.resource_version,
            generation=plan.generation,
            # the operator was warned: this controller may put the old template back
            managed_by=[f"{m.tool} {m.name}".strip() for m in plan.managed_by],
        )
        try:
            with self._locked(f"the rollback of {deployment}", where):
                done = actions.send_rollback(plan)
        except CockpitError as exc:
            self._audit("rollback", **where, outcome="failed", error=exc.message)
            raise
        self._audit(
            "rollback",
            **where,
            outcome="sent",
            from_revision=done.current_revision,
            to_revision=done.target_revision,
            to_images=list(done.target_images),
        )
        return done

    def set_paused(self, cluster: ClusterConfig, deployment: str, paused: bool) -> None:
        self.refuse_if_read_only("pause or resume")
        action = "pause" if paused else "resume"
        where = {"cluster": cluster.name, "namespace": cluster.namespace, "deployment": deployment}
        self._audit(f"{action}_requested", **where)
        try:
            with self._locked(f"the {action} of {deployment}", where):
                self.actions(cluster).set_paused(deployment, paused)
        except CockpitError as exc:
            self._audit(action, **where, outcome="failed", error=exc.message)
            raise
        self._audit(action, **where, outcome="sent")

    # --- verdict -------------------------------------------------------------------------------

    def go_live_started(self) -> datetime | None:
        """When this environment's go-live began: its first audit entry (survives restarts)."""
        if self._started is None:
            for entry in self._timeline():
                self._started = _parse_ts(entry.ts)
                break
            if self._started is None:  # nothing audited at open: the first entry since
                for entry in self.audit.entries(self.env_name):
                    self._started = _parse_ts(entry.ts)
                    break
        return self._started

    def start_release(self, version: str, *, deploy_marker: bool = True) -> str:
        """Audit the start of a release; on Sentry, create the deploy marker too."""
        self.refuse_if_read_only("start a release")
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._+@-]*$", version):
            raise CockpitError(
                f"{version!r} is not a release version",
                "use letters, digits, '.', '_', '-', '+' or '@'",
            )
        tracker = self.environment.errors
        marker = deploy_marker and tracker is not None and tracker.provider == "sentry"
        self._audit("release_start", version=version, deploy_marker=marker)
        self._release = version
        if not marker:
            return f"release {version} started"
        from cockpit.checks.base import CheckContext
        from cockpit.sources.errors import SentryClient, TrackerError, sentry_release

        assert tracker is not None
        release = sentry_release(tracker, version)
        ctx = CheckContext(self.config, self.env_name)
        client = SentryClient(
            tracker,
            ctx.secret(tracker.token_env, tracker.token_file, "token"),
            self.env_name,
            timeout=tracker.timeout,
        )
        try:
            client.create_deploy(release)
        except TrackerError as exc:
            self._audit(
                "deploy_marker", version=version, release=release, outcome="failed", error=str(exc)
            )
            raise CockpitError(f"release {version} started, but {exc}") from exc
        finally:
            client.close()
        self._audit("deploy_marker", version=version, release=release, outcome="created")
        return (
            f"release {version} started; Sentry deploy marker created for {release} in "
            f"{client.environment}"
        )

    def record_verdict(self, result: Verdict, metric_states: Sequence[MetricState]) -> None:
        """Audit a verdict change with every metric's value: the report's key moments."""
        if self.read_only:
            return
        from cockpit.report import verdict_fields

        self._audit("verdict", **verdict_fields(result, list(metric_states)))

    def analysis_started(self) -> datetime | None:
        """Where gate analysis starts: the go-live, or the latest release start or rollback
        since (a rolled-back release's failures are history, not the current verdict)."""
        with self._analysis_lock:  # asked by the metrics thread at every poll: read only what
            # was appended since the last time, not the whole log
            if self._analysis_offset == 0:  # the first look: the timeline, from the index
                entries, self._analysis_offset = self.audit.timeline(self.env_name)
            else:
                entries, self._analysis_offset = self.audit.entries_after(
                    self._analysis_offset, self.env_name
                )
            if self._analysis_offset < self._analysis_seen:
                self._analysis_latest = None  # the log was replaced: read again from the start
            self._analysis_seen = self._analysis_offset
            latest = self._analysis_latest or self.go_live_started()
            for entry in entries:
                sent = entry.action == "rollback" and entry.fields.get("outcome") == "sent"
                if sent or entry.action == "release_start":
                    moment = _parse_ts(entry.ts)
                    if moment is not None and (latest is None or moment > latest):
                        latest = moment
            self._analysis_latest = latest
            return latest

    def _release_started(self) -> str | None:
        """The version of the latest `release start`: read from the audit once, then kept
        (the verdict bar asks on every update; this must not re-read the log each time)."""
        if self._release is None:
            self._release = ""
            for entry in self.audit.timeline(self.env_name)[0]:
                if entry.action == "release_start" and isinstance(entry.fields.get("version"), str):
                    self._release = str(entry.fields["version"])
        return self._release or None

    def release_version(self, views: Sequence[DeploymentView] = ()) -> str | None:
        """The version running now: the watched images' tag (what the cluster runs, whoever
        changed it), else the latest `release start`, else the configured placeholder."""
        for view in views:
            for image in view.images:
                if ":" in image.rsplit("/", 1)[-1]:
                    return image.rsplit(":", 1)[1]
        return self._release_started() or self.environment.placeholders.get("version")

    def verdict(
        self,
        metrics: Sequence[MetricState],
        snapshots: Sequence[ClusterSnapshot],
        errors: ErrorFeed | None = None,
        run: RunStatus | None = None,
        now: datetime | None = None,
    ) -> Verdict:
        """The verdict from these sources' latest data (the live board passes its own)."""
        now = now or datetime.now(UTC)
        facts = []
        for shot in snapshots:
            blind = not (shot.connected and shot.synced)
            for view in shot.deployments:
                if blind and not view.found:
                    continue  # the cluster's own "cannot see" line says it once for its rows
                facts.append(
                    RolloutFact(
                        name=f"{view.cluster}/{view.name}",
                        complete=view.found and view.verdict.state == "complete",
                        failing=view.failing,
                        message=(str(view.trouble[0]) if view.trouble else view.verdict.message),
                    )
                )
        by_name = {s.cluster: s for s in snapshots}
        unseen: list[str] = []
        for cluster in self.environment.clusters:
            snapshot = by_name.get(cluster.name)
            if snapshot is None or not snapshot.synced:
                why = f": {snapshot.last_error}" if snapshot and snapshot.last_error else ""
                unseen.append(f"cannot see cluster {cluster.name}: not listed yet{why}")
            elif not snapshot.connected:
                age = snapshot.stale_for(now)
                since = f" for {duration_text(age)}" if age is not None else ""
                unseen.append(f"cannot see cluster {cluster.name}{since}: {snapshot.last_error}")
        failed = [
            v.item.text for v in map(self.view, self.checklist.items()) if v.status == "failed"
        ]
        gate, why = self._errors_gate(errors)
        return verdict(
            VerdictInputs(
                metrics=tuple(metrics),
                rollouts=tuple(facts),
                failed_items=tuple(failed),
                unseen_clusters=tuple(unseen),
                errors=gate,
                errors_reason=why,
                run=run,
            )
        )

    def _errors_gate(self, errors: ErrorFeed | None) -> tuple[ErrorsGateState | None, str]:
        tracker = self.environment.errors
        if tracker is None or not tracker.gate:
            return None, ""
        if errors is None or errors.fetched_at is None:
            return "unknown", "no answer from the error tracker yet"
        if errors.consecutive_errors >= tracker.consecutive_error_limit:
            return (
                "error",
                f"{errors.consecutive_errors} polls in a row failed: {errors.last_error}",
            )
        if errors.last_error:
            return "stale", f"cannot see the error tracker: {errors.last_error}"
        if errors.spike is None:
            return "unknown", "no event counts from the error tracker yet"
        if errors.spike.spiking:
            return "spike", errors.spike.reason
        if tracker.max_new_issues is not None:
            since = errors.run_started
            new = [
                issue
                for issue in errors.issues
                if issue.badge == "NEW"
                and issue.level in tracker.new_issue_levels
                and (since is None or issue.first_seen is None or issue.first_seen >= since)
            ]
            if len(new) > tracker.max_new_issues:
                named = ", ".join(f"{i.short_id} {i.title[:50]}" for i in new[:3])
                more = f" and {len(new) - 3} more" if len(new) > 3 else ""
                return (
                    "new",
                    f"{len(new)} new {'/'.join(tracker.new_issue_levels)} issue(s) in this "
                    f"release (max_new_issues {tracker.max_new_issues}): {named}{more}",
                )
        if tracker.release_health is not None:
            health = errors.health
            if health is None:
                return "unknown", "release health: no answer from Sentry's sessions yet"
            if health.failing:
                return "new", f"release health: {health.reason}"
            if not health.judged:
                return "unknown", f"release health: {health.reason}"
        return "ok", ""

    # --- output --------------------------------------------------------------------------------

    def checklist_json(self) -> dict[str, Any]:
        total = self.progress()

        def section_json(section: Section) -> dict[str, Any]:
            progress = self.progress(section)
            return {
                "id": section.id,
                "title": section.title,
                "level": section.level,
                "line": section.line,
                "total": progress.total,
                "done": progress.done,
                "skipped": progress.skipped,
                "failed": progress.failed,
                "items": [item_json(item) for item in section.items],
                "sections": [section_json(child) for child in section.sections],
            }

        def item_json(item: ChecklistItem) -> dict[str, Any]:
            view = self.view(item)
            out: dict[str, Any] = {
                "id": item.id,
                "text": item.text,
                "kind": view.kind,
                "status": view.status,
                "line": item.line,
                "scripts": item.scripts,
            }
            if item.parent_id:
                out["parent"] = item.parent_id
            if item.notes:
                out["notes"] = item.notes
            if view.checks:
                out["checks"] = [binding.type for binding in view.checks]
            record = view.record
            if view.source == "document":
                out["by"] = "document"
            elif record is not None and view.source == "state":
                out["by"] = record.by
                if record.address:
                    out["from"] = record.address
                if record.at:
                    out["at"] = record.at.isoformat()
            if record is not None and record.note:
                out["note"] = record.note
            if record is not None and record.evidence:
                out["evidence"] = record.evidence
            return out

        return {
            "title": self.checklist.title,
            "environment": self.env_name,
            "total": total.total,
            "done": total.done,
            "skipped": total.skipped,
            "failed": total.failed,
            "pending": total.pending,
            "sections": [section_json(section) for section in self.checklist.sections],
        }

    def orphaned_records(self) -> list[str]:
        """State records whose item no longer exists in the runbook (kept, never dropped)."""
        assert self.snapshot is not None
        ids = {item.id for item in self.checklist.items()}
        return sorted(k for k in self.snapshot.items if k not in ids)


def apply_entry(items: MutableMapping[str, ItemRecord], entry: AuditEntry) -> None:
    """Fold one audit entry into item records; used for live updates and for rebuilding.

    Notes accumulate ("[HH:MM user] text" per line); a status change never drops them.
    """
    if entry.action not in STATE_ACTIONS:
        return
    item_id = entry.fields.get("item")
    if not isinstance(item_id, str):
        return
    current = items.get(item_id, ItemRecord())
    at = _parse_ts(entry.ts)
    by = entry.fields.get("actor")
    note = str(entry.fields.get("note") or "")
    merged_note = current.note
    if note:
        line = f"[{at:%H:%M} {by}] {note}" if at else note
        merged_note = f"{current.note}\n{line}" if current.note else line
    status = entry.fields.get("status")
    if entry.action == "note" or status not in ITEM_STATUSES:
        items[item_id] = replace(current, note=merged_note)
        return
    address = entry.fields.get("from")
    evidence = entry.fields.get("evidence")
    items[item_id] = ItemRecord(
        status=status,
        by=str(by) if by else None,
        address=str(address) if address else None,
        at=at,
        note=merged_note,
        evidence=str(evidence) if evidence else "",
    )


def bind_checks(
    loaded: LoadedConfig, checklist: Checklist, env_name: str
) -> dict[str, tuple[CheckBinding, ...]]:
    """[[checks]] -> item IDs; a binding that names no item, or several, is a config error."""
    bound: dict[str, list[CheckBinding]] = {}
    problems: list[str] = []
    ids = [item.id for item in checklist.items()]
    for index, binding in enumerate(loaded.model.checks):
        where = f"{loaded.path}: checks[{index}].item"
        if binding.environments is not None:
            unknown = [e for e in binding.environments if e not in loaded.model.environments]
            if unknown:
                problems.append(
                    f"{loaded.path}: checks[{index}].environments: unknown environment(s) "
                    f"{', '.join(unknown)}"
                )
            if env_name not in binding.environments:
                continue
        found = checklist.resolve(binding.item)
        if not found:
            close = difflib.get_close_matches(binding.item, ids, n=1, cutoff=0.5)
            suggestion = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"{where}: no item with ID or text {binding.item!r}{suggestion}")
        elif len(found) > 1:
            problems.append(
                f"{where}: {binding.item!r} matches {len(found)} items; use one of the IDs: "
                + ", ".join(item.id for item in found)
            )
        else:
            bound.setdefault(found[0].id, []).append(binding)
    if problems:
        raise ConfigError(
            f"{len(problems)} check binding(s) do not resolve",
            "bind by item ID (see `cockpit checklist`) or by the item's exact text",
            details=problems,
        )
    return {key: tuple(value) for key, value in bound.items()}


def compile_checks(
    loaded: LoadedConfig, bindings: dict[str, tuple[CheckBinding, ...]]
) -> dict[str, tuple[BoundCheck, ...]]:
    index_of = {id(binding): i for i, binding in enumerate(loaded.model.checks)}
    return {
        item_id: tuple(compile_binding(index_of[id(b)], item_id, b) for b in item_bindings)
        for item_id, item_bindings in bindings.items()
    }


def _head(entry: AuditEntry) -> AuditHead:
    return AuditHead(seq=entry.seq, hash=entry.hash)


def _parse_ts(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
