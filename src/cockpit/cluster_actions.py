"""What the cockpit does to clusters: rollbacks, pauses and resumes, under the action lock.

Each is audited before (what was asked) and after (what happened). With the Kubernetes state
backend, the environment's action lock (a Lease) is held for the action, so two cockpits on
two bastions never act on the same go-live at once; `hold_lock` keeps it while the operator
reads a rollback's preview.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from cockpit.audit import AuditEntry
from cockpit.config import ClusterConfig, EnvironmentConfig, LoadedConfig
from cockpit.errors import CockpitError
from cockpit.recording import Recorder
from cockpit.rollout import UndoPlan
from cockpit.sources.kube import DeploymentActions
from cockpit.sources.lease import ActionLock, Presence, holder_identity, lease_name


def unfinished_rollback_notice(entry: AuditEntry) -> str:
    """What the operator is told about a rollback audited as requested and never as done:
    the cockpit stopped (killed, crashed, the machine went down) while waiting for the API."""
    return (
        f"a rollback of {entry.fields.get('deployment')} (cluster {entry.fields.get('cluster')}) "
        f"to revision {entry.fields.get('to_revision')} was requested at {entry.ts[:19]} by "
        f"{entry.fields.get('actor')}, and no outcome was recorded: the cockpit stopped "
        "while waiting for the API server. Check the deployment's revision in the "
        "rollout pane (or `cockpit status`) before rolling back again."
    )


@dataclass
class ClusterActions:
    config: LoadedConfig
    recorder: Recorder
    _actions: dict[str, DeploymentActions] = field(default_factory=dict)
    _lock: ActionLock | None = None

    @property
    def env_name(self) -> str:
        return self.recorder.env_name

    @property
    def environment(self) -> EnvironmentConfig:
        return self.config.environment(self.env_name)

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

    def actions(self, cluster: ClusterConfig) -> DeploymentActions:
        cached = self._actions.get(cluster.name)
        if cached is None:
            cached = self._actions[cluster.name] = DeploymentActions(cluster, self.config)
        return cached

    # --- the action lock -----------------------------------------------------------------------

    def action_lock(self) -> ActionLock | None:
        """The environment's action lock in the cluster store (None with the local backend)."""
        cluster = self.environment.lock_cluster()
        if cluster is None:
            return None
        if self._lock is None:
            self._lock = ActionLock(
                cluster,
                self.config,
                namespace=self.environment.state.namespace or cluster.namespace,
                name=lease_name("cockpit", self.env_name),
                identity=holder_identity(str(self.recorder.operator)),
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
        self.recorder.refuse_if_read_only("break the action lock")
        lock = self.action_lock()
        if lock is None:
            raise CockpitError(
                f"environment {self.env_name!r} has no action lock",
                'set [environments.NAME.state] backend = "kubernetes" to share one between '
                "cockpits on several bastions",
            )
        previous = lock.break_lock()
        self.recorder.record("lock_broken", previous_holder=previous, lease=lock.where())
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
            self.recorder.record("lock_refused", **where, doing=doing, error=exc.message)
            raise
        try:
            yield
        finally:
            lock.release()

    # --- the actions ---------------------------------------------------------------------------

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
        self.recorder.refuse_if_read_only("roll back")
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
        self.recorder.record(
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
            self.recorder.record("rollback", **where, outcome="failed", error=exc.message)
            raise
        self.recorder.record(
            "rollback",
            **where,
            outcome="sent",
            from_revision=done.current_revision,
            to_revision=done.target_revision,
            to_images=list(done.target_images),
        )
        return done

    def set_paused(self, cluster: ClusterConfig, deployment: str, paused: bool) -> None:
        self.recorder.refuse_if_read_only("pause or resume")
        action = "pause" if paused else "resume"
        where = {"cluster": cluster.name, "namespace": cluster.namespace, "deployment": deployment}
        self.recorder.record(f"{action}_requested", **where)
        try:
            with self._locked(f"the {action} of {deployment}", where):
                self.actions(cluster).set_paused(deployment, paused)
        except CockpitError as exc:
            self.recorder.record(action, **where, outcome="failed", error=exc.message)
            raise
        self.recorder.record(action, **where, outcome="sent")
