"""`cockpit init` on runbooks of several styles: what it suggests, and what it leaves alone.

Each expected list below is the whole of what `init` proposes for that runbook, and each entry
was judged as one an operator would keep; the items named in the `left_alone` lists are the
traps of that style (announcements, vault entries, DNS cache TTLs, alerts, steps that change
things), which must get no check at all.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from cockpit.checklist import load_checklist
from cockpit.checklist.markdown import runbook_prose
from cockpit.cli import cli
from cockpit.starter import stated_gates, suggest_checks

from .conftest import SAMPLE_RUNBOOK

RUNBOOKS = Path(__file__).parent / "runbooks"
TEMPLATE = "release-issue-template.md"


def suggestions(path: Path) -> list[tuple[str, str, dict[str, object]]]:
    """(item text, check type, the fields that make the check what it is)."""
    wanted = (
        "url",
        "host",
        "name",
        "deployment",
        "namespace",
        "min_days_valid",
        "condition",
        "require_headers",
        "expect_https_redirect",
        "min_streaming_replicas",
        "min_connected_replicas",
        "min_version",
    )
    return [
        (s.item.text, s.check["type"], {k: s.check[k] for k in wanted if k in s.check})
        for s in suggest_checks(load_checklist(path))
    ]


def gates(path: Path) -> list[tuple[str, float, float, str]]:
    return [
        (g["name"], g["fail"], g["warn"], g.get("direction", "upper"))
        for g in stated_gates(runbook_prose(path.read_text(encoding="utf-8")))
    ]


def test_sample_runbook_gets_the_checks_its_own_config_binds():
    assert suggestions(SAMPLE_RUNBOOK) == [
        ("Database primary healthy and replicas streaming", "postgres",
         {"min_streaming_replicas": 1}),
        ("Redis reachable and replicating", "redis",
         {"url": "redis://redis.{host}:6379/0", "min_connected_replicas": 1}),
        ("TLS certificate valid for at least 14 more days", "tls",
         {"host": "{host}", "min_days_valid": 14}),
        ("Public DNS record points at the load balancer", "dns", {"name": "{host}"}),
        ("Health endpoint reports every dependency up", "http", {"url": "https://{host}/health"}),
        ("Plain HTTP redirects to HTTPS", "http",
         {"url": "http://{host}/", "expect_https_redirect": True}),
        ("Security headers sent (HSTS, CSP, X-Frame-Options)", "http",
         {"url": "https://{host}/", "require_headers": [
             "Strict-Transport-Security", "Content-Security-Policy", "X-Frame-Options"]}),
        ("Mail relay accepts our sender address", "smtp", {"host": "smtp.{host}"}),
        ("Prometheus scrapes the application's metrics endpoint", "prometheus",
         {"condition": ">= 1"}),
        ("p95 latency below 100 ms for 15 minutes", "prometheus", {"condition": "< 0.1"}),
        ("Error ratio below 0.1 % for 15 minutes", "prometheus", {"condition": "< 0.001"}),
    ]  # fmt: skip
    # "Roll out the new image" runs `set image` before `rollout status`: it stays a step
    assert gates(SAMPLE_RUNBOOK) == [
        ("p95 latency", 100.0, 80.0, "upper"),
        ("error rate", 0.1, 0.08, "upper"),
    ]


def test_a_github_issue_template_reads_urls_and_hosts_and_skips_its_traps():
    path = RUNBOOKS / "release-issue-template.md"
    assert suggestions(path) == [
        ("https://api.example.org/healthz returns 200", "http",
         {"url": "https://api.example.org/healthz"}),
        ("Certificate for api.example.org valid for at least 30 days", "tls",
         {"host": "api.example.org", "min_days_valid": 30}),
        ("DNS for api.example.org resolves to the new load balancer", "dns",
         {"name": "api.example.org"}),
        ("Error rate below 0.5 % for 10 minutes", "prometheus", {"condition": "< 0.005"}),
        ("PostgreSQL primary reachable from the new pods", "postgres", {}),
    ]  # fmt: skip
    assert gates(path) == [("error rate", 0.5, 0.4, "upper")]
    error_rate = next(
        s for s in suggest_checks(load_checklist(path)) if s.check["type"] == "prometheus"
    )
    assert error_rate.check["query"].startswith("max_over_time((")  # "for 10 minutes"
    assert error_rate.check["query"].endswith(")[10m:1m])")


def test_an_sre_runbook_turns_looking_steps_into_checks_and_leaves_changing_ones():
    path = RUNBOOKS / "sre-runbook.md"
    assert suggestions(path) == [
        ("Check the current rollout", "kube",
         {"deployment": "payments-worker", "namespace": "payments"}),
        ("Wait for the rollout", "kube",
         {"deployment": "payments-worker", "namespace": "payments"}),
        ("Probe the service", "http", {"url": "https://payments.example.net/ready"}),
        ("`kubectl -n payments rollout status deploy/payments-consumer` reports success", "kube",
         {"deployment": "payments-consumer", "namespace": "payments"}),
        ("Redis replication healthy after the drain", "redis",
         {"url": "redis://redis.{host}:6379/0", "min_connected_replicas": 1}),
        ("p99 latency below 250 ms", "prometheus", {"condition": "< 0.25"}),
    ]  # fmt: skip
    assert gates(path) == [
        ("p99 latency", 250.0, 200.0, "upper"),
        ("throughput", 50.0, 60.0, "lower"),
    ]


def test_a_portuguese_handbook_page_gets_checks_from_hosts_urls_and_commands():
    path = RUNBOOKS / "handbook-pt.md"
    assert suggestions(path) == [
        ("Certificado TLS de portal.exemplo.com.br válido por mais 21 dias", "tls",
         {"host": "portal.exemplo.com.br", "min_days_valid": 21}),
        ("DNS de portal.exemplo.com.br aponta para o novo balanceador", "dns",
         {"name": "portal.exemplo.com.br"}),
        ("Verificar o rollout", "kube", {"deployment": "portal-web", "namespace": "portal"}),
        ("https://portal.exemplo.com.br/saude responde 200", "http",
         {"url": "https://portal.exemplo.com.br/saude"}),
    ]  # fmt: skip
    # a p95 target in a bold bullet is a gate; 99,9 % a month is an SLO, not a window's gate
    assert gates(path) == [("p95 latency", 300.0, 240.0, "upper")]


@pytest.mark.parametrize(
    ("runbook", "text"),
    [
        (TEMPLATE, "Announce the window by email to customer support"),
        (TEMPLATE, "Record the new database password in the vault"),
        (TEMPLATE, "Lower the DNS cache TTL to 60 seconds a day ahead"),
        (TEMPLATE, "Post the release notes to https://wiki.example.org/billing/releases"),
        (TEMPLATE, "Status page https://status.example.org/ shows the maintenance"),
        (TEMPLATE, "Link https://grafana.example.org/d/status/ in the release thread"),
        ("sre-runbook.md", "Scale up the queue consumers"),
        ("sre-runbook.md", "Drain the old queue"),
        ("sre-runbook.md", "Alerts for the worker switched back on"),
        ("sre-runbook.md", "TLS 1.2 enforced on the public endpoint"),
        ("sre-runbook.md", "Restart if the rollout is stuck"),
        ("sre-runbook.md", "Consumers scaled with `kubectl scale` (see step 2)"),
        ("sre-runbook.md", "Health check alerts routed to the on-call rotation"),
        ("sre-runbook.md", "Redis connection password copied to the vault"),
        ("handbook-pt.md", "Reduzir o TTL do DNS para 300 segundos"),
        ("handbook-pt.md", "Conferir a API"),
    ],
)  # fmt: skip
def test_traps_of_each_style_get_no_suggestion(runbook, text):
    path = RUNBOOKS / runbook
    items = [i.text for i in load_checklist(path).items()]
    assert text in items  # the trap is really an item of the runbook
    assert text not in [s[0] for s in suggestions(path)]


def test_no_gate_is_invented_for_a_runbook_that_states_no_target(tmp_path):
    runbook = tmp_path / "small.md"
    runbook.write_text("## Go\n- [ ] Health endpoint answers\n- [ ] Throughput: 1000 req/s\n")
    assert gates(runbook) == []  # a stated rate with no floor word is a capacity figure
    output = tmp_path / "cockpit.toml"
    result = CliRunner().invoke(cli, ["init", "--checklist", str(runbook), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert "0 gate(s)" in result.output
    document = tomllib.loads(output.read_text())
    assert "metrics" not in document["environments"]["production"]


@pytest.mark.parametrize(
    "runbook", ["release-issue-template.md", "sre-runbook.md", "handbook-pt.md"]
)
def test_the_starter_of_each_style_validates_with_every_suggestion_marked(
    runbook, tmp_path, monkeypatch
):
    for name in ("COCKPIT_PROMETHEUS_TOKEN", "COCKPIT_DB_DSN", "COCKPIT_REDIS_PASSWORD"):
        monkeypatch.setenv(name, "set-for-the-test")
    output = tmp_path / "cockpit.toml"
    runner = CliRunner()
    written = runner.invoke(
        cli, ["init", "--checklist", str(RUNBOOKS / runbook), "-o", str(output)]
    )
    assert written.exit_code == 0, written.output
    document = tomllib.loads(output.read_text())
    assert document["checks"] and all(c["suggested"] for c in document["checks"])
    metrics = document["environments"]["production"]["metrics"]
    assert metrics and all(m["suggested"] for m in metrics)
    valid = runner.invoke(cli, ["validate", "-c", str(output), "--env", "production"])
    assert valid.exit_code == 0, valid.output
    assert "metrics[0]" in valid.output and "still marked suggested = true" in valid.output


def test_rollout_status_of_any_kind_kubectl_judges_becomes_a_kube_check():
    from cockpit.starter import _verification

    assert _verification("kubectl -n data rollout status sts/db") == (
        "kubectl rollout status",
        {"type": "kube", "what": "rolled-out", "workload": "statefulset/db", "namespace": "data"},
    )
    assert _verification("kubectl rollout status daemonset agent")[1]["workload"] == (
        "daemonset/agent"
    )
    assert _verification("kubectl rollout status deploy/web")[1]["deployment"] == "web"
    assert _verification("kubectl rollout status rollout/shop") is None  # not kubectl's
