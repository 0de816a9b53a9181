"""Starting the rehearsal environment for `cockpit rehearse`."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

from cockpit.rehearsal.kube import RehearsalCluster, Timing

NAMESPACE = "servicedesk"
DEPLOYMENTS = {"servicedesk-app": 4, "servicedesk-worker": 2}
RELEASE_IMAGE = "registry.example.com/servicedesk:{version}"


@dataclass
class Rehearsal:
    folder: Path
    cluster: RehearsalCluster
    kubeconfig: Path
    config: Path

    def stop(self) -> None:
        self.cluster.stop()


def start_rehearsal(
    folder: Path,
    *,
    kubeconfig: Path | None = None,
    port: int = 0,
    crash_images: tuple[str, ...] = (),
    pull_fail_images: tuple[str, ...] = (),
    runbook: Path | None = None,
) -> Rehearsal:
    """The rehearsal cluster with the sample's deployments, a kubeconfig and a cockpit config."""
    folder.mkdir(parents=True, exist_ok=True)
    cluster = RehearsalCluster(folder, timing=Timing(ready_after=1.0, restart_every=2.0))
    cluster.faults.crash.update(crash_images)
    cluster.faults.pull.update(pull_fail_images)
    cluster.start(port)
    for name, replicas in DEPLOYMENTS.items():
        cluster.create_deployment(
            name,
            RELEASE_IMAGE.format(version="1.9.0"),
            namespace=NAMESPACE,
            replicas=replicas,
            change_cause="release 1.9.0",
        )
    config_path = cluster.write_kubeconfig(kubeconfig or folder / "kubeconfig", NAMESPACE)
    cockpit_config = folder / "cockpit.toml"
    checklist = runbook or Path(__file__).resolve().parents[3] / "sample-configs" / (
        "servicedesk-runbook.md"
    )
    deployments = ", ".join(f'"{name}"' for name in DEPLOYMENTS)
    cockpit_config.write_text(
        textwrap.dedent(
            f"""\
            # Written by `cockpit rehearse`: the rehearsal environment on 127.0.0.1.
            default_environment = "rehearsal"
            checklist = "{checklist}"

            [state]
            directory = "state"

            [audit]
            path = "audit.jsonl"

            [environments.rehearsal]
            label = "ServiceDesk REHEARSAL"
            production = true
            allow_commands = true

            [environments.rehearsal.placeholders]
            version = "2.0.0"

            [[environments.rehearsal.clusters]]
            name = "rehearsal"
            kubeconfig = "{config_path}"
            context = "rehearsal"
            namespace = "{NAMESPACE}"
            deployments = [{deployments}]
            """
        )
    )
    return Rehearsal(folder, cluster, config_path, cockpit_config)
