"""Who else manages a deployment, from the markers Argo CD, Flux, Helm and operators leave.

The objects are shaped as those tools document their labels, annotations and field managers.
"""

from __future__ import annotations

import pytest

from cockpit.ownership import managers


def deployment(labels=None, annotations=None, field_managers=(), owners=()):
    metadata = {"name": "web", "labels": labels or {}, "annotations": annotations or {}}
    if field_managers:
        metadata["managedFields"] = [{"manager": m, "operation": "Apply"} for m in field_managers]
    if owners:
        metadata["ownerReferences"] = list(owners)
    return {"metadata": metadata}


def test_a_plain_deployment_has_no_other_manager():
    plain = deployment(
        labels={"app": "web", "app.kubernetes.io/managed-by": "kubectl"},
        field_managers=("kubectl-client-side-apply", "kube-controller-manager"),
        owners=[{"kind": "Something", "name": "x", "controller": False}],
    )
    assert managers(plain) == []
    assert managers({}) == []


def test_argo_cd_from_its_tracking_annotation_names_the_application():
    (found,) = managers(
        deployment(annotations={"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:prod/web"})
    )
    assert (found.tool, found.name, found.reverts) == ("Argo CD", "application shop", True)
    warning = found.warning("web")
    assert "argocd app rollback shop" in warning and "--sync-policy none" in warning
    assert "next sync" in warning


def test_argo_cd_application_in_another_namespace():
    (found,) = managers(
        deployment(
            annotations={"argocd.argoproj.io/tracking-id": "team-a_shop:apps/Deployment:x/w"}
        )
    )
    assert found.name == "application team-a/shop"


@pytest.mark.parametrize("manager", ["argocd-controller", "argocd-application-controller"])
def test_argo_cd_label_tracking_seen_through_its_field_manager(manager):
    # server-side apply, and the client-side apply Argo CD does by default
    (found,) = managers(
        deployment(labels={"app.kubernetes.io/instance": "shop"}, field_managers=(manager,))
    )
    assert found.name == "application shop"
    # the instance label alone is what Helm and many charts set too: not taken for Argo CD
    assert managers(deployment(labels={"app.kubernetes.io/instance": "shop"})) == []


def test_flux_kustomization_and_helmrelease():
    (found,) = managers(
        deployment(
            labels={
                "kustomize.toolkit.fluxcd.io/name": "apps",
                "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
            }
        )
    )
    assert found.name == "Kustomization flux-system/apps"
    assert "flux suspend kustomization apps -n flux-system" in found.warning("web")
    # a HelmRelease installs a Helm release: Flux's advice counts, Helm is not named as well
    found = managers(
        deployment(
            labels={
                "helm.toolkit.fluxcd.io/name": "shop",
                "helm.toolkit.fluxcd.io/namespace": "prod",
                "app.kubernetes.io/managed-by": "Helm",
            },
            annotations={"meta.helm.sh/release-name": "prod-shop"},
        )
    )
    assert [m.name for m in found] == ["HelmRelease prod/shop"]
    assert not found[0].reverts  # only with drift detection; else its next upgrade overwrites
    assert "flux suspend helmrelease shop -n prod" in found[0].warning("web")


def test_helm_release_does_not_revert_but_diverges():
    (found,) = managers(
        deployment(
            labels={"app.kubernetes.io/managed-by": "Helm"},
            annotations={
                "meta.helm.sh/release-name": "shop",
                "meta.helm.sh/release-namespace": "prod",
            },
        )
    )
    assert (found.tool, found.name, found.reverts) == ("Helm", "release shop", False)
    assert "helm rollback shop REVISION -n prod" in found.warning("web")
    # Argo CD rendering a chart leaves Helm's label: Argo CD is the one that reverts
    rendered = managers(
        deployment(
            labels={"app.kubernetes.io/managed-by": "Helm"},
            annotations={"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:prod/web"},
        )
    )
    assert [m.tool for m in rendered] == ["Argo CD"]


def test_an_operator_owning_the_deployment_and_other_declared_managers():
    (found,) = managers(
        deployment(
            owners=[
                {
                    "apiVersion": "shop.example/v1",
                    "kind": "Shop",
                    "name": "main",
                    "controller": True,
                }
            ]
        )
    )
    assert (found.tool, found.name, found.reverts) == ("Shop", "main", True)
    (found,) = managers(deployment(labels={"app.kubernetes.io/managed-by": "spinnaker"}))
    assert found.tool == "spinnaker"


def test_values_from_the_cluster_are_kept_as_they_are():
    # callers show the warning through safe(); here the text must carry the value unchanged
    (found,) = managers(
        deployment(annotations={"argocd.argoproj.io/tracking-id": "[b]x[/b]:apps/Deployment:a/b"})
    )
    assert "[b]x[/b]" in found.warning("web")
