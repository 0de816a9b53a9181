"""SelfSubjectAccessReview, SelfSubjectRulesReview and SelfSubjectReview answered from the
rehearsal's RBAC: everything is allowed but what a token is denied."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from cockpit.rehearsal.store import JSON, KINDS, ApiError, Kind

if TYPE_CHECKING:
    from cockpit.rehearsal.kube import RehearsalCluster


def answer_review(cluster: RehearsalCluster, kind: Kind, body: JSON, token: str, user: str) -> JSON:
    """The review with its status for the caller: USER is the name TOKEN stands for."""
    review = copy.deepcopy(body)
    review.update({"kind": kind.kind, "apiVersion": kind.api_version})
    review.setdefault("metadata", {})
    review["metadata"].setdefault("creationTimestamp", None)
    if kind.kind == "SelfSubjectReview":
        review["status"] = {
            "userInfo": {
                "username": user,
                "groups": ["system:authenticated"],
            }
        }
        return review
    if kind.kind == "SelfSubjectRulesReview":
        review["status"] = {
            "resourceRules": rules(cluster, token),
            "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["*"]}],
            "incomplete": False,
        }
        return review
    spec = review.setdefault("spec", {})
    attributes = spec.get("resourceAttributes")
    if attributes is None and spec.get("nonResourceAttributes") is None:
        raise ApiError(
            422,
            "Invalid",
            'SelfSubjectAccessReview.authorization.k8s.io "" is invalid: spec.'
            'resourceAttributes: Invalid value: "null": exactly one of '
            "nonResourceAttributes or resourceAttributes must be specified",
        )
    attributes = attributes or {}
    verb = attributes.get("verb", "")
    resource = attributes.get("resource", "")
    if attributes.get("subresource"):
        resource = f"{resource}/{attributes['subresource']}"
    denied = cluster.denied.get(token, set())
    allowed = (verb, resource) not in denied and not (verb == "*" and denied)
    review["status"] = {"allowed": allowed}
    if not allowed:
        review["status"]["reason"] = f"rehearsal RBAC: this user may not {verb} {resource}"
    return review


def rules(cluster: RehearsalCluster, token: str) -> list[JSON]:
    """The caller's rights as RBAC rules: everything, less what it is denied (rules only
    add, so a resource with a denied verb is listed with the verbs that remain)."""
    denied = cluster.denied.get(token, set())
    if not denied:
        return [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]
    rules: list[JSON] = []
    for kind in KINDS:
        verbs = [v for v in kind.verbs if (v, kind.plural) not in denied]
        if verbs:
            rules.append(
                {
                    "verbs": verbs if len(verbs) < len(kind.verbs) else ["*"],
                    "apiGroups": [kind.group],
                    "resources": [kind.plural],
                }
            )
    return rules
