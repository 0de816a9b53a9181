"""The `kube` check: facts about the cluster that a runbook item can be bound to."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from cockpit.checks.base import (
    CheckContext,
    CheckFailed,
    CheckResult,
    CheckSpec,
    Stopwatch,
    register,
)
from cockpit.config import parse_workload
from cockpit.rollout import (
    current_revision,
    format_age,
    parse_time,
    revision_pods,
    trouble_of_pods,
    workload_status,
)
from cockpit.sources.kube import api_client, describe_api_error, raw_json, read_rollout

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration; write e.g. 90s, 30m, 26h or 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


@register
class KubeCheck(CheckSpec):
    """Deployment rolled out, server version, a CronJob's recent success, a Secret's key."""

    TYPE: ClassVar[str] = "kube"

    what: Literal["rolled-out", "server-version", "cronjob-recent", "secret-key"]
    cluster: str | None = Field(default=None, description="Default: the first cluster.")
    namespace: str | None = Field(default=None, description="Default: the cluster's namespace.")
    deployment: str | None = None
    workload: str | None = Field(
        default=None, description="Instead of deployment: KIND/NAME as kubectl, e.g. sts/db."
    )
    min_version: str | None = Field(default=None, description='e.g. "1.28"')
    cronjob: str | None = None
    within: str | None = Field(default=None, description="e.g. 26h: last success this recent.")
    secret: str | None = None
    key: str | None = None
    min_length: int = Field(default=1, ge=1, description="Least characters the value must have.")

    @field_validator("within")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("workload")
    @classmethod
    def _workload(cls, value: str | None) -> str | None:
        if value is not None and parse_workload(value).kind == "rollout":
            raise ValueError(f"{value!r}: an Argo Rollout's phase is shown in the rollout pane")
        return value

    @model_validator(mode="after")
    def _fields_for_what(self) -> KubeCheck:
        if self.what == "rolled-out" and self.deployment is None and self.workload is not None:
            return self
        needed = {
            "rolled-out": ("deployment",),
            "server-version": ("min_version",),
            "cronjob-recent": ("cronjob", "within"),
            "secret-key": ("secret", "key"),
        }[self.what]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"what = {self.what!r} needs " + " and ".join(missing))
        return self

    def describe(self) -> str:
        target = (
            self.deployment or self.workload or self.cronjob or self.secret or self.min_version
        ) or ""
        return f"kube {self.what} {target}".strip()

    async def run(self, ctx: CheckContext) -> CheckResult:
        watch = Stopwatch()
        evidence = await asyncio.to_thread(self._run_sync, ctx)
        return CheckResult(True, evidence, watch.elapsed)

    def _run_sync(self, ctx: CheckContext) -> str:
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        clusters = ctx.environment.clusters
        if not clusters:
            raise CheckFailed(f"environment {ctx.env_name!r} has no clusters", reason="error")
        cluster = next((c for c in clusters if c.name == self.cluster), None)
        if cluster is None:
            if self.cluster is not None:
                raise CheckFailed(f"no cluster {self.cluster!r}", reason="error")
            cluster = clusters[0]
        namespace = self.namespace or cluster.namespace
        api = api_client(cluster, ctx.config)
        timeout = (5, max(5.0, ctx.timeout))
        try:
            if self.what == "server-version":
                info = raw_json(
                    client.VersionApi(api).get_code(
                        _preload_content=False, _request_timeout=timeout
                    )
                )
                version = str(info.get("gitVersion", "?"))
                assert self.min_version is not None
                if _version_tuple(version) < _version_tuple(self.min_version):
                    raise CheckFailed(
                        f"{cluster.name}: server {version}, older than {self.min_version}"
                    )
                return f"{cluster.name}: server {version} (>= {self.min_version})"
            if self.what == "rolled-out":
                return self._rolled_out(client, api, namespace, cluster.name, timeout)
            if self.what == "cronjob-recent":
                return self._cronjob(client, api, namespace, timeout)
            return self._secret(client, api, namespace, ctx, timeout)
        except ApiException as exc:
            reason = "unreachable" if exc.status in (0, None) else None
            raise CheckFailed(
                f"{cluster.name}/{namespace}: {describe_api_error(exc)}", reason
            ) from exc
        except CheckFailed:
            raise
        except Exception as exc:
            raise CheckFailed(
                f"{cluster.name}: cannot reach the API: {describe_api_error(exc)}", "unreachable"
            ) from exc

    def _rolled_out(
        self, client: Any, api: Any, namespace: str, cluster: str, timeout: tuple[float, float]
    ) -> str:
        entry = self.deployment or self.workload
        assert entry is not None
        ref = parse_workload(entry, "deployment")
        obj, revisions, pods = read_rollout(api, namespace, ref.name, timeout, kind=ref.kind)
        verdict = workload_status(ref.kind, obj)
        new = current_revision(ref.kind, obj, revisions)
        trouble = trouble_of_pods(revision_pods(ref.kind, obj, new, pods))
        if trouble:
            raise CheckFailed(f"{cluster}: {verdict.message}; pod trouble: {trouble[0]}")
        if verdict.state != "complete":
            raise CheckFailed(f"{cluster}: {verdict.message}")
        return f"{cluster}: {verdict.message}"

    def _cronjob(self, client: Any, api: Any, namespace: str, timeout: tuple[float, float]) -> str:
        job = raw_json(
            client.BatchV1Api(api).read_namespaced_cron_job(
                self.cronjob, namespace, _preload_content=False, _request_timeout=timeout
            )
        )
        assert self.within is not None
        window = parse_duration(self.within)
        last = parse_time((job.get("status") or {}).get("lastSuccessfulTime"))
        if last is None:
            raise CheckFailed(f"cronjob {self.cronjob}: no successful run recorded")
        age = (datetime.now(UTC) - last).total_seconds()
        shown = (
            f"cronjob {self.cronjob}: last success {format_age(last)} ago "
            f"({last:%Y-%m-%d %H:%M} UTC)"
        )
        if age > window:
            raise CheckFailed(f"{shown}, longer ago than {self.within}")
        return shown

    def _secret(
        self, client: Any, api: Any, namespace: str, ctx: CheckContext, timeout: tuple[float, float]
    ) -> str:
        secret = raw_json(
            client.CoreV1Api(api).read_namespaced_secret(
                self.secret, namespace, _preload_content=False, _request_timeout=timeout
            )
        )
        raw = (secret.get("data") or {}).get(self.key)
        if raw is None:
            raise CheckFailed(f"secret {self.secret} has no key {self.key!r}")
        try:
            value = base64.b64decode(raw).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError) as exc:
            raise CheckFailed(f"secret {self.secret} key {self.key!r} is not valid base64") from exc
        ctx.secrets.append(value)  # never shown: scrubbed from anything that might quote it
        length = len(value)
        del value
        if length < self.min_length:
            raise CheckFailed(
                f"secret {self.secret} key {self.key!r} is {length} characters, "
                f"fewer than {self.min_length}"
            )
        return (
            f"secret {self.secret} key {self.key!r} is set "
            f"({length} characters, >= {self.min_length})"
        )
