"""The error feed: a real Bugsink receiving real sentry-sdk events, and Sentry API contract
tests against a local server answering with responses built from Sentry's documented fields
(no Sentry server can run here)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from cockpit.session import GoLiveSession
from cockpit.sources.errors import ErrorWatcher, SentryClient, TrackerError, next_cursor

from . import servers

# --- a real Bugsink ------------------------------------------------------------------------------

SAMPLE_APP = textwrap.dedent(
    """
    import sys, sentry_sdk
    dsn, release, message, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    sentry_sdk.init(dsn=dsn, release=release, environment="production")
    def handle_order():
        raise RuntimeError(message)
    for _ in range(count):
        try:
            handle_order()
        except RuntimeError as exc:
            sentry_sdk.capture_exception(exc)
    sentry_sdk.flush(10)
    """
)


@pytest.fixture(scope="module")
def bugsink(tmp_path_factory):
    with servers.bugsink_server(tmp_path_factory.mktemp("bugsink")) as running:
        yield running


def send(bugsink, release, message, count=1):
    subprocess.run(
        [sys.executable, "-c", SAMPLE_APP, bugsink.dsn, release, message, str(count)],
        check=True,
        timeout=60,
    )


def bugsink_config(tmp_path, bugsink, monkeypatch):
    monkeypatch.setenv("BUGSINK_TOKEN", bugsink.token)
    (tmp_path / "runbook.md").write_text("## S\n- [ ] x\n")
    path = tmp_path / "cockpit.toml"
    path.write_text(
        f"""
checklist = "runbook.md"
[environments.production]
[environments.production.errors]
provider = "bugsink"
url = "{bugsink.url}"
project = "{bugsink.project}"
token_env = "BUGSINK_TOKEN"
spike_min_events = 20
"""
    )
    return path


def api(bugsink):
    return httpx.Client(
        base_url=f"{bugsink.url}/api/canonical/0",
        headers={"Authorization": f"Bearer {bugsink.token}"},
        timeout=10,
    )


def test_bugsink_feed_new_issue_regression_and_spike(bugsink, tmp_path, monkeypatch, operator):
    # before the go-live: an old issue, fixed in release 1.9
    send(bugsink, "1.9.0", "old cache bug", 2)
    client = api(bugsink)
    old = client.get("/issues/", params={"project": bugsink.project}).json()["results"][0]
    assert client.post(f"/issues/{old['id']}/resolve-latest/").status_code in (200, 204)
    path = bugsink_config(tmp_path, bugsink, monkeypatch)
    session = GoLiveSession.open(path, None, operator=operator)
    session.start_release("2.0.0")  # the go-live starts: first audit entry
    started = session.go_live_started()
    time.sleep(1.1)
    watcher = ErrorWatcher(session, lambda _f: None, started=started)
    first = watcher.poll()
    assert not first.stale, first.last_error
    assert first.spike is not None and not first.spike.spiking
    # release 2.0 breaks something new and brings the old bug back
    send(bugsink, "2.0.0", "payment gateway timeout", 1)
    send(bugsink, "2.0.0", "old cache bug", 1)
    feed = watcher.poll()  # within one poll of the events being sent
    by_title = {i.title: i for i in feed.issues}
    new = by_title["RuntimeError: payment gateway timeout"]
    assert new.badge == "NEW"
    assert new.short_id.startswith("SERVICEDESK-")
    assert new.permalink.startswith(bugsink.url)
    assert by_title["RuntimeError: old cache bug"].badge == "REGRESSED"
    assert session.verdict([], [], feed).state == "GO"  # no spike yet
    # a spike: many events at once
    send(bugsink, "2.0.0", "payment gateway timeout", 30)
    feed = watcher.poll()
    assert feed.spike.spiking, feed.spike.reason
    assert feed.spike.current >= 30
    result = session.verdict([], [], feed)
    assert result.state == "NO-GO"
    assert any(r.startswith("errors spike:") for r in result.reasons)
    assert bugsink.token not in json.dumps([r for r in result.reasons])


def test_bugsink_bad_token_is_named(bugsink, tmp_path, monkeypatch, operator):
    path = bugsink_config(tmp_path, bugsink, monkeypatch)
    monkeypatch.setenv("BUGSINK_TOKEN", "not-a-token")
    session = GoLiveSession.open(path, None, operator=operator)
    feed = ErrorWatcher(session, lambda _f: None).poll()
    assert feed.stale
    assert "Bugsink refused the token (401)" in feed.last_error
    assert session.verdict([], [], feed).state == "PENDING"


# --- Sentry contract tests ------------------------------------------------------------------------


def issue(n, *, first_seen, release_short="SHOP"):
    return {
        "id": str(1000 + n),
        "shortId": f"{release_short}-{n}",
        "title": f"Error number {n}",
        "culprit": f"shop.views.handler_{n}",
        "level": "error",
        "status": "unresolved",
        "count": str(10 * n),
        "userCount": n,
        "firstSeen": first_seen.isoformat().replace("+00:00", "Z"),
        "lastSeen": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "permalink": f"https://sentry.example.com/organizations/acme/issues/{1000 + n}/",
        "project": {"id": "42", "slug": "shop"},
        "isUnhandled": True,
    }


class FakeSentry(BaseHTTPRequestHandler):
    """Answers like Sentry's documented API; `mode` picks the behaviour under test."""

    mode = "pages"
    seen: list[tuple[str, str]] = []
    posted: list[dict] = []
    reset_at = 0.0

    def log_message(self, *args):
        return

    def _send(self, status, body, headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        FakeSentry.seen.append((self.path, self.headers.get("Authorization", "")))
        mode = FakeSentry.mode
        if self.headers.get("Authorization") != "Bearer sntrys_test_token":
            return self._send(401, {"detail": "Invalid token"})
        if mode == "403":
            return self._send(403, {"detail": "You do not have permission"})
        if mode == "429" and time.time() < FakeSentry.reset_at:
            return self._send(
                429,
                {"detail": "rate limited"},
                {
                    "X-Sentry-Rate-Limit-Reset": f"{FakeSentry.reset_at:.0f}",
                    "X-Sentry-Rate-Limit-Remaining": "0",
                },
            )
        if mode == "garbage":
            return self._send(200, b"<html>not json</html>")
        if "events-stats" in self.path:
            now = int(time.time())
            data = [[now - 300 * k, [{"count": 2}]] for k in range(12, 0, -1)]
            data.append([now, [{"count": 40 if mode == "spike" else 1}]])
            return self._send(200, {"data": data})
        if mode == "empty":
            return self._send(
                200,
                [],
                {
                    "Link": '<x>; rel="previous"; results="false"; cursor="0:0:1", '
                    '<x>; rel="next"; results="false"; cursor="0:100:0"'
                },
            )
        started = datetime.now(UTC) - timedelta(minutes=30)
        page = 2 if "cursor=0%3A100%3A0" in self.path or "cursor=0:100:0" in self.path else 1
        if "is%3Aregressed" in self.path or "is:regressed" in self.path:
            return self._send(
                200,
                [issue(9, first_seen=started - timedelta(days=30))],
                {"Link": '<x>; rel="next"; results="false"; cursor="0:100:0"'},
            )
        if page == 1:
            body = [issue(n, first_seen=started + timedelta(minutes=5)) for n in (1, 2)]
            link = (
                '<x>; rel="previous"; results="false"; cursor="0:0:1", '
                '<x>; rel="next"; results="true"; cursor="0:100:0"'
            )
        else:
            body = [issue(3, first_seen=started - timedelta(days=2))]
            link = (
                '<x>; rel="previous"; results="true"; cursor="0:0:1", '
                '<x>; rel="next"; results="false"; cursor="0:200:0"'
            )
        return self._send(200, body, {"Link": link})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        FakeSentry.posted.append(json.loads(self.rfile.read(length)))
        self._send(201, {"id": "1", "environment": "production"})


@pytest.fixture
def sentry(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSentry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeSentry.mode = "pages"
    FakeSentry.seen = []
    FakeSentry.posted = []
    monkeypatch.setenv("SENTRY_TOKEN", "sntrys_test_token")
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def sentry_session(tmp_path, url, operator, **errors):
    (tmp_path / "runbook.md").write_text("## S\n- [ ] x\n")
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in errors.items())
    (tmp_path / "cockpit.toml").write_text(
        f"""
checklist = "runbook.md"
[environments.production]
[environments.production.placeholders]
version = "2.0.0"
[environments.production.errors]
provider = "sentry"
url = "{url}"
org = "acme"
project = "42"
token_env = "SENTRY_TOKEN"
{extra}"""
    )
    return GoLiveSession.open(tmp_path / "cockpit.toml", None, operator=operator)


def test_link_header_cursor_rules():
    assert next_cursor('<a>; rel="next"; results="true"; cursor="0:100:0"') == "0:100:0"
    assert next_cursor('<a>; rel="next"; results="false"; cursor="0:100:0"') is None
    assert next_cursor("") is None


def test_sentry_pages_badges_and_spike(sentry, tmp_path, operator):
    session = sentry_session(tmp_path, sentry, operator)
    started = datetime.now(UTC) - timedelta(minutes=30)
    feed = ErrorWatcher(session, lambda _f: None, started=started).poll()
    assert not feed.stale, feed.last_error
    by_id = {i.short_id: i for i in feed.issues}
    assert by_id["SHOP-1"].badge == "NEW" and by_id["SHOP-2"].badge == "NEW"
    assert by_id["SHOP-9"].badge == "REGRESSED"
    assert by_id["SHOP-3"].badge == "NEW"  # firstRelease:2.0.0 says this release introduced it
    assert by_id["SHOP-1"].count == 10 and by_id["SHOP-1"].users == 1
    listing = [p for p, _ in FakeSentry.seen if "/issues/" in p]
    assert any("cursor=0%3A100%3A0" in p or "cursor=0:100:0" in p for p in listing)
    assert all("project=42" in p and "environment=production" in p for p in listing)
    assert any("firstRelease%3A2.0.0" in p or "firstRelease:2.0.0" in p for p in listing)
    assert feed.spike is not None and not feed.spike.spiking
    FakeSentry.mode = "spike"
    spiking = ErrorWatcher(session, lambda _f: None, started=started).poll()
    assert spiking.spike.spiking
    assert "40 events in 5m" in spiking.spike.reason


def test_sentry_pagination_is_bounded(sentry, tmp_path, operator):
    session = sentry_session(tmp_path, sentry, operator, max_pages=1)
    ErrorWatcher(session, lambda _f: None).poll()
    pages = [p for p, _ in FakeSentry.seen if "/issues/" in p and "is%3Aunresolved&" in p]
    assert all("cursor=" not in p for p in pages)


def test_sentry_429_waits_until_reset_then_succeeds(sentry, tmp_path, operator):
    session = sentry_session(tmp_path, sentry, operator)
    FakeSentry.mode = "429"
    FakeSentry.reset_at = float(int(time.time()) + 2)  # Sentry announces whole seconds
    slept = []
    client = SentryClient(
        session.environment.errors,
        "sntrys_test_token",
        "production",
        sleep=lambda s: (slept.append(s), time.sleep(s)),
    )
    issues = client.issues("is:unresolved")
    assert slept and 0 < slept[0] <= 2.5
    assert issues  # the retry after the reset succeeded
    FakeSentry.reset_at = float(int(time.time()) + 3600)
    with pytest.raises(TrackerError, match="rate limit reached") as caught:
        client.issues("is:unresolved")
    assert caught.value.retry_at == pytest.approx(FakeSentry.reset_at, abs=1)


def test_sentry_refusals_name_what_is_missing(sentry, tmp_path, operator, monkeypatch):
    session = sentry_session(tmp_path, sentry, operator)
    FakeSentry.mode = "403"
    feed = ErrorWatcher(session, lambda _f: None).poll()
    assert "needs the scope event:read" in feed.last_error
    FakeSentry.mode = "pages"
    monkeypatch.setenv("SENTRY_TOKEN", "wrong")
    feed = ErrorWatcher(session, lambda _f: None).poll()
    assert "refused the token (401)" in feed.last_error
    assert "wrong" not in feed.last_error


def test_sentry_garbage_and_empty(sentry, tmp_path, operator):
    session = sentry_session(tmp_path, sentry, operator)
    FakeSentry.mode = "garbage"
    feed = ErrorWatcher(session, lambda _f: None).poll()
    assert feed.stale and "not JSON" in feed.last_error
    FakeSentry.mode = "empty"
    feed = ErrorWatcher(session, lambda _f: None).poll()
    assert not feed.stale and feed.issues == ()


def test_release_start_creates_the_deploy_marker(sentry, tmp_path, operator):
    session = sentry_session(tmp_path, sentry, operator)
    message = session.start_release("2.0.1")
    assert "deploy marker created" in message
    assert FakeSentry.posted == [{"environment": "production"}]
    actions = [e.action for e in session.audit.entries()]
    assert actions == ["release_start", "deploy_marker"]
    assert session.release_version() == "2.0.1"


# --- the cockpit's own crash reports ----------------------------------------------------------


class Envelopes(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def log_message(self, *args):
        return

    def do_POST(self):
        data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            data = gzip.decompress(data)
        elif encoding == "deflate":
            data = zlib.decompress(data)
        elif encoding == "br":
            import brotli  # sentry-sdk only uses br when brotli is installed

            data = brotli.decompress(data)
        Envelopes.bodies.append(data)
        self.send_response(200)
        self.end_headers()


def test_no_secret_leaves_in_a_crash_report(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Envelopes)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dsn = f"http://publickey@127.0.0.1:{server.server_address[1]}/1"
    canary = "canary-Secret-4242-do-not-leak"
    (tmp_path / "runbook.md").write_text("## S\n- [ ] x\n")
    (tmp_path / "cockpit.toml").write_text(
        'checklist = "runbook.md"\n[telemetry]\nsentry_dsn_env = "COCKPIT_DSN"\n'
        "[environments.production]\n[environments.production.prometheus]\n"
        'url = "https://prom.example.com"\ntoken_env = "PROM_TOKEN"\n'
    )
    script = textwrap.dedent(
        f"""
        from cockpit.config import load_config
        from cockpit import telemetry
        loaded = load_config({str(tmp_path / "cockpit.toml")!r})
        assert telemetry.install(loaded)
        token = {canary!r}
        try:
            raise RuntimeError("request failed with Authorization: Bearer " + token)
        except RuntimeError as exc:
            telemetry.report_crash(exc)
        """
    )
    env = {**dict(__import__("os").environ), "COCKPIT_DSN": dsn, "PROM_TOKEN": canary}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
    server.shutdown()
    sent = b"".join(Envelopes.bodies)
    assert b"request failed with Authorization: Bearer ***" in sent
    assert canary.encode() not in sent
    assert b"publickey" not in sent.split(b"\n", 1)[1]  # the DSN's key is not in the event


def test_errors_check_type_against_the_sentry_api(sentry, tmp_path, operator):
    """The `errors` check: new issues since the go-live and a spike both fail it."""
    import asyncio

    from cockpit.checks import CheckContext, run_check
    from cockpit.checks.errors import ErrorsCheck
    from cockpit.checks.runner import BoundCheck

    session = sentry_session(tmp_path, sentry, operator)
    started = datetime.now(UTC) - timedelta(minutes=30)

    def run(**fields):
        ctx = CheckContext(session.config, session.env_name, started=started)
        bound = BoundCheck(0, "s/x", ErrorsCheck(**fields), 30)
        return asyncio.run(run_check(bound, ctx))

    new = run()
    assert not new.passed
    assert "new issue(s) (at most 0)" in new.evidence and "SHOP-1" in new.evidence
    tolerated = run(max_new_issues=10)
    assert tolerated.passed, tolerated.evidence
    assert "events in 5m" in tolerated.evidence
    FakeSentry.mode = "spike"
    spiking = run(max_new_issues=10)
    assert not spiking.passed and "spike:" in spiking.evidence
    FakeSentry.mode = "403"
    refused = run(max_new_issues=10)
    assert refused.reason == "unreachable" and "event:read" in refused.evidence
