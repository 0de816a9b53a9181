"""The team's checklist progress in the cluster's own store (state backend "kubernetes"):
ConfigMaps written with resourceVersion preconditions, against the rehearsal cluster, with
cockpits as separate processes with separate local folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cockpit.audit import AuditEntry
from cockpit.errors import CockpitError
from cockpit.identity import Operator
from cockpit.progress import apply_entry
from cockpit.rehearsal.store import VIEWER_TOKEN
from cockpit.session import GoLiveSession
from cockpit.sources.progress import (
    BUDGET,
    ProgressObject,
    decode,
    encode,
    fold,
    object_names,
    shard_of,
)
from cockpit.state import ItemRecord

from .faults.proxy import FaultProxy
from .helpers import until, wait_until
from .kube_helpers import NS, get_json, kubectl, wait_rolled_out

DRIVER = str(Path(__file__).parent / "shared_cockpit.py")
COCKPIT = str(Path(sys.executable).parent / "cockpit")
# how long the store stays cut off in the outage test (the minute: 60)
CUT_SECONDS = float(os.environ.get("COCKPIT_TEST_CUT_SECONDS", "3"))


def team_config(
    folder: Path, kubeconfig: Path | str, items: int = 3, deployments=(), lease_seconds: int = 5
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"- [ ] item {n}\n" for n in range(items))
    (folder / "runbook.md").write_text(f"## S\n{lines}")
    names = ", ".join(f'"{d}"' for d in deployments)
    path = folder / "cockpit.toml"
    path.write_text(
        f"""
checklist = "runbook.md"
[environments.prod]
[environments.prod.state]
backend = "kubernetes"
lease_seconds = {lease_seconds}
watch_seconds = 5
[[environments.prod.clusters]]
name = "rehearsal"
kubeconfig = "{kubeconfig}"
context = "rehearsal"
namespace = "{NS}"
deployments = [{names}]
"""
    )
    return path


def entry(seq: int, action: str = "mark", item: str | None = "s/a", **fields) -> AuditEntry:
    body = {"env": "prod", "actor": fields.pop("actor", "alice"), **fields}
    if item is not None:
        body["item"] = item
    status = {"mark": "done", "skip": "skipped", "reopen": "pending"}.get(action)
    if status:
        body.setdefault("status", status)
    return AuditEntry(seq, datetime.now(UTC).isoformat(), action, body, f"{seq:064x}")


@pytest.fixture
def clean(cluster):
    """No progress ConfigMaps of another test's environment `prod` left over."""
    for name in object_names("prod"):
        kubectl(cluster, "delete", "configmap", name, "--ignore-not-found", check=False)
    yield
    for name in object_names("prod"):
        kubectl(cluster, "delete", "configmap", name, "--ignore-not-found", check=False)


def shared_objects(cluster) -> list[dict]:
    found = kubectl(cluster, "get", "configmaps", "-l", "cockpit.dev/progress=prod", "-o", "json")
    return json.loads(found.stdout)["items"]


# --- the pure parts ------------------------------------------------------------------------------


def test_an_entry_is_applied_once_exactly_past_the_logs_head():
    progress = ProgressObject("p")
    first = fold(progress, [entry(1), entry(2, "note", note="hello")], "log-a", apply_entry)
    assert [e.seq for e in first.entries] == [1, 2]
    assert progress.heads["log-a"]["seq"] == 2 and progress.count == 2
    again = fold(
        progress,
        [entry(2, "note", note="hello"), entry(3, "skip", note="n/a")],
        "log-a",
        apply_entry,
    )
    assert [e.seq for e in again.entries] == [3]  # seq 2 is the head: not applied twice
    assert progress.items["s/a"].note.count("hello") == 1
    other = fold(progress, [entry(1, "reopen", actor="bob")], "log-b", apply_entry)
    assert [e.seq for e in other.entries] == [1]  # another log has its own head
    assert progress.items["s/a"].status == "pending" and progress.count == 4
    assert [(t["log"], t["seq"]) for t in progress.timeline][-1] == ("log-b", 1)


def test_the_timeline_rolls_and_the_object_stays_within_its_budget():
    progress = ProgressObject("p")
    fold(progress, [entry(n, item=None) for n in range(1, 301)], "log", apply_entry)
    assert len(progress.timeline) == 200 and progress.timeline[0]["seq"] == 101
    assert progress.count == 300
    progress.items = {f"s/{n}": ItemRecord("done", by="a", note="x" * 1250) for n in range(400)}
    data = encode(progress)
    assert sum(len(v.encode()) for v in data.values()) <= BUDGET + 64
    assert len(progress.timeline) < 200  # cut shorter to stay in budget; items never dropped
    assert len(json.loads(data["items"])) == 400
    progress.items = {f"s/{n}": ItemRecord("done", note="x" * 2000) for n in range(400)}
    with pytest.raises(CockpitError) as caught:
        encode(progress)
    assert "KiB of item records" in caught.value.message


def test_a_hand_mangled_object_is_refused_not_read_as_nothing_done():
    with pytest.raises(CockpitError) as caught:
        decode({"metadata": {"name": "cockpit-prod-progress-0"}, "data": {"items": "{not json"}})
    assert "cockpit-prod-progress-0 cannot be read" in caught.value.message


def test_items_spread_over_the_shards_and_stay_put():
    spread = {shard_of(f"s/item-{n}") for n in range(40)}
    assert spread == {0, 1, 2, 3}
    assert shard_of("s/item-7") == shard_of("s/item-7")


# --- the rehearsal serves ConfigMaps as a real API server ---------------------------------------


def test_the_rehearsal_refuses_a_stale_resource_version_with_the_real_conflict(cluster):
    kubectl(cluster, "create", "configmap", "rv-check", "--from-literal=a=1")
    first = get_json(cluster, "configmap", "rv-check")
    kubectl(cluster, "patch", "configmap", "rv-check", "-p", '{"data":{"a":"2"}}')
    stale = {**first, "data": {"a": "3"}}
    path = Path(cluster.kubeconfig).parent / "stale.json"
    path.write_text(json.dumps(stale))
    done = kubectl(cluster, "replace", "-f", str(path), check=False)
    assert done.returncode != 0
    assert (
        'Operation cannot be fulfilled on configmaps "rv-check": the object has been modified; '
        "please apply your changes to the latest version and try again" in done.stderr
    )
    from kubernetes import client, config
    from kubernetes.client.exceptions import ApiException

    api = client.CoreV1Api(config.new_client_from_config(str(cluster.kubeconfig), "rehearsal"))
    with pytest.raises(ApiException) as raised:
        api.replace_namespaced_config_map("rv-check", NS, stale, _preload_content=False)
    assert raised.value.status == 409
    body = json.loads(raised.value.body)
    assert body["reason"] == "Conflict" and body["code"] == 409
    assert body["details"] == {"name": "rv-check", "kind": "configmaps"}  # no group: core
    assert get_json(cluster, "configmap", "rv-check")["data"] == {"a": "2"}
    kubectl(cluster, "delete", "configmap", "rv-check")


def test_the_rehearsal_refuses_a_config_map_over_one_mebibyte_and_a_lease_without_duration(
    cluster, tmp_path
):
    exactly = tmp_path / "exactly"
    exactly.write_text("x" * (1024 * 1024 - 1))  # with the key's one-byte value: 1 MiB in all
    over = tmp_path / "over"
    over.write_text("x" * (1024 * 1024))
    ok = kubectl(
        cluster, "create", "configmap", "big-ok", f"--from-file=k={exactly}", "--from-literal=a=1"
    )
    assert ok.returncode == 0
    kubectl(cluster, "delete", "configmap", "big-ok")
    refused = kubectl(
        cluster,
        "create",
        "configmap",
        "big",
        f"--from-file=k={over}",
        "--from-literal=a=1",
        check=False,
    )
    assert refused.returncode != 0
    assert "Too long: must have at most 1048576 bytes" in refused.stderr
    lease = tmp_path / "lease.json"
    lease.write_text(
        json.dumps(
            {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": "no-duration"},
                "spec": {"holderIdentity": "x", "leaseDurationSeconds": 0},
            }
        )
    )
    bad = kubectl(cluster, "create", "-f", str(lease), check=False)
    assert bad.returncode != 0
    assert "spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0" in bad.stderr


# --- three cockpits, separate processes, separate folders ---------------------------------------


def _spawn(args: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, DRIVER, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def _started(processes: list[subprocess.Popen[str]]) -> None:
    """Each has opened its session (they start side by side: imports take seconds)."""
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "started"


def test_three_cockpits_make_400_marks_at_once_and_lose_none(cluster, clean, tmp_path):
    """Alice, Bob and Carol mark 360 items (120 each, interleaved) and add 40 notes to one item
    (the same object, the hardest case), all at once: every mark and every note is in the
    shared record, and each cockpit's local copy converges to the same state."""
    users = ("alice", "bob", "carol")
    items = 361
    notes = {"alice": 14, "bob": 13, "carol": 13}
    processes = []
    for k, user in enumerate(users):
        path = team_config(tmp_path / user, cluster.kubeconfig, items=items)
        mine = [str(i) for i in range(items - 1) if i % 3 == k]
        args = [str(path), user, "marks", *mine, "--notes", str(items - 1), str(notes[user])]
        args += ["--expect-done", str(items - 1), "--expect-notes", "40"]
        processes.append(_spawn(args))
    _started(processes)
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    results = []
    for process in processes:
        out, _ = process.communicate(timeout=180)
        assert process.returncode == 0
        results.append(json.loads(out.strip().splitlines()[-1]))
    first = results[0]["records"]
    done = [k for k, r in first.items() if r["status"] == "done"]
    assert len(done) == items - 1  # no mark lost
    by = {r["by"] for r in first.values() if r["status"] == "done"}
    assert by == set(users)
    note = first[f"s/item-{items - 1}"]["note"]
    for user in users:
        assert note.count(f"] {user} note ") == notes[user]  # no note lost
    for other in results[1:]:
        assert other["records"] == first  # every cockpit converged to the same state
    shared = shared_objects(cluster)
    assert sum(int(cm["data"]["count"]) for cm in shared) == 400  # every entry, once
    heads = {}
    for cm in shared:
        for log, head in json.loads(cm["data"]["heads"]).items():
            heads.setdefault(log, []).append(head["seq"])
    # each log's head is its last entry: alice 120 marks and 14 notes, bob and carol 133
    assert sorted(max(seqs) for seqs in heads.values()) == [133, 133, 134]
    for result in results:  # each saw colleagues' marks by name
        assert result["messages"], result["messages"]


def test_two_rollbacks_started_at_once_send_exactly_one(cluster, clean, tmp_path):
    """Alice rolls back web-a and Bob web-b, starting at the same moment from two processes:
    only the action lock keeps them apart (two different Deployments, no spec conflict), so
    exactly one is sent and the other is refused naming its holder. Without the lock both
    would be sent."""
    for name in ("rb-a", "rb-b"):
        cluster.create_deployment(name, f"shop/{name}:1", namespace=NS, replicas=1)
        wait_rolled_out(cluster, name)
        kubectl(cluster, "set", "image", f"deployment/{name}", f"app=shop/{name}:2")
        wait_rolled_out(cluster, name)
    before = {n: get_json(cluster, "deploy", n)["metadata"]["generation"] for n in ("rb-a", "rb-b")}
    processes = {}
    for user, deployment in (("alice", "rb-a"), ("bob", "rb-b")):
        path = team_config(tmp_path / user, cluster.kubeconfig, deployments=["rb-a", "rb-b"])
        processes[user] = _spawn([str(path), user, "rollback", deployment])
    _started(list(processes.values()))
    for process in processes.values():
        assert process.stdin is not None
        process.stdin.write("start\n")
        process.stdin.flush()
    said = {}
    for user, process in processes.items():
        assert process.stdout is not None
        said[user] = process.stdout.readline().strip()
    for process in processes.values():
        assert process.stdin is not None
        with __import__("contextlib").suppress(BrokenPipeError):
            process.stdin.write("go\n")
            process.stdin.flush()
    for user, process in processes.items():
        out, _ = process.communicate(timeout=60)
        said[user] += " | " + out.strip()
    sent = [u for u, text in said.items() if text.endswith("sent")]
    assert len(sent) == 1, said
    (refused,) = [text for u, text in said.items() if u not in sent]
    holder = sent[0]
    assert refused.startswith(f"refused: {holder} on bastion-{holder} holds the action lock"), said
    after = {n: get_json(cluster, "deploy", n)["metadata"]["generation"] for n in ("rb-a", "rb-b")}
    assert sorted(after[n] - before[n] for n in after) == [0, 1]


# --- the store cut off ---------------------------------------------------------------------------


def test_a_cockpit_cut_off_from_the_store_refuses_marks_and_loses_nothing(cluster, clean, tmp_path):
    """Alice's cockpit reaches the cluster through a proxy that is cut for CUT_SECONDS. Her
    mark in flight when it goes is audited and kept in her local copy; her next mark is
    refused with one line saying why; Bob meanwhile skips the same item. When the store is
    back her mark is sent on top of Bob's skip, the conflict is shown with his name, and
    nothing is lost: both their entries are in the shared record."""
    proxy = FaultProxy(cluster.port)
    try:
        config = json.loads(Path(cluster.kubeconfig).read_text())
        config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
        proxied = tmp_path / "kubeconfig-proxied"
        proxied.write_text(json.dumps(config))
        alice = GoLiveSession.open(
            team_config(tmp_path / "alice", proxied), "prod", operator=Operator("alice", None)
        )
        bob = GoLiveSession.open(
            team_config(tmp_path / "bob", cluster.kubeconfig),
            "prod",
            operator=Operator("bob", None),
        )
        assert alice.team is not None and bob.team is not None
        assert alice.team.unreachable is None
        alice.mark_done("s/item-0")  # shared at once
        proxy.set("down")
        alice.mark_done("s/item-1")  # in flight when the store goes: audited, local, unshared
        assert (
            alice.view(next(i for i in alice.checklist.items() if i.id == "s/item-1")).status
            == "done"
        )
        assert any("not shared yet" in m for m in alice.team.take_messages())
        assert alice.team.banner() is not None and "UNREACHABLE" in alice.team.banner()
        with pytest.raises(CockpitError) as caught:
            alice.mark_done("s/item-2")
        assert "the team's shared progress is unreachable" in caught.value.message
        assert "\n" not in caught.value.message  # one line
        bob.team.refresh()
        bob.items.snapshot = bob.items.store.load()
        bob.skip("s/item-1", "not in this release")  # Bob, still connected, meanwhile
        time.sleep(CUT_SECONDS)
        proxy.set("pass")
        changed = []
        alice.team.start(lambda: changed.append(1))  # the watch finds the store back
        wait_until(
            lambda: alice.team.unreachable is None and changed,
            what=lambda: f"the store never came back: {alice.team.unreachable}",
        )
        messages = alice.team.take_messages()
        assert any("reachable again" in m for m in messages), messages
        (conflict,) = [m for m in messages if m.startswith("conflict")]
        assert "'item 1'" in conflict and "bob skipped it" in conflict
        assert "yours (marked done) is applied on top" in conflict
        alice.mark_done("s/item-2")  # accepted again
        bob.team.refresh()
        records = bob.store.load().items
        assert records["s/item-1"].status == "done" and records["s/item-1"].by == "alice"
        assert "not in this release" in records["s/item-1"].note  # Bob's reason kept
        assert records["s/item-2"].status == "done"
        shared = shared_objects(cluster)
        actors = {
            json.loads(line)["actor"]
            for cm in shared
            for line in cm["data"]["timeline"].splitlines()
        }
        assert actors == {"alice", "bob"}
        alice_actions = [
            (json.loads(line)["action"], json.loads(line).get("item"))
            for cm in shared
            for line in cm["data"]["timeline"].splitlines()
            if json.loads(line)["actor"] == "alice"
        ]
        assert sorted(a for a in alice_actions if a[0] == "mark") == [
            ("mark", "s/item-0"),
            ("mark", "s/item-1"),
            ("mark", "s/item-2"),
        ]
        alice.team.stop()
    finally:
        proxy.close()


def test_a_deleted_progress_object_is_written_again_from_the_audit_logs(cluster, clean, tmp_path):
    """Someone deletes the ConfigMaps (by hand, or to start them again) while Alice's and
    Bob's cockpits are open: Alice's next write recreates them from her whole audit log, and
    Bob's next write adds his whole log to them (they have no head of his), so no mark made
    before is lost."""
    sessions = {}
    for user in ("alice", "bob"):
        session = GoLiveSession.open(
            team_config(tmp_path / user, cluster.kubeconfig, items=14),
            "prod",
            operator=Operator(user, None),
        )
        assert session.team is not None
        sessions[user] = session
    alice, bob = sessions["alice"], sessions["bob"]
    for n in range(6):
        alice.mark_done(f"s/item-{n}")
    for n in range(6, 11):
        bob.mark_done(f"s/item-{n}")
    for session in sessions.values():
        session.team.start(lambda: None)  # open cockpits follow the objects
    for name in object_names("prod"):
        kubectl(cluster, "delete", "configmap", name, "--ignore-not-found")
    wait_until(  # both have seen them go
        lambda: not alice.team.shared.objects and not bob.team.shared.objects,
        what="the deletions never reached the cockpits",
    )
    alice.mark_done("s/item-11")
    time.sleep(0.5)
    bob.mark_done("s/item-12")
    for session in sessions.values():
        session.team.stop()
    records = {}
    for cm in shared_objects(cluster):
        records.update(json.loads(cm["data"]["items"]))
    assert sorted(records) == sorted(f"s/item-{n}" for n in range(13))
    assert sum(int(cm["data"]["count"]) for cm in shared_objects(cluster)) == 13


# --- RBAC ----------------------------------------------------------------------------------------


def test_validate_names_the_configmap_verbs_the_operator_lacks(cluster, tmp_path):
    path = team_config(tmp_path, cluster.kubeconfig)
    viewer = path.read_text().replace('context = "rehearsal"', 'context = "rehearsal-viewer"')
    path.write_text(viewer)
    rights = cluster.denied[VIEWER_TOKEN]
    cluster.denied[VIEWER_TOKEN] = rights | {
        ("update", "configmaps"),
        ("create", "configmaps"),
    }
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
    assert "you may not create, update configmaps in namespace shop" in denied.stderr
    assert "the shared checklist progress needs get, list, watch, create and update" in (
        denied.stderr
    )


# --- the TUI -------------------------------------------------------------------------------------


async def test_a_colleagues_mark_appears_in_the_cockpit_with_their_name(cluster, clean, tmp_path):
    """Bob marks an item from his bastion: Alice's open cockpit shows it done and says who,
    on the message line, without her doing anything (the figure for how fast: docs/SHARED.md)."""
    import asyncio

    from cockpit.tui.app import CockpitApp
    from cockpit.tui.widgets.banner import EnvironmentBanner

    alice = GoLiveSession.open(
        team_config(tmp_path / "alice", cluster.kubeconfig),
        "prod",
        operator=Operator("alice", None),
    )
    bob = GoLiveSession.open(
        team_config(tmp_path / "bob", cluster.kubeconfig), "prod", operator=Operator("bob", None)
    )
    app = CockpitApp(alice)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.5)
        await asyncio.to_thread(bob.mark_done, "s/item-0")
        item = next(i for i in alice.checklist.items() if i.id == "s/item-0")
        banner = app.query_one(EnvironmentBanner)
        # the news, the item and the banner: each is drawn once the state thread has read the
        # mark (the banner may come a message after the news)
        await until(
            pilot,
            lambda: (
                alice.view(item).status == "done"
                and any("bob marked done" in n.message for n in app.message_history)
                and "checklist 1/3" in str(banner.render())
            ),
            what=lambda: ([n.message for n in app.message_history], str(banner.render())),
        )
        assert "bob marked done 'item 0'" in [n.message for n in app.message_history]


async def test_the_cockpit_says_when_the_store_is_gone_refuses_d_and_recovers(
    cluster, clean, tmp_path
):
    """The cluster stops answering Alice's cockpit: the banner says so, `d` is refused with
    the reason on the message line, the item stays as it was; when the cluster is back the
    banner clears, the message line says so, and `d` marks again."""
    from cockpit.tui.app import CockpitApp
    from cockpit.tui.widgets.banner import EnvironmentBanner
    from cockpit.tui.widgets.checklist import ChecklistPane

    proxy = FaultProxy(cluster.port)
    try:
        config = json.loads(Path(cluster.kubeconfig).read_text())
        config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
        proxied = tmp_path / "kubeconfig-proxied"
        proxied.write_text(json.dumps(config))
        alice = GoLiveSession.open(
            team_config(tmp_path / "alice", proxied), "prod", operator=Operator("alice", None)
        )
        app = CockpitApp(alice)
        async with app.run_test(size=(160, 48)) as pilot:
            banner = app.query_one(EnvironmentBanner)
            item = next(i for i in alice.checklist.items() if i.id == "s/item-0")
            proxy.set("down")
            await until(
                pilot,
                lambda: "SHARED PROGRESS UNREACHABLE" in str(banner.render()),
                what=lambda: str(banner.render()),
            )
            app.query_one(ChecklistPane).select_item("s/item-0")
            await pilot.pause()
            await pilot.press("d")
            await until(
                pilot,
                lambda: any(
                    "cannot change the checklist: the team's shared progress is unreachable"
                    in n.message
                    for n in app.message_history
                ),
                what=lambda: [n.message for n in app.message_history],
            )
            assert alice.view(item).status == "pending"
            proxy.set("pass")
            await until(
                pilot,
                lambda: (
                    "UNREACHABLE" not in str(banner.render())
                    and any("reachable again" in n.message for n in app.message_history)
                ),
                timeout=20,
                what=lambda: (str(banner.render()), [n.message for n in app.message_history]),
            )
            await pilot.press("d")
            await until(pilot, lambda: alice.view(item).status == "done")
    finally:
        proxy.close()


def test_a_watch_too_far_behind_lists_again_and_misses_no_colleagues_mark(
    cluster, clean, tmp_path, monkeypatch
):
    """A watch from a resourceVersion the API server no longer keeps gets 410 Gone (as an
    ERROR event, as a real server sends it on a watch); the cockpit lists again, and a
    colleague's mark made while it was behind reaches the screen."""
    from collections import deque

    from cockpit.config import load_config
    from cockpit.sources.progress import SharedProgress

    loaded = load_config(team_config(tmp_path / "a", cluster.kubeconfig))
    shared = SharedProgress(
        loaded.model.environments["prod"].clusters[0],
        loaded,
        namespace=NS,
        environment="prod",
        watch_seconds=2,
    )
    stale = shared.load()
    store = cluster.store
    kept = store.log

    def short_history() -> None:
        store.log = deque(store.log, maxlen=5)

    def full_history() -> None:
        store.log = deque(store.log, maxlen=kept.maxlen)

    cluster.call(short_history)
    try:
        for n in range(8):  # the server's window moves past the version the cockpit holds
            kubectl(cluster, "create", "configmap", f"churn-{n}")
        colleague = ProgressObject(shared.names[0])
        colleague.items["s/item-0"] = ItemRecord(status="done", by="bob")
        manifest = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": shared.names[0], "labels": {"cockpit.dev/progress": "prod"}},
            "data": encode(colleague),
        }
        kubectl(cluster, "create", "-f", "-", stdin=json.dumps(manifest))
        listed = shared.load
        calls = []

        def first_stale() -> str:  # the cockpit held `stale` when its watch went on
            calls.append(1)
            return stale if len(calls) == 1 else listed()

        monkeypatch.setattr(shared, "load", first_stale)
        seen: list[ProgressObject] = []
        shared.watch(lambda changes: seen.extend(after for _b, after in changes), lambda _e: None)
        wait_until(lambda: any("s/item-0" in o.items for o in seen), timeout=30)
        assert len(calls) >= 2  # listed again after the 410
        assert seen[-1].items["s/item-0"].by == "bob"
    finally:
        shared.stop()
        cluster.call(full_history)
        for n in range(8):
            kubectl(cluster, "delete", "configmap", f"churn-{n}", "--ignore-not-found", check=False)
