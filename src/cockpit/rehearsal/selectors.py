"""Label selectors (equality- and set-based) and field selectors, as the API server reads them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from cockpit.rehearsal.store import JSON, ApiError, Kind

Match = Callable[[JSON], bool]
LabelMatch = Callable[[dict[str, str]], bool]


def _label_test(op: str, key: str, values: frozenset[str]) -> LabelMatch:
    def test(labels: dict[str, str]) -> bool:
        if op == "exists":
            return key in labels
        if op == "!exists":
            return key not in labels
        if op == "notin":
            return labels.get(key) not in values
        return labels.get(key) in values  # "=" and "in"

    return test


def _field_test(key: str, value: str, negated: bool) -> Match:
    def test(obj: JSON) -> bool:
        return (_field_value(obj, key) == value) != negated

    return test


_SET = re.compile(r"^\s*(!?)\s*([A-Za-z0-9./_-]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_EQUALITY = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)\s*$")

# the field labels a real API server supports beyond metadata.name and metadata.namespace
FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "pods": (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "events": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "replicasets": ("status.replicas",),
    "secrets": ("type",),
    "namespaces": ("status.phase",),
    "nodes": ("spec.unschedulable",),
}


def _split_terms(text: str) -> list[str]:
    """Split at commas outside parentheses: `app in (a,b),tier=web`."""
    terms, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [t for t in terms if t.strip()]


def label_selector(text: str) -> LabelMatch:
    tests: list[LabelMatch] = []
    for term in _split_terms(text):
        equality = _EQUALITY.match(term)
        found = _SET.match(term)
        if equality:
            key, op, value = equality.groups()
            tests.append(_label_test("notin" if op == "!=" else "in", key, frozenset([value])))
        elif found:
            negated, key, op, values = found.groups()
            if op and negated:
                raise ApiError(400, "BadRequest", f"unable to parse requirement: {term!r}")
            if op:
                options = {v.strip() for v in values.split(",") if v.strip()}
                if not options:
                    raise ApiError(
                        400,
                        "BadRequest",
                        f"unable to parse requirement: values: Invalid value: {term!r}: for "
                        "'in', 'notin' operators, values set can't be empty",
                    )
                tests.append(_label_test(op, key, frozenset(options)))
            else:
                tests.append(_label_test("!exists" if negated else "exists", key, frozenset()))
        else:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {term!r}")
    return lambda labels: all(test(labels) for test in tests)


def _field_value(obj: JSON, path: str) -> str:
    if path == "source":
        return str(obj.get("source", {}).get("component", ""))
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def field_selector(kind: Kind, text: str) -> Match:
    allowed = {"metadata.name", "metadata.namespace", *FIELD_LABELS.get(kind.plural, ())}
    tests: list[Match] = []
    for term in _split_terms(text):
        if "!=" in term:
            key, value = term.split("!=", 1)
            negated = True
        elif "=" in term:
            key, value = term.replace("==", "=", 1).split("=", 1)
            negated = False
        else:
            raise ApiError(
                400, "BadRequest", f"invalid selector: '{text}'; can't understand '{term}'"
            )
        key, value = key.strip(), value.strip()
        if key not in allowed:
            raise ApiError(400, "BadRequest", f"field label not supported: {key}")
        tests.append(_field_test(key, value, negated))
    return lambda obj: all(test(obj) for test in tests)


def selector(kind: Kind, labels: str, fields: str) -> Match:
    by_label = label_selector(labels)
    by_field = field_selector(kind, fields)
    return lambda obj: by_field(obj) and by_label(obj["metadata"].get("labels") or {})
