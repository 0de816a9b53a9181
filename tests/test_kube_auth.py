"""Reaching a real cluster as kubectl does: exec credential plugins, impersonation, the user
agent, and watches that fail for one kind only. Against the rehearsal cluster."""

from __future__ import annotations

import json
import sys
import textwrap
import time

import pytest
import yaml

from cockpit import __version__
from cockpit.config import load_config
from cockpit.headless import rollout_json
from cockpit.rehearsal.store import ADMIN_TOKEN
from cockpit.sources import kube_auth
from cockpit.sources.kube import ClusterWatcher, DeploymentActions

from .kube_helpers import NS, kubectl, wait_rolled_out, wait_snapshot
from .servers import Socks5Proxy

PLUGIN = textwrap.dedent(
    """\
    import json, pathlib, sys
    here = pathlib.Path(sys.argv[1])
    with (here / "runs").open("a") as runs:
        runs.write("run\\n")
    token = (here / "token").read_text().strip()
    if token == "fail":
        sys.stderr.write("ERROR:root:Error when retrieving token from sso: Token has expired "
                         "and refresh failed\\nRun 'aws sso login' to refresh\\n")
        sys.exit(255)
    print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1",
                      "kind": "ExecCredential", "status": {"token": token}}))
    """
)


def kubeconfig_with_user(cluster, tmp_path, user):
    """The rehearsal's kubeconfig, its context's user replaced by `user`."""
    data = yaml.safe_load(cluster.kubeconfig.read_text())
    data["users"] = [{"name": "tested", "user": user}]
    data["contexts"] = [
        {"name": "tested", "context": {"cluster": "rehearsal", "user": "tested", "namespace": NS}}
    ]
    data["current-context"] = "tested"
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(data))
    return path


def config_with(tmp_path, kubeconfig, deployments):
    (tmp_path / "runbook.md").write_text("## S\n- [ ] x\n")
    names = ", ".join(f'"{d}"' for d in deployments)
    path = tmp_path / "cockpit.toml"
    path.write_text(
        f"""
checklist = "runbook.md"
[environments.rehearsal]
[[environments.rehearsal.clusters]]
name = "rehearsal"
kubeconfig = "{kubeconfig}"
deployments = [{names}]
"""
    )
    loaded = load_config(path)
    return loaded, loaded.model.environments["rehearsal"].clusters[0]


def plugin_user(tmp_path):
    script = tmp_path / "plugin.py"
    script.write_text(PLUGIN)
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(script), str(tmp_path)],
        }
    }


def runs(tmp_path):
    path = tmp_path / "runs"
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def quick_retries(monkeypatch):
    monkeypatch.setattr(kube_auth, "FAILURE_HOLD", 0.5)


def test_every_request_names_the_cockpit_and_impersonation_is_sent(cluster, tmp_path):
    cluster.create_deployment("as-web", "shop/as-web:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "as-web")
    user = {"token": ADMIN_TOKEN, "as": "jane", "as-groups": ["ops", "sre"]}
    loaded, config = config_with(tmp_path, kubeconfig_with_user(cluster, tmp_path, user), [])
    before = len(cluster.request_headers)
    actions = DeploymentActions(config, loaded)
    actions.fetch("as-web")
    actions.can_patch()
    sent = cluster.request_headers[before:]
    assert len(sent) >= 3  # the Deployment, its ReplicaSets, the access review
    for headers in sent:
        assert headers["User-Agent"] == [f"cockpit/{__version__}"]
        assert headers["Impersonate-User"] == ["jane"]
        assert headers["Impersonate-Group"] == ["ops", "sre"]  # one header per group


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
def test_a_socks_proxy_url_in_the_kubeconfig_is_used(cluster, tmp_path, scheme):
    """A bastion reaching the API through `ssh -D`: the kubeconfig's proxy-url, as kubectl."""
    name = f"{scheme}-web"
    cluster.create_deployment(name, f"shop/{name}:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, name)
    proxy = Socks5Proxy()
    try:
        data = yaml.safe_load(cluster.kubeconfig.read_text())
        for entry in data["clusters"]:
            entry["cluster"]["proxy-url"] = f"{scheme}://127.0.0.1:{proxy.port}"
        path = tmp_path / "kubeconfig"
        path.write_text(yaml.safe_dump(data))
        loaded, config = config_with(tmp_path, path, [])
        deployment, _ = DeploymentActions(config, loaded).fetch(name)
        assert deployment["metadata"]["name"] == name
        assert proxy.connects and all(port == cluster.port for _, port in proxy.connects)
    finally:
        proxy.close()


def test_a_failing_exec_plugin_is_stated_run_once_and_recovered_from(
    cluster, tmp_path, capfd, quick_retries
):
    cluster.create_deployment("sso-web", "shop/sso-web:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "sso-web")
    cluster.tokens["sso-token-1"] = "rehearsal-admin"
    (tmp_path / "token").write_text("fail")
    kubeconfig = kubeconfig_with_user(cluster, tmp_path, plugin_user(tmp_path))
    loaded, config = config_with(tmp_path, kubeconfig, ["sso-web"])
    snapshots = []
    watcher = ClusterWatcher(config, loaded, snapshots.append, backoff_cap=0.5)
    watcher.start()
    try:
        every = "deployments, events, pods, replicasets: "
        failed = wait_snapshot(snapshots, lambda s: (s.last_error or "").startswith(every))
        assert runs(tmp_path) == 1  # four watcher threads, one plugin run
        assert not failed.connected
        assert "credential plugin" in failed.last_error
        assert "Run 'aws sso login' to refresh" in failed.last_error
        assert "ERROR:root" not in failed.last_error
        assert failed.last_error.count("aws sso login") == 1  # said once, for all kinds
        row = rollout_json([failed])[0]
        assert row["message"].startswith("cannot see: ") and "aws sso login" in row["message"]
        (tmp_path / "token").write_text("sso-token-1")  # the operator logged in
        back = wait_snapshot(snapshots, lambda s: s.connected and s.deployments[0].found)
    finally:
        watcher.stop()
    assert back.deployments[0].verdict.state == "complete"
    assert "aws sso login" not in capfd.readouterr().err  # nothing drawn over the TUI
    ran = runs(tmp_path)
    DeploymentActions(config, loaded).fetch("sso-web")  # a rollback's preview
    assert runs(tmp_path) == ran  # shares the watchers' credential: no plugin run of its own


def test_a_plugin_token_without_expiry_is_renewed_after_a_401(cluster, tmp_path, quick_retries):
    cluster.create_deployment("renew-web", "shop/renew-web:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "renew-web")
    cluster.tokens["renew-token-1"] = "rehearsal-admin"
    (tmp_path / "token").write_text("renew-token-1")
    kubeconfig = kubeconfig_with_user(cluster, tmp_path, plugin_user(tmp_path))
    loaded, config = config_with(tmp_path, kubeconfig, ["renew-web"])
    snapshots = []
    watcher = ClusterWatcher(config, loaded, snapshots.append, watch_seconds=1, backoff_cap=0.5)
    watcher.start()
    try:
        wait_snapshot(snapshots, lambda s: s.connected and s.deployments[0].found)
        assert runs(tmp_path) == 1
        del cluster.tokens["renew-token-1"]  # the first token expires
        cluster.tokens["renew-token-2"] = "rehearsal-admin"
        (tmp_path / "token").write_text("renew-token-2")
        deadline = time.monotonic() + 15  # the next watch (each lasts 1 s) gets a 401
        while runs(tmp_path) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runs(tmp_path) == 2  # the plugin ran again, once, for a new token
        kubectl(cluster, "scale", "deployment/renew-web", "--replicas=2")
        scaled = wait_snapshot(
            snapshots, lambda s: s.connected and s.deployments[0].counts[0] == 2, timeout=30
        )
    finally:
        watcher.stop()
    assert scaled.deployments[0].found  # seen with the new token


def denied_user(cluster, token, *denied):
    cluster.tokens[token] = f"user-{token}"
    cluster.denied[token] = set(denied)
    return {"token": token}


def test_events_denied_leave_the_cluster_live(cluster, tmp_path):
    cluster.create_deployment("noev-web", "shop/noev-web:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "noev-web")
    user = denied_user(cluster, "no-events", ("list", "events"), ("watch", "events"))
    loaded, config = config_with(
        tmp_path, kubeconfig_with_user(cluster, tmp_path, user), ["noev-web"]
    )
    snapshots = []
    watcher = ClusterWatcher(config, loaded, snapshots.append)
    watcher.start()
    try:
        seen = wait_snapshot(
            snapshots, lambda s: s.synced and bool(s.last_error) and s.deployments[0].found
        )
    finally:
        watcher.stop()
    assert seen.connected  # events only add detail: not STALE for them
    assert "events: HTTP 403" in seen.last_error
    assert seen.deployments[0].verdict.state == "complete"


def test_deployments_denied_are_unknown_not_missing(cluster, tmp_path):
    user = denied_user(cluster, "no-deploys", ("list", "deployments"), ("watch", "deployments"))
    loaded, config = config_with(tmp_path, kubeconfig_with_user(cluster, tmp_path, user), ["web"])
    snapshots = []
    watcher = ClusterWatcher(config, loaded, snapshots.append)
    watcher.start()
    try:
        seen = wait_snapshot(snapshots, lambda s: "deployments" in (s.last_error or ""))
    finally:
        watcher.stop()
    view = seen.deployments[0]
    assert not seen.connected
    assert view.unknown and "HTTP 403" in view.unknown
    assert view.verdict.message.startswith("cannot see: HTTP 403")
    assert "not found" not in view.verdict.message
    assert rollout_json([seen])[0]["verdict"] == "unknown"


def test_a_watch_denied_at_once_backs_off_although_its_list_succeeds(cluster, tmp_path):
    user = denied_user(cluster, "no-watch", ("watch", "events"))
    loaded, config = config_with(tmp_path, kubeconfig_with_user(cluster, tmp_path, user), [])
    before = len(cluster.requests)
    watcher = ClusterWatcher(config, loaded, lambda s: None)
    watcher.start()
    try:
        time.sleep(3.0)
    finally:
        watcher.stop()
    lists = [
        path
        for method, path in cluster.requests[before:]
        if method == "GET" and "/events" in path and "watch=" not in path
    ]
    # backoff 0.5, 1, 2 s (jitter halves at most): at most 4 lists in 3 s; reset after
    # every list, it would be 6 or more
    assert 1 <= len(lists) <= 4, lists


def test_the_snapshot_lists_kinds_failing_for_one_reason_once():
    watcher = ClusterWatcher(_cluster_config(), None, lambda s: None)  # never started
    for kind in ("deployments", "replicasets", "pods", "events"):
        watcher._fail(kind, "connection refused")
    snapshot = watcher.snapshot()
    assert snapshot.last_error == "deployments, events, pods, replicasets: connection refused"
    assert json.dumps(snapshot.last_error).count("refused") == 1


def _cluster_config():
    from cockpit.config import ClusterConfig

    return ClusterConfig(name="c", namespace=NS, deployments=["web"])


def _status_config(tmp_path, port):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "dead",
                "clusters": [{"name": "dead", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [
                    {"name": "dead", "context": {"cluster": "dead", "user": "u", "namespace": NS}}
                ],
            }
        )
    )
    config_with(tmp_path, kubeconfig, ["web"])  # writes cockpit.toml and checks it loads
    return tmp_path / "cockpit.toml"


def _free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_status_against_a_refusing_cluster_ends_its_watcher_threads(tmp_path):
    import threading

    from click.testing import CliRunner

    from cockpit.cli import cli

    config = _status_config(tmp_path, _free_port())
    before = set(threading.enumerate())  # other tests' watchers may still be winding down
    result = CliRunner().invoke(cli, ["status", "-c", str(config), "--wait", "3"])
    assert result.exit_code == 0, result.output
    assert "connection refused" in result.output
    left = [t.name for t in set(threading.enumerate()) - before if t.name.startswith("kube-")]
    assert left == []  # stopped and joined before status returns: nothing runs at shutdown


def test_status_against_a_silent_cluster_exits_cleanly(tmp_path):
    """A server that accepts and never answers keeps a request blocked past the join: the
    process still ends with its code and its whole output, never an abort (134)."""
    import socket
    import subprocess

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        config = _status_config(tmp_path, server.getsockname()[1])
        started = time.monotonic()
        done = subprocess.run(
            [
                *(sys.executable, "-c", "from cockpit.cli import main; main()"),
                *("status", "-c", str(config), "--wait", "1"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    assert "verdict: PENDING" in done.stdout
    assert "Fatal Python error" not in done.stderr
    assert time.monotonic() - started < 30  # not the client's 60 s read timeout


def test_plugin_failures_are_stated_in_words(tmp_path):
    from cockpit.sources.kube_auth import CredentialError, run_exec_plugin

    spec = {"apiVersion": "client.authentication.k8s.io/v1", "command": "no-such-plugin-xyz"}
    spec["installHint"] = "brew install no-such-plugin-xyz"
    with pytest.raises(CredentialError) as missing:
        run_exec_plugin(spec, "eu", tmp_path)
    assert "credential plugin 'no-such-plugin-xyz' is not installed" in missing.value.message
    assert missing.value.hint == "brew install no-such-plugin-xyz"
    script = tmp_path / "say.py"
    script.write_text("import sys; print('hello'); sys.stderr.write('\\x1b[31mlogin first\\n')")
    spec = {"command": sys.executable, "args": [str(script)]}
    with pytest.raises(CredentialError) as garbage:
        run_exec_plugin(spec, "eu", tmp_path)
    text = garbage.value.message
    assert "did not print an ExecCredential" in text and "login first" in text
    assert "\x1b" not in text  # the plugin's escape sequences never reach the screen
    script.write_text("import sys, os; print(os.environ['KUBERNETES_EXEC_INFO']); sys.exit(0)")
    with pytest.raises(CredentialError):
        run_exec_plugin(spec, "eu", tmp_path)  # echoes its input: no status, refused


def test_a_credential_is_renewed_when_it_expires(monkeypatch):
    from cockpit.sources.kube_auth import BuiltClient, ClusterClient

    built = []

    def build(cluster, loaded, *, expires):
        built.append(object())
        return BuiltClient(built[-1], expires)

    client = ClusterClient(_cluster_config(), None)
    monkeypatch.setattr(kube_auth, "build_client", lambda c, lo: build(c, lo, expires=None))
    first = client.get()
    assert client.get() is first and len(built) == 1  # no expiry: kept until a 401
    client.unauthorized(object())  # a 401 of some other, older client: nothing to renew
    assert client.get() is first
    client.unauthorized(first)
    assert client.get() is not first and len(built) == 2
    monkeypatch.setattr(
        kube_auth, "build_client", lambda c, lo: build(c, lo, expires=time.monotonic() - 1)
    )
    client.unauthorized(built[-1])
    client.get()
    client.get()
    assert len(built) == 4  # expired at once: each get() renews it


def test_in_cluster_takes_the_service_accounts_namespace(tmp_path, monkeypatch):
    from cockpit import kubeconfig

    (tmp_path / "namespace").write_text("shop-prod\n")
    monkeypatch.setattr(kubeconfig, "SERVICE_ACCOUNT_NAMESPACE", tmp_path / "namespace")
    (tmp_path / "runbook.md").write_text("## S\n- [ ] x\n")
    path = tmp_path / "cockpit.toml"
    path.write_text(
        'checklist = "runbook.md"\n[environments.p]\n[[environments.p.clusters]]\n'
        'name = "here"\nin_cluster = true\n'
    )
    assert load_config(path).model.environments["p"].clusters[0].namespace == "shop-prod"
