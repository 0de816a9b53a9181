"""The action lock several cockpits share: a coordination.k8s.io Lease in the rehearsal
cluster, written with resourceVersion preconditions as on a real API server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cockpit.config import load_config
from cockpit.errors import ConfigError
from cockpit.identity import Operator
from cockpit.rehearsal.store import VIEWER_TOKEN
from cockpit.session import GoLiveSession
from cockpit.sources.lease import ActionLock, LeaseHeld

from .kube_helpers import NS, get_json, kubectl, wait_rolled_out

COCKPIT = str(Path(sys.executable).parent / "cockpit")


def shared_config(folder: Path, cluster, deployments, lease_seconds=5) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "runbook.md").write_text("## S\n- [ ] x\n")
    names = ", ".join(f'"{d}"' for d in deployments)
    path = folder / "cockpit.toml"
    path.write_text(
        f"""
checklist = "runbook.md"
[environments.prod]
[environments.prod.state]
backend = "kubernetes"
lease_seconds = {lease_seconds}
[[environments.prod.clusters]]
name = "rehearsal"
kubeconfig = "{cluster.kubeconfig}"
context = "rehearsal"
namespace = "{NS}"
deployments = [{names}]
"""
    )
    return path


def lock_of(path: Path, user: str) -> ActionLock:
    session = GoLiveSession.open(path, "prod", operator=Operator(user=user, address=None))
    lock = session.action_lock()
    assert lock is not None
    lock.identity = f"{user} on bastion-{user}"  # two operators, as two bastions name them
    return lock


def test_two_rollbacks_confirmed_at_once_send_exactly_one(cluster, tmp_path):
    """Alice and Bob, on two bastions, both preview 2 → 1 and press Enter at the same moment:
    one rollback is sent; the other is refused, by the lock (naming its holder) or, when it
    comes just after, by the changed spec; the Deployment is patched once."""
    import threading

    cluster.create_deployment("lk", "shop/lk:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "lk")
    kubectl(cluster, "set", "image", "deployment/lk", "app=shop/lk:2")
    wait_rolled_out(cluster, "lk")
    before = get_json(cluster, "deploy", "lk")["metadata"]["generation"]
    sessions = []
    for user in ("alice", "bob"):
        path = shared_config(tmp_path / user, cluster, ["lk"])
        session = GoLiveSession.open(path, "prod", operator=Operator(user=user, address=None))
        lock = session.action_lock()
        assert lock is not None
        lock.identity = f"{user} on bastion-{user}"
        sessions.append(session)
    cluster_config = sessions[0].environment.clusters[0]
    plans = [s.actions(cluster_config).plan_rollback("lk") for s in sessions]
    assert [(p.current_revision, p.target_revision) for p in plans] == [(2, 1), (2, 1)]
    both = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def confirm(session, plan):
        both.wait()
        try:
            session.rollback(cluster_config, "lk", plan=plan)
            outcomes[session.operator.user] = "sent"
        except Exception as exc:
            outcomes[session.operator.user] = getattr(exc, "message", str(exc))

    pairs = zip(sessions, plans, strict=True)
    threads = [threading.Thread(target=confirm, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes.values()).count("sent") == 1, outcomes
    (refused,) = [o for o in outcomes.values() if o != "sent"]
    assert "holds the action lock" in refused or "changed since this rollback" in refused
    assert get_json(cluster, "deploy", "lk")["metadata"]["generation"] == before + 1
    lease = json.loads(kubectl(cluster, "get", "lease", "cockpit-prod", "-o", "json").stdout)
    assert not lease["spec"].get("holderIdentity")  # given back after the rollback


def test_the_holder_is_named_and_a_killed_holder_loses_the_lock_by_expiry(cluster, tmp_path):
    path = shared_config(tmp_path, cluster, [], lease_seconds=5)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from cockpit.identity import Operator
                from cockpit.session import GoLiveSession
                carol = Operator("carol", None)
                session = GoLiveSession.open({str(path)!r}, "prod", operator=carol)
                lock = session.action_lock()
                lock.identity = "carol on bastion-3"
                lock.acquire("a pause of web")
                print("held", flush=True)
                time.sleep(600)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        mine = lock_of(path, "dave")
        with pytest.raises(LeaseHeld) as caught:
            mine.acquire("the rollback of web")
        assert caught.value.holder == "carol on bastion-3"
        assert "carol on bastion-3 holds the action lock" in caught.value.message
        assert "the rollback of web was not sent" in caught.value.message
        time.sleep(6)  # renewed every 5/3 s while carol's cockpit lives: still hers
        with pytest.raises(LeaseHeld):
            mine.acquire("the rollback of web")
        status = subprocess.run(
            [COCKPIT, "lock", "status", "--config", str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "held by carol on bastion-3" in status.stdout
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    deadline = time.monotonic() + 15
    while True:  # no renewal after the kill: free within lease_seconds
        try:
            mine.acquire("the rollback of web")
            break
        except LeaseHeld:
            assert time.monotonic() < deadline, "the lock never expired"
            time.sleep(0.5)
    mine.release()


def test_a_commander_breaks_the_lock_and_it_is_audited(cluster, tmp_path):
    path = shared_config(tmp_path, cluster, [], lease_seconds=30)
    stuck = lock_of(path, "erin")
    stuck.acquire("a step")
    stuck._renewing.set()  # erin's cockpit hangs: it neither renews nor releases
    done = subprocess.run(
        [COCKPIT, "lock", "break", "--yes", "--config", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "lock taken from erin on bastion-erin and released" in done.stdout
    session = GoLiveSession.open(path, "prod", operator=Operator("frank", None))
    (broken,) = [e for e in session.audit.entries() if e.action == "lock_broken"]
    assert broken.fields["previous_holder"] == "erin on bastion-erin"
    mine = lock_of(path, "frank")
    mine.acquire("the rollback of web")
    mine.release()


def test_a_kubernetes_state_backend_needs_a_cluster(tmp_path):
    (tmp_path / "runbook.md").write_text("## S\n- [ ] x\n")
    path = tmp_path / "cockpit.toml"
    path.write_text('checklist = "runbook.md"\n[environments.prod.state]\nbackend = "kubernetes"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "needs a cluster to hold its Lease" in caught.value.message + "".join(
        caught.value.details or ()
    )


def test_validate_names_the_lease_verbs_the_operator_lacks(cluster, tmp_path):
    path = shared_config(tmp_path, cluster, [])
    ok = subprocess.run(
        [COCKPIT, "validate", "--config", str(path)], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    viewer = path.read_text().replace('context = "rehearsal"', 'context = "rehearsal-viewer"')
    path.write_text(viewer)
    rights = cluster.denied[VIEWER_TOKEN]
    cluster.denied[VIEWER_TOKEN] = rights | {("create", "leases"), ("update", "leases")}
    try:
        denied = subprocess.run(
            [COCKPIT, "validate", "--config", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        cluster.denied[VIEWER_TOKEN] = rights
    assert denied.returncode != 0
    assert "you may not create, update leases (coordination.k8s.io) in namespace shop" in (
        denied.stderr
    )


async def test_the_banner_names_the_other_operators_of_the_environment(cluster, tmp_path):
    """Bob's cockpit is open on the environment: Alice's banner says so; when Bob closes his,
    his Lease is deleted and he is no longer listed."""
    from cockpit.sources.lease import Presence
    from cockpit.tui.app import CockpitApp
    from cockpit.tui.widgets.banner import EnvironmentBanner

    path = shared_config(tmp_path, cluster, [], lease_seconds=6)
    bob = Presence(lock_of(path, "bob"), "prod")
    bob.announce()
    session = GoLiveSession.open(path, "prod", operator=Operator(user="alice", address=None))
    app = CockpitApp(session)
    async with app.run_test(size=(160, 48)) as pilot:
        banner = app.query_one(EnvironmentBanner)
        for _ in range(100):
            if banner.others:
                break
            await pilot.pause(0.05)
        assert banner.others == ["bob on bastion-bob"]
        assert "also here: bob on bastion-bob" in str(banner.render())
        assert app._presence is not None
        assert bob.others() == [app._presence.lock.identity]  # and Bob sees Alice
        bob.stop()
        assert app._presence.others() == []
    leases = kubectl(cluster, "get", "leases", "-l", "cockpit.dev/presence=prod", "-o", "name")
    assert leases.stdout.strip() == ""  # Alice's cockpit closed: her Lease is gone too


async def test_a_rollback_being_previewed_holds_the_lock_against_a_colleague(cluster, tmp_path):
    """Alice reads a rollback preview: Bob's pause of the same environment is refused, naming
    her, and audited; when Alice closes the preview, Bob may act."""
    import asyncio

    from cockpit.errors import CockpitError
    from cockpit.tui.app import CockpitApp

    from .test_tui_rollout import open_rollback, until

    cluster.create_deployment("lh", "shop/lh:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "lh")
    kubectl(cluster, "set", "image", "deployment/lh", "app=shop/lh:2")
    wait_rolled_out(cluster, "lh")
    alice = GoLiveSession.open(
        shared_config(tmp_path / "alice", cluster, ["lh"], lease_seconds=10),
        "prod",
        operator=Operator(user="alice", address=None),
    )
    bob = GoLiveSession.open(
        shared_config(tmp_path / "bob", cluster, ["lh"], lease_seconds=10),
        "prod",
        operator=Operator(user="bob", address=None),
    )
    bob_lock = bob.action_lock()
    assert bob_lock is not None
    bob_lock.identity = "bob on bastion-2"
    app = CockpitApp(alice)
    async with app.run_test(size=(160, 48)) as pilot:
        await open_rollback(app, pilot, "lh")
        target = bob.environment.clusters[0]
        with pytest.raises(CockpitError) as caught:
            await asyncio.to_thread(bob.set_paused, target, "lh", True)
        assert "holds the action lock" in caught.value.message
        assert "alice" in caught.value.message and "the pause of lh was not sent" in (
            caught.value.message
        )
        await pilot.press("escape")
        lock = alice.action_lock()
        await until(pilot, lambda: lock is not None and lock._holds == 0)
        await asyncio.sleep(0.5)  # the release runs off the UI thread
    await asyncio.to_thread(bob.set_paused, target, "lh", True)
    assert get_json(cluster, "deploy", "lh")["spec"]["paused"] is True
    assert [e.action for e in bob.audit.entries() if e.action.startswith("lock")] == [
        "lock_refused"
    ]
