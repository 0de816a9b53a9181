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

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from cockpit.config import ErrorsConfig, duration_seconds

if TYPE_CHECKING:  # httpx loads with the first tracker client, not at start-up
    import httpx

Badge = Literal["NEW", "REGRESSED", ""]
RATE_LIMIT_WAIT_CAP = 30.0
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
class ErrorFeed:
    issues: tuple[ErrorIssue, ...] = ()
    spike: SpikeState | None = None
    fetched_at: datetime | None = None
    last_ok: datetime | None = None
    last_error: str | None = None
    requests: int = 0
    consecutive_errors: int = 0
    run_started: datetime | None = None  # the analysis run its spike counts events for

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


class _TrackerClient:
    """What both trackers' clients share: a bearer token, timeouts, a request count."""

    NAME = "the tracker"

    def __init__(self, config: ErrorsConfig, token: str | None, *, timeout: float) -> None:
        self.config = config
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=config.url, headers=headers, timeout=timeout)
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

    def _get(self, path: str, params: dict[str, Any]) -> httpx.Response:
        for attempt in range(2):
            response = self._request("GET", path, params=params)
            if response.status_code == 429:
                reset = response.headers.get("X-Sentry-Rate-Limit-Reset")
                retry_at = float(reset) if reset and reset.replace(".", "").isdigit() else None
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
            if response.status_code == 401:
                raise TrackerError(
                    "Sentry refused the token (401): check the variable named by "
                    "errors.token_env, and that the token is not revoked"
                )
            if response.status_code == 403:
                raise TrackerError(
                    "Sentry denied access (403): the token needs the scope event:read "
                    f"for organization {self.config.org!r}"
                )
            if response.status_code >= 400:
                detail = response.text[:200]
                raise TrackerError(f"Sentry answered {response.status_code}: {detail}")
            return response
        raise TrackerError("Sentry rate limit reached (429)")

    def issues(self, query: str, *, sort: str = "date", stats_period: str = "24h") -> list[Any]:
        params: dict[str, Any] = {
            "query": query,
            "sort": sort,
            "statsPeriod": stats_period,
            "limit": 100,
            "environment": self.environment,
        }
        if self.config.project:
            params["project"] = self.config.project
        found: list[Any] = []
        cursor: str | None = None
        for _ in range(self.config.max_pages):
            if cursor:
                params["cursor"] = cursor
            response = self._get(f"/api/0/organizations/{self.config.org}/issues/", params)
            page = _json(response, "Sentry")
            if not isinstance(page, list):
                raise TrackerError("Sentry's issue list is not a list")
            found.extend(page)
            cursor = next_cursor(response.headers.get("Link", ""))
            if cursor is None:
                break
        return found

    def event_counts(self, interval_seconds: float) -> list[tuple[datetime, int]]:
        minutes = max(1, int(interval_seconds // 60))
        params: dict[str, Any] = {
            "statsPeriod": "24h",
            "interval": f"{minutes}m",
            "yAxis": "count()",
            "environment": self.environment,
        }
        if self.config.project:
            params["project"] = self.config.project
        response = self._get(f"/api/0/organizations/{self.config.org}/events-stats/", params)
        body = _json(response, "Sentry")
        series: list[tuple[datetime, int]] = []
        try:
            for stamp, values in body.get("data", []):
                count = sum(_int(v.get("count")) or 0 for v in values)
                series.append((datetime.fromtimestamp(float(stamp), UTC), count))
        except (AttributeError, TypeError, ValueError, OverflowError, OSError) as exc:
            raise TrackerError(f"Sentry's events-stats has an unexpected shape: {exc}") from exc
        return series

    def create_deploy(self, version: str) -> None:
        response = self._request(
            "POST",
            f"/api/0/organizations/{self.config.org}/releases/{version}/deploys/",
            json={"environment": self.environment},
        )
        if response.status_code >= 400:
            raise TrackerError(
                f"Sentry refused the deploy marker ({response.status_code}): "
                f"{response.text[:200]} (the token needs project:releases)"
            )


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

    def issues(self) -> list[Any]:
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
                break
            url, params = following, None
        return found

    def project_event_count(self) -> int:
        body = self._get(f"/api/canonical/0/projects/{self.config.project}/")
        count = _int(body.get("digested_event_count")) if isinstance(body, dict) else None
        if count is None:
            raise TrackerError("Bugsink's project has no event count")
        return count

    def hourly_counts(self) -> list[tuple[datetime, int]]:
        body = self._get(f"/api/canonical/0/projects/{self.config.project}/event-counts/")
        series = []
        buckets = body.get("buckets", []) if isinstance(body, dict) else []
        for bucket in buckets if isinstance(buckets, list) else []:
            if not isinstance(bucket, dict):
                continue
            stamp = parse_time(bucket.get("timestamp"))
            if stamp is not None:
                series.append((stamp, _int(bucket.get("count")) or 0))
        return series


def bugsink_issue(raw: Any, base_url: str) -> ErrorIssue:
    if not isinstance(raw, dict):
        raise TrackerError("Bugsink's issue list holds something that is not an issue")
    regressed = bool(raw.get("fixed_at")) and not raw.get("is_resolved")
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
        badge="REGRESSED" if regressed else "",
    )


# --- the feed ------------------------------------------------------------------------------------


def spike_from_series(
    series: list[tuple[datetime, int]],
    *,
    started: datetime | None,
    window_seconds: float,
    factor: float,
    min_events: int,
    now: datetime,
    since: datetime | None = None,
) -> SpikeState:
    """Events in the last window (and since the analysis run began: what the revision
    before it caused is not this one's) against the average per window before the go-live."""
    current = sum(
        c
        for at, c in series
        if (now - at).total_seconds() <= window_seconds and (since is None or at >= since)
    )
    cut = started or (now - timedelta(seconds=window_seconds))
    before = [(at, c) for at, c in series if at < cut]
    if before:
        span = max(window_seconds, (cut - before[0][0]).total_seconds())
        baseline = sum(c for _, c in before) * window_seconds / span
    else:
        baseline = 0.0
    limit = max(baseline * factor, float(min_events))
    spiking = current >= limit
    reason = (
        f"{current} events in {int(window_seconds // 60)}m "
        f"(baseline {baseline:.1f}, spike at {limit:.0f})"
    )
    return SpikeState(window_seconds, current, baseline, spiking, reason)


@dataclass
class ErrorWatcher:
    """Polls the environment's tracker; one thread, so polls never overlap."""

    session: Any
    on_update: Callable[[ErrorFeed], object]
    started: datetime | None = None
    run_started: datetime | None = None  # set by the live board when a run starts
    feed: ErrorFeed = field(default_factory=ErrorFeed)
    _samples: deque[tuple[datetime, int]] = field(default_factory=lambda: deque(maxlen=2000))
    _baseline_hourly: list[tuple[datetime, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _wake: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def config(self) -> ErrorsConfig:
        config: ErrorsConfig | None = self.session.environment.errors
        assert config is not None
        return config

    def _token(self) -> str | None:
        from cockpit.checks.base import CheckContext

        ctx = CheckContext(self.session.config, self.session.env_name)
        return ctx.secret(self.config.token_env, self.config.token_file, "token")

    def poll(self) -> ErrorFeed:
        now = datetime.now(UTC)
        run_started = self.run_started
        config = self.config
        try:
            token = self._token()
        except Exception as exc:  # noqa: BLE001 - a missing secret is this poll's error
            return self._failed(now, str(getattr(exc, "evidence", exc)))
        try:
            if config.provider == "sentry":
                issues, spike, requests = self._poll_sentry(token, now)
            else:
                issues, spike, requests = self._poll_bugsink(token, now)
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
    ) -> tuple[list[ErrorIssue], SpikeState, int]:
        client = SentryClient(
            self.config, token, self.session.env_name, timeout=self.config.timeout
        )
        try:
            release = self.session.release_version()
            found = {
                i.id: i for i in map(sentry_issue, client.issues("is:unresolved", sort="date"))
            }
            for raw in client.issues("is:unresolved is:regressed", sort="date"):
                issue = sentry_issue(raw)
                found[issue.id] = replace(issue, badge="REGRESSED")
            if release:
                for raw in client.issues(f"firstRelease:{release}", sort="new"):
                    issue = sentry_issue(raw)
                    found[issue.id] = replace(issue, badge="NEW")
            window = duration_seconds(self.config.spike_window)
            series = client.event_counts(window)
        finally:
            client.close()
        spike = self._spike(series, window, now)
        issues = self._classify(list(found.values()), now)
        return issues, spike, client.requests

    def _poll_bugsink(
        self, token: str | None, now: datetime
    ) -> tuple[list[ErrorIssue], SpikeState, int]:
        client = BugsinkClient(self.config, token, timeout=self.config.timeout)
        try:
            raw = client.issues()
            total = client.project_event_count()
            hourly = client.hourly_counts() if not self._samples else []
        finally:
            client.close()
        issues = [bugsink_issue(r, self.config.url) for r in raw]
        # Bugsink counts events per hour; the spike window is shorter, so the cockpit samples
        # the project's running total at each poll and uses the hourly counts as baseline.
        self._samples.append((now, total))
        if hourly:
            self._baseline_hourly = hourly
        window = duration_seconds(self.config.spike_window)
        series = self._series_from_samples(now, window)
        spike = self._spike(series, window, now)
        return self._classify(issues, now), spike, client.requests

    def _spike(
        self, series: list[tuple[datetime, int]], window: float, now: datetime
    ) -> SpikeState:
        return spike_from_series(
            series,
            started=self.started,
            window_seconds=window,
            factor=self.config.spike_factor,
            min_events=self.config.spike_min_events,
            now=now,
            since=self.run_started,
        )

    def _series_from_samples(self, now: datetime, window: float) -> list[tuple[datetime, int]]:
        series: list[tuple[datetime, int]] = []
        cut = self.started or (now - timedelta(seconds=window))
        for at, count in self._baseline_hourly:
            if at + timedelta(hours=1) <= cut:
                series.append((at, count))
        previous: tuple[datetime, int] | None = None
        for at, total in self._samples:
            if previous is not None:
                series.append((at, max(0, total - previous[1])))
            previous = (at, total)
        return series

    def start(self) -> None:
        if self.session.environment.errors is None:
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
