"""Each source failing in each way an operator meets: stopped, stalled, answering 500s, garbage
or a huge body. For each: no exception escapes, the state says stale or error with a readable
reason, and the next good answer brings it back. The marks made before are all still there.

Prometheus is the real server (Debian's), Sentry is the contract server of test_errors, the
Kubernetes API is the rehearsal stand-in (no real API server runs here). A TCP proxy between
the cockpit and each server injects the faults; the Kubernetes API's own HTTP-level faults
(500s, a non-JSON body, a huge list) come from the rehearsal server, since TLS ends there.
"""

from __future__ import annotations

import json
import time

from cockpit.audit import AuditLog
from cockpit.config import load_config
from cockpit.session import GoLiveSession
from cockpit.sources.errors import ErrorWatcher
from cockpit.sources.kube import ClusterSnapshot, ClusterWatcher
from cockpit.sources.prometheus import MetricsWatcher

from ..helpers import until, wait_until
from ..kube_helpers import NS, config_for, wait_rolled_out
from ..test_errors import FakeSentry, sentry, sentry_session  # noqa: F401 - fixture
from ..test_metrics import prometheus_scenarios, write_config  # noqa: F401 - fixture
from .proxy import FaultProxy

FAULTS = ("down", "stall", "http500", "garbage", "huge")


def no_traceback(text: str | None) -> None:
    assert text, "a failure must come with a reason"
    assert "Traceback" not in text and "\n" not in text.strip()


def test_prometheus_faults_go_stale_and_recover(prometheus_scenarios, tmp_path, operator):  # noqa: F811
    proxy = FaultProxy(prometheus_scenarios)
    try:
        path = write_config(tmp_path, proxy.port)
        path.write_text(path.read_text().replace("timeout = 5", "timeout = 1"))
        session = GoLiveSession.open(path, "healthy", operator=operator)
        session.mark_done("x")
        watcher = MetricsWatcher(session.check_context(), lambda _s: None)
        metric = session.environment.metrics[0]
        good = watcher.poll(metric, None)
        assert not good.stale and good.points
        for fault in FAULTS:
            proxy.set(fault)
            started = time.monotonic()
            state = watcher.poll(metric, None)
            assert time.monotonic() - started < 15, fault
            assert state.stale, fault
            no_traceback(state.last_error)
            assert state.points == good.points, f"{fault}: the last good points stay on screen"
            proxy.set("pass")
            good = watcher.poll(metric, None)
            assert not good.stale and good.points, f"no recovery after {fault}"
        assert "32 MB" in _last_error_for(watcher, metric, proxy, "huge")
    finally:
        proxy.close()
    assert reopened_status(path, "healthy", operator) == "done"


def reopened_status(path, env, operator) -> str:
    """The mark made before the faults, read back from disk by a new session."""
    snapshot = GoLiveSession.open(path, env, operator=operator).items.snapshot
    assert snapshot is not None
    return snapshot.items["s/x"].status


def _last_error_for(watcher, metric, proxy, fault):
    proxy.set(fault)
    try:
        return watcher.poll(metric, None).last_error
    finally:
        proxy.set("pass")


def test_sentry_faults_go_stale_and_recover(sentry, tmp_path, operator):  # noqa: F811
    upstream = int(sentry.rsplit(":", 1)[1])
    proxy = FaultProxy(upstream)
    try:
        session = sentry_session(tmp_path, f"http://127.0.0.1:{proxy.port}", operator, timeout=1.0)
        session.mark_done("x")
        watcher = ErrorWatcher(
            session.check_context(),
            lambda _f: None,
            release=session.release_version,
            started=session.go_live_started(),
        )
        good = watcher.poll()
        assert not good.stale and good.issues
        reasons = {}
        for fault in FAULTS:
            proxy.set(fault)
            started = time.monotonic()
            feed = watcher.poll()
            assert time.monotonic() - started < 15, fault
            assert feed.stale, fault
            no_traceback(feed.last_error)
            reasons[fault] = feed.last_error
            assert feed.issues == good.issues, f"{fault}: the last issues stay on screen"
            blind = session.verdict([], [], feed)
            assert blind.state == "PENDING" and "cannot see the error tracker" in blind.reasons[0]
            proxy.set("pass")
            good = watcher.poll()
            assert not good.stale and good.issues, f"no recovery after {fault}"
        assert "did not answer in time" in reasons["stall"]
        assert "32 MB" in reasons["huge"]
        assert "not JSON" in reasons["garbage"]
    finally:
        proxy.close()
    assert reopened_status(tmp_path / "cockpit.toml", None, operator) == "done"


# --- Kubernetes ---------------------------------------------------------------------------------


class Snapshots:
    def __init__(self) -> None:
        self.last: ClusterSnapshot | None = None

    def __call__(self, snapshot: ClusterSnapshot) -> None:
        self.last = snapshot

    def wait(self, predicate, what: str, seconds: float = 30.0) -> ClusterSnapshot:
        return wait_until(
            lambda: self.last if self.last is not None and predicate(self.last) else None,
            seconds,
            what=lambda: f"{what} (last: {self.last})",
        )


def start_watcher(loaded, snapshots: Snapshots, **timing) -> ClusterWatcher:
    """A watcher with short timeouts, so that failures show within seconds."""
    cluster = loaded.model.environments["rehearsal"].clusters[0]
    watcher = ClusterWatcher(
        cluster, loaded, snapshots, read_timeout=2.0, backoff_cap=1.0, **timing
    )
    watcher.start()
    return watcher


def live(snapshot: ClusterSnapshot) -> bool:
    return snapshot.connected and snapshot.synced and all(v.found for v in snapshot.deployments)


def test_kubernetes_faults_go_stale_and_recover(cluster, tmp_path, operator):
    cluster.create_deployment("f1", "shop/f1:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "f1")
    proxy = FaultProxy(cluster.port)
    kubeconfig = json.loads(cluster.kubeconfig.read_text())
    kubeconfig["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{proxy.port}"
    proxied = tmp_path / "kubeconfig-proxied"
    proxied.write_text(json.dumps(kubeconfig))

    class Proxied:
        kubeconfig = proxied

    path = config_for(tmp_path, Proxied, ["f1"])
    session = GoLiveSession.open(path, None, operator=operator)
    session.mark_done("x")
    loaded = load_config(path)
    snapshots = Snapshots()
    watcher = start_watcher(loaded, snapshots, watch_seconds=30)
    try:
        snapshots.wait(live, "first sync")
        for fault in ("down", "stall", "garbage"):  # at the TCP level, in front of TLS
            proxy.set(fault)
            stale = snapshots.wait(lambda s: not s.connected, f"STALE on {fault}")
            no_traceback(stale.last_error)
            assert all(v.found for v in stale.deployments), "the last rows stay on screen"
            blind = session.verdict([], [stale])  # never GO on rows it cannot see now
            assert blind.state == "PENDING", blind
            assert blind.reasons[0].startswith("cannot see cluster"), blind
            proxy.set("pass")
            snapshots.wait(live, f"live again after {fault}")
        for fault in ("500", "garbage"):  # at the HTTP level, from the API server itself
            cluster.faults.api = fault
            proxy.set("pass")  # cut the open watches: the next requests meet the fault
            stale = snapshots.wait(lambda s: not s.connected, f"STALE on API {fault}")
            no_traceback(stale.last_error)
            cluster.faults.api = None
            snapshots.wait(live, f"live again after API {fault}")
        assert "HTTP 500" in _api_error(cluster, proxy, snapshots, "500", "HTTP 500")
        cluster.faults.api = "huge"  # 48 MB lists: read, no crash, and back to normal after
        proxy.set("pass")
        time.sleep(3)
        assert watcher_alive(watcher)
        cluster.faults.api = None
        proxy.set("pass")
        snapshots.wait(live, "live again after huge answers", seconds=60)
        cluster.stop()  # the API server itself stopped, then restarted on the same port
        snapshots.wait(lambda s: not s.connected, "STALE with the API server stopped")
        cluster.restart()
        snapshots.wait(live, "live again after the API server restarted")
    finally:
        cluster.faults.api = None
        watcher.stop()
        proxy.close()
    assert reopened_status(path, None, operator) == "done"
    assert AuditLog(loaded.audit_path).verify().ok


def _api_error(cluster, proxy, snapshots, fault, reason) -> str:
    cluster.faults.api = fault
    proxy.set("pass")
    try:
        stale = snapshots.wait(
            lambda s: not s.connected and reason in (s.last_error or ""), f"{reason} shown"
        )
        return str(stale.last_error)
    finally:
        cluster.faults.api = None
        snapshots.wait(live, f"live again after API {fault}")


def watcher_alive(watcher: ClusterWatcher) -> bool:
    return all(thread.is_alive() for thread in watcher._threads)


def test_kubernetes_stall_is_noticed_within_the_read_timeout(cluster, tmp_path):
    """A server that accepts connections and never answers: STALE within about twice the read
    timeout (one quiet re-watch, then one request with no answer), not after the watch ends."""
    cluster.create_deployment("f2", "shop/f2:1", namespace=NS, replicas=1)
    path = config_for(tmp_path, cluster, ["f2"])
    snapshots = Snapshots()
    watcher = start_watcher(load_config(path), snapshots)
    try:
        snapshots.wait(live, "first sync")
        cluster.faults.api = "stall"
        started = time.monotonic()
        snapshots.wait(lambda s: not s.connected, "STALE", seconds=20)
        assert time.monotonic() - started < 2 * 2.0 + 5
        cluster.faults.api = None
        snapshots.wait(live, "live again")
    finally:
        cluster.faults.api = None
        watcher.stop()


async def test_errors_pane_shows_stale_and_recovers(sentry, tmp_path, operator):  # noqa: F811
    """What the operator sees: the errors pane says STALE with the reason, keeps the last
    issues, and goes back to its counts when the tracker answers again."""
    from cockpit.tui.app import CockpitApp
    from cockpit.tui.widgets.errors import ErrorsPane, ErrorTable

    upstream = int(sentry.rsplit(":", 1)[1])
    proxy = FaultProxy(upstream)
    session = sentry_session(
        tmp_path, f"http://127.0.0.1:{proxy.port}", operator, timeout=1.0, interval="1s"
    )
    app = CockpitApp(session)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            pane = app.query_one(ErrorsPane)
            table = app.query_one(ErrorTable)

            def pane_until(predicate, seconds=20.0):
                return until(
                    pilot, predicate, seconds, every=0.1, what=lambda: pane.border_subtitle
                )

            await pane_until(lambda: "new" in str(pane.border_subtitle) and table.row_count > 0)
            rows = table.row_count
            proxy.set("http500")
            await pane_until(lambda: pane.border_subtitle == "STALE")
            status = str(pane.query_one("#errors-status").render())
            assert "stale" in status and "500" in status
            assert table.row_count == rows, "the last issues stay on screen"
            proxy.set("pass")
            await pane_until(lambda: "new" in str(pane.border_subtitle))
    finally:
        proxy.close()
