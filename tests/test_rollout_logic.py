"""Pure rollout logic: kubectl's verdict order and wording, undo target and patch, pod trouble."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cockpit.rollout import (
    REVISION,
    UndoRefused,
    history,
    plan_undo,
    pod_trouble,
    rollout_status,
    undo_patch,
    undo_target,
)


def deployment(**status):
    spec = status.pop("spec", {})
    meta = status.pop("meta", {})
    return {
        "metadata": {"name": "web", "uid": "dep-uid", "generation": 2, **meta},
        "spec": {"replicas": 4, "template": template("web:2"), **spec},
        "status": {"observedGeneration": 2, **status},
    }


def template(image, hash_label=None):
    labels = {"app": "web"}
    if hash_label:
        labels["pod-template-hash"] = hash_label
    return {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }


def replicaset(name, revision, image, uid=None, owner="dep-uid", replicas=0, annotations=None):
    return {
        "metadata": {
            "name": name,
            "uid": uid or f"uid-{name}",
            "creationTimestamp": f"2026-11-0{revision}T00:00:00Z",
            "annotations": {REVISION: str(revision), **(annotations or {})},
            "ownerReferences": [{"uid": owner, "controller": True}],
        },
        "spec": {"template": template(image, f"h{revision}")},
        "status": {"replicas": replicas},
    }


@pytest.mark.parametrize(
    ("status", "state", "message"),
    [
        (
            {"observedGeneration": 1},
            "waiting",
            "Waiting for deployment spec update to be observed...",
        ),
        (
            {
                "conditions": [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}],
                "updatedReplicas": 1,
            },
            "failed",
            'deployment "web" exceeded its progress deadline',
        ),
        (
            {"updatedReplicas": 1, "replicas": 5},
            "progressing",
            'Waiting for deployment "web" rollout to finish: 1 out of 4 new replicas have been '
            "updated...",
        ),
        (
            {"updatedReplicas": 4, "replicas": 6, "availableReplicas": 4},
            "progressing",
            'Waiting for deployment "web" rollout to finish: 2 old replicas are pending '
            "termination...",
        ),
        (
            {"updatedReplicas": 4, "replicas": 4, "availableReplicas": 3},
            "progressing",
            'Waiting for deployment "web" rollout to finish: 3 of 4 updated replicas are '
            "available...",
        ),
        (
            {"updatedReplicas": 4, "replicas": 4, "availableReplicas": 4},
            "complete",
            'deployment "web" successfully rolled out',
        ),
    ],
)
def test_rollout_status_follows_kubectl(status, state, message):
    verdict = rollout_status(deployment(**status))
    assert (verdict.state, verdict.message) == (state, message)


def test_generation_is_checked_before_the_deadline():
    dep = deployment(
        observedGeneration=1,
        conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}],
    )
    assert rollout_status(dep).state == "waiting"


def test_undo_target_rules():
    dep = deployment()
    sets = [
        replicaset("web-1", 1, "web:1"),
        replicaset("web-3", 3, "web:3"),
        replicaset("web-2", 2, "web:2", replicas=4),
        replicaset("other", 9, "web:9", owner="someone-else"),
    ]
    assert undo_target(dep, sets)["metadata"]["name"] == "web-2"  # second-highest owned
    assert undo_target(dep, sets, 1)["metadata"]["name"] == "web-1"
    with pytest.raises(UndoRefused, match="unable to find specified revision 9 in history"):
        undo_target(dep, sets, 9)
    with pytest.raises(UndoRefused, match='no rollout history found for deployment "web"'):
        undo_target(dep, [replicaset("web-1", 1, "web:1")])
    paused = deployment(spec={"paused": True})
    with pytest.raises(UndoRefused) as refused:
        undo_target(paused, sets)
    assert refused.value.paused
    # to revision 2, whose template is the current one: kubectl skips
    with pytest.raises(UndoRefused, match=r"skipped rollback \(current template already matches"):
        plan_undo(dep, sets, 2)


def test_undo_patch_is_kubectls_with_a_precondition():
    dep = deployment(
        meta={
            "resourceVersion": "77",
            "annotations": {
                REVISION: "3",
                "kubectl.kubernetes.io/last-applied-configuration": "{...}",
                "kubernetes.io/change-cause": "release 3",
                "team": "shop",
            },
        }
    )
    target = replicaset(
        "web-1",
        1,
        "web:1",
        annotations={
            "kubernetes.io/change-cause": "release 1",
            "deployment.kubernetes.io/desired-replicas": "4",
        },
    )
    patch = undo_patch(dep, target, precondition=True)
    metadata = dep["metadata"]
    assert patch[:2] == [
        {"op": "test", "path": "/metadata/uid", "value": metadata["uid"]},
        {"op": "test", "path": "/metadata/generation", "value": metadata["generation"]},
    ]
    patch = patch[1:]
    assert patch[1]["path"] == "/spec/template"
    assert "pod-template-hash" not in patch[1]["value"]["metadata"]["labels"]
    assert patch[1]["value"]["spec"]["containers"][0]["image"] == "web:1"
    assert patch[2] == {
        "op": "replace",
        "path": "/metadata/annotations",
        "value": {
            REVISION: "3",
            "kubectl.kubernetes.io/last-applied-configuration": "{...}",
            "kubernetes.io/change-cause": "release 1",
        },
    }
    assert [op["op"] for op in undo_patch(dep, target)] == ["replace", "replace"]


def pod(name, rs_uid, *, waiting=None, restarts=0, ready=False, age_seconds=10, last=None):
    created = (datetime.now(UTC) - timedelta(seconds=age_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    status = {"name": "app", "restartCount": restarts, "state": state}
    if last:
        status["lastState"] = {"terminated": {"reason": last}}
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": created,
            "ownerReferences": [{"uid": rs_uid}],
        },
        "status": {
            "containerStatuses": [status],
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def test_pod_trouble_of_the_new_replicaset_only():
    new = replicaset("web-2", 2, "web:2")
    pods = [
        pod("a", "uid-web-2", waiting="CrashLoopBackOff", restarts=1),
        pod("b", "uid-web-2", waiting="ImagePullBackOff"),
        pod("c", "uid-web-2", restarts=2, ready=True, last="OOMKilled"),
        pod("d", "uid-web-2", age_seconds=900),
        pod("e", "uid-web-2", ready=True),
        pod("old", "uid-web-1", waiting="CrashLoopBackOff", restarts=9),
    ]
    found = {t.pod: t for t in pod_trouble(pods, new)}
    assert set(found) == {"a", "b", "c", "d"}
    assert found["a"].reason == "CrashLoopBackOff" and found["a"].restarts == 1
    assert found["b"].reason == "ImagePullBackOff"
    assert found["c"].reason == "Restarting" and "OOMKilled" in found["c"].detail
    assert found["d"].reason == "NotReady"
    assert pod_trouble(pods, None) == []


def test_history_rows():
    dep = deployment()
    rows = history(
        dep,
        [
            replicaset("web-2", 2, "web:2", replicas=4),
            replicaset("web-1", 1, "web:1", annotations={"kubernetes.io/change-cause": "first"}),
        ],
    )
    assert [(r.revision, r.images, r.change_cause, r.current) for r in rows] == [
        (1, ("web:1",), "first", False),
        (2, ("web:2",), "", True),
    ]
