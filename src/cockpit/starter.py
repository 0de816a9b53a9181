"""`cockpit init`: a starter cockpit.toml for a runbook, with suggested check bindings.

It reads the whole runbook: the wording of items (health endpoints, certificates, databases,
security headers...), the URLs and host names written in them, the commands of steps (a step
that only runs `kubectl rollout status` or `curl`s a URL can be a check), and the targets the
document states ("p95 below 100 ms", "error rate < 0.1 %"), which become gates. It would rather
suggest nothing than something an operator would delete: every rule below names the words it
needs and the words that rule it out, and a gate is only ever written for a target the runbook
states. Every proposal carries `suggested = true` until someone has reviewed it; `cockpit
validate` lists the ones still unreviewed.
"""

from __future__ import annotations

import os
import re
import shlex
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomli_w

from cockpit.checklist import Checklist, ChecklistItem, load_checklist
from cockpit.checklist.markdown import runbook_prose
from cockpit.errors import CockpitError
from cockpit.private_files import write_private
from cockpit.workloads import KIND_ALIASES


def latency_query(quantile: float) -> str:
    return (
        f"histogram_quantile({quantile:g}, sum by (le) (rate(http_request_duration_seconds_bucket"
        '{namespace="{namespace}"}[5m])))'
    )


P95_QUERY = latency_query(0.95)
ERROR_RATIO_QUERY = (
    'sum(rate(http_requests_total{namespace="{namespace}", code=~"5.."}[5m])) / '
    'sum(rate(http_requests_total{namespace="{namespace}"}[5m]))'
)
THROUGHPUT_QUERY = 'sum(rate(http_requests_total{namespace="{namespace}"}[5m]))'
DB_P95_QUERY = (
    "histogram_quantile(0.95, sum by (le) (rate(db_query_duration_seconds_bucket"
    '{namespace="{namespace}"}[5m])))'
)

# --- reading numbers the author wrote ------------------------------------------------------------

_NUMBER = r"(\d+(?:[.,]\d+)?)"
_BELOW = (
    r"(?:<=?|≤|below|under|less than|lower than|at most|within|max(?:imum)?(?: of)?"
    r"|no more than)"
)
_ABOVE = r"(?:>=?|≥|above|over|more than|at least|min(?:imum)?(?: of)?|no less than)"
_DURATION = re.compile(
    rf"{_BELOW}\s*{_NUMBER}\s*(ms|milliseconds?|s|secs?|seconds?)\b", re.IGNORECASE
)
_PERCENT = re.compile(rf"{_BELOW}\s*{_NUMBER}\s*%", re.IGNORECASE)
_RATE_FLOOR = re.compile(
    rf"{_ABOVE}\s*{_NUMBER}\s*(?:req/s|requests?/s|rps|requests per second)\b", re.IGNORECASE
)
_FOR_MINUTES = re.compile(r"\bfor (?:at least )?(\d+) ?(?:min|mins|minutes)\b", re.IGNORECASE)
_DAYS = re.compile(r"\b(\d+)\s+(?:more\s+)?(?:days?|d[ií]as)\b", re.IGNORECASE)
_MAJOR_VERSION = re.compile(r"(?:\(|\bv?)(\d+)(?:\+|\.x|\s*or (?:newer|later)|\s*\+)", re.I)
_URL = re.compile(r"https?://[^\s<>()\[\]`'\"]+")
_HOST = re.compile(r"\b((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,})\b")
# Names with dots that are files or code, not hosts.
_NOT_A_TLD = frozenset(
    [
        "yaml",
        "yml",
        "json",
        "js",
        "ts",
        "tsx",
        "jsx",
        "py",
        "md",
        "sh",
        "txt",
        "toml",
        "conf",
        "cfg",
        "ini",
        "env",
        "xml",
        "csv",
        "log",
        "sql",
        "html",
        "css",
        "lock",
        "tf",
        "tfvars",
        "png",
        "jpg",
        "svg",
        "gz",
        "tar",
        "zip",
        "rb",
        "go",
        "rs",
        "java",
        "kt",
        "php",
        "pem",
        "crt",
        "key",
    ]
)


def _number(text: str) -> float:
    return float(text.replace(",", "."))


def _seconds(value: str, unit: str) -> float:
    return _number(value) / 1000 if unit.lower().startswith("m") else _number(value)


def _words(*patterns: str) -> Callable[[str], bool]:
    compiled = [re.compile(rf"\b{p}", re.IGNORECASE) for p in patterns]
    return lambda text: any(c.search(text) for c in compiled)


# --- what an item's wording says ---------------------------------------------------------------

# Items about process, paperwork or people describe no live fact a check could read.
_NOT_LIVE = _words(
    r"alerts?\b",
    r"dashboards?\b",
    r"daily\b",
    r"weekly\b",
    r"monitored\b",
    r"documented\b",
    r"documentation\b",
    r"polic(?:y|ies)\b",
    r"plan\b",
    r"runbook",
    r"announce",
    r"notif",
    r"inform",
    r"communicat",
    r"reviewed\b",
    r"approved\b",
    r"scheduled\b",
    r"password",
    r"vault\b",
    r"secrets?\b",
    r"credential",
    r"rotat",
    r"by e-?mail\b",
    r"e-?mail (?:the|to)\b",
    r"load test",
    r"budget",
)
_NOT_POSTGRES = _words(
    r"migrat",
    r"backup",
    r"schema",
    r"seed",
    r"index",
    r"quer(?:y|ies)",
    r"dump",
    r"restore",
    r"mysql",
    r"mariadb",
    r"mongo",
    r"dynamo",
    r"sqlite",
    r"oracle",
    r"mssql",
    r"sql server",
    r"cassandra",
    r"users?\b",
    r"grant",
)
_DB = _words(r"postgres", r"databases?\b", r"db\b")
_DB_LIVE = _words(
    r"connect",
    r"reachable",
    r"healthy",
    r"replica",
    r"replicat",
    r"streaming",
    r"primary",
    r"available",
    r"works?\b",
    r"tested",
    r"stable",
    r"up\b",
)
_HEADERS = {
    "hsts": "Strict-Transport-Security",
    "strict-transport-security": "Strict-Transport-Security",
    "csp": "Content-Security-Policy",
    "content security policy": "Content-Security-Policy",
    "content-security-policy": "Content-Security-Policy",
    "x-frame-options": "X-Frame-Options",
}
_SECURITY_HEADERS = ["Strict-Transport-Security", "Content-Security-Policy", "X-Frame-Options"]
_NOT_CERTIFICATE = r"client cert|mtls|mutual|pinn|tls\s*1\.\d|ciphers?\b|csr\b|private key"
_REDIS_LIVE = r"connect|reachable|replicat|works?\b|tested|up\b|cluster"
_MAIL_RELAY = r"\bsmtp\b|mail relay|mail server|outgoing mail"
_MAIL_PROVIDER = r"provider|sendgrid|\bses\b|mailgun|postmark"  # maybe an HTTP API, not SMTP
_SITE_UP = r"\b(?:application|app|site|website|homepage|service) (?:loads|is up|accessible)"


@dataclass(frozen=True)
class Suggestion:
    """A check proposed for an item, and why: the rule or command it came from."""

    item: ChecklistItem
    reason: str
    check: dict[str, Any]


def _urls(item: ChecklistItem) -> list[str]:
    urls = [*item.links, *_URL.findall(item.plain_text)]
    return list(dict.fromkeys(u.rstrip(".,;:") for u in urls if u.startswith("http")))


def _hosts(item: ChecklistItem) -> list[str]:
    text = item.plain_text.lower()
    found = [urlsplit(url).hostname or "" for url in _urls(item)]
    found += [h for h in _HOST.findall(text) if h.rsplit(".", 1)[-1] not in _NOT_A_TLD]
    return list(dict.fromkeys(h for h in found if h))


def _host_or_placeholder(item: ChecklistItem) -> str:
    """The host the item names, when it names exactly one; else the environment's {host}."""
    hosts = _hosts(item)
    return hosts[0] if len(hosts) == 1 else "{host}"


def _stated_minutes(text: str) -> int | None:
    match = _FOR_MINUTES.search(text)
    return int(match.group(1)) if match else None


def _over_time(query: str, minutes: int | None) -> str:
    """ "Below X for 15 minutes": the worst value of the last 15 minutes must be below X."""
    return f"max_over_time(({query})[{minutes}m:1m])" if minutes else query


def _wording(item: ChecklistItem) -> tuple[str, dict[str, Any]] | None:
    text = item.plain_text
    low = text.lower()
    if _NOT_LIVE(low):
        return None
    headers = [name for word, name in _HEADERS.items() if re.search(rf"\b{word}\b", low)]
    if headers or "security headers" in low:
        return "security headers", {
            "type": "http",
            "url": "https://{host}/",
            "require_headers": list(dict.fromkeys(headers)) or _SECURITY_HEADERS,
        }
    if re.search(r"redirects? to https|https (?:is )?enforced|forces? https|http → https", low):
        return "https redirect", {
            "type": "http",
            "url": f"http://{_host_or_placeholder(item)}/",
            "expect_https_redirect": True,
        }
    if re.search(r"\b(?:tls|ssl|certificates?)\b", low) and not re.search(_NOT_CERTIFICATE, low):
        days = _DAYS.search(low)
        return "certificate", {
            "type": "tls",
            "host": _host_or_placeholder(item),
            "min_days_valid": int(days.group(1)) if days else 14,
        }
    if re.search(r"health ?checks?\b|health endpoint|healthcheck|/healthz?\b", low):
        return "health endpoint", {"type": "http", "url": "https://{host}/health"}
    if _DB(low) and _DB_LIVE(low) and not _NOT_POSTGRES(low):
        check: dict[str, Any] = {
            "type": "postgres",
            "dsn_env": "COCKPIT_DB_DSN",
            "query": "SELECT 1",
        }
        if re.search(r"replica|replicat|streaming", low):
            check["min_streaming_replicas"] = 1
        version = _MAJOR_VERSION.search(text) if "postgres" in low else None
        if version:
            check["min_version"] = int(version.group(1))
        return "database", check
    if "redis" in low and re.search(_REDIS_LIVE, low):
        check = {
            "type": "redis",
            "url": "redis://redis.{host}:6379/0",
            "password_env": "COCKPIT_REDIS_PASSWORD",
        }
        if "replicat" in low:
            check["min_connected_replicas"] = 1
        version = _MAJOR_VERSION.search(text)
        if version:
            check["min_version"] = f"{version.group(1)}.0"
        return "redis", check
    if re.search(_MAIL_RELAY, low) and not re.search(_MAIL_PROVIDER, low):
        return "mail relay", {"type": "smtp", "host": "smtp.{host}", "port": 587, "starttls": True}
    if re.search(r"metrics endpoint|scrapes?\b|metrics (?:are |being )?collected", low):
        return "metrics endpoint", {
            "type": "prometheus",
            "query": 'sum(up{namespace="{namespace}"})',
            "condition": ">= 1",
        }
    if re.search(r"\bdns\b|domain name|\ba record\b|\bcname\b", low) and not re.search(
        r"\bttl\b|cache", low
    ):
        return "dns", {"type": "dns", "name": _host_or_placeholder(item)}
    latency = _DURATION.search(text)
    if latency and re.search(r"\bp9[59]\b|latency|response time", low) and not _DB(low):
        quantile = 0.99 if re.search(r"\bp99\b", low) else 0.95
        seconds = _seconds(latency.group(1), latency.group(2))
        return "stated latency", {
            "type": "prometheus",
            "query": _over_time(latency_query(quantile), _stated_minutes(text)),
            "condition": f"< {seconds:g}",
        }
    ratio = _PERCENT.search(text)
    if ratio and re.search(r"error (?:rate|ratio)|5xx", low):
        return "stated error rate", {
            "type": "prometheus",
            "query": _over_time(ERROR_RATIO_QUERY, _stated_minutes(text)),
            "condition": f"< {_number(ratio.group(1)) / 100:g}",
            "no_data": "inconclusive",
        }
    if re.search(_SITE_UP, low):
        return "application up", {"type": "http", "url": "https://{host}/"}
    return None


_HEALTH_PATH = re.compile(r"/(?:health|healthz|livez|readyz|ready|ping|status)(?:/|$|\?)")
_ACTION = _words(
    r"post",
    r"paste",
    r"link",
    r"update",
    r"write",
    r"share",
    r"file",
    r"create",
    r"open",
    r"add",
    r"record",
    r"fill",
    r"upload",
)
_UP = _words(r"returns", r"responds", r"reachable", r"answers", r"up\b", r"200\b", r"healthy")


def _url_check(item: ChecklistItem) -> tuple[str, dict[str, Any]] | None:
    """A URL written in the item, when the item says it should answer."""
    urls = _urls(item)
    low = item.plain_text.lower()
    if len(urls) != 1 or _ACTION(low) or _NOT_LIVE(low):
        return None
    url = urls[0]
    if _HEALTH_PATH.search(urlsplit(url).path or "/") or _UP(low):
        return "URL in the item", {"type": "http", "url": url}
    return None


# --- what a step's commands say ----------------------------------------------------------------

_CURL_READ_ONLY = frozenset(
    [
        "-f",
        "--fail",
        "-s",
        "--silent",
        "-S",
        "--show-error",
        "-L",
        "--location",
        "-I",
        "--head",
        "-i",
        "--include",
        "-v",
        "--verbose",
        "-sS",
        "-fsS",
        "-fsSL",
        "-sSf",
        "-sSfL",
        "-fs",
        "-sf",
        "-fsL",
        "-q",
    ]
)
_SHELL_SYNTAX = re.compile(r"[|;&<>`]|\$\(")


def _script_lines(script: str) -> Iterable[str]:
    for line in script.replace("\\\n", " ").splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield stripped


def _flag(words: list[str], short: str, long: str) -> str | None:
    for position, word in enumerate(words):
        if word in (short, long) and position + 1 < len(words):
            return words[position + 1]
        if word.startswith(f"{long}="):
            return word.split("=", 1)[1]
    return None


def _rollout_status(words: list[str]) -> tuple[str, dict[str, Any]] | None:
    rest = words[words.index("rollout") + 1 :]
    if rest[:1] != ["status"]:
        return None
    targets = [w for w in rest[1:] if not w.startswith("-")]
    if targets and "/" in targets[0]:
        kind, name = targets[0].split("/", 1)
    elif len(targets) >= 2:
        kind, name = targets[0], targets[1]
    else:
        return None
    found = KIND_ALIASES.get(kind.lower())
    if found not in ("deployment", "statefulset", "daemonset") or "{" in name:
        return None
    check: dict[str, Any] = {"type": "kube", "what": "rolled-out"}
    if found == "deployment":
        check["deployment"] = name
    else:
        check["workload"] = f"{found}/{name}"
    namespace = _flag(words, "-n", "--namespace")
    if namespace and "{" not in namespace:
        check["namespace"] = namespace
    return "kubectl rollout status", check


def _verification(line: str) -> tuple[str, dict[str, Any]] | None:
    """A command that only looks, and the check that looks at the same thing."""
    if _SHELL_SYNTAX.search(line):
        return None
    try:
        words = shlex.split(line)
    except ValueError:
        return None
    if words[:1] == ["kubectl"] and "rollout" in words:
        return _rollout_status(words)
    if words[:1] == ["curl"]:
        urls = [w for w in words[1:] if w.startswith(("http://", "https://"))]
        others = [w for w in words[1:] if w not in urls]
        if len(urls) != 1 or any(w not in _CURL_READ_ONLY for w in others):
            return None  # a method, a body, a header or a credential: not a plain look
        return "curl", {"type": "http", "url": urls[0]}
    return None


def _step_checks(item: ChecklistItem) -> list[tuple[str, dict[str, Any]]]:
    """Checks for a step whose every command only looks. A step that changes anything keeps
    its commands: a check bound to it would run instead of them."""
    found: list[tuple[str, dict[str, Any]]] = []
    for script in item.scripts:
        for line in _script_lines(script):
            looked = _verification(line)
            if looked is None:
                return []
            found.append(looked)
    return found


def _code_span_check(item: ChecklistItem) -> tuple[str, dict[str, Any]] | None:
    """An item whose text quotes one command that only looks: "`kubectl rollout status ...`"."""
    spans = re.findall(r"`([^`]+)`", item.text)
    return _verification(spans[0]) if len(spans) == 1 else None


def suggest(item: ChecklistItem) -> list[Suggestion]:
    """What `init` proposes for one item: nothing, rather than something wrong."""
    if item.kind == "step":
        return [Suggestion(item, reason, check) for reason, check in _step_checks(item)]
    for rule in (_code_span_check, _url_check, _wording):
        found = rule(item)
        if found is not None:
            return [Suggestion(item, found[0], found[1])]
    return []


def suggest_checks(checklist: Checklist) -> list[Suggestion]:
    return [s for item in checklist.items() for s in suggest(item)]


# --- gates the runbook states -------------------------------------------------------------------


def stated_gates(prose: Iterable[str]) -> list[dict[str, Any]]:
    """Gates for the targets the runbook states, in the order it states them, once each.

    A rate with no floor word ("Throughput: 1000 req/s") is a capacity figure for a load test,
    not a floor for go-live traffic, and gets no gate: a small service would be NO-GO at once.
    """
    gates: dict[str, dict[str, Any]] = {}
    for text in prose:
        low = text.lower()
        latency = _DURATION.search(text)
        if latency and re.search(r"\bp9[59]\b|latency|response time|query time", low):
            fail = round(_seconds(latency.group(1), latency.group(2)) * 1000, 3)
            if _DB(low) and re.search(r"quer(?:y|ies)", low):
                name, query = "db query p95", DB_P95_QUERY
            elif re.search(r"\bp99\b", low):
                name, query = "p99 latency", latency_query(0.99)
            else:
                name, query = "p95 latency", P95_QUERY
            gates.setdefault(
                name, {"name": name, "query": query, "unit": "ms", "scale": 1000, "fail": fail}
            )
        ratio = _PERCENT.search(text)
        if ratio and re.search(r"error (?:rate|ratio)|5xx", low):
            gates.setdefault(
                "error rate",
                {
                    "name": "error rate",
                    "query": ERROR_RATIO_QUERY,
                    "unit": "%",
                    "scale": 100,
                    "fail": _number(ratio.group(1)),
                },
            )
        floor = _RATE_FLOOR.search(text)
        if floor and re.search(r"throughput|traffic|requests", low):
            gates.setdefault(
                "throughput",
                {
                    "name": "throughput",
                    "query": THROUGHPUT_QUERY,
                    "unit": "req/s",
                    "direction": "lower",
                    "fail": _number(floor.group(1)),
                },
            )
    for gate in gates.values():
        # a warning a little ahead of the stated limit; the limit itself is the author's
        ahead = 1.2 if gate.get("direction") == "lower" else 0.8
        gate["warn"] = float(f"{gate['fail'] * ahead:.4g}")
        gate["suggested"] = True
    return list(gates.values())


# --- the document -------------------------------------------------------------------------------


def starter_document(
    checklist: Checklist, checklist_ref: str, prose: Iterable[str] = ()
) -> dict[str, Any]:
    counts = Counter(item.text for item in checklist.items())
    checks = [
        {
            "item": s.item.text if counts[s.item.text] == 1 else s.item.id,
            "suggested": True,
            **s.check,
        }
        for s in suggest_checks(checklist)
    ]
    gates = stated_gates(prose)

    def environment(label: str, host: str, production: bool) -> dict[str, Any]:
        env: dict[str, Any] = {
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
        }
        if gates:
            env["metrics"] = gates
        return env

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
#  2. review every [[checks]] entry and every gate ([[environments.*.metrics]], written only
#     for targets the runbook states) marked `suggested = true`: fix it (the queries assume
#     common metric names), then delete that line, or delete the whole entry;
#  3. run `cockpit validate --env production`.
# Secrets are never written here: only the names of the variables that hold them (*_env).

"""


def write_starter(checklist_path: Path, output: Path, *, force: bool) -> tuple[Path, int, int]:
    """The starter config, and how many checks and gates (per environment) it suggests."""
    if output.exists() and not force:
        raise CockpitError(
            f"{output} already exists", "pass --force to replace it, or --output another path"
        )
    checklist = load_checklist(checklist_path)
    prose = runbook_prose(checklist_path.read_text(encoding="utf-8"))
    reference = os.path.relpath(checklist_path.resolve(), output.resolve().parent)
    document = starter_document(checklist, reference, prose)
    text = HEADER.format(runbook=checklist_path.name) + tomli_w.dumps(document)
    # 0600 whatever the umask: the cockpit refuses a config that others may write
    write_private(output, text.encode("utf-8"), "config", CockpitError)
    gates = document["environments"]["production"].get("metrics", [])
    return output, len(document["checks"]), len(gates)
