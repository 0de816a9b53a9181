"""The `tls` check: a certificate verifies (chain and name) and has time left before it expires."""

from __future__ import annotations

import asyncio
import ssl
from datetime import UTC, datetime

from cockpit.check_types import TlsCheckConfig
from cockpit.checks.base import CheckContext, CheckFailed, CheckResult, Stopwatch, ssl_context


async def run(check: TlsCheckConfig, ctx: CheckContext) -> CheckResult:
    host = ctx.fill(check.host)
    name = ctx.fill(check.sni) if check.sni else host
    context = ssl_context(check.ca_file, ctx)
    watch = Stopwatch()
    try:
        _reader, writer = await asyncio.open_connection(
            host, check.port, ssl=context, server_hostname=name
        )
    except ssl.SSLCertVerificationError as exc:
        raise CheckFailed(
            f"{name} on {host}:{check.port}: certificate does not verify: {exc.verify_message}"
        ) from exc
    except ssl.SSLError as exc:
        raise CheckFailed(f"{host}:{check.port}: TLS handshake failed: {exc.reason}") from exc
    except OSError as exc:
        raise CheckFailed(
            f"{host}:{check.port}: cannot connect: {exc.strerror or exc}", reason="unreachable"
        ) from exc
    try:
        cert = writer.get_extra_info("peercert") or {}
    finally:
        writer.close()
    not_after = cert.get("notAfter")
    if not isinstance(not_after, str):
        raise CheckFailed(f"{host}:{check.port}: the server sent no certificate dates")
    expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), UTC)
    days = (expires - datetime.now(UTC)).total_seconds() / 86400
    evidence = (
        f"{name} on {host}:{check.port}: chain and name verify; expires "
        f"{expires:%Y-%m-%d} ({days:.1f} days)"
    )
    if days < check.min_days_valid:
        raise CheckFailed(f"{evidence}, fewer than {check.min_days_valid} days left")
    return CheckResult(True, evidence, duration=watch.elapsed)
