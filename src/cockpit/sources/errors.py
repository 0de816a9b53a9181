"""Error trackers: Sentry's Web API and Bugsink's canonical API, as one feed of what broke.

The question during a go-live is "what did this release break, and is it getting worse": so
the feed keeps issues first seen since the go-live started (or, on Sentry, introduced by the
release), regressions, and the busiest issues of the last minutes; and it counts events over a
short window against the baseline before the release, so a spike can be a gate.

httpx with explicit timeouts; a bounded number of pages per poll; Sentry's rate limit is
respected (on 429, wait until the reset time it announces); 401 and 403 become messages that
name what is missing. One thread polls, so polls never overlap.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal

from cockpit.config import ErrorsConfig, ReleaseHealthConfig, duration_seconds
from cockpit.context import GoLiveContext
from cockpit.gates import Measuring
from cockpit.text import visible_text

if TYPE_CHECKING:  # httpx loads with the first tracker client, not at start-up
    import ssl

    import httpx

Badge = Literal["NEW", "REGRESSED", ""]
RATE_LIMIT_WAIT_CAP = 30.0
BUSIEST_LIMIT = 25  # issues of the busiest list (one page), each with its 24h timeline
BASELINE_REFRESH = 1800.0  # seconds between fetches of the 24h event-count baseline
MAX_BODY = 32 * 2**20  # bytes: a bigger answer is refused, not read into memory


class TrackerError(Exception):
    """The tracker refused or could not be read; the message says what to do."""

    def __init__(self, message: str, *, retry_at: float | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


@dataclass(frozen=True)
class ErrorIssue:
    id: str
    short_id: str
    title: str
    culprit: str
    level: str
    count: int
    users: int | None
    first_seen: datetime | None
    last_seen: datetime | None
    permalink: str | None
    badge: Badge = ""
    busiest: bool = False


@dataclass(frozen=True)
class SpikeState:
    window_seconds: float
    current: int
    baseline: float
    spiking: bool
    reason: str


@dataclass(frozen=True)
class ReleaseHealth:
    """Crash-free rates (percent) of the new release and of the previous one (the other
    release with the most sessions in the last 24 hours)."""

    release: str
    rate: float | None
    sessions: int
    previous: str | None
    previous_rate: float | None
    failing: bool
    reason: str
    judged: bool  # enough sessions of the new release to say anything


# Event counts as the trackers give them: (bucket start, bucket end, events in it)
Bucket = tuple[datetime, datetime, int]


@dataclass(frozen=True)
class ErrorFeed:
    issues: tuple[ErrorIssue, ...] = ()
    spike: SpikeState | None = None
    fetched_at: datetime | None = None
    last_ok: datetime | None = None
    last_error: str | None = None
    requests: int = 0
    consecutive_errors: int = 0
    run_started: datetime | None = None  # the analysis run its spike counts events for
    notes: tuple[str, ...] = ()  # what the feed could not show whole (a truncated list)
    health: ReleaseHealth | None = None  # Sentry release health, when configured

    @property
    def stale(self) -> bool:
        return self.last_error is not None


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_LINK = re.compile(r'<([^>]*)>;\s*rel="(\w+)";\s*results="(\w+)";\s*cursor="([^"]*)"')


def next_cursor(link_header: str) -> str | None:
    """The cursor of Sentry's rel="next" link, only while it says results="true"."""
    for _url, rel, results, cursor in _LINK.findall(link_header or ""):
        if rel == "next" and results == "true":
            return str(cursor)
    return None


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise TrackerError(f"{what} answered something that is not JSON") from exc


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The trust store of every tracker client, built once: httpx's own default (certifi, or
    SSL_CERT_FILE / SSL_CERT_DIR when set). Building it reads the whole CA bundle, about
    20 ms of CPU with the interpreter lock held: once per poll, it stalled the screen's
    thread (a key's frame waited for it). A client is made per poll, as the token is read
    per poll, so the context must outlive the client."""
    import httpx

    return httpx.create_ssl_context()


class _TrackerClient:
    """What both trackers' clients share: a bearer token, timeouts, a request count."""

    NAME = "the tracker"

    def __init__(self, config: ErrorsConfig, token: str | None, *, timeout: float) -> None:
        self.config = config
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(
            base_url=config.url, headers=headers, timeout=timeout, verify=_tls_context()
        )
        self.requests = 0

    def close(self) -> None:
        self.http.close()

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        import httpx

        self.requests += 1
        try:
            with self.http.stream(method, url, **kwargs) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY:
                        raise TrackerError(
                            f"{self.NAME} answered more than {MAX_BODY // 2**20} MB; "
                            "not read (is the URL right?)"
                        )
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                content=bytes(body),
                request=response.request,
            )
        except httpx.TimeoutException as exc:
            raise TrackerError(f"{self.NAME} did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise TrackerError(f"cannot reach {self.NAME} at {self.config.url}: {exc}") from exc


class SentryClient(_TrackerClient):
    """Sentry's Web API (sentry.io and self-hosted share /api/0/)."""

    NAME = "Sentry"

    def __init__(
        self,
        config: ErrorsConfig,
        token: str | None,
        environment: str,
        *,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(config, token, timeout=timeout)
        self.environment = config.environment or environment
        self.sleep = sleep

    def _get(
        self, path: str, params: dict[str, Any], *, missing_ok: bool = False
    ) -> httpx.Response:
        for attempt in range(2):
            response = self._request("GET", path, params=params)
            if missing_ok and response.status_code == 404:
                return response
            if response.status_code == 429:
                retry_at = _retry_at(response.headers)
                wait = (retry_at - time.time()) if retry_at else None
                if attempt == 0 and wait is not None and 0 <= wait <= RATE_LIMIT_WAIT_CAP:
                    self.sleep(wait)
                    continue
                raise TrackerError(
                    "Sentry rate limit reached (429)"
                    + (
                        f"; it resets at {datetime.fromtimestamp(retry_at, UTC):%H:%M:%S}"
                        if retry_at
                        else ""
                    ),
                    retry_at=retry_at,
                )
            self._refused(response, "read issues and events")
            return response
        raise TrackerError("Sentry rate limit reached (429)")

    def _refused(self, response: httpx.Response, doing: str) -> None:
        """A refusal in Sentry's words, and what most likely causes it."""
        status = response.status_code
        if status < 400:
            return
        detail = _detail(response)
        said = f": {detail}" if detail else ""
        org, project = self.config.org, self.config.project
        if status == 401:
            raise TrackerError(
                f"Sentry refused the token (401){said}: check the variable named by "
                "errors.token_env, and that the token is not revoked"
            )
        if status == 403:
            raise TrackerError(
                f"Sentry denied access (403){said}: the token may not {doing} in organization "
                f"{org!r}" + (f" or project {project}" if project else "") + " (an "
                "organization token or a personal token with event:read, org:read and "
                "project:read; a member of the project's team)"
            )
        if status == 404:
            raise TrackerError(
                f"Sentry has no such organization or project (404){said}: check errors.org "
                f"({org!r}), errors.project ({project!r}, the numeric id) and errors.url "
                f"({self.config.url}; sentry.io organizations answer at their region, "
                "https://us.sentry.io or https://de.sentry.io)"
            )
        raise TrackerError(f"Sentry answered {status}{said}")

    def issues(
        self,
        query: str,
        *,
        sort: str = "date",
        stats_period: str = "",
        limit: int = 100,
        max_pages: int | None = None,
    ) -> tuple[list[Any], bool]:
        """The issues the query finds, and whether pages were left unread (max_pages).

        `stats_period` is Sentry's `groupStatsPeriod`, the per-issue timeline ("" none,
        "24h"): at 500 issues the 24h timelines are most of the bytes, and only the busiest
        issues' are used (their baseline). (`statsPeriod` would be the date window the
        issues are searched in; Sentry's default window is kept.)"""
        params: dict[str, Any] = {
            "query": query,
            "sort": sort,
            "groupStatsPeriod": stats_period,
            "limit": limit,
            "environment": self.environment,
        }
        if self.config.project:
            params["project"] = self.config.project
        found: list[Any] = []
        cursor: str | None = None
        for _ in range(max_pages or self.config.max_pages):
            if cursor:
                params["cursor"] = cursor
            response = self._get(f"/api/0/organizations/{self.config.org}/issues/", params)
            page = _json(response, "Sentry")
            if not isinstance(page, list):
                raise TrackerError("Sentry's issue list is not a list")
            found.extend(page)
            cursor = next_cursor(response.headers.get("Link", ""))
            if cursor is None:
                return found, False
        return found, True

    def last_regression(self, issue_id: str) -> datetime | None:
        """When Sentry last marked the issue regressed: the newest `set_regression` in the
        activity of its details (`GET /organizations/{org}/issues/{id}/`). Sentry keeps an
        issue `is:regressed` for days after that; the cockpit wants since the go-live."""
        response = self._get(
            f"/api/0/organizations/{self.config.org}/issues/{issue_id}/", {}, missing_ok=True
        )
        if response.status_code == 404:
            return None  # deleted or merged since the list was read
        body = _json(response, "Sentry")
        activity = body.get("activity") if isinstance(body, dict) else None
        newest: datetime | None = None
        for entry in activity if isinstance(activity, list) else []:
            if isinstance(entry, dict) and entry.get("type") == "set_regression":
                at = parse_time(entry.get("dateCreated"))
                if at is not None and (newest is None or at > newest):
                    newest = at
        return newest

    def event_counts(self, **period: str) -> list[Bucket]:
        """Error events per bucket (the errors dataset: transactions are not errors), for
        `statsPeriod` or `start`/`end`, at `interval`."""
        params: dict[str, Any] = {
            **period,
            "yAxis": "count()",
            "dataset": "errors",
            "environment": self.environment,
        }
        if self.config.project:
            params["project"] = self.config.project
        interval = duration_seconds(period.get("interval", "1h"))
        response = self._get(f"/api/0/organizations/{self.config.org}/events-stats/", params)
        body = _json(response, "Sentry")
        points: list[tuple[datetime, int]] = []
        try:
            for stamp, values in body.get("data", []):
                count = sum(_int(v.get("count")) or 0 for v in values)
                points.append((datetime.fromtimestamp(float(stamp), UTC), count))
        except (AttributeError, TypeError, ValueError, OverflowError, OSError) as exc:
            raise TrackerError(f"Sentry's events-stats has an unexpected shape: {exc}") from exc
        # The buckets are as wide as their starts are apart: Sentry may answer at another
        # rollup than the interval asked (a coarser one for a long range), and counting a
        # 10-minute bucket as 5 minutes would double the rate the spike sees.
        gaps = [(b[0] - a[0]).total_seconds() for a, b in pairwise(points)]
        width = min((g for g in gaps if g > 0), default=float(interval))
        return [(at, at + timedelta(seconds=width), count) for at, count in points]

    def release_sessions(self, of: str) -> dict[str, tuple[float | None, int]]:
        """Per release of the last 24 hours: crash-free rate (percent) and sessions (or
        users), from Sentry's sessions API."""
        count = "sum(session)" if of == "session" else "count_unique(user)"
        rate = f"crash_free_rate({of})"
        params: dict[str, Any] = {
            "field": [rate, count],
            "groupBy": "release",
            "statsPeriod": "24h",
            "interval": "1h",
            "environment": self.environment,
        }
        if self.config.project:
            params["project"] = self.config.project
        response = self._get(f"/api/0/organizations/{self.config.org}/sessions/", params)
        body = _json(response, "Sentry")
        found: dict[str, tuple[float | None, int]] = {}
        groups = body.get("groups") if isinstance(body, dict) else None
        for group in groups if isinstance(groups, list) else []:
            if not isinstance(group, dict):
                continue
            release = (group.get("by") or {}).get("release")
            totals = group.get("totals") or {}
            if not isinstance(release, str) or not isinstance(totals, dict):
                continue
            value = totals.get(rate)
            share = float(value) * 100 if isinstance(value, int | float) else None
            found[release] = (share, _int(totals.get(count)) or 0)
        return found

    def create_deploy(self, release: str) -> None:
        response = self._request(
            "POST",
            f"/api/0/organizations/{self.config.org}/releases/{release}/deploys/",
            json={"environment": self.environment},
        )
        if response.status_code == 404:
            raise TrackerError(
                f"Sentry has no release {release!r} in organization {self.config.org!r} (404): "
                "the app creates it when it first reports with that release; check that "
                f"errors.release ({self.config.release!r}) gives the name the app reports"
            )
        if response.status_code in (401, 403):
            self._refused(response, "create deploys (project:releases)")
        if response.status_code >= 400:
            raise TrackerError(
                f"Sentry refused the deploy marker ({response.status_code}): {_detail(response)}"
            )


def _detail(response: httpx.Response) -> str:
    """Sentry's own reason: the `detail` of its JSON error, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    text = str(body["detail"]) if isinstance(body, dict) and body.get("detail") else response.text
    return " ".join(visible_text(text).split())[:200]


def _retry_at(headers: Any) -> float | None:
    """When Sentry says to come back: X-Sentry-Rate-Limit-Reset (epoch seconds), else the
    standard Retry-After (seconds, or an HTTP date)."""
    from email.utils import parsedate_to_datetime

    reset = headers.get("X-Sentry-Rate-Limit-Reset")
    if reset and reset.replace(".", "", 1).isdigit():
        return float(reset)
    after = (headers.get("Retry-After") or "").strip()
    if after.replace(".", "", 1).isdigit():
        return time.time() + float(after)
    if after:
        try:
            return parsedate_to_datetime(after).timestamp()
        except (TypeError, ValueError):
            return None
    return None


def release_health(
    sessions: dict[str, tuple[float | None, int]], release: str, config: ReleaseHealthConfig
) -> ReleaseHealth:
    """The new release's crash-free rate against the previous release's."""
    rate, count = sessions.get(release, (None, 0))
    others = [(n, r, c) for r, (n, c) in sessions.items() if r != release and n is not None]
    previous = max(others, key=lambda o: o[2], default=None)
    what = f"crash-free {config.of}s"
    if count < config.min_sessions or rate is None:
        return ReleaseHealth(
            release,
            rate,
            count,
            previous[1] if previous else None,
            previous[0] if previous else None,
            False,
            f"{what}: {count} of {release} so far (min_sessions {config.min_sessions})",
            False,
        )
    if previous is None:
        return ReleaseHealth(
            release,
            rate,
            count,
            None,
            None,
            False,
            f"{what} {rate:.2f}% of {release}; no previous release to compare with",
            True,
        )
    drop = previous[0] - rate
    failing = drop > config.max_drop
    reason = (
        f"{what} {rate:.2f}% of {release} against {previous[0]:.2f}% of {previous[1]} "
        f"({'a drop of ' + format(drop, '.2f') + ' points' if drop > 0 else 'no drop'}; "
        f"max_drop {config.max_drop:g})"
    )
    return ReleaseHealth(release, rate, count, previous[1], previous[0], failing, reason, True)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def sentry_release(config: ErrorsConfig, version: str) -> str:
    """The release name the app reports to Sentry, e.g. servicedesk@2.4.1 for 2.4.1."""
    return config.release.replace("{version}", version)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def sentry_issue(raw: Any) -> ErrorIssue:
    """One issue of Sentry's list; odd fields degrade to blanks, never to an exception."""
    if not isinstance(raw, dict):
        raise TrackerError("Sentry's issue list holds something that is not an issue")
    permalink = raw.get("permalink")
    return ErrorIssue(
        id=str(raw.get("id", "")),
        short_id=str(raw.get("shortId", raw.get("id", ""))),
        title=str(raw.get("title", "")),
        culprit=str(raw.get("culprit", "") or ""),
        level=str(raw.get("level", "error")),
        count=_int(raw.get("count")) or 0,
        users=_int(raw.get("userCount")),
        first_seen=parse_time(raw.get("firstSeen")),
        last_seen=parse_time(raw.get("lastSeen")),
        permalink=permalink if isinstance(permalink, str) else None,
    )


class BugsinkClient(_TrackerClient):
    """Bugsink's canonical API (/api/canonical/0/)."""

    NAME = "Bugsink"

    def __init__(self, config: ErrorsConfig, token: str | None, *, timeout: float = 10.0) -> None:
        super().__init__(config, token, timeout=timeout)

    def _get(self, url: str, params: dict[str, Any] | None = None) -> Any:
        response = self._request("GET", url, params=params)
        if response.status_code in (401, 403):
            raise TrackerError(
                f"Bugsink refused the token ({response.status_code}): create one with "
                "`bugsink-manage create_auth_token` and name its variable in errors.token_env"
            )
        if response.status_code >= 400:
            raise TrackerError(f"Bugsink answered {response.status_code}: {response.text[:200]}")
        return _json(response, "Bugsink")

    def issues(self) -> tuple[list[Any], bool]:
        """Unresolved issues, most recently seen first, and whether pages were left unread."""
        found: list[Any] = []
        params: dict[str, Any] | None = {
            "project": self.config.project,
            "state": "unresolved",
            "sort": "last_seen",
            "order": "desc",
        }
        url = "/api/canonical/0/issues/"
        for _ in range(self.config.max_pages):
            page = self._get(url, params)
            if not isinstance(page, dict) or not isinstance(page.get("results"), list):
                raise TrackerError("Bugsink's issue list has an unexpected shape")
            found.extend(page["results"])
            following = page.get("next")
            if not following:
                return found, False
            url, params = following, None
        return found, True

    def last_regression(self, issue_id: str) -> datetime | None:
        """When Bugsink last marked the issue regressed (its history's newest 'regressed')."""
        page = self._get("/api/canonical/0/issue-history/", {"issue": issue_id, "order": "desc"})
        results = page.get("results") if isinstance(page, dict) else None
        for point in results if isinstance(results, list) else []:
            if isinstance(point, dict) and point.get("kind") == "regressed":
                return parse_time(point.get("timestamp"))
        return None

    def project_event_count(self) -> int:
        body = self._get(f"/api/canonical/0/projects/{self.config.project}/")
        count = _int(body.get("digested_event_count")) if isinstance(body, dict) else None
        if count is None:
            raise TrackerError("Bugsink's project has no event count")
        return count

    def hourly_counts(self) -> list[Bucket]:
        body = self._get(f"/api/canonical/0/projects/{self.config.project}/event-counts/")
        series: list[Bucket] = []
        buckets = body.get("buckets", []) if isinstance(body, dict) else []
        for bucket in buckets if isinstance(buckets, list) else []:
            if not isinstance(bucket, dict):
                continue
            stamp = parse_time(bucket.get("timestamp"))
            if stamp is not None:
                series.append((stamp, stamp + timedelta(hours=1), _int(bucket.get("count")) or 0))
        return series


def bugsink_issue(raw: Any, base_url: str) -> ErrorIssue:
    if not isinstance(raw, dict):
        raise TrackerError("Bugsink's issue list holds something that is not an issue")
    title = f"{raw.get('calculated_type', '')}: {raw.get('calculated_value', '')}".strip(": ")
    return ErrorIssue(
        id=str(raw.get("id", "")),
        short_id=str(raw.get("friendly_id", raw.get("id", ""))),
        title=title,
        culprit=str(raw.get("transaction", "") or ""),
        level="error",
        count=_int(raw.get("digested_event_count")) or 0,
        users=None,
        first_seen=parse_time(raw.get("first_seen")),
        last_seen=parse_time(raw.get("last_seen")),
        permalink=f"{base_url}/issues/issue/{raw.get('id')}/event/last/",
    )


# --- the feed ------------------------------------------------------------------------------------

HISTORY_REFRESHES = 5  # answers re-read per poll for issues already listed at the last poll
FRESH_READS = 20  # answers read per poll for issues new to the list (a start mid-go-live: all)


def histories_to_read(
    issues: list[ErrorIssue],
    known: dict[str, tuple[datetime | None, datetime | None]],
    listed_before: set[str],
    started: datetime | None,
) -> list[str]:
    """The issues whose regression time a poll reads (Bugsink's history, Sentry's activity),
    so requests stay bounded however many issues are active.

    First the issues seen since the go-live that were not in the last poll's list (new, or
    back: a regression reopens a resolved issue), the most recently seen first, at most
    FRESH_READS (a cockpit started mid-go-live reads the rest over the next polls); then, of
    those listed all along that have new events, the HISTORY_REFRESHES whose answer is oldest
    (an issue resolved and reopened between two polls is caught a few polls late, never
    missed). An issue known to have regressed since the go-live is never read again: that
    cannot become false. `known`: per issue, (the last_seen it was read at, its answer)."""
    if started is None:
        return []
    fresh: list[tuple[datetime, str]] = []
    stale: list[tuple[datetime, str]] = []
    oldest = datetime.min.replace(tzinfo=UTC)
    for issue in issues:
        if issue.last_seen is None or issue.last_seen < started:
            continue
        asked, regressed_at = known.get(issue.id, (None, None))
        if asked == issue.last_seen or (regressed_at is not None and regressed_at >= started):
            continue
        if issue.id not in listed_before or asked is None:
            fresh.append((issue.last_seen, issue.id))
        else:
            stale.append((asked, issue.id))
    fresh.sort(reverse=True)
    stale.sort(key=lambda pair: pair[0] or oldest)
    return [i for _, i in fresh[:FRESH_READS]] + [i for _, i in stale[:HISTORY_REFRESHES]]


def events_in(buckets: list[Bucket], start: datetime, end: datetime) -> float:
    """Events in [start, end], each bucket counted by the share of it inside: a bucket half
    in the window counts half. A bucket still filling (its end after `end`) is prorated over
    the part that has passed. So the same answer gives the same figure whatever the moment
    within a bucket, and buckets wider than the window do not count whole or not at all."""
    total = 0.0
    for first, bucket_end, count in buckets:
        last = min(bucket_end, end)
        span = (last - first).total_seconds()
        if span <= 0:
            if start <= first <= end:
                total += count  # a bucket just begun: its events are inside
            continue
        inside = (last - max(first, start)).total_seconds()
        if inside > 0:
            total += count * min(1.0, inside / span)
    return total


def spike_from_series(
    buckets: list[Bucket],
    *,
    started: datetime | None,
    window_seconds: float,
    factor: float,
    min_events: int,
    now: datetime,
    since: datetime | None = None,
    what: str = "",
    whole_buckets: bool = False,
) -> SpikeState:
    """Events in the last window (and since the analysis run began: what the revision
    before it caused is not this one's) against the average per window before the go-live.
    With `whole_buckets` (a run after a suspect one) a bucket begun before `since` is not
    counted at all, rather than in part: its events are the suspect revision's."""
    window_start = now - timedelta(seconds=window_seconds)
    if since is not None:
        window_start = max(window_start, since)
    counted = buckets
    if whole_buckets and since is not None:
        counted = [b for b in buckets if b[0] >= since]
    current = round(events_in(counted, window_start, now))
    cut = started or (now - timedelta(seconds=window_seconds))
    before = [(first, last, c) for first, last, c in buckets if last <= cut]
    if before:
        span = max(window_seconds, (cut - min(b[0] for b in before)).total_seconds())
        baseline = sum(c for _, _, c in before) * window_seconds / span
    else:
        baseline = 0.0
    # early in a run the window is cut at its start: the baseline shrinks with it, so 30 s
    # into a run the same rate spikes as it would over the whole window
    covered = max(0.0, (now - window_start).total_seconds()) / window_seconds
    limit = max(baseline * factor * min(1.0, covered), float(min_events))
    spiking = current >= limit
    reason = (
        f"{what}{current} events in {int(window_seconds // 60)}m "
        f"(baseline {baseline:.1f}, spike at {limit:.0f})"
    )
    return SpikeState(window_seconds, current, baseline, spiking, reason)


@dataclass
class ErrorWatcher:
    """Polls the environment's tracker; one thread, so polls never overlap."""

    ctx: GoLiveContext
    on_update: Callable[[ErrorFeed], object]
    started: datetime | None = None
    # the version running now (the session's: the images' tag or the latest `release start`);
    # without one, the environment's `version` placeholder
    release: Callable[[], str | None] | None = None
    run_started: datetime | None = None  # set by the live board when a run starts
    # asked at every poll when given (the live board's): where the run's counts begin, and
    # whether the run replaced a suspect one
    measuring: Callable[[], Measuring] | None = None
    _whole_buckets: bool = False
    feed: ErrorFeed = field(default_factory=ErrorFeed)
    _samples: deque[tuple[datetime, int]] = field(default_factory=lambda: deque(maxlen=2000))
    _baseline_hourly: list[Bucket] = field(default_factory=list)
    _baseline_fetched: float = 0.0  # monotonic time of the Sentry baseline's last fetch
    # per busiest issue: (poll time, its lifetime event count), for its own rate
    _issue_counts: dict[str, deque[tuple[datetime, int]]] = field(default_factory=dict)
    # per issue, (last_seen asked at, when it last regressed): Bugsink's history, Sentry's
    # activity
    _regressions: dict[str, tuple[datetime | None, datetime | None]] = field(default_factory=dict)
    _unresolved_before: set[str] = field(default_factory=set)  # Bugsink: the last poll's list
    _regressed_before: set[str] = field(default_factory=set)  # Sentry: the last is:regressed list
    health: ReleaseHealth | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _wake: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def config(self) -> ErrorsConfig:
        config: ErrorsConfig | None = self.ctx.environment.errors
        assert config is not None
        return config

    def _token(self) -> str | None:
        return self.ctx.secret(self.config.token_env, self.config.token_file, "token")

    def release_version(self) -> str | None:
        if self.release is not None:
            return self.release()
        return self.ctx.environment.placeholders.get("version")

    def poll(self) -> ErrorFeed:
        now = datetime.now(UTC)
        if self.measuring is not None:
            measuring = self.measuring()
            self.run_started = measuring.since
            self._whole_buckets = measuring.after_failure
        run_started = self.run_started
        config = self.config
        try:
            token = self._token()
        except Exception as exc:  # noqa: BLE001 - a missing secret is this poll's error
            return self._failed(now, str(getattr(exc, "evidence", exc)))
        try:
            if config.provider == "sentry":
                issues, spike, requests, notes = self._poll_sentry(token, now)
            else:
                issues, spike, requests, notes = self._poll_bugsink(token, now)
        except TrackerError as exc:
            return self._failed(now, str(exc))
        self.feed = ErrorFeed(
            issues=tuple(issues),
            spike=spike,
            fetched_at=now,
            last_ok=now,
            last_error=None,
            requests=self.feed.requests + requests,
            run_started=run_started,
            notes=tuple(notes),
            health=self.health,
        )
        return self.feed

    def _failed(self, now: datetime, error: str) -> ErrorFeed:
        self.feed = replace(
            self.feed,
            fetched_at=now,
            last_error=error,
            consecutive_errors=self.feed.consecutive_errors + 1,
        )
        return self.feed

    def _classify(self, issues: list[ErrorIssue], now: datetime) -> list[ErrorIssue]:
        busiest_since = now - timedelta(minutes=self.config.busiest_minutes)
        keep: dict[str, ErrorIssue] = {}
        for issue in issues:
            new = (
                self.started is not None
                and issue.first_seen is not None
                and (issue.first_seen >= self.started)
            )
            badge: Badge = "NEW" if new else issue.badge
            recent = issue.last_seen is not None and issue.last_seen >= busiest_since
            if badge or recent:
                keep[issue.id] = replace(issue, badge=badge, busiest=recent and not badge)
        ordered = sorted(
            keep.values(),
            key=lambda i: (i.badge == "", -(i.count or 0)),
        )
        return ordered[:100]

    def _poll_sentry(
        self, token: str | None, now: datetime
    ) -> tuple[list[ErrorIssue], SpikeState, int, list[str]]:
        """Only what the pane shows: issues new since the go-live, regressed since, new in
        the release, the busiest of the last minutes (with their 24h timeline, each issue's
        own baseline), and the error counts of the spike window; the 24h baseline of the
        counts once every BASELINE_REFRESH seconds."""
        config = self.config
        client = SentryClient(config, token, self.ctx.env_name, timeout=config.timeout)
        notes: list[str] = []
        since = f">{self.started:%Y-%m-%dT%H:%M:%S}" if self.started else None
        found: dict[str, ErrorIssue] = {}

        def read(query: str, badge: Badge, **kwargs: Any) -> list[Any]:
            raw, truncated = client.issues(query, **kwargs)
            if truncated and "max_pages" not in kwargs:  # the busiest list is one page
                notes.append(
                    f"more issues match {query!r} than {config.max_pages} pages "
                    "(errors.max_pages): the feed shows the first"
                )
            for entry in raw:
                issue = sentry_issue(entry)
                known = found.get(issue.id)
                found[issue.id] = replace(issue, badge=badge or (known.badge if known else ""))
            return raw

        try:
            version = self.release_version()
            busiest = read(
                f"is:unresolved lastSeen:-{config.busiest_minutes}m",
                "",
                sort="freq",
                stats_period="24h",
                limit=BUSIEST_LIMIT,
                max_pages=1,
            )
            if since:
                read(f"is:unresolved firstSeen:{since}", "NEW", sort="new")
                regressed = read(
                    f"is:unresolved is:regressed lastSeen:{since}", "REGRESSED", sort="date"
                )
                self._regressed_since_start(client, regressed, busiest, found, notes)
            else:
                read("is:unresolved is:regressed", "REGRESSED", sort="date")
            if version:
                read(f"firstRelease:{sentry_release(config, version)}", "NEW", sort="new")
            window = duration_seconds(config.spike_window)
            interval = 60 if window <= 3600 else 300
            recent = client.event_counts(
                start=_iso(now - timedelta(seconds=window + interval)),
                end=_iso(now),
                interval=f"{interval // 60}m",
            )
            if not self._baseline_hourly or time.monotonic() - self._baseline_fetched > (
                BASELINE_REFRESH
            ):
                self._baseline_hourly = client.event_counts(statsPeriod="24h", interval="1h")
                self._baseline_fetched = time.monotonic()
            health = config.release_health
            if health is not None and version:
                self.health = release_health(
                    client.release_sessions(health.of), sentry_release(config, version), health
                )
        finally:
            client.close()
        cut = self.started or (now - timedelta(seconds=window))
        series = [b for b in self._baseline_hourly if b[1] <= cut] + recent
        spike = self._spike(series, window, now)
        if not spike.spiking:
            spike = self._issue_spike(busiest, window, now) or spike
        issues = self._classify(list(found.values()), now)
        return issues, spike, client.requests, notes

    def _regressed_since_start(
        self,
        client: SentryClient,
        regressed: list[Any],
        busiest: list[Any],
        found: dict[str, ErrorIssue],
        notes: list[str],
    ) -> None:
        """Sentry's `is:regressed` holds for days after the regression (then the issue is
        "ongoing"): one that regressed last week and was seen since is not what this release
        broke. REGRESSED only when the issue's own activity says it regressed since the
        go-live began; else it is shown only if another list holds it (the busiest). Which
        issues' details a poll reads is `histories_to_read`'s rule; until an issue's are read
        (or when they say nothing), it stays REGRESSED as Sentry says."""
        assert self.started is not None
        issues = [sentry_issue(raw) for raw in regressed]
        self._read_regressions(client, issues, self._regressed_before, notes)
        self._regressed_before = {issue.id for issue in issues}
        for gone in set(self._regressions) - self._regressed_before:
            del self._regressions[gone]
        busy = {str(raw.get("id", "")) for raw in busiest if isinstance(raw, dict)}
        for issue in issues:
            asked, regressed_at = self._regressions.get(issue.id, (None, None))
            known = found.get(issue.id)
            if known is None or known.badge != "REGRESSED":
                continue  # a NEW badge (a later list) wins
            if asked is None or regressed_at is None or regressed_at >= self.started:
                continue
            if issue.id in busy:
                found[issue.id] = replace(known, badge="")
            else:
                del found[issue.id]

    def _read_regressions(
        self,
        client: SentryClient | BugsinkClient,
        issues: list[ErrorIssue],
        listed_before: set[str],
        notes: list[str],
    ) -> None:
        """Read when the chosen issues regressed; one that cannot be read keeps its last
        answer (a note says so), and a rate limit ends the reading for this poll."""
        failed: list[str] = []
        last_seen = {issue.id: issue.last_seen for issue in issues}
        for issue_id in histories_to_read(issues, self._regressions, listed_before, self.started):
            try:
                self._regressions[issue_id] = (
                    last_seen[issue_id],
                    client.last_regression(issue_id),
                )
            except TrackerError as exc:
                failed.append(str(exc))
                if exc.retry_at is not None:
                    break
        if failed:
            notes.append(
                f"when {len(failed)} issue(s) regressed could not be read ({failed[-1]}): "
                "their badges are the last known"
            )

    def _issue_spike(self, busiest: list[Any], window: float, now: datetime) -> SpikeState | None:
        """The first busy issue whose events in the window exceed its own baseline: a new
        crash stands out although a noisy old issue dominates the project's total."""
        keep = timedelta(seconds=window * 2 + 600)
        seen = set()
        worst: SpikeState | None = None
        for raw in busiest:
            issue = sentry_issue(raw)
            seen.add(issue.id)
            lifetime = raw.get("lifetime") if isinstance(raw, dict) else None
            # `count` is within Sentry's date window (events age out of it); lifetime's not
            total = _int(lifetime.get("count")) if isinstance(lifetime, dict) else None
            total = issue.count if total is None else total
            samples = self._issue_counts.setdefault(issue.id, deque(maxlen=256))
            samples.append((now, total))
            while samples and now - samples[0][0] > keep:
                samples.popleft()
            start = now - timedelta(seconds=window)
            if issue.first_seen is not None and issue.first_seen >= start:
                # new within the window: all its events are in it, and it has no past
                buckets: list[Bucket] = [(issue.first_seen, now, total)]
            else:
                buckets = [
                    (first_at, at, max(0, count - first_count))
                    for (first_at, first_count), (at, count) in zip(
                        samples, list(samples)[1:], strict=False
                    )
                ]
                # the timeline only before the first count kept: after it, the counts'
                # differences tell the same events again
                stats = raw.get("stats", {}).get("24h") if isinstance(raw, dict) else None
                for entry in stats if isinstance(stats, list) else []:
                    try:
                        at = datetime.fromtimestamp(float(entry[0]), UTC)
                        count = int(entry[1])
                    except (TypeError, ValueError, IndexError, OverflowError, OSError):
                        continue
                    if at + timedelta(hours=1) <= samples[0][0]:
                        buckets.append((at, at + timedelta(hours=1), count))
            state = self._spike(
                buckets, window, now, what=f"issue {issue.short_id} ({issue.title[:60]}): "
            )
            if state.spiking and (worst is None or state.current > worst.current):
                worst = state
        for gone in set(self._issue_counts) - seen:
            del self._issue_counts[gone]
        return worst

    def _poll_bugsink(
        self, token: str | None, now: datetime
    ) -> tuple[list[ErrorIssue], SpikeState, int, list[str]]:
        client = BugsinkClient(self.config, token, timeout=self.config.timeout)
        notes: list[str] = []
        try:
            raw, truncated = client.issues()
            total = client.project_event_count()
            hourly = client.hourly_counts() if not self._samples else []
            issues = [bugsink_issue(r, self.config.url) for r in raw]
            issues = self._regressed(client, issues, complete=not truncated, notes=notes)
        finally:
            client.close()
        if truncated:
            notes.append(
                f"more unresolved issues than {self.config.max_pages} pages (errors.max_pages)"
            )
        # Bugsink counts events per hour; the spike window is shorter, so the cockpit samples
        # the project's running total at each poll and uses the hourly counts as baseline.
        self._samples.append((now, total))
        if hourly:
            self._baseline_hourly = hourly
        window = duration_seconds(self.config.spike_window)
        series = self._series_from_samples(now, window)
        spike = self._spike(series, window, now)
        return self._classify(issues, now), spike, client.requests, notes

    def _regressed(
        self, client: BugsinkClient, issues: list[ErrorIssue], *, complete: bool, notes: list[str]
    ) -> list[ErrorIssue]:
        """REGRESSED as Bugsink means it: a 'regressed' turning point in the issue's history
        (after either kind of resolve), and only one since the go-live began. Which histories
        are read is `histories_to_read`'s rule; the answers are kept per issue while it stays
        unresolved."""
        started = self.started
        self._read_regressions(client, issues, self._unresolved_before, notes)
        present = {issue.id for issue in issues}
        if complete:  # an issue gone from a whole list was resolved: forget it
            for gone in set(self._regressions) - present:
                del self._regressions[gone]
            self._unresolved_before = present
        else:
            self._unresolved_before |= present
        shown: list[ErrorIssue] = []
        for issue in issues:
            regressed_at = self._regressions.get(issue.id, (None, None))[1]
            since = started is not None and regressed_at is not None and regressed_at >= started
            shown.append(replace(issue, badge="REGRESSED" if since else ""))
        return shown

    def _spike(
        self, series: list[Bucket], window: float, now: datetime, what: str = ""
    ) -> SpikeState:
        return spike_from_series(
            series,
            started=self.started,
            window_seconds=window,
            factor=self.config.spike_factor,
            min_events=self.config.spike_min_events,
            now=now,
            since=self.run_started,
            what=what,
            whole_buckets=self._whole_buckets,
        )

    def _series_from_samples(self, now: datetime, window: float) -> list[Bucket]:
        series: list[Bucket] = []
        cut = self.started or (now - timedelta(seconds=window))
        series += [b for b in self._baseline_hourly if b[1] <= cut]
        previous: tuple[datetime, int] | None = None
        for at, total in self._samples:
            if previous is not None:
                series.append((previous[0], at, max(0, total - previous[1])))
            previous = (at, total)
        return series

    def start(self) -> None:
        if self.ctx.environment.errors is None:
            return
        self._thread = threading.Thread(target=self._run, name="errors", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """Poll now (a new analysis run started), not at the next interval."""
        self._wake.set()

    def _run(self) -> None:
        interval = duration_seconds(self.config.interval)
        while not self._stop.is_set():
            feed = self.poll()
            self.on_update(feed)
            wait = interval
            if feed.last_error and "rate limit" in feed.last_error:
                wait = max(interval, 60.0)
            self._wake.wait(wait)
            self._wake.clear()
