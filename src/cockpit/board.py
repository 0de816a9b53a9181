"""The live board: one place that watches the environment and gives the verdict.

It starts the watchers (clusters, metrics, errors), keeps their latest snapshots, follows the
release analysis run, and computes the verdict from all of it. The TUI, `cockpit status` and
`cockpit gate` all read the verdict from a board, so at the same moment they cannot disagree;
`gate --wait` keeps one board for its whole wait (the errors spike needs two samples of the
same watcher).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from cockpit.analysis import ReleaseAnalysis, ReleaseRun
from cockpit.config import MetricConfig, duration_seconds
from cockpit.errors import CockpitError
from cockpit.gates import Measuring, MetricState, Verdict
from cockpit.rollout import serving_revisions
from cockpit.session import GoLiveSession
from cockpit.sources.errors import ErrorFeed, ErrorWatcher
from cockpit.sources.kube import ClusterSnapshot, ClusterWatcher, DeploymentView
from cockpit.sources.prometheus import MetricsWatcher, Revisions, placeholder_values

MEASURE_ANYWAY_AFTER = 3.0  # seconds: metrics start without a run when clusters stay silent


class LiveBoard:
    """Latest cluster, metric and error snapshots and the current run, behind one lock.

    Watchers call the `push_*` methods from their threads; `listener` callbacks (the TUI posts
    a message to a pane) are called after the board has the new data.
    """

    def __init__(
        self,
        session: GoLiveSession,
        *,
        on_cluster: Callable[[ClusterSnapshot], object] | None = None,
        on_metric: Callable[[MetricState], object] | None = None,
        on_errors: Callable[[ErrorFeed], object] | None = None,
        on_run: Callable[[ReleaseRun], object] | None = None,
    ) -> None:
        self.session = session
        env = session.environment
        self.analysis = ReleaseAnalysis(
            session.audit,
            session.env_name,
            session.operator,
            read_only=session.read_only,
            via=session.via,
            bake_seconds=duration_seconds(env.bake_time),
        )
        self.on_cluster = on_cluster
        self.on_metric = on_metric
        self.on_errors = on_errors
        self.on_run = on_run
        self.snapshots: dict[str, ClusterSnapshot] = {}
        self.metric_states: dict[str, MetricState] = {}
        self.errors: ErrorFeed | None = None
        self.problems: list[CockpitError] = []
        self.watchers: list[ClusterWatcher] = []
        self.metrics_watcher: MetricsWatcher | None = None
        self.error_watcher: ErrorWatcher | None = None
        self._changed = threading.Condition(threading.RLock())
        self._version = 0
        self._live = False  # start() was called: the board runs its own watchers
        self._measuring = False
        self._stopped = False
        self._measuring_timer: threading.Timer | None = None

    # --- sources -------------------------------------------------------------------------------

    def start(self) -> None:
        self._live = True
        env = self.session.environment
        for cluster in env.clusters:
            try:
                watcher = ClusterWatcher(cluster, self.session.config, self.push_cluster)
                watcher.start()
            except CockpitError as exc:
                self.problems.append(exc)
                continue
            self.watchers.append(watcher)
        if self.watchers and self.analysis.current is None:
            # Measure once the run is known (the first sync of the clusters), so the first
            # measurements already count from the revisions' start; a cluster that does not
            # answer does not hold the metrics back for long.
            self._measuring_timer = threading.Timer(MEASURE_ANYWAY_AFTER, self._start_measuring)
            self._measuring_timer.daemon = True
            self._measuring_timer.start()
        else:
            self._start_measuring()

    def _start_measuring(self) -> None:
        env = self.session.environment
        with self._changed:
            if self._measuring or self._stopped:
                return
            self._measuring = True
        if self._measuring_timer is not None:
            self._measuring_timer.cancel()
        if env.prometheus is not None and env.metrics:
            self.metrics_watcher = MetricsWatcher(
                self.session.check_context(),
                self.push_metric,
                started=self.analysis_started,
                revisions=self.revisions,
                measuring=self.measuring,
            )
            self.metrics_watcher.start()
        if env.errors is not None:
            run = self.analysis.current
            self.error_watcher = ErrorWatcher(
                self.session.check_context(),
                self.push_errors,
                started=self.session.go_live_started(),
                release=self.session.release_version,
                run_started=run.measured_from if run else None,
                measuring=self.measuring,
            )
            self.error_watcher.start()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
        if self._measuring_timer is not None:
            self._measuring_timer.cancel()
        for watcher in self.watchers:
            watcher.stop()
        if self.metrics_watcher is not None:
            self.metrics_watcher.stop()
        if self.error_watcher is not None:
            self.error_watcher.stop()

    def retry_clusters(self) -> int:
        """The operator fixed the cause (logged in with SSO, VPN back): every cluster watcher
        tries again now instead of after its backoff; returns how many were asked."""
        for watcher in self.watchers:
            watcher.retry_now()
        return len(self.watchers)

    def join(self, timeout: float) -> bool:
        """After stop(): wait for the cluster watchers' threads; True when all have ended.

        A daemon thread still inside the client's TLS or socket code when the interpreter
        shuts down can make it abort (exit 134): the headless commands wait here first."""
        deadline = time.monotonic() + timeout
        return all(w.join(max(0.0, deadline - time.monotonic())) for w in self.watchers)

    def analysis_started(self) -> datetime | None:
        """Where measurements count from: the current run's start; without clusters to
        follow, the go-live or the latest `release start` or rollback."""
        run = self.analysis.current
        if run is not None:
            return run.started
        return self.session.analysis_started()

    def measuring(self) -> Measuring:
        """Where the current run's measurements count from, and why nothing is measured
        yet: the metrics and error pollers ask at every poll (another process may have
        recorded the moment)."""
        # a failing read of the audit log must not end the poller's thread: what is known
        # stands, and the verdict's own read says what failed
        with contextlib.suppress(OSError, CockpitError):
            self.analysis.refresh()
        run = self.analysis.current
        if run is None:
            return Measuring()
        return Measuring(run.measured_from, run.waiting, run.after_failure)

    def push_cluster(self, snapshot: ClusterSnapshot) -> None:
        started: ReleaseRun | None = None
        with self._changed:
            self.snapshots[snapshot.cluster] = snapshot
            names = [c.name for c in self.session.environment.clusters]
            waited = self.analysis.current
            if all(n in self.snapshots and self.snapshots[n].synced for n in names):
                try:
                    started = self.analysis.observe(self.views())
                except CockpitError as exc:  # the audit could not be written
                    self.problems.append(exc)
            self._bump()
        now_run = self.analysis.current
        if (
            started is None
            and waited is not None
            and now_run is not None
            and waited.id == now_run.id
            and waited.waiting
            and not now_run.waiting
        ):
            started = now_run  # the failed revision's pods are gone: measuring begins
        if started is not None:
            self._run_started(started)
        if self._live and self.analysis.current is not None and not self._measuring:
            self._start_measuring()
        if self.on_cluster is not None:
            self.on_cluster(snapshot)

    def _run_started(self, run: ReleaseRun) -> None:
        """A new revision is being judged: measure it now, not at the next interval."""
        if self.error_watcher is not None:
            self.error_watcher.wake()  # it asks `measuring` where its counts begin
        if self.metrics_watcher is not None:
            self.metrics_watcher.wake()
        if self.on_run is not None:
            self.on_run(run)

    def push_metric(self, state: MetricState) -> None:
        with self._changed:
            self.metric_states[state.metric.name] = state
            self._bump()
        if self.on_metric is not None:
            self.on_metric(state)

    def push_errors(self, feed: ErrorFeed) -> None:
        with self._changed:
            self.errors = feed
            self._bump()
        if self.on_errors is not None:
            self.on_errors(feed)

    def _bump(self) -> None:
        self._version += 1
        self._changed.notify_all()

    # --- reading -------------------------------------------------------------------------------

    def revisions(self, metric: MetricConfig) -> Revisions | None:
        """The new and old pod-template-hash of the metric's deployment, as the cluster
        shows it now (for a `compare` metric)."""
        # the deployment the query's {deployment} names, by the same rule that fills it
        name = placeholder_values(self.session.config, self.session.env_name, metric).get(
            "deployment"
        )
        for view in self.views():
            if view.name == name and view.kind == "deployment" and view.deployment is not None:
                new, old = serving_revisions(view.deployment, list(view.replicasets))
                return Revisions(new, old)
        return None

    def current_snapshots(self) -> list[ClusterSnapshot]:
        with self._changed:
            return [
                self.snapshots[c.name]
                for c in self.session.environment.clusters
                if c.name in self.snapshots
            ]

    def views(self) -> list[DeploymentView]:
        return [v for s in self.current_snapshots() for v in s.deployments]

    def metrics(self) -> list[MetricState]:
        """Metric states in config order; those measured for an earlier run are not used."""
        run = self.analysis.current
        with self._changed:
            states = [
                self.metric_states[m.name]
                for m in self.session.environment.metrics
                if m.name in self.metric_states
            ]
        if run is None:
            return states
        return [_for_run(state, run) for state in states]

    def error_feed(self) -> ErrorFeed | None:
        run = self.analysis.current
        with self._changed:
            feed = self.errors
        if feed is None or run is None:
            return feed
        if run.measured_from is not None and feed.run_started == run.measured_from:
            return feed
        if feed.run_started is None and not run.after_failure:
            return feed  # counted over the window, as before any run: nothing suspect in it
        return replace(feed, spike=None, fetched_at=feed.fetched_at if feed.last_error else None)

    def verdict(self, now: datetime | None = None) -> Verdict:
        """The verdict now. A failure it finds fails the current run (audited, final for the
        run); a GO is recorded as the run passing."""
        now = now or datetime.now(UTC)
        snapshots = self.current_snapshots()
        views = [v for s in snapshots for v in s.deployments]
        metrics, errors = self.metrics(), self.error_feed()
        self.analysis.refresh()  # another cockpit or `gate` may have judged the run
        result = self.session.verdict(
            metrics, snapshots, errors, self.analysis.status(views, now), now
        )
        values = {
            m.metric.name: "-" if m.current is None else f"{m.current:.4g}{m.metric.unit}"
            for m in metrics
        }
        try:
            if result.failure:
                self.analysis.judged(failed=result.failure, passed=False, values=values)
                result = self.session.verdict(
                    metrics, snapshots, errors, self.analysis.status(views, now), now
                )
            elif result.state == "GO":
                self.analysis.judged(failed=None, passed=True, values=values)
        except CockpitError as exc:
            self.problems.append(exc)
        return result

    def record(self, result: Verdict) -> bool:
        """Audit a verdict whose state or run differs from the last one recorded by anyone
        (this screen, another cockpit, headless `gate`): the report's key moments."""
        if self.session.read_only:
            return False
        env = self.session.environment
        if not (env.metrics or env.clusters or env.errors):
            return False
        if not self._every_source_answered():
            # a verdict from part of the sources (the first metric in, the rest not yet) is
            # PENDING by construction: each cockpit start wrote PENDING -> GO into the log
            return False
        self.analysis.refresh()
        key = (result.state, result.run_id)
        if key == self.analysis.last_verdict:
            return False
        self.analysis.last_verdict = key
        self.session.record_verdict(result, self.metrics())
        return True

    def _every_source_answered(self) -> bool:
        """Each metric has a state, each cluster synced or failed, the errors feed answered."""
        env = self.session.environment
        metrics = not (env.prometheus and env.metrics) or all(
            m.name in self.metric_states for m in env.metrics
        )
        clusters = all(
            c.name in self.snapshots
            and (self.snapshots[c.name].synced or bool(self.snapshots[c.name].last_error))
            for c in env.clusters
        )
        errors = env.errors is None or self.errors is not None
        return metrics and clusters and errors

    # --- waiting (headless) --------------------------------------------------------------------

    def wait_ready(self, seconds: float) -> None:
        """Until every source has answered once (or failed), or the time is up."""
        deadline = time.monotonic() + seconds
        env = self.session.environment
        with self._changed:
            while time.monotonic() < deadline:
                shots = [self.snapshots.get(c.name) for c in env.clusters]
                clusters = all(
                    shot is not None and ((shot.synced and shot.listed) or shot.last_error)
                    for shot in shots
                )
                metrics = not (env.prometheus and env.metrics) or all(
                    m.name in self.metric_states for m in env.metrics
                )
                errors = env.errors is None or self.errors is not None
                if clusters and metrics and errors:
                    return
                self._changed.wait(max(0.05, min(1.0, deadline - time.monotonic())))

    def wait_change(self, seconds: float) -> bool:
        """Until any source reports something, or the time is up; True when it did."""
        deadline = time.monotonic() + seconds
        with self._changed:
            seen = self._version
            while self._version == seen:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 1.0))
            return True


def _for_run(state: MetricState, run: ReleaseRun) -> MetricState:
    """A state measured for an earlier run says nothing about this one."""
    if state.run_started is None or state.run_started == run.started:
        return state
    return replace(
        state,
        measurements=(),
        phase="Pending",
        display="pending",
        reason="waiting for the first measurement of this run",
        run_started=run.started,
    )
