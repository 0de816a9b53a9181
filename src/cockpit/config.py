"""The cockpit's TOML configuration: one file, named environments, validated strictly.

Validation is strict (`extra="forbid"` everywhere) because a misspelt key in a go-live config
is silently ignored otherwise, and the operator only learns about it when the check it was
meant to configure does not run. Every error names the file, the line where one can be found,
the key path, and for unknown keys the nearest valid name.

Secrets never live in the file: a secret is configured by the *name* of an environment variable
(`*_env`) or the path of a file (`*_file`), and is read only when it is used.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cockpit.check_types import CHECK_TYPES, CheckConfig
from cockpit.check_types import CheckBinding as CheckBinding  # noqa: PLC0414 - the session names it
from cockpit.config_fields import SecretEnv, SecretFile
from cockpit.config_fields import StrictModel as _Strict
from cockpit.config_fields import check_env_name as _check_env_name
from cockpit.errors import ConfigError
from cockpit.kubeconfig import context_namespace
from cockpit.workloads import KIND_LISTS, WorkloadRef, parse_workload

CONFIG_ENV_VAR = "COCKPIT_CONFIG"
DEFAULT_CONFIG_NAME = "cockpit.toml"

# Prometheus refuses a range query of more points per series ("exceeded maximum resolution")
PROMETHEUS_MAX_POINTS = 11_000
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")  # an RFC 9110 token


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value.rstrip("/")


BaseUrl = Annotated[str, AfterValidator(_http_url)]


_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> float:
    """'30s', '5m', '2h' -> seconds (Prometheus-style durations)."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration; write e.g. 30s, 5m, 2h or 1d")
    return int(match.group(1)) * _DURATION_UNITS[match.group(2)]


def _valid_duration(value: str) -> str:
    duration_seconds(value)
    return value


Duration = Annotated[str, AfterValidator(_valid_duration)]


class StateSettings(_Strict):
    """Where progress is kept."""

    directory: Path = Field(
        default=Path(".cockpit/state"),
        description="Directory of the per-environment state files, relative to the config file.",
    )


class AuditSettings(_Strict):
    """Where the tamper-evident audit log is kept."""

    path: Path = Field(
        default=Path(".cockpit/audit.jsonl"),
        description="Append-only JSONL audit log, relative to the config file.",
    )


class StateConfig(_Strict):
    """Where what several operators share lives. `kubernetes`: the environment's action lock
    is a Lease in one of its clusters, so two cockpits on two bastions cannot send a rollback
    or a pause at the same moment, and the checklist progress lives in ConfigMaps beside it
    (the local state folder keeps the local copy)."""

    backend: Literal["local", "kubernetes"] = Field(
        default="local", description="local (one bastion) or kubernetes (the cluster's store)."
    )
    cluster: str | None = Field(
        default=None,
        description="Which cluster holds the Lease and the shared progress (default: the first).",
    )
    namespace: str | None = Field(
        default=None,
        description="Namespace of the Lease and the progress ConfigMaps (default: that "
        "cluster's namespace).",
    )
    lease_seconds: int = Field(
        default=15,
        ge=5,
        le=300,
        description="A holder that stops renewing (killed, cut off) loses the lock this long "
        "after its last renewal.",
    )
    watch_seconds: int = Field(
        default=30,
        ge=2,
        le=600,
        description="The shared progress is watched; the watch is renewed this often (a "
        "store that stops answering is noticed within this plus 5 seconds at worst).",
    )


class ClusterConfig(_Strict):
    """One Kubernetes cluster of an environment."""

    name: str = Field(description="Short name shown in the rollout pane.")
    kubeconfig: Path | None = Field(
        default=None,
        description="Kubeconfig file, relative to the config file; default: $KUBECONFIG or "
        "~/.kube/config.",
    )
    context: str | None = Field(default=None, description="Kubeconfig context to use.")
    in_cluster: bool = Field(
        default=False, description="Use the pod's service account instead of a kubeconfig."
    )
    namespace: str = Field(
        default="default",
        description="Namespace of the deployments; default: the kubeconfig context's namespace "
        "(the service account's in a pod), else default, as kubectl.",
    )
    deployments: list[str] = Field(
        default_factory=list, description="Deployments to watch and roll back."
    )
    statefulsets: list[str] = Field(
        default_factory=list, description="StatefulSets to watch and roll back."
    )
    daemonsets: list[str] = Field(
        default_factory=list, description="DaemonSets to watch and roll back."
    )
    workloads: list[str] = Field(
        default_factory=list,
        description="Workloads as kubectl names them, KIND/NAME: deploy/web, sts/db, ds/agent, "
        "or rollout/NAME for an Argo Rollout (shown, never changed).",
    )

    @field_validator("deployments", "statefulsets", "daemonsets", "workloads")
    @classmethod
    def _workload_entries(cls, value: list[str], info: Any) -> list[str]:
        default = KIND_LISTS.get(info.field_name)
        problems = []
        for entry in value:
            try:
                ref = parse_workload(entry, default)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            if default is not None and ref.kind != default:
                problems.append(
                    f"{entry!r} is a {ref.kind}, not a {default}: move it to "
                    f"{'workloads' if ref.kind == 'rollout' else ref.kind + 's'} "
                    "(or to workloads as it is)"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _one_way_in(self) -> ClusterConfig:
        if self.in_cluster and self.kubeconfig is not None:
            raise ValueError("set either in_cluster = true or kubeconfig, not both")
        seen: dict[str, WorkloadRef] = {}
        for ref in self.targets:
            if ref.name in seen:
                raise ValueError(
                    f"workload {ref.name!r} is listed twice ({seen[ref.name]} and {ref}); the "
                    "pane, status and rollback know a cluster's workloads by name: keep one"
                )
            seen[ref.name] = ref
        return self

    @property
    def targets(self) -> tuple[WorkloadRef, ...]:
        """Every watched workload, in the order the config lists them."""
        refs = [
            parse_workload(entry, kind)
            for key, kind in KIND_LISTS.items()
            for entry in getattr(self, key)
        ]
        refs += [parse_workload(entry) for entry in self.workloads]
        return tuple(refs)

    def target(self, name: str) -> WorkloadRef | None:
        """The watched workload NAME (or KIND/NAME), if this cluster lists it."""
        try:
            wanted = parse_workload(name, "deployment") if "/" in name else None
        except ValueError:
            return None
        for ref in self.targets:
            if ref == wanted or (wanted is None and ref.name == name):
                return ref
        return None


class PrometheusConfig(_Strict):
    """The Prometheus server of an environment."""

    url: BaseUrl = Field(description="Base URL, e.g. https://prometheus.example.com")
    token_env: Annotated[str | None, SecretEnv()] = Field(
        default=None, description="Environment variable holding a bearer token."
    )
    token_file: Annotated[Path | None, SecretFile()] = Field(
        default=None, description="File holding a bearer token."
    )
    username: str | None = Field(default=None, description="Basic auth user name.")
    password_env: Annotated[str | None, SecretEnv()] = Field(
        default=None, description="Environment variable holding the basic auth password."
    )
    password_file: Annotated[Path | None, SecretFile()] = Field(
        default=None, description="File holding the basic auth password."
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="HTTP headers sent with every query, e.g. X-Scope-OrgID for a Mimir, "
        "Cortex or Thanos tenant (not secret: they are shown; use headers_env for secrets).",
    )
    headers_env: Annotated[dict[str, str], SecretEnv()] = Field(
        default_factory=dict,
        description="Headers whose value is read from an environment variable: "
        '{ "X-Api-Key" = "PROM_API_KEY" }.',
    )
    ca_file: Path | None = Field(default=None, description="CA bundle to verify TLS with.")
    cert_file: Path | None = Field(
        default=None, description="Client certificate (PEM) for mutual TLS; needs key_file."
    )
    key_file: Annotated[Path | None, SecretFile()] = Field(
        default=None, description="The client certificate's private key (PEM)."
    )
    insecure_skip_verify: bool = Field(
        default=False,
        description="Do not verify the server's TLS certificate (lab setups only: anyone on "
        "the path can answer for Prometheus). Said in validate and in the pane.",
    )
    timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds one query may take in all, from connect to the last byte.",
    )

    _env = field_validator("token_env", "password_env")(_check_env_name)

    @field_validator("headers", "headers_env")
    @classmethod
    def _header_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not an HTTP header name (letters, digits, -)")
            if name.lower() in ("authorization", "host", "content-length"):
                raise ValueError(
                    f"header {name!r} is set by the cockpit: use token_env / token_file or "
                    "username / password_env for authorization"
                )
        return value

    @field_validator("headers_env")
    @classmethod
    def _header_variables(cls, value: dict[str, str]) -> dict[str, str]:
        for name, variable in value.items():
            try:
                _check_env_name(variable)
            except ValueError as exc:
                raise ValueError(f"header {name}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_token(self) -> PrometheusConfig:
        if self.token_env and self.token_file:
            raise ValueError("set token_env or token_file, not both")
        if (self.password_env or self.password_file) and not self.username:
            raise ValueError("a password needs username")
        if (self.token_env or self.token_file) and self.username:
            raise ValueError("set a token or username / password, not both")
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("mutual TLS needs both cert_file and key_file")
        clash = {n.lower() for n in self.headers} & {n.lower() for n in self.headers_env}
        if clash:
            raise ValueError(f"header {sorted(clash)[0]!r} is in both headers and headers_env")
        if self.insecure_skip_verify and self.ca_file:
            raise ValueError("ca_file is unused with insecure_skip_verify = true; set one")
        return self


IssueLevel = Literal["fatal", "error", "warning", "info", "debug"]


class ReleaseHealthConfig(_Strict):
    """Sentry release health: the new release's crash-free rate against the previous one's."""

    of: Literal["session", "user"] = Field(
        default="session", description="Crash-free sessions or crash-free users."
    )
    max_drop: float = Field(
        default=0.5,
        ge=0,
        description="Percentage points the new release may fall below the previous one "
        "(99.8 % against 99.9 % is a drop of 0.1).",
    )
    min_sessions: int = Field(
        default=100,
        ge=1,
        description="Sessions (or users) of the new release needed before it is judged.",
    )


class ErrorsConfig(_Strict):
    """The error tracker of an environment (Sentry or Bugsink)."""

    provider: Literal["sentry", "bugsink"] = Field(description="sentry or bugsink.")
    url: BaseUrl = Field(default="https://sentry.io", description="Base URL of the tracker.")
    org: str | None = Field(default=None, description="Sentry organization slug.")
    project: str | None = Field(
        default=None,
        description="Sentry: the project's numeric id (Settings → Projects → the project's "
        "ID, not its slug); Bugsink: the project's id.",
    )
    token_env: Annotated[str | None, SecretEnv()] = Field(
        default=None, description="Environment variable holding the API token."
    )
    token_file: Annotated[Path | None, SecretFile()] = Field(
        default=None, description="File holding the API token."
    )
    environment: str | None = Field(
        default=None, description="The tracker's environment name (default: the cockpit's)."
    )
    interval: Duration = Field(default="30s", description="How often to ask the tracker.")
    timeout: float = Field(default=10.0, gt=0, description="Request timeout in seconds.")
    max_pages: int = Field(default=5, ge=1, le=50, description="Pages read per poll at most.")
    busiest_minutes: int = Field(
        default=15, ge=1, description="Also show the busiest issues of the last N minutes."
    )
    spike_window: Duration = Field(
        default="5m", description="Events are counted over this window for the spike check."
    )
    spike_factor: float = Field(
        default=3.0, gt=1, description="A spike is this many times the baseline rate..."
    )
    spike_min_events: int = Field(
        default=10, ge=1, description="...and at least this many events in the window."
    )
    gate: bool = Field(default=True, description="An error spike makes the verdict NO-GO.")
    release: str = Field(
        default="{version}",
        description="The release name the app reports to Sentry, from the version: "
        '"servicedesk@{version}" (sentry-sdk\'s default for many setups is "project@version"). '
        "Used for firstRelease, the deploy marker and the run's release.",
    )
    max_new_issues: int | None = Field(
        default=None,
        ge=0,
        description="More new issues than this in the release analysis run (of the levels in "
        "new_issue_levels) make the verdict NO-GO; unset: new issues are shown, not judged.",
    )
    release_health: ReleaseHealthConfig | None = Field(
        default=None,
        description="Sentry only: a gate on crash-free sessions (or users) of the new release "
        "against the previous release, with a tolerated drop.",
    )
    new_issue_levels: list[IssueLevel] = Field(
        default_factory=lambda: list[IssueLevel](["fatal", "error"]),
        description="The levels of new issues max_new_issues counts.",
    )
    consecutive_error_limit: int = Field(
        default=4, ge=1, description="Failed polls in a row that make the errors gate Error."
    )

    _env = field_validator("token_env")(_check_env_name)

    @model_validator(mode="after")
    def _sentry_needs_org(self) -> ErrorsConfig:
        if self.provider == "sentry" and not self.org:
            raise ValueError("provider 'sentry' needs org (the organization slug)")
        if self.token_env and self.token_file:
            raise ValueError("set token_env or token_file, not both")
        if self.provider == "sentry" and self.project and not self.project.isdigit():
            raise ValueError(
                f"project {self.project!r}: Sentry's API takes the project's numeric id, not "
                "its slug (Settings → Projects → the project → its ID)"
            )
        if "{version}" not in self.release:
            raise ValueError(f"release {self.release!r} must contain {{version}}")
        if self.release_health is not None and self.provider != "sentry":
            raise ValueError("release_health needs provider 'sentry' (Bugsink has no sessions)")
        return self


# a Prometheus label matcher as PromQL writes it: severity="critical", team=~"shop|pay"
_MATCHER = re.compile(r'^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$')


def parse_matcher(text: str) -> tuple[str, str, str]:
    """(label, operator, value) of one matcher, or ValueError naming what is wrong."""
    found = _MATCHER.match(text)
    if not found:
        raise ValueError(f'{text!r} is not a label matcher: write label="value" (or !=, =~, !~)')
    label, op, value = found.groups()
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"{text!r}: the regular expression is wrong: {exc}") from None
    return label, op, value


class BurnWindow(_Strict):
    """A long and a short window that both burn faster than `factor` times the budget."""

    long: Duration = Field(description="The long window, e.g. 1h.")
    short: Duration = Field(description="The short window, e.g. 5m (about long / 12).")
    factor: float = Field(
        gt=0, description="Burn rate that fails: 14.4 spends 2% of 30 days in 1h."
    )


class BurnRateConfig(_Strict):
    """An SLO's error-budget burn over several windows (the multiwindow, multi-burn-rate
    alert of the SRE workbook)."""

    objective: float = Field(gt=0, lt=100, description="The SLO in percent, e.g. 99.9.")
    error_ratio: str = Field(
        description="PromQL of the ratio of bad events, with {range} where its rate window goes: "
        '\'sum(rate(http_requests_total{code=~"5.."}[{range}])) / '
        "sum(rate(http_requests_total[{range}]))'."
    )
    windows: list[BurnWindow] = Field(
        default_factory=lambda: [
            BurnWindow(long="1h", short="5m", factor=14.4),
            BurnWindow(long="6h", short="30m", factor=6.0),
        ],
        min_length=1,
        description="Window pairs; default 1h/5m at 14.4 and 6h/30m at 6.",
    )

    @field_validator("error_ratio")
    @classmethod
    def _has_range(cls, value: str) -> str:
        if "{range}" not in value:
            raise ValueError("error_ratio needs {range} where the rate window goes: [{range}]")
        return value

    def query(self) -> str:
        """One series: the worst window pair's burn, over its factor (1 = failing)."""
        budget = 1 - self.objective / 100

        def burn(window: str, factor: float, tag: str) -> str:
            # `>= 0` drops NaN (0/0: no requests in the window), which min() would skip
            ratio = f"(({self.error_ratio.replace('{range}', window)}) >= 0)"
            return f'label_replace({ratio} / {budget:.6g} / {factor:g}, "w", "{tag}", "", "")'

        def pair(w: BurnWindow) -> str:
            long, short = burn(w.long, w.factor, "long"), burn(w.short, w.factor, "short")
            # both windows must answer: one alone does not judge the pair
            return f"(min({long} or {short}) and on() {long} and on() {short})"

        pairs = [pair(w) for w in self.windows]
        tagged = " or ".join(
            f'label_replace({pair}, "pair", "{index}", "", "")' for index, pair in enumerate(pairs)
        )
        return f"max({tagged})"


class CompareConfig(_Strict):
    """The new revision's pods against the old ones', while both serve during a rollout."""

    tolerance: float = Field(
        default=0.1,
        ge=0,
        description="How much worse the new may be: 0.1 fails above 1.1 times the old "
        "(direction upper) or below 0.9 times (lower).",
    )
    floor: float = Field(
        default=0.0,
        ge=0,
        description="The old value is taken as at least this (in the query's units), so a "
        "single new error against none is not an infinite ratio: e.g. 0.001 for a ratio.",
    )


class MetricConfig(_Strict):
    """A Prometheus metric: a sparkline in the metrics pane, and usually a gate."""

    name: str = Field(description="Name shown in the metrics pane.")
    query: str = Field(
        default="",
        description="PromQL; {namespace}, {deployment}, {environment} and placeholders filled. "
        "Required unless alerts or burn_rate gives it.",
    )
    alerts: list[str] | None = Field(
        default=None,
        description="Firing Prometheus alerts as the gate: label matchers, e.g. "
        "['severity=\"critical\"', 'service=\"shop\"']; one firing alert fails it (fail = 1), "
        "and the pane names them with their age.",
    )
    burn_rate: BurnRateConfig | None = Field(
        default=None,
        description="An SLO error-budget burn-rate gate over window pairs; fails at 1 "
        "(the worst pair burning at its factor).",
    )
    compare: CompareConfig | None = Field(
        default=None,
        description="Judge the new revision against the old during a rollout: the query "
        "has {revision} (the pod-template-hash), asked for each; the value is new / old.",
    )
    unit: str = Field(default="", description='Unit shown after the value: "ms", "%", "req/s".')
    scale: float = Field(
        default=1.0, description="Multiply the raw value by this to show it (1000: s -> ms)."
    )
    window: Duration = Field(default="30m", description="Span of the sparkline and the analysis.")
    step: Duration = Field(default="30s", description="Resolution: one measurement per step.")
    interval: Duration = Field(default="30s", description="How often to ask Prometheus.")
    direction: Literal["upper", "lower"] = Field(
        default="upper", description="upper: must stay below; lower: must stay above."
    )
    warn: float | None = Field(default=None, description="Warn threshold, in shown units.")
    fail: float | None = Field(default=None, description="Fail threshold, in shown units.")
    failure_limit: int = Field(
        default=0, ge=0, description="Failed measurements tolerated (0: the first fails it)."
    )
    consecutive_error_limit: int = Field(
        default=4, ge=1, description="Failed queries in a row that make the metric Error."
    )
    min_samples: int = Field(
        default=3, ge=1, description="Measurements needed before the gate can pass."
    )
    no_data: Literal["fail", "inconclusive", "pass"] = Field(
        default="inconclusive", description="What an empty or NaN answer means."
    )
    initial_delay: Duration = Field(
        default="0s",
        description="Ignore measurements this long after a release analysis run starts.",
    )
    stale_after: Duration | None = Field(
        default=None,
        description="A newest point older than this is stale, never a pass "
        "(default: 3 steps, at least 2m).",
    )
    deployment: str | None = Field(default=None, description="Value of {deployment}.")
    gate: bool = Field(default=True, description="Part of the GO / NO-GO verdict.")
    suggested: bool = Field(
        default=False,
        description="Written by `cockpit init`: not reviewed yet. Delete once reviewed.",
    )

    @model_validator(mode="before")
    @classmethod
    def _derived_query(cls, data: Any) -> Any:
        """alerts and burn_rate give the query and a fail threshold of their own."""
        if not isinstance(data, dict):
            return data
        given = [k for k in ("query", "alerts", "burn_rate") if data.get(k)]
        if len(given) != 1:
            raise ValueError(
                "set one of query, alerts or burn_rate"
                + (f" (not {' and '.join(given)})" if given else "")
            )
        data = dict(data)
        if data.get("alerts"):
            matchers = data["alerts"]
            if not isinstance(matchers, list) or not all(isinstance(m, str) for m in matchers):
                raise ValueError('alerts is a list of label matchers: ["severity=\\"critical\\""]')
            for matcher in matchers:
                parse_matcher(matcher)
            selector = ", ".join(['alertstate="firing"', *(m.strip() for m in matchers)])
            data["query"] = f"count(ALERTS{{{selector}}}) or vector(0)"
            data.setdefault("fail", 1)
        elif data.get("burn_rate"):
            spec = BurnRateConfig.model_validate(data["burn_rate"])
            data["query"] = spec.query()
            data.setdefault("fail", 1)
            data.setdefault("unit", "× burn")
        if data.get("compare") is not None:
            if "{revision}" not in str(data.get("query", "")):
                raise ValueError(
                    "compare needs {revision} in the query where the pod-template-hash goes, "
                    'e.g. pod=~"{deployment}-{revision}-.*"'
                )
            spec_compare = CompareConfig.model_validate(data["compare"])
            lower = data.get("direction") == "lower"
            data.setdefault(
                "fail", 1 - spec_compare.tolerance if lower else 1 + spec_compare.tolerance
            )
            data.setdefault("unit", "× old")
            # neither revision reporting anything (no errors at all) is not worse
            data.setdefault("no_data", "pass")
        return data

    @model_validator(mode="after")
    def _thresholds_in_order(self) -> MetricConfig:
        if self.warn is not None and self.fail is not None:
            ahead = self.warn > self.fail if self.direction == "upper" else self.warn < self.fail
            if ahead:
                raise ValueError(
                    f"warn ({self.warn:g}) must come before fail ({self.fail:g}) for "
                    f"direction {self.direction!r}"
                )
        if self.gate and self.fail is None and self.no_data != "fail":
            raise ValueError("a gate needs a fail threshold (or set gate = false)")
        points = duration_seconds(self.window) / max(1.0, duration_seconds(self.step))
        if points > PROMETHEUS_MAX_POINTS:
            raise ValueError(
                f"window {self.window} at step {self.step} is {points:,.0f} points; Prometheus "
                f"answers at most {PROMETHEUS_MAX_POINTS:,} per series: widen step or shorten "
                "window"
            )
        return self


class StepOverride(_Strict):
    """Replaces the scripts a runbook step carries, for one environment."""

    commands: list[str] = Field(
        description="Scripts to run instead of the runbook's, each with bash -euo pipefail."
    )

    @model_validator(mode="before")
    @classmethod
    def _no_shell_switch(cls, data: Any) -> Any:
        # Steps used to run line by line without a shell unless `shell = true`; a config
        # written then should say clearly what changed rather than "extra input".
        if isinstance(data, dict) and "shell" in data:
            raise ValueError(
                "`shell` is no longer a setting: every step script runs with bash "
                "(-euo pipefail), pipes and loops included; delete the `shell` line"
            )
        return data


class EnvironmentConfig(_Strict):
    """A named target of a go-live: staging, production, ..."""

    label: str | None = Field(default=None, description="Name shown in the banner.")
    production: bool = Field(
        default=False, description="Production: an unmistakable banner and stricter confirms."
    )
    read_only: bool = Field(default=False, description="Refuse every action that changes anything.")
    allow_commands: bool = Field(
        default=False, description="Allow running the shell commands of runbook steps."
    )
    confirm_each_step: bool = Field(
        default=True, description="When running a section, ask before each next step."
    )
    step_timeout: float = Field(
        default=900.0, gt=0, description="Seconds a step's command may run before it is killed."
    )
    max_parallel_checks: int = Field(
        default=8, ge=1, le=64, description="Checks run at the same time."
    )
    placeholders: dict[str, str] = Field(
        default_factory=dict,
        description="Extra {name} values for step commands and checks, e.g. version.",
    )
    auto_rollback: bool = Field(
        default=False,
        description="Roll back by itself when a release analysis run fails (loud; at most "
        "once per failed run, never onto a revision that failed).",
    )
    bake_time: Duration = Field(
        default="5m",
        description="A new revision is GO only after it has been measured this long.",
    )
    steps: dict[str, StepOverride] = Field(
        default_factory=dict, description="Per-step command replacements, by item ID."
    )
    clusters: list[ClusterConfig] = Field(default_factory=list)
    prometheus: PrometheusConfig | None = None
    errors: ErrorsConfig | None = None
    state: StateConfig = Field(default_factory=StateConfig)
    metrics: list[MetricConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _lock_cluster_exists(self) -> EnvironmentConfig:
        if self.state.backend != "kubernetes":
            return self
        names = [c.name for c in self.clusters]
        if not names:
            raise ValueError("state backend 'kubernetes' needs a cluster to hold its Lease")
        if self.state.cluster is not None and self.state.cluster not in names:
            raise ValueError(
                f"state.cluster {self.state.cluster!r} is not one of the clusters: "
                + ", ".join(names)
            )
        return self

    def lock_cluster(self) -> ClusterConfig | None:
        """The cluster holding the action lock (None: no lock, one bastion)."""
        if self.state.backend != "kubernetes":
            return None
        wanted = self.state.cluster or self.clusters[0].name
        return next(c for c in self.clusters if c.name == wanted)


class TelemetryConfig(_Strict):
    """The cockpit's own crash reports (off unless a DSN variable is named)."""

    sentry_dsn_env: Annotated[str | None, SecretEnv()] = Field(
        default=None, description="Environment variable holding the DSN for cockpit's crashes."
    )

    _env = field_validator("sentry_dsn_env")(_check_env_name)


class Config(_Strict):
    """The whole `cockpit.toml`."""

    default_environment: str | None = Field(
        default=None, description="Environment used when --env is not given."
    )
    checklist: Path = Field(description="Markdown runbook, relative to the config file.")
    theme: str = Field(default="cockpit-dark", description="Theme name.")
    state: StateSettings = Field(default_factory=StateSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    environments: dict[str, EnvironmentConfig] = Field(
        description="Named environments: [environments.NAME]."
    )
    checks: list[CheckBinding] = Field(
        default_factory=list, description="[[checks]]: automated checks bound to items."
    )
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    keys: dict[str, str] = Field(
        default_factory=dict,
        description='Key remapping: binding id -> keys, e.g. "checklist.done" = "x".',
    )

    @field_validator("environments")
    @classmethod
    def _at_least_one(cls, value: dict[str, EnvironmentConfig]) -> dict[str, EnvironmentConfig]:
        if not value:
            raise ValueError("define at least one [environments.NAME] table")
        for name in value:
            if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", name):
                raise ValueError(
                    f"environment name {name!r} may use only letters, digits, '.', '_' and '-'"
                )
        return value

    @model_validator(mode="after")
    def _default_exists(self) -> Config:
        if self.default_environment and self.default_environment not in self.environments:
            raise ValueError(
                f"default_environment {self.default_environment!r} is not one of "
                f"{', '.join(sorted(self.environments))}"
            )
        return self


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config and where it came from (paths in it are relative to its folder)."""

    path: Path
    model: Config

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, value: Path) -> Path:
        expanded = value.expanduser()
        return expanded if expanded.is_absolute() else (self.base_dir / expanded)

    @property
    def checklist_path(self) -> Path:
        return self.resolve(self.model.checklist)

    @property
    def state_dir(self) -> Path:
        return self.resolve(self.model.state.directory)

    @property
    def audit_path(self) -> Path:
        return self.resolve(self.model.audit.path)

    def environment_name(self, requested: str | None) -> str:
        """The environment to use: --env, then default_environment, then the only one."""
        envs = self.model.environments
        name = requested or self.model.default_environment
        if name is None:
            if len(envs) == 1:
                return next(iter(envs))
            raise ConfigError(
                f"{self.path}: several environments and no default_environment",
                f"pass --env with one of: {', '.join(sorted(envs))}",
            )
        if name not in envs:
            close = difflib.get_close_matches(name, list(envs), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"{self.path}: no environment named {name!r}",
                f"{hint}defined environments: {', '.join(sorted(envs))}",
            )
        return name

    def environment(self, name: str) -> EnvironmentConfig:
        return self.model.environments[name]

    def secret_problems(self, env_name: str) -> list[str]:
        """Secret references of one environment that cannot be read right now."""
        problems: list[str] = []
        env = self.model.environments[env_name]
        for key_path, marker, value in _secret_refs(env, ("environments", env_name)):
            where = ".".join(str(p) for p in key_path)
            if isinstance(marker, SecretEnv):
                if not os.environ.get(str(value)):
                    problems.append(
                        f"{self.path}: {where}: environment variable {value} is not set "
                        f"(export {value}=... before starting the cockpit)"
                    )
            else:
                secret_path = self.resolve(Path(str(value)))
                if not secret_path.is_file():
                    problems.append(f"{self.path}: {where}: secret file {secret_path} not found")
                elif not os.access(secret_path, os.R_OK):
                    problems.append(f"{self.path}: {where}: secret file {secret_path} unreadable")
        return problems


def _secret_refs(
    model: BaseModel, prefix: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], SecretEnv | SecretFile, object]]:
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        for meta in info.metadata:
            if isinstance(meta, SecretEnv) and isinstance(value, dict):
                # a header → variable table (headers_env): each variable is a reference
                for key, variable in value.items():
                    yield (*prefix, name, key), meta, variable
            elif isinstance(meta, SecretEnv | SecretFile) and value is not None:
                yield (*prefix, name), meta, value
        if isinstance(value, BaseModel):
            yield from _secret_refs(value, (*prefix, name))
        elif isinstance(value, list):
            for index, element in enumerate(value):
                if isinstance(element, BaseModel):
                    yield from _secret_refs(element, (*prefix, name, index))


def read_secret(loaded: LoadedConfig, env_var: str | None, file: Path | None) -> str | None:
    """Read a secret by reference, at the moment it is needed (never cached in config)."""
    if env_var:
        value = os.environ.get(env_var)
        if not value:
            raise ConfigError(
                f"environment variable {env_var} is not set", f"export {env_var}=... and retry"
            )
        return value
    if file is not None:
        path = loaded.resolve(file)
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read secret file {path}: {exc.strerror}", "check the path and mode"
            ) from exc
    return None


# --- discovery -------------------------------------------------------------------------------


def discover_config(explicit: str | os.PathLike[str] | None) -> Path:
    """--config, then $COCKPIT_CONFIG, then ./cockpit.toml."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(CONFIG_ENV_VAR)
    if from_env:
        return Path(from_env)
    local = Path.cwd() / DEFAULT_CONFIG_NAME
    if local.exists():
        return local
    raise ConfigError(
        f"no configuration found (no --config, no ${CONFIG_ENV_VAR}, no ./{DEFAULT_CONFIG_NAME})",
        "pass --config PATH, set COCKPIT_CONFIG, or start from sample-configs/servicedesk.toml",
    )


def refuse_if_writable_by_others(path: Path, what: str) -> None:
    """A file others can write decides what this cockpit runs and records: refuse it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & 0o022:
        raise ConfigError(
            f"{what} {path} is writable by other users (mode {mode & 0o777:o}): whoever can "
            "edit it can change what the cockpit runs or records",
            f"chmod go-w {path}",
        )


def load_config(path: str | os.PathLike[str]) -> LoadedConfig:
    """Read and validate a config file; every problem becomes one ConfigError listing all."""
    config_path = Path(path).expanduser().absolute()
    refuse_if_writable_by_others(config_path, "config file")
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"config file {config_path} does not exist",
            "pass --config with the path of your cockpit.toml",
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {config_path}: {exc}") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{config_path}: not valid TOML: {exc}",
            "fix the syntax at the line and column named above",
        ) from exc
    try:
        model = Config.model_validate(raw)
    except ValidationError as exc:
        locator = TomlLocator(text)
        details = [_describe(config_path, locator, err) for err in exc.errors()]
        count = len(details)
        raise ConfigError(
            f"{config_path}: {count} problem{'s' if count != 1 else ''} in the configuration",
            "fix the keys named above; `cockpit schema` prints every valid key",
            details=details,
        ) from None
    duplicates = _duplicate_cluster_problems(config_path, TomlLocator(text), model)
    if duplicates:
        count = len(duplicates)
        raise ConfigError(
            f"{config_path}: {count} cluster name{'s' if count != 1 else ''} used twice",
            "give each cluster of an environment its own name (the rollout pane, status and "
            "rollback know clusters by name)",
            details=duplicates,
        )
    return _with_context_namespaces(LoadedConfig(path=config_path, model=model))


def _duplicate_cluster_problems(path: Path, locator: TomlLocator, model: Config) -> list[str]:
    problems = []
    for env_name, environment in model.environments.items():
        first: dict[str, int] = {}
        for index, cluster in enumerate(environment.clusters):
            if cluster.name not in first:
                first[cluster.name] = index
                continue
            earlier = ("environments", env_name, "clusters", first[cluster.name], "name")
            line = locator.line_of(earlier)
            where = f"{path}:{line}" if line else str(path)
            err = {
                "loc": ("environments", env_name, "clusters", index, "name"),
                "type": "value_error",
                "msg": f"cluster name {cluster.name!r} is already used by "
                f"{_dotted(earlier[:-1])} ({where})",
            }
            problems.append(_describe(path, locator, err))
    return problems


def _with_context_namespaces(loaded: LoadedConfig) -> LoadedConfig:
    """Clusters without a namespace get the one kubectl would use: their context's."""
    environments = {}
    changed = False
    for env_name, environment in loaded.model.environments.items():
        clusters = []
        for given in environment.clusters:
            cluster = given
            if "namespace" not in given.model_fields_set:
                namespace = context_namespace(given, loaded)
                if namespace and namespace != given.namespace:
                    cluster = given.model_copy(update={"namespace": namespace})
                    changed = True
            clusters.append(cluster)
        environments[env_name] = environment.model_copy(update={"clusters": clusters})
    if not changed:
        return loaded
    model = loaded.model.model_copy(update={"environments": environments})
    return LoadedConfig(path=loaded.path, model=model)


def config_json_schema() -> dict[str, Any]:
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cockpit.toml"
    return schema


# --- error description -------------------------------------------------------------------------


def _describe(path: Path, locator: TomlLocator, err: Any) -> str:
    loc: tuple[str | int, ...] = tuple(err["loc"])
    # pydantic puts the failing validator's name into loc for "after" model validators: drop it.
    loc = tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))
    kind = err["type"]
    check_type: type[CheckConfig] | None = None
    if len(loc) >= 3 and loc[0] == "checks" and isinstance(loc[1], int):
        # a [[checks]] entry is validated as the model its `type` names, and pydantic puts
        # that type into loc (checks.0.tls.host): the file says checks[0].host
        check_type = CHECK_TYPES.get(str(loc[2]))
        if check_type is not None:
            loc = (*loc[:2], *loc[3:])
    if kind in ("union_tag_invalid", "union_tag_not_found") and loc[:1] == ("checks",):
        return _describe_check_type(path, locator, (*loc, "type"), err)
    key_path = _dotted(loc) or "(top level)"
    line = locator.line_of(loc)
    where = f"{path}:{line}" if line else str(path)
    if kind == "extra_forbidden":
        name = str(loc[-1])
        if check_type is not None and len(loc) == 3:
            valid = sorted(check_type.model_fields)
        else:
            valid = _valid_keys(loc[:-1])
        close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
        msg = f"{where}: {key_path}: unknown key"
        if close:
            msg += f"; did you mean {close[0]!r}?"
        elif valid:
            msg += f"; valid keys here: {', '.join(valid)}"
        if name in {"token", "password", "api_key", "secret", "dsn"}:
            by_reference = (
                f"{name}_env or {name}_file"
                if f"{name}_env" in valid
                else "token_env or token_file"
            )
            msg += f" (secrets never go in the file: use {by_reference})"
        return msg
    if kind == "missing":
        return f"{where}: {key_path}: required key is missing"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{where}: {key_path}: {message}"


def _describe_check_type(
    path: Path, locator: TomlLocator, loc: tuple[str | int, ...], err: Any
) -> str:
    """A [[checks]] entry whose `type` is missing or names no check type."""
    line = locator.line_of(loc)
    where = f"{path}:{line}" if line else str(path)
    types = ", ".join(sorted(CHECK_TYPES))
    if err["type"] == "union_tag_not_found":
        given_keys = list(err["input"]) if isinstance(err.get("input"), dict) else []
        typo = difflib.get_close_matches("type", given_keys, n=1, cutoff=0.6)
        spelt = f" ({typo[0]!r} is not a key: did you mean 'type'?)" if typo else ""
        return f"{where}: {_dotted(loc)}: required key is missing{spelt}; the check types: {types}"
    given = str((err.get("ctx") or {}).get("tag", ""))
    close = difflib.get_close_matches(given.lower(), list(CHECK_TYPES), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{where}: {_dotted(loc)}: unknown check type {given!r}{hint} (types: {types})"


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _valid_keys(loc: tuple[str | int, ...]) -> list[str]:
    """Field names of the model that the key path points into."""
    current: Any = Config
    for part in loc:
        if isinstance(part, int):
            continue  # list index: _model_of finds the element model
        if get_origin(current) is dict:
            current = get_args(current)[1]  # a dict key such as an environment name
            continue
        model = _model_of(current)
        if model is None or part not in model.model_fields:
            return []
        current = model.model_fields[part].annotation
    if get_origin(current) is dict:
        return []
    model = _model_of(current)
    return sorted(model.model_fields) if model is not None else []


def _model_of(annotation: Any) -> type[BaseModel] | None:
    args = get_args(annotation)
    if not args and isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is dict:
        return None  # a dict's keys are names (environment names), not fields
    for arg in args:
        found = _model_of(arg)
        if found is not None:
            return found
    return None


class TomlLocator:
    """Maps a key path to the line that defines it, so errors can point into the file.

    tomllib gives no positions, so this reads table headers and `key =` lines. It only has
    to be good enough to point an operator at the right line; when in doubt it returns the
    line of the nearest enclosing table.
    """

    def __init__(self, text: str) -> None:
        self._lines: dict[tuple[str, ...], int] = {}
        array_counts: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        in_multiline: str | None = None
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if in_multiline:
                if in_multiline in line:
                    in_multiline = None
                continue
            if not line or line.startswith("#"):
                continue
            if line.startswith("[["):
                name = _split_key(line[2 : line.find("]]")])
                index = array_counts.get(name, 0)
                array_counts[name] = index + 1
                table = (*name, str(index))
                self._lines.setdefault(name, number)
                self._lines[table] = number
                continue
            if line.startswith("["):
                table = self._with_indices(_split_key(line[1 : line.find("]")]), array_counts)
                self._lines.setdefault(table, number)
                continue
            if "=" in line:
                key = _split_key(line.split("=", 1)[0])
                full = (*table, *key)
                self._lines.setdefault(full, number)
                value = line.split("=", 1)[1].strip()
                for quote in ('"""', "'''"):
                    if value.startswith(quote) and value.count(quote) == 1:
                        in_multiline = quote

    @staticmethod
    def _with_indices(
        name: tuple[str, ...], array_counts: dict[tuple[str, ...], int]
    ) -> tuple[str, ...]:
        # [a.b.c] below [[a.b]] refers to the last element of the a.b array
        out: list[str] = []
        for part in name:
            out.append(part)
            count = array_counts.get(tuple(p for p in out))
            if count:
                out.append(str(count - 1))
        return tuple(out)

    def line_of(self, loc: tuple[str | int, ...]) -> int | None:
        key = tuple(str(p) for p in loc)
        while key:
            if key in self._lines:
                return self._lines[key]
            key = key[:-1]
        return None


def _split_key(text: str) -> tuple[str, ...]:
    parts: list[str] = []
    current = ""
    quote: str | None = None
    for char in text.strip():
        if quote:
            if char == quote:
                quote = None
            else:
                current += char
        elif char in "\"'":
            quote = char
        elif char == ".":
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return tuple(p for p in parts if p)
