"""Pod logs read as `kubectl logs` reads them, against the rehearsal cluster: what goes wrong
is a stated notice (and the follow ends or goes on as it should), and a reconnect repeats no
line. The view itself is tested in test_tui_rollout.py."""

from __future__ import annotations

import threading
import time

from cockpit.config import load_config
from cockpit.sources.pod_logs import LogLine, LogNotice, PodLogFollower, _stamp_key

from .helpers import wait_until
from .kube_helpers import NS, config_for, kubectl, wait_rolled_out
from .test_kube_auth import config_with, denied_user, kubeconfig_with_user


def pod_of(cluster, name):
    pods = cluster.store.list(cluster_pods(), NS)
    return next(p for p in pods if p["metadata"]["name"].startswith(f"{name}-"))


def cluster_pods():
    from cockpit.rehearsal.kube import BY_PLURAL

    return BY_PLURAL[("", "pods")]


class Run:
    """A follower on its thread, its events collected."""

    def __init__(self, follower):
        self.follower = follower
        self.events = []
        self.thread = threading.Thread(target=follower.run, args=(self.events.append,))
        self.thread.start()

    def notices(self):
        return [e for e in self.events if isinstance(e, LogNotice)]

    def lines(self):
        return [line for e in self.events if isinstance(e, list) for line in e]

    def wait(self, predicate, timeout=10):
        wait_until(predicate, timeout, every=0.02, what=lambda: f"events: {self.events[-5:]}")

    def stop(self):
        self.follower.stop()
        self.thread.join(5)
        assert not self.thread.is_alive(), "the follower did not end when stopped"


def follower(tmp_path, cluster, pod, container="app", kubeconfig=None, **kw):
    if kubeconfig is None:
        loaded = load_config(config_for(tmp_path, cluster, []))
        cluster_config = loaded.model.environments["rehearsal"].clusters[0]
    else:
        loaded, cluster_config = config_with(tmp_path, kubeconfig, [])
    return PodLogFollower(cluster_config, loaded, NS, pod, container, **kw)


def test_log_errors_are_stated_and_end_or_retry_as_they_should(cluster, tmp_path):
    cluster.create_deployment("logerr", "shop/logerr:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "logerr")
    name = pod_of(cluster, "logerr")["metadata"]["name"]

    # 403 on pods/log (the pods themselves may be read): stated, the follow ends
    (tmp_path / "denied").mkdir()
    kubeconfig = kubeconfig_with_user(
        cluster, tmp_path / "denied", denied_user(cluster, "no-logs", ("get", "pods/log"))
    )
    run = Run(follower(tmp_path / "denied", cluster, name, kubeconfig=kubeconfig))
    run.wait(lambda: any(n.ended for n in run.notices()))
    run.stop()
    last = run.notices()[-1]
    assert last.problem and f"not allowed to read the logs of pod {name}" in last.text
    assert 'cannot get resource "pods/log"' in last.text

    # no previous run yet: kubectl's words, and nothing to follow
    run = Run(follower(tmp_path, cluster, name, previous=True))
    run.wait(lambda: any(n.ended for n in run.notices()))
    run.stop()
    assert 'previous terminated container "app"' in run.notices()[-1].text

    # a pod that is gone
    run = Run(follower(tmp_path, cluster, "logerr-gone-x"))
    run.wait(lambda: any(n.ended for n in run.notices()))
    run.stop()
    assert "pod logerr-gone-x is gone" in run.notices()[-1].text

    # a container that cannot start (its image cannot be pulled): retried, not ended
    cluster.faults.pull.add("shop/logerr:nopull")
    kubectl(cluster, "set", "image", "deployment/logerr", "app=shop/logerr:nopull")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pods = [
            p
            for p in cluster.store.list(cluster_pods(), NS)
            if p["metadata"]["name"].startswith("logerr-")
            and p["spec"]["containers"][0]["image"] == "shop/logerr:nopull"
            and "Pull" in str(p["status"])
        ]
        if pods:
            break
        time.sleep(0.05)
    run = Run(follower(tmp_path, cluster, pods[0]["metadata"]["name"]))
    run.wait(lambda: len([n for n in run.notices() if "has not started yet" in n.text]) >= 2)
    assert not any(n.ended for n in run.notices())
    assert "trying again in" in run.notices()[-1].text
    run.stop()  # ends at once, mid-wait


def test_a_reconnect_repeats_no_line():
    f = PodLogFollower.__new__(PodLogFollower)
    f._last = None
    first = [LogLine("2026-12-01T10:00:00.5Z", "a"), LogLine("2026-12-01T10:00:01Z", "b")]
    first.append(LogLine("2026-12-01T10:00:01Z", "b2"))  # two lines in the same instant
    assert f._unseen(first) == first
    again = [*first, LogLine("2026-12-01T10:00:01Z", "b3"), LogLine("2026-12-01T10:00:02Z", "c")]
    assert [line.text for line in f._unseen(again)] == ["b3", "c"]
    assert f._unseen(again) == []
    assert _stamp_key("2026-12-01T10:00:00.5Z") > _stamp_key("2026-12-01T10:00:00.123456789Z")
