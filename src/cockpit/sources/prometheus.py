"""Prometheus queries through prometheus-api-client, with timeouts always set.

The client is synchronous (requests); callers run it in a thread. Its default has no timeout
and retries with backoff, which would hang a check or a pane: both are set explicitly here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.conditions import parse_sample_value
from cockpit.config import MetricConfig, duration_seconds, parse_matcher
from cockpit.context import CheckFailed, GoLiveContext
from cockpit.gates import MAX_MEASUREMENTS, Measuring, MetricState, Point, evaluate, grid_floor
from cockpit.rollout import format_age, parse_time
from cockpit.text import visible_text

if TYPE_CHECKING:  # the client library and requests load on first use, not at start-up
    from prometheus_api_client import PrometheusConnect

    from cockpit.config import LoadedConfig, PrometheusConfig


class PrometheusError(Exception):
    """Prometheus could not be asked, or answered with an error; the message says which.

    `permanent`: Prometheus refused the query itself (a PromQL syntax error, an unknown
    function: errorType bad_data): asking again gives the same answer, so the metric is an
    Error at once instead of after `consecutive_error_limit` polls."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Answer:
    """The `data` of a successful answer, and the warnings that came with it (Thanos and
    Prometheus say so when a store or shard did not answer: a partial result)."""

    data: Any
    warnings: tuple[str, ...] = ()


MAX_BODY = 32 * 2**20  # bytes: a bigger answer is refused, not read into memory
PROMQL_ANNOTATIONS = ("PromQL warning:", "PromQL info:")
CHUNK = 64 * 1024


class Client:
    """A Prometheus connection: prometheus-api-client's PrometheusConnect (the session with
    its auth, headers, TLS and retry adapter), asked through `api()`. The library's query
    methods drop the `warnings` of an answer, show Prometheus's error as a bytes repr, and
    its timeout bounds each socket read, not the query; `api()` keeps the warnings, reads
    Prometheus's error text, caps the body and gives up once the query's deadline passes."""

    def __init__(self, connection: PrometheusConnect, timeout: float) -> None:
        self.connection = connection
        self.url: str = connection.url
        self.timeout = timeout

    def api(self, path: str, params: dict[str, str]) -> Answer:
        import requests

        conn = self.connection
        deadline = time.monotonic() + self.timeout
        try:
            # the library's own session and settings; only the reading of the answer is ours
            response = conn._session.request(
                method=conn._method,
                url=f"{self.url}{path}",
                params=params,
                headers=conn.headers,
                auth=conn.auth,
                timeout=self.timeout,
                stream=True,
                # given explicitly: requests lets REQUESTS_CA_BUNDLE override the session's
                verify=conn._session.verify,
                cert=conn._session.cert,
            )
        except requests.exceptions.RetryError as exc:
            raise PrometheusError(f"Prometheus kept failing: {_reason(exc)}") from exc
        except requests.exceptions.Timeout as exc:
            raise PrometheusError(f"Prometheus did not answer in {self.timeout:g}s") from exc
        except requests.exceptions.SSLError as exc:
            raise PrometheusError(f"TLS with {self.url} failed: {_reason(exc)}") from exc
        except requests.exceptions.ConnectionError as exc:
            if "timed out" in str(exc).lower():  # urllib3 wraps read timeouts when retrying
                raise PrometheusError(f"Prometheus did not answer in {self.timeout:g}s") from exc
            raise PrometheusError(f"cannot reach Prometheus at {self.url}") from exc
        except requests.exceptions.RequestException as exc:
            raise PrometheusError(f"cannot ask Prometheus: {_reason(exc)}") from exc
        with response:
            body = _read_until(response, deadline, self.timeout)
        return _answer(response.status_code, body)


def _reason(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error, without its object reprs."""
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    text = str(exc)
    return text.split(": ", 1)[-1] if "object at 0x" in text else text


def _read_until(response: Any, deadline: float, timeout: float) -> bytes:
    """The body, at most MAX_BODY bytes, read before the deadline (a server trickling its
    answer a byte at a time is cut off, not waited for)."""
    from urllib3.exceptions import HTTPError as Urllib3Error

    parts: list[bytes] = []
    size = 0
    try:
        while True:
            if time.monotonic() > deadline:
                raise PrometheusError(f"Prometheus did not answer in {timeout:g}s (in all)")
            chunk = response.raw.read1(CHUNK, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_BODY:
                raise PrometheusError(
                    f"Prometheus answered more than {MAX_BODY // 2**20} MB; not read "
                    "(is the URL right?)"
                )
            parts.append(chunk)
    except Urllib3Error as exc:
        if "timed out" in str(exc).lower():
            raise PrometheusError(f"Prometheus did not answer in {timeout:g}s") from exc
        raise PrometheusError(f"Prometheus broke off its answer: {_reason(exc)}") from exc
    return b"".join(parts)


def _answer(status: int, body: bytes) -> Answer:
    """Prometheus's JSON envelope: data and warnings, or its error in its own words."""
    import json

    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        text = visible_text(body.decode("utf-8", "replace")).strip()
        first = " ".join(text.split())[:200]
        if status != 200:
            raise PrometheusError(
                f"HTTP {status} from Prometheus" + (f": {first}" if first else ""),
            )
        raise PrometheusError(f"the answer is not Prometheus JSON: {first or 'empty'}")
    said = [visible_text(str(w)) for w in document.get("warnings") or () if str(w).strip()]
    # PromQL's own annotations (a histogram without `le`, mixed types) are about the query,
    # not about missing data: they do not make the answer partial
    warnings = tuple(w for w in said if not w.startswith(PROMQL_ANNOTATIONS))
    if document.get("status") != "success":
        kind = str(document.get("errorType") or "")
        error = visible_text(str(document.get("error") or "no reason given"))
        label = f" ({kind})" if kind else ""
        raise PrometheusError(
            f"Prometheus refused the query{label}: {error}"
            + ("" if status in (200, 400, 422) else f" [HTTP {status}]"),
            permanent=kind == "bad_data",
        )
    return Answer(document.get("data"), warnings)


def connect(
    url: str,
    *,
    timeout: float,
    token: str | None = None,
    ca_file: Path | None = None,
    retries: int = 0,
    auth: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
    cert: tuple[str, str] | None = None,
    verify: bool = True,
) -> Client:
    import requests
    from prometheus_api_client import PrometheusConnect
    from urllib3.util.retry import Retry

    session = requests.Session()
    if not verify:
        import urllib3

        session.verify = False
        # said once by validate and in the pane; urllib3's per-request warning would be
        # written to stderr, over the TUI
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    elif ca_file is not None:
        session.verify = str(ca_file)
    if cert is not None:
        session.cert = cert
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    connection = PrometheusConnect(
        url=url.rstrip("/"),
        headers=sent or None,
        session=session,
        auth=auth,
        timeout=timeout,
        # the last answer of a retried 5xx is read as any other (Prometheus's own words)
        retry=Retry(
            total=retries,
            backoff_factor=0.2,
            status_forcelist=[502, 503, 504],
            raise_on_status=False,
        ),
    )
    return Client(connection, timeout)


def client_for(
    prom: PrometheusConfig,
    ctx: GoLiveContext,
    *,
    url: str | None = None,
    timeout: float | None = None,
) -> Client:
    """The one way to a Prometheus: the metrics pane and the `prometheus` check type send the
    same token or basic auth, headers, client certificate and TLS settings."""
    token = ctx.secret(prom.token_env, prom.token_file, "token")
    password = ctx.secret(prom.password_env, prom.password_file, "password")
    headers = dict(prom.headers)
    for name, variable in prom.headers_env.items():
        value = ctx.secret(variable, None, f"header {name}")
        if value is not None:
            headers[name] = value
    cert = (
        (str(ctx.path(prom.cert_file)), str(ctx.path(prom.key_file)))
        if prom.cert_file and prom.key_file
        else None
    )
    return connect(
        url or prom.url,
        timeout=prom.timeout if timeout is None else timeout,
        token=token,
        ca_file=ctx.path(prom.ca_file) if prom.ca_file else None,
        auth=(prom.username, password or "") if prom.username else None,
        headers=headers,
        cert=cert,
        verify=not prom.insecure_skip_verify,
    )


def instant_query(client: Client, query: str) -> tuple[list[Sample], tuple[str, ...]]:
    """Run an instant query: its samples and Prometheus's warnings, or a PrometheusError."""
    answer = client.api("/api/v1/query", {"query": query})
    data = answer.data if isinstance(answer.data, dict) else {}
    result = data.get("result")
    samples: list[Sample] = []
    if data.get("resultType") == "scalar" or (
        isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict)
    ):
        try:
            assert isinstance(result, list)
            return [Sample({}, parse_sample_value(result[1]))], answer.warnings
        except (AssertionError, ValueError) as exc:
            raise PrometheusError(f"malformed scalar in the answer: {result!r:.200}") from exc
    if not isinstance(result, list):
        raise PrometheusError(f"unexpected result shape: {type(result).__name__}")
    for entry in result:
        try:
            labels = {str(k): str(v) for k, v in dict(entry.get("metric", {})).items()}
            samples.append(Sample(labels, parse_sample_value(entry["value"][1])))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise PrometheusError(f"malformed sample in the answer: {entry!r:.200}") from exc
    return samples, answer.warnings


# --- range queries and the metrics watcher ------------------------------------------------------


def range_query(
    client: Client, query: str, start: datetime, end: datetime, step_seconds: float
) -> tuple[list[tuple[datetime, float]], tuple[str, ...]]:
    """One series of a range query as (time, value) points ([] for no data), and
    Prometheus's warnings."""
    step = f"{max(1, int(step_seconds))}s"
    answer = client.api(
        "/api/v1/query_range",
        {
            "query": query,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": step,
        },
    )
    data = answer.data if isinstance(answer.data, dict) else {}
    result = data.get("result")
    if not isinstance(result, list):
        raise PrometheusError(f"unexpected result shape: {type(result).__name__}")
    if not result:
        return [], answer.warnings
    if len(result) > 1:
        raise PrometheusError(
            f"the query returns {len(result)} series; aggregate it to one (sum, max, ...)",
            permanent=True,
        )
    try:
        points = [
            (datetime.fromtimestamp(float(ts), UTC), parse_sample_value(value))
            for ts, value in result[0]["values"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise PrometheusError(f"malformed series in the answer: {exc}") from exc
    return points, answer.warnings


def query_span(
    metric: MetricConfig, started: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The range a poll asks for, on the step grid: the sparkline's window, and back to the
    start of the release analysis run (every measurement of the run is judged), capped at
    what Prometheus answers in one series."""
    step = duration_seconds(metric.step)
    end = grid_floor(now, step)
    start = end - timedelta(seconds=duration_seconds(metric.window))
    if started is not None:
        start = min(start, grid_floor(started, step))
    return max(start, end - timedelta(seconds=MAX_MEASUREMENTS * max(1, int(step)))), end


def metric_lookback(metric: MetricConfig, query: str) -> float:
    """How long after a replaced revision's pods are gone the metric still reads them: a
    burn-rate gate's longest short window (a pair fails only while both its windows burn),
    else its query's look-back."""
    if metric.burn_rate is not None:
        return max(duration_seconds(w.short) for w in metric.burn_rate.windows)
    return query_lookback(query)


def query_lookback(query: str) -> float:
    """How far back in time the query reads, in seconds: its longest range (a range
    selector's or a subquery's, nested ones added). 0 when it reads only the newest samples,
    or when it does not parse (then only `initial_delay` counts). An `offset` is left out: it
    reads an older window (a week-over-week comparison), from before the revision replaced."""
    import promql_parser  # lazy: only runs after a failure need it

    try:
        expr = promql_parser.parse(query)
    except Exception:  # noqa: BLE001 - a dialect it does not know: no look-back known
        return 0.0
    return _lookback(expr)


def _lookback(node: object) -> float:
    import promql_parser

    if isinstance(node, promql_parser.MatrixSelector):
        return float(node.range.total_seconds())
    if isinstance(node, promql_parser.SubqueryExpr):
        span = node.range.total_seconds() if node.range is not None else 0.0
        return float(span) + _lookback(node.expr)
    if isinstance(node, promql_parser.VectorSelector):
        return 0.0
    children: list[object] = []
    for name in ("lhs", "rhs", "expr", "param"):
        child = getattr(node, name, None)
        if child is not None:
            children.append(child)
    children += list(getattr(node, "args", None) or ())
    return max((_lookback(child) for child in children), default=0.0)


@dataclass(frozen=True)
class Revisions:
    """What a `compare` metric compares: the new and the old revision's pod-template-hash."""

    new: str | None
    old: str | None  # None: no old pods serving (the rollout is over, or never began)


def compare_query(metric: MetricConfig, values: dict[str, str], revisions: Revisions) -> str:
    """new / old, each the metric's query with {revision} filled (the old one floored)."""
    assert metric.compare is not None and revisions.new and revisions.old
    new = fill_placeholders(metric.query, {**values, "revision": revisions.new})
    old = fill_placeholders(metric.query, {**values, "revision": revisions.old})
    # a side with no series (no 5xx at all on the old pods) is 0, not "no data": else the
    # ratio would be empty and pass exactly when the new pods fail and the old never did
    new_side = f"(({new}) or on() vector(0))"
    old_side = f"(({old}) or on() vector(0))"
    if metric.compare.floor:
        return f"{new_side} / clamp_min({old_side}, {metric.compare.floor:g})"
    return f"{new_side} / {old_side}"


def _alerts_agree(
    state: MetricState, details: tuple[str, ...], listing_failed: str | None
) -> MetricState:
    """An alerts gate fails when Prometheus lists a firing alert its ALERTS series does not
    count (rules evaluated by another server that does not write ALERTS here)."""
    if listing_failed:
        return replace(state, reason=f"{state.reason}; firing alerts not listed: {listing_failed}")
    if details and state.phase == "Pending":
        # not judged yet (initial_delay, a replaced revision's pods still serving): what
        # fires now may be theirs; it is said, and judged once measuring begins
        return replace(state, reason=f"{state.reason}; {len(details)} alert(s) firing now")
    if details and state.phase != "Failed":
        return replace(
            state,
            phase="Failed",
            display="breach",
            reason=f"{len(details)} alert(s) firing per /api/v1/alerts (not in the ALERTS "
            f"series this Prometheus stores): {details[0]}",
        )
    return state


class MetricsWatcher:
    """Polls each metric at its own interval from one thread, so polls never overlap; each
    update goes to the callback as a MetricState (stale with its error when Prometheus fails,
    back to live by itself when it answers again)."""

    def __init__(
        self,
        ctx: GoLiveContext,
        on_update: Callable[[MetricState], object],
        *,
        started: datetime | Callable[[], datetime | None] | None = None,
        revisions: Callable[[MetricConfig], Revisions | None] | None = None,
        measuring: Callable[[], Measuring] | None = None,
    ) -> None:
        self.ctx = ctx
        self.on_update = on_update
        self._started = started
        # where the run's measurements count from, and why nothing is measured yet: pods of
        # a suspect revision still serving make the metrics theirs
        self._measuring = measuring
        self._lookbacks: dict[str, float] = {}
        self._revisions = revisions
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.states: dict[str, MetricState] = {}
        self.requests = 0

    def _client(self) -> Client:
        prom = self.ctx.environment.prometheus
        assert prom is not None  # start() polls nothing without one
        return client_for(prom, self.ctx)

    @property
    def started(self) -> datetime | None:
        """Analysis start; a callable is asked at every poll (it moves on a rollback)."""
        if callable(self._started):
            return self._started()
        return self._started

    def query_of(self, metric: MetricConfig) -> str:
        return metric_query(self.ctx.config, self.ctx.env_name, metric)

    def poll(self, metric: MetricConfig, client: Client | None) -> MetricState:
        """One range query for one metric, folded into its state."""
        previous = self.states.get(metric.name)
        query = self.query_of(metric)
        now = datetime.now(UTC)
        if metric.compare is not None:
            pair = self._revisions(metric) if self._revisions else None
            if pair is None or not pair.new or not pair.old:
                state = self._not_comparing(metric, query, previous, pair)
                self.states[metric.name] = state
                return state
            values = placeholder_values(self.ctx.config, self.ctx.env_name, metric)
            query = compare_query(metric, values, pair)
        step = duration_seconds(metric.step)
        errors = previous.consecutive_errors if previous else 0
        last_ok = previous.last_ok if previous else None
        points = list(previous.points) if previous else []
        error: str | None = None
        listing_failed: str | None = None
        warnings: tuple[str, ...] = ()
        details = previous.details if previous else ()
        try:
            if client is None:
                client = self._client()
            self.requests += 1
            start, end = query_span(metric, self.started, now)
            raw, warnings = range_query(client, query, start, end, step)
            points = [Point(at, value * metric.scale) for at, value in raw]
            if metric.alerts:
                values = placeholder_values(self.ctx.config, self.ctx.env_name, metric)
                try:
                    details = firing_alerts(
                        client, metric.alerts, lambda text: fill_placeholders(text, values), now
                    )
                except PrometheusError as exc:  # the gate's own query answered: a note only
                    listing_failed = str(exc)
            errors, last_ok = 0, now
        except PrometheusError as exc:
            # a query Prometheus refuses as such fails the same way every time: Error at once
            errors = max(errors + 1, metric.consecutive_error_limit if exc.permanent else 0)
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - any failure of the client: stale, then retry
            errors += 1
            error = f"{type(exc).__name__}: {exc}"
        measuring = self._measuring() if self._measuring else Measuring()
        if metric.compare is not None:  # new pods against old, each series its own pods'
            measuring = Measuring()
        lookback = 0.0
        if measuring.after_failure:
            if query not in self._lookbacks:
                self._lookbacks[query] = metric_lookback(metric, query)
            lookback = self._lookbacks[query]
        state = evaluate(
            metric,
            query,
            points,
            started=self.started,
            measure_from=measuring.since,
            waiting=measuring.waiting,
            lookback=lookback,
            consecutive_errors=errors,
            last_error=error,
            fetched_at=now if last_ok else None,
            last_ok=last_ok,
            warnings=warnings,
            details=details,
        )
        if metric.alerts and error is None:
            state = _alerts_agree(state, details, listing_failed)
        self.states[metric.name] = state
        return state

    def _not_comparing(
        self,
        metric: MetricConfig,
        query: str,
        previous: MetricState | None,
        pair: Revisions | None,
    ) -> MetricState:
        """No new and old pods serving side by side: a comparison made in this run keeps its
        outcome; one never made cannot back a pass."""
        started = self.started
        if previous is not None and previous.measurements and previous.run_started == started:
            note = "; no old pods serve now: the comparison made during the rollout stands"
            return replace(previous, reason=previous.reason.split("; no old pods")[0] + note)
        if pair is None or not pair.new:
            return MetricState(
                metric, query, reason="waiting for the deployment's revisions", run_started=started
            )
        return MetricState(
            metric,
            query,
            phase="Inconclusive",
            display="no data",
            reason="nothing to compare: no old pods served beside the new ones in this run "
            "(a human decides, or set gate = false)",
            run_started=started,
        )

    def poll_all(self) -> list[MetricState]:
        try:
            client: Client | None = self._client()
        except Exception:  # noqa: BLE001 - reported per metric by poll()
            client = None
        return [self.poll(metric, client) for metric in self.ctx.environment.metrics]

    def start(self) -> None:
        if self.ctx.environment.prometheus is None or not self.ctx.environment.metrics:
            return
        self._thread = threading.Thread(target=self._run, name="prometheus", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """Poll every metric now (a new analysis run started), not at its next interval."""
        self._wake.set()

    def _run(self) -> None:
        metrics = list(self.ctx.environment.metrics)
        due = {m.name: 0.0 for m in metrics}
        client: Client | None = None
        while not self._stop.is_set():
            if self._wake.is_set():
                self._wake.clear()
                due = dict.fromkeys(due, 0.0)
            now = time.monotonic()
            for metric in metrics:
                if self._stop.is_set():
                    return
                if now < due[metric.name]:
                    continue
                if client is None:
                    try:
                        client = self._client()
                    except Exception:  # noqa: BLE001 - poll() reports it as this metric's error
                        client = None
                state = self.poll(metric, client)
                if state.consecutive_errors:
                    client = None  # build a fresh session next time
                due[metric.name] = time.monotonic() + duration_seconds(metric.interval)
                self.on_update(state)
            wait = min(due.values()) - time.monotonic()
            self._wake.wait(max(0.1, min(wait, 5.0)))


def _matches(labels: dict[str, str], matchers: list[tuple[str, str, str]]) -> bool:
    import re

    for label, op, value in matchers:
        have = labels.get(label, "")
        if op == "=" and have != value:
            return False
        if op == "!=" and have == value:
            return False
        if op == "=~" and not re.fullmatch(value, have):
            return False
        if op == "!~" and re.fullmatch(value, have):
            return False
    return True


def firing_alerts(
    client: Client, matchers: list[str], fill: Callable[[str], str], now: datetime
) -> tuple[str, ...]:
    """The firing alerts the matchers select (Prometheus's /api/v1/alerts), each with its
    age: "HighErrorRate firing 3m (severity=critical, service=shop)", oldest first."""
    parsed = [parse_matcher(fill(m)) for m in matchers]
    answer = client.api("/api/v1/alerts", {})
    alerts = answer.data.get("alerts") if isinstance(answer.data, dict) else None
    found: list[tuple[datetime, str]] = []
    for alert in alerts if isinstance(alerts, list) else []:
        if not isinstance(alert, dict) or alert.get("state") != "firing":
            continue
        labels = {str(k): str(v) for k, v in dict(alert.get("labels") or {}).items()}
        if not _matches(labels, parsed):
            continue
        since = parse_time(alert.get("activeAt")) or now
        shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "alertname")
        name = labels.get("alertname", "?")
        found.append(
            (since, f"{name} firing {format_age(since, now)}" + (f" ({shown})" if shown else ""))
        )
    return tuple(visible_text(text) for _, text in sorted(found))


def placeholder_values(loaded: LoadedConfig, env_name: str, metric: MetricConfig) -> dict[str, str]:
    """The environment's placeholders, with {deployment} for this metric."""
    values = GoLiveContext(loaded, env_name).placeholders()
    if metric.deployment:
        values["deployment"] = metric.deployment
    elif "deployment" not in values:
        clusters = loaded.model.environments[env_name].clusters
        names = [r.name for r in clusters[0].targets if r.kind == "deployment"] if clusters else []
        if names:  # `deploy/web` in the list is web; a StatefulSet is never taken for it
            values["deployment"] = names[0]
    return values


def metric_query(loaded: LoadedConfig, env_name: str, metric: MetricConfig) -> str:
    """The metric's PromQL with the environment's placeholders and {deployment} filled."""
    return fill_placeholders(metric.query, placeholder_values(loaded, env_name, metric))


VALIDATE_TIMEOUT = 5.0  # seconds per query when `cockpit validate` asks Prometheus


def query_problems(loaded: LoadedConfig, env_name: str) -> tuple[list[str], list[str]]:
    """Ask Prometheus each metric's query once, as `cockpit validate` does: a query it refuses
    (a syntax error, an unknown function) or one that gives several series is a config error,
    found before the go-live. An unreachable Prometheus is only a warning (CI may not see it).
    """
    environment = loaded.model.environments[env_name]
    prom = environment.prometheus
    if prom is None or not environment.metrics:
        return [], []
    where = f"{loaded.path}: environments.{env_name}.prometheus"
    warnings = (
        [f"{where}: insecure_skip_verify = true: the server's certificate is not checked"]
        if prom.insecure_skip_verify
        else []
    )
    try:
        client = client_for(
            prom, GoLiveContext(loaded, env_name), timeout=min(prom.timeout, VALIDATE_TIMEOUT)
        )
    except CheckFailed:
        return [], warnings  # a secret that cannot be read: reported as such already
    problems: list[str] = []
    for index, metric in enumerate(environment.metrics):
        query = metric_query(loaded, env_name, metric)
        try:
            samples, _ = instant_query(client, query)
        except PrometheusError as exc:
            if not exc.permanent:
                warnings.append(f"{where}: queries not checked: {exc}")
                break
            problems.append(
                f"{loaded.path}: environments.{env_name}.metrics[{index}] ({metric.name!r}): {exc}"
            )
            continue
        if len(samples) > 1:
            problems.append(
                f"{loaded.path}: environments.{env_name}.metrics[{index}] ({metric.name!r}): "
                f"the query returns {len(samples)} series; aggregate it to one (sum, max, ...)"
            )
    return problems, warnings


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """Replace {name} where name is known; PromQL's own braces are left alone."""
    import re

    return re.sub(
        r"\{([A-Za-z_][A-Za-z0-9_]*)\}",
        lambda m: values.get(m.group(1), m.group(0)),
        text,
    )
