"""Reaching Prometheus as real setups need it, against a real Prometheus.

- a Prometheus serving TLS that requires a client certificate and basic auth (its own
  --web.config.file), for mutual TLS, basic auth in the pane and in the check type, and
  skip-verify;
- a plain Prometheus behind a recording proxy (tests/test_prometheus_access.py's Recorder),
  which shows the headers that reached it, adds the `warnings` a Thanos querier sends with a
  partial answer, or trickles its answer a byte at a time.
"""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
import urllib.request
from pathlib import Path

import bcrypt
import pytest
import tomli_w

from cockpit.config import load_config
from cockpit.rehearsal.pki import CertificateAuthority
from cockpit.session import GoLiveSession
from cockpit.sources.prometheus import MetricsWatcher, PrometheusError, client_for, instant_query

from . import servers

PASSWORD = "s3cret-basic-pw"
METRIC = {"name": "error rate", "query": "vector(0.02)", "unit": "%", "fail": 1.0, "step": "1m"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prom-pki")
    ca = CertificateAuthority(folder, "prometheus test CA")
    other = CertificateAuthority(folder / "other", "somebody else's CA")
    return {
        "ca": ca.ca_file,
        "server": ca.issue("server", ["localhost"]),
        "client": ca.issue("client", ["cockpit"], ip=None, client=True),
        "stranger": other.issue("stranger", ["cockpit"], ip=None, client=True),
    }


@pytest.fixture(scope="module")
def secure_prometheus(tmp_path_factory, pki):
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    web = (
        "tls_server_config:\n"
        f"  cert_file: {pki['server'].cert}\n"
        f"  key_file: {pki['server'].key}\n"
        "  client_auth_type: RequireAndVerifyClientCert\n"
        f"  client_ca_file: {pki['ca']}\n"
        f"basic_auth_users:\n  ops: {hashed}\n"
    )
    folder = tmp_path_factory.mktemp("prom-secure")
    with servers.prometheus_server(folder, web_config=web) as port:
        yield port


class Recorder(http.server.ThreadingHTTPServer):
    """A reverse proxy to a real Prometheus that records what reached it."""

    daemon_threads = True

    def __init__(self, upstream: int) -> None:
        super().__init__(("127.0.0.1", 0), RecorderHandler)
        self.upstream = upstream
        self.seen: list[dict[str, str]] = []
        self.warnings: list[str] = []  # added to every answer, as a Thanos querier does
        self.trickle = 0.0  # seconds between bytes of the answer
        self.port = int(self.server_address[1])


class RecorderHandler(http.server.BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, *_args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.seen.append({k: v for k, v in self.headers.items()})
        url = f"http://127.0.0.1:{self.server.upstream}{self.path}"
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                status, body = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read()
        if self.server.warnings and body.startswith(b'{"status":"success"'):
            import json

            document = json.loads(body)
            document["warnings"] = self.server.warnings
            body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            if not self.server.trickle:
                self.wfile.write(body)
                return
            for index in range(len(body)):
                self.wfile.write(body[index : index + 1])
                self.wfile.flush()
                time.sleep(self.server.trickle)


@pytest.fixture(scope="module")
def plain_prometheus(tmp_path_factory):
    with servers.prometheus_server(tmp_path_factory.mktemp("prom-plain")) as port:
        yield port


@pytest.fixture
def recorder(plain_prometheus):
    proxy = Recorder(plain_prometheus)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()


def write(tmp_path: Path, prometheus: dict, *, metric: dict | None = None, checks=()) -> Path:
    (tmp_path / "runbook.md").write_text("## S\n- [ ] The item\n")
    document = {
        "checklist": "runbook.md",
        "environments": {"test": {"prometheus": prometheus, "metrics": [metric or METRIC]}},
        "checks": list(checks),
    }
    path = tmp_path / "cockpit.toml"
    path.write_text(tomli_w.dumps(document))
    return path


def poll(path: Path, operator):
    session = GoLiveSession.open(path, "test", operator=operator)
    (state,) = MetricsWatcher(session.check_context(), lambda _s: None).poll_all()
    return state


def ask(path: Path, query: str = "vector(1)"):
    from cockpit.checks import CheckContext

    loaded = load_config(path)
    prom = loaded.model.environments["test"].prometheus
    return instant_query(client_for(prom, CheckContext(loaded, "test")), query)


# --- headers and auth, seen by Prometheus's side -------------------------------------------------


def test_tenant_and_secret_headers_reach_prometheus_from_the_pane_and_the_check(
    tmp_path, recorder, run, operator, monkeypatch
):
    monkeypatch.setenv("PROM_API_KEY", "key-5f1e2d")
    monkeypatch.setenv("PROM_TOKEN", "tok-9a8b7c")
    prometheus = {
        "url": f"http://127.0.0.1:{recorder.port}",
        "headers": {"X-Scope-OrgID": "shop"},
        "headers_env": {"X-Api-Key": "PROM_API_KEY"},
        "token_env": "PROM_TOKEN",
    }
    state = poll(write(tmp_path, prometheus), operator)
    assert state.last_error is None and state.current == pytest.approx(0.02)
    result = run("prometheus", env={"prometheus": prometheus}, query="vector(1)", condition="> 0")
    assert result.passed, result.evidence
    assert len(recorder.seen) == 2  # the pane's range query, the check's instant query
    for headers in recorder.seen:
        assert headers["X-Scope-OrgID"] == "shop"
        assert headers["X-Api-Key"] == "key-5f1e2d"
        assert headers["Authorization"] == "Bearer tok-9a8b7c"
    assert "key-5f1e2d" not in repr(state) + result.evidence


def test_header_settings_are_refused_with_the_reason(tmp_path):
    from cockpit.errors import ConfigError

    for prometheus, said in [
        ({"headers": {"Authorization": "Bearer x"}}, "use token_env"),
        ({"headers": {"X Bad": "1"}}, "not an HTTP header name"),
        ({"headers_env": {"X-Api-Key": "key-5f1e2d-the-secret-itself!"}}, "NAME of an environment"),
        ({"cert_file": "c.pem"}, "both cert_file and key_file"),
        ({"token_env": "T", "username": "u"}, "not both"),
    ]:
        path = write(tmp_path, {"url": "http://127.0.0.1:9", **prometheus})
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        text = str(caught.value.message) + "".join(caught.value.details or ())
        assert said in text, text
        assert "key-5f1e2d-the-secret-itself" not in text


def test_mutual_tls_and_basic_auth_in_the_pane_and_the_check(
    tmp_path, secure_prometheus, pki, run, operator, monkeypatch
):
    monkeypatch.setenv("PROM_PASSWORD", PASSWORD)
    prometheus = {
        "url": f"https://localhost:{secure_prometheus}",
        "ca_file": str(pki["ca"]),
        "cert_file": str(pki["client"].cert),
        "key_file": str(pki["client"].key),
        "username": "ops",
        "password_env": "PROM_PASSWORD",
        "timeout": 5,
    }
    state = poll(write(tmp_path, prometheus), operator)
    assert state.last_error is None, state.last_error
    assert state.current == pytest.approx(0.02)
    result = run("prometheus", env={"prometheus": prometheus}, query="vector(1)", condition="> 0")
    assert result.passed, result.evidence  # the check sends the same basic auth and cert

    monkeypatch.setenv("PROM_PASSWORD", "wrong")
    with pytest.raises(PrometheusError, match="HTTP 401 from Prometheus"):
        ask(write(tmp_path, prometheus))
    monkeypatch.setenv("PROM_PASSWORD", PASSWORD)
    for cert in ("stranger", None):
        other = dict(prometheus)
        if cert is None:
            del other["cert_file"], other["key_file"]
        else:
            other.update(cert_file=str(pki[cert].cert), key_file=str(pki[cert].key))
        with pytest.raises(PrometheusError) as caught:
            ask(write(tmp_path, other))
        assert "localhost" in str(caught.value) and "object at 0x" not in str(caught.value)


def test_skip_verify_is_needed_for_an_unknown_ca_and_said_by_validate(
    tmp_path, secure_prometheus, pki, monkeypatch
):
    import subprocess
    import sys

    monkeypatch.setenv("PROM_PASSWORD", PASSWORD)
    prometheus = {
        "url": f"https://localhost:{secure_prometheus}",
        "cert_file": str(pki["client"].cert),
        "key_file": str(pki["client"].key),
        "username": "ops",
        "password_env": "PROM_PASSWORD",
        "timeout": 5,
    }
    with pytest.raises(PrometheusError, match="TLS with https://localhost"):
        ask(write(tmp_path, prometheus))
    path = write(tmp_path, {**prometheus, "insecure_skip_verify": True})
    samples, _ = ask(path)
    assert samples[0].value == 1
    cockpit = str(Path(sys.executable).parent / "cockpit")
    done = subprocess.run(
        [cockpit, "validate", "--config", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "insecure_skip_verify = true" in done.stderr


# --- what an answer says ------------------------------------------------------------------------


def test_a_partial_answer_is_inconclusive_in_the_pane_and_the_check(
    tmp_path, recorder, run, operator
):
    recorder.warnings = ["partial response: store 10.0.0.3:10901 did not answer"]
    prometheus = {"url": f"http://127.0.0.1:{recorder.port}"}
    state = poll(write(tmp_path, prometheus, metric={**METRIC, "min_samples": 1}), operator)
    assert state.phase == "Inconclusive", state.reason
    assert "store 10.0.0.3:10901 did not answer" in state.reason
    assert state.warnings == tuple(recorder.warnings)
    result = run("prometheus", env={"prometheus": prometheus}, query="vector(1)", condition="> 0")
    assert not result.passed and "may be partial" in result.evidence
    # a failure seen on part of the data is still a failure
    failing = {**METRIC, "query": "vector(5)", "min_samples": 1}
    assert poll(write(tmp_path, prometheus, metric=failing), operator).phase == "Failed"
    recorder.warnings = []
    assert poll(
        write(tmp_path, prometheus, metric={**METRIC, "min_samples": 1}), operator
    ).phase in (
        "Running",
        "Successful",
    )


def test_a_trickling_answer_is_cut_at_the_timeout_in_all(tmp_path, recorder):
    recorder.trickle = 0.05  # about 10 s for the answer, each byte well within a read timeout
    path = write(tmp_path, {"url": f"http://127.0.0.1:{recorder.port}", "timeout": 1})
    began = time.monotonic()
    with pytest.raises(PrometheusError, match=r"did not answer in 1s \(in all\)"):
        ask(path)
    assert time.monotonic() - began < 4  # not the ~10 s the answer takes to trickle


def test_a_query_prometheus_refuses_is_an_error_at_once_and_a_validate_problem(
    tmp_path, plain_prometheus, operator
):
    import subprocess
    import sys

    broken = {**METRIC, "query": "sum(rate(http_requests_total[5m])"}
    path = write(tmp_path, {"url": f"http://127.0.0.1:{plain_prometheus}"}, metric=broken)
    state = poll(path, operator)
    assert state.phase == "Error", state.reason  # not "no measurement yet" for three polls
    assert "Prometheus refused the query (bad_data)" in state.reason
    assert "parse error" in state.reason and "b'" not in state.reason
    cockpit = str(Path(sys.executable).parent / "cockpit")
    done = subprocess.run(
        [cockpit, "validate", "--config", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
    assert "metrics[0] ('error rate'): Prometheus refused the query (bad_data)" in done.stderr
    # unreachable at validate time: a warning, the config is still fine
    gone = write(tmp_path, {"url": f"http://127.0.0.1:{servers.free_port()}"}, metric=broken)
    done = subprocess.run(
        [cockpit, "validate", "--config", str(gone)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "queries not checked: cannot reach Prometheus" in done.stderr


def test_the_point_limit_is_checked_at_its_boundary(tmp_path):
    from cockpit.errors import ConfigError

    at_limit = {**METRIC, "window": "11000m", "step": "1m"}  # exactly 11,000 points: answered
    load_config(write(tmp_path, {"url": "http://127.0.0.1:9"}, metric=at_limit))
    over = {**METRIC, "window": "11001m", "step": "1m"}
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, {"url": "http://127.0.0.1:9"}, metric=over))
    text = caught.value.message + "".join(caught.value.details or ())
    assert "11,001 points" in text and "at most 11,000" in text


RULES = """
groups:
  - name: shop
    rules:
      - alert: ShopCheckoutDown
        expr: vector(1)
        labels: {severity: critical, service: shop}
        annotations: {summary: "[b]checkout[/b] is down"}
      - alert: ShopSlowish
        expr: vector(1)
        labels: {severity: info, service: shop}
      - alert: NeverFires
        expr: vector(1) > 2
        labels: {severity: critical, service: shop}
"""


@pytest.fixture(scope="module")
def alerting_prometheus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prom-alerts")
    with servers.prometheus_server(folder, rules=RULES) as port:
        yield port


def test_a_firing_alert_fails_its_gate_and_is_named_with_its_age(
    tmp_path, alerting_prometheus, operator
):
    prometheus = {"url": f"http://127.0.0.1:{alerting_prometheus}"}
    critical = {
        "name": "shop alerts",
        "alerts": ['severity="critical"', 'service=~"sho.*"'],
        "window": "2m",
        "step": "5s",
        "min_samples": 1,
    }
    path = write(tmp_path, prometheus, metric=critical)
    deadline = time.monotonic() + 30
    while True:  # the rules are evaluated every second from Prometheus's start
        state = poll(path, operator)
        if state.phase == "Failed" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert state.phase == "Failed", state.reason
    assert (
        state.query
        == 'count(ALERTS{alertstate="firing", severity="critical", service=~"sho.*"}) or vector(0)'
    )
    (firing,) = state.details  # NeverFires is not firing, ShopSlowish is not critical
    assert firing.startswith("ShopCheckoutDown firing ")
    assert "(service=shop, severity=critical)" in firing
    quiet = {**critical, "name": "pager", "alerts": ['severity="page"']}
    state = poll(write(tmp_path, prometheus, metric=quiet), operator)
    assert state.phase in ("Running", "Successful") and state.details == ()
    from cockpit.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        load_config(
            write(tmp_path, prometheus, metric={**critical, "alerts": ["severity=critical"]})
        )
    assert "is not a label matcher" in caught.value.message + "".join(caught.value.details or ())


def test_json_output_is_strict_json():
    import json
    import math

    from cockpit.strict_json import dumps

    text = dumps({"value": math.inf, "low": -math.inf, "none": math.nan, "rows": [(1.5, math.inf)]})
    parsed = json.loads(text, parse_constant=lambda word: pytest.fail(f"non-standard {word}"))
    assert parsed == {"value": "+Inf", "low": "-Inf", "none": None, "rows": [[1.5, "+Inf"]]}


# --- the new revision against the old ----------------------------------------------------------


@pytest.fixture(scope="module")
def canary_prometheus(tmp_path_factory):
    """Error ratios of a new (aaa111) and an old (bbb222) revision's pods, side by side."""
    now = int(time.time())
    ratios = {("bad", "aaa111"): 0.05, ("bad", "bbb222"): 0.001}
    ratios |= {("good", "aaa111"): 0.00105, ("good", "bbb222"): 0.001}
    ratios |= {("fresh", "aaa111"): 0.05}  # the old pods never had an error series at all
    lines = ["# TYPE http_error_ratio gauge"]
    for ts in range(now - 1800, now + 1800, 15):
        for (namespace, revision), ratio in ratios.items():
            labels = f'namespace="{namespace}",pod="web-{revision}-x1"'
            lines.append(f"http_error_ratio{{{labels}}} {ratio} {ts}")
    lines.append("# EOF")
    folder = tmp_path_factory.mktemp("prom-canary")
    with servers.prometheus_server(folder, "\n".join(lines) + "\n") as port:
        yield port


def compare_state(tmp_path, port, namespace, operator, revisions, *, polls=1):
    from cockpit.sources.prometheus import Revisions

    metric = {
        "name": "new vs old errors",
        "query": f'max(http_error_ratio{{namespace="{namespace}", pod=~"web-{{revision}}-.*"}})',
        "compare": {"tolerance": 0.1},
        "window": "10m",
        "step": "1m",
        "min_samples": 1,
    }
    session = GoLiveSession.open(
        write(tmp_path, {"url": f"http://127.0.0.1:{port}"}, metric=metric),
        "test",
        operator=operator,
    )
    pairs = iter(revisions)
    watcher = MetricsWatcher(
        session.check_context(), lambda _s: None, revisions=lambda _m: Revisions(*next(pairs))
    )
    states = [watcher.poll_all()[0] for _ in range(polls)]
    return states


def test_the_new_revision_worse_than_the_old_fails_and_as_good_passes(
    tmp_path, canary_prometheus, operator
):
    (bad,) = compare_state(tmp_path, canary_prometheus, "bad", operator, [("aaa111", "bbb222")])
    assert bad.phase == "Failed", bad.reason
    assert bad.current == pytest.approx(50)  # 0.05 against 0.001
    assert "web-aaa111-" in bad.query and "web-bbb222-" in bad.query
    (good,) = compare_state(tmp_path, canary_prometheus, "good", operator, [("aaa111", "bbb222")])
    assert good.phase in ("Running", "Successful"), good.reason
    assert good.current == pytest.approx(1.05)
    assert good.metric.fail == pytest.approx(1.1) and good.metric.unit == "× old"
    (fresh,) = compare_state(tmp_path, canary_prometheus, "fresh", operator, [("aaa111", "bbb222")])
    assert fresh.phase == "Failed", fresh.reason  # errors against none: not "no data, pass"


def test_a_comparison_needs_old_pods_and_keeps_its_outcome_after_them(
    tmp_path, canary_prometheus, operator
):
    (never,) = compare_state(tmp_path, canary_prometheus, "bad", operator, [("aaa111", None)])
    assert never.phase == "Inconclusive" and "nothing to compare" in never.reason
    (waiting,) = compare_state(tmp_path, canary_prometheus, "bad", operator, [(None, None)])
    assert waiting.phase == "Pending"
    measured, after = compare_state(
        tmp_path,
        canary_prometheus,
        "bad",
        operator,
        [("aaa111", "bbb222"), ("aaa111", None)],
        polls=2,
    )
    assert measured.phase == after.phase == "Failed"  # the old pods went: the failure stands
    assert "the comparison made during the rollout stands" in after.reason


def test_serving_revisions_are_the_new_and_the_newest_old_with_ready_pods():
    from cockpit.rollout import serving_revisions

    def rs(name, revision, ready, image):
        return {
            "metadata": {
                "name": f"web-{name}",
                "uid": name,
                "labels": {"pod-template-hash": name},
                "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                "ownerReferences": [{"uid": "d1", "controller": True, "kind": "Deployment"}],
            },
            "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
            "status": {"readyReplicas": ready},
        }

    deployment = {
        "metadata": {"name": "web", "uid": "d1", "annotations": {}},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "web:3"}]}}},
    }
    sets = [rs("aaa", 1, 0, "web:1"), rs("bbb", 2, 2, "web:2"), rs("ccc", 3, 1, "web:3")]
    assert serving_revisions(deployment, sets) == ("ccc", "bbb")
    sets[1]["status"]["readyReplicas"] = 0  # the rollout is over: no old pods serve
    assert serving_revisions(deployment, sets) == ("ccc", None)
