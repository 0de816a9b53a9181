"""SVG snapshots of the cockpit screen at 80x24 and 160x48 (look at them when they change)."""

from __future__ import annotations

import pytest

from cockpit.tui.app import CockpitApp
from cockpit.tui.widgets.checklist import ChecklistPane

from .conftest import BASE_CONFIG

SIZES = [(80, 24), (160, 48)]


@pytest.fixture(autouse=True)
def _still_clock(monkeypatch):
    """The verdict bar counts seconds: a snapshot taken a second late must not differ."""
    from datetime import datetime

    monkeypatch.setattr("cockpit.tui.widgets.verdict.format_elapsed", lambda _s: "1h 02m 05s")
    monkeypatch.setattr(
        "cockpit.tui.widgets.messages.clock", lambda: datetime(2026, 12, 2, 2, 0, 7)
    )


def mid_go_live(open_session, env="production"):
    session = open_session(env)
    session.mark_done("Change approved")
    session.skip("Backup taken", "snapshot from 02:00 is enough")
    session.mark_done("Deploy")
    session.add_note("Home page loads", "CDN cache warm-up takes a minute")
    return session


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_production_mid_go_live(snap_compare, open_session, size):
    app = CockpitApp(mid_go_live(open_session), start_sources=False)

    async def settle(pilot):
        app.query_one(ChecklistPane).select_item("rollout/smoke-test/home-page-loads")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_staging_read_only(snap_compare, open_session, size):
    app = CockpitApp(open_session("staging", read_only=True), start_sources=False)
    assert snap_compare(app, terminal_size=size)


def test_item_detail_of_a_step(snap_compare, open_session):
    app = CockpitApp(open_session("staging"), start_sources=False)

    async def open_detail(pilot):
        app.query_one(ChecklistPane).select_item("rollout/deploy")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_detail)


def test_configured_sources_wait_for_data(snap_compare, write_config, operator):
    from cockpit.session import GoLiveSession

    path = write_config(
        BASE_CONFIG
        + """
[[environments.production.clusters]]
name = "prod-eu"
namespace = "shop"
deployments = ["web", "worker"]

[environments.production.prometheus]
url = "https://prometheus.example.com"

[environments.production.errors]
provider = "bugsink"
url = "https://bugsink.example.com"
project = "shop"
"""
    )
    session = GoLiveSession.open(path, "production", operator=operator)
    assert snap_compare(CockpitApp(session, start_sources=False), terminal_size=(160, 48))


def test_light_theme(snap_compare, write_config, operator):
    from cockpit.session import GoLiveSession

    path = write_config(
        BASE_CONFIG.replace("default_environment", 'theme = "cockpit-light"\ndefault_environment')
    )
    session = GoLiveSession.open(path, None, operator=operator)
    assert snap_compare(CockpitApp(session, start_sources=False), terminal_size=(80, 24))


def metric_states(session):
    """Fixed measurements, so the picture does not depend on a clock or a server."""
    from datetime import UTC, datetime, timedelta

    from cockpit.gates import Point, evaluate

    start = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)
    curves = {
        "p95 latency": [48, 50, 47, 52, 49, 51, 55, 90, 140, 180, 240, 250, 248, 251, 249],
        "error rate": [
            0.02,
            0.02,
            0.03,
            0.02,
            0.02,
            0.02,
            0.03,
            0.04,
            0.06,
            0.07,
            0.06,
            0.06,
            0.07,
            0.06,
            0.07,
        ],
        "throughput": [
            1500,
            1510,
            1490,
            1505,
            1500,
            1495,
            1502,
            1498,
            1500,
            1503,
            1497,
            1501,
            1499,
            1500,
            1500,
        ],
    }
    states = []
    for metric in session.environment.metrics:
        points = [Point(start + timedelta(minutes=i), v) for i, v in enumerate(curves[metric.name])]
        last = points[-1].at
        states.append(
            evaluate(metric, metric.query, points, started=None, fetched_at=last, last_ok=last)
        )
    return states


METRICS_CONFIG = (
    BASE_CONFIG
    + """
[environments.production.prometheus]
url = "https://prometheus.example.com"

[environments.production.errors]
provider = "bugsink"
url = "https://bugsink.example.com"
project = "1"

[[environments.production.metrics]]
name = "p95 latency"
query = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"
unit = "ms"
scale = 1000
warn = 80
fail = 100

[[environments.production.metrics]]
name = "error rate"
query = "sum(rate(http_requests_total{code=~'5..'}[5m])) / sum(rate(http_requests_total[5m]))"
unit = "%"
scale = 100
warn = 0.05
fail = 0.1

[[environments.production.metrics]]
name = "throughput"
query = "sum(rate(http_requests_total[5m]))"
unit = "req/s"
direction = "lower"
warn = 1200
fail = 1000
"""
)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_metrics_pane_and_verdict(snap_compare, write_config, operator, size):
    from cockpit.session import GoLiveSession

    path = write_config(METRICS_CONFIG)
    session = GoLiveSession.open(path, "production", operator=operator)
    app = CockpitApp(session, start_sources=False)

    async def feed(pilot):
        from datetime import UTC, datetime, timedelta

        from cockpit.sources.errors import ErrorFeed, ErrorIssue, SpikeState

        for state in metric_states(session):
            app.board.push_metric(state)
        now = datetime.now(UTC)
        issues = (
            ErrorIssue(
                "a",
                "SERVICEDESK-7",
                "RuntimeError: payment gateway timeout",
                "orders.pay",
                "error",
                42,
                None,
                now - timedelta(minutes=4, seconds=20),  # ages that hold for 40 s:
                now - timedelta(minutes=2, seconds=20),  # a loaded machine renders late
                None,
                "NEW",
            ),
            ErrorIssue(
                "b",
                "SERVICEDESK-2",
                "KeyError: 'cart'",
                "cart.view",
                "error",
                7,
                None,
                now - timedelta(days=3),
                now - timedelta(minutes=6, seconds=20),
                None,
                "REGRESSED",
            ),
        )
        spike = SpikeState(300, 45, 1.5, True, "45 events in 5m (baseline 1.5, spike at 10)")
        app.board.push_errors(ErrorFeed(issues, spike, fetched_at=now, last_ok=now))
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=feed)


def _rollout_snapshot(now, released=True):
    """web at 2.0.0 three minutes after its rollout; released=False: still at 1.9.0."""
    from datetime import timedelta

    from cockpit.sources.kube import ClusterSnapshot, DeploymentView

    stamp = (now - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    old_stamp = (now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def rs(name, revision, image, replicas, created, uid):
        return {
            "metadata": {
                "name": name,
                "uid": uid,
                "creationTimestamp": created,
                "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                "ownerReferences": [{"uid": "dep-app", "controller": True}],
            },
            "spec": {
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": image}]},
                }
            },
            "status": {"replicas": replicas, "readyReplicas": replicas},
        }

    deployment = {
        "metadata": {
            "name": "web",
            "uid": "dep-app",
            "generation": 2,
            "creationTimestamp": old_stamp,
            "annotations": {"deployment.kubernetes.io/revision": "2" if released else "1"},
        },
        "spec": {
            "replicas": 4,
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "shop/web:2.0.0" if released else "shop/web:1.9.0"}
                    ]
                },
            },
        },
        "status": {
            "observedGeneration": 2,
            "replicas": 4,
            "updatedReplicas": 4,
            "readyReplicas": 4,
            "availableReplicas": 4,
            "conditions": [
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable",
                    "lastUpdateTime": stamp,
                }
            ],
        },
    }
    replicasets = (
        rs("web-new", 2, "shop/web:2.0.0", 4, stamp, "rs-2"),
        rs("web-old", 1, "shop/web:1.9.0", 0, old_stamp, "rs-1"),
    )
    if not released:
        replicasets = (rs("web-old", 1, "shop/web:1.9.0", 4, old_stamp, "rs-1"),)
    view = DeploymentView("prod-eu", "shop", "web", deployment, replicasets)
    return ClusterSnapshot("prod-eu", "shop", (view,), connected=True, synced=True, last_ok=now)


README_CONFIG = (
    METRICS_CONFIG
    + """
[[environments.production.clusters]]
name = "prod-eu"
namespace = "shop"
deployments = ["web"]
"""
)


def test_readme_picture(snap_compare, write_config, operator):
    """The picture at the top of the README: the cockpit mid-incident (kept current here)."""
    from datetime import UTC, datetime, timedelta

    from cockpit.session import GoLiveSession
    from cockpit.sources.errors import ErrorFeed, ErrorIssue, SpikeState

    path = write_config(README_CONFIG)
    session = GoLiveSession.open(path, "production", operator=operator)
    session.mark_done("Change approved")
    session.mark_done("Deploy")
    app = CockpitApp(session, start_sources=False)

    async def feed(pilot):
        now = datetime.now(UTC)
        app.board.push_cluster(_rollout_snapshot(now, released=False))  # at the go-live start
        app.board.push_cluster(_rollout_snapshot(now))  # then 2.0.0 rolled out
        for state in metric_states(session):
            app.board.push_metric(state)
        issues = (
            ErrorIssue(
                "a",
                "SHOP-7",
                "PaymentGatewayError: timeout talking to the provider",
                "checkout.payments.charge",
                "error",
                412,
                57,
                now - timedelta(minutes=10, seconds=20),  # "10m" and "3m" for 40 s:
                now - timedelta(minutes=3, seconds=20),  # a loaded machine renders late
                None,
                "NEW",
            ),
        )
        spike = SpikeState(300, 412, 2.0, True, "412 events in 5m (baseline 2.0, spike at 10)")
        app.board.push_errors(ErrorFeed(issues, spike, fetched_at=now, last_ok=now))
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(140, 36), run_before=feed)


def test_verdict_bar_shows_every_reason(snap_compare, write_config, operator):
    """`v` unfolds the verdict bar: every reason on its own line, not just the first."""
    from datetime import UTC, datetime

    from cockpit.session import GoLiveSession
    from cockpit.sources.errors import ErrorFeed, SpikeState
    from cockpit.tui.widgets.verdict import VerdictBar

    path = write_config(README_CONFIG)
    session = GoLiveSession.open(path, "production", operator=operator)
    app = CockpitApp(session, start_sources=False)

    async def feed(pilot):
        now = datetime.now(UTC)
        app.board.push_cluster(_rollout_snapshot(now, released=False))
        app.board.push_cluster(_rollout_snapshot(now))
        for state in metric_states(session):
            app.board.push_metric(state)
        spike = SpikeState(300, 412, 2.0, True, "412 events in 5m (baseline 2.0, spike at 10)")
        app.board.push_errors(ErrorFeed((), spike, fetched_at=now, last_ok=now))
        await pilot.pause(0.3)
        await pilot.press("v")
        await pilot.pause()
        bar = app.query_one(VerdictBar)
        shown = str(bar.render())
        assert len(bar.verdict.reasons) >= 2
        for reason in bar.verdict.reasons:
            assert reason[:40] in shown

    assert snap_compare(app, terminal_size=(120, 30), run_before=feed)


# --- the workload detail and a pod's logs ---------------------------------------------------------


def crash_loop_view():
    """A release whose new pods crash (one OOMKilled, one in an init container's crash loop),
    the old pod still serving. Times are whole minutes before now, so ages read the same for
    the minute the picture takes (from 2 minutes on; younger ones are counted in seconds)."""
    from datetime import UTC, datetime, timedelta

    from cockpit.sources.kube import DeploymentView

    now = datetime.now(UTC).replace(microsecond=0)

    def ago(minutes):
        return (now - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def template(version):
        return {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": f"shop/web:{version}"}]},
        }

    deployment = {
        "metadata": {
            "name": "web",
            "uid": "d1",
            "generation": 2,
            "annotations": {"deployment.kubernetes.io/revision": "2"},
        },
        "spec": {"replicas": 2, "template": template("2.0.0")},
        "status": {
            "observedGeneration": 2,
            "replicas": 3,
            "updatedReplicas": 2,
            "readyReplicas": 1,
            "availableReplicas": 1,
        },
    }

    def replicaset(revision, version, minutes, replicas, ready):
        return {
            "metadata": {
                "name": f"web-{revision}",
                "uid": f"rs{revision}",
                "creationTimestamp": ago(minutes),
                "annotations": {
                    "deployment.kubernetes.io/revision": str(revision),
                    "kubernetes.io/change-cause": f"release {version}",
                },
                "ownerReferences": [{"uid": "d1", "controller": True}],
            },
            "spec": {"template": template(version)},
            "status": {"replicas": replicas, "readyReplicas": ready},
        }

    def pod(name, revision, minutes, status, init=None):
        spec = {"nodeName": "node-1", "containers": [{"name": "app"}]}
        if init:
            spec["initContainers"] = [{"name": "migrate"}]
        return {
            "metadata": {
                "name": name,
                "creationTimestamp": ago(minutes),
                "ownerReferences": [{"name": f"web-{revision}", "uid": f"rs{revision}"}],
            },
            "spec": spec,
            "status": status,
        }

    finished = ago(3)  # ages under 2 minutes are counted in seconds
    pods = (
        pod(
            "web-1-a1b2c",
            1,
            90,
            {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    {"name": "app", "ready": True, "restartCount": 0, "state": {"running": {}}}
                ],
            },
        ),
        pod(
            "web-2-d3e4f",
            2,
            6,
            {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [
                    {
                        "name": "app",
                        "ready": False,
                        "restartCount": 4,
                        "lastState": {
                            "terminated": {
                                "reason": "OOMKilled",
                                "exitCode": 137,
                                "finishedAt": finished,
                            }
                        },
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    }
                ],
            },
        ),
        pod(
            "web-2-g5h6i",
            2,
            6,
            {
                "phase": "Pending",
                "conditions": [{"type": "Ready", "status": "False"}],
                "initContainerStatuses": [
                    {
                        "name": "migrate",
                        "ready": False,
                        "restartCount": 3,
                        "lastState": {
                            "terminated": {"reason": "Error", "exitCode": 1, "finishedAt": finished}
                        },
                        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    }
                ],
                "containerStatuses": [
                    {
                        "name": "app",
                        "ready": False,
                        "restartCount": 0,
                        "state": {"waiting": {"reason": "PodInitializing"}},
                    }
                ],
            },
            init=True,
        ),
    )

    def event(n, kind, name, reason, message, event_type, minutes, count=1):
        return {
            "metadata": {"name": f"e{n}", "creationTimestamp": ago(minutes)},
            "involvedObject": {"kind": kind, "name": name},
            "reason": reason,
            "message": message,
            "type": event_type,
            "count": count,
            "lastTimestamp": ago(minutes),
        }

    events = (
        event(
            1,
            "Deployment",
            "web",
            "ScalingReplicaSet",
            "Scaled up replica set web-2 from 0 to 1",
            "Normal",
            6,
        ),
        event(
            2,
            "Pod",
            "web-2-d3e4f",
            "Scheduled",
            "Successfully assigned shop/web-2-d3e4f to node-1",
            "Normal",
            6,
        ),
        event(
            3,
            "Pod",
            "web-2-d3e4f",
            "BackOff",
            "Back-off restarting failed container app",
            "Warning",
            3,
            9,
        ),
        event(
            4,
            "Pod",
            "web-2-g5h6i",
            "BackOff",
            "Back-off restarting failed container migrate",
            "Warning",
            2,
            4,
        ),
    )
    return DeploymentView(
        "prod-eu",
        "shop",
        "web",
        deployment,
        (replicaset(1, "1.9.0", 120, 1, 1), replicaset(2, "2.0.0", 6, 2, 0)),
        pods,
        events,
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_rollout_detail_of_a_crash_loop(snap_compare, open_session, size):
    from cockpit.tui.screens.rollout_detail import RolloutDetailScreen

    app = CockpitApp(open_session("staging"), start_sources=False)

    async def open_detail(pilot):
        await app.push_screen(RolloutDetailScreen(crash_loop_view()))
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_detail)


def test_pod_logs_with_a_search(snap_compare, open_session):
    from cockpit.sources.pod_logs import LogNotice
    from cockpit.tui.screens.pod_logs import PodLogScreen

    view = crash_loop_view()
    app = CockpitApp(open_session("staging"), start_sources=False)

    async def open_logs(pilot):
        screen = PodLogScreen(app.session, view, view.pods[2], start=False)
        screen.notice = LogNotice("following container migrate of pod web-2-g5h6i")
        await app.push_screen(screen)
        stamp = "2026-12-01T22:58:{:02d}.000000Z"
        screen.add_lines(
            [(stamp.format(i), f"migrate: applying 00{i}_orders.sql") for i in range(1, 6)]
            + [
                (stamp.format(6), 'ERROR: column \x1b[31m"total"\x1b[0m does not exist [b]x[/b]'),
                (stamp.format(7), "migrate: exit 1"),
            ]
        )
        await pilot.pause()
        await pilot.press("slash", *"orders", "enter")
        await pilot.press("n")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 24), run_before=open_logs)


def _workload_views(now):
    """A StatefulSet one pod into its update, a DaemonSet done, an Argo Rollout paused."""
    from datetime import timedelta

    from cockpit.sources.kube import WorkloadView

    stamp = (now - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")  # as web's release

    def template(image):
        return {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"image": image}]}}

    def owned(uid):
        return [{"uid": uid, "controller": True}]

    def revision(name, number, image, uid):
        return {
            "metadata": {
                "name": name,
                "creationTimestamp": stamp,
                "labels": {"controller-revision-hash": name},
                "ownerReferences": owned(uid),
            },
            "revision": number,
            "data": {"spec": {"template": {**template(image), "$patch": "replace"}}},
        }

    def pod(name, hash_, uid):
        labels = {"controller-revision-hash": hash_}
        return {"metadata": {"name": name, "labels": labels, "ownerReferences": owned(uid)}}

    def obj(name, uid, image, **status):
        return {
            "metadata": {"name": name, "uid": uid, "generation": 2},
            "spec": {"replicas": 3, "template": template(image)},
            "status": {"observedGeneration": 2, **status},
        }

    sts = obj("db", "sts", "shop/pg:16", readyReplicas=2, updatedReplicas=1, availableReplicas=2)
    sts["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    ds = obj(
        "agent",
        "ds",
        "shop/agent:3",
        desiredNumberScheduled=5,
        updatedNumberScheduled=5,
        numberReady=5,
        numberAvailable=5,
    )
    argo = obj("checkout", "ro", "shop/checkout:2.0.0", phase="Paused", currentStepIndex=1)
    argo["spec"]["strategy"] = {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {}]}}
    argo["status"]["message"] = "CanaryPauseStep"
    return (
        WorkloadView(
            "prod-eu",
            "shop",
            "db",
            sts,
            (revision("db-a", 1, "shop/pg:15", "sts"), revision("db-b", 2, "shop/pg:16", "sts")),
            (pod("db-0", "db-a", "sts"), pod("db-1", "db-a", "sts"), pod("db-2", "db-b", "sts")),
            kind="statefulset",
        ),
        WorkloadView(
            "prod-eu",
            "shop",
            "agent",
            ds,
            (revision("agent-a", 4, "shop/agent:3", "ds"),),
            kind="daemonset",
        ),
        WorkloadView("prod-eu", "shop", "checkout", argo, kind="rollout"),
    )


def test_rollout_pane_with_every_kind(snap_compare, write_config, operator):
    """StatefulSet, DaemonSet and Argo Rollout rows beside a Deployment."""
    from datetime import UTC, datetime

    from cockpit.session import GoLiveSession
    from cockpit.sources.kube import ClusterSnapshot

    path = write_config(
        README_CONFIG + 'statefulsets = ["db"]\nworkloads = ["ds/agent", "rollout/checkout"]\n'
    )
    session = GoLiveSession.open(path, "production", operator=operator)
    app = CockpitApp(session, start_sources=False)

    async def feed(pilot):
        now = datetime.now(UTC)
        web = _rollout_snapshot(now).deployments
        views = (*web, *_workload_views(now))
        snapshot = ClusterSnapshot("prod-eu", "shop", views, connected=True, synced=True)
        app.board.push_cluster(snapshot)
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(160, 48), run_before=feed)


# --- the rehearsal at 2 a.m.: mid-rollout and mid-rollback, at three sizes -----------------------

REHEARSAL_CONFIG = (
    METRICS_CONFIG
    + """
[[environments.production.clusters]]
name = "rehearsal"
namespace = "servicedesk"
deployments = ["servicedesk-app", "servicedesk-worker"]
statefulsets = ["servicedesk-cache"]
"""
)
THREE_SIZES = [(80, 24), (120, 40), (160, 48)]


def _deployment_view(name, serving, now):
    """A Deployment whose ReplicaSets serve `serving`: [(revision, tag, replicas, ready)], the
    first being the current template's."""
    from datetime import timedelta

    from cockpit.sources.kube import DeploymentView

    stamp = (now - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    image = f"registry.example.com/servicedesk/{name}:"

    def template(tag):
        return {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": image + tag}]},
        }

    replicasets = tuple(
        {
            "metadata": {
                "name": f"{name}-{revision}",
                "uid": f"rs-{name}-{revision}",
                "creationTimestamp": stamp,
                "annotations": {"deployment.kubernetes.io/revision": str(revision)},
                "ownerReferences": [{"uid": f"dep-{name}", "controller": True}],
            },
            "spec": {"template": template(tag)},
            "status": {"replicas": replicas, "readyReplicas": ready},
        }
        for revision, tag, replicas, ready in serving
    )
    revision, tag, updated, _ready_new = serving[0]
    total = sum(r[2] for r in serving)
    ready = sum(r[3] for r in serving)
    deployment = {
        "metadata": {
            "name": name,
            "uid": f"dep-{name}",
            "generation": 3,
            "creationTimestamp": stamp,
            "annotations": {"deployment.kubernetes.io/revision": str(revision)},
        },
        "spec": {"replicas": 4 if name.endswith("app") else 2, "template": template(tag)},
        "status": {
            "observedGeneration": 3,
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": [
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "ReplicaSetUpdated",
                    "lastUpdateTime": stamp,
                }
            ],
        },
    }
    return DeploymentView("rehearsal", "servicedesk", name, deployment, replicasets)


def _cache_view(now):
    from cockpit.sources.kube import WorkloadView

    sts = {
        "metadata": {"name": "servicedesk-cache", "uid": "sts-cache", "generation": 1},
        "spec": {
            "replicas": 1,
            "template": {"spec": {"containers": [{"name": "redis", "image": "redis:7.2"}]}},
        },
        "status": {
            "observedGeneration": 1,
            "replicas": 1,
            "readyReplicas": 1,
            "updatedReplicas": 1,
            "availableReplicas": 1,
            "currentRevision": "servicedesk-cache-a",
            "updateRevision": "servicedesk-cache-a",
        },
    }
    revision = {
        "metadata": {
            "name": "servicedesk-cache-a",
            "ownerReferences": [{"uid": "sts-cache", "controller": True}],
        },
        "revision": 1,
        "data": {"spec": {"template": {**sts["spec"]["template"], "$patch": "replace"}}},
    }
    return WorkloadView(
        "rehearsal", "servicedesk", "servicedesk-cache", sts, (revision,), kind="statefulset"
    )


def _rehearsal_app(write_config, operator, app_serving):
    from datetime import UTC, datetime

    from cockpit.session import GoLiveSession
    from cockpit.sources.kube import ClusterSnapshot

    session = GoLiveSession.open(write_config(REHEARSAL_CONFIG), "production", operator=operator)
    session.mark_done("Change approved")
    app = CockpitApp(session, start_sources=False)
    now = datetime.now(UTC)
    views = (
        _deployment_view("servicedesk-app", app_serving, now),
        _deployment_view("servicedesk-worker", [(1, "1.9.0", 2, 2)], now),
        _cache_view(now),
    )
    snapshot = ClusterSnapshot(
        "rehearsal", "servicedesk", views, connected=True, synced=True, last_ok=now
    )
    return app, session, snapshot


@pytest.mark.parametrize("size", THREE_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_rehearsal_mid_rollout(snap_compare, write_config, operator, size):
    """2.0.0 half rolled out over 1.9.0: every workload with its tag (2.0.0 ← 1.9.0), the
    figures with their units, messages on the message line, not over a pane."""
    app, session, snapshot = _rehearsal_app(
        write_config, operator, [(2, "2.0.0", 2, 2), (1, "1.9.0", 2, 2)]
    )

    async def feed(pilot):
        app.board.push_cluster(snapshot)
        for state in metric_states(session):
            app.board.push_metric(state)
        app.notify("servicedesk-app: rolling out 2.0.0", title="Rollout")
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=feed)


@pytest.mark.parametrize("size", THREE_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_rehearsal_mid_rollback(snap_compare, write_config, operator, size):
    """Rolled back: revision 3 (1.9.0 again) replacing 2.0.0; four notices in a row, as the
    rollback sends them, all on the one message line."""
    app, session, snapshot = _rehearsal_app(
        write_config, operator, [(3, "1.9.0", 3, 1), (2, "2.0.0", 2, 2)]
    )

    async def feed(pilot):
        app.board.push_cluster(snapshot)
        for state in metric_states(session):
            app.board.push_metric(state)
        for text in (
            "The release analysis failed. Press B to roll back.",
            "servicedesk-app: rolling back from revision 2 to 1",
            "A new analysis run judges the restored revision",
            "servicedesk-app: rolling back from revision 2 to 1 (registry.example.com/"
            "servicedesk/servicedesk-app:1.9.0)",
        ):
            app.notify(text, title="Rollback sent", severity="warning")
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=feed)
