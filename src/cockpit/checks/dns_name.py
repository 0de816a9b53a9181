"""The `dns` check: a name resolves, from the system resolver or a nameserver asked directly."""

from __future__ import annotations

import asyncio
import socket

from cockpit.check_types import DnsCheckConfig
from cockpit.checks.base import CheckContext, CheckFailed, CheckResult, Stopwatch


async def run(check: DnsCheckConfig, ctx: CheckContext) -> CheckResult:
    name = ctx.fill(check.name)
    watch = Stopwatch()
    if check.nameserver:
        answers = await _ask_nameserver(check, name)
        source = f"@{check.nameserver}"
    else:
        answers = await _ask_system(check, name)
        source = "system resolver"
    shown = ", ".join(sorted(answers))
    if check.expect_addresses is not None and set(answers) != set(check.expect_addresses):
        raise CheckFailed(
            f"{name} -> {shown} ({source}), expected {', '.join(sorted(check.expect_addresses))}"
        )
    return CheckResult(True, f"{name} -> {shown} ({source})", duration=watch.elapsed)


async def _ask_system(check: DnsCheckConfig, name: str) -> set[str]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise CheckFailed(f"{name} does not resolve: {exc.strerror}") from exc
    return {str(info[4][0]) for info in infos}


async def _ask_nameserver(check: DnsCheckConfig, name: str) -> set[str]:
    import dns.asyncquery
    import dns.exception
    import dns.message
    import dns.rcode
    import dns.rdatatype

    assert check.nameserver is not None
    query = dns.message.make_query(name, check.record)
    try:
        response = await dns.asyncquery.udp(
            query, check.nameserver, port=check.nameserver_port, timeout=None
        )
    except (ConnectionRefusedError, OSError) as exc:
        raise CheckFailed(
            f"nameserver {check.nameserver}:{check.nameserver_port} unreachable: {exc}",
            reason="unreachable",
        ) from exc
    except dns.exception.DNSException as exc:
        raise CheckFailed(f"{name}: bad answer from {check.nameserver}: {exc}") from exc
    if response.rcode() != dns.rcode.NOERROR:
        code = dns.rcode.to_text(response.rcode())
        raise CheckFailed(f"{name} does not resolve at {check.nameserver}: {code}")
    wanted = dns.rdatatype.from_text(check.record)
    found = {
        item.to_text().rstrip(".")
        for rrset in response.answer
        if rrset.rdtype == wanted
        for item in rrset
    }
    if not found:
        raise CheckFailed(f"{name} has no {check.record} record at {check.nameserver}")
    return found
