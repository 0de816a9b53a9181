"""`cockpit init`: a starter cockpit.toml for a runbook, with suggested check bindings.

It recognises the usual go-live items (health checks, certificates, databases, security
headers, metrics, error rates...) by their wording and proposes a check for each. Every
proposal carries `suggested = true` until someone has reviewed it; `cockpit validate` lists
the ones still unreviewed.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from cockpit.checklist import Checklist, ChecklistItem, load_checklist
from cockpit.errors import CockpitError

P95_QUERY = (
    "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket"
    '{namespace="{namespace}"}[5m])))'
)
ERROR_RATIO_QUERY = (
    'sum(rate(http_requests_total{namespace="{namespace}", code=~"5.."}[5m])) / '
    'sum(rate(http_requests_total{namespace="{namespace}"}[5m]))'
)
THROUGHPUT_QUERY = 'sum(rate(http_requests_total{namespace="{namespace}"}[5m]))'
DB_P95_QUERY = (
    "histogram_quantile(0.95, sum by (le) (rate(db_query_duration_seconds_bucket"
    '{namespace="{namespace}"}[5m])))'
)


# The usual go-live targets: p95 < 100 ms, error rate < 0.1 %, throughput >= 1000 req/s,
# database query p95 < 50 ms. Adjust the queries to your metric names.
TARGET_METRICS: list[dict[str, Any]] = [
    {
        "name": "p95 latency",
        "query": P95_QUERY,
        "unit": "ms",
        "scale": 1000,
        "warn": 80,
        "fail": 100,
    },
    {
        "name": "error rate",
        "query": ERROR_RATIO_QUERY,
        "unit": "%",
        "scale": 100,
        "warn": 0.05,
        "fail": 0.1,
    },
    {
        "name": "throughput",
        "query": THROUGHPUT_QUERY,
        "unit": "req/s",
        "direction": "lower",
        "warn": 1200,
        "fail": 1000,
    },
    {
        "name": "db query p95",
        "query": DB_P95_QUERY,
        "unit": "ms",
        "scale": 1000,
        "warn": 40,
        "fail": 50,
    },
]


@dataclass(frozen=True)
class Rule:
    """Words that identify an item, and the check to suggest for it."""

    name: str
    matches: Callable[[str], bool]
    check: dict[str, Any]


def _all(*words: str) -> Callable[[str], bool]:
    return lambda text: all(re.search(rf"\b{w}", text) for w in words)


def _any(*words: str) -> Callable[[str], bool]:
    return lambda text: any(re.search(rf"\b{w}", text) for w in words)


RULES: tuple[Rule, ...] = (
    Rule(
        "health endpoint",
        _any("health check", "health endpoint", "health checks"),
        {"type": "http", "url": "https://{host}/health"},
    ),
    Rule(
        "certificate",
        _any("ssl", "tls", "certificate"),
        {"type": "tls", "host": "{host}", "min_days_valid": 14},
    ),
    Rule(
        "https enforced",
        _any("https enforced", "redirect to https", "force https"),
        {"type": "http", "url": "http://{host}/", "expect_https_redirect": True},
    ),
    Rule(
        "HSTS",
        _any("hsts"),
        {
            "type": "http",
            "url": "https://{host}/",
            "require_headers": ["Strict-Transport-Security"],
        },
    ),
    Rule(
        "CSP",
        _any("csp", "content security policy"),
        {"type": "http", "url": "https://{host}/", "require_headers": ["Content-Security-Policy"]},
    ),
    Rule(
        "security headers",
        _any("security headers"),
        {
            "type": "http",
            "url": "https://{host}/",
            "require_headers": [
                "Strict-Transport-Security",
                "Content-Security-Policy",
                "X-Frame-Options",
            ],
        },
    ),
    Rule(
        "postgres replication",
        _all("postgres", "replication"),
        {"type": "postgres", "dsn_env": "COCKPIT_DB_DSN", "min_streaming_replicas": 1},
    ),
    Rule(
        "postgres",
        _any("postgres", "database connection"),
        {"type": "postgres", "dsn_env": "COCKPIT_DB_DSN", "query": "SELECT 1"},
    ),
    Rule(
        "redis",
        _any("redis"),
        {
            "type": "redis",
            "url": "redis://redis.{host}:6379/0",
            "password_env": "COCKPIT_REDIS_PASSWORD",
        },
    ),
    Rule(
        "metrics endpoint",
        _any("metrics endpoint", "metrics being collected"),
        {"type": "prometheus", "query": 'sum(up{namespace="{namespace}"})', "condition": ">= 1"},
    ),
    Rule(
        "error rate",
        _any("error rate", "error spike"),
        {
            "type": "prometheus",
            "query": ERROR_RATIO_QUERY,
            "condition": "< 0.001",
            "no_data": "inconclusive",
        },
    ),
    Rule(
        "response time",
        _any("response time", "p95", "latency"),
        {"type": "prometheus", "query": P95_QUERY, "condition": "< 0.1"},
    ),
    Rule(
        "rollout",
        _any("rollout status", "deployment successful", "pods running"),
        {
            "type": "command",
            "argv": [
                "kubectl",
                "--context",
                "{context}",
                "-n",
                "{namespace}",
                "rollout",
                "status",
                "deployment/{deployment}",
                "--timeout=120s",
            ],
            "timeout": 150,
        },
    ),
    Rule("dns", _any("dns", "domain name"), {"type": "dns", "name": "{host}"}),
    Rule(
        "email",
        _any("email", "smtp"),
        {"type": "smtp", "host": "smtp.{host}", "port": 587, "starttls": True},
    ),
    Rule(
        "application accessible",
        _any("application accessible", "application loads"),
        {"type": "http", "url": "https://{host}/"},
    ),
)


# Items about alerts, dashboards, documents or routines describe a process, not a live fact.
_NOT_LIVE = re.compile(
    r"\b(alerts?|dashboards?|daily|weekly|monitored|documented|policy|policies)\b"
)


def suggest(item: ChecklistItem) -> Rule | None:
    text = item.plain_text.lower()
    if _NOT_LIVE.search(text):
        return None
    for rule in RULES:
        if rule.matches(text):
            return rule
    return None


def starter_document(checklist: Checklist, checklist_ref: str) -> dict[str, Any]:
    counts = Counter(item.text for item in checklist.items())
    checks: list[dict[str, Any]] = []
    for item in checklist.items():
        if item.kind != "manual":
            continue
        rule = suggest(item)
        if rule is None:
            continue
        reference = item.text if counts[item.text] == 1 else item.id
        checks.append({"item": reference, "suggested": True, **rule.check})

    def environment(label: str, host: str, production: bool) -> dict[str, Any]:
        return {
            "label": label,
            "production": production,
            "allow_commands": False,
            "placeholders": {"host": host, "deployment": "app"},
            "clusters": [
                {
                    "name": label.lower(),
                    "context": label.lower(),
                    "namespace": "default",
                    "deployments": ["app"],
                }
            ],
            "prometheus": {
                "url": "https://prometheus.example.com",
                "token_env": "COCKPIT_PROMETHEUS_TOKEN",
                "timeout": 10,
            },
            "metrics": TARGET_METRICS,
        }

    return {
        "default_environment": "staging",
        "checklist": checklist_ref,
        "theme": "cockpit-dark",
        "state": {"directory": ".cockpit/state"},
        "audit": {"path": ".cockpit/audit.jsonl"},
        "environments": {
            "staging": environment("Staging", "staging.example.com", False),
            "production": environment("Production", "example.com", True),
        },
        "checks": checks,
    }


HEADER = """\
# cockpit configuration written by `cockpit init` for {runbook}.
# Every key is described in docs/CONFIG.md; `cockpit schema` prints the JSON Schema.
#
# Next steps:
#  1. set the hosts, clusters and Prometheus URL of each environment below;
#  2. review every [[checks]] entry marked `suggested = true`: fix it, then delete that line
#     (or delete the whole entry);
#  3. run `cockpit validate --env production`.
# Secrets are never written here: only the names of the variables that hold them (*_env).

"""


def write_starter(checklist_path: Path, output: Path, *, force: bool) -> tuple[Path, int]:
    if output.exists() and not force:
        raise CockpitError(
            f"{output} already exists", "pass --force to replace it, or --output another path"
        )
    checklist = load_checklist(checklist_path)
    reference = os.path.relpath(checklist_path.resolve(), output.resolve().parent)
    document = starter_document(checklist, reference)
    text = HEADER.format(runbook=checklist_path.name) + tomli_w.dumps(document)
    output.write_text(text, encoding="utf-8")
    return output, len(document["checks"])
