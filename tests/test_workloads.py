"""StatefulSets, DaemonSets and Argo Rollouts against the rehearsal cluster, checked against
real kubectl: the verdict at every step, the undo's end state on twins, the refusals, pod
trouble on the new revision, and an Argo Rollout shown but never changed."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from click.testing import CliRunner

from cockpit.cli import cli
from cockpit.config import load_config
from cockpit.rehearsal.kube import BY_PLURAL
from cockpit.rehearsal.store import VIEWER_TOKEN
from cockpit.rollout import UndoRefused, workload_status
from cockpit.sources.kube import ClusterWatcher, RollbackConflict, WorkloadActions

from . import test_kube
from .kube_helpers import wait_snapshot

# A namespace of their own: the StatefulSets and DaemonSets here would otherwise show in the
# listings other tests of the shared rehearsal cluster make of namespace shop.
NS = "workloads"


@pytest.fixture(autouse=True)
def _namespace(cluster):
    cluster.add_namespace(NS)


def kubectl(cluster, *args, **kwargs):
    return test_kube.kubectl(cluster, "-n", NS, *args, **kwargs)


def get_json(cluster, kind, name):
    return json.loads(kubectl(cluster, "get", kind, name, "-o", "json").stdout)


SHORT = {"statefulset": "sts", "daemonset": "ds"}


def manifest(kind: str, name: str, image: str, *, label: str, replicas: int = 2) -> str:
    spec = {
        "selector": {"matchLabels": {"app": label}},
        "template": {
            "metadata": {"labels": {"app": label}},
            "spec": {"containers": [{"name": "app", "image": image}]},
        },
    }
    if kind == "statefulset":
        spec |= {"replicas": replicas, "serviceName": label}
    body = {
        "apiVersion": "apps/v1",
        "kind": {"statefulset": "StatefulSet", "daemonset": "DaemonSet"}[kind],
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }
    return json.dumps(body)


def create(cluster, tmp_path, kind, name, image, *, label=None, replicas=2):
    path = tmp_path / f"{kind}-{name}.json"
    path.write_text(manifest(kind, name, image, label=label or name, replicas=replicas))
    kubectl(cluster, "apply", "-f", str(path))


def image_of(cluster, kind, name):
    return get_json(cluster, kind, name)["spec"]["template"]["spec"]["containers"][0]["image"]


def rolled_out(cluster, kind, name, timeout=30):
    out = kubectl(cluster, "rollout", "status", f"{kind}/{name}", f"--timeout={timeout}s").stdout
    assert "complete" in out or "successfully rolled out" in out, out


def config_for(tmp_path, cluster, workloads, *, context="rehearsal"):
    path = test_kube.config_for(tmp_path, cluster, [], context=context)
    entries = ", ".join(json.dumps(w) for w in workloads)
    text = path.read_text().replace("deployments = []", f"workloads = [{entries}]")
    path.write_text(text.replace(f'namespace = "{test_kube.NS}"', f'namespace = "{NS}"'))
    return path


@contextlib.contextmanager
def watching(path):
    """A watcher of the config's cluster, its snapshots collected in a list."""
    loaded = load_config(path)
    snapshots = []
    watcher = ClusterWatcher(
        loaded.model.environments["rehearsal"].clusters[0], loaded, snapshots.append
    )
    watcher.start()
    try:
        yield snapshots
    finally:
        watcher.stop()


def actions_for(tmp_path, cluster, workloads, context="rehearsal"):
    loaded = load_config(config_for(tmp_path, cluster, workloads, context=context))
    return WorkloadActions(loaded.model.environments["rehearsal"].clusters[0], loaded)


# --- the verdict -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["statefulset", "daemonset"])
def test_verdict_matches_kubectl_rollout_status_at_every_step(cluster, tmp_path, kind):
    name = f"steps-{SHORT[kind]}"
    create(cluster, tmp_path, kind, name, "shop/steps:1", replicas=3)
    rolled_out(cluster, kind, name)
    kubectl(cluster, "set", "image", f"{kind}/{name}", "app=shop/steps:2")
    seen = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        cluster.freeze()
        try:
            obj = get_json(cluster, kind, name)
            theirs = kubectl(cluster, "rollout", "status", f"{kind}/{name}", "--watch=false")
        finally:
            cluster.thaw()
        ours = workload_status(kind, obj)
        assert theirs.stdout.strip() == ours.message, (theirs.stdout, ours)
        seen.add(ours.message.split(":")[0])
        if ours.state == "complete":
            break
        time.sleep(0.1)
    assert ours.state == "complete"
    assert len(seen) >= 2, seen  # a stage on the way was compared, not just the end
    # OnDelete: kubectl refuses to judge, and so does the cockpit (never complete)
    patch = '{"spec":{"updateStrategy":{"type":"OnDelete","rollingUpdate":null}}}'
    kubectl(cluster, "patch", f"{kind}/{name}", "-p", patch)
    theirs = kubectl(cluster, "rollout", "status", f"{kind}/{name}", "--watch=false", check=False)
    ours = workload_status(kind, get_json(cluster, kind, name))
    assert theirs.returncode != 0 and ours.message in theirs.stderr
    assert ours.state == "waiting"


# --- rollback on twins ---------------------------------------------------------------------


def _twins(cluster, tmp_path, kind, names):
    """Two objects with identical templates and the same revisions 1..3 (3 adds an env var, so
    a restore that merges instead of replacing the template shows)."""
    for name in names:
        create(cluster, tmp_path, kind, name, "shop/twin:1", label=f"twin-{SHORT[kind]}")
    for name in names:
        rolled_out(cluster, kind, name)
    for change in (("set", "image", "app=shop/twin:2"), ("set", "env", "MODE=fast")):
        for name in names:
            kubectl(cluster, *change[:2], f"{kind}/{name}", change[2])
        for name in names:
            rolled_out(cluster, kind, name)


def _picture(cluster, kind, name):
    obj = get_json(cluster, kind, name)
    uid = obj["metadata"]["uid"]
    revisions = sorted(
        (
            cr["revision"],
            cr["data"]["spec"]["template"]["spec"]["containers"][0]["image"],
            (cr["metadata"].get("annotations") or {}).get("kubernetes.io/change-cause", ""),
        )
        for cr in json.loads(kubectl(cluster, "get", "controllerrevisions", "-o", "json").stdout)[
            "items"
        ]
        if any(ref["uid"] == uid for ref in cr["metadata"].get("ownerReferences", []))
    )
    return obj["spec"], revisions


@pytest.mark.parametrize("kind", ["statefulset", "daemonset"])
def test_cockpit_rollback_leaves_the_state_kubectl_undo_leaves(cluster, tmp_path, kind):
    a, b = f"twin-{SHORT[kind]}-a", f"twin-{SHORT[kind]}-b"
    _twins(cluster, tmp_path, kind, (a, b))
    cockpit = actions_for(tmp_path, cluster, [f"{kind}/{b}"])
    # mid-rollout: a release that crash-loops, both rolled back from the same still picture
    cluster.faults.crash.add("shop/twin:4")
    for name in (a, b):
        kubectl(cluster, "set", "image", f"{kind}/{name}", "app=shop/twin:4")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # until the controllers recorded revision 4 of both
        cluster.freeze()
        if all(len(_picture(cluster, kind, n)[1]) == 4 for n in (a, b)):
            break
        cluster.thaw()
        time.sleep(0.05)
    try:
        plan = cockpit.rollback(b)
        assert plan.kind == kind and plan.target_revision == 3 and plan.current_revision == 4
        assert plan.mid_rollout
        assert "rolled back" in kubectl(cluster, "rollout", "undo", f"{kind}/{a}").stdout
    finally:
        cluster.thaw()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # until the controllers renumbered revision 3 as 5
        if all(
            len(_picture(cluster, kind, n)[1]) == 4 and _picture(cluster, kind, n)[1][-1][0] == 5
            for n in (a, b)
        ):
            break
        time.sleep(0.05)
    if kind == "statefulset":
        # as a real StatefulSet controller, it waits for the crash-looping pod to be Ready
        # before it replaces it; Kubernetes' docs say to delete that pod by hand after a
        # rollback (kubectl and the cockpit leave the same stuck state: the twins agree)
        assert _picture(cluster, kind, a) == _picture(cluster, kind, b)
        for pod in json.loads(kubectl(cluster, "get", "pods", "-o", "json").stdout)["items"]:
            if pod["spec"]["containers"][0]["image"] == "shop/twin:4":
                kubectl(cluster, "delete", "pod", pod["metadata"]["name"], "--wait=false")
    rolled_out(cluster, kind, a)
    rolled_out(cluster, kind, b)
    assert _picture(cluster, kind, a) == _picture(cluster, kind, b)
    spec, revisions = _picture(cluster, kind, b)
    assert spec["template"]["spec"]["containers"][0]["image"] == "shop/twin:2"
    assert spec["template"]["spec"]["containers"][0]["env"] == [{"name": "MODE", "value": "fast"}]
    assert [r[0] for r in revisions] == [1, 2, 4, 5]  # revision 3 came back as 5
    # to a chosen revision
    kubectl(cluster, "rollout", "undo", f"{kind}/{a}", "--to-revision=1")
    cockpit.rollback(b, to_revision=1)
    rolled_out(cluster, kind, a)
    rolled_out(cluster, kind, b)
    assert _picture(cluster, kind, a) == _picture(cluster, kind, b)
    assert _picture(cluster, kind, b)[0]["template"]["spec"]["containers"][0]["image"] == (
        "shop/twin:1"
    )
    # what kubectl refuses, the cockpit refuses with kubectl's words
    theirs = kubectl(cluster, "rollout", "undo", f"{kind}/{a}", "--to-revision=9", check=False)
    with pytest.raises(UndoRefused) as unknown:
        cockpit.plan_rollback(b, to_revision=9)
    assert unknown.value.message == "unable to find specified revision 9 in history"
    assert unknown.value.message in theirs.stderr
    # kubectl skips when the revision's data is, byte for byte, its own encoding of the
    # template: true on a real cluster, whose controller encodes it the same way, not here
    # (the rehearsal orders keys otherwise), so the rule is checked on its own
    with pytest.raises(UndoRefused) as skipped:
        cockpit.plan_rollback(b, to_revision=6)
    assert skipped.value.skipped
    assert skipped.value.message == "skipped rollback (current template already matches revision 6)"


def test_rollback_refusals_and_a_changed_spec(cluster, tmp_path):
    create(cluster, tmp_path, "statefulset", "lone", "shop/lone:1", replicas=1)
    rolled_out(cluster, "statefulset", "lone")
    cockpit = actions_for(tmp_path, cluster, ["sts/lone"])
    with pytest.raises(UndoRefused) as none:
        cockpit.plan_rollback("lone")
    theirs = kubectl(cluster, "rollout", "undo", "sts/lone", check=False).stderr
    assert none.value.message == "no last revision to roll back to" and none.value.message in theirs
    kubectl(cluster, "set", "image", "sts/lone", "app=shop/lone:2")
    rolled_out(cluster, "statefulset", "lone")
    plan = cockpit.plan_rollback("lone")
    kubectl(cluster, "set", "image", "sts/lone", "app=shop/lone:3")  # someone moves on
    with pytest.raises(RollbackConflict):
        cockpit.send_rollback(plan)
    assert image_of(cluster, "sts", "lone") == "shop/lone:3"
    viewer = actions_for(tmp_path, cluster, ["sts/lone"], context="rehearsal-viewer")
    denied = cluster.denied[VIEWER_TOKEN]
    cluster.call(lambda: denied.add(("patch", "statefulsets")))
    try:
        access = viewer.can_patch("lone")
        deployments = viewer.can_patch()  # the viewer may not patch those either
    finally:
        cluster.call(lambda: denied.discard(("patch", "statefulsets")))
    assert not access.allowed and "may not patch statefulsets" in access.reason
    assert not deployments.allowed and "deployments" in deployments.reason
    assert viewer.can_patch("lone").allowed  # asked about statefulsets, not deployments
    assert cockpit.can_patch("lone").allowed


# --- the watcher: pod trouble on the new revision ---------------------------------------


def test_pod_trouble_is_judged_on_the_statefulsets_new_revision(cluster, tmp_path):
    create(cluster, tmp_path, "statefulset", "sick", "shop/sick:1", replicas=3)
    rolled_out(cluster, "statefulset", "sick")
    cluster.faults.crash.add("shop/sick:bad")
    path = config_for(tmp_path, cluster, [])
    path.write_text(path.read_text().replace("workloads = []", 'statefulsets = ["sick"]'))
    with watching(path) as snapshots:
        seen = wait_snapshot(snapshots, lambda s: s.synced and s.deployments[0].found)
        view = seen.deployments[0]
        assert view.kind == "statefulset" and view.revision == 1 and not view.trouble
        assert [r.revision for r in view.history] == [1] and view.history[0].replicas == 3
        kubectl(cluster, "set", "image", "sts/sick", "app=shop/sick:bad")
        flagged = wait_snapshot(snapshots, lambda s: bool(s.deployments[0].trouble))
    view = flagged.deployments[0]
    assert [t.pod for t in view.trouble] == ["sick-2"]  # the new revision's pod only
    assert view.trouble[0].reason == "CrashLoopBackOff"
    assert view.failing and view.revision == 2
    assert view.old_images == ["shop/sick:1"]  # sick-0 and sick-1 still run revision 1
    assert view.stuck_after_rollback() == ["sick-2"]  # a rollback alone leaves it crashing
    done = CliRunner().invoke(cli, ["rollback", "sick", "-c", str(path), "--yes"])
    assert done.exit_code == 0, done.output
    assert "after the rollback, delete sick-2 so it is recreated at revision 1" in done.output
    assert image_of(cluster, "sts", "sick") == "shop/sick:1"
    rows = {r.revision: r for r in view.history}
    assert rows[2].current and rows[2].images == ("shop/sick:bad",) and rows[1].replicas == 2


# --- Argo Rollouts: shown, never changed ---------------------------------------------------


def _put_rollout(cluster, name, status):
    kind = BY_PLURAL[("argoproj.io", "rollouts")]
    body = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": f"shop/{name}:2"}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {}]}},
        },
    }

    def put():
        found = cluster.store.find(kind, NS, name)
        obj = found if found is not None else body
        return cluster.store.put(kind, {**obj, "status": status}, create=found is None)

    cluster.call(put)


def test_argo_rollout_is_shown_read_only_and_its_rollback_refused(cluster, tmp_path):
    paused = {"phase": "Paused", "currentStepIndex": 1, "message": "CanaryPauseStep"}
    _put_rollout(cluster, "checkout", paused)
    path = config_for(tmp_path, cluster, ["rollout/checkout"])
    with watching(path) as snapshots:
        seen = wait_snapshot(snapshots, lambda s: s.synced and s.deployments[0].found)
        view = seen.deployments[0]
        assert view.read_only and view.label == "rollout/checkout" and view.step == (1, 3)
        assert view.verdict.state == "progressing"
        assert view.verdict.message == 'rollout "checkout" Paused, step 1 of 3: CanaryPauseStep'
        _put_rollout(cluster, "checkout", {"phase": "Degraded", "message": "ProgressDeadline"})
        degraded = wait_snapshot(snapshots, lambda s: s.deployments[0].verdict.state == "failed")
        assert degraded.deployments[0].failing
        _put_rollout(cluster, "checkout", {"phase": "Healthy", "currentStepIndex": 3})
        wait_snapshot(snapshots, lambda s: s.deployments[0].verdict.state == "complete")
    before = len(cluster.requests)
    runner = CliRunner()
    refused = runner.invoke(cli, ["rollback", "rollout/checkout", "-c", str(path), "--yes"])
    assert refused.exit_code == 2, refused.output
    assert "kubectl argo rollouts undo checkout" in refused.output
    paused_cmd = runner.invoke(cli, ["pause", "checkout", "-c", str(path), "--yes"])
    assert paused_cmd.exit_code == 2 and "never changes it" in paused_cmd.output
    assert not [r for r in cluster.requests[before:] if r[0] == "PATCH"]
    status = runner.invoke(cli, ["status", "-c", str(path), "--json"])
    row = json.loads(status.output)["rollouts"][0]
    assert row["kind"] == "rollout" and row["read_only"] and row["verdict"] == "complete"


def test_status_command_shows_statefulsets_and_daemonsets(cluster, tmp_path):
    create(cluster, tmp_path, "daemonset", "shown-ds", "shop/shown:1")
    create(cluster, tmp_path, "statefulset", "shown-sts", "shop/shown:1", replicas=1)
    rolled_out(cluster, "daemonset", "shown-ds")
    rolled_out(cluster, "statefulset", "shown-sts")
    path = config_for(tmp_path, cluster, ["ds/shown-ds", "statefulset/shown-sts"])
    status = CliRunner().invoke(cli, ["status", "-c", str(path), "--json"])
    assert status.exit_code == 0, status.output
    rows = {r["deployment"]: r for r in json.loads(status.output)["rollouts"]}
    said = kubectl(cluster, "rollout", "status", "ds/shown-ds", "--watch=false").stdout.strip()
    assert rows["shown-ds"]["message"] == said and rows["shown-ds"]["kind"] == "daemonset"
    assert rows["shown-sts"]["verdict"] == "complete" and rows["shown-sts"]["revision"] == 1
    assert rows["shown-ds"]["desired"] == rows["shown-ds"]["ready"] == 1
    from .kube_helpers import run_kube_check

    kubectl(cluster, "set", "image", "ds/shown-ds", "app=shop/shown:2")
    rolled_out(cluster, "daemonset", "shown-ds")
    done = CliRunner().invoke(cli, ["rollback", "ds/shown-ds", "-c", str(path), "--yes"])
    assert done.exit_code == 0, done.output
    assert "daemonset shown-ds in cluster rehearsal" in done.output
    assert "rollback sent: shown-ds back to revision 1" in done.output
    assert image_of(cluster, "ds", "shown-ds") == "shop/shown:1"
    audit = [json.loads(line) for line in (tmp_path / ".cockpit" / "audit.jsonl").open()]
    sent = [a for a in audit if a["action"] == "rollback"]
    assert sent[-1]["kind"] == "daemonset" and sent[-1]["deployment"] == "shown-ds"
    rolled_out(cluster, "daemonset", "shown-ds")
    said = kubectl(cluster, "rollout", "status", "ds/shown-ds", "--watch=false").stdout.strip()
    checked = run_kube_check(
        tmp_path, cluster, what="rolled-out", workload="ds/shown-ds", namespace=NS
    )
    assert checked.passed and said in checked.evidence, checked.evidence


async def test_the_tui_rolls_back_a_statefulset_and_refuses_an_argo_rollout(
    cluster, tmp_path, operator
):
    from cockpit.session import GoLiveSession
    from cockpit.tui.app import CockpitApp
    from cockpit.tui.screens.rollback import RollbackScreen
    from cockpit.tui.widgets.rollout import RolloutPane, RolloutTable

    from .test_tui_rollout import open_rollback, until

    create(cluster, tmp_path, "statefulset", "tui-db", "shop/tui:1", replicas=1)
    rolled_out(cluster, "statefulset", "tui-db")
    cluster.faults.crash.add("shop/tui:2")
    kubectl(cluster, "set", "image", "sts/tui-db", "app=shop/tui:2")  # its pod crash-loops
    _put_rollout(cluster, "tui-ro", {"phase": "Healthy"})
    path = config_for(tmp_path, cluster, ["sts/tui-db", "rollout/tui-ro"])
    session = GoLiveSession.open(path, None, operator=operator, via="tui")
    app = CockpitApp(session)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.query_one(RolloutPane)
        await until(pilot, lambda: bool(pane.views[("rehearsal", "tui-db")].trouble))
        screen = await open_rollback(app, pilot, "tui-db")
        details = str(screen.query_one("#rb-details").render())
        assert "back to: revision 1" in details and "(ControllerRevision tui-db-" in details
        assert "RBAC: you may patch statefulsets here." in details
        warned = str(screen.query_one("#rb-warnings").render())
        assert "after the rollback, delete tui-db-0" in warned, warned
        await pilot.click("#rb-go")
        await until(pilot, lambda: not isinstance(app.screen, RollbackScreen))
        kubectl(cluster, "delete", "pod", "tui-db-0", "--wait=false")  # as the warning says
        await until(pilot, lambda: image_of(cluster, "sts", "tui-db") == "shop/tui:1")
        await until(pilot, lambda: pane.views[("rehearsal", "tui-db")].verdict.state == "complete")
        await until(pilot, lambda: pane.views[("rehearsal", "tui-ro")].found)
        table = app.query_one(RolloutTable)
        table.focus()
        table.move_cursor(row=list(pane.views).index(("rehearsal", "tui-ro")))
        before = len(cluster.requests)
        for key in ("ctrl+z", "p"):
            await pilot.press(key)
            await pilot.pause()
        assert not isinstance(app.screen, RollbackScreen)
        said = [n.message for n in app._notifications if "kubectl argo rollouts undo" in n.message]
        assert len(said) == 2, [n.message for n in app._notifications]
        assert not [r for r in cluster.requests[before:] if r[0] == "PATCH"]


def test_a_cluster_without_the_argo_crd_shows_the_row_unknown_not_stale(
    cluster, tmp_path, monkeypatch
):
    from kubernetes.client.exceptions import ApiException

    real = ClusterWatcher._api

    def api(self, kind):
        if kind != "rollouts":
            return real(self, kind)

        def not_served(*_args, **_kwargs):
            raise ApiException(status=404, reason="Not Found")

        return None, not_served

    monkeypatch.setattr(ClusterWatcher, "_api", api)
    with watching(config_for(tmp_path, cluster, ["rollout/nowhere"])) as snapshots:
        seen = wait_snapshot(snapshots, lambda s: s.synced and s.deployments[0].unknown)
    assert seen.connected  # the cluster is seen; only this row cannot be
    assert seen.deployments[0].verdict.message == (
        "cannot see: this cluster does not serve Argo Rollouts (no CRD)"
    )


def test_a_one_shot_status_waits_for_the_argo_rollouts_list(write_config, operator):
    """Rollouts are optional, so a snapshot is synced before their first list: `status` and
    `gate` without --wait took that snapshot and printed an existing Rollout "unknown"
    (a fresh Debian root's run). They wait for every kind now, or for a failure."""

    from cockpit.board import LiveBoard
    from cockpit.session import GoLiveSession
    from cockpit.sources.kube import ClusterSnapshot

    from .conftest import BASE_CONFIG

    config = BASE_CONFIG + (
        '\n[[environments.staging.clusters]]\nname = "c"\nnamespace = "shop"\n'
        'workloads = ["rollout/checkout"]\n'
    )
    session = GoLiveSession.open(write_config(config), None, operator=operator)
    board = LiveBoard(session)

    def waited(**state):
        board.push_cluster(ClusterSnapshot("c", "shop", (), connected=True, **state))
        started = time.monotonic()
        board.wait_ready(0.6)
        return time.monotonic() - started

    assert waited(synced=True, listed=False) >= 0.55  # the Rollouts not listed yet
    assert waited(synced=True, listed=True) < 0.3
    assert waited(synced=True, listed=False, last_error="rollouts: 404") < 0.3  # no CRD
