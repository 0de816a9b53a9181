"""Workloads as kubectl names them (`deploy/web`, `sts/db`, `ds/agent`, `rollout/NAME`).

Both the clusters of an environment and the `kube` check name workloads, so the naming rules
live here, below the configuration that uses them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# How kubectl spells each kind the cockpit watches (`kubectl rollout status sts/db`).
KIND_ALIASES: dict[str, str] = {
    **dict.fromkeys(("deployment", "deployments", "deploy", "deployment.apps"), "deployment"),
    **dict.fromkeys(("statefulset", "statefulsets", "sts", "statefulset.apps"), "statefulset"),
    **dict.fromkeys(("daemonset", "daemonsets", "ds", "daemonset.apps"), "daemonset"),
    **dict.fromkeys(("rollout", "rollouts", "ro", "rollout.argoproj.io"), "rollout"),
}
# the per-kind lists of a cluster, and the kind each holds
KIND_LISTS: dict[str, str] = {
    "deployments": "deployment",
    "statefulsets": "statefulset",
    "daemonsets": "daemonset",
}
_OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class WorkloadRef:
    """One watched workload: its kind (kubectl's singular) and name."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


def parse_workload(entry: str, default_kind: str | None = None) -> WorkloadRef:
    """`web` (with a default kind), `sts/db`, `deploy/web`... as kubectl reads them; a
    ValueError says what is wrong with the entry and how to write it."""
    text = entry.strip()
    if "/" in text:
        spelt, name = text.split("/", 1)
        kind = KIND_ALIASES.get(spelt.lower())
        if kind is None:
            raise ValueError(
                f"{entry!r}: unknown kind {spelt!r}; write deploy/NAME, sts/NAME, ds/NAME or "
                "rollout/NAME (Argo Rollouts)"
            )
    elif default_kind is None:
        raise ValueError(
            f"{entry!r}: no kind; write it as kubectl does, e.g. deploy/{text or 'web'}, "
            f"sts/{text or 'db'} or ds/{text or 'agent'}"
        )
    else:
        kind, name = default_kind, text
    if not name or len(name) > 253 or not _OBJECT_NAME.match(name):
        raise ValueError(
            f"{entry!r}: {name!r} is not a Kubernetes object name (lower-case letters, digits, "
            "'-' and '.', starting and ending with a letter or digit)"
        )
    return WorkloadRef(kind, name)
