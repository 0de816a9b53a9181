"""Network checks: http, tls, dns, tcp."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from cockpit.checks.base import (
    CheckContext,
    CheckFailed,
    CheckResult,
    CheckSpec,
    Stopwatch,
    register,
)

if TYPE_CHECKING:  # httpx loads when the first http check runs, not at start-up
    import httpx


def parse_status_expectation(value: int | list[int] | str) -> list[tuple[int, int]]:
    """200, [200, 204], "200-299" or "2xx" -> inclusive ranges."""
    if isinstance(value, int):
        return [(value, value)]
    if isinstance(value, list):
        return [(v, v) for v in value]
    text = value.strip().lower()
    if len(text) == 3 and text.endswith("xx") and text[0].isdigit():
        base = int(text[0]) * 100
        return [(base, base + 99)]
    if "-" in text:
        low, high = text.split("-", 1)
        return [(int(low), int(high))]
    return [(int(text), int(text))]


def _ssl_context(ca_file: Path | None, ctx: CheckContext) -> ssl.SSLContext:
    if ca_file is not None:
        return ssl.create_default_context(cafile=str(ctx.path(ca_file)))
    return ssl.create_default_context()


def _find_cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first exception of `kind` in the chain behind `exc` (httpx wraps ssl errors)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _lookup(document: Any, dotted: str) -> Any:
    current = document
    for part in dotted.split("."):
        if isinstance(current, list) and part.isdigit():
            index = int(part)
            if index >= len(current):
                raise KeyError(dotted)
            current = current[index]
        elif isinstance(current, dict) and part in current:
            current = current[part]
        else:
            raise KeyError(dotted)
    return current


# methods that may change what they are sent to (RFC 9110 "unsafe"): never from read-only
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@register
class HttpCheck(CheckSpec):
    """An HTTP(S) endpoint answers as expected: status, latency, headers, body."""

    TYPE: ClassVar[str] = "http"

    url: str = Field(description="URL; {placeholders} allowed.")
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    expect_status: int | list[int] | str = Field(
        default="200-299", description='200, [200, 204], "200-299" or "2xx".'
    )
    max_latency_ms: float | None = Field(default=None, gt=0)
    require_headers: list[str] = Field(
        default_factory=list, description="Response headers that must be present (e.g. HSTS)."
    )
    header_equals: dict[str, str] = Field(default_factory=dict)
    body_contains: str | None = None
    json_field: str | None = Field(default=None, description="Dotted path into a JSON body.")
    json_equals: str | int | float | bool | None = None
    expect_https_redirect: bool = Field(
        default=False, description="Expect a 3xx redirect to an https:// URL."
    )
    follow_redirects: bool = False
    verify_tls: bool = True
    ca_file: Path | None = None
    request_headers: dict[str, str] = Field(default_factory=dict)
    token_env: str | None = Field(default=None, description="Bearer token, by variable name.")
    token_file: Path | None = None

    @field_validator("expect_status")
    @classmethod
    def _valid_status(cls, value: int | list[int] | str) -> int | list[int] | str:
        try:
            parse_status_expectation(value)
        except ValueError as exc:
            raise ValueError('use 200, [200, 204], "200-299" or "2xx"') from exc
        return value

    @model_validator(mode="after")
    def _json_pair(self) -> HttpCheck:
        if self.json_equals is not None and self.json_field is None:
            raise ValueError("json_equals needs json_field")
        return self

    def describe(self) -> str:
        return f"http {self.method} {self.url}"

    def effect(self) -> str | None:
        if self.method in UNSAFE_METHODS:
            return f"sends an HTTP {self.method} to {self.url}"
        return None

    async def run(self, ctx: CheckContext) -> CheckResult:
        url = ctx.fill(self.url)
        headers = {k: ctx.fill(v) for k, v in self.request_headers.items()}
        token = ctx.secret(self.token_env, self.token_file, "token")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        verify: ssl.SSLContext | bool = (
            _ssl_context(self.ca_file, ctx) if self.verify_tls else False
        )
        follow = self.follow_redirects and not self.expect_https_redirect
        import httpx

        watch = Stopwatch()
        try:
            async with httpx.AsyncClient(verify=verify, follow_redirects=follow) as client:
                response = await client.request(self.method, url, headers=headers)
        except httpx.ConnectError as exc:
            cause = _find_cause(exc, ssl.SSLCertVerificationError)
            if isinstance(cause, ssl.SSLCertVerificationError):
                raise CheckFailed(
                    f"{url}: TLS certificate does not verify: {cause.verify_message}"
                ) from exc
            raise CheckFailed(f"{url}: cannot connect: {exc}", reason="unreachable") from exc
        except httpx.TimeoutException as exc:
            raise CheckFailed(f"{url}: no answer ({type(exc).__name__})", "timeout") from exc
        except httpx.HTTPError as exc:
            raise CheckFailed(f"{url}: {type(exc).__name__}: {exc}", reason="error") from exc
        latency = watch.ms
        head = f"{self.method} {url} -> {response.status_code} in {latency:.0f} ms"
        problems: list[str] = []
        if self.expect_https_redirect:
            location = response.headers.get("location", "")
            if not (300 <= response.status_code < 400 and location.startswith("https://")):
                problems.append(f"expected a redirect to https://, got Location {location!r}")
        else:
            ranges = parse_status_expectation(self.expect_status)
            if not any(low <= response.status_code <= high for low, high in ranges):
                problems.append(f"status {response.status_code}, expected {self.expect_status}")
        if self.max_latency_ms is not None and latency > self.max_latency_ms:
            problems.append(f"slower than {self.max_latency_ms:.0f} ms")
        missing = [h for h in self.require_headers if h not in response.headers]
        if missing:
            problems.append("missing headers: " + ", ".join(missing))
        for name, expected in self.header_equals.items():
            actual = response.headers.get(name)
            if actual != expected:
                problems.append(f"header {name} is {actual!r}, expected {expected!r}")
        if self.body_contains is not None and self.body_contains not in response.text:
            problems.append(f"body does not contain {self.body_contains!r}")
        if self.json_field is not None:
            problems.extend(self._check_json(response))
        if problems:
            raise CheckFailed(f"{head}: " + "; ".join(problems))
        checked = []
        if self.require_headers:
            checked.append(f"headers {', '.join(self.require_headers)} present")
        if self.json_field:
            checked.append(f"{self.json_field} = {self.json_equals!r}")
        tail = f"; {'; '.join(checked)}" if checked else ""
        return CheckResult(True, head + tail, duration=watch.elapsed)

    def _check_json(self, response: httpx.Response) -> list[str]:
        assert self.json_field is not None
        try:
            document = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return ["body is not JSON"]
        try:
            value = _lookup(document, self.json_field)
        except KeyError:
            return [f"JSON has no field {self.json_field}"]
        if self.json_equals is not None and value != self.json_equals:
            return [f"{self.json_field} is {value!r}, expected {self.json_equals!r}"]
        return []


@register
class TlsCheck(CheckSpec):
    """A TLS endpoint's certificate verifies, matches the name, and is not about to expire."""

    TYPE: ClassVar[str] = "tls"

    host: str
    port: int = Field(default=443, ge=1, le=65535)
    sni: str | None = Field(default=None, description="Server name to ask for (default: host).")
    min_days_valid: int = Field(default=14, ge=0)
    ca_file: Path | None = None

    def describe(self) -> str:
        return f"tls {self.host}:{self.port}"

    async def run(self, ctx: CheckContext) -> CheckResult:
        host = ctx.fill(self.host)
        name = ctx.fill(self.sni) if self.sni else host
        context = _ssl_context(self.ca_file, ctx)
        watch = Stopwatch()
        try:
            _reader, writer = await asyncio.open_connection(
                host, self.port, ssl=context, server_hostname=name
            )
        except ssl.SSLCertVerificationError as exc:
            raise CheckFailed(
                f"{name} on {host}:{self.port}: certificate does not verify: {exc.verify_message}"
            ) from exc
        except ssl.SSLError as exc:
            raise CheckFailed(f"{host}:{self.port}: TLS handshake failed: {exc.reason}") from exc
        except OSError as exc:
            raise CheckFailed(
                f"{host}:{self.port}: cannot connect: {exc.strerror or exc}", reason="unreachable"
            ) from exc
        try:
            cert = writer.get_extra_info("peercert") or {}
        finally:
            writer.close()
        not_after = cert.get("notAfter")
        if not isinstance(not_after, str):
            raise CheckFailed(f"{host}:{self.port}: the server sent no certificate dates")
        expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), UTC)
        days = (expires - datetime.now(UTC)).total_seconds() / 86400
        evidence = (
            f"{name} on {host}:{self.port}: chain and name verify; expires "
            f"{expires:%Y-%m-%d} ({days:.1f} days)"
        )
        if days < self.min_days_valid:
            raise CheckFailed(f"{evidence}, fewer than {self.min_days_valid} days left")
        return CheckResult(True, evidence, duration=watch.elapsed)


@register
class DnsCheck(CheckSpec):
    """A name resolves, optionally to exactly the expected addresses."""

    TYPE: ClassVar[str] = "dns"

    name: str
    expect_addresses: list[str] | None = None
    record: Literal["A", "AAAA", "CNAME"] = Field(
        default="A", description="Record type, when asking a nameserver."
    )
    nameserver: str | None = Field(
        default=None, description="Ask this server (IP) instead of the system resolver."
    )
    nameserver_port: int = Field(default=53, ge=1, le=65535)

    def describe(self) -> str:
        return f"dns {self.name}"

    async def run(self, ctx: CheckContext) -> CheckResult:
        name = ctx.fill(self.name)
        watch = Stopwatch()
        if self.nameserver:
            answers = await self._ask_nameserver(name)
            source = f"@{self.nameserver}"
        else:
            answers = await self._ask_system(name)
            source = "system resolver"
        shown = ", ".join(sorted(answers))
        if self.expect_addresses is not None and set(answers) != set(self.expect_addresses):
            raise CheckFailed(
                f"{name} -> {shown} ({source}), expected {', '.join(sorted(self.expect_addresses))}"
            )
        return CheckResult(True, f"{name} -> {shown} ({source})", duration=watch.elapsed)

    async def _ask_system(self, name: str) -> set[str]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(name, None, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise CheckFailed(f"{name} does not resolve: {exc.strerror}") from exc
        return {str(info[4][0]) for info in infos}

    async def _ask_nameserver(self, name: str) -> set[str]:
        import dns.asyncquery
        import dns.exception
        import dns.message
        import dns.rcode
        import dns.rdatatype

        assert self.nameserver is not None
        query = dns.message.make_query(name, self.record)
        try:
            response = await dns.asyncquery.udp(
                query, self.nameserver, port=self.nameserver_port, timeout=None
            )
        except (ConnectionRefusedError, OSError) as exc:
            raise CheckFailed(
                f"nameserver {self.nameserver}:{self.nameserver_port} unreachable: {exc}",
                reason="unreachable",
            ) from exc
        except dns.exception.DNSException as exc:
            raise CheckFailed(f"{name}: bad answer from {self.nameserver}: {exc}") from exc
        if response.rcode() != dns.rcode.NOERROR:
            code = dns.rcode.to_text(response.rcode())
            raise CheckFailed(f"{name} does not resolve at {self.nameserver}: {code}")
        wanted = dns.rdatatype.from_text(self.record)
        found = {
            item.to_text().rstrip(".")
            for rrset in response.answer
            if rrset.rdtype == wanted
            for item in rrset
        }
        if not found:
            raise CheckFailed(f"{name} has no {self.record} record at {self.nameserver}")
        return found


@register
class TcpCheck(CheckSpec):
    """Something accepts connections on host:port."""

    TYPE: ClassVar[str] = "tcp"

    host: str
    port: int = Field(ge=1, le=65535)

    def describe(self) -> str:
        return f"tcp {self.host}:{self.port}"

    async def run(self, ctx: CheckContext) -> CheckResult:
        host = ctx.fill(self.host)
        watch = Stopwatch()
        try:
            _reader, writer = await asyncio.open_connection(host, self.port)
        except OSError as exc:
            raise CheckFailed(
                f"{host}:{self.port}: cannot connect: {exc.strerror or exc}", reason="unreachable"
            ) from exc
        writer.close()
        return CheckResult(
            True, f"{host}:{self.port} accepted a connection in {watch.ms:.0f} ms", watch.elapsed
        )
