"""Starting the rehearsal environment for `cockpit rehearse`."""

from __future__ import annotations

import copy
import textwrap
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from cockpit.checklist.markdown import runbook_prose
from cockpit.rehearsal.kube import RehearsalCluster, Timing
from cockpit.rehearsal.samples import sample_runbook
from cockpit.rehearsal.scenario import (
    ERROR_QUERY,
    P95_QUERY,
    RPS_QUERY,
    Scenario,
    StandIns,
    World,
)
from cockpit.starter import stated_gates

NAMESPACE = "servicedesk"
# A new revision is GO after this long on the rehearsal's clock (production default: 5m).
REHEARSAL_BAKE_SECONDS = 30
DEPLOYMENTS = {"servicedesk-app": 4, "servicedesk-worker": 2}
# Not part of the release: a StatefulSet beside it, so the pane shows a row of another kind.
STATEFULSETS = {"servicedesk-cache": ("docker.io/library/redis:7.2", 1)}
RELEASE_IMAGE = "registry.example.com/servicedesk:{version}"


@dataclass
class Rehearsal:
    folder: Path
    cluster: RehearsalCluster
    kubeconfig: Path
    config: Path
    standins: StandIns | None = None
    pipeline: threading.Timer | None = None

    def stop(self) -> None:
        if self.pipeline is not None:
            self.pipeline.cancel()
        if self.standins is not None:
            self.standins.stop()
        self.cluster.stop()


STAND_IN_QUERIES = {"p95 latency": P95_QUERY, "error rate": ERROR_QUERY}


def rehearsal_gates(runbook: Path) -> list[dict[str, Any]]:
    """The gates `cockpit init` suggests for the targets the runbook states, on the series the
    stand-in serves. Throughput is shown too, for the picture, but gates nothing unless the
    runbook states a floor for it."""
    gates = [
        {**gate, "query": STAND_IN_QUERIES.get(gate["name"], RPS_QUERY), "suggested": False}
        for gate in stated_gates(runbook_prose(runbook.read_text(encoding="utf-8")))
        if gate["name"] in STAND_IN_QUERIES or gate["name"] == "throughput"
    ]
    if not any(gate["name"] == "throughput" for gate in gates):
        gates.append({"name": "throughput", "query": RPS_QUERY, "unit": "req/s", "gate": False})
    return gates


def _metrics(scale: float, runbook: Path) -> str:
    """The gates as TOML, their analysis clock scaled like the scenario's."""

    def seconds(value: float) -> str:
        return f"{max(1, round(value * scale))}s"

    timing = {
        "window": "3m",
        "step": seconds(5),
        "interval": seconds(5),
        "failure_limit": 2,
        "initial_delay": seconds(15),
    }
    metrics = [{**gate, **timing} for gate in rehearsal_gates(runbook)]
    return "\n" + tomli_w.dumps({"environments": {"rehearsal": {"metrics": metrics}}})


def roll_out(cluster: RehearsalCluster, namespace: str, deployment: str, image: str) -> None:
    """What the delivery pipeline does: a new image in the Deployment's template."""
    from cockpit.rehearsal.kube import BY_PLURAL

    kind = BY_PLURAL[("apps", "deployments")]

    def change() -> None:
        assert cluster.store is not None
        current = copy.deepcopy(cluster.store.get(kind, namespace, deployment))
        current["spec"]["template"]["spec"]["containers"][0]["image"] = image
        annotations = current["metadata"].setdefault("annotations", {})
        annotations["kubernetes.io/change-cause"] = f"pipeline: release {image.rsplit(':', 1)[-1]}"
        cluster.store.put(kind, current)

    cluster.call(change)


def _create_statefulset(cluster: RehearsalCluster, name: str, image: str, replicas: int) -> None:
    from cockpit.rehearsal.admission import admit
    from cockpit.rehearsal.kube import BY_PLURAL

    kind = BY_PLURAL[("apps", "statefulsets")]
    labels = {"app": name}
    body = {
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "cache", "image": image}]},
            },
        },
    }
    cluster.call(lambda: cluster.store.put(kind, admit(kind, body, None), create=True))  # type: ignore[union-attr]


def start_rehearsal(
    folder: Path,
    *,
    kubeconfig: Path | None = None,
    port: int = 0,
    crash_images: tuple[str, ...] = (),
    pull_fail_images: tuple[str, ...] = (),
    runbook: Path | None = None,
    scenario: Scenario | None = None,
) -> Rehearsal:
    """The rehearsal cluster with the sample's deployments, a kubeconfig and a cockpit config;
    with a scenario, also the Prometheus and Sentry stand-ins and the release pipeline."""
    folder.mkdir(parents=True, exist_ok=True)
    scale = scenario.time_scale if scenario else 1.0
    cluster = RehearsalCluster(
        folder, timing=Timing(ready_after=2.0 * scale, restart_every=3.0 * scale)
    )
    if scenario is not None and scenario.release.crash:
        cluster.faults.crash.add(scenario.release.image)
    if scenario is not None and scenario.release.pull_fails:
        cluster.faults.pull.add(scenario.release.image)
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
    for name, (image, replicas) in STATEFULSETS.items():
        _create_statefulset(cluster, name, image, replicas)
    config_path = cluster.write_kubeconfig(kubeconfig or folder / "kubeconfig", NAMESPACE)
    cockpit_config = folder / "cockpit.toml"
    checklist = (runbook or sample_runbook()).absolute()
    deployments = ", ".join(f'"{name}"' for name in DEPLOYMENTS)
    statefulsets = ", ".join(f'"{name}"' for name in STATEFULSETS)
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
            bake_time = "{max(1, round(REHEARSAL_BAKE_SECONDS * scale))}s"

            [environments.rehearsal.placeholders]
            version = "2.0.0"

            [[environments.rehearsal.clusters]]
            name = "rehearsal"
            kubeconfig = "{config_path}"
            context = "rehearsal"
            namespace = "{NAMESPACE}"
            deployments = [{deployments}]
            statefulsets = [{statefulsets}]
            """
        )
    )
    rehearsal = Rehearsal(folder, cluster, config_path, cockpit_config)
    if scenario is None:
        return rehearsal
    world = World(scenario, cluster, NAMESPACE)
    rehearsal.standins = StandIns(world).start()
    with cockpit_config.open("a", encoding="utf-8") as handle:
        handle.write(
            textwrap.dedent(
                f"""
                [environments.rehearsal.prometheus]
                url = "http://127.0.0.1:{rehearsal.standins.prometheus_port}"
                timeout = 5

                [environments.rehearsal.errors]
                provider = "sentry"
                url = "http://127.0.0.1:{rehearsal.standins.sentry_port}"
                org = "rehearsal"
                project = "1"
                interval = "5s"
                gate = false
                """
            )
            + _metrics(scale, checklist)
        )
    release = scenario.release
    rehearsal.pipeline = threading.Timer(
        release.after * scale, roll_out, (cluster, NAMESPACE, release.deployment, release.image)
    )
    rehearsal.pipeline.daemon = True
    rehearsal.pipeline.start()
    return rehearsal
