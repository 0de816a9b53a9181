"""Gate and run semantics at their boundaries: pure functions and the run history, no servers."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from cockpit.analysis import ReleaseAnalysis
from cockpit.audit import AuditLog
from cockpit.config import MetricConfig
from cockpit.gates import (
    Point,
    VerdictInputs,
    evaluate,
    grid_floor,
    verdict,
)
from cockpit.identity import Operator
from cockpit.sources.kube import DeploymentView
from cockpit.sources.prometheus import query_span

T0 = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)  # on every step grid used here


def metric(**kw):
    values = {"name": "p95", "query": "q", "fail": 100.0, "step": "30s", "window": "30m"}
    values.update(kw)
    return MetricConfig(**values)


def points(values, start=T0, step=30):
    return [Point(start + timedelta(seconds=i * step), v) for i, v in enumerate(values)]


def judge(m, values, *, started=T0, errors=0, now=None):
    pts = points(values)
    last = now or (pts[-1].at if pts else T0 + timedelta(minutes=5))
    return evaluate(
        m, m.query, pts, started=started, consecutive_errors=errors, fetched_at=last, last_ok=last
    )


# --- thresholds ---------------------------------------------------------------------------------


def test_exactly_at_the_fail_threshold_fails_an_upper_bound():
    assert judge(metric(), [50, 50, 100]).phase == "Failed"
    assert judge(metric(), [50, 50, 99.999]).phase == "Successful"


def test_exactly_at_the_fail_threshold_passes_a_lower_bound():
    low = metric(direction="lower", fail=10.0)
    assert judge(low, [20, 20, 10]).phase == "Successful"
    assert judge(low, [20, 20, 9.999]).phase == "Failed"


def test_failure_limit_exactly_reached_passes_and_exceeded_fails():
    m = metric(failure_limit=2)
    assert judge(m, [50, 150, 50, 150, 50]).phase == "Successful"  # 2 failures: the limit
    assert judge(m, [150, 50, 150, 50, 150]).phase == "Failed"  # 3: beyond it


def test_min_samples_boundary():
    m = metric(min_samples=3)
    assert judge(m, [50, 50]).phase == "Running"
    assert judge(m, [50, 50, 50]).phase == "Successful"


def test_no_data_fail_applies_to_an_empty_answer():
    later = T0 + timedelta(minutes=2)
    assert judge(metric(no_data="fail"), [], now=later).phase == "Failed"
    assert judge(metric(no_data="inconclusive"), [], now=later).phase == "Inconclusive"


def test_a_missing_step_is_no_data():
    m = metric(no_data="fail", failure_limit=0)
    pts = [p for i, p in enumerate(points([50, 50, 50, 50])) if i != 2]  # one step missing
    last = pts[-1].at
    state = evaluate(m, "q", pts, started=T0, fetched_at=last, last_ok=last)
    assert state.phase == "Failed" and "no data" in state.reason


def test_a_failure_older_than_the_window_still_fails_the_run():
    m = metric(window="3m")
    values = [500] + [50] * 40  # the failure is 20 minutes before the newest point
    state = judge(m, values)
    assert state.phase == "Failed"
    assert all(p.at >= state.points[-1].at - timedelta(minutes=3) for p in state.points)


def test_a_stale_newest_point_is_never_a_pass():
    m = metric(stale_after="2m")
    pts = points([50, 50, 50, 50])
    now = pts[-1].at + timedelta(minutes=5)
    state = evaluate(m, "q", pts, started=T0, fetched_at=now, last_ok=now)
    assert state.phase == "Stale"
    result = verdict(VerdictInputs(metrics=(state,)))
    assert result.state == "PENDING" and "cannot see metric p95" in result.reasons[0]
    exactly = evaluate(
        m,
        "q",
        pts,
        started=T0,
        fetched_at=pts[-1].at + timedelta(minutes=2),
        last_ok=pts[-1].at + timedelta(minutes=2),
    )
    assert exactly.phase != "Stale"  # exactly at the limit is not stale yet


def test_one_failed_query_is_stale_and_the_limit_is_error():
    m = metric(consecutive_error_limit=3)
    assert judge(m, [50, 50, 50], errors=2).phase == "Stale"
    error = judge(m, [50, 50, 50], errors=3)
    assert error.phase == "Error"
    result = verdict(VerdictInputs(metrics=(error,)))
    assert result.state == "NO-GO" and not result.rollback_recommended


def test_the_same_data_judged_at_different_moments_gives_the_same_answer():
    m = metric(step="30s", window="10m")
    series = {T0 + timedelta(seconds=30 * i): 50.0 + (60 if i == 7 else 0) for i in range(60)}

    def prometheus(start, end):  # what a range query answers: the grid points in the span
        return [Point(at, v) for at, v in series.items() if start <= at <= end]

    answers = set()
    for offset in range(0, 30, 3):  # polls 3 s apart within one step
        now = T0 + timedelta(minutes=20, seconds=offset)
        start, end = query_span(m, T0, now)
        assert start == grid_floor(start, 30) and end == grid_floor(now, 30)
        state = evaluate(m, "q", prometheus(start, end), started=T0, fetched_at=now, last_ok=now)
        answers.add((state.phase, len(state.measurements), state.reason))
    assert len(answers) == 1


def test_initial_delay_counts_down_then_measures():
    m = metric(initial_delay="1m", min_samples=1)
    early = judge(m, [500, 500], now=T0 + timedelta(seconds=30))
    assert early.phase == "Pending" and "measuring starts at 12:01:00" in early.reason
    assert judge(m, [500, 500, 50, 50, 50]).phase == "Successful"  # before the delay: ignored


# --- runs ---------------------------------------------------------------------------------------


def _deployment(template_image, revision, rs_list):
    uid = "uid-app"
    deployment = {
        "metadata": {
            "name": "app",
            "uid": uid,
            "generation": 1,
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
        },
        "spec": {
            "replicas": 1,
            "template": {
                "metadata": {"labels": {"app": "app"}},
                "spec": {"containers": [{"name": "app", "image": template_image}]},
            },
        },
        "status": {
            "observedGeneration": 1,
            "replicas": 1,
            "updatedReplicas": 1,
            "availableReplicas": 1,
            "readyReplicas": 1,
        },
    }
    replicasets = []
    for image, rev, created in rs_list:
        replicasets.append(
            {
                "metadata": {
                    "name": f"app-{image}",
                    "uid": f"rs-{image}",
                    "creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "annotations": {"deployment.kubernetes.io/revision": str(rev)},
                    "ownerReferences": [{"uid": uid, "controller": True}],
                },
                "spec": {
                    "template": {
                        "metadata": {"labels": {"app": "app", "pod-template-hash": image}},
                        "spec": {"containers": [{"name": "app", "image": image}]},
                    }
                },
                # as the controller leaves them after a rollout: only the current one has pods
                "status": {"replicas": 1 if image == template_image else 0},
            }
        )
    return DeploymentView("c", "ns", "app", deployment, tuple(replicasets))


class World:
    """One deployment whose image changes; ReplicaSets kept like the controller keeps them."""

    def __init__(self):
        self.rs: dict[str, tuple[int, datetime]] = {}
        self.revision = 0

    def show(self, image, at):
        if image not in self.rs or self.rs[image][0] != self.revision:
            self.revision += 1
            created = self.rs[image][1] if image in self.rs else at
            self.rs[image] = (self.revision, created)
        rs_list = [(i, rev, created) for i, (rev, created) in self.rs.items()]
        return [_deployment(image, self.revision, rs_list)]


@pytest.fixture
def analysis(tmp_path):
    def make(**kw):
        return ReleaseAnalysis(
            AuditLog(tmp_path / "audit.jsonl"), "prod", Operator("alice", None), **kw
        )

    return make


def test_a_new_template_starts_a_run_and_a_template_that_comes_back_is_a_rollback(analysis):
    world = World()
    runs = analysis(bake_seconds=60)
    baseline = runs.observe(world.show("v1", T0), T0)
    assert baseline is not None and baseline.kind == "baseline"
    assert runs.observe(world.show("v1", T0), T0 + timedelta(seconds=5)) is None  # same pods
    rollout = runs.observe(world.show("v2", T0 + timedelta(minutes=1)), T0 + timedelta(minutes=1))
    assert rollout is not None and rollout.kind == "rollout" and "v2" in rollout.label
    back = runs.observe(world.show("v1", T0 + timedelta(minutes=2)), T0 + timedelta(minutes=2))
    assert back is not None and back.kind == "rollback"
    assert runs.runs[1].ended == "rolled back"
    # another process reading the same audit judges the same run
    other = analysis(bake_seconds=60)
    assert other.current is not None and other.current.id == back.id


def test_bake_time_boundary(analysis):
    world = World()
    runs = analysis(bake_seconds=60)
    runs.observe(world.show("v1", T0), T0)
    views = world.show("v1", T0)
    almost = runs.status(views, T0 + timedelta(seconds=59))
    assert verdict(VerdictInputs(run=almost)).state == "PENDING"
    assert "1s left" in verdict(VerdictInputs(run=almost)).reasons[0]
    done = runs.status(views, T0 + timedelta(seconds=60))
    assert verdict(VerdictInputs(run=done)).state == "GO"


def test_a_failed_run_stays_failed_and_points_back_to_the_last_good_revision(analysis):
    world = World()
    runs = analysis(bake_seconds=0)
    runs.observe(world.show("v1", T0), T0)
    runs.judged(failed=None, passed=True, values={})
    views = world.show("v2", T0 + timedelta(minutes=1))
    runs.observe(views, T0 + timedelta(minutes=1))
    runs.judged(failed="gate p95 failed", passed=False, values={})
    # later every metric is healthy again: the run is still failed
    result = verdict(VerdictInputs(run=runs.status(views, T0 + timedelta(minutes=40))))
    assert result.state == "NO-GO" and "until a newer revision" in result.reasons[0]
    assert [(t.deployment, t.revision) for t in result.targets] == [("app", 1)]
    assert result.rollback_recommended


def test_auto_rollback_when_both_releases_fail_rolls_back_once_and_says_why_it_stops(analysis):
    world = World()
    runs = analysis(bake_seconds=0)
    runs.observe(world.show("v1", T0), T0)
    views = world.show("v2", T0 + timedelta(minutes=1))
    runs.observe(views, T0 + timedelta(minutes=1))
    runs.judged(failed="gate p95 failed", passed=False, values={})
    failed_run = runs.current
    assert runs.auto_rollback_due(failed_run)
    runs.note_auto_rollback(failed_run)
    assert not runs.auto_rollback_due(failed_run)  # at most once per failed run
    # the rollback restores v1, and v1 fails too
    views = world.show("v1", T0 + timedelta(minutes=2))
    restored = runs.observe(views, T0 + timedelta(minutes=2))
    assert restored.kind == "rollback"
    runs.judged(failed="gate p95 failed", passed=False, values={})
    result = verdict(VerdictInputs(run=runs.status(views, T0 + timedelta(minutes=3))))
    assert result.state == "NO-GO"
    assert not result.rollback_recommended and not result.targets  # never onto v2 again
    assert any(r.startswith("no rollback target: c/app: no revision") for r in result.reasons)


def test_unseen_cluster_and_tracker_are_pending_not_go():
    result = verdict(VerdictInputs(unseen_clusters=("cannot see cluster eu: timed out",)))
    assert result.state == "PENDING" and result.reasons == ("cannot see cluster eu: timed out",)
    stale = verdict(VerdictInputs(errors="stale", errors_reason="HTTP 401"))
    assert stale.state == "PENDING"
    error = verdict(VerdictInputs(errors="error", errors_reason="4 polls in a row failed"))
    assert error.state == "NO-GO" and not error.rollback_recommended


def test_measurements_skip_nan_values_as_no_data():
    state = judge(metric(no_data="inconclusive"), [50, 50, math.nan])
    assert state.phase == "Inconclusive"


def test_a_run_recorded_twice_by_two_processes_is_one_run(analysis, tmp_path):
    world = World()
    runs = analysis(bake_seconds=0)
    runs.observe(world.show("v1", T0), T0)
    first = runs.observe(world.show("v2", T0 + timedelta(minutes=1)), T0 + timedelta(minutes=1))
    # `gate` saw the same change at the same moment and recorded it under its own id
    audit = AuditLog(tmp_path / "audit.jsonl")
    gate_op = Operator("ci", None)
    workloads = [w.as_json() for w in first.workloads]
    audit.append("run_start", "prod", gate_op, run="run-gate", kind="rollout", workloads=workloads)
    audit.append("run_failed", "prod", gate_op, run="run-gate", reason="gate p95 failed")
    runs.refresh()
    assert len(runs.runs) == 2 and runs.current.id == first.id
    assert runs.current.failed == "gate p95 failed"


def test_a_cockpit_started_during_a_release_judges_the_release_not_a_baseline(analysis):
    world = World()
    world.show("v1", T0 - timedelta(hours=5))
    views = world.show("v2", T0)  # rolled out just before the cockpit first looked
    runs = analysis(bake_seconds=300)
    run = runs.observe(views, T0 + timedelta(seconds=20))
    assert [r.kind for r in runs.runs] == ["baseline", "rollout"]
    assert run is not None and run.kind == "rollout" and "v2" in run.label
    assert run.started == T0  # the new ReplicaSet's creation
    runs.judged(failed="gate p95 failed", passed=False, values={})
    targets, _ = runs.rollback_targets(runs.current, views)
    assert [(t.revision, t.images) for t in targets] == [(1, ("v1",))]


def test_a_release_older_than_the_bake_time_is_the_baseline(tmp_path):
    world = World()
    world.show("v1", T0 - timedelta(hours=5))
    views = world.show("v2", T0)
    runs = ReleaseAnalysis(
        AuditLog(tmp_path / "other.jsonl"), "prod", Operator("bob", None), bake_seconds=300
    )
    runs.observe(views, T0 + timedelta(seconds=301))
    assert [r.kind for r in runs.runs] == ["baseline"] and "v2" in runs.current.label


def test_a_revision_numbered_after_the_run_began_is_recorded(analysis, tmp_path):
    world = World()
    runs = analysis(bake_seconds=0)
    runs.observe(world.show("v1", T0), T0)
    views = world.show("v2", T0 + timedelta(minutes=1))
    early = [
        DeploymentView(
            v.cluster,
            v.namespace,
            v.name,
            {
                **v.deployment,
                "metadata": {
                    **v.deployment["metadata"],
                    "annotations": {"deployment.kubernetes.io/revision": "1"},
                },
            },
            v.replicasets,
        )
        for v in views
    ]  # the template changed; the controller has not numbered it yet
    run = runs.observe(early, T0 + timedelta(minutes=1))
    assert run.workloads[0].revision == 1
    runs.observe(views, T0 + timedelta(minutes=1, seconds=2))
    assert runs.current.workloads[0].revision == 2
    reread = analysis(bake_seconds=0)  # another process, or the report
    assert reread.current.workloads[0].revision == 2
    assert "rev 2" in reread.current.label


def test_the_release_shown_is_what_runs_not_the_last_release_start(tmp_path, operator):
    from cockpit.session import GoLiveSession

    (tmp_path / "runbook.md").write_text("## S\n- [ ] x\n")
    (tmp_path / "cockpit.toml").write_text('checklist = "runbook.md"\n[environments.prod]\n')
    session = GoLiveSession.open(tmp_path / "cockpit.toml", None, operator=operator)
    session.start_release("2.0.0", deploy_marker=False)
    world = World()
    world.show("shop/web:2.0.0", T0)
    rolled_back = world.show("shop/web:1.9.0", T0 + timedelta(minutes=5))  # kubectl undo
    assert session.release_version(rolled_back) == "1.9.0"
    assert session.release_version() == "2.0.0"  # nothing seen running: the marker


class StatefulSetWorld:
    """One StatefulSet whose image changes; ControllerRevisions kept as its controller keeps
    them (a template that comes back reuses its revision, renumbered)."""

    def __init__(self):
        self.revisions: dict[str, tuple[int, datetime]] = {}
        self.highest = 0

    def show(self, image, at):
        from cockpit.sources.kube import WorkloadView

        number, created = self.revisions.get(image, (0, at))
        if number != self.highest or not number:
            self.highest += 1
            self.revisions[image] = (self.highest, created)
        template = {
            "metadata": {"labels": {"app": "db"}},
            "spec": {"containers": [{"image": image}]},
        }
        revisions = tuple(
            {
                "metadata": {
                    "name": f"db-{i}",
                    "creationTimestamp": made.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "ownerReferences": [{"uid": "sts-db", "controller": True}],
                },
                "revision": n,
                "data": {
                    "spec": {
                        "template": {
                            "metadata": {"labels": {"app": "db"}},
                            "spec": {"containers": [{"image": i}]},
                            "$patch": "replace",
                        }
                    }
                },
            }
            for i, (n, made) in self.revisions.items()
        )
        sts = {
            "metadata": {"name": "db", "uid": "sts-db", "generation": self.highest},
            "spec": {"replicas": 1, "template": template},
            "status": {"observedGeneration": self.highest, "readyReplicas": 1},
        }
        return [WorkloadView("c", "ns", "db", sts, revisions, kind="statefulset")]


def test_a_statefulsets_new_template_is_a_run_and_its_rollback_target_a_revision(analysis):
    world = StatefulSetWorld()
    runs = analysis(bake_seconds=0)
    runs.observe(world.show("db:1", T0), T0)
    runs.judged(failed=None, passed=True, values={})
    views = world.show("db:2", T0 + timedelta(minutes=1))
    rollout = runs.observe(views, T0 + timedelta(minutes=1))
    assert rollout is not None and rollout.kind == "rollout" and "db rev 2" in rollout.label
    runs.judged(failed="gate p95 failed", passed=False, values={})
    result = verdict(VerdictInputs(run=runs.status(views, T0 + timedelta(minutes=2))))
    assert [(t.deployment, t.revision) for t in result.targets] == [("db", 1)]
    back = runs.observe(world.show("db:1", T0 + timedelta(minutes=3)), T0 + timedelta(minutes=3))
    assert back is not None and back.kind == "rollback" and "db rev 3" in back.label


def test_values_read_with_their_unit_and_three_significant_digits():
    from cockpit.gates import format_value

    assert format_value(45.2853, "ms") == "45.3 ms"
    assert format_value(1402.1665, "req/s") == "1.40k req/s"
    assert format_value(0.0306, "%") == "0.031 %"
    assert format_value(308.4, "ms") == "308 ms"
    assert format_value(99.96, "ms") == "100 ms"  # not 100.0: three digits, not four
    assert format_value(2_500_000, "") == "2.50M"
    assert format_value(0, "%") == "0 %"


def test_thresholds_read_the_way_the_gate_applies_them():
    from cockpit.config import MetricConfig
    from cockpit.gates import threshold_text

    upper = MetricConfig(name="p95", query="q", unit="ms", warn=80, fail=100)
    lower = MetricConfig(
        name="rps", query="q", unit="req/s", direction="lower", warn=1200, fail=1000
    )
    assert threshold_text(upper) == "warns at 80 ms or above, fails at 100 ms or above"
    assert threshold_text(lower) == "warns below 1200 req/s, fails below 1000 req/s"


# --- a run after a failed run: measured once the failed revision's pods are gone -----------------


def _rolling(views, *, old_replicas=1, serving=None):
    """The same views with the rollout still going: old pods pending termination, those of
    the ReplicaSet(s) of `serving` (images; default: every other ReplicaSet) still there."""
    rolled = []
    for view in views:
        deployment = {**view.deployment, "status": dict(view.deployment["status"])}
        deployment["status"]["replicas"] = 1 + old_replicas
        current = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        replicasets = []
        for rs in view.replicasets:
            image = rs["spec"]["template"]["spec"]["containers"][0]["image"]
            still = image in serving if serving is not None else image != current
            replicasets.append({**rs, "status": {"replicas": old_replicas}} if still else rs)
        rolled.append(DeploymentView("c", "ns", view.name, deployment, tuple(replicasets)))
    return rolled


def test_a_rollback_is_measured_only_when_no_pod_of_the_failed_revision_serves(analysis):
    world = World()
    runs = analysis(bake_seconds=60)
    runs.observe(world.show("v1", T0), T0)
    runs.judged(failed=None, passed=True, values={})
    runs.observe(world.show("v2", T0 + timedelta(minutes=1)), T0 + timedelta(minutes=1))
    runs.judged(failed="gate p95 failed", passed=False, values={})
    # the rollback to v1 is slow: the failed v2 pods still serve
    at = T0 + timedelta(minutes=2)
    back = runs.observe(_rolling(world.show("v1", at)), at)
    assert back is not None and back.kind == "rollback" and back.after_failure
    assert back.measured_from is None and "pods of the replaced revision" in back.waiting
    # what the metrics show now is v2's: not measured, not judged, the bake not begun
    m = metric(fail=100.0, initial_delay="0s", min_samples=1)
    still = runs.observe(_rolling(world.show("v1", at)), at + timedelta(minutes=3))
    assert still is None and runs.current.measured_from is None
    bad = evaluate(
        m,
        m.query,
        points([500] * 8, start=at),
        started=back.started,
        measure_from=runs.current.measured_from,
        waiting=runs.current.waiting,
        fetched_at=at + timedelta(minutes=3),
        last_ok=at + timedelta(minutes=3),
    )
    assert bad.phase == "Pending" and not bad.measurements
    assert bad.display == "pending"  # the failed revision's 500s are not shown as a breach
    status = runs.status(world.show("v1", at), at + timedelta(minutes=3))
    assert status.bake_remaining == 60
    result = verdict(VerdictInputs(metrics=(bad,), run=status))
    assert result.state == "PENDING" and result.failure is None
    assert result.reasons[0].startswith(
        "gate p95: waiting for the rollout of app: pods of the replaced"
    )
    # the rollout completes: measured from this moment, by every process reading the audit
    done = at + timedelta(minutes=4)
    assert runs.observe(world.show("v1", done), done) is None
    assert runs.current.measured_from == done and runs.current.waiting is None
    assert analysis(bake_seconds=60).current.measured_from == done
    good = evaluate(
        m,
        m.query,
        points([500] * 8 + [50] * 4, start=at),
        started=back.started,
        measure_from=runs.current.measured_from,
        fetched_at=done + timedelta(seconds=90),
        last_ok=done + timedelta(seconds=90),
    )
    assert good.phase == "Successful", good.reason  # v2's 500s before `done` are not v1's
    left = runs.status(world.show("v1", done), done + timedelta(seconds=59))
    assert left.bake_remaining == 1


def test_a_rollout_after_a_passed_run_is_measured_from_its_start(analysis):
    world = World()
    runs = analysis(bake_seconds=60)
    runs.observe(world.show("v1", T0), T0)
    runs.judged(failed=None, passed=True, values={})
    at = T0 + timedelta(minutes=1)
    rollout = runs.observe(_rolling(world.show("v2", at)), at)
    # the old pods are good ones: a failure while both serve is the new revision's
    assert not rollout.after_failure and rollout.measured_from == at and rollout.waiting is None


def test_a_run_replacing_one_still_waiting_for_a_failed_revision_waits_too(analysis):
    world, runs = _v2_failed(analysis)
    at = T0 + timedelta(minutes=2)
    runs.observe(_rolling(world.show("v1", at)), at)  # rolling back, v2 pods still there
    fix = runs.observe(_rolling(world.show("v3", at)), at + timedelta(seconds=10))
    assert fix.kind == "rollout" and fix.after_failure and fix.measured_from is None


def test_an_error_spike_while_the_failed_revisions_pods_serve_is_not_the_rollbacks(analysis):
    world, runs = _v2_failed(analysis, "errors spike")
    at = T0 + timedelta(minutes=2)
    views = _rolling(world.show("v1", at))
    runs.observe(views, at)
    spike = VerdictInputs(errors="spike", errors_reason="40 events", run=runs.status(views, at))
    result = verdict(spike)
    assert result.state == "PENDING" and result.failure is None
    assert any(r.startswith("errors: waiting for the rollout of app") for r in result.reasons)
    done = at + timedelta(minutes=1)
    runs.observe(world.show("v1", done), done)
    after = verdict(
        VerdictInputs(errors="spike", errors_reason="40 events", run=runs.status(views, done))
    )
    assert after.state == "NO-GO" and after.failure == "errors spike: 40 events"


def test_a_failed_run_whose_workload_is_not_seen_now_says_its_target_is_not_known_yet(analysis):
    world = World()
    runs = analysis(bake_seconds=0)
    runs.observe(world.show("v1", T0), T0)
    views = world.show("v2", T0 + timedelta(minutes=1))
    runs.observe(views, T0 + timedelta(minutes=1))
    runs.judged(failed="gate p95 failed", passed=False, values={})
    # a new `cockpit gate` knows from the audit that the run failed, before its first list
    blind = verdict(VerdictInputs(run=runs.status([], T0 + timedelta(minutes=2))))
    assert blind.state == "NO-GO" and not blind.targets
    assert "rollback target not known yet: cannot see c/app now" in blind.reasons
    seen = verdict(VerdictInputs(run=runs.status(views, T0 + timedelta(minutes=2))))
    assert [t.revision for t in seen.targets] == [1]
    assert not any("not known yet" in r for r in seen.reasons)


def _named(views, name):
    """The same workload under another name (a second Deployment of the same shape)."""
    out = []
    for view in views:
        deployment = {**view.deployment, "metadata": {**view.deployment["metadata"]}}
        deployment["metadata"]["name"] = name
        out.append(DeploymentView("c", "ns", name, deployment, view.replicasets))
    return out


def _v2_failed(analysis, failure="gate p95 failed"):
    """v1 live, then v2 released and failed: the world and its runs."""
    world = World()
    runs = analysis(bake_seconds=0)
    runs.observe(world.show("v1", T0), T0)
    runs.observe(world.show("v2", T0 + timedelta(minutes=1)), T0 + timedelta(minutes=1))
    runs.judged(failed=failure, passed=False, values={})
    return world, runs


def _two_workloads_failed(analysis):
    """app and web released together (v2, w2) and failed; `both(...)` shows them again,
    those named in `rolling` still with their older pods."""
    one, two = World(), World()
    runs = analysis(bake_seconds=0)

    def both(image_one, image_two, at, rolling=()):
        a, b = one.show(image_one, at), _named(two.show(image_two, at), "web")
        return (_rolling(a) if "app" in rolling else a) + (_rolling(b) if "web" in rolling else b)

    runs.observe(both("v1", "w1", T0), T0)
    runs.observe(both("v2", "w2", T0 + timedelta(minutes=1)), T0 + timedelta(minutes=1))
    runs.judged(failed="gate p95 failed", passed=False, values={})
    return runs, both


def test_a_fast_rollback_is_returned_already_measured(analysis):
    world, runs = _v2_failed(analysis, "errors spike")
    at = T0 + timedelta(minutes=2)
    back = runs.observe(world.show("v1", at), at)  # complete at its first look
    assert back.after_failure and back.measured_from == at == runs.current.measured_from


def test_a_rollback_before_the_release_was_judged_waits_out_its_pods_too(analysis):
    world = World()
    runs = analysis(bake_seconds=300)
    runs.observe(world.show("v1", T0), T0)
    runs.judged(failed=None, passed=True, values={})
    runs.observe(world.show("v2", T0 + timedelta(minutes=1)), T0 + timedelta(minutes=1))
    # bad graphs: an operator runs `kubectl rollout undo` while v2 is still being judged
    at = T0 + timedelta(minutes=2)
    back = runs.observe(_rolling(world.show("v1", at)), at)
    assert back.kind == "rollback" and back.after_failure and back.waiting


def test_the_failed_revisions_pods_gone_is_enough_a_paused_rollout_is_measured(analysis):
    world, runs = _v2_failed(analysis)
    at = T0 + timedelta(minutes=2)
    # a fix rolled forward and paused half way: v1's old pods still there, v2's all gone
    fix = runs.observe(_rolling(world.show("v3", at), serving=("v1",)), at)
    assert fix.after_failure and fix.measured_from == at


def test_a_status_for_the_spec_before_is_not_the_rollout_done(analysis):
    world, runs = _v2_failed(analysis)
    at = T0 + timedelta(minutes=2)
    views = world.show("v1", at)
    unobserved = [
        DeploymentView(
            "c",
            "ns",
            "app",
            {**v.deployment, "metadata": {**v.deployment["metadata"], "generation": 2}},
            v.replicasets,
        )
        for v in views
    ]
    assert runs.observe(unobserved, at).waiting  # generation 2, observedGeneration 1
    assert runs.observe(views, at + timedelta(seconds=5)) is None
    assert runs.current.measured_from == at + timedelta(seconds=5)


def test_a_run_of_two_workloads_waits_for_both(analysis):
    runs, both = _two_workloads_failed(analysis)
    at = T0 + timedelta(minutes=2)
    runs.observe(both("v1", "w1", at, rolling=("app", "web")), at)
    assert runs.current.waiting
    runs.observe(both("v1", "w1", at, rolling=("web",)), at + timedelta(seconds=5))
    assert runs.current.waiting  # app is done, web's failed pods still serve
    runs.observe(both("v1", "w1", at), at + timedelta(seconds=9))
    assert runs.current.measured_from == at + timedelta(seconds=9)


def test_the_earliest_moment_recorded_by_any_process_is_the_one_all_measure_from(
    analysis, tmp_path
):
    world, runs = _v2_failed(analysis)
    at = T0 + timedelta(minutes=2)
    runs.observe(_rolling(world.show("v1", at)), at)
    other = analysis(bake_seconds=0)
    # two processes see the rollout done at once: the one that saw it later writes first
    other.observe(world.show("v1", at), at + timedelta(seconds=7))
    first = (at + timedelta(seconds=3)).isoformat(timespec="seconds")
    runs.audit.append("run_serving", "prod", Operator("bob", None), run=runs.current.id, at=first)
    runs.refresh()
    assert runs.current.measured_from == at + timedelta(seconds=3)
    assert analysis(bake_seconds=0).current.measured_from == at + timedelta(seconds=3)


def test_after_a_failure_a_query_that_reads_back_is_measured_once_its_range_is_past():
    from cockpit.sources.prometheus import query_lookback

    query = 'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))'
    assert query_lookback(query) == 300
    assert query_lookback("max_over_time(rate(x[2m])[1h:1m])") == 3600 + 120
    # an offset reads an older window (week over week): not the replaced revision's time
    assert query_lookback("rate(e[5m]) / rate(e[5m] offset 1d)") == 300
    assert query_lookback("servicedesk:error_ratio") == 0  # a recording rule: its own window
    assert query_lookback("not { promql") == 0
    m = metric(fail=100.0, initial_delay="1m", min_samples=1)
    pts = points([500] * 10 + [50] * 12)  # the suspect revision's 500s, then healthy values
    served = T0 + timedelta(minutes=5)  # the rollout done; the 5m rate still reads the 500s
    kw = {"started": T0, "measure_from": served, "lookback": 300.0}
    early = evaluate(m, m.query, pts, **kw, fetched_at=served, last_ok=served)
    assert early.phase == "Pending" and "reads 5m00s back" in early.reason
    assert "measuring starts at 12:10:00" in early.reason
    later = served + timedelta(minutes=5, seconds=30)
    done = evaluate(m, m.query, pts, **kw, fetched_at=later, last_ok=later)
    assert done.phase == "Successful", done.reason


def test_after_a_failure_an_error_bucket_begun_before_the_rollout_ended_is_not_counted():
    from cockpit.sources.errors import spike_from_series

    served = T0 + timedelta(minutes=10)
    before = (served - timedelta(seconds=30), served + timedelta(seconds=2), 600)  # mostly v2's
    after = (served + timedelta(seconds=2), served + timedelta(seconds=4), 1)
    kw = {
        "started": T0,
        "window_seconds": 300,
        "factor": 3.0,
        "min_events": 10,
        "now": served + timedelta(seconds=4),
        "since": served,
    }
    assert spike_from_series([before, after], **kw).spiking  # counted in part: 38 events
    strict = spike_from_series([before, after], **kw, whole_buckets=True)
    assert not strict.spiking and strict.current == 1


def test_a_burn_rate_gate_after_a_failure_waits_out_its_longest_short_window():
    from cockpit.sources.prometheus import metric_lookback

    burn = MetricConfig(
        name="budget",
        burn_rate={"objective": 99.9, "error_ratio": "sum(rate(e[{range}]))/sum(rate(t[{range}]))"},
    )
    assert metric_lookback(burn, "ignored") == 30 * 60  # the 6h/30m pair clears with its 30m
    assert metric_lookback(metric(query="rate(x[7m])"), "rate(x[7m])") == 7 * 60


def test_a_failed_revision_that_comes_back_is_judged_not_waited_for(analysis):
    world, runs = _v2_failed(analysis)
    at = T0 + timedelta(minutes=2)
    runs.observe(_rolling(world.show("v1", at)), at)  # rolling back, v2 pods still there
    # GitOps self-heal puts v2 back before the rollback is done: v2's own pods are its own
    again = runs.observe(world.show("v2", at + timedelta(seconds=20)), at + timedelta(seconds=20))
    assert all(template != again.templates["c/app"] for _, template in again.suspects)
    assert again.measured_from == at + timedelta(seconds=20)


def test_a_release_over_one_still_being_judged_waits_out_the_unjudged_pods(analysis):
    world = World()
    runs = analysis(bake_seconds=300)
    runs.observe(world.show("v1", T0), T0)
    at = T0 + timedelta(minutes=1)
    first = runs.observe(_rolling(world.show("v2", at)), at)  # over the baseline: no wait
    assert not first.after_failure and first.measured_from == at
    later = at + timedelta(minutes=1)
    fix = runs.observe(_rolling(world.show("v3", later)), later)  # v2 not judged yet
    assert fix.after_failure and fix.waiting


def test_suspects_in_another_workload_are_carried_to_the_next_run(analysis):
    runs, both = _two_workloads_failed(analysis)
    at = T0 + timedelta(minutes=2)
    runs.observe(both("v1", "w1", at, rolling=("app", "web")), at)  # both roll back, waiting
    # app is rolled forward to v3 while web's failed w2 pods still serve
    fix = runs.observe(both("v3", "w1", at, rolling=("web",)), at + timedelta(seconds=5))
    assert fix.waiting and any(key == "c/web" for key, _ in fix.suspects)
    runs.observe(both("v3", "w1", at), at + timedelta(seconds=9))
    assert runs.current.measured_from == at + timedelta(seconds=9)


def test_a_watched_workload_gone_does_not_keep_a_rollback_waiting(analysis):
    one, two = World(), World()
    runs = analysis(bake_seconds=0)
    web = lambda image, at: _named(two.show(image, at), "web")  # noqa: E731
    runs.observe(one.show("v1", T0) + web("w1", T0), T0)
    runs.observe(one.show("v2", T0) + web("w1", T0), T0 + timedelta(minutes=1))
    runs.judged(failed="gate p95 failed", passed=False, values={})
    at = T0 + timedelta(minutes=2)
    runs.observe(_rolling(one.show("v1", at)) + web("w1", at), at)
    assert runs.current.waiting
    runs.observe(one.show("v1", at), at + timedelta(seconds=5))  # web not listed now
    assert runs.current.measured_from == at + timedelta(seconds=5)


def test_an_argo_rollouts_replicasets_match_its_template_despite_their_hash_label():
    from cockpit.rollout import template_digest

    template = {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"image": "x"}]}}
    labelled = {
        "metadata": {"labels": {"app": "a", "rollouts-pod-template-hash": "5f6d"}},
        "spec": {"containers": [{"image": "x"}]},
    }
    assert template_digest(labelled) == template_digest(template)


def test_alerts_firing_while_a_gate_is_not_judged_yet_are_said_not_failed():
    from cockpit.sources.prometheus import _alerts_agree

    m = metric(initial_delay="0s")
    pending = evaluate(
        m, m.query, points([0, 0]), started=T0, waiting="waiting for the rollout of app: x"
    )
    told = _alerts_agree(pending, ("HighErrorRate firing",), None)
    assert told.phase == "Pending" and "1 alert(s) firing now" in told.reason
    judged = judge(m, [0, 0])
    assert _alerts_agree(judged, ("HighErrorRate firing",), None).phase == "Failed"


def test_a_statefulset_rollback_waits_until_no_pod_of_the_failed_revision_is_left(analysis):
    from cockpit.sources.kube import WorkloadView

    world = StatefulSetWorld()
    runs = analysis(bake_seconds=0)
    runs.observe(world.show("db:1", T0), T0)
    runs.observe(world.show("db:2", T0 + timedelta(minutes=1)), T0 + timedelta(minutes=1))
    runs.judged(failed="gate p95 failed", passed=False, values={})

    def with_pod(views, revision_name):
        (view,) = views
        pod = {
            "metadata": {
                "name": "db-0",
                "labels": {"controller-revision-hash": revision_name},
                "ownerReferences": [{"uid": "sts-db", "controller": True}],
            }
        }
        return [
            WorkloadView(
                "c", "ns", "db", view.deployment, view.replicasets, pods=(pod,), kind="statefulset"
            )
        ]

    at = T0 + timedelta(minutes=2)
    # an OnDelete StatefulSet (or one with a partition): the rollback's spec is observed, but
    # its pod still runs the failed revision until someone deletes it
    runs.observe(with_pod(world.show("db:1", at), "db-db:2"), at)
    assert runs.current.waiting
    later = at + timedelta(minutes=1)
    runs.observe(with_pod(world.show("db:1", later), "db-db:1"), later)
    assert runs.current.measured_from == later


def test_a_workload_that_appears_after_a_failure_joins_the_failed_run(analysis):
    one, two = World(), World()
    runs = analysis(bake_seconds=0)
    runs.observe(one.show("v1", T0), T0)
    views = one.show("v2", T0 + timedelta(minutes=1))
    runs.observe(views, T0 + timedelta(minutes=1))
    runs.judged(failed="gate p95 failed", passed=False, values={})
    failed = runs.current
    at = T0 + timedelta(minutes=2)
    appeared = views + _named(two.show("w1", at), "web")  # created, or readable again
    assert runs.observe(appeared, at) is None
    assert runs.current.id == failed.id and runs.current.failed  # the failure stands
    assert "c/web" in runs.current.templates
    assert analysis(bake_seconds=0).current.templates == runs.current.templates  # recorded
    result = verdict(VerdictInputs(run=runs.status(appeared, at)))
    assert result.state == "NO-GO" and [t.deployment for t in result.targets] == ["app"]


def test_a_first_look_before_the_controller_made_the_new_revision_judges_the_release(analysis):
    world = World()
    world.show("v1", T0 - timedelta(hours=2))  # live for hours
    (view,) = world.show("v2", T0)  # `kubectl set image`: the template is v2 ...
    lagging = DeploymentView(
        "c",
        "ns",
        "app",
        {**view.deployment, "metadata": {**view.deployment["metadata"], "generation": 2}},
        tuple(rs for rs in view.replicasets if "v2" not in rs["metadata"]["name"]),
    )  # ... and its controller has not made the v2 ReplicaSet yet
    runs = analysis(bake_seconds=300)
    release = runs.observe([lagging], T0)
    assert release.kind == "rollout" and "v2" in release.label  # not judged as the baseline
    assert "v1" in runs.runs[0].label and runs.runs[0].kind == "baseline"
