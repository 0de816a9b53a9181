"""Who else manages a workload: GitOps controllers, Helm, an operator.

A rollback patches the live object. When Argo CD, Flux or an operator reconciles that object
from its own source of truth, the patch is reverted at the next sync, minutes later and without
a word; when Helm installed it, the patch leaves Helm's release record behind and the next
`helm upgrade` overwrites it. The rollback has to be done where the truth lives, or that
controller suspended first. This module reads the well-known markers those tools leave on the
objects they manage (labels, annotations, field managers, a controlling owner reference), so
the rollback screen and `cockpit rollback` can say so before anything is sent.

Every value here comes from the cluster: callers treat it as text, never markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

# Argo CD's annotation tracking (the default since Argo CD 3): "<app>:<group>/<kind>:<ns>/<name>"
ARGO_TRACKING_ID = "argocd.argoproj.io/tracking-id"
ARGO_PREFIX = "argocd.argoproj.io/"
# Argo CD's field managers: server-side apply, and kubectl-style client-side apply
ARGO_MANAGERS = ("argocd-controller", "argocd-application-controller")
FLUX_KUSTOMIZE = "kustomize.toolkit.fluxcd.io/"
FLUX_HELM = "helm.toolkit.fluxcd.io/"
FLUX_MANAGERS = {"kustomize-controller": "Kustomization", "helm-controller": "HelmRelease"}
HELM_RELEASE = "meta.helm.sh/release-name"
HELM_NAMESPACE = "meta.helm.sh/release-namespace"
MANAGED_BY = "app.kubernetes.io/managed-by"
# `managed-by` values that say who applied the object, not who keeps reconciling it
MANAGED_BY_QUIET = frozenset({"", "kubectl", "kustomize", "helm", "tiller"})


@dataclass(frozen=True)
class Manager:
    """Something that manages the object besides the operator."""

    tool: str  # "Argo CD", "Flux", "Helm" or the owner's kind
    name: str  # application, Kustomization/HelmRelease, release or owner: "" when unknown
    reverts: bool  # reconciles the object back to its own source (a patch does not last)
    advice: str  # one sentence: what to do instead of (or before) a patch rollback
    evidence: str  # the marker it was recognised by

    def warning(self, workload: str) -> str:
        named = f" ({self.name})" if self.name else ""
        if self.reverts:
            effect = (
                f"{self.tool}{named} manages {workload} and will put a patch rollback back "
                "at its next sync."
            )
        else:
            effect = (
                f"{self.tool}{named} installed {workload}: a patch rollback leaves its record "
                "behind, and its next upgrade overwrites the rollback."
            )
        return f"{effect} {self.advice} [{self.evidence}]"


def _strings(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _field_managers(metadata: JSON) -> set[str]:
    entries = metadata.get("managedFields")
    if not isinstance(entries, list):
        return set()
    return {str(e.get("manager") or "") for e in entries if isinstance(e, dict)} - {""}


def _argo(
    labels: dict[str, str], annotations: dict[str, str], managers: set[str]
) -> Manager | None:
    tracking = annotations.get(ARGO_TRACKING_ID, "")
    if tracking:
        app = tracking.split(":", 1)[0]
        evidence = f"annotation {ARGO_TRACKING_ID}"
    elif any(m in managers for m in ARGO_MANAGERS):
        # label tracking (Argo CD before 3): the application is in the instance label
        app = labels.get("app.kubernetes.io/instance", "")
        evidence = f"field manager {next(m for m in ARGO_MANAGERS if m in managers)}"
    else:
        marker = next((k for k in (*annotations, *labels) if k.startswith(ARGO_PREFIX)), None)
        if marker is None:
            return None
        app = ""
        evidence = f"{'annotation' if marker in annotations else 'label'} {marker}"
    # an application outside Argo CD's own namespace is written "<namespace>_<app>"
    app = app.replace("_", "/", 1)
    cli = app or "APP"
    return Manager(
        tool="Argo CD",
        name=f"application {app}" if app else "",
        reverts=True,
        advice=(
            f"Revert the change in Git; or turn off automated sync first (argocd app set {cli} "
            f"--sync-policy none), then roll back in Argo CD (argocd app rollback {cli}), "
            "which refuses while automated sync is on."
        ),
        evidence=evidence,
    )


def _flux(labels: dict[str, str], managers: set[str]) -> Manager | None:
    for prefix, kind, verb in (
        (FLUX_HELM, "HelmRelease", "helmrelease"),
        (FLUX_KUSTOMIZE, "Kustomization", "kustomization"),
    ):
        name = labels.get(prefix + "name", "")
        if not name:
            continue
        namespace = labels.get(prefix + "namespace", "")
        where = f" -n {namespace}" if namespace else ""
        # kustomize-controller re-applies at every interval; helm-controller corrects drift
        # only with spec.driftDetection enabled, else its next upgrade overwrites the patch
        helm = kind == "HelmRelease"
        return Manager(
            tool="Flux",
            name=f"{kind} {namespace + '/' if namespace else ''}{name}",
            reverts=not helm,
            advice=(
                f"Revert the change in Git, or suspend it first (flux suspend {verb} "
                f"{name}{where}) and resume it once Git says the same"
                + (" (with drift detection on, it reverts the patch at once)." if helm else ".")
            ),
            evidence=f"label {prefix}name",
        )
    for manager, kind in FLUX_MANAGERS.items():
        if manager in managers:
            return Manager(
                tool="Flux",
                name="",
                reverts=kind == "Kustomization",
                advice=(
                    f"Revert the change in Git, or suspend the {kind} that applies it first "
                    f"(flux suspend {kind.lower()} NAME -n NAMESPACE)."
                ),
                evidence=f"field manager {manager}",
            )
    return None


def _helm(
    labels: dict[str, str], annotations: dict[str, str], managers: set[str]
) -> Manager | None:
    release = annotations.get(HELM_RELEASE, "")
    namespace = annotations.get(HELM_NAMESPACE, "")
    if release:
        evidence = f"annotation {HELM_RELEASE}"
    elif labels.get(MANAGED_BY, "").lower() == "helm" or "helm" in managers:
        evidence = f"label {MANAGED_BY}" if MANAGED_BY in labels else "field manager helm"
    else:
        return None
    where = f" -n {namespace}" if namespace else ""
    cli = release or "RELEASE"
    return Manager(
        tool="Helm",
        name=f"release {release}" if release else "",
        reverts=False,
        advice=(
            f"Prefer helm rollback {cli} REVISION{where} (helm history {cli}{where} lists them)."
        ),
        evidence=evidence,
    )


def _owner(metadata: JSON) -> Manager | None:
    for ref in metadata.get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            kind = str(ref.get("kind") or "owner")
            name = str(ref.get("name") or "")
            api = str(ref.get("apiVersion") or "")
            return Manager(
                tool=kind,
                name=name,
                reverts=True,
                advice=f"Roll back through the {kind} ({api}) instead: it owns the spec.",
                evidence="controlling ownerReference",
            )
    return None


def _declared(labels: dict[str, str]) -> Manager | None:
    value = labels.get(MANAGED_BY, "")
    if value.lower() in MANAGED_BY_QUIET:
        return None
    return Manager(
        tool=value,
        name="",
        reverts=True,
        advice=f"Check whether {value} reconciles it before relying on a patch rollback.",
        evidence=f"label {MANAGED_BY}={value}",
    )


def managers(obj: JSON) -> list[Manager]:
    """Who manages this object besides the operator, the one that reconciles it first.

    A GitOps controller that renders a Helm chart leaves Helm's labels too; its advice is the
    one that counts, so Helm is only named when no controller reconciles the object.
    """
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    assert isinstance(metadata, dict)
    labels = _strings(metadata.get("labels"))
    annotations = _strings(metadata.get("annotations"))
    fields = _field_managers(metadata)
    found = [
        m
        for m in (_argo(labels, annotations, fields), _flux(labels, fields), _owner(metadata))
        if m is not None
    ]
    if not found:
        helm = _helm(labels, annotations, fields)
        declared = None if helm else _declared(labels)
        found += [m for m in (helm, declared) if m is not None]
    return found


__all__ = ["Manager", "managers"]
