"""Release analysis runs: which revision the verdict is judging, and what became of it.

A run starts whenever a watched workload (Deployment, StatefulSet, DaemonSet, Argo Rollout)
gets a new pod template, whoever changed it: the cockpit, `kubectl set image`, CI, a GitOps
controller. A template that comes back (a rollback,
from the cockpit or `kubectl rollout undo`) ends the run as rolled back and starts a run for
the restored revision. Within a run a failure is final (fail fast, and the run stays Failed
until a newer run starts), and GO needs the bake time. Runs and their outcomes are audit
entries (`run_start`, `run_failed`, `run_passed`, `run_end`), so a restarted cockpit,
`cockpit status` and `cockpit gate` all judge the same run.

The rollback target follows from the runs: the last revision that was live and did not fail
before the failed run; never a revision whose run failed.

A live process keeps the last `KEEP_RUNS` runs, not the whole history (two rollouts a second
would otherwise grow it without end): what the verdict needs of older runs is kept per workload
instead, bounded by its distinct revisions: the templates it ever ran (a template that comes
back is a rollback), those of runs that failed (never a rollback target), and the latest run
of each of its last `HELD_PER_WORKLOAD` templates (where a rollback target comes from). The
report reads every run from the audit log.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from cockpit.audit import RUN_ACTIONS, AuditEntry, AuditLog
from cockpit.identity import Operator
from cockpit.rollout import (
    JSON,
    images_of,
    owned_replicasets,
    parse_time,
    revision_number,
    revision_pods,
    revision_template,
    template_digest,
)

RunKind = Literal["baseline", "rollout", "rollback"]
OBSERVED = "observed in the cluster"


KEEP_RUNS = 50  # runs a live process keeps (the current one and those before it)
HELD_PER_WORKLOAD = 20  # templates per workload a rollback target may come from (twice the
# default revisionHistoryLimit: an older one has no ReplicaSet left to roll back to)
KEEP_ROLLBACKS = 100  # the cockpit's own sent rollbacks kept to say who made a run


@dataclass(frozen=True, slots=True)
class Workload:
    """One watched Deployment at one pod template."""

    cluster: str
    deployment: str
    template: str  # template_digest of its pod template
    revision: int = 0
    images: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.cluster}/{self.deployment}"

    @property
    def label(self) -> str:
        version = ", ".join(_short_image(i) for i in self.images) or "?"
        return f"{self.deployment} rev {self.revision or '?'} ({version})"

    def as_json(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "deployment": self.deployment,
            "template": self.template,
            "revision": self.revision,
            "images": list(self.images),
        }

    @classmethod
    def from_json(cls, raw: Any) -> Workload | None:
        if not isinstance(raw, dict):
            return None
        try:
            return cls(
                cluster=str(raw["cluster"]),
                deployment=str(raw["deployment"]),
                template=str(raw["template"]),
                revision=int(raw.get("revision") or 0),
                images=tuple(str(i) for i in raw.get("images") or ()),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _short_image(image: str) -> str:
    tail = image.rsplit("/", 1)[-1]
    return tail.split(":", 1)[1] if ":" in tail else tail


@dataclass(frozen=True)
class ReleaseRun:
    id: str
    kind: RunKind
    started: datetime
    workloads: tuple[Workload, ...]
    changed: tuple[str, ...] = ()  # keys of the workloads this run changed
    by: str = OBSERVED
    failed: str | None = None
    failed_at: datetime | None = None
    passed_at: datetime | None = None
    ended: str | None = None
    values: tuple[tuple[str, str], ...] = ()  # each metric's value when it was judged
    # it replaced a run whose pods are suspect (it failed, was rolled back before it was
    # judged, or still waited for a failed run's pods to go): while those pods serve, what
    # the metrics show is theirs; its measurements count from `serving_at`, when none is left
    after_failure: bool = False
    serving_at: datetime | None = None
    # (workload key, template digest) of the suspect revisions whose pods must be gone
    suspects: tuple[tuple[str, str], ...] = ()
    seq: int = field(default=0, compare=False)  # its place in the history: 1 for the first run

    @property
    def measured_from(self) -> datetime | None:
        """Where this run's measurements (and its bake) count from; None: not yet, pods of
        a failed revision still serve."""
        return self.serving_at if self.after_failure else self.started

    @property
    def waiting(self) -> str | None:
        """Why this run is not measured yet, in the operator's words; None when it is."""
        if self.measured_from is not None:
            return None
        names = ", ".join(w.deployment for w in self.workloads if w.key in self.changed)
        what = names or "the run"
        return f"waiting for the rollout of {what}: pods of the replaced revision still serve"

    @property
    def templates(self) -> dict[str, str]:
        return {w.key: w.template for w in self.workloads}

    def workload(self, key: str) -> Workload | None:
        return next((w for w in self.workloads if w.key == key), None)

    @property
    def label(self) -> str:
        """What this run judges, in the operator's words."""
        changed = [w for w in self.workloads if w.key in self.changed]
        if self.kind == "baseline" or not changed:
            return "starting revisions " + ", ".join(w.label for w in self.workloads)
        what = ", ".join(w.label for w in changed)
        return f"back to {what}" if self.kind == "rollback" else what

    @property
    def outcome(self) -> str:
        if self.failed:
            return "failed"
        if self.passed_at:
            return "passed"
        return "running" if self.ended is None else "unjudged"


@dataclass(frozen=True)
class RollbackTarget:
    cluster: str
    deployment: str
    revision: int
    images: tuple[str, ...]
    why: str  # which run it comes from


@dataclass(frozen=True)
class RunStatus:
    """What the verdict needs to know about the current run."""

    run: ReleaseRun
    bake_remaining: float
    targets: tuple[RollbackTarget, ...] = ()
    no_target: str | None = None
    # workloads the failed run changed that the clusters do not show now (not listed yet,
    # not answering): their rollback target cannot be named until they are seen
    unseen: tuple[str, ...] = ()


def workloads_of(
    views: Iterable[Any], cache: dict[tuple[str, str], str] | None = None
) -> list[Workload]:
    """The watched Deployments that exist, each at its current pod template. `cache` keeps
    digests by (uid, resourceVersion): the same version of an object has the same template."""
    found: list[Workload] = []
    for view in views:
        deployment: JSON | None = view.deployment
        if deployment is None:
            continue
        metadata = deployment.get("metadata", {})
        key = (str(metadata.get("uid") or ""), str(metadata.get("resourceVersion") or ""))
        cached = cache is not None and all(key)
        digest = cache.get(key) if cache is not None and cached else None
        if digest is None:
            template = deployment.get("spec", {}).get("template", {})
            digest = template_digest(template if isinstance(template, dict) else {})
            if cache is not None and cached:
                if len(cache) > 10_000:
                    cache.clear()
                cache[key] = digest
        found.append(
            Workload(
                cluster=view.cluster,
                deployment=view.name,
                template=digest,
                revision=view.revision,
                images=tuple(view.images),
            )
        )
    return found


def latest_manager(deployment: JSON) -> str | None:
    """The field manager that last changed the Deployment (kubectl-set, argocd, helm...)."""
    entries = deployment.get("metadata", {}).get("managedFields") or []
    best: tuple[str, str] | None = None
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("manager"):
            continue
        stamp = str(entry.get("time") or "")
        if best is None or stamp >= best[0]:
            best = (stamp, str(entry["manager"]))
    return best[1] if best else None


@dataclass(frozen=True, slots=True)
class _Held:
    """The latest run that ran a workload at one template."""

    workload: Workload
    seq: int
    passed: bool


class RunHistory:
    """Runs folded from audit entries, in order: what the report and every process read.

    `runs` holds the last `keep` runs (all of them when None, as the report lists them); the
    indexes below cover every run folded, each bounded by the workloads' distinct templates."""

    keep: int | None = None

    def __init__(self) -> None:
        self._clear()

    def _clear(self) -> None:
        self.runs: list[ReleaseRun] = []
        self._count = 0  # runs folded or started, whether still in `runs` or not
        self._rollbacks: list[AuditEntry] = []  # the cockpit's own sent rollbacks (the last few)
        self._auto: set[str] = set()  # runs an automatic rollback was already made for
        self.last_verdict: tuple[str, str | None] | None = None  # state and run, by anyone
        self._aliases: dict[str, str] = {}  # duplicate run ids -> the run they repeat
        self._seen: dict[str, set[str]] = {}  # workload key -> every template it ran
        self._failed: dict[str, dict[str, Workload]] = {}  # key -> templates of failed runs
        self._held: dict[str, dict[str, _Held]] = {}  # key -> template -> its latest run, by age
        self._let_go: set[str] = set()  # keys whose oldest templates left `_held`

    @classmethod
    def of(cls, entries: Iterable[AuditEntry]) -> RunHistory:
        history = cls()  # keeps every run
        for entry in entries:
            history._fold(entry)
        return history

    def _fold(self, entry: AuditEntry) -> None:
        f = entry.fields
        if entry.action == "rollback" and f.get("outcome") == "sent":
            self._rollbacks.append(entry)
            del self._rollbacks[:-KEEP_ROLLBACKS]
        auto = entry.action == "rollback_requested" and f.get("trigger") == "auto_rollback"
        if auto and isinstance(f.get("run"), str):
            self._auto.add(str(f["run"]))
        if entry.action == "verdict":
            run = f.get("run")
            self.last_verdict = (str(f.get("state")), run if isinstance(run, str) else None)
        if entry.action not in RUN_ACTIONS:
            return
        run_id = f.get("run")
        at = _parse_ts(f.get("at")) or _parse_ts(entry.ts) or datetime.now(UTC)
        if entry.action == "run_start":
            workloads = tuple(
                w for w in map(Workload.from_json, f.get("workloads") or ()) if w is not None
            )
            current = self.current
            if current is not None and current.templates == {w.key: w.template for w in workloads}:
                # another process recorded the same run at the same time: it is the one we
                # have, and what it records about its id is about ours
                if run_id and str(run_id) != current.id:
                    self._aliases[str(run_id)] = current.id
                return
            if current is not None and current.ended is None:
                self._replace(replace(current, ended=str(f.get("ends") or "superseded")))
            kind = (
                f.get("kind") if f.get("kind") in ("baseline", "rollout", "rollback") else "rollout"
            )
            begun = ReleaseRun(
                id=str(run_id or f"run-{entry.seq}"),
                kind=kind,  # type: ignore[arg-type]
                started=at,
                workloads=workloads,
                changed=tuple(str(c) for c in f.get("changed") or ()),
                by=str(f.get("by") or OBSERVED),
                after_failure=f.get("after_failure") is True,
                suspects=tuple(
                    (str(pair[0]), str(pair[1]))
                    for pair in f.get("suspects") or ()
                    if isinstance(pair, list) and len(pair) == 2
                ),
            )
            self._add(begun)
            return
        run = self._run(str(run_id))
        if run is None:
            return
        if entry.action == "run_revisions":  # the controller numbered the revision later
            workloads = tuple(
                w for w in map(Workload.from_json, f.get("workloads") or ()) if w is not None
            )
            if workloads and {w.key: w.template for w in workloads} == run.templates:
                self._replace(replace(run, workloads=workloads))
            return
        if entry.action == "run_workloads":  # watched workloads that joined a failed run
            known = {w.key for w in run.workloads}
            joined = tuple(
                w
                for w in map(Workload.from_json, f.get("workloads") or ())
                if w is not None and w.key not in known
            )
            if joined:
                self._replace(replace(run, workloads=run.workloads + joined))
            return
        if entry.action == "run_serving":  # the earliest of the processes that saw it
            if run.serving_at is None or at < run.serving_at:
                self._replace(replace(run, serving_at=at))
            return
        values = tuple((str(k), str(v)) for k, v in dict(f.get("values") or {}).items())
        if entry.action == "run_failed" and not run.failed:
            failure = str(f.get("reason") or "failed")
            self._replace(replace(run, failed=failure, failed_at=at, values=values))
        elif entry.action == "run_passed" and not run.passed_at:
            self._replace(replace(run, passed_at=at, values=values))
        elif entry.action == "run_end" and run.ended is None:
            self._replace(replace(run, ended=str(f.get("reason") or "ended")))

    def _run(self, run_id: str) -> ReleaseRun | None:
        run_id = self._aliases.get(run_id, run_id)
        return next((r for r in self.runs if r.id == run_id), None)

    def _add(self, run: ReleaseRun) -> ReleaseRun:
        """A new current run: indexed, and the oldest kept one let go beyond `keep`."""
        self._count += 1
        current = self.current
        prior = {w.key: w for w in current.workloads} if current is not None else {}
        # a run changes a few workloads: the others' records are the current run's, shared
        workloads = tuple(p if (p := prior.get(w.key)) == w else w for w in run.workloads)
        run = replace(run, seq=self._count, workloads=workloads)
        for w in run.workloads:
            self._seen.setdefault(w.key, set()).add(w.template)
            held = self._held.setdefault(w.key, {})
            held.pop(w.template, None)  # to the end: the newest
            held[w.template] = _Held(w, run.seq, run.passed_at is not None)
            if len(held) > HELD_PER_WORKLOAD:
                del held[next(iter(held))]
                self._let_go.add(w.key)
        if run.failed:
            self._note_failed(run)
        runs = [*self.runs, run]
        if self.keep is not None and len(runs) > self.keep:
            runs = runs[-self.keep :]
            kept = {r.id for r in runs}
            self._aliases = {k: v for k, v in self._aliases.items() if v in kept}
            self._auto &= kept
        self.runs = runs
        return run

    def _replace(self, run: ReleaseRun) -> None:
        before = next((r for r in self.runs if r.id == run.id), None)
        self.runs = [run if r.id == run.id else r for r in self.runs]
        if before is None:
            return
        if run.failed and not before.failed:
            self._note_failed(run)
        if run.workloads != before.workloads or bool(run.passed_at) != bool(before.passed_at):
            for w in run.workloads:  # renumbered, or passed: where this run is the latest
                held = self._held.get(w.key, {})
                entry = held.get(w.template)
                if entry is not None and entry.seq == run.seq:
                    held[w.template] = _Held(w, run.seq, run.passed_at is not None)
                failed = self._failed.get(w.key, {})
                if run.failed and w.template in failed:
                    failed[w.template] = w

    def _note_failed(self, run: ReleaseRun) -> None:
        for w in run.workloads:
            self._failed.setdefault(w.key, {})[w.template] = w

    @property
    def current(self) -> ReleaseRun | None:
        runs = self.runs  # replaced whole, never changed in place: safe to read from any thread
        return runs[-1] if runs else None


class ReleaseAnalysis(RunHistory):
    """The runs of one environment, folded from the audit log and from what the cluster does.

    Thread-safe: cluster snapshots arrive from watcher threads while the screen asks for the
    verdict. Several processes (the TUI, `status`, `gate`) may observe the same change; each
    reads what the others recorded before recording a run itself, and a duplicate `run_start`
    for templates already being judged is folded into the run it repeats.
    """

    keep = KEEP_RUNS

    def __init__(
        self,
        audit: AuditLog,
        env_name: str,
        operator: Operator,
        *,
        read_only: bool = False,
        via: str = "cli",
        bake_seconds: float = 300.0,
    ) -> None:
        self.audit = audit
        self.env_name = env_name
        self.operator = operator
        self.read_only = read_only
        self.via = via
        self.bake_seconds = bake_seconds
        super().__init__()
        self._offset = 0
        self._size = 0
        self._lock = threading.RLock()
        self._digests: dict[tuple[str, str], str] = {}
        self.refresh()

    # --- reading the audit -------------------------------------------------------------------

    def refresh(self) -> None:
        """Fold in what was appended to the audit since the last read (by anyone)."""
        with self._lock:
            if self._offset == 0:  # the first read: the timeline, from the audit index
                entries, offset = self.audit.timeline(self.env_name)
            else:
                entries, offset = self.audit.entries_after(self._offset, self.env_name)
            if offset < self._size:  # the log was replaced: start again
                self._clear()
                entries, offset = self.audit.timeline(self.env_name)
            self._offset = self._size = offset
            for entry in entries:
                self._fold(entry)

    # --- observing the cluster ---------------------------------------------------------------

    def observe(self, views: Sequence[Any], now: datetime | None = None) -> ReleaseRun | None:
        """Every watched Deployment as the clusters show it now; returns the run that starts
        when their pod templates differ from the current run's, else None."""
        now = now or datetime.now(UTC)
        workloads = workloads_of(views, self._digests)
        if not workloads:
            return None
        with self._lock:
            self.refresh()
            current = self.current
            templates = {w.key: w.template for w in workloads}
            if current is not None and current.templates == templates:
                self._update_revisions(current, workloads)
                self._note_serving(current, views, now)
                return None
            by_key = {v_key(v): v for v in views}
            if current is None:
                # The first look. A Deployment whose new ReplicaSet is younger than the bake
                # time is being released right now (the cockpit was started late): its
                # baseline is the revision before, from the ReplicaSet history, and the
                # release gets a run of its own below.
                young = max(self.bake_seconds, MIN_YOUNG_SECONDS)
                before_release = [_previous(by_key.get(w.key), now, young) or w for w in workloads]
                baseline = ReleaseRun(
                    id=self._new_id(now),
                    kind="baseline",
                    started=_baseline_start(views, now).replace(microsecond=0),
                    workloads=tuple(before_release),
                    by=OBSERVED if before_release == workloads else f"{OBSERVED} (history)",
                )
                baseline = self._start(baseline, ends=None)
                if before_release == workloads:
                    return baseline
                current = baseline
            before = current.templates
            changed = [w for w in workloads if before.get(w.key) != w.template]
            if not changed:  # a watched deployment went away: same pods judged, no new run
                self._note_serving(current, views, now)
                return None
            if current.failed and all(w.key not in before for w in changed):
                # a watched workload appeared (created, or readable again) while a failed
                # run's revisions still run: it joins that run, which stays failed; a run of
                # its own would end the failure and judge the failed pods' metrics as its own
                self._replace(replace(current, workloads=current.workloads + tuple(changed)))
                if not self.read_only:
                    self._append(
                        "run_workloads", run=current.id, workloads=[w.as_json() for w in changed]
                    )
                return None
            seen = self._seen
            rollback = any(
                w.template in seen.get(w.key, set()) or _adopted(by_key.get(w.key), current.started)
                for w in changed
            )
            started = now if rollback else _rollout_start(changed, by_key, current.started, now)
            started = started.replace(microsecond=0)  # as recorded: the same in every process
            suspects = _suspects(current, workloads, rollback=rollback)
            run = ReleaseRun(
                id=self._new_id(now),
                kind="rollback" if rollback else "rollout",
                started=started,
                workloads=tuple(workloads),
                changed=tuple(w.key for w in changed),
                by=self._who(changed, by_key, current.started),
                after_failure=bool(suspects),
                suspects=suspects,
            )
            ends = "rolled back" if rollback else "superseded by a newer revision"
            started_run = self._start(run, ends=ends)
            self._note_serving(started_run, views, now)
            return self._run(started_run.id) or started_run

    def _note_serving(self, run: ReleaseRun, views: Sequence[Any], now: datetime) -> None:
        """A run after a suspect one is measured from when, in every workload it changed, no
        pod of a suspect revision is left to make the metrics bad in its name."""
        if run.measured_from is not None:
            return
        by_key = {v_key(v): v for v in views}
        keys = dict.fromkeys([k for k, _ in run.suspects] or list(run.changed))
        for key in keys:
            view = by_key.get(key)
            suspect = {template for k, template in run.suspects if k == key}
            if view is None or not suspects_gone(view, suspect):
                return
        at = now.replace(microsecond=0)  # as the audit log records it, for every process
        self._replace(replace(run, serving_at=at))
        if not self.read_only:
            self._append("run_serving", run=run.id, at=at.isoformat(timespec="seconds"))

    def _update_revisions(self, run: ReleaseRun, workloads: list[Workload]) -> None:
        """A rollback adopts an old ReplicaSet and renumbers it after the run began."""
        fresh = {w.key: w for w in workloads}
        updated = tuple(
            replace(w, revision=fresh[w.key].revision)
            if w.key in fresh and fresh[w.key].revision and fresh[w.key].revision != w.revision
            else w
            for w in run.workloads
        )
        if updated != run.workloads:
            self._replace(replace(run, workloads=updated))
            if not self.read_only:  # so the report and other processes name it rightly
                self._append("run_revisions", run=run.id, workloads=[w.as_json() for w in updated])

    def _who(self, changed: list[Workload], by_key: dict[str, Any], since: datetime) -> str:
        """The cockpit's own rollback by its operator, else what the cluster says."""
        for entry in reversed(self._rollbacks):
            at = _parse_ts(entry.ts)
            key = f"{entry.fields.get('cluster')}/{entry.fields.get('deployment')}"
            if at is not None and at >= since and any(w.key == key for w in changed):
                trigger = entry.fields.get("trigger")
                how = "automatic rollback" if trigger == "auto_rollback" else "rollback"
                return f"cockpit {how} by {entry.fields.get('actor')}"
        parts: list[str] = []
        for w in changed:
            view = by_key.get(w.key)
            manager = latest_manager((view.deployment if view is not None else None) or {})
            if manager:
                parts.append(f"{w.deployment} by {manager}")
        return OBSERVED + (f" ({'; '.join(parts)})" if parts else "")

    def _new_id(self, now: datetime) -> str:
        return f"run-{now:%Y%m%dT%H%M%S}-{self._count + 1}"

    def _start(self, run: ReleaseRun, *, ends: str | None) -> ReleaseRun:
        current = self.current
        if current is not None and current.ended is None:
            self._replace(replace(current, ended=ends or "superseded"))
        run = self._add(run)
        if not self.read_only:
            self._append(
                "run_start",
                run=run.id,
                kind=run.kind,
                at=run.started.isoformat(timespec="seconds"),
                workloads=[w.as_json() for w in run.workloads],
                changed=list(run.changed),
                by=run.by,
                ends=ends,
                label=run.label,
                after_failure=run.after_failure,
                suspects=[list(pair) for pair in run.suspects],
            )
            if current is not None and current.ended is None:
                self._append("run_end", run=current.id, reason=ends, outcome=current.outcome)
        return run

    def _append(self, action: str, **fields: Any) -> None:
        """Audit one run event; what others appended meanwhile is folded in too (our own
        entry is already in memory)."""
        ours = self.audit.append(action, self.env_name, self.operator, via=self.via, **fields)
        entries, self._offset = self.audit.entries_after(self._offset, self.env_name)
        self._size = self._offset
        for entry in entries:
            if entry.seq != ours.seq:
                self._fold(entry)

    # --- judging ----------------------------------------------------------------------------

    def judged(self, *, failed: str | None, passed: bool, values: dict[str, Any]) -> None:
        """What the latest verdict said of the current run: a failure is final for the run; a
        pass is recorded once."""
        with self._lock:
            run = self.current
            if run is None:
                return
            now = datetime.now(UTC)
            judged_values = tuple((k, str(v)) for k, v in values.items())
            if failed and not run.failed:
                self._replace(replace(run, failed=failed, failed_at=now, values=judged_values))
                if not self.read_only:
                    self._append(
                        "run_failed", run=run.id, reason=failed, label=run.label, values=values
                    )
            elif passed and not run.failed and not run.passed_at:
                self._replace(replace(run, passed_at=now, values=judged_values))
                if not self.read_only:
                    self._append("run_passed", run=run.id, label=run.label, values=values)

    def status(self, views: Sequence[Any], now: datetime | None = None) -> RunStatus | None:
        run = self.current
        if run is None:
            return None
        now = now or datetime.now(UTC)
        since = run.measured_from
        baked = (now - since).total_seconds() if since is not None else 0.0
        remaining = max(0.0, self.bake_seconds - baked)
        targets: list[RollbackTarget] = []
        no_target: str | None = None
        unseen: tuple[str, ...] = ()
        if run.failed:
            with self._lock:  # the per-workload indexes change in place as runs start
                targets, no_target = self.rollback_targets(run, views)
            shown = {v_key(v) for v in views if getattr(v, "deployment", None) is not None}
            keys = run.changed or tuple(w.key for w in run.workloads)
            unseen = tuple(key for key in keys if key not in shown)
        return RunStatus(run, remaining, tuple(targets), no_target, unseen)

    def rollback_targets(
        self, run: ReleaseRun, views: Sequence[Any]
    ) -> tuple[list[RollbackTarget], str | None]:
        """For each deployment the failed run changed (a baseline: each one), the revision of
        the last earlier run that did not fail, found among the Deployment's ReplicaSets.
        Called with the lock held (`status` does) when watcher threads may start runs.

        From the per-workload indexes, not the runs kept: the latest run at each template, and
        the templates of every run that failed (never a target, however long ago it failed).
        Meant for the current run (what the verdict judges); for an older one only templates
        no later run ran are candidates."""
        keys = list(run.changed) or [w.key for w in run.workloads]
        by_key = {v_key(v): v for v in views}
        targets: list[RollbackTarget] = []
        reasons: list[str] = []
        for key in keys:
            current = run.workload(key)
            view = by_key.get(key)
            if current is None or view is None or view.deployment is None:
                continue
            if _kind(view) == "rollout":
                reasons.append(
                    f"{key}: an Argo Rollout, rolled back by its controller: "
                    f"kubectl argo rollouts undo {view.name}"
                )
                continue
            failed = self._failed.get(key, {})
            source = next(
                (
                    held
                    for template, held in reversed(self._held.get(key, {}).items())
                    if template not in failed
                    and template != current.template
                    and (held.seq < run.seq or not run.seq)
                ),
                None,
            )
            if source is None:
                tried = sorted({w.label for w in failed.values()})
                older = (
                    f" among its last {HELD_PER_WORKLOAD} revisions" if key in self._let_go else ""
                )
                reasons.append(
                    f"{key}: no revision to roll back to that has not failed{older} "
                    f"(failed: {', '.join(tried) or current.label})"
                )
                continue
            workload = source.workload
            replicaset = _replicaset_with(view, workload.template)
            if replicaset is None:
                reasons.append(
                    f"{key}: {workload.label} was last good, but its ReplicaSet is gone "
                    "(revisionHistoryLimit): roll forward instead"
                )
                continue
            why = "passed" if source.passed else "live, not failed"
            targets.append(
                RollbackTarget(
                    cluster=workload.cluster,
                    deployment=workload.deployment,
                    revision=revision_number(_kind(view), replicaset),
                    images=workload.images,
                    why=f"{workload.label}: {why} before this run",
                )
            )
        return targets, "; ".join(reasons) or None

    def auto_rollback_due(self, run: ReleaseRun) -> bool:
        """At most one automatic rollback per failed run (across restarts: from the audit)."""
        with self._lock:
            self.refresh()
            return run.id not in self._auto

    def note_auto_rollback(self, run: ReleaseRun) -> None:
        with self._lock:
            self._auto.add(run.id)


def _suspects(
    current: ReleaseRun, workloads: list[Workload], *, rollback: bool
) -> tuple[tuple[str, str], ...]:
    """The revisions whose pods a new run must wait out before it is measured: those the
    run it replaces changed, when that run failed, was replaced before it passed (a
    rollback, or a newer release over one still being judged), or was itself still waiting
    (then its own suspects too, in every workload). A run that passed leaves none: its pods
    are good, and a failure while both serve is the new revision's; so does the baseline
    (the revisions live when the cockpit first looked)."""
    waiting = current.waiting is not None
    unjudged = current.kind != "baseline" and not current.passed_at
    if not (current.failed or waiting or unjudged or (rollback and not current.passed_at)):
        return ()
    now = {w.key: w.template for w in workloads}
    pairs: list[tuple[str, str]] = []
    for key in current.changed or tuple(w.key for w in current.workloads):
        replaced = current.workload(key)
        if replaced is not None:
            pairs.append((key, replaced.template))
    if waiting:
        pairs += list(current.suspects)
    # a suspect revision that comes back is this run's own: it is judged, not waited out
    return tuple(pair for pair in dict.fromkeys(pairs) if now.get(pair[0]) != pair[1])


def suspects_gone(view: Any, templates: set[str]) -> bool:
    """Whether no pod of these revisions serves in the workload any more. A Deployment or an
    Argo Rollout: each of their ReplicaSets is scaled to none (so a paused rollout or a
    canary step is measured once the suspect pods are gone); a StatefulSet or DaemonSet,
    whose pods are its own: its rollout is complete, as kubectl says it. Only once its
    controller has observed its spec: a status for the spec before proves nothing."""
    deployment = getattr(view, "deployment", None)
    if not getattr(view, "found", False) or not isinstance(deployment, dict):
        return False
    meta, status = deployment.get("metadata") or {}, deployment.get("status") or {}
    try:
        observed = int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
    except (TypeError, ValueError):
        return False
    if not observed:
        return False
    kind = _kind(view)
    if not templates:  # a run recorded without its suspects: its rollout complete
        return bool(view.verdict.state == "complete")
    if kind not in ("deployment", "rollout"):
        # a StatefulSet's or DaemonSet's pods are its own, labelled with their revision:
        # none of a suspect revision left (an OnDelete strategy, a partition included)
        found = False
        for revision in owned_replicasets(deployment, list(view.replicasets)):
            if template_digest(revision_template(kind, revision)) in templates:
                found = True
                if revision_pods(kind, deployment, revision, list(view.pods)):
                    return False
        return found or bool(view.verdict.state == "complete")
    if view.new_replicaset is None:
        return False  # its ReplicaSets not listed yet, or the new one not made yet
    for rs in owned_replicasets(deployment, list(view.replicasets)):
        if template_digest(revision_template(kind, rs)) not in templates:
            continue
        try:
            if int((rs.get("status") or {}).get("replicas") or 0) > 0:
                return False
        except (TypeError, ValueError):
            return False
    return True


def v_key(view: Any) -> str:
    return f"{view.cluster}/{view.name}"


MIN_YOUNG_SECONDS = 60.0


def _previous(view: Any, now: datetime, young_seconds: float) -> Workload | None:
    """The revision before the current one, when the current one is still young, or not
    made yet: a template in no revision is a release its controller has not begun (the
    first look came between `kubectl set image` and the controller), and what serves is
    the newest revision there is."""
    if view is None or view.deployment is None:
        return None
    current = view.new_replicaset
    if current is not None:
        created = _rs_created(view)
        if created is None or (now - created).total_seconds() > young_seconds:
            return None
    older = [
        rs for rs in owned_replicasets(view.deployment, list(view.replicasets)) if rs is not current
    ]
    if not older:
        return None
    kind = _kind(view)
    rs = max(older, key=lambda r: revision_number(kind, r))
    template = revision_template(kind, rs)
    return Workload(
        cluster=view.cluster,
        deployment=view.name,
        template=template_digest(template if isinstance(template, dict) else {}),
        revision=revision_number(kind, rs),
        images=tuple(images_of(template if isinstance(template, dict) else {})),
    )


def _kind(view: Any) -> str:
    return str(getattr(view, "kind", "deployment"))


def _replicaset_with(view: Any, template: str) -> JSON | None:
    """The revision (ReplicaSet or ControllerRevision) holding this pod template."""
    kind = _kind(view)
    for rs in owned_replicasets(view.deployment, list(view.replicasets)):
        if template_digest(revision_template(kind, rs)) == template:
            return rs
    return None


def _rs_created(view: Any) -> datetime | None:
    rs = view.new_replicaset if view is not None else None
    if rs is None:
        return None
    return parse_time(rs.get("metadata", {}).get("creationTimestamp"))


def _adopted(view: Any, since: datetime) -> bool:
    """The Deployment's template is an existing ReplicaSet's from before the current run:
    the template came back (a rollback), it was not rolled out anew."""
    created = _rs_created(view)
    return created is not None and created < since.replace(microsecond=0)


def _rollout_start(
    changed: list[Workload], by_key: dict[str, Any], previous: datetime, now: datetime
) -> datetime:
    """When the new pods began: the new ReplicaSet's creation, as the cluster recorded it."""
    moments = [c for w in changed if (c := _rs_created(by_key.get(w.key))) is not None]
    if not moments:
        return now  # the controller has not made the ReplicaSet yet
    return min(now, max(*moments, previous))


def _baseline_start(views: Sequence[Any], now: datetime) -> datetime:
    moments = [c for v in views if (c := _rs_created(v)) is not None]
    return min(now, max(moments)) if moments else now


def _parse_ts(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
