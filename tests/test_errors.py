"""The error feed: a real Bugsink receiving real sentry-sdk events, and Sentry API contract
tests against a local server answering with responses built from Sentry's documented fields
(no Sentry server can run here)."""

from __future__ import annotations

import gzip
import json
import math
import re
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

from cockpit.errors import CockpitError
from cockpit.session import GoLiveSession
from cockpit.sources.errors import (
    ErrorIssue,
    ErrorWatcher,
    SentryClient,
    TrackerError,
    next_cursor,
)

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
    watcher = ErrorWatcher(
        session.check_context(), lambda _f: None, release=session.release_version, started=started
    )
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


def test_bugsink_regressed_means_regressed_since_the_go_live(
    bugsink, tmp_path, monkeypatch, operator
):
    """Both resolve flavours (plain Resolve, and resolved in a release) regress as Bugsink
    defines it; an issue that regressed before the go-live is not shown REGRESSED after."""
    client = api(bugsink)

    def find(message):
        listing = client.get("/issues/", params={"project": bugsink.project}).json()["results"]
        return next(i for i in listing if i["calculated_value"] == message)

    send(bugsink, "1.8.0", "plain resolved bug", 1)
    assert client.post(f"/issues/{find('plain resolved bug')['id']}/resolve/").status_code < 300
    send(bugsink, "1.8.0", "regressed last week", 1)
    assert client.post(f"/issues/{find('regressed last week')['id']}/resolve/").status_code < 300
    send(bugsink, "1.8.0", "regressed last week", 1)  # regresses before the go-live
    path = bugsink_config(tmp_path, bugsink, monkeypatch)
    session = GoLiveSession.open(path, None, operator=operator)
    session.start_release("2.1.0")
    time.sleep(1.1)
    watcher = ErrorWatcher(
        session.check_context(),
        lambda _f: None,
        release=session.release_version,
        started=session.go_live_started(),
    )
    send(bugsink, "2.1.0", "plain resolved bug", 1)
    send(bugsink, "2.1.0", "regressed last week", 1)
    by_title = {i.title: i for i in watcher.poll().issues}
    assert by_title["RuntimeError: plain resolved bug"].badge == "REGRESSED"
    assert by_title["RuntimeError: regressed last week"].badge == ""
    before = watcher.feed.requests
    watcher.poll()  # no new events: the histories are not asked again
    assert watcher.feed.requests - before == 2  # the issue list and the project's count


def test_regression_reads_stay_bounded_however_many_issues_are_active():
    """Issues new to the list (or never read) seen since the go-live: the most recent first,
    at most FRESH_READS a poll; then, of those listed all along with new events, the
    HISTORY_REFRESHES asked longest ago; never one seen only before, nor one known to have
    regressed since the start (that cannot become false)."""
    from cockpit.sources.errors import FRESH_READS, HISTORY_REFRESHES, histories_to_read

    started = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    seen = started + timedelta(minutes=5)

    def one(n, last_seen=seen):
        return ErrorIssue(str(n), f"B-{n}", "t", "", "error", 1, None, None, last_seen, None)

    busy = [one(n) for n in range(20)]  # listed all along, each with new events
    known = {str(n): (started + timedelta(seconds=n), None) for n in range(20)}
    known["7"] = (None, None)  # listed before but never read (deferred): as a new one
    known["8"] = (started, started + timedelta(seconds=1))  # regressed since: final
    before = {str(n) for n in range(20)}
    later = seen + timedelta(seconds=1)
    issues = [*busy, one(100, later), one(101, started - timedelta(seconds=1)), one(102, started)]
    chosen = histories_to_read(issues, known, before, started)
    # new ones by the most recent first (102, last seen exactly at the start, counts)
    assert chosen[:3] == ["100", "7", "102"]
    assert chosen[3:] == ["0", "1", "2", "3", "4"]
    assert HISTORY_REFRESHES == 5 and "8" not in chosen and "101" not in chosen
    # a start mid-go-live with many issues: FRESH_READS now, the rest at the next polls
    many = [one(n, seen + timedelta(seconds=n)) for n in range(50)]
    first = histories_to_read(many, {}, set(), started)
    assert len(first) == FRESH_READS == 20 and first[0] == "49"
    # an issue whose answer is current is never read again
    assert histories_to_read([one(3)], {"3": (seen, None)}, set(), started) == []
    assert histories_to_read(issues, known, before, None) == []


def test_bugsink_bad_token_is_named(bugsink, tmp_path, monkeypatch, operator):
    path = bugsink_config(tmp_path, bugsink, monkeypatch)
    monkeypatch.setenv("BUGSINK_TOKEN", "not-a-token")
    session = GoLiveSession.open(path, None, operator=operator)
    feed = ErrorWatcher(
        session.check_context(), lambda _f: None, release=session.release_version
    ).poll()
    assert feed.stale
    assert "Bugsink refused the token (401)" in feed.last_error
    assert session.verdict([], [], feed).state == "PENDING"


# --- Sentry contract tests ------------------------------------------------------------------------


def stamp(moment):
    return moment.isoformat().replace("+00:00", "Z")


def issue(
    n,
    *,
    first_seen,
    last_seen=None,
    regressed=False,
    regressed_at=None,
    first_release="1.0.0",
    level="error",
):
    return {
        "id": str(1000 + n),
        "shortId": f"SHOP-{n}",
        "title": f"Error number {n}",
        "culprit": f"shop.views.handler_{n}",
        "level": level,
        "status": "unresolved",
        "substatus": "regressed" if regressed else "ongoing",
        "count": str(10 * n),
        "userCount": n,
        "firstSeen": stamp(first_seen),
        "lastSeen": stamp(last_seen or datetime.now(UTC)),
        "permalink": f"https://sentry.example.com/organizations/acme/issues/{1000 + n}/",
        "project": {"id": "42", "slug": "shop"},
        "isUnhandled": True,
        # not in Sentry's answer: what the fake's search matches `firstRelease:` against,
        # and when its details' activity says it regressed
        "_first_release": first_release,
        "_regressed_at": regressed_at or (last_seen or datetime.now(UTC)),
    }


def world(started):
    """Issues as Sentry holds them: two new since the go-live, one older introduced by
    release 2.0.0 (per firstRelease), one regressed, and an old busy one."""
    return [
        issue(1, first_seen=started + timedelta(minutes=5), first_release="2.0.0"),
        issue(2, first_seen=started + timedelta(minutes=6), first_release="2.0.0"),
        issue(3, first_seen=started - timedelta(days=2), first_release="2.0.0"),
        issue(
            9,
            first_seen=started - timedelta(days=30),
            last_seen=started + timedelta(minutes=20),
            regressed=True,
            regressed_at=started + timedelta(minutes=10),
        ),
        issue(7, first_seen=started - timedelta(days=60)),
    ]


def matches(raw, query):
    """Sentry's search syntax, for the terms the cockpit sends."""
    for term in query.split():
        key, _, value = term.partition(":")
        if term == "is:unresolved":
            continue
        if term == "is:regressed":
            if raw["substatus"] != "regressed":
                return False
        elif key in ("firstSeen", "lastSeen"):
            seen = datetime.fromisoformat(raw[key].replace("Z", "+00:00"))
            if value.startswith(">"):
                if seen <= datetime.fromisoformat(value[1:]).replace(tzinfo=UTC):
                    return False
            elif value.startswith("-") and value.endswith("m"):
                if seen < datetime.now(UTC) - timedelta(minutes=int(value[1:-1])):
                    return False
            else:
                raise ValueError(term)
        elif key == "firstRelease":
            if raw["_first_release"] != value:
                return False
        else:
            raise ValueError(term)
    return True


class FakeSentry(BaseHTTPRequestHandler):
    """Answers like Sentry's documented API; `mode` picks the behaviour under test.

    Errors: one every 150 s over the last day (2 per 5 minutes), plus 40 a minute ago in
    "spike" mode; transactions (which the errors dataset leaves out) 1,000 per 5 minutes.
    Issue lists are searched and paged two issues a page; events-stats buckets what the
    request asks for (interval, statsPeriod or start/end); an issue carries its 24h timeline
    unless groupStatsPeriod is empty."""

    mode = "pages"
    seen: list[tuple[str, str]] = []
    seen_posts: list[tuple[str, str]] = []
    extra: list[dict] = []  # issues a test adds to the world
    posted: list[dict] = []
    reset_at = 0.0
    started = datetime.now(UTC) - timedelta(minutes=30)
    page_size = 2
    details_status = 200

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

    @staticmethod
    def errors_at(start, end, dataset):
        """Events in [start, end) (epoch seconds)."""
        now = time.time()
        count = sum(
            1 for k in range(int(start // 150), int(end // 150) + 1) if start <= k * 150 < end
        )
        if FakeSentry.mode == "spike" and start <= now - 60 < end:
            count += 40
        if dataset != "errors":
            count += int((end - start) / 300 * 1000)
        return count

    def events_stats(self, params):
        interval = {"1m": 60, "5m": 300, "10m": 600, "1h": 3600}[params.get("interval", "1h")]
        if FakeSentry.mode == "coarse":
            interval *= 2  # Sentry answering at another rollup than the one asked
        now = time.time()
        if "start" in params:
            begin = datetime.fromisoformat(params["start"]).replace(tzinfo=UTC).timestamp()
            end = datetime.fromisoformat(params["end"]).replace(tzinfo=UTC).timestamp()
        else:
            begin, end = now - 86400, now
        first = begin - begin % interval  # Sentry aligns buckets to the interval
        data = []
        at = first
        while at < end:
            count = self.errors_at(at, min(at + interval, now), params.get("dataset"))
            data.append([int(at), [{"count": count}]])
            at += interval
        return self._send(200, {"data": data})

    health: dict[str, tuple[float, int]] = {}  # release -> (crash-free share, sessions)

    def sessions(self, query):
        """Sentry's sessions API grouped by release, as documented: groups of by/totals."""
        fields = query.get("field", [])
        assert query.get("groupBy") == ["release"], query
        groups = []
        for release, (share, count) in FakeSentry.health.items():
            totals = {}
            for name in fields:
                totals[name] = share if name.startswith("crash_free_rate") else count
            groups.append({"by": {"release": release}, "totals": totals, "series": {}})
        return self._send(200, {"start": "", "end": "", "intervals": [], "groups": groups})

    def issue_details(self, issue_id):
        """An issue's details as documented, with its activity, newest first."""
        if FakeSentry.details_status != 200:
            return self._send(FakeSentry.details_status, {"detail": "Internal Error"})
        for raw in world(FakeSentry.started) + FakeSentry.extra:
            if raw["id"] == issue_id:
                shown = {k: v for k, v in raw.items() if not k.startswith("_")}
                activity = [{"id": "2", "type": "first_seen", "dateCreated": raw["firstSeen"]}]
                if raw["substatus"] == "regressed":
                    at = stamp(raw["_regressed_at"])
                    activity.insert(0, {"id": "3", "type": "set_regression", "dateCreated": at})
                    activity.append({"id": "1", "type": "set_resolved", "dateCreated": at})
                return self._send(200, {**shown, "activity": activity})
        return self._send(404, {"detail": "The requested resource does not exist"})

    def do_GET(self):
        from urllib.parse import parse_qs, urlsplit

        FakeSentry.seen.append((self.path, self.headers.get("Authorization", "")))
        params = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
        mode = FakeSentry.mode
        if self.headers.get("Authorization") != "Bearer sntrys_test_token":
            return self._send(401, {"detail": "Invalid token"})
        if mode == "403":
            return self._send(403, {"detail": "You do not have permission to perform this action."})
        if mode in ("429", "retry-after") and time.time() < FakeSentry.reset_at:
            headers = (
                {
                    "X-Sentry-Rate-Limit-Reset": f"{FakeSentry.reset_at:.0f}",
                    "X-Sentry-Rate-Limit-Remaining": "0",
                }
                if mode == "429"
                else {"Retry-After": str(max(0, math.ceil(FakeSentry.reset_at - time.time())))}
            )
            return self._send(429, {"detail": "rate limited"}, headers)
        if mode == "garbage":
            return self._send(200, b"<html>not json</html>")
        if "/sessions/" in self.path:
            return self.sessions(parse_qs(urlsplit(self.path).query))
        if "events-stats" in self.path:
            return self.events_stats(params)
        details = re.fullmatch(r"/api/0/organizations/acme/issues/(\d+)/", urlsplit(self.path).path)
        if details:
            return self.issue_details(details.group(1))
        if mode == "empty":
            found = []
        else:
            issues = world(FakeSentry.started) + FakeSentry.extra
            found = [i for i in issues if matches(i, params.get("query", ""))]
            order = {"freq": "count", "new": "firstSeen", "date": "lastSeen"}[params["sort"]]
            found.sort(key=lambda i: int(i[order]) if order == "count" else i[order], reverse=True)
        size = min(int(params.get("limit", 100)), FakeSentry.page_size)
        offset = int(params.get("cursor", "0:0:0").split(":")[1])
        page = found[offset : offset + size]
        more = offset + size < len(found)
        back = max(0, offset - size)
        link = (
            f'<x>; rel="previous"; results="{str(offset > 0).lower()}"; cursor="0:{back}:1", '
            f'<x>; rel="next"; results="{str(more).lower()}"; cursor="0:{offset + size}:0"'
        )
        body = []
        for raw in page:
            shown = {k: v for k, v in raw.items() if not k.startswith("_")}
            if params.get("groupStatsPeriod", "24h") == "24h":  # Sentry's default: a timeline
                hour = int(time.time() // 3600 * 3600)
                shown["stats"] = {"24h": [[hour - 3600 * k, 1] for k in range(23, -1, -1)]}
            body.append(shown)
        return self._send(200, body, {"Link": link})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        FakeSentry.posted.append(json.loads(self.rfile.read(length)))
        FakeSentry.seen_posts.append((self.path, ""))
        if not any(f"/releases/{r}/" in self.path for r in ("2.0.1", "shop@2.0.1")):
            return self._send(404, {"detail": "The requested resource does not exist"})
        self._send(201, {"id": "1", "environment": "production"})


@pytest.fixture
def sentry(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSentry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeSentry.mode = "pages"
    FakeSentry.seen = []
    FakeSentry.seen_posts = []
    FakeSentry.extra = []
    FakeSentry.page_size = 2
    FakeSentry.details_status = 200
    FakeSentry.health = {}
    FakeSentry.posted = []
    FakeSentry.started = datetime.now(UTC) - timedelta(minutes=30)
    monkeypatch.setenv("SENTRY_TOKEN", "sntrys_test_token")
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def sentry_session(tmp_path, url, operator, **errors):
    (tmp_path / "runbook.md").write_text("## S\n- [ ] x\n")

    def toml(value):
        if isinstance(value, dict):
            return "{ " + ", ".join(f"{k} = {toml(v)}" for k, v in value.items()) + " }"
        return json.dumps(value)

    extra = "".join(f"{k} = {toml(v)}\n" for k, v in errors.items())
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


def test_sentry_regressed_means_regressed_since_the_go_live(sentry, tmp_path, operator):
    """Sentry keeps `is:regressed` for days after a regression: one that regressed three days
    ago and was seen since the go-live is no REGRESSED (and, not busy, not in the feed); one
    that regressed a second after the start is; one whose details are gone is not."""
    started = FakeSentry.started
    FakeSentry.extra = [
        issue(
            21,
            first_seen=started - timedelta(days=20),
            last_seen=started + timedelta(minutes=5),  # seen since, not busy now
            regressed=True,
            regressed_at=started - timedelta(days=3),
        ),
        issue(
            22,
            first_seen=started - timedelta(days=20),
            regressed=True,
            regressed_at=started + timedelta(seconds=1),
        ),
        issue(
            23,
            first_seen=started - timedelta(days=20),
            regressed=True,
            regressed_at=started,  # exactly at the start: since the go-live
        ),
        issue(
            24,
            first_seen=started - timedelta(days=20),
            last_seen=started + timedelta(minutes=5),  # seen since, not busy now
            regressed=True,
            regressed_at=started - timedelta(seconds=1),
        ),
    ]
    session = sentry_session(tmp_path, sentry, operator, busiest_minutes=1)
    feed = ErrorWatcher(
        session.check_context(), lambda _f: None, release=session.release_version, started=started
    ).poll()
    assert not feed.stale, feed.last_error
    badges = {i.short_id: i.badge for i in feed.issues}
    assert badges.get("SHOP-22") == "REGRESSED" and badges.get("SHOP-23") == "REGRESSED"
    assert badges.get("SHOP-9") == "REGRESSED"
    assert "SHOP-21" not in badges and "SHOP-24" not in badges, badges


def test_sentry_issue_details_that_fail_leave_the_feed_and_say_so(sentry, tmp_path, operator):
    """One issue's details refused (500): the feed is not stale, NEW issues still show, the
    regressed issue keeps Sentry's own word, and a note says its time could not be read."""
    FakeSentry.details_status = 500
    session = sentry_session(tmp_path, sentry, operator)
    feed = ErrorWatcher(
        session.check_context(),
        lambda _f: None,
        release=session.release_version,
        started=FakeSentry.started,
    ).poll()
    assert not feed.stale, feed.last_error
    badges = {i.short_id: i.badge for i in feed.issues}
    assert badges["SHOP-1"] == "NEW" and badges["SHOP-9"] == "REGRESSED"
    assert any("when 1 issue(s) regressed could not be read" in n for n in feed.notes), feed.notes


def test_sentry_buckets_are_as_wide_as_their_starts_are_apart(sentry, tmp_path, operator):
    """Asked for 5-minute buckets, answered in 10-minute ones: each bucket is 10 minutes
    wide, so the events per window are not doubled."""
    session = sentry_session(tmp_path, sentry, operator)
    client = SentryClient(session.environment.errors, "sntrys_test_token", "production")
    try:
        asked = client.event_counts(statsPeriod="24h", interval="5m")
        FakeSentry.mode = "coarse"
        coarse = client.event_counts(statsPeriod="24h", interval="5m")
    finally:
        client.close()
    assert {(end - start).total_seconds() for start, end, _ in asked} == {300}
    assert {(end - start).total_seconds() for start, end, _ in coarse} == {600}
    # the same day either way: 2 errors per 5 minutes
    assert abs(sum(c for *_, c in coarse) - sum(c for *_, c in asked)) <= 4


def test_link_header_cursor_rules():
    assert next_cursor('<a>; rel="next"; results="true"; cursor="0:100:0"') == "0:100:0"
    assert next_cursor('<a>; rel="next"; results="false"; cursor="0:100:0"') is None
    assert next_cursor("") is None


def test_sentry_pages_badges_and_spike(sentry, tmp_path, operator):
    session = sentry_session(tmp_path, sentry, operator)
    watcher = ErrorWatcher(
        session.check_context(),
        lambda _f: None,
        release=session.release_version,
        started=FakeSentry.started,
    )
    feed = watcher.poll()
    assert not feed.stale, feed.last_error
    by_id = {i.short_id: i for i in feed.issues}
    assert by_id["SHOP-1"].badge == "NEW" and by_id["SHOP-2"].badge == "NEW"
    assert by_id["SHOP-9"].badge == "REGRESSED"
    assert by_id["SHOP-3"].badge == "NEW"  # firstRelease:2.0.0 says this release introduced it
    assert by_id["SHOP-7"].badge == "" and by_id["SHOP-7"].busiest
    assert by_id["SHOP-1"].count == 10 and by_id["SHOP-1"].users == 1
    listing = [p for p, _ in FakeSentry.seen if "/issues/?" in p]
    assert any("cursor=0%3A2%3A0" in p for p in listing)  # the second page was read
    details = [p for p, _ in FakeSentry.seen if re.search(r"/issues/\d+/", p)]
    assert details == ["/api/0/organizations/acme/issues/1009/"]  # the regressed one only
    assert all("project=42" in p and "environment=production" in p for p in listing)
    assert any("firstRelease%3A2.0.0" in p for p in listing)
    assert feed.spike is not None and not feed.spike.spiking
    # errors only, not the 1,000 transactions: one error every 150 s puts 2 in a 5-minute
    # window, 3 when the window's ends fall on two of them (a slow machine moves "now")
    assert feed.spike.current in (2, 3), feed.spike.reason
    stats = [p for p, _ in FakeSentry.seen if "events-stats" in p]
    assert stats and all("dataset=errors" in p for p in stats)
    FakeSentry.seen = []
    watcher.poll()  # SHOP-9 saw no new event: its activity is not asked again
    assert not [p for p, _ in FakeSentry.seen if re.search(r"/issues/\d+/", p)]
    FakeSentry.mode = "spike"
    spiking = watcher.poll()
    assert spiking.spike.spiking
    assert re.search(r"4[23] events in 5m", spiking.spike.reason), spiking.spike.reason


def test_sentry_asks_only_what_the_pane_shows(sentry, tmp_path, operator):
    """Per poll: the busiest list (25, with timelines), new, regressed, the release's new
    issues, and the spike window's counts; the 24h baseline of the counts once."""
    session = sentry_session(tmp_path, sentry, operator)
    watcher = ErrorWatcher(
        session.check_context(),
        lambda _f: None,
        release=session.release_version,
        started=FakeSentry.started,
    )
    watcher.poll()
    first = list(FakeSentry.seen)
    FakeSentry.seen.clear()
    watcher.poll()
    second = [p for p, _ in FakeSentry.seen]
    assert len([p for p, _ in first if "events-stats" in p]) == 2  # the window, the baseline
    assert len([p for p in second if "events-stats" in p]) == 1  # the baseline is kept
    lists = [p for p in second if "/issues/" in p]
    timelines = [p for p in lists if "groupStatsPeriod=24h" in p]
    assert len(timelines) == 1 and "limit=25" in timelines[0] and "sort=freq" in timelines[0]
    assert all(
        "groupStatsPeriod=&" in p or p.endswith("groupStatsPeriod=")
        for p in lists
        if p not in timelines
    )


def test_sentry_truncation_is_said_and_pages_are_bounded(sentry, tmp_path, operator):
    session = sentry_session(tmp_path, sentry, operator, max_pages=1)
    FakeSentry.page_size = 1
    feed = ErrorWatcher(
        session.check_context(),
        lambda _f: None,
        release=session.release_version,
        started=FakeSentry.started,
    ).poll()
    assert all("cursor=" not in p for p, _ in FakeSentry.seen if "/issues/" in p)
    assert any("(errors.max_pages)" in note and "firstSeen" in note for note in feed.notes)
    assert not any("lastSeen:-" in note for note in feed.notes)  # the busiest 25 by design


def test_spike_counts_do_not_depend_on_where_in_a_bucket_the_poll_falls():
    """A steady 15x error rate in 10-minute buckets, and a steady baseline rate: judged at
    :01, :30 and :59 of a bucket, the same answer gives the same verdict."""
    from cockpit.sources.errors import spike_from_series

    bucket = timedelta(minutes=10)
    started = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    history = [(started - bucket * (k + 1), started - bucket * k, 4) for k in range(36)]

    def judge(rate_per_bucket, now):
        release = []
        at = started
        while at < now:
            end = min(at + bucket, now)
            release.append((at, at + bucket, round(rate_per_bucket * (end - at) / bucket)))
            at += bucket
        return spike_from_series(
            history + release,
            started=started,
            window_seconds=300,
            factor=5.0,
            min_events=10,
            now=now,
        )

    moments = [started + timedelta(minutes=40, seconds=s) for s in (6, 300, 594)]
    steady = [judge(60, now) for now in moments]  # 15x the baseline of 4 per 10 minutes
    assert all(state.spiking for state in steady), [s.reason for s in steady]
    assert len({state.current for state in steady}) == 1, [s.current for s in steady]
    calm = [judge(4, now) for now in moments]
    assert not any(state.spiking for state in calm), [s.reason for s in calm]
    # a bucket still filling is prorated over its elapsed part
    assert judge(60, started + timedelta(minutes=40, seconds=60)).current == 30


def test_a_new_crash_stands_out_beside_a_noisy_old_issue(sentry, tmp_path, operator):
    """The project's total is dominated by an old issue; a crash first seen two minutes ago
    with 30 events is a spike against its own baseline (none)."""
    FakeSentry.extra = [
        issue(8, first_seen=datetime.now(UTC) - timedelta(minutes=2), first_release="2.0.0")
    ]
    session = sentry_session(tmp_path, sentry, operator, spike_min_events=20)
    feed = ErrorWatcher(
        session.check_context(),
        lambda _f: None,
        release=session.release_version,
        started=FakeSentry.started,
    ).poll()
    assert feed.spike.spiking, feed.spike.reason
    assert feed.spike.reason.startswith("issue SHOP-8 (Error number 8): 80 events in 5m")


def test_new_issues_gate_the_verdict_by_count_and_level(sentry, tmp_path, operator):
    session = sentry_session(tmp_path, sentry, operator, max_new_issues=2)
    feed = ErrorWatcher(
        session.check_context(),
        lambda _f: None,
        release=session.release_version,
        started=FakeSentry.started,
    ).poll()
    result = session.verdict([], [], feed)
    assert result.state == "NO-GO"  # SHOP-1, SHOP-2 and SHOP-3: three, above 2
    (reason,) = [r for r in result.reasons if r.startswith("errors:")]
    assert "3 new fatal/error issue(s) in this release (max_new_issues 2)" in reason
    at_limit = sentry_session(tmp_path, sentry, operator, max_new_issues=3)
    assert at_limit.verdict([], [], feed).state != "NO-GO"  # exactly the limit: allowed
    warnings_only = sentry_session(
        tmp_path, sentry, operator, max_new_issues=0, new_issue_levels=["warning"]
    )
    assert warnings_only.verdict([], [], feed).state != "NO-GO"


@pytest.mark.parametrize("mode", ["429", "retry-after"])  # Sentry's own header, or only Retry-After
def test_sentry_429_waits_until_reset_then_succeeds(sentry, tmp_path, operator, mode):
    session = sentry_session(tmp_path, sentry, operator)
    FakeSentry.mode = mode
    FakeSentry.reset_at = float(int(time.time()) + 2)  # Sentry announces whole seconds
    slept = []
    client = SentryClient(
        session.environment.errors,
        "sntrys_test_token",
        "production",
        sleep=lambda s: (slept.append(s), time.sleep(s)),
    )
    issues, _ = client.issues("is:unresolved")
    assert slept and 0 < slept[0] <= 2.5
    assert issues  # the retry after the reset succeeded
    FakeSentry.reset_at = float(int(time.time()) + 3600)
    with pytest.raises(TrackerError, match="rate limit reached") as caught:
        client.issues("is:unresolved")
    assert caught.value.retry_at == pytest.approx(FakeSentry.reset_at, abs=1)


def test_release_health_gates_on_the_drop_against_the_previous_release(sentry, tmp_path, operator):
    health = {"of": "session", "max_drop": 0.5, "min_sessions": 100}
    session = sentry_session(
        tmp_path, sentry, operator, release="shop@{version}", release_health=health
    )
    watcher = ErrorWatcher(
        session.check_context(),
        lambda _f: None,
        release=session.release_version,
        started=FakeSentry.started,
    )

    def judge(new, previous, busy=None):
        FakeSentry.health = {"shop@2.0.0": new, "shop@1.9.0": previous}
        if busy:
            FakeSentry.health["shop@1.8.0"] = busy
        feed = watcher.poll()
        return feed, session.verdict([], [], feed)

    feed, result = judge((0.981, 400), (0.997, 9000))
    assert feed.health.failing and result.state == "NO-GO"
    (reason,) = [r for r in result.reasons if "release health" in r]
    assert "98.10% of shop@2.0.0 against 99.70% of shop@1.9.0 (a drop of 1.60 points" in reason
    _, result = judge((0.993, 400), (0.997, 9000))  # a drop of 0.4: tolerated
    assert not any("release health" in r for r in result.reasons), result.reasons
    _, result = judge((0.992, 400), (0.997, 9000))  # exactly max_drop: tolerated
    assert not any("release health" in r for r in result.reasons), result.reasons
    feed, result = judge((0.5, 99), (0.997, 9000))  # too few sessions to judge
    assert not feed.health.judged and result.state == "PENDING"
    assert any("99 of shop@2.0.0 so far (min_sessions 100)" in r for r in result.reasons)
    feed, _ = judge((0.99, 400), (0.95, 10), busy=(0.999, 50000))
    assert feed.health.previous == "shop@1.8.0"  # the other release with the most sessions
    asked = [p for p, _ in FakeSentry.seen if "/sessions/" in p]
    assert asked and all(
        "groupBy=release" in p and "crash_free_rate%28session%29" in p for p in asked
    )


def test_sentry_refusals_name_what_is_missing(sentry, tmp_path, operator, monkeypatch):
    session = sentry_session(tmp_path, sentry, operator)
    FakeSentry.mode = "403"
    feed = ErrorWatcher(
        session.check_context(), lambda _f: None, release=session.release_version
    ).poll()
    assert "Sentry denied access (403): You do not have permission" in feed.last_error
    assert "event:read" in feed.last_error and "project 42" in feed.last_error
    FakeSentry.mode = "pages"
    monkeypatch.setenv("SENTRY_TOKEN", "wrong")
    feed = ErrorWatcher(
        session.check_context(), lambda _f: None, release=session.release_version
    ).poll()
    assert "refused the token (401)" in feed.last_error
    assert "wrong" not in feed.last_error


def test_sentry_garbage_and_empty(sentry, tmp_path, operator):
    session = sentry_session(tmp_path, sentry, operator)
    FakeSentry.mode = "garbage"
    feed = ErrorWatcher(
        session.check_context(), lambda _f: None, release=session.release_version
    ).poll()
    assert feed.stale and "not JSON" in feed.last_error
    FakeSentry.mode = "empty"
    feed = ErrorWatcher(
        session.check_context(), lambda _f: None, release=session.release_version
    ).poll()
    assert not feed.stale and feed.issues == ()


def test_release_start_creates_the_deploy_marker(sentry, tmp_path, operator):
    session = sentry_session(tmp_path, sentry, operator)
    message = session.start_release("2.0.1")
    assert "deploy marker created" in message
    assert FakeSentry.posted == [{"environment": "production"}]
    actions = [e.action for e in session.audit.entries()]
    assert actions == ["release_start", "deploy_marker"]
    assert session.release_version() == "2.0.1"


def test_the_release_template_names_the_release_as_sentry_knows_it(sentry, tmp_path, operator):
    session = sentry_session(tmp_path, sentry, operator, release="shop@{version}")
    assert "created for shop@2.0.1" in session.start_release("2.0.1")
    assert any("/releases/shop@2.0.1/deploys/" in p for p in _posted_paths())
    ErrorWatcher(
        session.check_context(),
        lambda _f: None,
        release=session.release_version,
        started=FakeSentry.started,
    ).poll()
    assert any("firstRelease%3Ashop%402.0.1" in p for p, _ in FakeSentry.seen)
    (tmp_path / "plain").mkdir()
    plain = sentry_session(tmp_path / "plain", sentry, operator)
    with pytest.raises(CockpitError) as caught:
        plain.start_release("2.0.2")
    assert "Sentry has no release '2.0.2'" in caught.value.message
    assert "errors.release ('{version}')" in caught.value.message


def _posted_paths():
    return [p for p, _ in FakeSentry.seen_posts]


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

    from cockpit.check_types import ErrorsCheckConfig
    from cockpit.checks import CheckContext, compile_binding, run_check

    session = sentry_session(tmp_path, sentry, operator)
    started = datetime.now(UTC) - timedelta(minutes=30)

    def run(**fields):
        ctx = CheckContext(session.config, session.env_name, started=started)
        spec = ErrorsCheckConfig(item="x", type="errors", timeout=30, **fields)
        bound = compile_binding(0, "s/x", spec)
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


def test_a_steady_busy_issue_does_not_spike_and_a_burst_does(tmp_path, operator):
    """Poll by poll, an old issue at its usual 10 events per 5 minutes (its 24h timeline says
    120 an hour) stays at about 10 in the window, not twice that; four times the rate spikes."""
    session = sentry_session(tmp_path, "http://127.0.0.1:9", operator, spike_min_events=5)
    started = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    watcher = ErrorWatcher(
        session.check_context(), lambda _f: None, release=session.release_version, started=started
    )

    def busy(total, now):
        raw = issue(7, first_seen=started - timedelta(days=60), last_seen=now)
        raw["lifetime"] = {"count": str(total)}
        raw["count"] = "999"  # within Sentry's date window: not what the rate is read from
        hour = now.replace(minute=0, second=0, microsecond=0)
        timeline = [[int((hour - timedelta(hours=k)).timestamp()), 120] for k in range(23, 0, -1)]
        # the hour still filling, as Sentry's timeline has it: the events so far
        timeline.append([int(hour.timestamp()), round((now - hour).total_seconds() / 30)])
        raw["stats"] = {"24h": timeline}
        return raw

    now = started + timedelta(minutes=20)
    total = 5000
    for _ in range(14):  # seven minutes of polls at the usual rate: one event every 30 s
        now += timedelta(seconds=30)
        total += 1
        assert watcher._issue_spike([busy(total, now)], 300, now) is None
    for _ in range(10):  # then four times as many
        now += timedelta(seconds=30)
        total += 4
    state = watcher._issue_spike([busy(total, now)], 300, now)
    assert state is not None and state.spiking
    assert state.reason.startswith("issue SHOP-7 (Error number 7): 40 events in 5m (baseline 10.0")


def test_early_in_a_run_the_spike_limit_shrinks_with_the_window():
    """30 s into a run, 5 errors against a baseline of 10 per 5 minutes is ten times the rate:
    a spike, although it is below the whole window's limit of 30."""
    from cockpit.sources.errors import spike_from_series

    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    started = now - timedelta(hours=2)
    history = [
        (started - timedelta(minutes=5 * (k + 1)), started - timedelta(minutes=5 * k), 10)
        for k in range(24)
    ]
    burst = [(now - timedelta(seconds=20), now, 5)]
    state = spike_from_series(
        history + burst,
        started=started,
        window_seconds=300,
        factor=3.0,
        min_events=2,
        now=now,
        since=now - timedelta(seconds=30),
    )
    assert state.spiking, state.reason
    whole = spike_from_series(
        history + burst, started=started, window_seconds=300, factor=3.0, min_events=2, now=now
    )
    assert not whole.spiking  # the same 5 over a whole window is within its usual rate


@pytest.fixture
def tls_sentry(sentry, tmp_path):
    """The pretend Sentry again, behind TLS with a private CA's certificate for 127.0.0.1."""
    import ssl

    pki = servers.make_pki(tmp_path / "pki")
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSentry)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(pki.good[0]), str(pki.good[1]))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    import cockpit.sources.errors as errors_source

    errors_source._tls_context.cache_clear()  # built afresh by the test, and again after it
    yield f"https://127.0.0.1:{server.server_address[1]}", pki
    errors_source._tls_context.cache_clear()
    server.shutdown()


def test_polls_share_one_trust_store_and_still_verify_the_tracker(
    tls_sentry, tmp_path, operator, monkeypatch
):
    """Building the trust store holds the interpreter lock for about 20 ms: a poll must not
    pay it again (it stalled the screen's thread), yet every poll still checks the server's
    certificate against it."""
    import cockpit.sources.errors as errors_source

    url, pki = tls_sentry
    built = []
    create = httpx.create_ssl_context
    monkeypatch.setattr(httpx, "create_ssl_context", lambda *a, **k: built.append(1) or create())
    session = sentry_session(tmp_path, url, operator)
    watcher = ErrorWatcher(
        session.check_context(), lambda _f: None, release=None, started=FakeSentry.started
    )
    refused = watcher.poll()  # the private CA is not trusted yet: TLS fails, said so
    assert refused.stale and "certificate" in (refused.last_error or "").lower()
    errors_source._tls_context.cache_clear()
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca_file))
    built.clear()
    for _ in range(3):
        feed = watcher.poll()
        assert not feed.stale, feed.last_error
    assert len(built) == 1
