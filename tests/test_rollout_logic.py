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


def stamp(seconds_ago, now=None):
    when = (now or datetime.now(UTC)) - timedelta(seconds=seconds_ago)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(
    name,
    rs_uid,
    *,
    waiting=None,
    restarts=0,
    ready=False,
    age_seconds=10,
    last=None,
    last_ago=None,
    exit_code=None,
    init=None,
    conditions=None,
    phase="Running",
):
    state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
    status = {"name": "app", "restartCount": restarts, "state": state}
    if last:
        status["lastState"] = {"terminated": {"reason": last}}
        if last_ago is not None:
            status["lastState"]["terminated"]["finishedAt"] = stamp(last_ago)
        if exit_code is not None:
            status["lastState"]["terminated"]["exitCode"] = exit_code
    body = {
        "phase": phase,
        "containerStatuses": [status],
        "conditions": conditions
        if conditions is not None
        else [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    if init is not None:
        body["initContainerStatuses"] = [init]
    return {
        "metadata": {
            "name": name,
            "creationTimestamp": stamp(age_seconds),
            "ownerReferences": [{"uid": rs_uid}],
        },
        "status": body,
    }


def test_pod_trouble_of_the_new_replicaset_only():
    new = replicaset("web-2", 2, "web:2")
    pods = [
        pod("a", "uid-web-2", waiting="CrashLoopBackOff", restarts=1),
        pod("b", "uid-web-2", waiting="ImagePullBackOff"),
        pod("c", "uid-web-2", restarts=2, ready=True, last="Error", last_ago=30, exit_code=1),
        pod("d", "uid-web-2", age_seconds=900),
        pod("e", "uid-web-2", ready=True),
        pod("old", "uid-web-1", waiting="CrashLoopBackOff", restarts=9),
    ]
    found = {t.pod: t for t in pod_trouble(pods, new)}
    assert set(found) == {"a", "b", "c", "d"}
    assert found["a"].reason == "CrashLoopBackOff" and found["a"].restarts == 1
    assert found["b"].reason == "ImagePullBackOff"
    assert found["c"].reason == "Restarting" and "last: Error, exit code 1" in found["c"].detail
    assert found["d"].reason == "NotReady"
    assert pod_trouble(pods, None) == []


def test_old_restarts_of_a_ready_pod_are_not_trouble():
    """Restarts count while recent: the window's edge, and a Ready pod without timestamps."""
    new = replicaset("web-2", 2, "web:2")
    window = 600

    def judged(**kw):
        return pod_trouble([pod("p", "uid-web-2", **kw)], new, restart_window=window)

    assert judged(restarts=2, ready=True, last="Error", last_ago=window + 5, age_seconds=9000) == []
    assert [
        t.reason for t in judged(restarts=2, ready=True, last="Error", last_ago=window - 5)
    ] == ["Restarting"]
    # one recent restart is under the limit; two are not
    assert judged(restarts=1, ready=False, last="Error", last_ago=5) == []
    assert judged(restarts=2, ready=False, last="Error", last_ago=5)[0].restarts == 2
    # no time known: a Ready pod keeps kubectl's verdict, a pod that is not Ready does not
    assert judged(restarts=3, ready=True, last="Error") == []
    assert judged(restarts=3, ready=False, last="Error")[0].reason == "Restarting"


def test_oom_killed_is_named_with_its_exit_code():
    new = replicaset("web-2", 2, "web:2")
    found = pod_trouble(
        [pod("p", "uid-web-2", restarts=2, last="OOMKilled", last_ago=20, exit_code=137)], new
    )
    assert found[0].reason == "OOMKilled"
    assert "OOMKilled, exit code 137" in found[0].detail and "2 restarts" in found[0].detail
    crash = pod_trouble(
        [
            pod(
                "q",
                "uid-web-2",
                waiting="CrashLoopBackOff",
                restarts=4,
                last="OOMKilled",
                last_ago=20,
                exit_code=137,
            )
        ],
        new,
    )
    assert crash[0].reason == "CrashLoopBackOff" and "OOMKilled, exit code 137" in crash[0].detail


def test_init_container_trouble_is_flagged():
    new = replicaset("web-2", 2, "web:2")
    looping = {
        "name": "migrate",
        "restartCount": 3,
        "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}},
        "lastState": {"terminated": {"reason": "Error", "exitCode": 2}},
    }
    found = pod_trouble(
        [pod("p", "uid-web-2", waiting="PodInitializing", phase="Pending", init=looping)], new
    )
    assert found[0].reason == "Init:CrashLoopBackOff"
    assert "init container migrate" in found[0].detail and "exit code 2" in found[0].detail
    assert found[0].restarts == 3
    pulling = {
        "name": "migrate",
        "restartCount": 0,
        "state": {"waiting": {"reason": "ErrImagePull"}},
    }
    found = pod_trouble([pod("p", "uid-web-2", init=pulling)], new)
    assert found[0].reason == "Init:ErrImagePull"
    # an init container restarting (between back-offs) counts towards the restart limit
    restarting = {
        "name": "migrate",
        "restartCount": 2,
        "state": {"running": {}},
        "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "finishedAt": stamp(3)}},
    }
    found = pod_trouble([pod("p", "uid-web-2", init=restarting)], new)
    assert found[0].reason == "Init:Restarting"


def test_unschedulable_pod_is_flagged_with_the_schedulers_message():
    new = replicaset("web-2", 2, "web:2")
    message = "0/3 nodes are available: 3 Insufficient cpu."
    scheduled_false = [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message}
    ]
    found = pod_trouble([pod("p", "uid-web-2", phase="Pending", conditions=scheduled_false)], new)
    assert [(t.reason, t.detail) for t in found] == [("Unschedulable", message)]
    # merely not scheduled yet (no reason) is not trouble, and neither is a pod going away
    waiting = [{"type": "PodScheduled", "status": "False"}]
    assert pod_trouble([pod("p", "uid-web-2", phase="Pending", conditions=waiting)], new) == []
    leaving = pod("p", "uid-web-2", phase="Pending", conditions=scheduled_false)
    leaving["metadata"]["deletionTimestamp"] = stamp(1)
    assert pod_trouble([leaving], new) == []


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


def test_an_unschedulable_pod_fails_the_release_only_after_the_autoscalers_grace():
    from datetime import UTC, datetime, timedelta

    from cockpit.rollout import UNSCHEDULABLE_GRACE_SECONDS

    new = replicaset("web-2", 2, "web:2")
    since = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    condition = {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "lastTransitionTime": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    (found,) = pod_trouble([pod("p", "uid-web-2", phase="Pending", conditions=[condition])], new)
    grace = timedelta(seconds=UNSCHEDULABLE_GRACE_SECONDS)
    assert not found.failing(since + grace - timedelta(seconds=1))  # shown, not yet a failure
    assert found.failing(since + grace)  # exactly at the limit it is


# --- StatefulSets, DaemonSets, Argo Rollouts -----------------------------------------------


def statefulset(strategy=None, **status):
    return {
        "metadata": {"name": "db", "uid": "sts-uid", "generation": 3},
        "spec": {
            "replicas": 4,
            "template": template("db:2"),
            "updateStrategy": strategy or {"type": "RollingUpdate"},
        },
        "status": {"observedGeneration": 3, **status},
    }


@pytest.mark.parametrize(
    ("strategy", "status", "state", "message"),
    [
        (None, {"observedGeneration": 0}, "waiting", "Waiting for statefulset spec update to be"),
        (None, {"observedGeneration": 2}, "waiting", "Waiting for statefulset spec update to be"),
        (None, {"readyReplicas": 3}, "progressing", "Waiting for 1 pods to be ready..."),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
            {"readyReplicas": 4, "updatedReplicas": 1},
            "progressing",
            "Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...",
        ),
        (
            {"type": "RollingUpdate", "rollingUpdate": {"partition": 2}},
            {"readyReplicas": 4, "updatedReplicas": 2},
            "complete",
            "partitioned roll out complete: 2 new pods have been updated...",
        ),
        (
            None,
            {
                "readyReplicas": 4,
                "updatedReplicas": 2,
                "updateRevision": "db-b",
                "currentRevision": "db-a",
            },
            "progressing",
            "waiting for statefulset rolling update to complete 2 pods at revision db-b...",
        ),
        (
            None,
            {
                "readyReplicas": 4,
                "currentReplicas": 4,
                "updateRevision": "db-b",
                "currentRevision": "db-b",
            },
            "complete",
            "statefulset rolling update complete 4 pods at revision db-b...",
        ),
        (
            {"type": "OnDelete"},
            {"readyReplicas": 4},
            "waiting",
            "rollout status is only available for RollingUpdate strategy type",
        ),
    ],
)
def test_statefulset_status_in_kubectls_order(strategy, status, state, message):
    from cockpit.rollout import statefulset_status

    verdict = statefulset_status(statefulset(strategy, **status))
    assert verdict.state == state and verdict.message.startswith(message), verdict


def test_a_statefulset_never_observed_is_waiting_even_at_generation_zero():
    from cockpit.rollout import statefulset_status

    never = statefulset(observedGeneration=0, readyReplicas=4)
    never["metadata"].pop("generation")
    assert statefulset_status(never).message.startswith("Waiting for statefulset spec update")


@pytest.mark.parametrize(
    ("status", "state", "message"),
    [
        ({"observedGeneration": 2}, "waiting", "Waiting for daemon set spec update to be observed"),
        (
            {"desiredNumberScheduled": 3, "updatedNumberScheduled": 2},
            "progressing",
            'Waiting for daemon set "db" rollout to finish: 2 out of 3 new pods have been updated',
        ),
        (
            {"desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2},
            "progressing",
            'Waiting for daemon set "db" rollout to finish: 2 of 3 updated pods are available...',
        ),
        (
            {"desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 3},
            "complete",
            'daemon set "db" successfully rolled out',
        ),
    ],
)
def test_daemonset_status_in_kubectls_order(status, state, message):
    from cockpit.rollout import daemonset_status

    verdict = daemonset_status(statefulset(**status))
    assert verdict.state == state and verdict.message.startswith(message), verdict


def test_argo_rollout_phases():
    from cockpit.rollout import argo_rollout_status

    def rollout(**status):
        steps = [{"setWeight": 20}, {"pause": {}}]
        return {
            "metadata": {"name": "shop"},
            "spec": {"strategy": {"canary": {"steps": steps}}},
            "status": status,
        }

    assert argo_rollout_status(rollout(phase="Healthy")).state == "complete"
    assert argo_rollout_status(rollout(phase="Degraded")).state == "failed"
    paused = argo_rollout_status(rollout(phase="Paused", currentStepIndex=1, message="wait"))
    assert paused.state == "progressing"
    assert paused.message == 'rollout "shop" Paused, step 1 of 2: wait'
    assert argo_rollout_status(rollout(phase="Progressing")).state == "progressing"
    assert argo_rollout_status(rollout()).state == "waiting"
    with pytest.raises(UndoRefused) as refused:
        plan_undo(rollout(phase="Degraded"), [], kind="rollout")
    assert refused.value.read_only and "kubectl argo rollouts undo shop" in refused.value.message


def controller_revision(name, revision, image, owner="sts-uid"):
    return {
        "metadata": {
            "name": name,
            "uid": f"{name}-uid",
            "labels": {"controller-revision-hash": name},
            "ownerReferences": [{"uid": owner, "controller": True}],
        },
        "revision": revision,
        "data": {"spec": {"template": {**template(image), "$patch": "replace"}}},
    }


def test_statefulset_undo_follows_kubectl():
    sts = statefulset()
    revisions = [
        controller_revision("db-1", 1, "db:1"),
        controller_revision("db-3", 3, "db:2"),
        controller_revision("db-2", 2, "db:0"),
        controller_revision("other", 9, "db:9", owner="someone-else"),
    ]
    plan = plan_undo(sts, revisions, kind="statefulset")
    assert (plan.target_revision, plan.current_revision, plan.kind) == (2, 3, "statefulset")
    assert plan.patch == [
        {"op": "test", "path": "/metadata/uid", "value": "sts-uid"},
        {"op": "test", "path": "/metadata/generation", "value": 3},
        {"op": "replace", "path": "/spec/template", "value": template("db:0")},
    ]
    assert (
        plan.generation == 3
        and plan_undo(sts, revisions, 1, kind="statefulset").target_revision == 1
    )
    with pytest.raises(UndoRefused, match="unable to find specified revision 9 in history"):
        plan_undo(sts, revisions, 9, kind="statefulset")
    with pytest.raises(UndoRefused, match=r"already matches revision 3\)"):
        plan_undo(sts, revisions, 3, kind="statefulset")
    with pytest.raises(UndoRefused, match=r"^no last revision to roll back to$"):
        plan_undo(sts, revisions[1:2], kind="statefulset")
    # the default target already running: kubectl names revision 0, the one asked for
    with pytest.raises(UndoRefused, match=r"already matches revision 0\)"):
        plan_undo(
            sts,
            [controller_revision("a", 1, "db:2"), controller_revision("b", 2, "db:2")],
            kind="daemonset",
        )

    def pod(name, revision_hash, owner="sts-uid"):
        labels = {"controller-revision-hash": revision_hash}
        refs = [{"uid": owner, "controller": True}]
        return {"metadata": {"name": name, "labels": labels, "ownerReferences": refs}}

    pods = [pod("db-0", "db-1"), pod("db-1", "db-3"), pod("db-2", "db-3"), pod("x", "db-3", "no")]
    rows = history(sts, revisions, kind="statefulset", pods=pods)
    assert [(r.revision, r.images, r.current, r.replicas) for r in rows] == [
        (1, ("db:1",), False, 1),
        (2, ("db:0",), False, 0),
        (3, ("db:2",), True, 2),
    ]


def test_a_planned_undo_is_pinned_to_the_object_and_spec_it_was_planned_from():
    """What the operator confirmed is what is sent: the plan carries the uid and generation
    (and the resourceVersion) of the Deployment it was made from, unless asked not to."""
    dep = deployment(meta={"resourceVersion": "77", "generation": 5}, observedGeneration=5)
    dep["metadata"]["annotations"] = {REVISION: "3"}
    sets = [replicaset("web-1", 1, "web:1"), replicaset("web-3", 3, "web:2")]
    plan = plan_undo(dep, sets)
    assert plan.patch[:2] == [
        {"op": "test", "path": "/metadata/uid", "value": "dep-uid"},
        {"op": "test", "path": "/metadata/generation", "value": 5},
    ]
    assert plan.generation == 5 and plan.resource_version == "77"
    assert (plan.target_revision, plan.current_revision) == (1, 3)
    assert (plan.current_images, plan.target_images) == (("web:2",), ("web:1",))
    bare = plan_undo(dep, sets, precondition=False)
    assert [op["op"] for op in bare.patch] == ["replace", "replace"]
    assert bare.generation is None
    no_version = deployment()
    assert plan_undo(no_version, sets).resource_version is None


def _pod(statuses=(), inits=(), **extra):
    spec = {
        "nodeName": "node-1",
        "initContainers": [{"name": c["name"]} for c in inits],
        "containers": [{"name": c["name"]} for c in statuses],
    }
    return {
        "metadata": {"name": "web-abc", "creationTimestamp": "2026-11-25T10:00:00Z", **extra},
        "spec": spec,
        "status": {
            "phase": "Running",
            "containerStatuses": list(statuses),
            "initContainerStatuses": list(inits),
        },
    }


def test_pod_state_reads_as_kubectl_get_pod_plus_the_last_termination():
    from cockpit.rollout import pod_state

    app = {
        "name": "app",
        "ready": True,
        "restartCount": 2,
        "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
    }
    side = {
        "name": "side",
        "ready": False,
        "restartCount": 5,
        "lastState": {"terminated": {"reason": "Error", "exitCode": 1}},
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
    }
    state = pod_state(_pod([app, side]))
    assert state.name == "web-abc" and state.phase == "Running" and state.node == "node-1"
    assert (state.ready, state.restarts) == ("1/2", 7)
    assert state.last_termination == "side: Error, exit code 1"  # the one restarted most
    assert (state.waiting, state.troubled_container) == ("CrashLoopBackOff", "side")
    assert state.containers == ("app", "side") and state.init_containers == frozenset()
    assert state.created == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    alone = pod_state(_pod([app]))
    assert alone.last_termination == "OOMKilled, exit code 137"  # one container: no name
    assert (alone.waiting, alone.troubled_container) == ("", None)


def test_pod_state_names_init_containers_and_the_trouble_first():
    from cockpit.rollout import pod_state

    init = {
        "name": "migrate",
        "restartCount": 0,
        "state": {"waiting": {"reason": "ImagePullBackOff"}},
    }
    app = {"name": "app", "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}
    state = pod_state(_pod([app], [init]))
    assert state.waiting == "Init:ImagePullBackOff" and state.troubled_container == "migrate"
    assert state.containers == ("migrate", "app") and state.init_containers == {"migrate"}
    assert state.ready == "0/1" and state.last_termination == ""
    calm = pod_state(_pod([app]))
    assert calm.waiting == "PodInitializing" and calm.troubled_container is None
    # a later trouble reason wins over an earlier harmless one
    crash = {"name": "b", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
    assert pod_state(_pod([app, crash])).waiting == "CrashLoopBackOff"


def test_pod_state_of_a_pod_being_deleted_or_without_status():
    from cockpit.rollout import pod_state

    gone = pod_state(_pod([], deletionTimestamp="2026-11-25T10:05:00Z"))
    assert gone.phase == "Terminating"
    bare = pod_state({"metadata": {"name": "p"}})
    assert (bare.phase, bare.ready, bare.restarts, bare.node, bare.created) == (
        "?",
        "0/0",
        0,
        "",
        None,
    )
    no_reason = {"name": "a", "lastState": {"terminated": {"exitCode": 2}}, "restartCount": 1}
    assert pod_state(_pod([no_reason])).last_termination == "terminated, exit code 2"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-5, "0s"),
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (7199, "119m"),
        (7200, "2h"),
        (172799, "47h"),
        (172800, "2d"),
    ],
)
def test_format_age_is_kubectls(seconds, shown):
    from cockpit.rollout import format_age

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert format_age(now - timedelta(seconds=seconds), now) == shown


def test_format_age_and_parse_time_of_nothing():
    from cockpit.rollout import format_age, parse_time

    assert format_age(None) == "?"
    assert parse_time("") is None and parse_time(None) is None and parse_time("soon") is None
    assert parse_time("2026-11-25T10:00:00Z") == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def test_pod_state_of_unnamed_containers_and_a_running_init_container():
    from cockpit.rollout import pod_state

    init = {"name": "setup", "state": {"running": {}}}
    app = {"name": "app", "state": {"waiting": {"reason": "PodInitializing"}}}
    assert pod_state(_pod([app], [init])).waiting == "PodInitializing"
    crash = {
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "restartCount": 3,
        "lastState": {"terminated": {"reason": "Error", "exitCode": 1}},
    }
    unnamed = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{}]},
        "status": {"containerStatuses": [crash, {"ready": True}]},
    }
    state = pod_state(unnamed)
    assert state.troubled_container == "" and state.containers == ()
    assert state.last_termination == "?: Error, exit code 1"
    assert state.ready == "1/1"  # the spec's containers count, not the statuses
    no_spec = {"metadata": {"name": "p"}, "status": {"containerStatuses": [{"ready": True}, {}]}}
    assert pod_state(no_spec).ready == "1/2"


def test_a_daemonset_rolled_on_delete_has_no_rollout_status_as_kubectl_says():
    from cockpit.rollout import daemonset_status

    ds = statefulset(strategy={"type": "OnDelete"}, desiredNumberScheduled=1)
    verdict = daemonset_status(ds)
    assert verdict.state == "waiting"
    assert verdict.message == "rollout status is only available for RollingUpdate strategy type"
    default = statefulset(desiredNumberScheduled=1, updatedNumberScheduled=1, numberAvailable=1)
    del default["spec"]["updateStrategy"]  # RollingUpdate when unset
    assert daemonset_status(default).state == "complete"


def test_an_argo_rollout_without_a_phase_or_message():
    from cockpit.rollout import argo_rollout_status

    waiting = argo_rollout_status({"metadata": {"name": "shop"}, "status": {}})
    assert waiting.message == 'Waiting for rollout "shop" to report its phase...'
    plain = argo_rollout_status({"metadata": {"name": "shop"}, "status": {"phase": "Healthy"}})
    assert plain.message == 'rollout "shop" Healthy'  # no steps, no message: nothing after it
    long = argo_rollout_status(
        {"metadata": {"name": "s"}, "status": {"phase": "Degraded", "message": "x" * 300}}
    )
    assert long.message == 'rollout "s" Degraded: ' + "x" * 200


def test_only_a_progressing_condition_past_its_deadline_fails_and_replicas_default_to_one():
    other = deployment(
        updatedReplicas=4,
        replicas=4,
        availableReplicas=4,
        conditions=[
            {"type": "Available", "reason": "ProgressDeadlineExceeded"},
            {"type": "Progressing", "reason": "NewReplicaSetAvailable"},
        ],
    )
    assert rollout_status(other).state == "complete"
    one = deployment(updatedReplicas=0, replicas=0, availableReplicas=0)
    del one["spec"]["replicas"]
    assert rollout_status(one).message == (
        'Waiting for deployment "web" rollout to finish: '
        "0 out of 1 new replicas have been updated..."
    )


def test_image_tag_is_the_version_without_the_registry_path():
    from cockpit.rollout import image_tag, image_tags

    assert image_tag("registry.example.com:5000/shop/app:2.0.0") == "2.0.0"
    assert image_tag("registry.example.com:5000/shop/app") == "latest"  # the port is no tag
    assert image_tag("shop/app@sha256:" + "ab" * 32) == "@" + "ab" * 6
    assert image_tag("shop/app:2.0.0@sha256:" + "cd" * 32) == "2.0.0@" + "cd" * 6
    assert image_tags(["shop/app:2.0.0", "shop/sidecar:2.0.0", "envoy:1.30"]) == "2.0.0,1.30"


def _serving_rs(name, revision, ready, image, owner="d1"):
    return {
        "metadata": {
            "name": f"web-{name}",
            "uid": name,
            "labels": {"app": "web", "pod-template-hash": name},
            "annotations": {REVISION: str(revision)} if revision is not None else {},
            "ownerReferences": [{"uid": owner, "controller": True, "kind": "Deployment"}],
        },
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
        "status": {"readyReplicas": ready},
    }


def test_serving_revisions_are_the_new_and_the_newest_old_with_ready_pods():
    from cockpit.rollout import serving_revisions

    web = {
        "metadata": {"name": "web", "uid": "d1", "annotations": {}},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "web:3"}]}}},
    }
    # the new ReplicaSet listed first, an old one with ready pods older than another
    sets = [
        _serving_rs("ccc", 3, 1, "web:3"),
        _serving_rs("bbb", 2, 2, "web:2"),
        _serving_rs("aaa", 1, 3, "web:1"),
        _serving_rs("zzz", 9, 5, "web:9", owner="someone-else"),
    ]
    assert serving_revisions(web, sets) == ("ccc", "bbb")  # the newest old, whatever the order
    assert serving_revisions(web, [sets[2], sets[1], sets[0]]) == ("ccc", "bbb")
    sets[1]["status"]["readyReplicas"] = 0  # revision 2 has scaled down: revision 1 still serves
    assert serving_revisions(web, sets) == ("ccc", "aaa")
    sets[2]["status"]["readyReplicas"] = 1
    assert serving_revisions(web, sets) == ("ccc", "aaa")
    sets[2]["status"]["readyReplicas"] = 0  # the rollout is over: no old pods serve
    assert serving_revisions(web, sets) == ("ccc", None)
    # an old ReplicaSet without a revision annotation still serves (kubectl counts it as 0)
    assert serving_revisions(web, [_serving_rs("old", None, 2, "web:0")]) == (None, "old")
    # no ReplicaSet runs the current template yet: no new pods to ask about
    assert serving_revisions(web, sets[1:]) == (None, None)  # and the old ones have no pods
    assert serving_revisions(web, []) == (None, None)


def test_a_history_row_and_a_pod_trouble_read_as_the_operator_sees_them():
    from cockpit.rollout import HistoryRow, PodTrouble

    now = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)
    row = HistoryRow(
        revision=3,
        replicaset="web-ccc",
        images=("web:3",),
        change_cause="",
        created=now - timedelta(minutes=5),
        replicas=2,
        ready=2,
        current=True,
    )
    assert row.age(now) == "5m"
    assert HistoryRow(1, "web-a", (), "", None, 0, 0, False).age(now) == "?"
    assert str(PodTrouble("web-1", "CrashLoopBackOff", 3, "3 restarts")) == (
        "web-1: CrashLoopBackOff (3 restarts)"
    )
    assert str(PodTrouble("web-1", "NotReady", 0, "")) == "web-1: NotReady"


# --- pod trouble, judged at a fixed moment: what the pane says about each pod --------------------

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def at(seconds_ago):
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def container(name="app", *, restarts=0, waiting=None, message=None, last=None, **times):
    state: dict = {"running": {}}
    if waiting:
        state = {"waiting": {"reason": waiting}}
        if message is not None:
            state["waiting"]["message"] = message
    elif "started" in times:
        state = {"running": {"startedAt": at(times["started"])}}
    status: dict = {"restartCount": restarts, "state": state}
    if name is not None:
        status["name"] = name
    if last is not None:
        reason, code = last
        status["lastState"] = {"terminated": {"reason": reason, "exitCode": code}}
        if "finished" in times:
            status["lastState"]["terminated"]["finishedAt"] = at(times["finished"])
    return status


def new_pod(*containers, init=(), ready=False, age=10, conditions=None, phase="Running"):
    return {
        "metadata": {"name": "web-2-x", "creationTimestamp": at(age)},
        "status": {
            "phase": phase,
            "conditions": conditions
            if conditions is not None
            else [{"type": "Ready", "status": "True" if ready else "False"}],
            "initContainerStatuses": list(init),
            "containerStatuses": list(containers),
        },
    }


def judged(pod_, **kw):
    from cockpit.rollout import trouble_of_pods

    return trouble_of_pods([pod_], now=NOW, **kw)


def test_a_crash_loop_names_its_restarts_last_termination_and_the_kubelets_message():
    from cockpit.rollout import PodTrouble

    long_message = "back-off 5m0s restarting failed container " + "x" * 200
    looping = container(
        waiting="CrashLoopBackOff",
        message=long_message,
        restarts=3,
        last=("OOMKilled", 137),
        finished=30,
    )
    # a healthy sidecar listed first does not hide the container that loops
    found = judged(new_pod(container("sidecar"), looping))
    assert found == [
        PodTrouble(
            "web-2-x",
            "CrashLoopBackOff",
            3,
            f"3 restarts; last: OOMKilled, exit code 137; {long_message[:160]}",
        )
    ]
    # restarts long past still show the container's own count beside a crash loop
    old = container(waiting="CrashLoopBackOff", restarts=4, last=("Error", 1), finished=7200)
    assert judged(new_pod(old)) == [
        PodTrouble("web-2-x", "CrashLoopBackOff", 4, "4 restarts; last: Error, exit code 1")
    ]
    # an unnamed init container that cannot pull its image, no message, no restarts
    pulling = container(None, waiting="ErrImagePull")
    assert judged(new_pod(container(), init=[pulling])) == [
        PodTrouble("web-2-x", "Init:ErrImagePull", 0, "init container ?")
    ]


def test_restarts_name_the_container_that_restarted_most_and_when():
    from cockpit.rollout import PodTrouble

    calm = container("sidecar", restarts=0)
    restarting = container("app", restarts=3, last=("Error", 1), finished=30)
    assert judged(new_pod(calm, restarting)) == [
        PodTrouble(
            "web-2-x", "Restarting", 3, "3 restarts, the last 30s ago; last: Error, exit code 1"
        )
    ]
    # only the current run's start is known: that is when it last restarted
    started = container("app", restarts=2, started=45)
    assert judged(new_pod(started)) == [
        PodTrouble("web-2-x", "Restarting", 2, "2 restarts, the last 45s ago; last: terminated")
    ]
    # ...and long ago, on a Ready pod, they are history
    assert judged(new_pod(container("app", restarts=2, started=3600), ready=True)) == []
    # no time at all: a pod that is not Ready is judged on the count alone
    assert judged(new_pod(container("app", restarts=2))) == [
        PodTrouble("web-2-x", "Restarting", 2, "2 restarts; last: terminated")
    ]
    unnamed_init = container(None, restarts=2, last=("Error", 3), finished=5)
    assert judged(new_pod(container(), init=[unnamed_init])) == [
        PodTrouble(
            "web-2-x",
            "Init:Restarting",
            2,
            "2 restarts, the last 5s ago; init container ?; last: Error, exit code 3",
        )
    ]
    # one restart is below the default limit of two; the limit and window can be set
    once = new_pod(container("app", restarts=1, last=("Error", 1), finished=30))
    assert judged(once) == []
    assert [t.reason for t in judged(once, restart_limit=1)] == ["Restarting"]
    twice = new_pod(container("app", restarts=2, last=("Error", 1), finished=100))
    assert judged(twice, restart_limit=3) == []
    assert judged(twice, restart_window=99) == []
    assert [t.restarts for t in judged(twice, restart_window=100)] == [2]  # the edge counts


def test_an_unschedulable_pod_gets_the_autoscalers_grace_from_when_it_became_so():
    from cockpit.rollout import UNSCHEDULABLE_GRACE_SECONDS, PodTrouble

    grace = timedelta(seconds=UNSCHEDULABLE_GRACE_SECONDS)
    unplaced = {"type": "PodScheduled", "status": "False", "reason": "FailedScheduling"}
    # no message, no transition time: the pod's creation starts the grace
    pod_ = new_pod(conditions=[unplaced], phase="Pending", age=60)
    assert judged(pod_) == [
        PodTrouble(
            "web-2-x",
            "Unschedulable",
            0,
            "the scheduler cannot place it",
            grace_until=NOW - timedelta(seconds=60) + grace,
        )
    ]
    since = {**unplaced, "lastTransitionTime": at(20), "message": "m" * 200}
    (found,) = judged(new_pod(conditions=[since], phase="Pending", age=60))
    assert found.detail == "m" * 160 and found.grace_until == NOW - timedelta(seconds=20) + grace
    # neither the creation nor the transition known: the grace starts now
    bare = new_pod(conditions=[unplaced], phase="Pending")
    del bare["metadata"]["creationTimestamp"]
    assert judged(bare)[0].grace_until == NOW + grace
    # a pod without a phase yet is pending; a running pod with a stale condition is not
    no_phase = new_pod(conditions=[unplaced])
    del no_phase["status"]["phase"]
    assert [t.reason for t in judged(no_phase)] == ["Unschedulable"]
    assert judged(new_pod(conditions=[unplaced], phase="Running")) == []


def test_a_pod_not_ready_is_trouble_only_past_the_limit():
    from cockpit.rollout import PodTrouble

    assert judged(new_pod(container(), age=300)) == []  # exactly at the default limit
    assert judged(new_pod(container(), age=301)) == [
        PodTrouble("web-2-x", "NotReady", 0, "not ready after 5m")
    ]
    assert judged(new_pod(container(), age=61), not_ready_seconds=60)[0].reason == "NotReady"
    assert judged(new_pod(container(), age=61, ready=True), not_ready_seconds=60) == []


def test_pod_trouble_passes_its_limits_and_clock_on():
    new = replicaset("web-2", 2, "web:2")
    pod_ = new_pod(container("app", restarts=2, last=("Error", 1), finished=100), age=200)
    pod_["metadata"]["ownerReferences"] = [{"uid": "uid-web-2"}]
    assert [t.reason for t in pod_trouble([pod_], new, now=NOW)] == ["Restarting"]
    assert pod_trouble([pod_], new, now=NOW, restart_limit=3) == []
    assert pod_trouble([pod_], new, now=NOW, restart_window=99) == []
    calm = new_pod(container(), age=200)
    calm["metadata"]["ownerReferences"] = [{"uid": "uid-web-2"}]
    assert [t.reason for t in pod_trouble([calm], new, now=NOW, not_ready_seconds=100)] == [
        "NotReady"
    ]
    assert pod_trouble([calm], new, now=NOW) == []
    # judged at the moment given, not the wall clock (the stamps are in 2026)
    assert pod_trouble([calm], new, now=NOW + timedelta(hours=1)) != []


def test_ages_and_grace_are_measured_against_the_clock_when_no_moment_is_given():
    from cockpit.rollout import PodTrouble, format_age

    assert format_age(datetime.now(UTC) - timedelta(seconds=5)) in ("5s", "6s")
    pending = PodTrouble("p", "Unschedulable", 0, "", grace_until=datetime.now(UTC))
    assert pending.failing()
    assert not PodTrouble(
        "p", "Unschedulable", 0, "", grace_until=NOW + timedelta(days=3650)
    ).failing()


def test_undo_refusals_are_kubectls_words():
    with pytest.raises(UndoRefused) as refused:
        undo_target(deployment(spec={"paused": True}), [replicaset("web-1", 1, "web:1")])
    assert refused.value.message == (
        "you cannot rollback a paused deployment; resume it first with "
        "'kubectl rollout resume' and try again"
    )
    with pytest.raises(UndoRefused, match='no rollout history found for deployment "web"'):
        undo_target(deployment(), [])


def test_the_template_restored_keeps_every_label_but_the_hash_and_leaves_the_source_alone():
    from cockpit.rollout import template_without_hash

    source = template("web:1", "h1")
    clean = template_without_hash(source)
    assert clean["metadata"]["labels"] == {"app": "web"}
    assert source["metadata"]["labels"] == {"app": "web", "pod-template-hash": "h1"}
    assert template_without_hash(template("web:1")) == template("web:1")
    assert template_without_hash({"spec": {}}) == {"spec": {}}


def test_a_statefulset_rolling_update_without_a_partition_compares_revisions():
    from cockpit.rollout import statefulset_status

    sts = {
        "metadata": {"name": "db", "generation": 1},
        "spec": {"replicas": 2, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {}}},
        "status": {"observedGeneration": 1, "readyReplicas": 2, "updatedReplicas": 1},
    }
    verdict = statefulset_status(sts)
    assert (verdict.state, verdict.message) == (
        "complete",
        "partitioned roll out complete: 1 new pods have been updated...",
    )


# --- StatefulSet and DaemonSet undo and history, in full ------------------------------------------


def test_a_statefulset_undo_plan_in_full():
    from cockpit.rollout import UndoPlan

    sts = statefulset(
        updatedReplicas=4, readyReplicas=4, currentRevision="db-3", updateRevision="db-3"
    )
    sts["metadata"]["resourceVersion"] = "901"
    revisions = [controller_revision("db-1", 1, "db:1"), controller_revision("db-3", 3, "db:2")]
    plan = plan_undo(sts, revisions, kind="statefulset")
    assert plan == UndoPlan(
        deployment="db",
        target_revision=1,
        target_replicaset="db-1",
        current_revision=3,
        current_images=("db:2",),
        target_images=("db:1",),
        patch=[
            {"op": "test", "path": "/metadata/uid", "value": "sts-uid"},
            {"op": "test", "path": "/metadata/generation", "value": 3},
            {"op": "replace", "path": "/spec/template", "value": template("db:1")},
        ],
        mid_rollout=False,
        resource_version="901",
        managed_by=(),
        kind="statefulset",
    )
    rolling = statefulset(readyReplicas=1)
    assert plan_undo(rolling, revisions, kind="statefulset").mid_rollout
    bare = plan_undo(sts, revisions, kind="daemonset", precondition=False)
    assert [op["op"] for op in bare.patch] == ["replace"] and bare.kind == "daemonset"
    # the object's template not recorded in any revision: no current revision to name
    unknown = statefulset()
    unknown["spec"]["template"] = template("db:new")
    assert plan_undo(unknown, revisions, 3, kind="statefulset").current_revision == 0


def test_a_statefulset_undo_is_refused_in_kubectls_words():
    sts = statefulset()
    revisions = [controller_revision("db-1", 1, "db:1"), controller_revision("db-3", 3, "db:2")]
    for asked in (-1, 2):
        with pytest.raises(UndoRefused) as refused:
            plan_undo(sts, revisions, asked, kind="statefulset")
        assert refused.value.message == f"unable to find specified revision {asked} in history"
    with pytest.raises(UndoRefused) as refused:
        plan_undo(sts, [], kind="statefulset")
    assert refused.value.message == "no last revision to roll back to"
    with pytest.raises(UndoRefused) as refused:
        plan_undo(sts, revisions, 3, kind="statefulset")
    assert refused.value.skipped
    assert refused.value.message == "skipped rollback (current template already matches revision 3)"
    more = controller_revision("db-1", 1, "db:1")
    more["data"]["spec"]["replicas"] = 9
    for odd in (
        more,
        {**controller_revision("db-1", 1, "db:1"), "data": {"spec": {"template": {}}}},
        {**controller_revision("db-1", 1, "db:1"), "data": {"spec": {}, "metadata": {}}},
    ):
        with pytest.raises(UndoRefused) as refused:
            plan_undo(sts, [odd, revisions[1]], kind="statefulset")
        assert refused.value.message == (
            "revision 1 holds more than a pod template; the cockpit restores templates only: "
            "use kubectl rollout undo statefulset/db"
        )


def test_statefulset_history_counts_ready_pods_of_each_revision():
    from cockpit.rollout import HistoryRow

    sts = statefulset()
    revisions = [controller_revision("db-1", 1, "db:1"), controller_revision("db-3", 3, "db:2")]
    revisions[0]["metadata"]["creationTimestamp"] = "2026-11-01T00:00:00Z"
    revisions[0]["metadata"]["annotations"] = {"kubernetes.io/change-cause": "first"}

    def pod(name, revision_hash, *conditions):
        return {
            "metadata": {
                "name": name,
                "labels": {"controller-revision-hash": revision_hash},
                "ownerReferences": [{"uid": "sts-uid", "controller": True}],
            },
            "status": {"conditions": list(conditions)},
        }

    ready = {"type": "Ready", "status": "True"}
    pods = [
        pod("db-0", "db-3", ready),
        pod("db-1", "db-3", {"type": "Ready", "status": "False"}),
        pod("db-2", "db-3", {"type": "ContainersReady", "status": "True"}),
        pod("db-3", "db-1", {"type": "PodScheduled", "status": "True"}, ready),
    ]
    rows = history(sts, revisions, kind="statefulset", pods=pods)
    assert rows == [
        HistoryRow(
            revision=1,
            replicaset="db-1",
            images=("db:1",),
            change_cause="first",
            created=datetime(2026, 11, 1, tzinfo=UTC),
            replicas=1,
            ready=1,
            current=False,
        ),
        HistoryRow(3, "db-3", ("db:2",), "", None, 3, 1, True),
    ]
    assert [r.ready for r in history(sts, revisions, kind="daemonset", pods=pods)] == [1, 1]


def test_deployment_history_rows_in_full():
    from cockpit.rollout import HistoryRow

    sets = [replicaset("web-2", 2, "web:2", replicas=4), replicaset("web-1", 1, "web:1")]
    sets[0]["status"]["readyReplicas"] = 3
    rows = history(deployment(), sets)
    assert rows == [
        HistoryRow(1, "web-1", ("web:1",), "", datetime(2026, 11, 1, tzinfo=UTC), 0, 0, False),
        HistoryRow(2, "web-2", ("web:2",), "", datetime(2026, 11, 2, tzinfo=UTC), 4, 3, True),
    ]


def test_each_kind_gets_its_own_rollout_status():
    from cockpit.rollout import workload_status

    sts = statefulset(readyReplicas=1)
    assert workload_status("statefulset", sts).message == "Waiting for 3 pods to be ready..."
    ds = {
        "metadata": {"name": "agent", "generation": 1},
        "spec": {},
        "status": {
            "observedGeneration": 1,
            "desiredNumberScheduled": 2,
            "updatedNumberScheduled": 1,
        },
    }
    assert workload_status("daemonset", ds).message == (
        'Waiting for daemon set "agent" rollout to finish: 1 out of 2 new pods have been updated...'
    )
    argo = {"metadata": {"name": "shop"}, "status": {"phase": "Healthy"}}
    assert workload_status("rollout", argo).message == 'rollout "shop" Healthy'
    dep = deployment(updatedReplicas=4, replicas=4, availableReplicas=4)
    assert workload_status("deployment", dep).message == 'deployment "web" successfully rolled out'


def test_a_pod_whose_containers_all_run_waits_for_nothing():
    from cockpit.rollout import pod_state

    running = {
        "name": "migrate",
        "restartCount": 0,
        "state": {"terminated": {"reason": "Completed"}},
    }
    state = pod_state(
        {
            "metadata": {"name": "web-1"},
            "spec": {"initContainers": [{"name": "migrate"}], "containers": [{"name": "app"}]},
            "status": {
                "phase": "Running",
                "initContainerStatuses": [running],
                "containerStatuses": [{"name": "app", "ready": True, "state": {"running": {}}}],
            },
        }
    )
    assert (state.waiting, state.ready, state.containers) == ("", "1/1", ("migrate", "app"))


def test_replicas_that_are_not_a_number_count_as_kubectls_default_of_one():
    verdict = rollout_status(deployment(spec={"replicas": "many"}))
    assert verdict.message == (
        'Waiting for deployment "web" rollout to finish: 0 out of 1 new replicas have been '
        "updated..."
    )


def test_an_argo_rollout_without_canary_steps_shows_no_step():
    from cockpit.rollout import argo_rollout_status

    for strategy in ({}, {"canary": {"steps": []}}, {"canary": {"steps": "3"}}):
        rollout = {
            "metadata": {"name": "shop"},
            "spec": {"strategy": strategy},
            "status": {"phase": "Progressing", "currentStepIndex": 1},
        }
        assert argo_rollout_status(rollout).message == 'rollout "shop" Progressing'


def test_the_new_replicaset_is_the_oldest_running_the_current_template():
    from cockpit.rollout import new_replicaset

    older = replicaset("web-a", 1, "web:2")
    newer = replicaset("web-b", 3, "web:2")  # the same template again, made later
    other = replicaset("web-c", 2, "web:1")
    for sets in ([older, newer, other], [newer, other, older]):
        assert new_replicaset(deployment(), sets)["metadata"]["name"] == "web-a"
    assert new_replicaset(deployment(), [other]) is None


def test_an_argo_rollouts_revisions_and_current_revision_are_its_own_labels():
    from cockpit.rollout import current_revision, revision_number

    rs = replicaset("shop-1", 1, "shop:1", owner="ro-uid")
    rs["metadata"]["annotations"] = {"rollout.argoproj.io/revision": "4"}
    rs["metadata"]["labels"] = {"rollouts-pod-template-hash": "abc"}
    other = replicaset("shop-2", 2, "shop:2", owner="ro-uid")
    other["metadata"]["labels"] = {"rollouts-pod-template-hash": "def"}
    assert revision_number("rollout", rs) == 4 and revision_number("rollout", other) == 0
    rollout = {"metadata": {"name": "shop", "uid": "ro-uid"}, "status": {"currentPodHash": "abc"}}
    assert current_revision("rollout", rollout, [other, rs]) is rs
    assert current_revision("rollout", {**rollout, "status": {}}, [other, rs]) is None
    gone = {**rollout, "status": {"currentPodHash": "zzz"}}
    assert current_revision("rollout", gone, [other, rs]) is None
    assert [r.revision for r in history(rollout, [other, rs], kind="rollout")] == [0, 4]


def test_a_statefulsets_current_revision_is_its_template_or_else_its_update_revision():
    from cockpit.rollout import current_revision

    sts = statefulset()
    revisions = [
        controller_revision("db-1", 1, "db:2"),
        controller_revision("db-3", 3, "db:2"),  # the same template recorded twice: the newest
        controller_revision("db-2", 2, "db:0"),
    ]
    assert current_revision("statefulset", sts, revisions) is revisions[1]
    unrecorded = statefulset(updateRevision="db-2")
    unrecorded["spec"]["template"] = template("db:new")
    assert current_revision("statefulset", unrecorded, revisions) is revisions[2]
    unrecorded["status"].pop("updateRevision")
    assert current_revision("statefulset", unrecorded, revisions) is None
    assert current_revision("daemonset", sts, revisions) is revisions[1]


def test_a_container_terminated_now_names_its_termination():
    from cockpit.rollout import PodTrouble

    stopped = {
        "name": "app",
        "restartCount": 2,
        "state": {"terminated": {"reason": "Error", "exitCode": 1}},
    }
    assert judged(new_pod(stopped)) == [
        PodTrouble("web-2-x", "Restarting", 2, "2 restarts; last: Error, exit code 1")
    ]
    no_reason = {**stopped, "state": {"terminated": {"exitCode": "?"}}}
    assert judged(new_pod(no_reason))[0].detail == "2 restarts; last: terminated"


def test_a_template_digest_is_stable_across_versions_and_ignores_the_hash_label():
    """Digests are written to the audit log (release runs): the same template must get the
    same name in a later cockpit, whichever ReplicaSet carries it."""
    from cockpit.rollout import template_digest

    assert template_digest(template("web:1")) == template_digest(template("web:1", "h1"))
    assert template_digest(template("web:1")) != template_digest(template("web:2"))
    assert template_digest(template("web:1")) == "0f8214e142dd57c0"
    assert len(template_digest({})) == 16


def test_a_statefulset_without_a_strategy_type_or_revisions_rolls_as_kubectl_says():
    from cockpit.rollout import statefulset_status

    sts = statefulset(strategy={}, readyReplicas=4, updatedReplicas=4, currentReplicas=4)
    assert statefulset_status(sts).message == (
        "statefulset rolling update complete 4 pods at revision ..."
    )
    sts["status"]["updateRevision"] = "db-4"
    assert statefulset_status(sts).message == (
        "waiting for statefulset rolling update to complete 4 pods at revision db-4..."
    )
    one = statefulset(strategy={})
    del one["spec"]["replicas"]
    assert statefulset_status(one).message == "Waiting for 1 pods to be ready..."


def test_a_deployment_undo_plan_in_full():
    from cockpit.rollout import UndoPlan

    dep = deployment(updatedReplicas=1, replicas=4)
    dep["metadata"]["annotations"] = {REVISION: "3", "meta.helm.sh/release-name": "web"}
    dep["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "Helm"}
    sets = [replicaset("web-1", 1, "web:1"), replicaset("web-3", 3, "web:2")]
    plan = plan_undo(dep, sets)
    assert (plan.deployment, plan.target_replicaset, plan.kind) == ("web", "web-1", "deployment")
    assert plan.mid_rollout and plan.patch == undo_patch(dep, sets[0], precondition=True)
    # Helm manages it too: the plan says so, so the confirmation can advise helm rollback
    assert [m.tool for m in plan.managed_by] == ["Helm"]
    assert isinstance(plan, UndoPlan) and plan_undo(dep, sets, 1).target_revision == 1
    done = deployment(updatedReplicas=4, replicas=4, availableReplicas=4)
    assert not plan_undo(done, sets).mid_rollout
    with pytest.raises(UndoRefused) as refused:
        plan_undo(dep, sets, 7)
    assert not (refused.value.paused or refused.value.skipped or refused.value.read_only)


def test_a_statefulset_without_an_update_strategy_rolls_as_kubernetes_defaults_it():
    """An object without `updateStrategy` (as a manifest or an older API server gives it)
    is a RollingUpdate, Kubernetes' default: its rollout has a status, not kubectl's refusal."""
    from cockpit.rollout import statefulset_status

    sts = statefulset(readyReplicas=4, updatedReplicas=4, currentRevision="db-3")
    del sts["spec"]["updateStrategy"]
    sts["status"]["updateRevision"] = "db-3"
    sts["status"]["currentReplicas"] = 4
    verdict = statefulset_status(sts)
    assert (verdict.state, verdict.message) == (
        "complete",
        "statefulset rolling update complete 4 pods at revision db-3...",
    )


def test_a_deployment_undo_to_the_running_template_is_skipped_not_failed():
    """kubectl skips a rollback to what already runs; the cockpit tells that apart from a
    refusal (nothing was wrong, nothing was sent)."""
    dep = deployment()
    dep["metadata"]["annotations"] = {REVISION: "3"}
    sets = [replicaset("web-1", 1, "web:2"), replicaset("web-3", 3, "web:2")]
    with pytest.raises(UndoRefused) as refused:
        plan_undo(dep, sets)
    assert refused.value.message == (
        "skipped rollback (current template already matches revision 1)"
    )
    assert refused.value.skipped and not (refused.value.paused or refused.value.read_only)


def test_a_statefulset_undo_plan_names_who_else_manages_it():
    sts = statefulset()
    sts["metadata"]["annotations"] = {"argocd.argoproj.io/tracking-id": "shop:apps/x:prod/db"}
    revisions = [controller_revision("db-1", 1, "db:1"), controller_revision("db-3", 3, "db:2")]
    plan = plan_undo(sts, revisions, kind="statefulset")
    assert [(m.tool, m.name) for m in plan.managed_by] == [("Argo CD", "application shop")]
    assert plan.resource_version is None  # no resourceVersion read: nothing to compare with


def test_revision_pods_match_each_kinds_revision_label():
    """A StatefulSet's pods carry their ControllerRevision's name in `controller-revision-hash`,
    a DaemonSet's pods only the hash (which its ControllerRevision carries as that label)."""
    from cockpit.rollout import revision_pods

    def pod(name, revision_hash, owner):
        return {
            "metadata": {
                "name": name,
                "labels": {"controller-revision-hash": revision_hash},
                "ownerReferences": [{"uid": owner, "controller": True}],
            }
        }

    sts_revision = {
        "metadata": {"name": "db-7d9f8b", "labels": {"controller.kubernetes.io/hash": "7d9f8b"}}
    }
    sts_pods = [pod("db-0", "db-7d9f8b", "sts-uid"), pod("db-1", "db-5c4e2a", "sts-uid")]
    assert [
        p["metadata"]["name"]
        for p in revision_pods("statefulset", statefulset(), sts_revision, sts_pods)
    ] == ["db-0"]
    ds = {"metadata": {"name": "agent", "uid": "ds-uid"}}
    ds_revision = {
        "metadata": {"name": "agent-6c8b4f", "labels": {"controller-revision-hash": "6c8b4f"}}
    }
    ds_pods = [pod("agent-a", "6c8b4f", "ds-uid"), pod("agent-b", "9a1d3e", "ds-uid")]
    assert [
        p["metadata"]["name"] for p in revision_pods("daemonset", ds, ds_revision, ds_pods)
    ] == ["agent-a"]


def test_only_a_ready_condition_that_is_true_counts_a_pod_ready_in_history():
    sts = statefulset()
    revisions = [controller_revision("db-3", 3, "db:2")]

    def pod(name, *conditions):
        return {
            "metadata": {
                "name": name,
                "labels": {"controller-revision-hash": "db-3"},
                "ownerReferences": [{"uid": "sts-uid", "controller": True}],
            },
            "status": {"conditions": list(conditions)},
        }

    pods = [
        pod("db-0", {"type": "Ready", "status": "True"}),
        pod("db-1", {"type": "Ready", "status": "True"}),
        pod("db-2", {"type": "PodScheduled", "status": "True"}),
    ]
    ((row),) = history(sts, revisions, kind="statefulset", pods=pods)
    assert (row.replicas, row.ready) == (3, 2)


def test_a_ready_pod_whose_restart_time_is_unknown_is_not_blamed_for_its_restarts():
    """Without the time of the last restart, a Ready pod's restarts are not counted (they may
    be long past); a pod that is not Ready gets no such benefit."""
    steady = new_pod(container("app", restarts=1), container("side", restarts=1), ready=True)
    assert judged(steady, restart_limit=1) == []
    failing = new_pod(container("app", restarts=1), container("side", restarts=1))
    assert [(t.reason, t.restarts) for t in judged(failing, restart_limit=1)] == [("Restarting", 2)]


def test_a_restarting_init_container_is_named():
    from cockpit.rollout import PodTrouble

    init = container("migrate", restarts=3, last=("Error", 1), finished=30)
    assert judged(new_pod(container("app"), init=[init])) == [
        PodTrouble(
            "web-2-x",
            "Init:Restarting",
            3,
            "3 restarts, the last 30s ago; init container migrate; last: Error, exit code 1",
        )
    ]


def test_pod_trouble_waits_five_minutes_for_readiness_by_default():
    new = replicaset("web-2", 2, "web:2")
    slow = new_pod(container(), age=301)
    slow["metadata"]["ownerReferences"] = [{"uid": "uid-web-2"}]
    assert [t.reason for t in pod_trouble([slow], new, now=NOW)] == ["NotReady"]
