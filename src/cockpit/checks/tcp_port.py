"""The `tcp` check: something accepts connections on host:port."""

from __future__ import annotations

import asyncio

from cockpit.check_types import TcpCheckConfig
from cockpit.checks.base import CheckContext, CheckFailed, CheckResult, Stopwatch


async def run(check: TcpCheckConfig, ctx: CheckContext) -> CheckResult:
    host = ctx.fill(check.host)
    watch = Stopwatch()
    try:
        _reader, writer = await asyncio.open_connection(host, check.port)
    except OSError as exc:
        raise CheckFailed(
            f"{host}:{check.port}: cannot connect: {exc.strerror or exc}", reason="unreachable"
        ) from exc
    writer.close()
    return CheckResult(
        True, f"{host}:{check.port} accepted a connection in {watch.ms:.0f} ms", watch.elapsed
    )
