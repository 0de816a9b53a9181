"""Backfill data for the metrics tests: a web service's counters and latency histogram under
several scenarios, one Prometheus `namespace` label each, as OpenMetrics text for promtool."""

from __future__ import annotations

BUCKETS = ("0.025", "0.05", "0.1", "0.25", "0.5", "1", "+Inf")
STEP = 15
RPS = 1500


def _shares(latency_slow: bool) -> list[float]:
    # share of requests per bucket (non-cumulative), for the buckets above
    if latency_slow:
        return [0.05, 0.10, 0.15, 0.65, 0.05, 0.0, 0.0]
    return [0.60, 0.37, 0.03, 0.0, 0.0, 0.0, 0.0]


def scenario_at(name: str, seconds_before_now: int) -> tuple[float, float, bool]:
    """(requests per second, share of 5xx, slow) for a scenario at a moment."""
    recent = seconds_before_now <= 600  # the last ten minutes: the "release"
    if name == "idle":
        return 0.0, 0.0, False
    if name == "latency":
        return RPS, 0.0002, recent
    if name == "errors":
        return RPS, 0.05 if recent else 0.0002, False
    if name == "recovered":  # 5 % errors 50 to 60 minutes ago, healthy since
        return RPS, 0.05 if seconds_before_now >= 3000 else 0.0002, False
    return RPS, 0.0002, False  # healthy, reset


def openmetrics(
    now: int, scenarios: tuple[str, ...], history: int = 3600, future: int = 3600
) -> str:
    times = list(range(now - history, now + future, STEP))
    counters: list[str] = []
    histograms: list[str] = []
    for name in scenarios:
        ok_total = err_total = count = total_sum = 0.0
        cumulative = [0.0] * len(BUCKETS)
        labels = f'namespace="{name}"'
        for ts in times:
            before = now - ts
            if name == "reset" and before == 1200:
                # the service restarted: every counter starts again from zero
                ok_total = err_total = count = total_sum = 0.0
                cumulative = [0.0] * len(BUCKETS)
            rps, error_share, slow = scenario_at(name, before)
            requests = rps * STEP
            err_total += requests * error_share
            ok_total += requests * (1 - error_share)
            count += requests
            total_sum += requests * (0.2 if slow else 0.03)
            running = 0.0
            for index, share in enumerate(_shares(slow)):
                running += share
                cumulative[index] += requests * running
            counters.append(f'http_requests_total{{{labels},code="200"}} {ok_total:.1f} {ts}')
            counters.append(f'http_requests_total{{{labels},code="500"}} {err_total:.1f} {ts}')
            for index, le in enumerate(BUCKETS):
                histograms.append(
                    f'http_request_duration_seconds_bucket{{{labels},le="{le}"}} '
                    f"{cumulative[index]:.1f} {ts}"
                )
            histograms.append(f"http_request_duration_seconds_count{{{labels}}} {count:.1f} {ts}")
            histograms.append(f"http_request_duration_seconds_sum{{{labels}}} {total_sum:.3f} {ts}")
    return (
        "\n".join(
            [
                "# TYPE http_requests counter",
                *counters,
                "# TYPE http_request_duration_seconds histogram",
                *histograms,
                "# EOF",
            ]
        )
        + "\n"
    )
