"""Server-side printing: the Table kubectl asks for (`Accept: ...;as=Table`) with the columns a
real API server gives each kind, `-o wide` columns at priority 1."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cockpit.rehearsal.store import JSON, Kind
from cockpit.rollout import format_age, parse_time

Column = tuple[str, str, int]  # name, type, priority
Row = Callable[[JSON], list[Any]]


def _age(value: Any) -> str:
    return format_age(parse_time(value)) if value else "<unknown>"


def _created(o: JSON) -> str:
    return _age(o["metadata"].get("creationTimestamp"))


def _selector(selector: JSON | None) -> str:
    labels = (selector or {}).get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"


def _containers(o: JSON) -> tuple[str, str]:
    containers = o.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []
    return (
        ",".join(c.get("name", "") for c in containers),
        ",".join(c.get("image", "") for c in containers),
    )


def _deployment(o: JSON) -> list[Any]:
    s = o.get("status", {})
    names, images = _containers(o)
    return [
        o["metadata"]["name"],
        f"{s.get('readyReplicas', 0)}/{o.get('spec', {}).get('replicas', 1)}",
        s.get("updatedReplicas", 0),
        s.get("availableReplicas", 0),
        _created(o),
        names,
        images,
        _selector(o.get("spec", {}).get("selector")),
    ]


def _replicaset(o: JSON) -> list[Any]:
    s = o.get("status", {})
    names, images = _containers(o)
    return [
        o["metadata"]["name"],
        o.get("spec", {}).get("replicas", 0),
        s.get("replicas", 0),
        s.get("readyReplicas", 0),
        _created(o),
        names,
        images,
        _selector(o.get("spec", {}).get("selector")),
    ]


def _pod(o: JSON) -> list[Any]:
    s = o.get("status", {})
    statuses = s.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    shown = s.get("phase", "Pending")
    for c in statuses:
        waiting = (c.get("state") or {}).get("waiting")
        terminated = (c.get("state") or {}).get("terminated")
        if waiting and waiting.get("reason"):
            shown = waiting["reason"]
        elif terminated:  # as kubectl shows a finished container: Completed, Error, StartError
            shown = terminated.get("reason") or f"ExitCode:{terminated.get('exitCode', 0)}"
    if o["metadata"].get("deletionTimestamp"):
        shown = "Terminating"
    total = len(statuses) or len(o.get("spec", {}).get("containers") or [])
    return [
        o["metadata"]["name"],
        f"{ready}/{total}",
        shown,
        restarts,
        _created(o),
        s.get("podIP", "<none>"),
        o.get("spec", {}).get("nodeName", "<none>"),
        "<none>",
        "<none>",
    ]


def _event(o: JSON) -> list[Any]:
    involved = o.get("involvedObject", {})
    source = o.get("source", {}).get("component", "")
    return [
        _age(
            o.get("lastTimestamp") or o.get("eventTime") or o["metadata"].get("creationTimestamp")
        ),
        o.get("type", ""),
        o.get("reason", ""),
        f"{involved.get('kind', '').lower()}/{involved.get('name', '')}",
        involved.get("fieldPath", ""),
        source,
        o.get("message", ""),
        _age(o.get("firstTimestamp") or o["metadata"].get("creationTimestamp")),
        o.get("count", 1),
        o["metadata"]["name"],
    ]


def _service(o: JSON) -> list[Any]:
    spec = o.get("spec", {})
    ports = ",".join(
        f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/"
        f"{p.get('protocol', 'TCP')}"
        for p in spec.get("ports") or []
    )
    selector = spec.get("selector") or {}
    return [
        o["metadata"]["name"],
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP", "<none>"),
        "<none>",
        ports or "<none>",
        _created(o),
        ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>",
    ]


def _node(o: JSON) -> list[Any]:
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in o.get("status", {}).get("conditions") or []
    )
    info = o.get("status", {}).get("nodeInfo", {})
    addresses = {
        a.get("type"): a.get("address") for a in o.get("status", {}).get("addresses") or []
    }
    return [
        o["metadata"]["name"],
        "Ready" if ready else "NotReady",
        "<none>",
        _created(o),
        info.get("kubeletVersion", ""),
        addresses.get("InternalIP", "<none>"),
        "<none>",
        info.get("osImage", ""),
        info.get("kernelVersion", ""),
        info.get("containerRuntimeVersion", ""),
    ]


def _statefulset(o: JSON) -> list[Any]:
    names, images = _containers(o)
    ready = o.get("status", {}).get("readyReplicas", 0)
    return [
        o["metadata"]["name"],
        f"{ready}/{o.get('spec', {}).get('replicas', 1)}",
        _created(o),
        names,
        images,
    ]


def _daemonset(o: JSON) -> list[Any]:
    s = o.get("status", {})
    names, images = _containers(o)
    selector = o.get("spec", {}).get("template", {}).get("spec", {}).get("nodeSelector") or {}
    return [
        o["metadata"]["name"],
        s.get("desiredNumberScheduled", 0),
        s.get("currentNumberScheduled", 0),
        s.get("numberReady", 0),
        s.get("updatedNumberScheduled", 0),
        s.get("numberAvailable", 0),
        ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>",
        _created(o),
        names,
        images,
        _selector(o.get("spec", {}).get("selector")),
    ]


def _revision(o: JSON) -> list[Any]:
    owner = next(
        (r for r in o["metadata"].get("ownerReferences") or [] if r.get("controller")), None
    )
    shown = f"{owner['kind'].lower()}.apps/{owner['name']}" if owner else "<none>"
    return [o["metadata"]["name"], shown, o.get("revision", 0), _created(o)]


def _cronjob(o: JSON) -> list[Any]:
    spec, status = o.get("spec", {}), o.get("status", {})
    last = status.get("lastScheduleTime")
    return [
        o["metadata"]["name"],
        spec.get("schedule", ""),
        spec.get("timeZone", "<none>"),
        "True" if spec.get("suspend") else "False",
        len(status.get("active") or []),
        _age(last) if last else "<none>",
        _created(o),
    ]


def _job_status(status: JSON) -> str:
    """kubectl's STATUS of a Job: its finished condition, else Suspended or Running."""
    true = {c.get("type") for c in status.get("conditions") or [] if c.get("status") == "True"}
    for condition in ("Complete", "Failed", "FailureTarget", "SuccessCriteriaMet", "Suspended"):
        if condition in true:
            return condition
    return "Running"


def _job(o: JSON) -> list[Any]:
    spec, status = o.get("spec", {}), o.get("status", {})
    completions = spec.get("completions")
    succeeded = int(status.get("succeeded", 0))
    if completions is not None:
        shown = f"{succeeded}/{completions}"
    else:
        parallelism = int(spec.get("parallelism", 1))
        shown = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    duration = "" if start is None else format_age(start, end) if end else format_age(start)
    names, images = _containers(o)
    return [
        o["metadata"]["name"],
        _job_status(status),
        shown,
        duration,
        _created(o),
        names,
        images,
        _selector(spec.get("selector")),
    ]


def _name_age(o: JSON) -> list[Any]:
    return [o["metadata"]["name"], _created(o)]


TABLES: dict[str, tuple[list[Column], Row]] = {
    "deployments": (
        [
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        _deployment,
    ),
    "replicasets": (
        [
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        _replicaset,
    ),
    "pods": (
        [
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ],
        _pod,
    ),
    "events": (
        [
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Subobject", "string", 1),
            ("Source", "string", 1),
            ("Message", "string", 0),
            ("First Seen", "string", 1),
            ("Count", "string", 1),
            ("Name", "string", 1),
        ],
        _event,
    ),
    "statefulsets": (
        [
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
        ],
        _statefulset,
    ),
    "daemonsets": (
        [
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Node Selector", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        _daemonset,
    ),
    "controllerrevisions": (
        [
            ("Name", "string", 0),
            ("Controller", "string", 0),
            ("Revision", "integer", 0),
            ("Age", "string", 0),
        ],
        _revision,
    ),
    "jobs": (
        [
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Completions", "string", 0),
            ("Duration", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ],
        _job,
    ),
    "cronjobs": (
        [
            ("Name", "string", 0),
            ("Schedule", "string", 0),
            ("Timezone", "string", 0),
            ("Suspend", "boolean", 0),
            ("Active", "integer", 0),
            ("Last Schedule", "string", 0),
            ("Age", "string", 0),
        ],
        _cronjob,
    ),
    "leases": (
        [("Name", "string", 0), ("Holder", "string", 0), ("Age", "string", 0)],
        lambda o: [
            o["metadata"]["name"],
            o.get("spec", {}).get("holderIdentity", ""),
            _created(o),
        ],
    ),
    "services": (
        [
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            ("Age", "string", 0),
            ("Selector", "string", 1),
        ],
        _service,
    ),
    "nodes": (
        [
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("External-IP", "string", 1),
            ("OS-Image", "string", 1),
            ("Kernel-Version", "string", 1),
            ("Container-Runtime", "string", 1),
        ],
        _node,
    ),
    "namespaces": (
        [("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)],
        lambda o: [o["metadata"]["name"], o.get("status", {}).get("phase", ""), _created(o)],
    ),
    "configmaps": (
        [("Name", "string", 0), ("Data", "integer", 0), ("Age", "string", 0)],
        lambda o: [
            o["metadata"]["name"],
            len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            _created(o),
        ],
    ),
    "secrets": (
        [
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Data", "integer", 0),
            ("Age", "string", 0),
        ],
        lambda o: [
            o["metadata"]["name"],
            o.get("type", "Opaque"),
            len(o.get("data") or {}),
            _created(o),
        ],
    ),
}


def table(kind: Kind, body: JSON) -> JSON:
    items = body.get("items", [body])
    columns, row = TABLES.get(
        kind.plural, ([("Name", "string", 0), ("Age", "string", 0)], _name_age)
    )
    meta = body.get("metadata", {})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {k: meta[k] for k in ("resourceVersion", "continue") if k in meta},
        "columnDefinitions": [
            {
                "name": name,
                "type": kind_of,
                "format": "name" if name == "Name" else "",
                "description": name,
                "priority": priority,
            }
            for name, kind_of, priority in columns
        ],
        "rows": [
            {
                "cells": row(item),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": item["metadata"],
                },
            }
            for item in items
        ],
    }
