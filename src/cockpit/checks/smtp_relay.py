"""The `smtp` check: the mail relay accepts us: EHLO, STARTTLS, login and a test message."""

from __future__ import annotations

import asyncio
import ssl

from cockpit.check_types import SmtpCheckConfig
from cockpit.checks.base import CheckContext, CheckFailed, CheckResult, Stopwatch


async def run(check: SmtpCheckConfig, ctx: CheckContext) -> CheckResult:
    password = ctx.secret(check.password_env, check.password_file, "password")
    host = ctx.fill(check.host)
    watch = Stopwatch()
    facts = await asyncio.to_thread(_converse, check, ctx, host, password)
    return CheckResult(True, f"{host}:{check.port}: " + "; ".join(facts), watch.elapsed)


def _converse(
    check: SmtpCheckConfig, ctx: CheckContext, host: str, password: str | None
) -> list[str]:
    import smtplib  # with the email package, loaded on first use, not at start-up
    from email.message import EmailMessage

    facts: list[str] = []
    try:
        with smtplib.SMTP(host, check.port, timeout=ctx.timeout) as smtp:
            code, _banner = smtp.ehlo()
            facts.append(f"EHLO {code}")
            if check.starttls:
                if not smtp.has_extn("starttls"):
                    raise CheckFailed(f"{host}:{check.port}: server does not offer STARTTLS")
                context = ssl.create_default_context(
                    cafile=str(ctx.path(check.ca_file)) if check.ca_file else None
                )
                smtp.starttls(context=context)
                smtp.ehlo()
                facts.append("STARTTLS ok")
            if check.username:
                smtp.login(check.username, password or "")
                facts.append(f"login as {check.username} ok")
            if check.send_to:
                message = EmailMessage()
                message["From"] = check.sender
                message["To"] = check.send_to
                message["Subject"] = f"cockpit test message ({ctx.env_name})"
                message.set_content("Sent by a cockpit smtp check. No action needed.")
                smtp.send_message(message)
                facts.append(f"test message to {check.send_to} accepted")
    except smtplib.SMTPAuthenticationError as exc:
        raise CheckFailed(f"{host}:{check.port}: login refused ({exc.smtp_code})") from exc
    except smtplib.SMTPException as exc:
        reason = "timeout" if "timed out" in str(exc) else None
        raise CheckFailed(f"{host}:{check.port}: {type(exc).__name__}: {exc}", reason) from exc
    except ssl.SSLError as exc:
        raise CheckFailed(f"{host}:{check.port}: STARTTLS failed: {exc.reason}") from exc
    except TimeoutError as exc:
        raise CheckFailed(f"{host}:{check.port}: no answer", reason="timeout") from exc
    except OSError as exc:
        raise CheckFailed(
            f"{host}:{check.port}: cannot connect: {exc.strerror or exc}", reason="unreachable"
        ) from exc
    return facts
