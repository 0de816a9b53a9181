"""Pilot tests of the metrics pane, the verdict bar and the rollback recommendation."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from cockpit.gates import Point, evaluate
from cockpit.session import GoLiveSession
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.metric_detail import MetricDetailScreen
from cockpit.tui.screens.rollback import RollbackScreen
from cockpit.tui.widgets.metrics import MetricsPane
from cockpit.tui.widgets.rollout import RolloutPane
from cockpit.tui.widgets.verdict import VerdictBar

from .helpers import until
from .kube_helpers import NS, kubectl, wait_rolled_out
from .servers import free_port


def failing_state(metric, now=None):
    now = now or datetime.now(UTC)
    values = [50, 52, 49, 180, 240, 260]
    points = [Point(now - timedelta(minutes=len(values) - i), v) for i, v in enumerate(values)]
    return evaluate(metric, metric.query, points, started=None, fetched_at=now, last_ok=now)


def config(tmp_path, cluster=None, deployments=()):
    (tmp_path / "runbook.md").write_text("## S\n- [ ] x\n")
    text = f"""
checklist = "runbook.md"
[environments.prod]
production = true
[environments.prod.prometheus]
url = "http://127.0.0.1:{free_port()}"
timeout = 1

[[environments.prod.metrics]]
name = "p95 latency"
query = "histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m])))"
unit = "ms"
scale = 1000
warn = 80
fail = 100
"""
    if cluster is not None:
        names = ", ".join(f'"{d}"' for d in deployments)
        text += f"""
[[environments.prod.clusters]]
name = "rehearsal"
kubeconfig = "{cluster.kubeconfig}"
context = "rehearsal"
namespace = "{NS}"
deployments = [{names}]
"""
    path = tmp_path / "cockpit.toml"
    path.write_text(text)
    return path


async def quiet_metrics(app):
    """Stop the live poller (its Prometheus does not exist) so the test feeds the pane."""
    for _ in range(100):  # it starts once the clusters' first answer names the run
        watcher = app.board.metrics_watcher
        if watcher is not None and watcher._thread is not None:  # made, and its thread begun
            break
        await asyncio.sleep(0.1)
    watcher = app.board.metrics_watcher
    watcher.stop()
    if watcher._thread is not None:
        await asyncio.to_thread(watcher._thread.join, 10)


async def test_unreachable_prometheus_shows_stale_then_error(tmp_path, operator):
    session = GoLiveSession.open(config(tmp_path), None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(MetricsPane)
        await until(pilot, lambda: "p95 latency" in pane.states)
        state = pane.states["p95 latency"]
        assert state.stale and "cannot reach Prometheus" in state.last_error
        assert pane.border_subtitle.startswith("STALE")
        await quiet_metrics(app)


async def test_metric_detail_shows_plot_query_and_reason(tmp_path, operator):
    session = GoLiveSession.open(config(tmp_path), None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await quiet_metrics(app)
        pane = app.query_one(MetricsPane)
        app.board.push_metric(failing_state(session.environment.metrics[0]))
        await until(pilot, lambda: app.query_one(VerdictBar).verdict.state == "NO-GO")
        assert "gate p95 latency failed" in app.query_one(VerdictBar).verdict.reasons[0]
        pane.focus()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, MetricDetailScreen))
        body = "\n".join(str(w.render()) for w in app.screen.query("Static"))
        assert "phase Failed" in body
        assert "histogram_quantile" in body
        assert "fail at 100ms" in body
        assert "260ms" in body or "260" in body


async def test_failed_gate_after_a_rollout_recommends_rollback(cluster, tmp_path, operator):
    cluster.create_deployment("rec", "shop/rec:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "rec")
    session = GoLiveSession.open(config(tmp_path, cluster, ["rec"]), None, operator=operator)
    session.begin()  # the go-live starts now
    await asyncio.sleep(1.1)
    app = CockpitApp(session)
    async with app.run_test(size=(160, 48)) as pilot:
        await quiet_metrics(app)
        rollout = app.query_one(RolloutPane)
        await until(pilot, lambda: rollout.views[("rehearsal", "rec")].found)
        assert app.check_action("rollback_recommended", ()) is False
        await asyncio.to_thread(
            kubectl, cluster, "set", "image", "deployment/rec", "app=shop/rec:2"
        )
        await asyncio.to_thread(wait_rolled_out, cluster, "rec")
        await until(pilot, lambda: rollout.views[("rehearsal", "rec")].revision == 2)
        metric = session.environment.metrics[0]
        app.board.push_metric(failing_state(metric))
        bar = app.query_one(VerdictBar)
        await until(pilot, lambda: bar.verdict.rollback_recommended)
        assert "ROLLBACK RECOMMENDED" in str(bar.render())
        await pilot.press("B")
        await until(pilot, lambda: isinstance(app.screen, RollbackScreen))
        assert app.screen.view.name == "rec"


async def test_a_metric_row_changes_its_classes_only_when_its_phase_changes(tmp_path, operator):
    """Each class change restyles the row and its children: an unchanged phase on every
    poll of every metric must not take its class off and put it back."""
    from cockpit.tui.widgets.metrics import MetricRow

    session = GoLiveSession.open(config(tmp_path), None, operator=operator)
    metric = session.environment.metrics[0]
    app = CockpitApp(session, start_sources=False)
    async with app.run_test(size=(120, 40)) as pilot:
        row = app.query_one(MetricRow)
        breach = failing_state(metric)
        row.show(breach)
        await pilot.pause()
        assert row.has_class("-breach") and not row.has_class("-pending")
        changes = []
        row.add_class = lambda *names, **kw: changes.append(("add", names))
        row.remove_class = lambda *names, **kw: changes.append(("remove", names))
        row.set_class = lambda *args, **kw: changes.append(("set", args))
        row.show(failing_state(metric))  # the next poll: the same phase
        assert changes == []
        del row.add_class, row.remove_class, row.set_class
        calm = evaluate(metric, metric.query, [], started=None, fetched_at=None, last_ok=None)
        row.show(calm)
        await pilot.pause()
        wanted = {"-ok", "-warn", "-breach", "-nodata", "-error", "-pending"} & row.classes
        assert len(wanted) == 1 and "-breach" not in wanted


def test_a_metric_not_judged_yet_says_wait_even_when_its_value_is_beyond_the_threshold():
    from cockpit.config import MetricConfig
    from cockpit.tui.widgets.metrics import state_word

    metric = MetricConfig(name="p95", query="q", fail=100.0, step="30s", initial_delay="5m")
    t0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    points = [Point(t0 + timedelta(seconds=30 * n), 300.0) for n in range(4)]
    last = points[-1].at

    def judged(**kw):
        return evaluate(metric, "q", points, fetched_at=last, last_ok=last, **kw)

    in_delay = judged(started=t0)
    waiting = judged(started=t0, waiting="waiting for the rollout of app: pods of the replaced")
    failed = judged(started=t0 - timedelta(minutes=10))
    assert (in_delay.phase, waiting.phase, failed.phase) == ("Pending", "Pending", "Failed")
    assert state_word(in_delay) == state_word(waiting) == "wait"
    assert state_word(failed) == "FAIL"


def many_metrics_config(tmp_path, count):
    path = config(tmp_path)
    text = path.read_text()
    for index in range(1, count):
        text += f"""
[[environments.prod.metrics]]
name = "m{index:02d}"
query = "sum(rate(m{index}_total[5m]))"
fail = 100
"""
    path.write_text(text)
    return path


async def test_rows_out_of_view_take_their_newest_state_when_they_come_into_view(
    tmp_path, operator
):
    """An update to a row the pane does not show waits (changing an unseen widget makes
    Textual arrange the whole screen again); scrolled into view, the row shows the newest
    state, and the selection moving down scrolls it into view."""
    session = GoLiveSession.open(many_metrics_config(tmp_path, 24), None, operator=operator)
    app = CockpitApp(session, start_sources=False)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(MetricsPane)
        await pilot.pause()
        shown = pane.scrollable_content_region.height
        assert 0 < shown < 24, "the test needs rows out of view"
        last_in_view, first_out = pane.rows[shown - 1], pane.rows[shown]
        calls: list[str] = []
        for row in (last_in_view, first_out):
            original = row.show
            row.show = lambda state, row=row, original=original: (
                calls.append(row.metric_name),
                original(state),
            )[1]
        for row in (last_in_view, first_out):
            app.board.push_metric(failing_state(row_metric(session, row.metric_name)))
        await until(pilot, lambda: first_out.metric_name in pane.states)
        assert calls == [last_in_view.metric_name]  # exactly the last line shown, not the next
        assert pane.waiting == {first_out.index}
        assert first_out.state_label.shown is None or "FAIL" not in first_out.state_label.shown
        pane.focus()
        for _ in range(shown + 1):  # the selection to the first row out of view, and past it
            await pilot.press("down")
        await pilot.pause(0.5)
        assert pane.selected == shown + 1
        assert pane._in_view(pane.selected), "the selected row is scrolled into view"
        await until(pilot, lambda: first_out.index not in pane.waiting)
        assert "FAIL" in str(first_out.state_label.render())
        assert calls[-1] == first_out.metric_name


def row_metric(session, name):
    return next(m for m in session.environment.metrics if m.name == name)
