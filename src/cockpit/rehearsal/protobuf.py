"""Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded to JSON.

kubectl's typed clients (`create namespace|configmap|secret|deployment|service|job`, `auth can-i
[--list]`, `auth whoami`) send protobuf and do not fall back to JSON, so the rehearsal API
decodes the messages those commands build. The envelope is the 4-byte magic `k8s\\0` and a
runtime.Unknown (typeMeta, raw object bytes); the field numbers below are those of the
Kubernetes API's generated.proto files. A field this table does not know is not guessed at:
the body is refused with 415, as a server refuses a media type it cannot read.

As Go's encoder writes every non-pointer field, zero values arrive on the wire; they are
dropped here unless the Go field is a pointer (marked `keep`), as JSON's omitempty drops them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cockpit.rehearsal.store import JSON

MAGIC = b"k8s\x00"


class ProtobufError(Exception):
    """The body cannot be decoded; the API answers 415 and names what it accepts."""


@dataclass(frozen=True)
class F:
    name: str
    type: str  # string, bytes, int, bool, time, quantity, intorstr, map, bytesmap, quantitymap,
    # skip (decoded and dropped), or a message name from MESSAGES
    repeated: bool = False
    keep: bool = False  # a Go pointer: present means set, even to a zero value


MESSAGES: dict[str, dict[int, F]] = {
    "ObjectMeta": {
        1: F("name", "string"),
        2: F("generateName", "string"),
        3: F("namespace", "string"),
        4: F("selfLink", "string"),
        5: F("uid", "string"),
        6: F("resourceVersion", "string"),
        7: F("generation", "int"),
        8: F("creationTimestamp", "time"),
        9: F("deletionTimestamp", "time"),
        10: F("deletionGracePeriodSeconds", "int", keep=True),
        11: F("labels", "map"),
        12: F("annotations", "map"),
        13: F("ownerReferences", "OwnerReference", repeated=True),
        14: F("finalizers", "string", repeated=True),
    },
    "OwnerReference": {
        1: F("kind", "string"),
        3: F("name", "string"),
        4: F("uid", "string"),
        5: F("apiVersion", "string"),
        6: F("controller", "bool", keep=True),
        7: F("blockOwnerDeletion", "bool", keep=True),
    },
    "Namespace": {
        1: F("metadata", "ObjectMeta"),
        2: F("spec", "NamespaceSpec"),
        3: F("status", "skip"),
    },
    "NamespaceSpec": {1: F("finalizers", "string", repeated=True)},
    "ConfigMap": {
        1: F("metadata", "ObjectMeta"),
        2: F("data", "map"),
        3: F("binaryData", "bytesmap"),
        4: F("immutable", "bool", keep=True),
    },
    "Secret": {
        1: F("metadata", "ObjectMeta"),
        2: F("data", "bytesmap"),
        3: F("type", "string"),
        4: F("stringData", "map"),
        5: F("immutable", "bool", keep=True),
    },
    "Deployment": {
        1: F("metadata", "ObjectMeta"),
        2: F("spec", "DeploymentSpec"),
        3: F("status", "skip"),
    },
    "DeploymentSpec": {
        1: F("replicas", "int", keep=True),
        2: F("selector", "LabelSelector"),
        3: F("template", "PodTemplateSpec"),
        4: F("strategy", "DeploymentStrategy"),
        5: F("minReadySeconds", "int"),
        6: F("revisionHistoryLimit", "int", keep=True),
        7: F("paused", "bool"),
        9: F("progressDeadlineSeconds", "int", keep=True),
    },
    "Job": {
        1: F("metadata", "ObjectMeta"),
        2: F("spec", "JobSpec"),
        3: F("status", "skip"),
    },
    "JobSpec": {
        1: F("parallelism", "int", keep=True),
        2: F("completions", "int", keep=True),
        3: F("activeDeadlineSeconds", "int", keep=True),
        4: F("selector", "LabelSelector"),
        5: F("manualSelector", "bool", keep=True),
        6: F("template", "PodTemplateSpec"),
        7: F("backoffLimit", "int", keep=True),
        8: F("ttlSecondsAfterFinished", "int", keep=True),
        9: F("completionMode", "string", keep=True),
        10: F("suspend", "bool", keep=True),
        14: F("podReplacementPolicy", "string", keep=True),
        15: F("managedBy", "string", keep=True),
    },
    "LabelSelector": {
        1: F("matchLabels", "map"),
        2: F("matchExpressions", "LabelSelectorRequirement", repeated=True),
    },
    "LabelSelectorRequirement": {
        1: F("key", "string"),
        2: F("operator", "string"),
        3: F("values", "string", repeated=True),
    },
    "DeploymentStrategy": {1: F("type", "string"), 2: F("rollingUpdate", "RollingUpdate")},
    "RollingUpdate": {1: F("maxUnavailable", "intorstr"), 2: F("maxSurge", "intorstr")},
    "PodTemplateSpec": {1: F("metadata", "ObjectMeta"), 2: F("spec", "PodSpec")},
    "PodSpec": {
        2: F("containers", "Container", repeated=True),
        3: F("restartPolicy", "string"),
        4: F("terminationGracePeriodSeconds", "int", keep=True),
        5: F("activeDeadlineSeconds", "int", keep=True),
        6: F("dnsPolicy", "string"),
        7: F("nodeSelector", "map"),
        8: F("serviceAccountName", "string"),
        9: F("serviceAccount", "string"),
        10: F("nodeName", "string"),
        11: F("hostNetwork", "bool"),
        12: F("hostPID", "bool"),
        13: F("hostIPC", "bool"),
        14: F("securityContext", "Empty"),
        15: F("imagePullSecrets", "LocalObjectReference", repeated=True),
        16: F("hostname", "string"),
        17: F("subdomain", "string"),
        19: F("schedulerName", "string"),
        20: F("initContainers", "Container", repeated=True),
        24: F("priorityClassName", "string"),
    },
    "Empty": {},
    "LocalObjectReference": {1: F("name", "string")},
    "Container": {
        1: F("name", "string"),
        2: F("image", "string"),
        3: F("command", "string", repeated=True),
        4: F("args", "string", repeated=True),
        5: F("workingDir", "string"),
        6: F("ports", "ContainerPort", repeated=True),
        7: F("env", "EnvVar", repeated=True),
        8: F("resources", "ResourceRequirements"),
        13: F("terminationMessagePath", "string"),
        14: F("imagePullPolicy", "string"),
        16: F("stdin", "bool"),
        17: F("stdinOnce", "bool"),
        18: F("tty", "bool"),
        20: F("terminationMessagePolicy", "string"),
    },
    "ContainerPort": {
        1: F("name", "string"),
        2: F("hostPort", "int"),
        3: F("containerPort", "int"),
        4: F("protocol", "string"),
        5: F("hostIP", "string"),
    },
    "EnvVar": {1: F("name", "string"), 2: F("value", "string")},
    "ResourceRequirements": {1: F("limits", "quantitymap"), 2: F("requests", "quantitymap")},
    "Service": {
        1: F("metadata", "ObjectMeta"),
        2: F("spec", "ServiceSpec"),
        3: F("status", "skip"),
    },
    "ServiceSpec": {
        1: F("ports", "ServicePort", repeated=True),
        2: F("selector", "map"),
        3: F("clusterIP", "string"),
        4: F("type", "string"),
        5: F("externalIPs", "string", repeated=True),
        7: F("sessionAffinity", "string"),
        8: F("loadBalancerIP", "string"),
        10: F("externalName", "string"),
        11: F("externalTrafficPolicy", "string"),
        12: F("healthCheckNodePort", "int"),
        13: F("publishNotReadyAddresses", "bool"),
    },
    "ServicePort": {
        1: F("name", "string"),
        2: F("protocol", "string"),
        3: F("port", "int"),
        4: F("targetPort", "intorstr"),
        5: F("nodePort", "int"),
    },
    "SelfSubjectAccessReview": {
        1: F("metadata", "ObjectMeta"),
        2: F("spec", "SelfSubjectAccessReviewSpec"),
        3: F("status", "skip"),
    },
    "SelfSubjectAccessReviewSpec": {
        1: F("resourceAttributes", "ResourceAttributes"),
        2: F("nonResourceAttributes", "NonResourceAttributes"),
    },
    "ResourceAttributes": {
        1: F("namespace", "string"),
        2: F("verb", "string"),
        3: F("group", "string"),
        4: F("version", "string"),
        5: F("resource", "string"),
        6: F("subresource", "string"),
        7: F("name", "string"),
    },
    "NonResourceAttributes": {1: F("path", "string"), 2: F("verb", "string")},
    "SelfSubjectRulesReview": {
        1: F("metadata", "ObjectMeta"),
        2: F("spec", "SelfSubjectRulesReviewSpec"),
        3: F("status", "skip"),
    },
    "SelfSubjectRulesReviewSpec": {1: F("namespace", "string")},
    "SelfSubjectReview": {1: F("metadata", "ObjectMeta"), 2: F("status", "skip")},
    "Unknown": {
        1: F("typeMeta", "TypeMeta"),
        2: F("raw", "bytes"),
        3: F("contentEncoding", "string"),
        4: F("contentType", "string"),
    },
    "TypeMeta": {1: F("apiVersion", "string"), 2: F("kind", "string")},
    "Time": {1: F("seconds", "int"), 2: F("nanos", "int")},
    "Quantity": {1: F("string", "string")},
    "IntOrString": {1: F("type", "int"), 2: F("intVal", "int"), 3: F("strVal", "string")},
    "MapEntry": {1: F("key", "string"), 2: F("value", "bytes")},
}


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7
        if shift > 70:
            raise ProtobufError("varint too long")


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) in order: ints for varints, bytes otherwise."""
    out: list[tuple[int, int, Any]] = []
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, at = _varint(data, at)
        elif wire == 2:
            size, at = _varint(data, at)
            if at + size > len(data):
                raise ProtobufError("truncated field")
            value, at = data[at : at + size], at + size
        elif wire == 1:
            value, at = data[at : at + 8], at + 8
        elif wire == 5:
            value, at = data[at : at + 4], at + 4
        else:
            raise ProtobufError(f"wire type {wire} is not supported")
        out.append((number, wire, value))
    return out


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(spec: F, message: str, wire: int, value: Any) -> Any:
    kind = spec.type
    if kind in ("int", "bool"):
        if wire != 0:
            raise ProtobufError(f"{message}.{spec.name}: expected a varint")
        return bool(value) if kind == "bool" else _signed(value)
    if wire != 2:
        raise ProtobufError(f"{message}.{spec.name}: expected length-delimited bytes")
    if kind == "string":
        try:
            return value.decode()
        except UnicodeDecodeError:
            raise ProtobufError(f"{message}.{spec.name}: not UTF-8") from None
    if kind == "bytes":
        return value
    if kind == "time":
        parts = _message(value, "Time")
        if not parts.get("seconds"):
            return None
        return datetime.fromtimestamp(parts["seconds"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind == "quantity":
        return _message(value, "Quantity").get("string", "")
    if kind == "intorstr":
        parts = _message(value, "IntOrString")
        return parts.get("strVal", "") if parts.get("type") == 1 else parts.get("intVal", 0)
    if kind in ("map", "bytesmap", "quantitymap"):
        entry = _message(value, "MapEntry", keep_empty=True)
        raw = entry.get("value", b"")
        if kind == "bytesmap":
            shown: Any = base64.b64encode(raw).decode()
        elif kind == "quantitymap":
            shown = _message(raw, "Quantity").get("string", "")
        else:
            shown = raw.decode()
        return (entry.get("key", ""), shown)
    if kind == "skip":
        return None
    return _message(value, kind)


def _message(data: bytes, message: str, keep_empty: bool = False) -> JSON:
    schema = MESSAGES[message]
    out: JSON = {}
    for number, wire, value in _fields(data):
        spec = schema.get(number)
        if spec is None:
            raise ProtobufError(f"field {number} of {message} is not decoded by the rehearsal")
        decoded = _scalar(spec, message, wire, value)
        if spec.type in ("map", "bytesmap", "quantitymap"):
            key, item = decoded
            out.setdefault(spec.name, {})[key] = item
        elif spec.repeated:
            out.setdefault(spec.name, []).append(decoded)
        elif spec.keep or keep_empty or decoded not in (None, "", 0, False, {}):
            out[spec.name] = decoded
    return out


def decode_object(raw: bytes) -> JSON:
    """The JSON form of a protobuf-encoded object of a kind this module knows."""
    if not raw.startswith(MAGIC):
        raise ProtobufError("the body does not start with the Kubernetes protobuf magic")
    envelope = _message(raw[len(MAGIC) :], "Unknown")
    type_meta = envelope.get("typeMeta") or {}
    kind = type_meta.get("kind", "")
    if kind not in MESSAGES or kind in ("Unknown", "TypeMeta"):
        raise ProtobufError(f"kind {kind!r} is not decoded by the rehearsal")
    if envelope.get("contentEncoding"):
        raise ProtobufError(f"content encoding {envelope['contentEncoding']!r}")
    body = _message(envelope.get("raw", b""), kind)
    body.setdefault("metadata", {})
    return {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind, **body}
