"""The schemas of the kinds the rehearsal serves, ours and minimal: the objects a runbook
writes are closed (an unknown field is refused under Strict validation, as a real server
refuses it), the rest is left open (`x-kubernetes-preserve-unknown-fields`) rather than
described wrongly. The OpenAPI documents (openapi.py), field validation
(field_validation.py) and server-side apply read them."""

from __future__ import annotations

from functools import cache

from cockpit.rehearsal.store import JSON, KINDS, Kind

META = "io.k8s.apimachinery.pkg.apis.meta.v1"

STRING: JSON = {"type": "string"}
INTEGER: JSON = {"type": "integer", "format": "int32"}
INT64: JSON = {"type": "integer", "format": "int64"}
BOOLEAN: JSON = {"type": "boolean"}
TIME: JSON = {"type": "string", "format": "date-time"}
INT_OR_STRING: JSON = {
    "type": "string",
    "format": "int-or-string",
    "x-kubernetes-int-or-string": True,
}
OPEN: JSON = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
STRING_MAP: JSON = {"type": "object", "additionalProperties": {"type": "string"}}
QUANTITY_MAP: JSON = {
    "type": "object",
    "additionalProperties": {"x-kubernetes-int-or-string": True},
}


def ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def closed(description: str, properties: dict[str, JSON], required: tuple[str, ...] = ()) -> JSON:
    schema: JSON = {"description": description, "type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def keyed_list(item: JSON, key: str, *keys: str) -> JSON:
    """A list merged by key in strategic merge patch and server-side apply."""
    return {
        "type": "array",
        "items": item,
        "x-kubernetes-patch-merge-key": key,
        "x-kubernetes-patch-strategy": "merge",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": [key, *keys],
    }


def strings(description: str = "") -> JSON:
    return {
        "type": "array",
        "items": STRING,
        **({"description": description} if description else {}),
    }


def gvk(kind: Kind) -> list[JSON]:
    return [{"group": kind.group, "version": kind.version, "kind": kind.kind}]


def _object(kind: Kind, description: str, fields: dict[str, JSON]) -> JSON:
    schema = closed(
        description,
        {
            "apiVersion": {**STRING, "description": "The versioned schema of this object."},
            "kind": {**STRING, "description": "The kind of this object."},
            "metadata": {**ref(f"{META}.ObjectMeta"), "description": "Standard object metadata."},
            **fields,
        },
    )
    schema["x-kubernetes-group-version-kind"] = gvk(kind)
    return schema


CONTAINER = closed(
    "A container to run in a pod.",
    {
        "name": {**STRING, "description": "Name of the container, unique in the pod."},
        "image": {**STRING, "description": "Container image name."},
        "command": strings("Entrypoint array."),
        "args": strings("Arguments to the entrypoint."),
        "workingDir": STRING,
        "ports": keyed_list(
            closed(
                "A network port of the container.",
                {
                    "name": STRING,
                    "hostPort": INTEGER,
                    "containerPort": INTEGER,
                    "protocol": STRING,
                    "hostIP": STRING,
                },
                ("containerPort",),
            ),
            "containerPort",
            "protocol",
        ),
        "envFrom": {"type": "array", "items": OPEN},
        "env": keyed_list(
            closed(
                "An environment variable.",
                {"name": STRING, "value": STRING, "valueFrom": OPEN},
                ("name",),
            ),
            "name",
        ),
        "resources": closed(
            "Compute resources the container needs.",
            {
                "limits": QUANTITY_MAP,
                "requests": QUANTITY_MAP,
                "claims": {"type": "array", "items": OPEN},
            },
        ),
        "resizePolicy": {"type": "array", "items": OPEN},
        "restartPolicy": STRING,
        "restartPolicyRules": {"type": "array", "items": OPEN},
        "volumeMounts": keyed_list(OPEN, "mountPath"),
        "volumeDevices": keyed_list(OPEN, "devicePath"),
        "livenessProbe": OPEN,
        "readinessProbe": OPEN,
        "startupProbe": OPEN,
        "lifecycle": OPEN,
        "terminationMessagePath": STRING,
        "terminationMessagePolicy": STRING,
        "imagePullPolicy": STRING,
        "securityContext": OPEN,
        "stdin": BOOLEAN,
        "stdinOnce": BOOLEAN,
        "tty": BOOLEAN,
    },
    ("name",),
)

POD_SPEC = {
    **closed(
        "What runs in a pod. Fields the rehearsal does not describe are kept as sent.",
        {
            "containers": keyed_list(ref("io.k8s.api.core.v1.Container"), "name"),
            "initContainers": keyed_list(ref("io.k8s.api.core.v1.Container"), "name"),
            "volumes": {
                **keyed_list(OPEN, "name"),
                "x-kubernetes-patch-strategy": "merge,retainKeys",
            },
            "imagePullSecrets": keyed_list(OPEN, "name"),
            "nodeSelector": STRING_MAP,
            "restartPolicy": STRING,
            "terminationGracePeriodSeconds": INT64,
            "serviceAccountName": STRING,
            "nodeName": STRING,
        },
        ("containers",),
    ),
    "x-kubernetes-preserve-unknown-fields": True,
}

LABEL_SELECTOR = closed(
    "A label query over a set of resources.",
    {
        "matchLabels": STRING_MAP,
        "matchExpressions": {
            "type": "array",
            "items": closed(
                "A selector requirement.",
                {"key": STRING, "operator": STRING, "values": strings()},
                ("key", "operator"),
            ),
        },
    },
)

OBJECT_META = closed(
    "Metadata all persisted resources must have.",
    {
        "name": STRING,
        "generateName": STRING,
        "namespace": STRING,
        "selfLink": STRING,
        "uid": STRING,
        "resourceVersion": STRING,
        "generation": INT64,
        "creationTimestamp": TIME,
        "deletionTimestamp": TIME,
        "deletionGracePeriodSeconds": INT64,
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
        "ownerReferences": keyed_list(
            closed(
                "An object this one depends on.",
                {
                    "apiVersion": STRING,
                    "kind": STRING,
                    "name": STRING,
                    "uid": STRING,
                    "controller": BOOLEAN,
                    "blockOwnerDeletion": BOOLEAN,
                },
                ("apiVersion", "kind", "name", "uid"),
            ),
            "uid",
        ),
        "finalizers": {
            **strings(),
            "x-kubernetes-patch-strategy": "merge",
            "x-kubernetes-list-type": "set",
        },
        "managedFields": {"type": "array", "items": OPEN},
    },
)

WORKLOAD_STATUS: JSON = {
    **OPEN,
    "description": "Most recently observed status, written by the controllers.",
    "properties": {"conditions": keyed_list(OPEN, "type")},
}


def _deployment_spec() -> JSON:
    return closed(
        "The desired behaviour of the Deployment.",
        {
            "replicas": INTEGER,
            "selector": ref(f"{META}.LabelSelector"),
            "template": ref("io.k8s.api.core.v1.PodTemplateSpec"),
            "strategy": closed(
                "How to replace existing pods with new ones.",
                {
                    "type": STRING,
                    "rollingUpdate": closed(
                        "Parameters of a rolling update.",
                        {"maxUnavailable": INT_OR_STRING, "maxSurge": INT_OR_STRING},
                    ),
                },
            ),
            "minReadySeconds": INTEGER,
            "revisionHistoryLimit": INTEGER,
            "paused": BOOLEAN,
            "progressDeadlineSeconds": INTEGER,
        },
        ("selector", "template"),
    )


def _kind_schemas() -> dict[tuple[str, str], tuple[str, JSON]]:
    """(group, kind) -> (component name, schema) for every kind served."""
    by_kind = {(k.group, k.kind): k for k in KINDS}

    def core(name: str) -> Kind:
        return by_kind[("", name)]

    spec_open = {"spec": OPEN, "status": OPEN}
    return {
        ("", "Pod"): (
            "io.k8s.api.core.v1.Pod",
            _object(
                core("Pod"),
                "A pod: containers scheduled together on a node.",
                {
                    "spec": ref("io.k8s.api.core.v1.PodSpec"),
                    "status": WORKLOAD_STATUS,
                },
            ),
        ),
        ("", "ConfigMap"): (
            "io.k8s.api.core.v1.ConfigMap",
            _object(
                core("ConfigMap"),
                "Configuration data for pods.",
                {
                    "data": STRING_MAP,
                    "binaryData": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "format": "byte"},
                    },
                    "immutable": BOOLEAN,
                },
            ),
        ),
        ("", "Secret"): (
            "io.k8s.api.core.v1.Secret",
            _object(
                core("Secret"),
                "Secret data, such as a password or a token.",
                {
                    "data": {
                        "type": "object",
                        "additionalProperties": {"type": "string", "format": "byte"},
                    },
                    "stringData": STRING_MAP,
                    "type": STRING,
                    "immutable": BOOLEAN,
                },
            ),
        ),
        ("", "Service"): (
            "io.k8s.api.core.v1.Service",
            _object(
                core("Service"),
                "A named abstraction of a set of pods.",
                {
                    "spec": {
                        **OPEN,
                        "properties": {
                            "ports": keyed_list(OPEN, "port", "protocol"),
                            "selector": STRING_MAP,
                            "type": STRING,
                            "clusterIP": STRING,
                        },
                    },
                    "status": OPEN,
                },
            ),
        ),
        ("", "Namespace"): (
            "io.k8s.api.core.v1.Namespace",
            _object(core("Namespace"), "A scope for names.", spec_open),
        ),
        ("", "Node"): (
            "io.k8s.api.core.v1.Node",
            _object(core("Node"), "A worker node.", spec_open),
        ),
        ("", "Event"): (
            "io.k8s.api.core.v1.Event",
            {
                **_object(core("Event"), "A report of an event somewhere in the cluster.", {}),
                "x-kubernetes-preserve-unknown-fields": True,
            },
        ),
        ("apps", "Deployment"): (
            "io.k8s.api.apps.v1.Deployment",
            _object(
                by_kind[("apps", "Deployment")],
                "Declarative updates for pods and ReplicaSets.",
                {
                    "spec": ref("io.k8s.api.apps.v1.DeploymentSpec"),
                    "status": WORKLOAD_STATUS,
                },
            ),
        ),
        ("apps", "ReplicaSet"): (
            "io.k8s.api.apps.v1.ReplicaSet",
            _object(
                by_kind[("apps", "ReplicaSet")],
                "Keeps a number of pod replicas running.",
                {
                    "spec": {
                        **OPEN,
                        "properties": {"template": ref("io.k8s.api.core.v1.PodTemplateSpec")},
                    },
                    "status": WORKLOAD_STATUS,
                },
            ),
        ),
        ("apps", "StatefulSet"): (
            "io.k8s.api.apps.v1.StatefulSet",
            _object(
                by_kind[("apps", "StatefulSet")],
                "Pods with stable names, started and replaced in order.",
                {
                    "spec": {
                        **OPEN,
                        "properties": {
                            "replicas": INTEGER,
                            "selector": ref(f"{META}.LabelSelector"),
                            "template": ref("io.k8s.api.core.v1.PodTemplateSpec"),
                            "serviceName": STRING,
                        },
                    },
                    "status": WORKLOAD_STATUS,
                },
            ),
        ),
        ("apps", "DaemonSet"): (
            "io.k8s.api.apps.v1.DaemonSet",
            _object(
                by_kind[("apps", "DaemonSet")],
                "A pod on each node.",
                {
                    "spec": {
                        **OPEN,
                        "properties": {
                            "selector": ref(f"{META}.LabelSelector"),
                            "template": ref("io.k8s.api.core.v1.PodTemplateSpec"),
                        },
                    },
                    "status": WORKLOAD_STATUS,
                },
            ),
        ),
        ("apps", "ControllerRevision"): (
            "io.k8s.api.apps.v1.ControllerRevision",
            _object(
                by_kind[("apps", "ControllerRevision")],
                "One recorded template of a StatefulSet or DaemonSet.",
                {"data": OPEN, "revision": INT64},
            ),
        ),
        ("batch", "Job"): (
            "io.k8s.api.batch.v1.Job",
            _object(
                by_kind[("batch", "Job")],
                "Pods run to completion.",
                {
                    "spec": {
                        **OPEN,
                        "properties": {
                            "parallelism": INTEGER,
                            "completions": INTEGER,
                            "backoffLimit": INTEGER,
                            "activeDeadlineSeconds": INT64,
                            "ttlSecondsAfterFinished": INTEGER,
                            "suspend": BOOLEAN,
                            "selector": ref(f"{META}.LabelSelector"),
                            "template": ref("io.k8s.api.core.v1.PodTemplateSpec"),
                        },
                    },
                    "status": OPEN,
                },
            ),
        ),
        ("batch", "CronJob"): (
            "io.k8s.api.batch.v1.CronJob",
            _object(by_kind[("batch", "CronJob")], "A job run on a schedule.", spec_open),
        ),
        ("coordination.k8s.io", "Lease"): (
            "io.k8s.api.coordination.v1.Lease",
            _object(
                by_kind[("coordination.k8s.io", "Lease")],
                "A lease, for leader election.",
                {"spec": OPEN},
            ),
        ),
        ("authorization.k8s.io", "SelfSubjectAccessReview"): (
            "io.k8s.api.authorization.v1.SelfSubjectAccessReview",
            _object(
                by_kind[("authorization.k8s.io", "SelfSubjectAccessReview")],
                "Asks whether the caller may perform an action.",
                spec_open,
            ),
        ),
        ("authentication.k8s.io", "SelfSubjectReview"): (
            "io.k8s.api.authentication.v1.SelfSubjectReview",
            _object(
                by_kind[("authentication.k8s.io", "SelfSubjectReview")],
                "Tells the caller who the server takes them for.",
                {"status": OPEN},
            ),
        ),
    }


SHARED = {
    f"{META}.ObjectMeta": OBJECT_META,
    f"{META}.LabelSelector": LABEL_SELECTOR,
    "io.k8s.api.core.v1.PodTemplateSpec": closed(
        "A pod template.",
        {"metadata": ref(f"{META}.ObjectMeta"), "spec": ref("io.k8s.api.core.v1.PodSpec")},
    ),
    "io.k8s.api.core.v1.PodSpec": POD_SPEC,
    "io.k8s.api.core.v1.Container": CONTAINER,
    "io.k8s.api.apps.v1.DeploymentSpec": _deployment_spec(),
}


@cache
def all_schemas() -> dict[str, JSON]:
    out = dict(SHARED)
    for name, schema in _kind_schemas().values():
        out[name] = schema
    return out


def component_of(kind: Kind) -> str | None:
    found = _kind_schemas().get((kind.group, kind.kind))
    return found[0] if found else None


def resolve(schema: JSON) -> JSON:
    target = schema.get("$ref")
    if isinstance(target, str):
        return all_schemas()[target.rsplit("/", 1)[1]]
    return schema
