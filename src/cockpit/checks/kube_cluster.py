"""The `kube` check: facts about a cluster that a runbook item can be bound to."""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any

from cockpit.check_types import KubeCheckConfig, parse_duration
from cockpit.checks.base import CheckContext, CheckFailed, CheckResult, Stopwatch
from cockpit.rollout import (
    current_revision,
    format_age,
    parse_time,
    revision_pods,
    trouble_of_pods,
    workload_status,
)
from cockpit.workloads import parse_workload


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


async def run(check: KubeCheckConfig, ctx: CheckContext) -> CheckResult:
    watch = Stopwatch()
    evidence = await asyncio.to_thread(_run_sync, check, ctx)
    return CheckResult(True, evidence, watch.elapsed)


def _run_sync(check: KubeCheckConfig, ctx: CheckContext) -> str:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from cockpit.sources.kube import (  # lazy: loaded when it runs, not when compiled
        api_client,
        describe_api_error,
        raw_json,
    )

    clusters = ctx.environment.clusters
    if not clusters:
        raise CheckFailed(f"environment {ctx.env_name!r} has no clusters", reason="error")
    cluster = next((c for c in clusters if c.name == check.cluster), None)
    if cluster is None:
        if check.cluster is not None:
            raise CheckFailed(f"no cluster {check.cluster!r}", reason="error")
        cluster = clusters[0]
    namespace = check.namespace or cluster.namespace
    api = api_client(cluster, ctx.config)
    timeout = (5, max(5.0, ctx.timeout))
    try:
        if check.what == "server-version":
            info = raw_json(
                client.VersionApi(api).get_code(_preload_content=False, _request_timeout=timeout)
            )
            version = str(info.get("gitVersion", "?"))
            assert check.min_version is not None
            if _version_tuple(version) < _version_tuple(check.min_version):
                raise CheckFailed(
                    f"{cluster.name}: server {version}, older than {check.min_version}"
                )
            return f"{cluster.name}: server {version} (>= {check.min_version})"
        if check.what == "rolled-out":
            return _rolled_out(check, client, api, namespace, cluster.name, timeout)
        if check.what == "cronjob-recent":
            return _cronjob(check, client, api, namespace, timeout)
        return _secret(check, client, api, namespace, ctx, timeout)
    except ApiException as exc:
        reason = "unreachable" if exc.status in (0, None) else None
        raise CheckFailed(f"{cluster.name}/{namespace}: {describe_api_error(exc)}", reason) from exc
    except CheckFailed:
        raise
    except Exception as exc:
        raise CheckFailed(
            f"{cluster.name}: cannot reach the API: {describe_api_error(exc)}", "unreachable"
        ) from exc


def _rolled_out(
    check: KubeCheckConfig,
    client: Any,
    api: Any,
    namespace: str,
    cluster: str,
    timeout: tuple[float, float],
) -> str:
    from cockpit.sources.kube import read_rollout  # lazy: loaded when it runs, not when compiled

    entry = check.deployment or check.workload
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


def _cronjob(
    check: KubeCheckConfig, client: Any, api: Any, namespace: str, timeout: tuple[float, float]
) -> str:
    from cockpit.sources.kube import raw_json  # lazy: loaded when it runs, not when compiled

    job = raw_json(
        client.BatchV1Api(api).read_namespaced_cron_job(
            check.cronjob, namespace, _preload_content=False, _request_timeout=timeout
        )
    )
    assert check.within is not None
    window = parse_duration(check.within)
    last = parse_time((job.get("status") or {}).get("lastSuccessfulTime"))
    if last is None:
        raise CheckFailed(f"cronjob {check.cronjob}: no successful run recorded")
    age = (datetime.now(UTC) - last).total_seconds()
    shown = (
        f"cronjob {check.cronjob}: last success {format_age(last)} ago ({last:%Y-%m-%d %H:%M} UTC)"
    )
    if age > window:
        raise CheckFailed(f"{shown}, longer ago than {check.within}")
    return shown


def _secret(
    check: KubeCheckConfig,
    client: Any,
    api: Any,
    namespace: str,
    ctx: CheckContext,
    timeout: tuple[float, float],
) -> str:
    from cockpit.sources.kube import raw_json  # lazy: loaded when it runs, not when compiled

    secret = raw_json(
        client.CoreV1Api(api).read_namespaced_secret(
            check.secret, namespace, _preload_content=False, _request_timeout=timeout
        )
    )
    raw = (secret.get("data") or {}).get(check.key)
    if raw is None:
        raise CheckFailed(f"secret {check.secret} has no key {check.key!r}")
    try:
        value = base64.b64decode(raw).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError) as exc:
        raise CheckFailed(f"secret {check.secret} key {check.key!r} is not valid base64") from exc
    ctx.secrets.append(value)  # never shown: scrubbed from anything that might quote it
    length = len(value)
    del value
    if length < check.min_length:
        raise CheckFailed(
            f"secret {check.secret} key {check.key!r} is {length} characters, "
            f"fewer than {check.min_length}"
        )
    return (
        f"secret {check.secret} key {check.key!r} is set "
        f"({length} characters, >= {check.min_length})"
    )
