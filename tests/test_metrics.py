"""Metrics, gates and the verdict against a real Prometheus with backfilled scenarios.

Prometheus 2.x from Debian, data written by promtool from OpenMetrics made in prom_data.py:
a healthy release, a latency regression, an error spike, no traffic (NaN from 0/0), a
counter reset, and Prometheus stopped mid-run.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from cockpit.session import GoLiveSession
from cockpit.sources.prometheus import MetricsWatcher

from . import servers
from .prom_data import openmetrics

SCENARIOS = ("healthy", "latency", "errors", "idle", "reset", "recovered")
COCKPIT = str(Path(sys.executable).parent / "cockpit")

METRICS = """
[[environments.{env}.metrics]]
name = "p95 latency"
query = 'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{{namespace="{{namespace}}"}}[5m])))'
unit = "ms"
scale = 1000
window = "15m"
step = "1m"
warn = 80
fail = 100

[[environments.{env}.metrics]]
name = "error rate"
query = 'sum(rate(http_requests_total{{namespace="{{namespace}}", code=~"5.."}}[5m])) / sum(rate(http_requests_total{{namespace="{{namespace}}"}}[5m]))'
unit = "%"
scale = 100
window = "15m"
step = "1m"
warn = 0.05
fail = 0.1
"""

THROUGHPUT = """
[[environments.{env}.metrics]]
name = "throughput"
query = 'sum(rate(http_requests_total{{namespace="{{namespace}}"}}[5m]))'
unit = "req/s"
window = "15m"
step = "1m"
direction = "lower"
warn = 1200
fail = 1000
"""


@pytest.fixture(scope="session")
def prometheus_scenarios(tmp_path_factory):
    data = openmetrics(int(time.time()), SCENARIOS)
    with servers.prometheus_server(tmp_path_factory.mktemp("prom-scenarios"), data) as port:
        yield port


def write_config(folder: Path, port: int, *, throughput: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "runbook.md").write_text("## S\n- [ ] x\n")
    parts = ['checklist = "runbook.md"\n']
    for env in SCENARIOS:
        parts.append(
            f'[environments.{env}]\n[environments.{env}.placeholders]\nnamespace = "{env}"\n'
            f'[environments.{env}.prometheus]\nurl = "http://127.0.0.1:{port}"\ntimeout = 5\n'
        )
        parts.append(METRICS.format(env=env))
        if throughput:
            parts.append(THROUGHPUT.format(env=env))
    path = folder / "cockpit.toml"
    path.write_text("\n".join(parts))
    return path


def evaluate(path: Path, env: str, operator):
    session = GoLiveSession.open(path, env, operator=operator)
    watcher = MetricsWatcher(session.check_context(), lambda _s: None)
    states = {s.metric.name: s for s in watcher.poll_all()}
    return session, states, session.verdict(list(states.values()), [])


def test_healthy_release_is_go(prometheus_scenarios, tmp_path, operator):
    _, states, result = evaluate(write_config(tmp_path, prometheus_scenarios), "healthy", operator)
    p95 = states["p95 latency"]
    assert p95.phase == "Successful", p95.reason
    assert 40 < p95.current < 60 and p95.display == "ok"
    assert len(p95.measurements) >= 10
    assert states["error rate"].phase == "Successful"
    assert abs(states["error rate"].current - 0.02) < 0.001
    assert states["throughput"].phase == "Successful"
    assert abs(states["throughput"].current - 1500) < 1
    assert result.state == "GO", result.reasons


def test_latency_regression_is_no_go_with_the_reason(prometheus_scenarios, tmp_path, operator):
    _, states, result = evaluate(write_config(tmp_path, prometheus_scenarios), "latency", operator)
    p95 = states["p95 latency"]
    assert p95.phase == "Failed"
    assert p95.display == "breach"
    assert p95.current == pytest.approx(250, rel=0.05)
    healthy_points = [m for m in p95.measurements if m.outcome == "Successful"]
    assert healthy_points and healthy_points[0].at < p95.measurements[-1].at  # before the release
    assert result.state == "NO-GO"
    reason = result.reasons[0]
    assert "gate p95 latency failed" in reason and "250 ms" in reason
    assert "fails at 100 ms or above" in reason
    assert states["error rate"].phase == "Successful"


def test_error_spike_is_no_go(prometheus_scenarios, tmp_path, operator):
    _, states, result = evaluate(write_config(tmp_path, prometheus_scenarios), "errors", operator)
    errors = states["error rate"]
    assert errors.phase == "Failed"
    assert errors.current == pytest.approx(5, rel=0.05)
    assert any("gate error rate failed" in r for r in result.reasons)
    assert result.state == "NO-GO"


def test_no_traffic_is_no_data_not_a_silent_pass(prometheus_scenarios, tmp_path, operator):
    path = write_config(tmp_path, prometheus_scenarios, throughput=False)
    _, states, result = evaluate(path, "idle", operator)
    for name in ("p95 latency", "error rate"):
        assert states[name].phase == "Inconclusive", states[name].reason
        assert states[name].display == "no data"
        assert states[name].current is None
    assert result.state == "PENDING"
    assert any("no data" in r for r in result.reasons)
    with_throughput = write_config(tmp_path / "t", prometheus_scenarios)
    _, states, result = evaluate(with_throughput, "idle", operator)
    assert states["throughput"].phase == "Failed"  # 0 req/s is below the floor
    assert result.state == "NO-GO"


def test_counter_reset_does_not_trip_the_gates(prometheus_scenarios, tmp_path, operator):
    _, states, result = evaluate(write_config(tmp_path, prometheus_scenarios), "reset", operator)
    assert all(s.phase == "Successful" for s in states.values()), {
        n: s.reason for n, s in states.items()
    }
    assert result.state == "GO"


def test_prometheus_stopped_mid_run_goes_stale_errors_and_recovers(tmp_path, operator):
    folder = tmp_path / "prom"
    folder.mkdir()
    data = openmetrics(int(time.time()), ("healthy",))
    with servers.prometheus_server(folder, data) as port:
        path = write_config(tmp_path, port)
        session = GoLiveSession.open(path, "healthy", operator=operator)
        watcher = MetricsWatcher(session.check_context(), lambda _s: None)
        metric = session.environment.metrics[0]
        assert watcher.poll(metric, None).phase == "Successful"
    # the context manager stopped Prometheus: the next polls fail
    stale = watcher.poll(metric, None)
    assert stale.stale and stale.consecutive_errors == 1
    assert "cannot reach Prometheus" in stale.last_error
    assert stale.points  # the last good points stay on screen
    # one failed query is not yet an Error, but no longer a pass: the verdict cannot see it
    assert stale.phase == "Stale"
    pending = session.verdict([stale], [])
    assert pending.state == "PENDING"
    assert any(r.startswith("cannot see metric") for r in pending.reasons)
    for _ in range(3):
        stale = watcher.poll(metric, None)
    assert stale.phase == "Error"
    assert "4 queries in a row failed" in stale.reason
    assert session.verdict([stale], []).state == "NO-GO"
    with servers.prometheus_server(tmp_path / "prom2", data) as port2:
        path.write_text(path.read_text().replace(f":{port}", f":{port2}"))
        session = GoLiveSession.open(path, "healthy", operator=operator)
        watcher.ctx = session.check_context()
        recovered = watcher.poll(session.environment.metrics[0], None)
    assert not recovered.stale and recovered.phase == "Successful"


def test_status_json_has_metrics_gates_and_verdict(prometheus_scenarios, tmp_path):
    import json

    from click.testing import CliRunner

    from cockpit.cli import cli

    path = write_config(tmp_path, prometheus_scenarios)
    result = CliRunner().invoke(cli, ["status", "-c", str(path), "-e", "latency", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert {m["name"] for m in data["metrics"]} == {"p95 latency", "error rate", "throughput"}
    assert data["verdict"]["state"] == "NO-GO"
    gates = {g["name"]: g["phase"] for g in data["gates"]}
    assert gates["p95 latency"] == "Failed"
    p95 = next(m for m in data["metrics"] if m["name"] == "p95 latency")
    assert p95["threshold"] == "warns at 80 ms or above, fails at 100 ms or above"
    assert p95["points"] and p95["display"] == "breach"


def test_gate_exit_codes_drive_a_shell_script(prometheus_scenarios, tmp_path):
    path = write_config(tmp_path, prometheus_scenarios, throughput=False)
    script = f"""
    if "{COCKPIT}" gate -c "{path}" -e "$1" --wait 2s >/dev/null 2>&1; then
        echo promote
    else
        case $? in
            1) echo "roll back" ;;
            3) echo "ask a human" ;;
            *) echo "broken" ;;
        esac
    fi
    """
    decisions = {}
    for env in ("healthy", "latency", "idle", "nope"):
        run = subprocess.run(
            ["sh", "-c", script, "gate", env],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        decisions[env] = run.stdout.strip()
    assert decisions == {
        "healthy": "promote",
        "latency": "roll back",
        "idle": "ask a human",
        "nope": "broken",  # unknown environment: exit 2
    }


def test_burn_rate_gate_fails_a_fast_burn_and_passes_a_slow_one(
    prometheus_scenarios, tmp_path, operator
):
    """99.9 % over 1h/5m at 14.4 and 6h/30m at 6: the error scenario (5 % errors for the last
    ten minutes) burns the budget about 17 times over in 30m and 8.5 in 1h, so the 6h/30m pair
    fails; the healthy one (0.02 %) burns a fifth of it; the recovered one burned an hour ago
    and passes: its 6h window still burns past its factor (the backfill holds one hour, so
    the 6h window sees that hour), its 30m window no longer does."""
    (tmp_path / "runbook.md").write_text("## S\n- [ ] x\n")
    ratio = (
        'sum(rate(http_requests_total{namespace="{namespace}", code=~"5.."}[{range}])) / '
        'sum(rate(http_requests_total{namespace="{namespace}"}[{range}]))'
    )
    parts = ['checklist = "runbook.md"']
    for env in ("errors", "healthy", "recovered"):
        parts.append(
            f'[environments.{env}]\n[environments.{env}.placeholders]\nnamespace = "{env}"\n'
            f'[environments.{env}.prometheus]\nurl = "http://127.0.0.1:{prometheus_scenarios}"\n'
            f"[[environments.{env}.metrics]]\n"
            f'name = "checkout SLO"\nwindow = "15m"\nstep = "1m"\n'
            f"burn_rate = {{ objective = 99.9, error_ratio = '{ratio}' }}\n"
        )
    path = tmp_path / "cockpit.toml"
    path.write_text("\n".join(parts))
    _, burning, _ = evaluate(path, "errors", operator)
    state = burning["checkout SLO"]
    assert state.phase == "Failed", state.reason
    assert 1.2 < state.current < 1.8  # the 6h/30m pair: min(8.5, 17) / 6
    assert state.metric.unit == "× burn"
    _, calm, _ = evaluate(path, "healthy", operator)
    assert calm["checkout SLO"].current < 0.1, calm["checkout SLO"].reason
    assert calm["checkout SLO"].phase in ("Running", "Successful")
    # errors 50 to 60 minutes ago, none since: the 6h window still burns (about 1.4 times its
    # factor) but the 30m one does not, and a pair fails only when both windows burn
    _, recovered, _ = evaluate(path, "recovered", operator)
    state = recovered["checkout SLO"]
    assert state.phase in ("Running", "Successful"), state.reason
    assert state.current < 0.1, state.reason


def test_a_metric_has_one_source_of_its_query(tmp_path):
    from cockpit.config import load_config
    from cockpit.errors import ConfigError

    (tmp_path / "runbook.md").write_text("## S\n- [ ] x\n")
    for metric, said in [
        ('query = "up"\nalerts = [\'severity="critical"\']', "not query and alerts"),
        ("fail = 1", "set one of query, alerts or burn_rate"),
        ("burn_rate = { objective = 99.9, error_ratio = 'x' }", "needs {range}"),
        ("burn_rate = { objective = 100, error_ratio = 'x[{range}]' }", "less than 100"),
    ]:
        path = tmp_path / "cockpit.toml"
        path.write_text(
            'checklist = "runbook.md"\n[environments.e]\n[environments.e.prometheus]\n'
            f'url = "http://127.0.0.1:9"\n[[environments.e.metrics]]\nname = "m"\n{metric}\n'
        )
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        text = caught.value.message + "".join(caught.value.details or ())
        assert said in text, text


def test_the_deployment_placeholder_is_the_first_deployments_name(write_config, operator):
    """`deploy/web` in the list fills {deployment} with web; a StatefulSet listed first does not."""
    from .conftest import BASE_CONFIG

    path = write_config(
        BASE_CONFIG
        + """
[environments.production.prometheus]
url = "https://prometheus.example.com"

[[environments.production.metrics]]
name = "rps"
query = 'sum(rate(http_requests_total{namespace="{namespace}", deployment="{deployment}"}[5m]))'
gate = false

[[environments.production.clusters]]
name = "eu"
namespace = "shop"
statefulsets = ["db"]
deployments = ["deploy/web"]
"""
    )
    session = GoLiveSession.open(path, "production", operator=operator)
    watcher = MetricsWatcher(session.check_context(), lambda _s: None)
    query = watcher.query_of(session.environment.metrics[0])
    assert query == 'sum(rate(http_requests_total{namespace="shop", deployment="web"}[5m]))'
