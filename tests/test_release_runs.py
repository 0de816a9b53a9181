"""The verdict follows what the cluster does, whoever changes it: end to end on the rehearsal.

The rehearsal cluster (our API stand-in: no Kubernetes API server can run here) is driven with
the real kubectl, as CI or a colleague would, while the real `cockpit gate` and `cockpit
status` run as separate processes against it. The Prometheus and Sentry stand-ins follow the
pods, so metrics turn bad exactly while the bad image serves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cockpit.rehearsal.run import NAMESPACE, start_rehearsal
from cockpit.rehearsal.scenario import load_scenario

from .kube_helpers import KUBECTL

COCKPIT = str(Path(sys.executable).parent / "cockpit")
SCALE = 0.4  # the rehearsal's clock: bake 12 s, step 2 s, initial delay 6 s


def kubectl(rehearsal, *args):
    result = subprocess.run(
        [KUBECTL, "--kubeconfig", str(rehearsal.kubeconfig), "-n", NAMESPACE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def cockpit(rehearsal, *args, timeout=240):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    return subprocess.run(
        [COCKPIT, *args, "--config", str(rehearsal.config)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


def gate(rehearsal, wait="0s"):
    result = cockpit(rehearsal, "gate", "--json", "--wait", wait)
    assert result.returncode in (0, 1, 3), result.stderr
    data = json.loads(result.stdout)
    assert {0: "GO", 1: "NO-GO", 3: "PENDING"}[result.returncode] == data["verdict"]["state"]
    return data


def both(rehearsal):
    """`status --json` and `gate --json` started at the same moment: their verdicts. On a
    loaded machine one of them may miss an answer (a query timing out says "cannot see", a
    cluster not listed within the first look's 10 s says "not listed yet", both rightly
    PENDING); the pair is asked again then, a few times at most."""
    for _ in range(4):
        status_verdict, gate_verdict = _both(rehearsal)
        blind = any(
            "cannot see" in reason
            for verdict in (status_verdict, gate_verdict)
            for reason in verdict["reasons"]
        )
        if status_verdict["state"] == gate_verdict["state"] and not blind:
            break
    return status_verdict, gate_verdict


def _both(rehearsal):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
    base = [COCKPIT]
    status = subprocess.Popen(
        [*base, "status", "--json", "--config", str(rehearsal.config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    gated = subprocess.Popen(
        [*base, "gate", "--json", "--config", str(rehearsal.config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    out_status, _ = status.communicate(timeout=120)
    out_gate, _ = gated.communicate(timeout=120)
    return json.loads(out_status)["verdict"], json.loads(out_gate)["verdict"]


@pytest.fixture
def rehearsal(tmp_path):
    # The pipeline never rolls out by itself: kubectl does, below.
    scenario = load_scenario("bad-release")
    scenario = scenario.model_copy(
        update={
            "time_scale": SCALE,
            "release": scenario.release.model_copy(update={"after": 10_000}),
        }
    )
    started = start_rehearsal(tmp_path / "r", scenario=scenario)
    yield started
    started.stop()


def test_kubectl_rollout_and_undo_drive_the_verdict_and_the_report(rehearsal):
    bad = load_scenario("bad-release").release.image
    # the revisions live at the start bake, then pass
    assert gate(rehearsal, "2m")["verdict"]["state"] == "GO"

    # a bad image rolled out with plain kubectl, as CI does: never GO from this moment
    kubectl(rehearsal, "set", "image", "deployment/servicedesk-app", f"*={bad}")
    first = gate(rehearsal)
    assert first["verdict"]["state"] in ("PENDING", "NO-GO")
    # judging 2.0.0 at once, or, while its controller has not observed the new spec yet (a
    # loaded machine), PENDING saying so: never GO, and never a verdict on the old revision
    unobserved = any("not observed by its controller yet" in r for r in first["verdict"]["reasons"])
    if unobserved:
        assert first["verdict"]["state"] == "PENDING", first["verdict"]
    else:
        assert "2.0.0" in first["verdict"]["judging"], first["verdict"]
        assert first["run"]["kind"] == "rollout"
    failed = gate(rehearsal, "3m")
    assert failed["verdict"]["state"] == "NO-GO", failed["verdict"]
    targets = failed["verdict"]["rollback_targets"]
    assert [(t["deployment"], t["revision"]) for t in targets] == [("servicedesk-app", 1)], failed
    status_verdict, gate_verdict = both(rehearsal)
    assert status_verdict["state"] == gate_verdict["state"] == "NO-GO"
    assert status_verdict["run"] == gate_verdict["run"]

    # the runbook's own `kubectl rollout undo`: a run for the restored revision, then GO
    kubectl(rehearsal, "rollout", "undo", "deployment/servicedesk-app")
    restored = gate(rehearsal, "3m")
    assert restored["verdict"]["state"] == "GO", restored["verdict"]
    assert restored["run"]["kind"] == "rollback"
    assert "1.9.0" in restored["verdict"]["judging"]
    status_verdict, gate_verdict = both(rehearsal)
    assert status_verdict["state"] == gate_verdict["state"] == "GO", (status_verdict, gate_verdict)

    # the bad image again, then the cockpit's own rollback to the recommended revision
    kubectl(rehearsal, "set", "image", "deployment/servicedesk-app", f"*={bad}")
    again = gate(rehearsal, "3m")
    assert again["verdict"]["state"] == "NO-GO", again["verdict"]
    (target,) = again["verdict"]["rollback_targets"]
    assert "1.9.0" in " ".join(target["images"])  # never the revision that failed
    # a slow rollback: its pods take 5 s to be ready, so for well over initial_delay and
    # failure_limit steps the failed 2.0.0 pods still serve and the metrics are theirs; the
    # restored revision is judged once they are gone, never condemned for what they did
    rehearsal.cluster.timing.ready_after = 5.0
    sent = cockpit(
        rehearsal, "rollback", "servicedesk-app", "--to-revision", str(target["revision"]), "--yes"
    )
    assert sent.returncode == 0, sent.stderr
    back = gate(rehearsal, "3m")
    assert back["verdict"]["state"] == "GO", back["verdict"]

    report = cockpit(rehearsal, "report", "--format", "md").stdout
    runs = report.split("## Release analysis runs", 1)[1].split("##", 1)[0]
    rows = [line for line in runs.splitlines() if line.startswith("| ") and ":" in line[:12]]
    assert len(rows) == 5, runs  # baseline, rollout, kubectl undo, rollout, cockpit rollback
    assert "FAILED" in rows[1] and "2.0.0" in rows[1] and "rolled back" in rows[1]
    assert "passed" in rows[2] and "1.9.0" in rows[2] and "observed" in rows[2]
    assert "FAILED" in rows[3] and "2.0.0" in rows[3]
    assert "cockpit rollback by" in rows[4] and "passed" in rows[4]
    assert "Final verdict: **GO**, judging back to servicedesk-app" in report
    assert "1.9.0" in report.split("Final verdict:", 1)[1].splitlines()[0]
    assert "Live at the end: servicedesk-app" in report
    assert "verdict NO-GO (cockpit gate)" in report  # headless gate's verdicts are recorded
    assert "ROLLOUT observed: servicedesk-app" in report
