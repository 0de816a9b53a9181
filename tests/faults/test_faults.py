"""Faults around the durable records: a full disk while writing, a dropped SSH session."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

from cockpit.identity import login_name
from cockpit.state import StateStore

from ..test_tui_process import COCKPIT, Terminal, wait_until

FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    from cockpit.identity import Operator
    from cockpit.session import GoLiveSession
    from cockpit.errors import CockpitError

    session = GoLiveSession.open(sys.argv[1], None, operator=Operator("alice", None))
    session.mark_done("Change approved")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a full disk: writes fail with an error
    limit = 64
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        session.mark_done("Backup taken")
    except CockpitError as exc:
        print("REFUSED:", exc.message)
        print("HINT:", exc.hint)
    """
)


def test_full_disk_while_writing_is_a_clear_error_and_nothing_is_lost(write_config):
    path = write_config()
    run = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "REFUSED:" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr
    assert "NOT carried out" in run.stdout or "could not save state" in run.stdout
    store = StateStore(path.parent / ".cockpit" / "state", "staging")
    snapshot = store.load()
    assert store.last_corruption is None
    assert snapshot.items["before/change-approved"].status == "done"
    assert "before/backup-taken" not in snapshot.items  # refused, not half-written
    leftovers = [p for p in store.directory.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    from cockpit.audit import AuditLog

    assert AuditLog(path.parent / ".cockpit" / "audit.jsonl").verify().ok


def test_sighup_from_a_dropped_ssh_session_loses_nothing(write_config, tmp_path):
    path = write_config()
    term = Terminal(
        [COCKPIT, "--config", str(path), "--env", "production"],
        env={"USER": "dave", "SUDO_USER": ""},
    )
    try:
        term.wait_for(b"Announce completion")
        term.send("]")
        time.sleep(0.3)
        term.send("d")
        store = StateStore(tmp_path / ".cockpit" / "state", "production")
        wait_until(lambda: (s := store.peek()) is not None and len(s.items) == 1)
        os.killpg(term.proc.pid, signal.SIGHUP)  # the terminal goes away
        term.proc.wait(20)
    finally:
        if term.proc.poll() is None:
            term.kill()
    snapshot = StateStore(tmp_path / ".cockpit" / "state", "production").load()
    assert snapshot.items["before/change-approved"].by == login_name()  # not the forged USER
    lines = (tmp_path / ".cockpit" / "audit.jsonl").read_text().splitlines()
    assert [json.loads(line)["action"] for line in lines][:2] == ["session_start", "mark"]


def test_sigkill_while_a_rollback_waits_for_the_api_loses_nothing(cluster, tmp_path, operator):
    """The process is killed between the audited request and the API server's answer: the
    records stay intact, the deployment is untouched, and the next start names the rollback
    whose outcome was never recorded."""
    from cockpit.audit import AuditLog
    from cockpit.rehearsal.run import roll_out
    from cockpit.session import GoLiveSession

    from ..kube_helpers import NS, config_for, get_json, wait_rolled_out

    cluster.create_deployment("k9", "shop/k9:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "k9")
    roll_out(cluster, NS, "k9", "shop/k9:2")
    wait_rolled_out(cluster, "k9")
    path = config_for(tmp_path, cluster, ["k9"])
    GoLiveSession.open(path, None, operator=operator).mark_done("x")
    audit = AuditLog(tmp_path / ".cockpit" / "audit.jsonl")
    # the session's cluster is shared: only a PATCH of k9 that arrives after this point is the
    # one this cockpit sends (an earlier test's PATCH would end the wait before this one is
    # held, and the kill could then land with it still unread, applied once the stall ends)
    seen_before = len(cluster.requests)
    k9_path = f"/apis/apps/v1/namespaces/{NS}/deployments/k9"
    cluster.faults.api, cluster.faults.api_methods = "stall", {"PATCH"}
    try:
        run = subprocess.Popen(
            [COCKPIT, "-c", str(path), "rollback", "k9", "--yes"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        wait_until(lambda: any(e.action == "rollback_requested" for e in audit.entries()))
        wait_until(
            lambda: (
                ("PATCH", k9_path)
                in [(m, p.split("?")[0]) for m, p in cluster.requests[seen_before:]]
            ),
            what="the rollback's PATCH held by the stalled API server",
        )
        run.send_signal(signal.SIGKILL)
        run.wait(20)
    finally:
        cluster.faults.api, cluster.faults.api_methods = None, None
    assert audit.verify().ok
    assert [e.action for e in audit.entries()][-1] == "rollback_requested"
    image = get_json(cluster, "deploy", "k9")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "shop/k9:2", "the stalled PATCH was never applied"
    again = GoLiveSession.open(path, None, operator=operator)
    snapshot = again.items.snapshot
    assert snapshot is not None and snapshot.items["s/x"].status == "done"
    assert any("rollback of k9" in n and "no outcome was recorded" in n for n in again.notices)
    status = subprocess.run(
        [COCKPIT, "-c", str(path), "status"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert status.returncode == 0, status.stderr
    assert "no outcome was recorded" in status.stdout + status.stderr
    assert "Traceback" not in status.stdout + status.stderr
