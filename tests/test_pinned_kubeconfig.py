"""Commands act on the configured cluster: steps get a kubeconfig pinned to its context and
namespace, whatever the operator's kubeconfig or KUBECONFIG points at. Real kubectl reads it
(`kubectl config` commands are local: no API server is needed)."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from cockpit.errors import CockpitError
from cockpit.session import GoLiveSession

RUNBOOK = """\
# Which cluster

## Check

1. **Say where kubectl points**
   ```bash
   kubectl config current-context
   kubectl config view --minify -o jsonpath='{.contexts[0].context.namespace}{"\\n"}'
   kubectl config view --minify --raw -o jsonpath='{..certificate-authority}{"\\n"}'
   ```
"""


def kubeconfig(path: Path, current: str) -> Path:
    """Two clusters; `current` is where the operator's shell points."""
    path.parent.mkdir(parents=True, exist_ok=True)
    (path.parent / "ca-staging.crt").write_text("not a real certificate\n")
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": current,
                "clusters": [
                    {
                        "name": "prod",
                        "cluster": {
                            "server": "https://127.0.0.1:1",
                            "insecure-skip-tls-verify": True,
                        },
                    },
                    {
                        "name": "staging",
                        "cluster": {
                            "server": "https://127.0.0.1:2",
                            "certificate-authority": "ca-staging.crt",
                        },
                    },
                ],
                "contexts": [
                    {"name": "prod-admin", "context": {"cluster": "prod", "user": "admin"}},
                    {"name": "staging-ci", "context": {"cluster": "staging", "user": "ci"}},
                ],
                "users": [{"name": "admin", "user": {}}, {"name": "ci", "user": {}}],
            }
        )
    )
    return path


def config(tmp_path: Path, kubeconfig_line: str) -> Path:
    (tmp_path / "runbook.md").write_text(RUNBOOK)
    path = tmp_path / "cockpit.toml"
    path.write_text(
        f"""
checklist = "runbook.md"
[environments.staging]
allow_commands = true
[[environments.staging.clusters]]
name = "staging"
{kubeconfig_line}
context = "staging-ci"
namespace = "shop-staging"
deployments = ["web"]
"""
    )
    return path


@pytest.fixture(autouse=True)
def kubectl_on_path(monkeypatch):
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


async def run(path: Path, operator) -> list[str]:
    session = GoLiveSession.open(path, None, operator=operator)
    item = session.find_item("Say where kubectl points")
    plan = session.plan_step(item)
    assert plan.target == "cluster staging, context staging-ci, namespace shop-staging"
    seen: list[str] = []
    result = await session.run_step(item, on_line=seen.append)
    assert result.passed, result.evidence
    # the runner shows each script first ("$ ..." lines), then its output
    return [line.strip() for line in seen if line.strip() and not line.startswith("$ ")]


async def test_a_kubeconfig_pointing_elsewhere_is_pinned_to_the_configured_context(
    tmp_path, operator, monkeypatch
):
    file = kubeconfig(tmp_path / "kube" / "config", current="prod-admin")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nowhere"))  # ignored: the config names one
    lines = await run(config(tmp_path, f'kubeconfig = "{file}"'), operator)
    assert lines[:2] == ["staging-ci", "shop-staging"]
    assert lines[2] == str((file.parent / "ca-staging.crt").resolve())  # still found
    assert json.loads(file.read_text())["current-context"] == "prod-admin"  # yours, untouched


async def test_without_a_kubeconfig_in_the_config_kubeconfig_from_the_shell_is_pinned(
    tmp_path, operator, monkeypatch
):
    file = kubeconfig(tmp_path / "kube" / "config", current="prod-admin")
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing'}{os.pathsep}{file}")
    lines = await run(config(tmp_path, ""), operator)
    assert lines[:2] == ["staging-ci", "shop-staging"]


def test_the_pinned_file_is_private_and_an_unknown_context_is_refused(tmp_path, monkeypatch):
    from cockpit.checks.base import CheckContext
    from cockpit.config import load_config

    file = kubeconfig(tmp_path / "kube" / "config", current="prod-admin")
    loaded = load_config(config(tmp_path, f'kubeconfig = "{file}"'))
    os.umask(0)
    try:
        pinned = Path(CheckContext(loaded, "staging").command_env()["KUBECONFIG"])
    finally:
        os.umask(0o022)
    assert stat.S_IMODE(pinned.stat().st_mode) == 0o600
    assert stat.S_IMODE(pinned.parent.stat().st_mode) == 0o700
    path = config(tmp_path, f'kubeconfig = "{file}"')
    path.write_text(path.read_text().replace("staging-ci", "staging-typo"))
    with pytest.raises(CockpitError) as refused:
        CheckContext(load_config(path), "staging").command_env()
    assert "context 'staging-typo' is not in" in refused.value.message
    assert "prod-admin, staging-ci" in (refused.value.hint or "")
