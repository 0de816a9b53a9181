"""What the API server does to an object before storing it: defaulting and validation.

Defaults are those a real API server fills in for the fields kubectl users see; validation
refuses, with the real server's 422 Invalid and field paths, what the rehearsal's controllers
could not run (a Deployment whose selector misses its template, a container without an image).
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from typing import Any

from cockpit.rehearsal.store import JSON, ApiError, Kind

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SERVICE_NET = ipaddress.ip_network("10.96.0.0/16")


def invalid(kind: Kind, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 Invalid with one cause per (field, message), worded as the API server words it."""
    text = "; ".join(f"{field}: {message}" for field, message in causes)
    return ApiError(
        422,
        "Invalid",
        f'{kind.kind}{"." + kind.group if kind.group else ""} "{name}" is invalid: [{text}]'
        if len(causes) > 1
        else f'{kind.kind}{"." + kind.group if kind.group else ""} "{name}" is invalid: {text}',
        {
            "name": name,
            **({"group": kind.group} if kind.group else {}),
            "kind": kind.kind,
            "causes": [
                {"reason": "FieldValueInvalid", "message": message, "field": field}
                for field, message in causes
            ],
        },
    )


def pod_spec_defaults(pod_spec: JSON) -> None:
    pod_spec.setdefault("restartPolicy", "Always")
    pod_spec.setdefault("terminationGracePeriodSeconds", 30)
    pod_spec.setdefault("dnsPolicy", "ClusterFirst")
    pod_spec.setdefault("schedulerName", "default-scheduler")
    pod_spec.setdefault("securityContext", {})
    for container in pod_spec.get("containers") or []:
        image = str(container.get("image", ""))
        latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")


def deployment_defaults(obj: JSON) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        strategy["type"] = "RollingUpdate"
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxSurge", "25%")
        rolling.setdefault("maxUnavailable", "25%")
    template = spec.setdefault("template", {})
    template.setdefault("metadata", {})
    pod_spec_defaults(template.setdefault("spec", {}))
    obj.setdefault("status", {})


JOB_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"


def job_defaults(obj: JSON, existing: JSON | None) -> None:
    """A Job's defaults, and the selector and pod labels the API server generates for it
    (unless manualSelector): its uid, under the batch.kubernetes.io names and the legacy ones."""
    meta = obj["metadata"]
    if existing is None:
        meta.setdefault("uid", str(uuid.uuid4()))
    else:
        meta["uid"] = existing["metadata"]["uid"]
    spec = obj.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    spec.setdefault("manualSelector", None)
    if spec.get("manualSelector") is None:
        spec.pop("manualSelector")
    template = spec.setdefault("template", {})
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    if not spec.get("manualSelector"):
        uid, name = meta["uid"], meta.get("name", "")
        labels.update({JOB_UID: uid, JOB_NAME: name, "controller-uid": uid, "job-name": name})
        spec.setdefault("selector", {"matchLabels": {JOB_UID: uid}})
    pod_spec_defaults(template.setdefault("spec", {}))
    obj.setdefault("status", {})


def _defaults(kind: Kind, obj: JSON, existing: JSON | None) -> None:
    if kind.kind == "Deployment":
        deployment_defaults(obj)
    elif kind.kind in ("StatefulSet", "DaemonSet"):
        spec = obj.setdefault("spec", {})
        spec.setdefault("revisionHistoryLimit", 10)
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if kind.kind == "StatefulSet":
            spec.setdefault("replicas", 1)
            spec.setdefault("podManagementPolicy", "OrderedReady")
            if strategy.get("type") == "RollingUpdate":
                strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
            spec.setdefault(
                "persistentVolumeClaimRetentionPolicy",
                {"whenDeleted": "Retain", "whenScaled": "Retain"},
            )
        elif strategy.get("type") == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", 1)
            rolling.setdefault("maxSurge", 0)
        template = spec.setdefault("template", {})
        template.setdefault("metadata", {})
        pod_spec_defaults(template.setdefault("spec", {}))
        obj.setdefault("status", {})
    elif kind.kind == "Job":
        job_defaults(obj, existing)
    elif kind.kind == "Pod":
        pod_spec_defaults(obj.setdefault("spec", {}))
        if existing is None:
            obj["status"] = {"phase": "Pending"}  # the rest is the kubelet's to write
    elif kind.kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = (existing or {}).get("status") or {"phase": "Active"}
        labels = obj["metadata"].setdefault("labels", {})
        labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
    elif kind.kind == "Secret":
        obj.setdefault("type", "Opaque")
    elif kind.kind == "Service":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
        obj.setdefault("status", {"loadBalancer": {}})


def allocate_cluster_ip(obj: JSON, taken: set[str]) -> None:
    spec = obj.setdefault("spec", {})
    if spec.get("clusterIP") in (None, ""):
        for host in list(_SERVICE_NET.hosts())[10:]:
            if str(host) not in taken:
                spec["clusterIP"] = str(host)
                break
    spec["clusterIPs"] = [spec["clusterIP"]] if spec["clusterIP"] != "None" else ["None"]


def _validate(kind: Kind, obj: JSON, existing: JSON | None) -> list[tuple[str, str]]:
    causes: list[tuple[str, str]] = []
    name = obj["metadata"].get("name", "")
    pattern = _DNS_LABEL if kind.kind in ("Namespace", "Service") else _DNS_SUBDOMAIN
    if name and (not pattern.match(name) or len(name) > 253):
        causes.append(
            (
                "metadata.name",
                f'Invalid value: "{name}": a lowercase RFC 1123 '
                f"{'label' if pattern is _DNS_LABEL else 'subdomain'} must consist of lower "
                "case alphanumeric characters, '-' or '.', and must start and end with an "
                "alphanumeric character",
            )
        )
    if kind.kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        spec = obj.get("spec") or {}
        selector = (spec.get("selector") or {}).get("matchLabels")
        expressions = (spec.get("selector") or {}).get("matchExpressions")
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not selector and not expressions:
            causes.append(("spec.selector", "Required value"))
        elif selector and any(labels.get(k) != v for k, v in selector.items()):
            shown = ", ".join(f'"{k}":"{v}"' for k, v in labels.items())
            causes.append(
                (
                    "spec.template.metadata.labels",
                    f"Invalid value: map[string]string{{{shown}}}: `selector` does not match "
                    "template `labels`",
                )
            )
        if existing is not None and existing.get("spec", {}).get("selector") != spec.get(
            "selector"
        ):
            causes.append(("spec.selector", "Invalid value: field is immutable"))
        causes.extend(_containers("spec.template.spec", (spec.get("template") or {}).get("spec")))
        if int(spec.get("replicas", 0)) < 0:
            causes.append(("spec.replicas", "Invalid value: must be greater than or equal to 0"))
    elif kind.kind == "Job":
        spec = obj.get("spec") or {}
        template = spec.get("template") or {}
        policy = (template.get("spec") or {}).get("restartPolicy")
        if policy not in ("OnFailure", "Never"):
            causes.append(
                (
                    "spec.template.spec.restartPolicy",
                    f'Unsupported value: "{policy}": supported values: "OnFailure", "Never"',
                )
            )
        causes.extend(_containers("spec.template.spec", template.get("spec")))
        for field in ("parallelism", "completions", "backoffLimit"):
            if spec.get(field) is not None and int(spec[field]) < 0:
                causes.append(
                    (f"spec.{field}", "Invalid value: must be greater than or equal to 0")
                )
        if existing is not None:
            before = existing.get("spec") or {}
            for field in ("selector", "template", "completionMode"):
                if before.get(field) != spec.get(field):
                    causes.append((f"spec.{field}", "Invalid value: field is immutable"))
    elif kind.kind == "Pod":
        causes.extend(_containers("spec", obj.get("spec")))
    elif kind.kind == "ConfigMap":
        causes.extend(_config_map(obj))
    elif kind.kind == "Lease":
        spec = obj.get("spec") or {}
        duration = spec.get("leaseDurationSeconds")
        if duration is not None and (not isinstance(duration, int) or duration <= 0):
            causes.append(
                ("spec.leaseDurationSeconds", f"Invalid value: {duration}: must be greater than 0")
            )
        transitions = spec.get("leaseTransitions")
        if transitions is not None and (not isinstance(transitions, int) or transitions < 0):
            causes.append(
                (
                    "spec.leaseTransitions",
                    f"Invalid value: {transitions}: must be greater than or equal to 0",
                )
            )
    return causes


CONFIG_MAP_MAX = 1024 * 1024  # bytes of data and binaryData together (core.MaxSecretSize)
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


def _config_map(obj: JSON) -> list[tuple[str, str]]:
    """As ValidateConfigMap: keys a file name could be, no key twice, at most 1 MiB in all."""
    causes: list[tuple[str, str]] = []
    total = 0
    seen: set[str] = set()
    for part in ("data", "binaryData"):
        values = obj.get(part) or {}
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if (
                not _CONFIG_KEY.match(key)
                or len(key) > 253
                or key in (".", "..")
                or (key.startswith(".."))
            ):
                causes.append(
                    (
                        f"{part}[{key}]",
                        f'Invalid value: "{key}": a valid config key must consist of '
                        "alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
                        "'KEY_NAME',  or 'key-name', regex used for validation is "
                        "'[-._a-zA-Z0-9]+')",
                    )
                )
            if key in seen:
                causes.append((f"{part}[{key}]", f'Duplicate value: "{key}"'))
            seen.add(key)
            total += len(str(value).encode())
    if total > CONFIG_MAP_MAX:
        causes.append(("[]", f"Too long: must have at most {CONFIG_MAP_MAX} bytes"))
    return causes


def _containers(path: str, pod_spec: Any) -> list[tuple[str, str]]:
    containers = (pod_spec or {}).get("containers") if isinstance(pod_spec, dict) else None
    if not containers:
        return [(f"{path}.containers", "Required value")]
    causes = []
    for index, container in enumerate(containers):
        where = f"{path}.containers[{index}]"
        if not container.get("name"):
            causes.append((f"{where}.name", "Required value"))
        if not container.get("image"):
            causes.append((f"{where}.image", "Required value"))
    return causes


def admit(kind: Kind, obj: JSON, existing: JSON | None) -> JSON:
    """Default and validate obj (a create when existing is None); raise 422 when invalid."""
    _defaults(kind, obj, existing)
    causes = _validate(kind, obj, existing)
    if causes:
        raise invalid(kind, obj["metadata"].get("name", ""), causes)
    return obj
