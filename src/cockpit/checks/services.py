"""Checks of the services a release depends on: postgres, redis, smtp, prometheus."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
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
from cockpit.conditions import Condition, NoDataPolicy
from cockpit.sources.prometheus import PrometheusError, client_for, connect, instant_query


@register
class PostgresCheck(CheckSpec):
    """PostgreSQL answers: version, streaming replicas, and a query within its time budget."""

    TYPE: ClassVar[str] = "postgres"

    dsn_env: str | None = Field(default=None, description="Variable holding the DSN/URL.")
    dsn_file: Path | None = Field(default=None, description="File holding the DSN/URL.")
    min_version: int | None = Field(default=None, description="Major version, e.g. 16.")
    min_streaming_replicas: int | None = Field(default=None, ge=0)
    query: str | None = None
    max_query_ms: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_dsn(self) -> PostgresCheck:
        if (self.dsn_env is None) == (self.dsn_file is None):
            raise ValueError("set exactly one of dsn_env or dsn_file (the DSN holds a password)")
        return self

    def describe(self) -> str:
        return "postgres" + (f" {self.query}" if self.query else "")

    async def run(self, ctx: CheckContext) -> CheckResult:
        import psycopg

        dsn = ctx.secret(self.dsn_env, self.dsn_file, "dsn")
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
                if self.min_version is not None and major < self.min_version:
                    raise CheckFailed(f"{facts[0]}: older than {self.min_version}")
                if self.min_streaming_replicas is not None:
                    cur = await conn.execute(
                        "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'"
                    )
                    row = await cur.fetchone()
                    replicas = int(row[0]) if row else 0
                    facts.append(f"{replicas} streaming replica(s)")
                    if replicas < self.min_streaming_replicas:
                        raise CheckFailed(
                            "; ".join(facts) + f", expected at least {self.min_streaming_replicas}"
                        )
                if self.query:
                    query_watch = Stopwatch()
                    try:
                        await conn.execute(self.query)
                    except psycopg.Error as exc:
                        raise CheckFailed(
                            "; ".join(facts) + f"; query failed: {_first_line(exc)}"
                        ) from exc
                    facts.append(f"query took {query_watch.ms:.1f} ms")
                    if self.max_query_ms is not None and query_watch.ms > self.max_query_ms:
                        raise CheckFailed("; ".join(facts) + f", over {self.max_query_ms:g} ms")
        except psycopg.OperationalError as exc:
            raise CheckFailed(f"connection lost: {_first_line(exc)}", "unreachable") from exc
        return CheckResult(True, "; ".join(facts), watch.elapsed)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _version_tuple(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


@register
class RedisCheck(CheckSpec):
    """Redis answers PING; version, role and connected replicas as expected."""

    TYPE: ClassVar[str] = "redis"

    url: str = Field(description="redis://host:port/db or rediss://...; no password in it.")
    password_env: str | None = None
    password_file: Path | None = None
    username: str | None = None
    min_version: str | None = Field(default=None, description='e.g. "7.0"')
    role: Literal["master", "slave"] | None = None
    min_connected_replicas: int | None = Field(default=None, ge=0)

    @field_validator("url")
    @classmethod
    def _no_password_inline(cls, value: str) -> str:
        if "@" in value.split("://", 1)[-1].split("/", 1)[0]:
            raise ValueError("put the password in password_env or password_file, not the URL")
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    def describe(self) -> str:
        return f"redis {self.url}"

    async def run(self, ctx: CheckContext) -> CheckResult:
        import redis.asyncio as aioredis
        import redis.exceptions

        password = ctx.secret(self.password_env, self.password_file, "password")
        url = ctx.fill(self.url)
        client = aioredis.Redis.from_url(
            url,
            password=password,
            username=self.username,
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
        if self.min_version and _version_tuple(version) < _version_tuple(self.min_version):
            raise CheckFailed(f"{facts}; older than {self.min_version}")
        if self.role and role != self.role:
            raise CheckFailed(f"{facts}; expected role {self.role}")
        if self.min_connected_replicas is not None and replicas < self.min_connected_replicas:
            raise CheckFailed(f"{facts}; expected at least {self.min_connected_replicas}")
        return CheckResult(True, facts, watch.elapsed)


@register
class SmtpCheck(CheckSpec):
    """The mail relay accepts us: EHLO, optional STARTTLS, login and a test message."""

    TYPE: ClassVar[str] = "smtp"

    host: str
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    ca_file: Path | None = None
    username: str | None = None
    password_env: str | None = None
    password_file: Path | None = None
    send_to: str | None = Field(default=None, description="Send a test message here.")
    sender: str = Field(default="cockpit@localhost", description="From address of the test.")

    def describe(self) -> str:
        return f"smtp {self.host}:{self.port}"

    def effect(self) -> str | None:
        return f"sends a test mail to {self.send_to}" if self.send_to else None

    async def run(self, ctx: CheckContext) -> CheckResult:
        password = ctx.secret(self.password_env, self.password_file, "password")
        host = ctx.fill(self.host)
        watch = Stopwatch()
        facts = await asyncio.to_thread(self._converse, ctx, host, password)
        return CheckResult(True, f"{host}:{self.port}: " + "; ".join(facts), watch.elapsed)

    def _converse(self, ctx: CheckContext, host: str, password: str | None) -> list[str]:
        import smtplib  # with the email package, loaded on first use, not at start-up
        from email.message import EmailMessage

        facts: list[str] = []
        try:
            with smtplib.SMTP(host, self.port, timeout=ctx.timeout) as smtp:
                code, _banner = smtp.ehlo()
                facts.append(f"EHLO {code}")
                if self.starttls:
                    if not smtp.has_extn("starttls"):
                        raise CheckFailed(f"{host}:{self.port}: server does not offer STARTTLS")
                    context = ssl.create_default_context(
                        cafile=str(ctx.path(self.ca_file)) if self.ca_file else None
                    )
                    smtp.starttls(context=context)
                    smtp.ehlo()
                    facts.append("STARTTLS ok")
                if self.username:
                    smtp.login(self.username, password or "")
                    facts.append(f"login as {self.username} ok")
                if self.send_to:
                    message = EmailMessage()
                    message["From"] = self.sender
                    message["To"] = self.send_to
                    message["Subject"] = f"cockpit test message ({ctx.env_name})"
                    message.set_content("Sent by a cockpit smtp check. No action needed.")
                    smtp.send_message(message)
                    facts.append(f"test message to {self.send_to} accepted")
        except smtplib.SMTPAuthenticationError as exc:
            raise CheckFailed(f"{host}:{self.port}: login refused ({exc.smtp_code})") from exc
        except smtplib.SMTPException as exc:
            reason = "timeout" if "timed out" in str(exc) else None
            raise CheckFailed(f"{host}:{self.port}: {type(exc).__name__}: {exc}", reason) from exc
        except ssl.SSLError as exc:
            raise CheckFailed(f"{host}:{self.port}: STARTTLS failed: {exc.reason}") from exc
        except TimeoutError as exc:
            raise CheckFailed(f"{host}:{self.port}: no answer", reason="timeout") from exc
        except OSError as exc:
            raise CheckFailed(
                f"{host}:{self.port}: cannot connect: {exc.strerror or exc}", reason="unreachable"
            ) from exc
        return facts


@register
class PrometheusCheck(CheckSpec):
    """A PromQL instant query meets a condition, e.g. error ratio `< 0.001`."""

    TYPE: ClassVar[str] = "prometheus"

    query: str
    condition: str = Field(description="Operator and number, e.g. '< 0.001' or '>= 1000'.")
    no_data: NoDataPolicy = Field(
        default="fail",
        description="When the query returns nothing or NaN: fail, pass, inconclusive.",
    )
    url: str | None = Field(default=None, description="Default: the environment's prometheus.")

    @field_validator("condition")
    @classmethod
    def _valid_condition(cls, value: str) -> str:
        Condition.parse(value)
        return value

    def describe(self) -> str:
        return f"prometheus {self.query} {self.condition}"

    async def run(self, ctx: CheckContext) -> CheckResult:
        prom = ctx.environment.prometheus
        url = self.url or (prom.url if prom else None)
        if not url:
            raise CheckFailed(
                f"no Prometheus: set [environments.{ctx.env_name}.prometheus] or url",
                reason="error",
            )
        query = ctx.fill(self.query)
        condition = Condition.parse(self.condition)
        watch = Stopwatch()
        # the environment's Prometheus settings (auth, headers, TLS), as the metrics pane
        client = (
            client_for(prom, ctx, url=url, timeout=ctx.timeout)
            if prom
            else connect(url, timeout=ctx.timeout)
        )
        try:
            samples, warnings = await asyncio.to_thread(instant_query, client, query)
        except PrometheusError as exc:
            text = str(exc)
            reason = (
                "timeout"
                if "in time" in text or "answer in" in text
                else ("unreachable" if "cannot reach" in text else "error")
            )
            raise CheckFailed(f"{query}: {exc}", reason=reason) from exc
        measured = [(s, condition.holds(s.value)) for s in samples]
        bad = [s for s, verdict in measured if verdict is False]
        if bad:  # a breach is said first, whatever else is missing
            raise CheckFailed(
                f"{query}: {len(bad)} of {len(measured)} series not {condition}: "
                + ", ".join(f"{_series(s)} = {s.value:g}" for s in bad[:5])
            )
        missing = [s for s, verdict in measured if verdict is None]  # NaN: no data
        if not samples or len(missing) == len(samples) or (missing and self.no_data != "pass"):
            what = (
                "no data"
                if not samples
                else f"NaN (no data) for {', '.join(_series(s) for s in missing[:3])}"
            )
            evidence = f"{query} = {what}; policy no_data = {self.no_data}"
            if self.no_data == "pass":
                return CheckResult(True, evidence, watch.elapsed)
            raise CheckFailed(evidence + ("" if self.no_data == "fail" else " (inconclusive)"))
        shown = ", ".join(f"{_series(s)} = {s.value:g}" for s, _ in measured[:5]) + (
            f", … {len(measured) - 5} more" if len(measured) > 5 else ""
        )
        evidence = f"{query}: {shown} (must be {condition})"
        if warnings:
            # part of the data did not answer: the missing part may hold the breach
            raise CheckFailed(
                f"{evidence}; Prometheus warned the answer may be partial: {warnings[0]} "
                "(inconclusive)"
            )
        return CheckResult(True, evidence, watch.elapsed)


def _series(sample: Any) -> str:
    """A series as PromQL writes it: {job="api", instance="a:9100"}; {} without labels."""
    name = str(sample.labels.get("__name__", ""))
    pairs = sorted((k, v) for k, v in sample.labels.items() if k != "__name__")
    return name + "{" + ", ".join(f'{k}="{v}"' for k, v in pairs) + "}"
