"""The live board's wiring of release analysis runs to the error tracker's counts: where a
run's counts begin is asked at every poll, so a rollback after a failure is never judged on
the failed revision's errors (no tracker runs here: feeds are set as a poll leaves them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cockpit.board import LiveBoard
from cockpit.session import GoLiveSession
from cockpit.sources.errors import ErrorFeed, SpikeState
from cockpit.sources.kube import ClusterSnapshot

from .test_gate_logic import World, _rolling

CONFIG = """
checklist = "runbook.md"
[environments.production]
bake_time = "0s"
[[environments.production.clusters]]
name = "c"
namespace = "ns"
deployments = ["app"]
[environments.production.errors]
provider = "bugsink"
url = "http://127.0.0.1:9"
project = "1"
token_env = "BUGSINK_TOKEN"
"""


def shot(views):
    return ClusterSnapshot("c", "ns", tuple(views), connected=True, synced=True)


def failed_release(board, world, now):
    board.push_cluster(shot(world.show("v1", now)))
    board.push_cluster(shot(world.show("v2", now + timedelta(minutes=1))))
    board.analysis.judged(failed="errors spike: 40 events", passed=False, values={})


def spike_feed(since):
    spike = SpikeState(300, 40, 1.0, True, "40 events in 5m (baseline 1.0, spike at 20)")
    at = datetime.now(UTC)
    return ErrorFeed(spike=spike, fetched_at=at, last_ok=at, run_started=since)


def test_a_fast_rollback_counts_errors_from_the_moment_it_is_measured(write_config, operator):
    board = LiveBoard(GoLiveSession.open(write_config(CONFIG), "production", operator=operator))
    world = World()
    now = datetime.now(UTC) - timedelta(minutes=10)
    failed_release(board, world, now)
    board.push_cluster(shot(world.show("v1", now + timedelta(minutes=2))))  # done at once
    run = board.analysis.current
    measuring = board.measuring()
    assert measuring.since == run.measured_from is not None and measuring.after_failure
    # a feed counted over the whole window (from before the rollback) is not this run's
    board.errors = spike_feed(None)
    assert board.verdict().state != "NO-GO"
    board.errors = spike_feed(run.measured_from)  # counted from the rollback's moment
    assert board.verdict().state == "NO-GO"


def test_errors_counted_while_the_failed_pods_served_never_fail_the_rollback(
    write_config, operator
):
    board = LiveBoard(GoLiveSession.open(write_config(CONFIG), "production", operator=operator))
    world = World()
    now = datetime.now(UTC) - timedelta(minutes=10)
    failed_release(board, world, now)
    board.push_cluster(shot(_rolling(world.show("v1", now + timedelta(minutes=2)))))
    assert board.analysis.current.waiting and board.measuring().since is None
    board.errors = spike_feed(None)  # what the tracker poll saw meanwhile
    assert board.verdict().state == "PENDING"
    # the rollout completes; the verdict is asked before the tracker's next poll
    board.push_cluster(shot(world.show("v1", now + timedelta(minutes=3))))
    assert board.analysis.current.waiting is None
    assert board.verdict().state == "PENDING"
    assert board.analysis.current.failed is None


def test_a_moment_another_process_recorded_is_where_this_ones_counts_begin(write_config, operator):
    path = write_config(CONFIG)
    tui = LiveBoard(GoLiveSession.open(path, "production", operator=operator, via="tui"))
    gate = LiveBoard(GoLiveSession.open(path, "production", operator=operator, via="gate"))
    world = World()
    now = datetime.now(UTC) - timedelta(minutes=10)
    for board in (tui, gate):
        board.push_cluster(shot(world.show("v1", now)))
    for board in (tui, gate):
        board.push_cluster(shot(world.show("v2", now + timedelta(minutes=1))))
    tui.analysis.judged(failed="errors spike", passed=False, values={})
    back = _rolling(world.show("v1", now + timedelta(minutes=2)))
    for board in (tui, gate):
        board.push_cluster(shot(back))
    tui.push_cluster(shot(world.show("v1", now + timedelta(minutes=3))))  # the TUI sees it
    served = tui.analysis.current.measured_from
    assert served is not None
    assert gate.measuring().since == served  # asked at its next poll, from the audit log


PROM_CONFIG = """
checklist = "runbook.md"
[environments.production]
[environments.production.prometheus]
url = "http://127.0.0.1:9"
[[environments.production.metrics]]
name = "errors"
query = 'sum(rate(http_requests_total{code=~"5.."}[5m]))'
fail = 1.0
step = "10s"
"""


def test_the_metrics_poller_waits_out_the_querys_look_back_after_a_suspect_run(
    write_config, operator, monkeypatch
):
    import cockpit.sources.prometheus as prometheus
    from cockpit.gates import Measuring

    session = GoLiveSession.open(write_config(PROM_CONFIG), "production", operator=operator)
    now = datetime.now(UTC).replace(microsecond=0)
    answered = [(now - timedelta(seconds=10 * n), 5.0) for n in range(12, -1, -1)]
    monkeypatch.setattr(prometheus, "range_query", lambda *_a, **_k: (answered, ()))
    (metric,) = session.environment.metrics
    served = now - timedelta(seconds=30)

    def poll(after_failure):
        measuring = Measuring(served, None, after_failure)
        watcher = prometheus.MetricsWatcher(
            session.check_context(), lambda _s: None, started=served, measuring=lambda: measuring
        )
        return watcher.poll(metric, client=object())

    after = poll(True)
    assert after.phase == "Pending" and "reads 5m00s back" in after.reason, after.reason
    assert poll(False).phase == "Failed"  # a run after a passed one: judged from its start


def test_the_error_poller_counts_only_buckets_begun_after_a_suspect_runs_pods_went(
    write_config, operator
):
    from cockpit.gates import Measuring
    from cockpit.sources.errors import ErrorWatcher

    session = GoLiveSession.open(write_config(CONFIG), "production", operator=operator)
    now = datetime.now(UTC)
    served = now - timedelta(seconds=4)
    watcher = ErrorWatcher(
        session.check_context(), lambda _f: None, measuring=lambda: Measuring(served, None, True)
    )
    watcher.poll()  # no token here: the poll fails, but it has asked where counts begin
    assert watcher.run_started == served
    series = [
        (served - timedelta(seconds=30), served + timedelta(seconds=2), 600),
        (served + timedelta(seconds=2), now, 1),
    ]
    assert watcher._spike(series, 300, now).current == 1
