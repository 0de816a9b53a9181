"""The `redis` check: Redis answers PING; its version, role and connected replicas."""

from __future__ import annotations

from cockpit.check_types import RedisCheckConfig
from cockpit.checks.base import CheckContext, CheckFailed, CheckResult, Stopwatch


def _version_tuple(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


async def run(check: RedisCheckConfig, ctx: CheckContext) -> CheckResult:
    import redis.asyncio as aioredis
    import redis.exceptions

    password = ctx.secret(check.password_env, check.password_file, "password")
    url = ctx.fill(check.url)
    client = aioredis.Redis.from_url(
        url,
        password=password,
        username=check.username,
        socket_timeout=ctx.timeout,
        socket_connect_timeout=ctx.timeout,
    )
    watch = Stopwatch()
    try:
        await client.ping()
        info = await client.info("server")
        replication = await client.info("replication")
    except redis.exceptions.AuthenticationError as exc:
        raise CheckFailed(f"{url}: authentication failed") from exc
    except redis.exceptions.ResponseError as exc:
        raise CheckFailed(f"{url}: {exc}") from exc
    except (redis.exceptions.ConnectionError, OSError) as exc:
        raise CheckFailed(f"{url}: cannot connect: {exc}", reason="unreachable") from exc
    except redis.exceptions.TimeoutError as exc:
        raise CheckFailed(f"{url}: no answer", reason="timeout") from exc
    finally:
        await client.aclose()
    version = str(info.get("redis_version", "?"))
    role = str(replication.get("role", "?"))
    replicas = int(replication.get("connected_slaves", 0))
    facts = f"{url}: PONG; Redis {version}, role {role}, {replicas} connected replica(s)"
    if check.min_version and _version_tuple(version) < _version_tuple(check.min_version):
        raise CheckFailed(f"{facts}; older than {check.min_version}")
    if check.role and role != check.role:
        raise CheckFailed(f"{facts}; expected role {check.role}")
    if check.min_connected_replicas is not None and replicas < check.min_connected_replicas:
        raise CheckFailed(f"{facts}; expected at least {check.min_connected_replicas}")
    return CheckResult(True, facts, watch.elapsed)
