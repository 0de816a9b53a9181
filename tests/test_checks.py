"""Every check type against real servers on 127.0.0.1: a pass, a fail, a timeout, unreachable.

PostgreSQL, Redis and Prometheus are the Debian servers; HTTP(S), DNS and SMTP are real
servers run in this process (Python's http.server with certificates made here, a UDP DNS
responder built with dnspython, aiosmtpd). Nothing here is mocked.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from cockpit.checks import CheckContext, CheckResult, run_check
from cockpit.config import load_config

from . import servers

# --- session-wide servers -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def web(tmp_path_factory):
    with servers.http_servers(tmp_path_factory.mktemp("pki")) as running:
        yield running


@pytest.fixture(scope="session")
def stall():
    stalled = servers.Stall()
    yield stalled
    stalled.close()


@pytest.fixture(scope="session")
def blackhole():
    hole = servers.Blackhole()
    yield hole
    hole.close()


@pytest.fixture(scope="session")
def postgres():
    with servers.postgres_server() as running:
        yield running


@pytest.fixture(scope="session")
def redis_srv():
    with servers.redis_server() as running:
        yield running


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory):
    now = int(time.time())
    lines = ["# TYPE cockpit_error_ratio gauge"]
    for ts in range(now - 1800, now + 3600, 15):
        lines.append(f'cockpit_error_ratio{{env="good"}} 0.0004 {ts}')
        lines.append(f'cockpit_error_ratio{{env="bad"}} 0.02 {ts}')
        lines.append(f'cockpit_error_ratio{{env="idle"}} NaN {ts}')
    lines.append("# EOF")
    with servers.prometheus_server(tmp_path_factory.mktemp("prom"), "\n".join(lines) + "\n") as p:
        yield p


@pytest.fixture(scope="session")
def smtp_srv():
    from aiosmtpd.controller import Controller

    class Collect:
        def __init__(self) -> None:
            self.messages: list[tuple[str, list[str]]] = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos)))
            return "250 OK"

    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=servers.free_port())
    controller.start()
    yield controller, handler
    controller.stop()


@pytest.fixture
def free_port():
    return servers.free_port()


# --- running one check as the cockpit would -------------------------------------------------------


def assert_timeout(result: CheckResult, limit: float) -> None:
    assert not result.passed
    assert result.reason == "timeout", result
    assert result.duration < limit + 3, result.duration


# --- http ---------------------------------------------------------------------------------------


def test_http_pass_with_headers_and_json(run, web):
    base = f"https://localhost:{web.https_port}"
    ok = run(
        "http",
        url=f"{base}/login",
        ca_file=str(web.pki.ca_file),
        require_headers=["Strict-Transport-Security", "Content-Security-Policy", "X-Frame-Options"],
        body_contains="Sign in",
        max_latency_ms=2000,
    )
    assert ok.passed, ok.evidence
    assert f"GET {base}/login -> 200" in ok.evidence
    health = run(
        "http",
        url=f"{base}/health",
        ca_file=str(web.pki.ca_file),
        json_field="checks.db",
        json_equals="up",
    )
    assert health.passed, health.evidence


def test_http_failures_say_what_was_wrong(run, web):
    plain = f"http://127.0.0.1:{web.http_port}"
    bare = run("http", url=f"{plain}/bare", require_headers=["Strict-Transport-Security"])
    assert not bare.passed
    assert "missing headers: Strict-Transport-Security" in bare.evidence
    down = run("http", url=f"{plain}/down")
    assert "status 503, expected 200-299" in down.evidence
    degraded = run("http", url=f"{plain}/health-degraded", json_field="status", json_equals="ok")
    assert "status is 'degraded', expected 'ok'" in degraded.evidence
    redirect_ok = run("http", url=f"{plain}/to-https", expect_https_redirect=True)
    assert redirect_ok.passed, redirect_ok.evidence
    redirect_bad = run("http", url=f"{plain}/to-http", expect_https_redirect=True)
    assert "expected a redirect to https://" in redirect_bad.evidence


def test_http_tls_problems(run, web):
    untrusted = run("http", url=f"https://localhost:{web.https_port}/health")
    assert not untrusted.passed
    assert "certificate does not verify" in untrusted.evidence
    wrong = run(
        "http", url=f"https://localhost:{web.wrong_name_port}/health", ca_file=str(web.pki.ca_file)
    )
    assert "certificate does not verify" in wrong.evidence
    assert "mismatch" in wrong.evidence or "match" in wrong.evidence


def test_http_timeout_and_unreachable(run, web, stall, free_port):
    slow = run("http", url=f"http://127.0.0.1:{web.http_port}/slow", timeout=1)
    assert_timeout(slow, 1)
    stalled = run("http", url=f"http://127.0.0.1:{stall.port}/", timeout=1)
    assert_timeout(stalled, 1)
    gone = run("http", url=f"http://127.0.0.1:{free_port}/")
    assert not gone.passed
    assert gone.reason == "unreachable"


def test_http_bearer_token_is_sent_and_never_shown(run, web, monkeypatch):
    monkeypatch.setenv("TEST_HTTP_TOKEN", "tok-Secret-1234-canary")
    ok = run("http", url=f"http://127.0.0.1:{web.http_port}/auth", token_env="TEST_HTTP_TOKEN")
    assert ok.passed, ok.evidence  # the server answers 200 only to this bearer token
    # an address that shows the request (a path the server does not know: 404 echoed back)
    # and a failure: the token is in neither result, whatever the check reports
    failed = run(
        "http",
        url=f"http://127.0.0.1:{web.http_port}/tok-Secret-1234-canary",
        token_env="TEST_HTTP_TOKEN",
    )
    assert not failed.passed
    for result in (ok, failed):
        assert "tok-Secret-1234-canary" not in repr(result)
    monkeypatch.delenv("TEST_HTTP_TOKEN")
    missing = run("http", url=f"http://127.0.0.1:{web.http_port}/auth", token_env="TEST_HTTP_TOKEN")
    assert not missing.passed
    assert "environment variable TEST_HTTP_TOKEN is not set" in missing.evidence


# --- tls ----------------------------------------------------------------------------------------


def test_tls_pass_expiring_wrong_name(run, web):
    ca = str(web.pki.ca_file)
    ok = run("tls", host="localhost", port=web.https_port, ca_file=ca, min_days_valid=30)
    assert ok.passed, ok.evidence
    assert "chain and name verify" in ok.evidence
    soon = run("tls", host="localhost", port=web.expiring_port, ca_file=ca, min_days_valid=14)
    assert not soon.passed
    assert "fewer than 14 days left" in soon.evidence
    wrong = run("tls", host="localhost", port=web.wrong_name_port, ca_file=ca)
    assert not wrong.passed
    assert "certificate does not verify" in wrong.evidence
    untrusted = run("tls", host="localhost", port=web.https_port)
    assert "certificate does not verify" in untrusted.evidence


def test_tls_timeout_and_unreachable(run, stall, free_port):
    assert_timeout(run("tls", host="127.0.0.1", port=stall.port, timeout=1), 1)
    gone = run("tls", host="127.0.0.1", port=free_port)
    assert gone.reason == "unreachable"


# --- dns ----------------------------------------------------------------------------------------


def test_dns_pass_fail_timeout_unreachable(run, free_port):
    records = {"app.test.": "127.0.0.9"}
    with servers.dns_server(records) as port:
        common = {"nameserver": "127.0.0.1", "nameserver_port": port}
        ok = run("dns", name="app.test", expect_addresses=["127.0.0.9"], **common)
        assert ok.passed, ok.evidence
        assert "app.test -> 127.0.0.9 (@127.0.0.1)" in ok.evidence
        wrong = run("dns", name="app.test", expect_addresses=["10.9.9.9"], **common)
        assert not wrong.passed
        assert "expected 10.9.9.9" in wrong.evidence
        missing = run("dns", name="nope.test", **common)
        assert "NXDOMAIN" in missing.evidence
    silent = servers.Stall()  # a TCP port: UDP to it gets no answer at all
    try:
        import socket

        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        quiet = run(
            "dns",
            name="app.test",
            nameserver="127.0.0.1",
            nameserver_port=udp.getsockname()[1],
            timeout=1,
        )
        assert_timeout(quiet, 1)
        udp.close()
    finally:
        silent.close()
    closed = run(
        "dns", name="app.test", nameserver="127.0.0.1", nameserver_port=free_port, timeout=2
    )
    assert not closed.passed
    assert closed.reason in ("unreachable", "timeout")


def test_dns_with_the_system_resolver(run, loopback_only_dns):
    ok = run("dns", name="localhost")  # /etc/hosts: no query leaves the machine
    assert ok.passed, ok.evidence
    assert "127.0.0.1" in ok.evidence
    bad = run("dns", name="does-not-exist.invalid")  # refused here, as a resolver would
    assert not bad.passed
    assert "does-not-exist.invalid does not resolve: Name or service not known" in bad.evidence
    assert loopback_only_dns == ["does-not-exist.invalid"]


# --- tcp ----------------------------------------------------------------------------------------


def test_tcp_pass_timeout_unreachable(run, web, blackhole, free_port):
    ok = run("tcp", host="127.0.0.1", port=web.http_port)
    assert ok.passed
    assert "accepted a connection" in ok.evidence
    assert_timeout(run("tcp", host="127.0.0.1", port=blackhole.port, timeout=1), 1)
    refused = run("tcp", host="127.0.0.1", port=free_port)
    assert refused.reason == "unreachable"


# --- command ------------------------------------------------------------------------------------


def test_command_pass_and_fail(run):
    ok = run("command", argv=["sh", "-c", "echo all good"])
    assert ok.passed
    assert "exit 0" in ok.evidence and "all good" in ok.evidence
    bad = run("command", argv=["sh", "-c", "echo broken >&2; exit 3"], output_lines=5)
    assert not bad.passed
    assert "exit 3" in bad.evidence and "(expected exit 0)" in bad.evidence
    assert bad.details == ("broken",)
    shell = run("command", command="echo one | tr a-z A-Z", shell=True)
    assert "ONE" in shell.evidence


def test_command_timeout_kills_the_whole_process_group(run, tmp_path):
    marker = tmp_path / "grandchild.pid"
    result = run(
        "command",
        argv=["sh", "-c", f"sleep 60 & echo $! > {marker}; wait"],
        timeout=1,
    )
    assert_timeout(result, 1)
    assert "killed after 1 s (timeout), with its process group" in result.evidence
    grandchild = int(marker.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(f"/proc/{grandchild}").exists():
        state = Path(f"/proc/{grandchild}/stat").read_text().split()[2]
        if state == "Z":
            break
        time.sleep(0.05)
    alive = Path(f"/proc/{grandchild}").exists() and (
        Path(f"/proc/{grandchild}/stat").read_text().split()[2] != "Z"
    )
    assert not alive, "the background child survived the timeout"


def test_command_not_found_is_a_clear_failure(run):
    gone = run("command", argv=["/nonexistent/bin/tool", "--version"])
    assert not gone.passed
    assert "command not found" in gone.evidence


def test_command_needs_explicit_shell(tmp_path):
    from cockpit.errors import ConfigError

    (tmp_path / "runbook.md").write_text("## S\n- [ ] The item\n")
    (tmp_path / "c.toml").write_text(
        'checklist = "runbook.md"\n[environments.t]\n[[checks]]\nitem = "The item"\n'
        'type = "command"\ncommand = "ls | wc -l"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "c.toml")
    assert "write shell = true" in caught.value.render()


# --- postgres -----------------------------------------------------------------------------------


def test_postgres_pass_fail_timeout_unreachable(run, postgres, stall, monkeypatch, free_port):
    monkeypatch.setenv("TEST_PG_DSN", postgres.dsn)
    ok = run("postgres", dsn_env="TEST_PG_DSN", min_version=13, query="SELECT 1", max_query_ms=5000)
    assert ok.passed, ok.evidence
    assert "PostgreSQL" in ok.evidence and "query took" in ok.evidence
    assert postgres.password not in ok.evidence
    replicas = run("postgres", dsn_env="TEST_PG_DSN", min_streaming_replicas=1)
    assert not replicas.passed
    assert "0 streaming replica(s), expected at least 1" in replicas.evidence
    newer = run("postgres", dsn_env="TEST_PG_DSN", min_version=99)
    assert "older than 99" in newer.evidence
    slow = run("postgres", dsn_env="TEST_PG_DSN", query="SELECT pg_sleep(10)", timeout=1)
    assert_timeout(slow, 1)
    monkeypatch.setenv("TEST_PG_DSN", postgres.dsn.replace(postgres.password, "wrong-password"))
    denied = run("postgres", dsn_env="TEST_PG_DSN")
    assert not denied.passed
    assert "password authentication failed" in denied.evidence
    monkeypatch.setenv("TEST_PG_DSN", f"postgresql://cockpit:x@127.0.0.1:{free_port}/postgres")
    gone = run("postgres", dsn_env="TEST_PG_DSN")
    assert gone.reason == "unreachable"
    monkeypatch.setenv("TEST_PG_DSN", f"postgresql://cockpit:x@127.0.0.1:{stall.port}/postgres")
    assert_timeout(run("postgres", dsn_env="TEST_PG_DSN", timeout=1), 1)


# --- redis --------------------------------------------------------------------------------------


def test_redis_pass_fail_timeout_unreachable(run, redis_srv, stall, monkeypatch, free_port):
    monkeypatch.setenv("TEST_REDIS_PASSWORD", redis_srv.password)
    url = f"redis://127.0.0.1:{redis_srv.port}/0"
    ok = run("redis", url=url, password_env="TEST_REDIS_PASSWORD", min_version="6.0", role="master")
    assert ok.passed, ok.evidence
    assert "PONG; Redis" in ok.evidence
    replicas = run("redis", url=url, password_env="TEST_REDIS_PASSWORD", min_connected_replicas=1)
    assert "expected at least 1" in replicas.evidence
    monkeypatch.setenv("TEST_REDIS_PASSWORD", "wrong")
    denied = run("redis", url=url, password_env="TEST_REDIS_PASSWORD")
    assert not denied.passed
    assert redis_srv.password not in denied.evidence
    assert_timeout(run("redis", url=f"redis://127.0.0.1:{stall.port}/0", timeout=1), 1)
    gone = run("redis", url=f"redis://127.0.0.1:{free_port}/0")
    assert gone.reason == "unreachable"


def test_redis_url_must_not_carry_the_password(tmp_path):
    from cockpit.errors import ConfigError

    (tmp_path / "runbook.md").write_text("## S\n- [ ] The item\n")
    (tmp_path / "c.toml").write_text(
        'checklist = "runbook.md"\n[environments.t]\n[[checks]]\nitem = "The item"\n'
        'type = "redis"\nurl = "redis://:hunter2@127.0.0.1:6379/0"\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "c.toml")
    assert "hunter2" not in caught.value.render()
    assert "password_env or password_file" in caught.value.render()


# --- smtp ---------------------------------------------------------------------------------------


def test_smtp_pass_fail_timeout_unreachable(run, smtp_srv, stall, free_port):
    controller, handler = smtp_srv
    ok = run(
        "smtp",
        host="127.0.0.1",
        port=controller.port,
        send_to="ops@example.com",
        sender="cockpit@example.com",
    )
    assert ok.passed, ok.evidence
    assert "test message to ops@example.com accepted" in ok.evidence
    assert ("cockpit@example.com", ["ops@example.com"]) in handler.messages
    no_tls = run("smtp", host="127.0.0.1", port=controller.port, starttls=True)
    assert not no_tls.passed
    assert "does not offer STARTTLS" in no_tls.evidence
    assert_timeout(run("smtp", host="127.0.0.1", port=stall.port, timeout=1), 1)
    gone = run("smtp", host="127.0.0.1", port=free_port)
    assert gone.reason == "unreachable"


# --- prometheus ---------------------------------------------------------------------------------


def test_prometheus_pass_fail_nodata_timeout_unreachable(run, prometheus, stall, free_port):
    env = {"prometheus": {"url": f"http://127.0.0.1:{prometheus}", "timeout": 5}}
    ok = run("prometheus", env=env, query='cockpit_error_ratio{env="good"}', condition="< 0.001")
    assert ok.passed, ok.evidence
    assert "= 0.0004 (must be < 0.001)" in ok.evidence
    bad = run("prometheus", env=env, query='cockpit_error_ratio{env="bad"}', condition="< 0.001")
    assert not bad.passed
    assert "0.02" in bad.evidence
    nan = run("prometheus", env=env, query='cockpit_error_ratio{env="idle"}', condition="< 0.001")
    assert not nan.passed
    assert "NaN (no data)" in nan.evidence
    allowed = run("prometheus", env=env, query="no_such_metric", condition="< 1", no_data="pass")
    assert allowed.passed
    assert "no data" in allowed.evidence
    broken = run("prometheus", env=env, query="sum(", condition="< 1")
    assert not broken.passed
    assert "bad_data" in broken.evidence or "parse error" in broken.evidence
    stalled = {"prometheus": {"url": f"http://127.0.0.1:{stall.port}", "timeout": 1}}
    assert_timeout(run("prometheus", env=stalled, query="up", condition="> 0", timeout=1), 1)
    gone = {"prometheus": {"url": f"http://127.0.0.1:{free_port}"}}
    result = run("prometheus", env=gone, query="up", condition="> 0")
    assert result.reason == "unreachable"


def test_prometheus_every_series_counts_and_is_named_by_its_labels(run, prometheus):
    env = {"prometheus": {"url": f"http://127.0.0.1:{prometheus}", "timeout": 5}}
    mixed = run(
        "prometheus", env=env, query='cockpit_error_ratio{env=~"good|idle"}', condition="< 0.001"
    )
    assert not mixed.passed  # a NaN series beside a good one is no data, not a pass
    assert 'NaN (no data) for cockpit_error_ratio{env="idle"}' in mixed.evidence
    tolerated = run(
        "prometheus",
        env=env,
        query='cockpit_error_ratio{env=~"good|idle"}',
        condition="< 0.001",
        no_data="pass",
    )
    assert tolerated.passed, tolerated.evidence
    assert 'cockpit_error_ratio{env="good"} = 0.0004' in tolerated.evidence
    one_bad = run(
        "prometheus", env=env, query='cockpit_error_ratio{env=~"good|bad"}', condition="< 0.001"
    )
    assert not one_bad.passed
    assert '1 of 2 series not < 0.001: cockpit_error_ratio{env="bad"} = 0.02' in one_bad.evidence
    summed = run(
        "prometheus", env=env, query='sum(cockpit_error_ratio{env="good"})', condition="< 1"
    )
    assert summed.passed and "{} = 0.0004" in summed.evidence  # no labels: PromQL's {}


# --- secrets never leave ------------------------------------------------------------------------


def test_the_runner_scrubs_every_secret_a_check_read(tmp_path, monkeypatch):
    from typing import Literal

    from cockpit.check_types import CheckConfig
    from cockpit.checks.runner import BoundCheck

    class Blabbermouth(CheckConfig):
        type: Literal["test-blabbermouth"] = "test-blabbermouth"
        token_env: str

    async def blab(check, ctx):
        token = ctx.secret(check.token_env, None, "token")
        return CheckResult(False, f"server said: bad token {token}", details=(f"> {token}",))

    monkeypatch.setenv("LEAKY", "leaky-Secret-9999-canary")
    (tmp_path / "runbook.md").write_text("## S\n- [ ] The item\n")
    (tmp_path / "c.toml").write_text('checklist = "runbook.md"\n[environments.t]\n')
    loaded = load_config(tmp_path / "c.toml")
    bound = BoundCheck(0, "s/the-item", Blabbermouth(item="x", token_env="LEAKY"), 5, blab)
    result = asyncio.run(run_check(bound, CheckContext(loaded, "t")))
    assert "leaky-Secret-9999-canary" not in result.evidence
    assert result.evidence == "server said: bad token ***"
    assert result.details == ("> ***",)
