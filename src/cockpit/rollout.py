"""Pure rollout logic on Kubernetes JSON objects: no I/O, no client library.

The verdict follows `kubectl rollout status` exactly (order of the tests and wording), so the
pane and kubectl never disagree. On top of it the cockpit looks at the new ReplicaSet's pods,
which kubectl never does: a CrashLoopBackOff or an image that cannot be pulled is reported as
failing at once, instead of after the progress deadline. Undo follows `kubectl rollout undo`:
same target selection, same refusals, same patch.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cockpit.ownership import Manager, managers

JSON = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
CHANGE_CAUSE = "kubernetes.io/change-cause"
POD_TEMPLATE_HASH = "pod-template-hash"
# What `kubectl rollout undo` never copies from the ReplicaSet onto the Deployment.
ANNOTATIONS_KEPT_ON_ROLLBACK = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        REVISION_HISTORY,
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)
TROUBLE_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "InvalidImageName",
        "RunContainerError",
    }
)

VerdictState = Literal["waiting", "progressing", "complete", "failed"]


@dataclass(frozen=True)
class RolloutVerdict:
    """kubectl's verdict: its message, and whether it is done (and failed)."""

    state: VerdictState
    message: str

    @property
    def done(self) -> bool:
        return self.state in ("complete", "failed")


def _d(obj: Any, key: str) -> JSON:
    """obj[key] when both are dicts, else {}: API objects from a broken server must not crash."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def _l(obj: Any, key: str) -> list[Any]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _dicts(value: Any) -> list[JSON]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _name(obj: JSON) -> str:
    return str(_d(obj, "metadata").get("name", "?"))


def rollout_status(deployment: JSON) -> RolloutVerdict:
    """`kubectl rollout status deployment/X`, one evaluation, in kubectl's order."""
    meta = _d(deployment, "metadata")
    spec = _d(deployment, "spec")
    status = _d(deployment, "status")
    name = _name(deployment)
    if _int(meta.get("generation")) > _int(status.get("observedGeneration")):
        return RolloutVerdict("waiting", "Waiting for deployment spec update to be observed...")
    for condition in _dicts(status.get("conditions")):
        if (
            condition.get("type") == "Progressing"
            and condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            return RolloutVerdict("failed", f'deployment "{name}" exceeded its progress deadline')
    replicas = _int(spec.get("replicas", 1), 1)
    updated = _int(status.get("updatedReplicas"))
    total = _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    return _first_unmet(
        f'Waiting for deployment "{name}" rollout to finish: ',
        (
            (updated < replicas, f"{updated} out of {replicas} new replicas have been updated..."),
            (total > updated, f"{total - updated} old replicas are pending termination..."),
            (available < updated, f"{available} of {updated} updated replicas are available..."),
        ),
        f'deployment "{name}" successfully rolled out',
    )


def _first_unmet(
    waiting: str, conditions: tuple[tuple[bool, str], ...], done: str
) -> RolloutVerdict:
    """kubectl's count checks, in its order: the first unmet one is the message."""
    for unmet, message in conditions:
        if unmet:
            return RolloutVerdict("progressing", waiting + message)
    return RolloutVerdict("complete", done)


WorkloadKind = Literal["deployment", "statefulset", "daemonset", "rollout"]
WORKLOAD_KINDS: tuple[WorkloadKind, ...] = ("deployment", "statefulset", "daemonset", "rollout")
REVISION_HASH = "controller-revision-hash"
ARGO_REVISION = "rollout.argoproj.io/revision"
ARGO_POD_HASH = "rollouts-pod-template-hash"


def _partition(spec: JSON) -> int | None:
    rolling = _d(spec, "updateStrategy").get("rollingUpdate")
    if not isinstance(rolling, dict) or rolling.get("partition") is None:
        return None
    return _int(rolling.get("partition"))


def statefulset_status(sts: JSON) -> RolloutVerdict:
    """`kubectl rollout status statefulset/X`, one evaluation, in kubectl's order.

    An API server defaults `rollingUpdate.partition` to 0, so on a real cluster kubectl ends
    with "partitioned roll out complete" even without a partition; the revision comparison is
    only reached for an object without `rollingUpdate`.
    """
    meta, spec, status = _d(sts, "metadata"), _d(sts, "spec"), _d(sts, "status")
    strategy = _d(spec, "updateStrategy")
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return RolloutVerdict("waiting", UNSUPPORTED_STRATEGY)
    observed = _int(status.get("observedGeneration"))
    if observed == 0 or _int(meta.get("generation")) > observed:
        return RolloutVerdict("waiting", "Waiting for statefulset spec update to be observed...")
    replicas = _int(spec.get("replicas", 1), 1)
    ready = _int(status.get("readyReplicas"))
    updated = _int(status.get("updatedReplicas"))
    if ready < replicas:
        return RolloutVerdict("progressing", f"Waiting for {replicas - ready} pods to be ready...")
    if isinstance(strategy.get("rollingUpdate"), dict):
        partition = _partition(spec)
        if partition is not None and updated < replicas - partition:
            return RolloutVerdict(
                "progressing",
                "Waiting for partitioned roll out to finish: "
                f"{updated} out of {replicas - partition} new pods have been updated...",
            )
        return RolloutVerdict(
            "complete", f"partitioned roll out complete: {updated} new pods have been updated..."
        )
    update = str(status.get("updateRevision") or "")
    if update != str(status.get("currentRevision") or ""):
        return RolloutVerdict(
            "progressing",
            f"waiting for statefulset rolling update to complete {updated} pods at revision "
            f"{update}...",
        )
    return RolloutVerdict(
        "complete",
        f"statefulset rolling update complete {_int(status.get('currentReplicas'))} pods at "
        f"revision {update}...",
    )


# kubectl says this (and exits non-zero) for an OnDelete StatefulSet or DaemonSet: it cannot
# tell when such a rollout is done, so neither can the cockpit (pending, never complete).
UNSUPPORTED_STRATEGY = "rollout status is only available for RollingUpdate strategy type"


def daemonset_status(ds: JSON) -> RolloutVerdict:
    """`kubectl rollout status daemonset/X`, one evaluation, in kubectl's order."""
    meta, spec, status = _d(ds, "metadata"), _d(ds, "spec"), _d(ds, "status")
    if _d(spec, "updateStrategy").get("type", "RollingUpdate") != "RollingUpdate":
        return RolloutVerdict("waiting", UNSUPPORTED_STRATEGY)
    if _int(meta.get("generation")) > _int(status.get("observedGeneration")):
        return RolloutVerdict("waiting", "Waiting for daemon set spec update to be observed...")
    name = _name(ds)
    desired = _int(status.get("desiredNumberScheduled"))
    updated = _int(status.get("updatedNumberScheduled"))
    available = _int(status.get("numberAvailable"))
    return _first_unmet(
        f'Waiting for daemon set "{name}" rollout to finish: ',
        (
            (updated < desired, f"{updated} out of {desired} new pods have been updated..."),
            (available < desired, f"{available} of {desired} updated pods are available..."),
        ),
        f'daemon set "{name}" successfully rolled out',
    )


ARGO_STATES: dict[str, VerdictState] = {
    "Healthy": "complete",
    "Degraded": "failed",
    "Progressing": "progressing",
    "Paused": "progressing",
}


def argo_step(rollout: JSON) -> tuple[int, int] | None:
    """(current step index, number of steps) of a canary Rollout, when it has steps."""
    steps = _l(_d(_d(_d(rollout, "spec"), "strategy"), "canary"), "steps")
    index = _d(rollout, "status").get("currentStepIndex")
    if not steps or not isinstance(index, int):
        return None
    return index, len(steps)


def argo_rollout_status(rollout: JSON) -> RolloutVerdict:
    """An Argo Rollout as its controller states it (`status.phase`), with its canary step.
    Paused waits for a person (or the next step), so it is pending, never done."""
    status = _d(rollout, "status")
    phase = str(status.get("phase") or "")
    name = _name(rollout)
    if phase not in ARGO_STATES:
        return RolloutVerdict("waiting", f'Waiting for rollout "{name}" to report its phase...')
    text = f'rollout "{name}" {phase}'
    if (step := argo_step(rollout)) is not None:
        text += f", step {step[0]} of {step[1]}"
    if message := str(status.get("message") or ""):
        text += f": {message[:200]}"
    return RolloutVerdict(ARGO_STATES[phase], text)


def workload_status(kind: str, obj: JSON) -> RolloutVerdict:
    """kubectl's rollout status for this kind (an Argo Rollout's own phase)."""
    if kind == "statefulset":
        return statefulset_status(obj)
    if kind == "daemonset":
        return daemonset_status(obj)
    if kind == "rollout":
        return argo_rollout_status(obj)
    return rollout_status(obj)


# --- ReplicaSets and history ---------------------------------------------------------------------


def revision_of(obj: JSON) -> int:
    """The revision annotation; missing or malformed counts as 0, as in kubectl."""
    raw = _d(_d(obj, "metadata"), "annotations").get(REVISION)
    try:
        return int(str(raw))
    except (TypeError, ValueError):
        return 0


def owned_replicasets(deployment: JSON, replicasets: list[JSON]) -> list[JSON]:
    """ReplicaSets whose controller owner is this Deployment (by UID)."""
    uid = _d(deployment, "metadata").get("uid")
    owned = []
    for rs in replicasets:
        for ref in _dicts(_d(rs, "metadata").get("ownerReferences")):
            if ref.get("controller") and ref.get("uid") == uid:
                owned.append(rs)
                break
    return owned


def template_without_hash(template: JSON) -> JSON:
    clean = copy.deepcopy(template)
    labels = _d(clean, "metadata").get("labels") if isinstance(clean, dict) else None
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
    return clean


# the labels a controller adds to its revisions' pod templates: a Deployment's, an Argo
# Rollout's
HASH_LABELS = frozenset({POD_TEMPLATE_HASH, "rollouts-pod-template-hash"})


def _hashless_view(template: JSON) -> JSON:
    """The template with its controller's hash label left out, sharing everything else."""
    metadata = template.get("metadata") if isinstance(template, dict) else None
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    if not isinstance(labels, dict) or not HASH_LABELS & labels.keys():
        return template
    rest = {k: v for k, v in labels.items() if k not in HASH_LABELS}
    return {**template, "metadata": {**metadata, "labels": rest}}  # type: ignore[dict-item]


def same_template(a: JSON, b: JSON) -> bool:
    """kubectl's template equality, ignoring the hash label (no copies: this runs per redraw)."""
    return _hashless_view(a) == _hashless_view(b)


def template_digest(template: JSON) -> str:
    """A short, stable name for a pod template (the hash label left out): two objects run the
    same pods exactly when their digests match, whichever ReplicaSet or revision carries it."""
    canonical = json.dumps(_hashless_view(template), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def new_replicaset(deployment: JSON, replicasets: list[JSON]) -> JSON | None:
    """The ReplicaSet running the Deployment's current template (oldest first, as kubectl)."""
    template = _d(_d(deployment, "spec"), "template")
    candidates = [
        rs
        for rs in owned_replicasets(deployment, replicasets)
        if same_template(_d(_d(rs, "spec"), "template"), template)
    ]
    candidates.sort(key=lambda rs: _d(rs, "metadata").get("creationTimestamp", ""))
    return candidates[0] if candidates else None


def serving_revisions(deployment: JSON, replicasets: list[JSON]) -> tuple[str | None, str | None]:
    """The pod-template-hash of the new ReplicaSet, and of the newest older one that still
    has ready pods (None when the old pods are gone): what a new-against-old comparison asks
    Prometheus about during a rollout."""
    new = new_replicaset(deployment, replicasets)
    new_hash = _d(_d(new, "metadata"), "labels").get("pod-template-hash") if new else None
    old_hash: str | None = None
    newest = -1
    for rs in owned_replicasets(deployment, replicasets):
        if new is not None and _name(rs) == _name(new):
            continue
        if _int(_d(rs, "status").get("readyReplicas")) > 0 and revision_of(rs) > newest:
            newest = revision_of(rs)
            old_hash = _d(_d(rs, "metadata"), "labels").get("pod-template-hash")
    return (str(new_hash) if new_hash else None), (str(old_hash) if old_hash else None)


def images_of(template: JSON) -> list[str]:
    containers = _dicts(_d(template, "spec").get("containers"))
    return [str(c.get("image", "?")) for c in containers]


def image_tag(image: str) -> str:
    """What an operator reads as the running version: the tag, without the registry path
    (`registry.example.com:5000/shop/app:2.0.0` -> `2.0.0`); a digest shortened to 12 hex
    digits; `latest` when the reference names neither (that is what the runtime pulls)."""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]  # a registry's port is before a slash, never after
    tag = last.partition(":")[2]
    if digest:
        short = "@" + digest.rpartition(":")[2][:12]
        return tag + short if tag else short
    return tag or "latest"


def image_tags(images: list[str]) -> str:
    """The tags of a pod template's containers, each once, in container order."""
    tags: list[str] = []
    for image in images:
        tag = image_tag(image)
        if tag not in tags:
            tags.append(tag)
    return ",".join(tags)


def revision_number(kind: str, revision: JSON) -> int:
    """A revision's number: a ReplicaSet's annotation, a ControllerRevision's `revision`."""
    if kind in ("statefulset", "daemonset"):
        return _int(revision.get("revision"))
    if kind == "rollout":
        return _int(_d(_d(revision, "metadata"), "annotations").get(ARGO_REVISION))
    return revision_of(revision)


def revision_template(kind: str, revision: JSON) -> JSON:
    """The pod template a revision holds (a ControllerRevision keeps it as a patch)."""
    if kind in ("statefulset", "daemonset"):
        template = _d(_d(_d(revision, "data"), "spec"), "template")
        return {k: v for k, v in template.items() if k != "$patch"}
    return _d(_d(revision, "spec"), "template")


def current_revision(kind: str, obj: JSON, revisions: list[JSON]) -> JSON | None:
    """The revision running the object's current template: the new ReplicaSet of a
    Deployment, the ControllerRevision of a StatefulSet's or DaemonSet's template, the
    ReplicaSet of an Argo Rollout's current pod hash."""
    if kind == "deployment":
        return new_replicaset(obj, revisions)
    owned = owned_replicasets(obj, revisions)
    if kind == "rollout":
        wanted = _d(obj, "status").get("currentPodHash")
        labelled = [r for r in owned if _labels(r).get(ARGO_POD_HASH) == wanted]
        return labelled[0] if wanted and labelled else None
    template = _d(_d(obj, "spec"), "template")
    matching = [r for r in owned if revision_template(kind, r) == template]
    if not matching:  # the controller has not recorded the template yet: its update revision
        update = _d(obj, "status").get("updateRevision")
        matching = [r for r in owned if update and _name(r) == update]
    return max(matching, key=lambda r: revision_number(kind, r)) if matching else None


def _labels(obj: JSON) -> JSON:
    return _d(_d(obj, "metadata"), "labels")


def revision_pods(kind: str, obj: JSON, revision: JSON | None, pods: list[JSON]) -> list[JSON]:
    """The pods of one revision: owned by its ReplicaSet, or (StatefulSet, DaemonSet) owned
    by the object and labelled with the revision's hash."""
    if revision is None:
        return []
    if kind in ("statefulset", "daemonset"):
        owner = _d(obj, "metadata").get("uid")
        hashes = {_name(revision), _labels(revision).get(REVISION_HASH)} - {None, "?"}
        return [
            p
            for p in pods
            if _labels(p).get(REVISION_HASH) in hashes
            and any(r.get("uid") == owner for r in _dicts(_d(p, "metadata").get("ownerReferences")))
        ]
    uid = _d(revision, "metadata").get("uid")
    return [
        p
        for p in pods
        if any(r.get("uid") == uid for r in _dicts(_d(p, "metadata").get("ownerReferences")))
    ]


def _pod_ready(pod: JSON) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in _dicts(_d(pod, "status").get("conditions"))
    )


@dataclass(frozen=True)
class HistoryRow:
    revision: int
    replicaset: str  # the revision's object: a ReplicaSet or a ControllerRevision
    images: tuple[str, ...]
    change_cause: str
    created: datetime | None
    replicas: int
    ready: int
    current: bool

    def age(self, now: datetime | None = None) -> str:
        return format_age(self.created, now)


def history(
    deployment: JSON,
    replicasets: list[JSON],
    *,
    kind: str = "deployment",
    pods: list[JSON] | tuple[JSON, ...] = (),
) -> list[HistoryRow]:
    """Rows of `kubectl rollout history`, plus images, age and replicas; oldest first. A
    ControllerRevision has no replica counts: its pods are counted by their revision label."""
    current = current_revision(kind, deployment, replicasets)
    rows = []
    for rs in owned_replicasets(deployment, replicasets):
        meta = _d(rs, "metadata")
        if kind in ("statefulset", "daemonset"):
            own = revision_pods(kind, deployment, rs, list(pods))
            replicas, ready = len(own), sum(1 for p in own if _pod_ready(p))
        else:
            status = _d(rs, "status")
            replicas, ready = _int(status.get("replicas")), _int(status.get("readyReplicas"))
        rows.append(
            HistoryRow(
                revision=revision_number(kind, rs),
                replicaset=str(meta.get("name", "?")),
                images=tuple(images_of(revision_template(kind, rs))),
                change_cause=str(_d(meta, "annotations").get(CHANGE_CAUSE, "")),
                created=parse_time(meta.get("creationTimestamp")),
                replicas=replicas,
                ready=ready,
                current=rs is current,
            )
        )
    rows.sort(key=lambda row: row.revision)
    return rows


# --- undo ----------------------------------------------------------------------------------------


class UndoRefused(Exception):
    """kubectl would refuse this undo too; the message is kubectl's."""

    def __init__(
        self,
        message: str,
        *,
        paused: bool = False,
        skipped: bool = False,
        read_only: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.paused = paused
        self.skipped = skipped
        self.read_only = read_only  # not kubectl's refusal: the cockpit never patches this kind


@dataclass(frozen=True)
class UndoPlan:
    deployment: str
    target_revision: int
    target_replicaset: str
    current_revision: int
    current_images: tuple[str, ...]
    target_images: tuple[str, ...]
    patch: list[JSON]
    mid_rollout: bool

    resource_version: str | None = None  # of the Deployment the plan was made from
    # GitOps controllers, Helm or an operator that manage it too (a patch may not last)
    managed_by: tuple[Manager, ...] = ()
    kind: str = "deployment"  # what `deployment` names: a Deployment, StatefulSet, DaemonSet

    @property
    def generation(self) -> int | None:
        """The Deployment's spec generation this plan was made from (its precondition)."""
        for op in self.patch:
            if op.get("op") == "test" and op.get("path") == "/metadata/generation":
                value = op.get("value")
                return value if isinstance(value, int) else None
        return None


def undo_target(deployment: JSON, replicasets: list[JSON], to_revision: int = 0) -> JSON:
    """The ReplicaSet `kubectl rollout undo [--to-revision=N]` would roll back to."""
    name = _name(deployment)
    if _d(deployment, "spec").get("paused"):
        raise UndoRefused(
            "you cannot rollback a paused deployment; resume it first with "
            "'kubectl rollout resume' and try again",
            paused=True,
        )
    latest: JSON | None = None
    previous: JSON | None = None
    latest_rev = previous_rev = -1
    for rs in owned_replicasets(deployment, replicasets):
        revision = revision_of(rs)
        if to_revision:
            if revision == to_revision:
                return rs
            continue
        if revision > latest_rev:
            previous, previous_rev = latest, latest_rev
            latest, latest_rev = rs, revision
        elif revision > previous_rev:
            previous, previous_rev = rs, revision
    if to_revision:
        raise UndoRefused(f"unable to find specified revision {to_revision} in history")
    if previous is None:
        raise UndoRefused(f'no rollout history found for deployment "{name}"')
    return previous


def undo_patch(deployment: JSON, target: JSON, precondition: bool = False) -> list[JSON]:
    """kubectl's JSON patch (template and annotations), optionally with a precondition.

    The precondition is two `test` operations: the same object (uid) with the same spec
    (generation) as when the plan was made. If anyone changed the spec since (a new image, a
    rollback, a scale), the API server refuses the whole patch (422) instead of rolling back
    over their change. Status updates, which a rolling Deployment gets every second, do not
    bump the generation, so they do not invalidate what the operator confirmed.
    """
    template = template_without_hash(_d(_d(target, "spec"), "template"))
    current = _d(_d(deployment, "metadata"), "annotations")
    annotations = {k: v for k, v in current.items() if k in ANNOTATIONS_KEPT_ON_ROLLBACK}
    for key, value in _d(_d(target, "metadata"), "annotations").items():
        if key not in ANNOTATIONS_KEPT_ON_ROLLBACK:
            annotations[key] = value
    patch = _precondition(deployment) if precondition else []
    patch.append({"op": "replace", "path": "/spec/template", "value": template})
    patch.append({"op": "replace", "path": "/metadata/annotations", "value": annotations})
    return patch


def argo_refusal(name: str) -> UndoRefused:
    return UndoRefused(
        f'"{name}" is an Argo Rollout: the cockpit shows it but never changes it; use '
        f"`kubectl argo rollouts undo {name}` to roll back or `kubectl argo rollouts abort "
        f"{name}` to stop a canary",
        read_only=True,
    )


def plan_undo(
    deployment: JSON,
    replicasets: list[JSON],
    to_revision: int = 0,
    *,
    precondition: bool = True,
    kind: str = "deployment",
) -> UndoPlan:
    """kubectl's undo of this kind: its target, refusals and end state (an Argo Rollout is
    refused: its own controller rolls it back)."""
    if kind == "rollout":
        raise argo_refusal(_name(deployment))
    if kind in ("statefulset", "daemonset"):
        return _plan_revision_undo(kind, deployment, replicasets, to_revision, precondition)
    target = undo_target(deployment, replicasets, to_revision)
    template = _d(_d(deployment, "spec"), "template")
    target_revision = revision_of(target)
    if same_template(_d(_d(target, "spec"), "template"), template):
        raise UndoRefused(
            f"skipped rollback (current template already matches revision {target_revision})",
            skipped=True,
        )
    return UndoPlan(
        deployment=_name(deployment),
        target_revision=target_revision,
        target_replicaset=_name(target),
        current_revision=revision_of(deployment),
        current_images=tuple(images_of(template)),
        target_images=tuple(images_of(_d(_d(target, "spec"), "template"))),
        patch=undo_patch(deployment, target, precondition),
        resource_version=str(_d(deployment, "metadata").get("resourceVersion") or "") or None,
        mid_rollout=not rollout_status(deployment).done,
        managed_by=tuple(managers(deployment)),
    )


def _precondition(obj: JSON) -> list[JSON]:
    metadata = _d(obj, "metadata")
    return [
        {"op": "test", "path": "/metadata/uid", "value": metadata.get("uid")},
        {"op": "test", "path": "/metadata/generation", "value": metadata.get("generation")},
    ]


def _plan_revision_undo(
    kind: str, obj: JSON, revisions: list[JSON], to_revision: int, precondition: bool
) -> UndoPlan:
    """`kubectl rollout undo` of a StatefulSet or DaemonSet: the target ControllerRevision
    (the second-highest, or exactly N), refused when its data already is the object's
    template, else that data applied to the object.

    kubectl sends the data as a strategic merge patch; the data holds the whole template
    marked `$patch: replace`, so replacing `/spec/template` in a JSON patch has the same end
    state, and a JSON patch can carry the same precondition as a Deployment's undo. Unlike a
    Deployment's, kubectl neither refuses a paused object nor copies annotations.
    """
    history = sorted(owned_replicasets(obj, revisions), key=lambda r: revision_number(kind, r))
    if to_revision < 0:
        raise UndoRefused(f"unable to find specified revision {to_revision} in history")
    if to_revision == 0 and len(history) <= 1:
        raise UndoRefused("no last revision to roll back to")
    if to_revision == 0:
        target = history[-2]
    else:
        found = [r for r in history if revision_number(kind, r) == to_revision]
        if not found:
            raise UndoRefused(f"unable to find specified revision {to_revision} in history")
        target = found[0]
    template = _d(_d(obj, "spec"), "template")
    data = _d(target, "data")
    restored = revision_template(kind, target)
    if data == {"spec": {"template": {**template, "$patch": "replace"}}}:
        # kubectl names the revision asked for: 0 when none was
        raise UndoRefused(
            f"skipped rollback (current template already matches revision {to_revision})",
            skipped=True,
        )
    if set(data) != {"spec"} or set(_d(data, "spec")) != {"template"} or not restored:
        raise UndoRefused(
            f"revision {revision_number(kind, target)} holds more than a pod template; the "
            f"cockpit restores templates only: use kubectl rollout undo {kind}/{_name(obj)}"
        )
    current = current_revision(kind, obj, revisions)
    patch = _precondition(obj) if precondition else []
    patch.append({"op": "replace", "path": "/spec/template", "value": restored})
    return UndoPlan(
        deployment=_name(obj),
        target_revision=revision_number(kind, target),
        target_replicaset=_name(target),
        current_revision=revision_number(kind, current) if current is not None else 0,
        current_images=tuple(images_of(template)),
        target_images=tuple(images_of(restored)),
        patch=patch,
        resource_version=str(_d(obj, "metadata").get("resourceVersion") or "") or None,
        mid_rollout=not workload_status(kind, obj).done,
        managed_by=tuple(managers(obj)),
        kind=kind,
    )


# --- pods -----------------------------------------------------------------------------------

# Restarts older than this, of a container that has run since, are history, not trouble: a pod
# that restarted twice while a dependency came up, and has been Ready since, is healthy.
RESTART_WINDOW_SECONDS = 600.0
UNSCHEDULABLE_REASONS = frozenset({"Unschedulable", "FailedScheduling"})
# A cluster autoscaler commonly needs a minute or two to add a node: a pod unschedulable for
# less than this is shown, but does not yet fail the release (nor trigger auto_rollback).
UNSCHEDULABLE_GRACE_SECONDS = 180.0


@dataclass(frozen=True)
class PodTrouble:
    pod: str
    reason: str
    restarts: int
    detail: str
    grace_until: datetime | None = None  # shown now, but a failure only from then on

    def failing(self, now: datetime | None = None) -> bool:
        return self.grace_until is None or (now or datetime.now(UTC)) >= self.grace_until

    def __str__(self) -> str:
        return f"{self.pod}: {self.reason}" + (f" ({self.detail})" if self.detail else "")


def _termination(container: JSON) -> str:
    """'OOMKilled, exit code 137' from the container's last termination, or ''."""
    last = _d(_d(container, "lastState"), "terminated") or _d(_d(container, "state"), "terminated")
    if not last:
        return ""
    reason = str(last.get("reason") or "terminated")
    code = last.get("exitCode")
    return reason + (f", exit code {code}" if isinstance(code, int) else "")


def _last_restart(container: JSON) -> datetime | None:
    """When the container last restarted: its last run's end, else its current run's start."""
    last = _d(_d(container, "lastState"), "terminated")
    return parse_time(last.get("finishedAt")) or parse_time(
        _d(_d(container, "state"), "running").get("startedAt")
    )


def _recent_restarts(container: JSON, pod_ready: bool, window: float, now: datetime) -> int:
    """The container's restarts, when they belong to the revision and are not long past.

    The kubelet keeps only a lifetime count and the last restart's time, so the count is taken
    whole when the last restart is recent and dropped when it is old. A revision's pods are
    created after it started, so their restarts are its own; a rollback that adopts a ReplicaSet
    whose pods still run brings their old restarts, which the window leaves out.
    When the time cannot be told, a Ready pod is given the benefit of the doubt (kubectl's
    verdict still applies) and a pod that is not Ready is not.
    """
    restarts = _int(container.get("restartCount"))
    if restarts <= 0:
        return 0
    when = _last_restart(container)
    if when is None:
        return 0 if pod_ready else restarts
    return restarts if (now - when).total_seconds() <= window else 0


def _unschedulable(status: JSON) -> JSON | None:
    if status.get("phase") not in (None, "Pending"):
        return None
    for condition in _dicts(status.get("conditions")):
        if (
            condition.get("type") == "PodScheduled"
            and condition.get("status") == "False"
            and condition.get("reason") in UNSCHEDULABLE_REASONS
        ):
            return condition
    return None


def pod_trouble(
    pods: list[JSON],
    replicaset: JSON | None,
    *,
    restart_limit: int = 2,
    not_ready_seconds: float = 300.0,
    restart_window: float = RESTART_WINDOW_SECONDS,
    now: datetime | None = None,
) -> list[PodTrouble]:
    """What is wrong with the pods of the new ReplicaSet, before any deadline says so.

    Only the new revision's pods are judged, and only on what happened to them lately (within
    `restart_window`): a crash loop or a
    pull error in a container or an init container, repeated recent restarts (OOMKilled named
    as such), a pod the scheduler cannot place, a pod not Ready for too long.
    """
    return trouble_of_pods(
        revision_pods("deployment", {}, replicaset, pods),
        restart_limit=restart_limit,
        not_ready_seconds=not_ready_seconds,
        restart_window=restart_window,
        now=now,
    )


def trouble_of_pods(
    pods: list[JSON],
    *,
    restart_limit: int = 2,
    not_ready_seconds: float = 300.0,
    restart_window: float = RESTART_WINDOW_SECONDS,
    now: datetime | None = None,
) -> list[PodTrouble]:
    """pod_trouble of pods already known to be the new revision's (any kind's)."""
    now = now or datetime.now(UTC)
    found: list[PodTrouble] = []
    for pod in pods:
        trouble = _trouble_of(pod, restart_limit, not_ready_seconds, restart_window, now)
        if trouble is not None:
            found.append(trouble)
    return found


def _trouble_of(
    pod: JSON,
    restart_limit: int,
    not_ready_seconds: float,
    restart_window: float,
    now: datetime,
) -> PodTrouble | None:
    name = _name(pod)
    meta = _d(pod, "metadata")
    status = _d(pod, "status")
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in _dicts(status.get("conditions"))
    )
    init = _dicts(status.get("initContainerStatuses"))
    regular = _dicts(status.get("containerStatuses"))
    containers = [("Init:", c) for c in init] + [("", c) for c in regular]
    recent = {id(c): _recent_restarts(c, ready, restart_window, now) for _, c in containers}
    restarts = sum(recent.values())
    for prefix, container in containers:
        waiting = _d(_d(container, "state"), "waiting")
        reason = waiting.get("reason")
        if reason not in TROUBLE_REASONS:
            continue
        parts = []
        if prefix:
            parts.append(f"init container {container.get('name', '?')}")
        own = _int(container.get("restartCount"))
        if own:
            parts.append(f"{own} restarts")
        if own and (last := _termination(container)):
            parts.append(f"last: {last}")
        if message := str(waiting.get("message") or "")[:160]:
            parts.append(message)
        return PodTrouble(name, f"{prefix}{reason}", restarts or own, "; ".join(parts))
    if restarts >= restart_limit:
        worst = max(containers, key=lambda pc: recent[id(pc[1])])
        prefix, container = worst
        last = _termination(container)
        oom = "OOMKilled" in last
        when = _last_restart(container)
        parts = [
            f"{restarts} restarts" + (f", the last {format_age(when, now)} ago" if when else "")
        ]
        if prefix:
            parts.append(f"init container {container.get('name', '?')}")
        parts.append(f"last: {last or 'terminated'}")
        return PodTrouble(
            name, f"{prefix}{'OOMKilled' if oom else 'Restarting'}", restarts, "; ".join(parts)
        )
    if meta.get("deletionTimestamp"):
        return None  # going away: neither its scheduling nor its readiness matters now
    created = parse_time(meta.get("creationTimestamp"))
    if (condition := _unschedulable(status)) is not None:
        message = str(condition.get("message") or "")[:160]
        since = parse_time(condition.get("lastTransitionTime")) or created or now
        return PodTrouble(
            name,
            "Unschedulable",
            restarts,
            message or "the scheduler cannot place it",
            grace_until=since + timedelta(seconds=UNSCHEDULABLE_GRACE_SECONDS),
        )
    if not ready and created and (now - created).total_seconds() > not_ready_seconds:
        return PodTrouble(name, "NotReady", restarts, f"not ready after {format_age(created, now)}")
    return None


@dataclass(frozen=True)
class PodState:
    """One pod as an operator reads it in a detail: what `kubectl get pod` shows, plus the
    last termination (reason and exit code) that `kubectl describe` buries."""

    name: str
    phase: str  # the pod's phase, or Terminating while it is being deleted
    ready: str  # ready containers / containers, e.g. "1/2"
    restarts: int
    last_termination: str  # "OOMKilled, exit code 137" (of the container that restarted most)
    waiting: str  # why a container is not running, init containers as "Init:<reason>"
    node: str
    created: datetime | None
    containers: tuple[str, ...]  # init containers first, as the kubelet runs them
    init_containers: frozenset[str]
    troubled_container: str | None  # the one in a crash loop or a pull error, if any


def pod_state(pod: JSON) -> PodState:
    meta, spec, status = _d(pod, "metadata"), _d(pod, "spec"), _d(pod, "status")
    init = _dicts(status.get("initContainerStatuses"))
    regular = _dicts(status.get("containerStatuses"))
    containers = [("Init:", c) for c in init] + [("", c) for c in regular]
    waiting, troubled = "", None
    for prefix, container in containers:
        reason = str(_d(_d(container, "state"), "waiting").get("reason") or "")
        if reason and (not waiting or reason in TROUBLE_REASONS):
            waiting = f"{prefix}{reason}"
            if reason in TROUBLE_REASONS:
                troubled = str(container.get("name", ""))
                break
    last_termination = ""
    restarted = [c for _, c in containers if _d(_d(c, "lastState"), "terminated")]
    if restarted:
        worst = max(restarted, key=lambda c: _int(c.get("restartCount")))
        last_termination = _termination(worst)
        if len(containers) > 1:
            last_termination = f"{worst.get('name', '?')}: {last_termination}"
    names = [str(c.get("name", "")) for c in _dicts(spec.get("initContainers"))]
    names += [str(c.get("name", "")) for c in _dicts(spec.get("containers"))]
    ready = sum(1 for c in regular if c.get("ready"))
    total = len(_dicts(spec.get("containers"))) or len(regular)
    return PodState(
        name=_name(pod),
        phase="Terminating" if meta.get("deletionTimestamp") else str(status.get("phase") or "?"),
        ready=f"{ready}/{total}",
        restarts=sum(_int(c.get("restartCount")) for _, c in containers),
        last_termination=last_termination,
        waiting=waiting,
        node=str(spec.get("nodeName") or ""),
        created=parse_time(meta.get("creationTimestamp")),
        containers=tuple(n for n in names if n),
        init_containers=frozenset(
            str(c.get("name", "")) for c in _dicts(spec.get("initContainers"))
        ),
        troubled_container=troubled,
    )


# --- time ----------------------------------------------------------------------------------------


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def format_age(when: datetime | None, now: datetime | None = None) -> str:
    """kubectl-style short ages: 45s, 3m, 2h, 5d."""
    if when is None:
        return "?"
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    seconds = max(seconds, 0)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds < 172800:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"
