"""The release analysis over a long go-live: the live process keeps a bounded run history, and
what the verdict needs of the runs it let go (failed revisions, templates seen, the last good
revision) is still right however long ago those runs were."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cockpit import analysis as analysis_module
from cockpit.analysis import HELD_PER_WORKLOAD, KEEP_RUNS, ReleaseAnalysis, RunHistory
from cockpit.audit import AuditLog
from cockpit.identity import Operator
from cockpit.sources.kube import DeploymentView

T0 = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


class Fleet:
    """Deployments in one cluster whose images change. Each keeps its newest `limit` old
    ReplicaSets, as the controller does with revisionHistoryLimit: a template that comes back
    after its ReplicaSet was deleted gets a new one, created then."""

    def __init__(self, names: list[str], limit: int = 10) -> None:
        self.limit = limit
        self.image = {name: f"{name}:1" for name in names}
        self.revision = dict.fromkeys(names, 1)
        self.rs = {name: {f"{name}:1": (1, T0)} for name in names}

    def roll(self, name: str, image: str, at: datetime) -> list[DeploymentView]:
        self.revision[name] += 1
        kept = self.rs[name]
        kept[image] = (self.revision[name], kept.get(image, (0, at))[1])
        self.image[name] = image
        old = sorted((rev, i) for i, (rev, _) in kept.items() if i != image)
        for _, gone in old[: max(0, len(old) - self.limit)]:
            del kept[gone]
        return self.views()

    def views(self) -> list[DeploymentView]:
        return [self._view(name) for name in self.image]

    def _view(self, name: str) -> DeploymentView:
        uid = f"uid-{name}"

        def template(image: str) -> dict:
            return {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": name, "image": image}]},
            }

        deployment = {
            "metadata": {
                "name": name,
                "uid": uid,
                "generation": 1,
                "annotations": {"deployment.kubernetes.io/revision": str(self.revision[name])},
            },
            "spec": {"replicas": 1, "template": template(self.image[name])},
            "status": {
                "observedGeneration": 1,
                "replicas": 1,
                "updatedReplicas": 1,
                "availableReplicas": 1,
                "readyReplicas": 1,
            },
        }
        replicasets = tuple(
            {
                "metadata": {
                    "name": f"{name}-{image.replace(':', '-')}",
                    "uid": f"rs-{image}",
                    "creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "annotations": {"deployment.kubernetes.io/revision": str(rev)},
                    "ownerReferences": [{"uid": uid, "controller": True}],
                },
                "spec": {"template": template(image)},
            }
            for image, (rev, created) in self.rs[name].items()
        )
        return DeploymentView("c", "ns", name, deployment, replicasets)


@pytest.fixture
def audit(tmp_path):
    return AuditLog(tmp_path / "audit.jsonl")


def live(audit: AuditLog) -> ReleaseAnalysis:
    return ReleaseAnalysis(audit, "prod", Operator("alice", None), bake_seconds=0)


def others_roll(runs: ReleaseAnalysis, fleet: Fleet, count: int, at: datetime) -> datetime:
    """`count` passing releases of the deployment `other`, a second apart."""
    for n in range(count):
        at += timedelta(seconds=1)
        assert runs.observe(fleet.roll("other", f"other:{n + 2}", at), at) is not None
        runs.judged(failed=None, passed=True, values={})
    return at


def test_the_history_a_live_process_keeps_is_bounded_and_the_report_still_has_every_run(audit):
    fleet = Fleet(["a", "b"], limit=2)
    runs = live(audit)
    at = T0
    runs.observe(fleet.views(), at)
    rollouts = max(KEEP_RUNS, 2 * HELD_PER_WORKLOAD) + 10  # more runs, templates than kept
    for n in range(rollouts):
        at += timedelta(seconds=1)
        runs.observe(fleet.roll("ab"[n % 2], f"{'ab'[n % 2]}:{n + 2}", at), at)
        runs.judged(failed="gate p95 failed" if n % 7 == 0 else None, passed=True, values={})
    assert len(runs.runs) == KEEP_RUNS
    assert runs.current is not None and runs.current.workloads[1].images == (f"b:{rollouts + 1}",)
    held = runs._held  # the latest run of each template, for rollback targets
    assert set(held) == {"c/a", "c/b"}
    assert all(len(templates) == HELD_PER_WORKLOAD for templates in held.values())
    assert len({r.id for r in runs.runs}) == KEEP_RUNS  # ids stay unique past the window
    # each run changed one workload: the other's record is shared with the run before
    assert len({id(w) for r in runs.runs for w in r.workloads}) == KEEP_RUNS + 1
    # another process, started now, keeps as little
    assert len(live(audit).runs) == KEEP_RUNS
    # the report folds the whole log: every run
    everything = RunHistory.of(audit.entries(environment="prod"))
    assert len(everything.runs) == rollouts + 1
    assert len({r.id for r in everything.runs}) == rollouts + 1


def test_a_revision_whose_run_failed_long_ago_is_never_a_rollback_target(audit):
    fleet = Fleet(["app", "other"])
    runs = live(audit)
    runs.observe(fleet.views(), T0)
    runs.judged(failed=None, passed=True, values={})  # app:1 passed
    at = T0 + timedelta(minutes=1)
    runs.observe(fleet.roll("app", "app:2", at), at)
    runs.judged(failed="gate p95 failed", passed=False, values={})  # app:2 failed, left running
    # many passing releases of another deployment while app:2 stays: each ran app:2
    at = others_roll(runs, fleet, 3 * KEEP_RUNS, at)
    assert all(not r.failed for r in runs.runs)  # the failed run was let go
    at += timedelta(seconds=1)
    views = fleet.roll("app", "app:3", at)
    runs.observe(views, at)
    runs.judged(failed="gate p95 failed", passed=False, values={})
    status = runs.status(views, at)
    assert status is not None and status.no_target is None
    # not app:2 (the runs just before ran it, but its own run failed): app:1, long past
    assert [(t.deployment, t.revision, t.images) for t in status.targets] == [
        ("app", 1, ("app:1",))
    ]
    assert "passed before this run" in status.targets[0].why
    # a process started now reads the same from the audit
    again = live(audit)
    assert again.current is not None
    assert [t.images for t in again.rollback_targets(again.current, views)[0]] == [("app:1",)]


def test_no_target_when_every_earlier_revision_failed_even_long_ago(audit):
    fleet = Fleet(["app", "other"])
    runs = live(audit)
    runs.observe(fleet.views(), T0)
    runs.judged(failed="gate p95 failed", passed=False, values={})  # app:1 failed
    at = T0 + timedelta(minutes=1)
    runs.observe(fleet.roll("app", "app:2", at), at)
    runs.judged(failed="gate p95 failed", passed=False, values={})  # app:2 failed
    at = others_roll(runs, fleet, 2 * KEEP_RUNS, at)
    at += timedelta(seconds=1)
    views = fleet.roll("app", "app:3", at)
    runs.observe(views, at)
    runs.judged(failed="gate p95 failed", passed=False, values={})
    status = runs.status(views, at)
    assert status is not None and status.targets == ()
    assert status.no_target is not None and "c/app: no revision to roll back to" in (
        status.no_target
    )
    assert "app rev 1 (1)" in status.no_target and "app rev 2 (2)" in status.no_target


def test_a_template_seen_a_hundred_runs_ago_coming_back_is_a_rollback(audit):
    # revisionHistoryLimit 1: app:1's ReplicaSet is deleted, so coming back it is created anew
    # and only the templates seen tell a rollback from a rollout
    fleet = Fleet(["app", "other"], limit=1)
    runs = live(audit)
    runs.observe(fleet.views(), T0)
    at = T0 + timedelta(minutes=1)
    runs.observe(fleet.roll("app", "app:2", at), at)
    at += timedelta(minutes=1)
    runs.observe(fleet.roll("app", "app:3", at), at)
    at = others_roll(runs, fleet, 100, at)
    at += timedelta(seconds=1)
    back = runs.observe(fleet.roll("app", "app:1", at), at)
    assert fleet.rs["app"]["app:1"][1] == at  # a new ReplicaSet: nothing but the history knows
    assert back is not None and back.kind == "rollback" and back.label == "back to app rev 4 (1)"
    at += timedelta(seconds=1)
    new = runs.observe(fleet.roll("app", "app:4", at), at)
    assert new is not None and new.kind == "rollout"


def test_a_replaced_audit_log_starts_the_indexes_again(audit, tmp_path):
    fleet = Fleet(["app"], limit=0)
    runs = live(audit)
    runs.observe(fleet.views(), T0)
    at = T0 + timedelta(minutes=1)
    runs.observe(fleet.roll("app", "app:2", at), at)
    at += timedelta(minutes=1)
    runs.observe(fleet.roll("app", "app:3", at), at)
    # the log is replaced by a shorter one (restored from elsewhere): nothing of it was seen
    (tmp_path / "audit.jsonl").unlink()
    (tmp_path / "audit.jsonl.index").unlink(missing_ok=True)
    AuditLog(tmp_path / "audit.jsonl").append("note", "prod", Operator("bob", None), text="x")
    runs.refresh()
    assert runs.current is None
    at += timedelta(minutes=1)
    assert runs.observe(fleet.views(), at) is not None  # a baseline at app:3
    at += timedelta(minutes=1)
    again = runs.observe(fleet.roll("app", "app:2", at), at)
    assert again is not None and again.kind == "rollout"  # app:2 was in the old log only


def test_the_held_templates_per_workload_are_bounded_and_say_so(audit, monkeypatch):
    monkeypatch.setattr(analysis_module, "HELD_PER_WORKLOAD", 3)
    fleet = Fleet(["app"], limit=10)
    runs = live(audit)
    runs.observe(fleet.views(), T0)
    runs.judged(failed=None, passed=True, values={})  # app:1 passed
    at = T0
    for n in range(2, 6):  # app:2 .. app:5 all fail
        at += timedelta(minutes=1)
        views = fleet.roll("app", f"app:{n}", at)
        runs.observe(views, at)
        runs.judged(failed="gate p95 failed", passed=False, values={})
    assert len(runs._held["c/app"]) == 3
    status = runs.status(views, at)
    assert status is not None and status.targets == ()
    assert status.no_target is not None and "among its last 3 revisions" in status.no_target
