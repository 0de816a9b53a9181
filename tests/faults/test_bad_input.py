"""Bad input, generated: the config loader, the Markdown parser and every API response parser
give a clear error (or a clean result), never a traceback. 200+ cases each (hypothesis)."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.checklist import parse_checklist
from cockpit.conditions import Condition, parse_sample_value
from cockpit.config import load_config
from cockpit.errors import ChecklistError, CockpitError
from cockpit.gates import Point, evaluate
from cockpit.rollout import UndoRefused, history, plan_undo, pod_trouble, rollout_status
from cockpit.sources.errors import TrackerError, bugsink_issue, next_cursor, sentry_issue

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)

KEYS = [
    "checklist",
    "default_environment",
    "environments",
    "production",
    "clusters",
    "name",
    "namespace",
    "deployments",
    "prometheus",
    "url",
    "token_env",
    "metrics",
    "query",
    "fail",
    "warn",
    "errors",
    "provider",
    "checks",
    "item",
    "type",
    "argv",
    "theme",
    "keys",
]

toml_scalars = st.one_of(
    st.text(max_size=15), st.integers(), st.booleans(), st.lists(st.text(max_size=8), max_size=3)
)


@st.composite
def toml_documents(draw):
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.integers(0, 3))
        key = draw(st.sampled_from(KEYS))
        if kind == 0:
            lines.append(f"[{draw(st.sampled_from(['environments.p', 'state', 'audit', key]))}]")
        elif kind == 1:
            lines.append(f"[[{draw(st.sampled_from(['checks', 'environments.p.clusters']))}]]")
        else:
            lines.append(f"{key} = {json.dumps(draw(toml_scalars))}")
    if draw(st.booleans()):
        lines.append(draw(st.text(max_size=30)))  # raw garbage, often invalid TOML
    return "\n".join(lines)


@SETTINGS
@given(toml_documents())
def test_config_loader_never_crashes(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cockpit.toml"
        try:
            path.write_text(text, encoding="utf-8")
        except UnicodeEncodeError:
            return
        (Path(folder) / "runbook.md").write_text("## S\n- [ ] x\n")
        try:
            load_config(path)
        except CockpitError as exc:
            assert exc.message  # a clear message, never a bare traceback
            assert "Traceback" not in exc.render()


markdown_pieces = st.sampled_from(
    [
        "# T",
        "## S",
        "### Sub",
        "Title\n=====",
        "Sub\n---",
        "- [ ] a task",
        "- [x] done",
        "* [ ] star",
        "1. **Step**",
        "2. plain",
        "   ```bash",
        "   echo hi",
        "   ```",
        "```",
        "    indented code",
        "> quote - [ ] x",
        "",
        "<div>",
        "- [ ]",
        "- [ ]no space",
        "[x]",
        "   - [ ] nested",
        "1. **Bold** with `code`",
        "| a | b |",
        "***",
        "---",
        "title: x",
        "<!-- a comment",
        "-->",
        "1. [ ] numbered task",
        "- \\[ \\] escaped",
        "- [ ] <em>tagged</em> <!-- hint -->",
        "   ```console",
        "   $ echo hi",
        "## a task",
        "- [ ] 事前確認",
    ]
)


@SETTINGS
@given(st.lists(markdown_pieces | st.text(max_size=30), max_size=40))
def test_markdown_parser_never_crashes_and_ids_stay_unique(pieces):
    try:
        checklist = parse_checklist("\n".join(pieces))
    except ChecklistError as refused:  # two items that would share an ID: named, not merged
        assert "would share the ID" in refused.message
        return
    ids = [item.id for item in checklist.items()]
    assert len(ids) == len(set(ids))
    for item in checklist.items():
        assert item.id and item.text


@SETTINGS
@given(json_values)
def test_kubernetes_objects_of_any_shape_never_crash_the_rollout_logic(value):
    deployment = value if isinstance(value, dict) else {"spec": value}
    try:
        rollout_status(deployment)
        replicasets = [
            v for v in (value.values() if isinstance(value, dict) else []) if isinstance(v, dict)
        ]
        history(deployment, replicasets)
        pod_trouble(replicasets, deployment)
        plan_undo(deployment, replicasets)
    except UndoRefused as refused:
        # a refusal is the one way out for garbage, and it says why
        assert refused.message


@SETTINGS
@given(st.one_of(st.text(max_size=20), st.floats(allow_nan=True), st.integers()))
def test_prometheus_sample_values(raw):
    try:
        value = parse_sample_value(raw)
    except ValueError:
        return
    condition = Condition.parse("< 1")
    result = condition.holds(value)
    # NaN is no data, never a pass or a failure; anything else compares as the number it is
    assert result is (None if math.isnan(value) else value < 1)


@SETTINGS
@given(json_values)
def test_sentry_and_bugsink_issue_shapes(value):
    try:
        sentry_issue(value)
        bugsink_issue(value, "http://bugsink")
    except TrackerError as exc:
        assert "not an issue" in str(exc)


@SETTINGS
@given(st.text(max_size=200))
def test_link_headers(header):
    cursor = next_cursor(header)
    # a cursor is only ever taken from a next link that says there are results
    if cursor is not None:
        assert f'cursor="{cursor}"' in header
        assert 'rel="next"' in header and 'results="true"' in header
    elif 'results="true"' not in header:
        assert cursor is None


def test_link_header_cursor_follows_only_results_true():
    link = (
        '<https://s/api/0/x/?cursor=0:0:1>; rel="previous"; results="false"; cursor="0:0:1", '
        '<https://s/api/0/x/?cursor=0:100:0>; rel="next"; results="true"; cursor="0:100:0"'
    )
    assert next_cursor(link) == "0:100:0"
    assert next_cursor(link.replace('results="true"', 'results="false"')) is None


@SETTINGS
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=30))
def test_gate_evaluation_of_any_series(values):
    from datetime import UTC, datetime, timedelta

    from cockpit.config import MetricConfig

    metric = MetricConfig(name="m", query="q", fail=100, warn=80)
    now = datetime(2026, 11, 25, tzinfo=UTC)
    points = [Point(now + timedelta(seconds=i), v) for i, v in enumerate(values)]
    state = evaluate(metric, "q", points, started=None, fetched_at=now, last_ok=now)
    assert state.reason
    # whatever the series, the phase follows from the measurements by the stated rules
    failed = [m for m in state.measurements if m.outcome == "Failed"]
    assert (state.phase == "Failed") == (len(failed) > metric.failure_limit)
    for m in state.measurements:
        assert m.outcome == (
            "NoData" if math.isnan(m.value) else "Failed" if m.value >= 100 else "Successful"
        )
    if state.phase == "Successful":
        assert not failed and len(state.measurements) >= metric.min_samples


@SETTINGS
@given(json_values)
def test_tracker_garbage_pages(value):
    """Whatever a tracker answers, the client turns it into issues or a TrackerError."""
    from cockpit.config import ErrorsConfig
    from cockpit.sources.errors import BugsinkClient, SentryClient

    body = json.dumps(value).encode()

    def handler(_request):
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    for make in (
        lambda: SentryClient(ErrorsConfig(provider="sentry", org="o", url="http://s"), "t", "p"),
        lambda: BugsinkClient(ErrorsConfig(provider="bugsink", url="http://b", project="1"), "t"),
    ):
        client = make()
        client.http = httpx.Client(
            transport=httpx.MockTransport(handler), base_url=str(client.http.base_url)
        )
        try:
            found = (
                client.issues("is:unresolved")
                if isinstance(client, SentryClient)
                else client.issues()
            )
            for raw in found:
                if isinstance(client, SentryClient):
                    sentry_issue(raw)
                else:
                    bugsink_issue(raw, "http://b")
        except TrackerError as exc:
            assert str(exc)
