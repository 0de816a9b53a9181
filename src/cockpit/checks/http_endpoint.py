"""The `http` check: an HTTP(S) endpoint answers as expected (status, latency, headers, body)."""

from __future__ import annotations

import json
import ssl
from typing import TYPE_CHECKING, Any

from cockpit.check_types import HttpCheckConfig, parse_status_expectation
from cockpit.checks.base import CheckContext, CheckFailed, CheckResult, Stopwatch, ssl_context

if TYPE_CHECKING:  # httpx loads when the first http check runs, not at start-up
    import httpx


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


async def run(check: HttpCheckConfig, ctx: CheckContext) -> CheckResult:
    url = ctx.fill(check.url)
    headers = {k: ctx.fill(v) for k, v in check.request_headers.items()}
    token = ctx.secret(check.token_env, check.token_file, "token")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    verify: ssl.SSLContext | bool = ssl_context(check.ca_file, ctx) if check.verify_tls else False
    follow = check.follow_redirects and not check.expect_https_redirect
    import httpx

    watch = Stopwatch()
    try:
        async with httpx.AsyncClient(verify=verify, follow_redirects=follow) as client:
            response = await client.request(check.method, url, headers=headers)
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
    head = f"{check.method} {url} -> {response.status_code} in {latency:.0f} ms"
    problems: list[str] = []
    if check.expect_https_redirect:
        location = response.headers.get("location", "")
        if not (300 <= response.status_code < 400 and location.startswith("https://")):
            problems.append(f"expected a redirect to https://, got Location {location!r}")
    else:
        ranges = parse_status_expectation(check.expect_status)
        if not any(low <= response.status_code <= high for low, high in ranges):
            problems.append(f"status {response.status_code}, expected {check.expect_status}")
    if check.max_latency_ms is not None and latency > check.max_latency_ms:
        problems.append(f"slower than {check.max_latency_ms:.0f} ms")
    missing = [h for h in check.require_headers if h not in response.headers]
    if missing:
        problems.append("missing headers: " + ", ".join(missing))
    for name, expected in check.header_equals.items():
        actual = response.headers.get(name)
        if actual != expected:
            problems.append(f"header {name} is {actual!r}, expected {expected!r}")
    if check.body_contains is not None and check.body_contains not in response.text:
        problems.append(f"body does not contain {check.body_contains!r}")
    if check.json_field is not None:
        problems.extend(_check_json(check, response))
    if problems:
        raise CheckFailed(f"{head}: " + "; ".join(problems))
    checked = []
    if check.require_headers:
        checked.append(f"headers {', '.join(check.require_headers)} present")
    if check.json_field:
        checked.append(f"{check.json_field} = {check.json_equals!r}")
    tail = f"; {'; '.join(checked)}" if checked else ""
    return CheckResult(True, head + tail, duration=watch.elapsed)


def _check_json(check: HttpCheckConfig, response: httpx.Response) -> list[str]:
    assert check.json_field is not None
    try:
        document = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return ["body is not JSON"]
    try:
        value = _lookup(document, check.json_field)
    except KeyError:
        return [f"JSON has no field {check.json_field}"]
    if check.json_equals is not None and value != check.json_equals:
        return [f"{check.json_field} is {value!r}, expected {check.json_equals!r}"]
    return []
