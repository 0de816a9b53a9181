"""Incremental snapshots against a shadow model of the watch, over wider pools than
test_kube_mirror.py: all four workload kinds (Argo Rollouts read ReplicaSets), one name in
several kinds, pods owned by a workload and a revision at once, owner references and Events
of odd shapes, re-lists that drop, copy and add objects in a new order, Event trimming
(EVENTS_KEPT made small), and watch threads applying changes while two threads take
snapshots. The shadow keeps its own copy of the objects, so the mirror's contents and order
are checked too, not only the views."""

from __future__ import annotations

import itertools
import random
import sys
import threading
from typing import Any, cast

import pytest

import cockpit.sources.kube as kube
from cockpit.config import ClusterConfig, LoadedConfig
from cockpit.sources.kube import ClusterWatcher, _event_time, _mirrored

KINDS = [
    "deployments",
    "statefulsets",
    "daemonsets",
    "rollouts",
    "replicasets",
    "controllerrevisions",
    "pods",
    "events",
]
WL = {
    "deployments": "deployment",
    "statefulsets": "statefulset",
    "daemonsets": "daemonset",
    "rollouts": "rollout",
}
REV = {
    "deployment": "replicasets",
    "statefulset": "controllerrevisions",
    "daemonset": "controllerrevisions",
    "rollout": "replicasets",
}
WNAMES = ["a", "b", "c", "d"]
RNAMES = ["a", "r0", "r1", "r2", "x"]  # "a": same name as a workload
PNAMES = ["a", "p0", "p1", "p2", "p3"]
ENAMES = [f"e{n}" for n in range(90)]
WUIDS = ["u1", "u2", "u3", "u4", None]
RUIDS = ["v1", "v2", "v3", "v4", "u1", None]  # u1: collides with a workload UID
ALLNAMES = [*sorted(set(WNAMES + RNAMES + PNAMES)), "zz"]
_n = itertools.count()


def _meta(name, uid, refs):
    m: dict[str, Any] = {"resourceVersion": str(next(_n))}
    if name is not ...:
        m["name"] = name
    if uid is not None:
        m["uid"] = uid
    if refs is not None:
        m["ownerReferences"] = refs
    return m


def _refs(rng, pool):
    out = []
    for _ in range(rng.randint(0, 3)):
        r = rng.random()
        if r < 0.05:
            out.append("junk")  # not a dict
        else:
            ref = {"uid": rng.choice(pool)}
            c = rng.random()
            if c < 0.6:
                ref["controller"] = True
            elif c < 0.8:
                ref["controller"] = False
            out.append(ref)
    return out if out or rng.random() < 0.5 else None


def _event(rng, name):
    e: dict[str, Any] = {"metadata": _meta(name, None, None)}
    r = rng.random()
    if r < 0.75:
        e["involvedObject"] = {"name": "a" if rng.random() < BIAS else rng.choice(ALLNAMES)}
    elif r < 0.85:
        e["involvedObject"] = "oops"
    elif r < 0.9:
        e["involvedObject"] = {}
    t = rng.choice(["t1", "t2", "t3", "t4", None])
    key = rng.choice(["lastTimestamp", "eventTime"])
    if t is not None:
        e[key] = t
    elif rng.random() < 0.5:
        e["metadata"]["creationTimestamp"] = "t0"
    return e


def _obj(rng, kind):
    if kind in WL:
        return {"metadata": _meta(rng.choice(WNAMES), rng.choice(WUIDS), None)}
    if kind in ("replicasets", "controllerrevisions"):
        return {
            "metadata": _meta(rng.choice(RNAMES), rng.choice(RUIDS), _refs(rng, [*WUIDS, "v1"]))
        }
    if kind == "pods":
        return {
            "metadata": _meta(
                rng.choice(PNAMES), f"pu{rng.randrange(9)}", _refs(rng, RUIDS + WUIDS)
            )
        }
    return _event(rng, rng.choice(ENAMES))


class Shadow:
    def __init__(self, watcher):
        self.w = watcher
        self.o = {k: {} for k in KINDS}

    def apply(self, kind, typ, obj):
        name = obj.get("metadata", {}).get("name")
        if not name:
            return
        if typ == "DELETED":
            self.o[kind].pop(name, None)
        else:
            self.o[kind][name] = obj
        if kind == "events" and len(self.o[kind]) > kube.EVENTS_KEPT * 2:
            newest = sorted(self.o[kind].values(), key=_event_time)[-kube.EVENTS_KEPT :]
            self.o[kind] = {e["metadata"]["name"]: e for e in newest}

    def view(self, kind, name):
        plural = kind + "s"
        obj = self.o[plural].get(name)
        revs, pods, events = [], [], []
        if obj is not None:
            uid = obj["metadata"].get("uid")
            if uid is not None:
                for rs in self.o[REV[kind]].values():
                    for ref in rs["metadata"].get("ownerReferences") or ():
                        if isinstance(ref, dict) and ref.get("controller"):
                            if ref.get("uid") == uid:
                                revs.append(rs)
                            break
            owners = {uid} | {r["metadata"].get("uid") for r in revs}
            if kind in ("deployment", "rollout"):
                owners.discard(uid)
            owners.discard(None)
            for p in self.o["pods"].values():
                us = {
                    r.get("uid")
                    for r in p["metadata"].get("ownerReferences") or ()
                    if isinstance(r, dict)
                }
                if us & owners:
                    pods.append(p)
            names = {name} | {o["metadata"]["name"] for o in revs + pods}
            for e in self.o["events"].values():
                inv = e.get("involvedObject")
                if isinstance(inv, dict) and inv.get("name") in names:
                    events.append(e)
            events = sorted(events, key=_event_time)[-30:]
        w = self.w
        unknown = None
        if obj is None:
            unknown = w._failing.get(plural)
            if unknown is None and plural not in w._synced:
                unknown = f"{plural} not listed yet"
        return obj, revs, pods, events, unknown


VALID = True
BIAS = 0.5


def _watcher():
    if VALID:
        cluster = ClusterConfig(
            name="c",
            namespace="ns",
            deployments=["a"],
            statefulsets=["b"],
            daemonsets=["c"],
            workloads=["rollout/d"],
        )
    else:  # bypass validation: same name in two kinds, one listed twice
        cluster = ClusterConfig.model_construct(
            name="c",
            namespace="ns",
            deployments=["a", "b"],
            statefulsets=["a"],
            daemonsets=["b", "c"],
            workloads=["rollout/a", "deployment/a", "rollout/c"],
        )
    w = ClusterWatcher(cluster, cast(LoadedConfig, None), lambda _s: None)
    assert set(w.KINDS) == set(KINDS), w.KINDS
    w._synced = set(w.KINDS)
    return w


def _check(w, sh, where):
    shot = w.snapshot()
    assert len(shot.deployments) == len(w._targets)
    for view in shot.deployments:
        obj, revs, pods, events, unknown = sh.view(view.kind, view.name)
        tag = (where, view.kind, view.name)
        assert view.deployment is obj, tag
        assert view.unknown == unknown, tag
        assert [id(x) for x in view.replicasets] == [id(x) for x in revs], tag
        assert [id(x) for x in view.pods] == [id(x) for x in pods], tag
        assert [id(x) for x in view.events] == [id(x) for x in events], tag


def _step(rng, w, sh):
    r = rng.random()
    if r < 0.55:
        kind = rng.choice(KINDS + ["pods", "replicasets"] + ["events"] * 8)
        obj = _obj(rng, kind)
        if rng.random() < 0.03:
            del obj["metadata"]["name"]
        typ = rng.choice(["ADDED", "MODIFIED"])
        w._apply(kind, typ, obj)
        sh.apply(kind, typ, obj)
    elif r < 0.72:
        kind = rng.choice(KINDS)
        pool = {
            "events": ENAMES,
            "pods": PNAMES,
            "replicasets": RNAMES,
            "controllerrevisions": RNAMES,
        }.get(kind, WNAMES)
        obj = {"metadata": {"name": rng.choice(pool)}}
        w._apply(kind, "DELETED", obj)
        sh.apply(kind, "DELETED", obj)
    elif r < 0.76:  # re-list: some kept, some new, some gone, server order
        kind = rng.choice(KINDS)
        items = [o for o in sh.o[kind].values() if rng.random() < 0.7]
        items = [dict(o) if rng.random() < 0.5 else o for o in items]
        items += [_obj(rng, kind) for _ in range(rng.randint(0, 4))]
        rng.shuffle(items)
        items = [i for i in items if "name" in i["metadata"]]
        with w._lock:
            w._mirror.replace_all(kind, _mirrored(kind, items))
            w._synced.add(kind)
        sh.o[kind] = _mirrored(kind, items)
    elif r < 0.8:
        kind = rng.choice(KINDS)
        a = rng.random()
        if a < 0.4:
            w._fail(kind, rng.choice(["403", "timeout"]))
        elif a < 0.8:
            w._ok(kind)
        else:
            with w._lock:
                w._synced.symmetric_difference_update({kind})
    else:
        return True
    return False


@pytest.mark.parametrize("valid", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_wide_pools(seed, valid, monkeypatch):
    monkeypatch.setattr(kube, "EVENTS_KEPT", 40)
    monkeypatch.setattr(sys.modules[__name__], "VALID", valid)
    rng = random.Random(seed)
    for run in range(150):
        w = _watcher()
        sh = Shadow(w)
        for i in range(rng.randint(5, 250)):
            if _step(rng, w, sh):
                _check(w, sh, (seed, run, i))
        _check(w, sh, (seed, run, "end"))


def test_concurrent_apply_and_two_snapshot_callers(monkeypatch):
    monkeypatch.setattr(kube, "EVENTS_KEPT", 40)
    w = _watcher()
    sh = Shadow(w)
    shlock = threading.Lock()
    stop = threading.Event()
    errors = []

    def writer(seed):
        rng = random.Random(seed)
        try:
            for _ in range(3000):
                kind = rng.choice(KINDS)
                obj = _obj(rng, kind)
                typ = rng.choice(["ADDED", "DELETED"])
                with shlock:  # same order in both
                    w._apply(kind, typ, obj)
                    sh.apply(kind, typ, obj)
        except Exception as exc:
            errors.append(exc)

    def reader():
        try:
            while not stop.is_set():
                w.snapshot()
        except Exception as exc:
            errors.append(exc)

    ws = [threading.Thread(target=writer, args=(s,)) for s in range(3)]
    rs = [threading.Thread(target=reader) for _ in range(2)]
    for t in ws + rs:
        t.start()
    for t in ws:
        t.join()
    stop.set()
    for t in rs:
        t.join()
    assert not errors
    _check(w, sh, "final")


@pytest.mark.parametrize("seed", range(3))
def test_many_events_about_one_name(seed, monkeypatch):
    monkeypatch.setattr(kube, "EVENTS_KEPT", 40)
    monkeypatch.setattr(sys.modules[__name__], "VALID", True)
    monkeypatch.setattr(sys.modules[__name__], "BIAS", 0.95)
    rng = random.Random(100 + seed)
    cut = 0
    for run in range(60):
        w = _watcher()
        sh = Shadow(w)
        w._apply("deployments", "ADDED", {"metadata": {"name": "a", "uid": "u1"}})
        sh.apply("deployments", "ADDED", sh.w._mirror.objects["deployments"]["a"])
        for i in range(300):
            if rng.random() < 0.8:
                obj = _event(rng, rng.choice(ENAMES))
                w._apply("events", "ADDED", obj)
                sh.apply("events", "ADDED", obj)
            elif rng.random() < 0.5:
                obj = {"metadata": {"name": rng.choice(ENAMES)}}
                w._apply("events", "DELETED", obj)
                sh.apply("events", "DELETED", obj)
            else:
                _check(w, sh, (seed, run, i))
                cut += len(w.snapshot().deployments[0].events) == 30
    assert cut > 0
