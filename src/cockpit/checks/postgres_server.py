"""The `postgres` check: PostgreSQL answers; its version, streaming replicas and a query's time."""

from __future__ import annotations

from cockpit.check_types import PostgresCheckConfig
from cockpit.checks.base import CheckContext, CheckFailed, CheckResult, Stopwatch


async def run(check: PostgresCheckConfig, ctx: CheckContext) -> CheckResult:
    import psycopg

    dsn = ctx.secret(check.dsn_env, check.dsn_file, "dsn")
    if not dsn:
        raise CheckFailed("set dsn_env or dsn_file for the postgres check", reason="error")
    watch = Stopwatch()
    try:
        conn = await psycopg.AsyncConnection.connect(
            dsn, connect_timeout=max(1, int(ctx.timeout)), autocommit=True
        )
    except psycopg.OperationalError as exc:
        raise CheckFailed(f"cannot connect: {_first_line(exc)}", "unreachable") from exc
    except psycopg.ProgrammingError as exc:
        raise CheckFailed(f"bad DSN: {_first_line(exc)}", reason="error") from exc
    facts: list[str] = []
    try:
        async with conn:
            info = conn.info
            where = f"{info.host}:{info.port}/{info.dbname}"
            version = info.server_version
            major = version // 10000
            facts.append(f"PostgreSQL {major}.{version % 10000} at {where}")
            if check.min_version is not None and major < check.min_version:
                raise CheckFailed(f"{facts[0]}: older than {check.min_version}")
            if check.min_streaming_replicas is not None:
                cur = await conn.execute(
                    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
                )
                row = await cur.fetchone()
                replicas = int(row[0]) if row else 0
                facts.append(f"{replicas} streaming replica(s)")
                if replicas < check.min_streaming_replicas:
                    raise CheckFailed(
                        "; ".join(facts) + f", expected at least {check.min_streaming_replicas}"
                    )
            if check.query:
                query_watch = Stopwatch()
                try:
                    await conn.execute(check.query)
                except psycopg.Error as exc:
                    raise CheckFailed(
                        "; ".join(facts) + f"; query failed: {_first_line(exc)}"
                    ) from exc
                facts.append(f"query took {query_watch.ms:.1f} ms")
                if check.max_query_ms is not None and query_watch.ms > check.max_query_ms:
                    raise CheckFailed("; ".join(facts) + f", over {check.max_query_ms:g} ms")
    except psycopg.OperationalError as exc:
        raise CheckFailed(f"connection lost: {_first_line(exc)}", "unreachable") from exc
    return CheckResult(True, "; ".join(facts), watch.elapsed)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
