"""Prometheus queries through prometheus-api-client, with timeouts always set.

The client is synchronous (requests); callers run it in a thread. Its default has no timeout
and retries with backoff, which would hang a check or a pane: both are set explicitly here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cockpit.conditions import parse_sample_value
from cockpit.config import MetricConfig, duration_seconds
from cockpit.gates import MAX_MEASUREMENTS, MetricState, Point, evaluate, grid_floor

if TYPE_CHECKING:  # the client and requests load on first use, not at start-up
    from prometheus_api_client import PrometheusConnect


class PrometheusError(Exception):
    """Prometheus could not be asked, or answered with an error; the message says which."""


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


def connect(
    url: str,
    *,
    timeout: float,
    token: str | None = None,
    ca_file: Path | None = None,
    retries: int = 0,
    auth: tuple[str, str] | None = None,
) -> PrometheusConnect:
    import requests
    from prometheus_api_client import PrometheusConnect
    from urllib3.util.retry import Retry

    session = requests.Session()
    session.hooks["response"].append(_read_capped)
    if ca_file is not None:
        session.verify = str(ca_file)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return PrometheusConnect(
        url=url,
        headers=headers,
        session=session,
        auth=auth,
        timeout=timeout,
        retry=Retry(total=retries, backoff_factor=0.2, status_forcelist=[502, 503, 504]),
    )


MAX_BODY = 32 * 2**20  # bytes: a bigger answer is refused, not read into memory


def _read_capped(response: Any, *_args: Any, **_kwargs: Any) -> Any:
    """A response hook: read the body here, at most MAX_BODY bytes (requests would read any
    size). It runs before requests reads the body itself, which then finds it read."""
    from urllib3.exceptions import HTTPError as Urllib3Error

    try:
        data = response.raw.read(MAX_BODY + 1, decode_content=True)
    except Urllib3Error as exc:
        response.close()
        if "timed out" in str(exc).lower():
            raise PrometheusError("Prometheus did not answer in time") from exc
        raise PrometheusError(f"Prometheus broke off its answer: {exc}") from exc
    if len(data) > MAX_BODY:
        response.close()
        raise PrometheusError(
            f"Prometheus answered more than {MAX_BODY // 2**20} MB; not read (is the URL right?)"
        )
    response._content = data  # what requests itself sets once it has read a body
    return response


def _ask(client: PrometheusConnect, call: Callable[[], Any]) -> Any:
    """Run one client call; every failure becomes a PrometheusError with a readable reason."""
    import requests
    from prometheus_api_client.exceptions import PrometheusApiClientException

    try:
        return call()
    except PrometheusApiClientException as exc:
        raise PrometheusError(_api_message(str(exc))) from exc
    except requests.exceptions.RetryError as exc:
        raise PrometheusError(f"Prometheus kept failing: {exc}") from exc
    except requests.exceptions.Timeout as exc:
        raise PrometheusError("Prometheus did not answer in time") from exc
    except requests.exceptions.ConnectionError as exc:
        if "timed out" in str(exc).lower():  # urllib3 wraps read timeouts when retries are set
            raise PrometheusError("Prometheus did not answer in time") from exc
        raise PrometheusError(f"cannot reach Prometheus at {client.url}") from exc
    except (requests.exceptions.RequestException, ValueError) as exc:
        raise PrometheusError(f"bad answer from Prometheus: {exc}") from exc


def instant_query(client: PrometheusConnect, query: str) -> list[Sample]:
    """Run an instant query: its samples, or a PrometheusError."""
    result = _ask(client, lambda: client.custom_query(query))
    samples: list[Sample] = []
    if not isinstance(result, list):
        raise PrometheusError(f"unexpected result shape: {type(result).__name__}")
    if len(result) == 2 and not isinstance(result[0], dict):  # scalar: [ts, "value"]
        try:
            return [Sample({}, parse_sample_value(result[1]))]
        except ValueError as exc:
            raise PrometheusError(f"malformed scalar in the answer: {result!r:.200}") from exc
    for entry in result:
        try:
            labels = {str(k): str(v) for k, v in dict(entry.get("metric", {})).items()}
            samples.append(Sample(labels, parse_sample_value(entry["value"][1])))
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise PrometheusError(f"malformed sample in the answer: {entry!r:.200}") from exc
    return samples


def _api_message(text: str) -> str:
    # the library puts the raw body in the message; keep it short and readable
    return text if len(text) < 300 else text[:297] + "..."


# --- range queries and the metrics watcher ------------------------------------------------------


def range_query(
    client: PrometheusConnect, query: str, start: datetime, end: datetime, step_seconds: float
) -> list[tuple[datetime, float]]:
    """One series (the first) of a range query as (time, value) points; [] for no data."""
    step = f"{max(1, int(step_seconds))}s"
    result = _ask(
        client,
        lambda: client.custom_query_range(query, start_time=start, end_time=end, step=step),
    )
    if not isinstance(result, list):
        raise PrometheusError(f"unexpected result shape: {type(result).__name__}")
    if not result:
        return []
    if len(result) > 1:
        raise PrometheusError(
            f"the query returns {len(result)} series; aggregate it to one (sum, max, ...)"
        )
    try:
        return [
            (datetime.fromtimestamp(float(ts), UTC), parse_sample_value(value))
            for ts, value in result[0]["values"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise PrometheusError(f"malformed series in the answer: {exc}") from exc


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


class MetricsWatcher:
    """Polls each metric at its own interval from one thread, so polls never overlap; each
    update goes to the callback as a MetricState (stale with its error when Prometheus fails,
    back to live by itself when it answers again)."""

    def __init__(
        self,
        session: Any,
        on_update: Callable[[MetricState], object],
        *,
        started: datetime | Callable[[], datetime | None] | None = None,
    ) -> None:
        self.session = session
        self.on_update = on_update
        self._started = started
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.states: dict[str, MetricState] = {}
        self.requests = 0

    def _client(self) -> PrometheusConnect:
        from cockpit.checks.base import CheckContext

        prom = self.session.environment.prometheus
        ctx = CheckContext(self.session.config, self.session.env_name)
        token = ctx.secret(prom.token_env, prom.token_file, "token")
        password = ctx.secret(prom.password_env, prom.password_file, "password")
        return connect(
            prom.url,
            timeout=prom.timeout,
            token=token,
            ca_file=ctx.path(prom.ca_file) if prom.ca_file else None,
            auth=(prom.username, password or "") if prom.username else None,
        )

    @property
    def started(self) -> datetime | None:
        """Analysis start; a callable is asked at every poll (it moves on a rollback)."""
        if callable(self._started):
            return self._started()
        return self._started

    def query_of(self, metric: MetricConfig) -> str:
        from cockpit.checks.base import CheckContext

        ctx = CheckContext(self.session.config, self.session.env_name)
        values = ctx.placeholders()
        if metric.deployment:
            values["deployment"] = metric.deployment
        elif "deployment" not in values:
            clusters = self.session.environment.clusters
            names = (
                [r.name for r in clusters[0].targets if r.kind == "deployment"] if clusters else []
            )
            if names:  # `deploy/web` in the list is web
                values["deployment"] = names[0]
        return fill_placeholders(metric.query, values)

    def poll(self, metric: MetricConfig, client: PrometheusConnect | None) -> MetricState:
        """One range query for one metric, folded into its state."""
        previous = self.states.get(metric.name)
        query = self.query_of(metric)
        now = datetime.now(UTC)
        step = duration_seconds(metric.step)
        errors = previous.consecutive_errors if previous else 0
        last_ok = previous.last_ok if previous else None
        points = list(previous.points) if previous else []
        error: str | None = None
        try:
            if client is None:
                client = self._client()
            self.requests += 1
            start, end = query_span(metric, self.started, now)
            raw = range_query(client, query, start, end, step)
            points = [Point(at, value * metric.scale) for at, value in raw]
            errors, last_ok = 0, now
        except PrometheusError as exc:
            errors += 1
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - any failure of the client: stale, then retry
            errors += 1
            error = f"{type(exc).__name__}: {exc}"
        state = evaluate(
            metric,
            query,
            points,
            started=self.started,
            consecutive_errors=errors,
            last_error=error,
            fetched_at=now if last_ok else None,
            last_ok=last_ok,
        )
        self.states[metric.name] = state
        return state

    def poll_all(self) -> list[MetricState]:
        try:
            client: PrometheusConnect | None = self._client()
        except Exception:  # noqa: BLE001 - reported per metric by poll()
            client = None
        return [self.poll(metric, client) for metric in self.session.environment.metrics]

    def start(self) -> None:
        if self.session.environment.prometheus is None or not self.session.environment.metrics:
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
        metrics = list(self.session.environment.metrics)
        due = {m.name: 0.0 for m in metrics}
        client: PrometheusConnect | None = None
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


def fill_placeholders(text: str, values: dict[str, str]) -> str:
    """Replace {name} where name is known; PromQL's own braces are left alone."""
    import re

    return re.sub(
        r"\{([A-Za-z_][A-Za-z0-9_]*)\}",
        lambda m: values.get(m.group(1), m.group(0)),
        text,
    )
