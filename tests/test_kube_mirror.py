"""The incremental snapshot equals a snapshot made from scratch, whatever the watch events.

`ClusterWatcher.snapshot()` builds again only the views a change touched, from indexes kept
as each object changes (cockpit.sources.kube_mirror). If it missed a view a change touched,
the rollout pane would show an old state of a workload: these tests drive random sequences
of watch events (adds, replacements, deletions, owners that change, pods of revisions made
in the same batch, events about anything, whole re-lists) through the watcher's own
`_apply` and check, after each snapshot, every view against views built by one plain pass
over all the objects, the definition of what a view holds.
"""

from __future__ import annotations

import itertools
import random
from typing import Any, cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.config import ClusterConfig, LoadedConfig
from cockpit.sources.kube import ClusterWatcher

DEPLOYMENTS = ["d0", "d1", "d2"]
STATEFULSETS = ["s0"]
WORKLOADS = [("deployments", n) for n in [*DEPLOYMENTS, "other"]] + [
    ("statefulsets", n) for n in STATEFULSETS
]
# small pools, so that owners, UIDs and names meet often
UIDS = ["u-d0", "u-d0", "u-d1", "u-s0", "u-d0b", "u-other", None]
REVISIONS = [("replicasets", f"r{n}") for n in range(3)] + [("controllerrevisions", "c0")]
PODS = [f"p{n}" for n in range(4)]
EVENTS = [f"e{n}" for n in range(4)]
CONTROLLER = st.sampled_from([True, True, False])
NAMES = [*DEPLOYMENTS, *STATEFULSETS, "other"] + [n for _, n in REVISIONS] + PODS

_counter = itertools.count()


def _meta(name: str, uid: object, owners: list[tuple[object, bool]]) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "resourceVersion": str(next(_counter))}
    if uid is not None:
        meta["uid"] = uid
    if owners:
        meta["ownerReferences"] = [{"uid": u, "controller": c} for u, c in owners]
    return meta


workload_puts = st.tuples(
    st.just("put"),
    st.sampled_from(WORKLOADS),
    st.sampled_from(["", "", "b", None]),  # its UID: u-NAME, u-NAMEb (made again) or none
    st.just([]),
)
revision_puts = st.tuples(
    st.just("put"),
    st.sampled_from(REVISIONS),
    st.sampled_from(["a", "b"]),  # its own UID: name + a or b
    st.lists(st.tuples(st.sampled_from(UIDS), CONTROLLER), min_size=1, max_size=2),
)
pod_puts = st.tuples(
    st.just("put"),
    st.tuples(st.just("pods"), st.sampled_from(PODS)),
    st.just(None),
    st.lists(
        st.tuples(st.sampled_from(["r0a", "r1a", "r0b", "r2a", "c0a", "u-s0", None]), CONTROLLER),
        min_size=1,
        max_size=2,
    ),
)
event_puts = st.tuples(
    st.just("put"),
    st.tuples(st.just("events"), st.sampled_from(EVENTS)),
    st.sampled_from(NAMES),  # what the event is about
    st.sampled_from(["t1", "t2", "t3"]),  # its time: ties are common
)
deletes = st.tuples(
    st.just("delete"),
    st.sampled_from(
        WORKLOADS + REVISIONS + [("pods", p) for p in PODS] + [("events", e) for e in EVENTS]
    ),
    st.none(),
    st.none(),
)
relists = st.tuples(
    st.just("relist"),
    st.tuples(
        st.sampled_from(
            ["deployments", "statefulsets", "replicasets", "controllerrevisions", "pods", "events"]
        ),
        st.just(""),
    ),
    st.none(),
    st.none(),
)
snapshots = st.tuples(st.just("snapshot"), st.none(), st.none(), st.none())
KINDS = ["deployments", "statefulsets", "replicasets", "controllerrevisions", "pods", "events"]
failures = st.tuples(  # a kind that fails (403) or answers again, or is not listed yet
    st.sampled_from(["fail", "ok", "unsync"]), st.sampled_from(KINDS), st.none(), st.none()
)
steps = st.lists(
    st.one_of(
        workload_puts,
        revision_puts,
        pod_puts,
        event_puts,
        deletes,
        relists,
        failures,
        snapshots,
        snapshots,
    ),
    max_size=80,
)


def _object(step: tuple[Any, ...]) -> tuple[str, dict[str, Any]]:
    _, (kind, name), extra, owners = step
    if kind in ("deployments", "statefulsets"):
        return kind, {"metadata": _meta(name, None if extra is None else f"u-{name}{extra}", [])}
    if kind in ("replicasets", "controllerrevisions"):
        return kind, {"metadata": _meta(name, f"{name}{extra}", owners)}
    if kind == "pods":
        return kind, {"metadata": _meta(name, f"{name}-uid", owners)}
    return kind, {
        "metadata": _meta(name, None, []),
        "involvedObject": {"name": extra},
        "lastTimestamp": owners,
    }


def _watcher() -> ClusterWatcher:
    cluster = ClusterConfig(
        name="c", namespace="shop", deployments=DEPLOYMENTS, statefulsets=STATEFULSETS
    )
    watcher = ClusterWatcher(cluster, cast(LoadedConfig, None), lambda _shot: None)
    watcher._synced = set(watcher.KINDS)
    return watcher


def _expected(objects: dict[str, dict[str, dict[str, Any]]], kind: str, name: str):
    """A view's objects by one plain pass over every object, in the maps' order."""
    plural, revision_plural = {
        "deployment": ("deployments", "replicasets"),
        "statefulset": ("statefulsets", "controllerrevisions"),
    }[kind]
    obj = objects[plural].get(name)
    if obj is None:
        return None, [], [], []
    uid = obj["metadata"].get("uid")
    revisions = []
    if uid is not None:
        for rs in objects[revision_plural].values():
            controllers = [r for r in rs["metadata"].get("ownerReferences", []) if r["controller"]]
            if controllers and controllers[0]["uid"] == uid:
                revisions.append(rs)
    owners = {uid} | {r["metadata"].get("uid") for r in revisions}
    if kind == "deployment":
        owners.discard(uid)
    owners.discard(None)  # an object without a UID owns nothing
    pods = [
        p
        for p in objects["pods"].values()
        if {_str(r.get("uid")) for r in p["metadata"].get("ownerReferences", [])} & owners
    ]
    names = {name} | {o["metadata"]["name"] for o in [*revisions, *pods]}
    events = [e for e in objects["events"].values() if _str(e["involvedObject"]["name"]) in names]
    events = sorted(events, key=lambda e: e["lastTimestamp"])[-30:]
    return obj, revisions, pods, events


def _unknown(watcher: ClusterWatcher, plural: str, obj: object) -> str | None:
    if obj is not None:
        return None
    if plural in watcher._failing:
        return watcher._failing[plural]
    return None if plural in watcher._synced else f"{plural} not listed yet"


def _str(value: object) -> str | None:
    """A UID or name; anything else is none (the API server only ever sends strings)."""
    return value if isinstance(value, str) else None


def _check(watcher: ClusterWatcher) -> None:
    objects = {kind: dict(items) for kind, items in watcher._objects.items()}
    shot = watcher.snapshot()
    uids: dict[object, set[tuple[str, str]]] = {}
    names: dict[object, set[tuple[str, str]]] = {}
    for view in shot.deployments:
        obj, revisions, pods, events = _expected(objects, view.kind, view.name)
        assert view.deployment is obj, view.name
        assert view.unknown == _unknown(watcher, f"{view.kind}s", obj), view.name
        assert [id(o) for o in view.replicasets] == [id(o) for o in revisions], view.name
        assert [id(o) for o in view.pods] == [id(o) for o in pods], view.name
        assert [id(o) for o in view.events] == [id(o) for o in events], view.name
        key = (view.kind, view.name)
        for o in [obj, *revisions]:
            if o is not None and o["metadata"].get("uid") is not None:
                uids.setdefault(o["metadata"]["uid"], set()).add(key)
        for name in [view.name] + [o["metadata"]["name"] for o in [*revisions, *pods]]:
            names.setdefault(name, set()).add(key)
    # what leads to a view is exactly what it holds now: nothing stale is kept (it would
    # grow with every pod and revision a long go-live sees)
    assert watcher._by_uid == uids
    assert watcher._by_name == names


def _run(watcher: ClusterWatcher, plan: list[tuple[Any, ...]]) -> None:
    for step in plan:
        action = step[0]
        if action == "snapshot":
            _check(watcher)
        elif action == "put":
            kind, obj = _object(step)
            watcher._apply(kind, "ADDED", obj)
        elif action == "fail":
            watcher._fail(step[1], "403 Forbidden")
        elif action == "ok":
            watcher._synced.add(step[1])
            watcher._ok(step[1])
        elif action == "unsync":
            with watcher._lock:
                watcher._synced.discard(step[1])
        elif action == "delete":
            kind, name = step[1]
            watcher._apply(kind, "DELETED", {"metadata": {"name": name}})
        else:  # a re-list: the same objects as new ones, in the server's order
            kind = step[1][0]
            with watcher._lock:
                fresh = {n: _copy(o) for n, o in sorted(watcher._objects[kind].items())}
                watcher._mirror.replace_all(kind, fresh)
    _check(watcher)


def _copy(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: (_copy(v) if isinstance(v, dict) else v) for k, v in obj.items()}


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_incremental_snapshots_equal_snapshots_from_scratch(plan):
    _run(_watcher(), plan)


def test_a_pod_of_a_revision_made_in_the_same_batch_joins_the_view():
    watcher = _watcher()
    _run(
        watcher,
        [
            ("put", ("deployments", "d0"), "", []),
            ("snapshot", None, None, None),
            ("put", ("replicasets", "r0"), "a", [("u-d0", True)]),
            ("put", ("pods", "p0"), None, [("r0a", True)]),
        ],
    )
    view = watcher.snapshot().deployments[0]
    assert [p["metadata"]["name"] for p in view.pods] == ["p0"]


TWO_AND_A_REVISION = [  # d0 and d1, and d0's ReplicaSet r0
    ("put", ("deployments", "d0"), "", []),
    ("put", ("deployments", "d1"), "", []),
    ("put", ("replicasets", "r0"), "a", [("u-d0", True)]),
]


def test_a_revision_handed_to_another_owner_leaves_the_first_view():
    watcher = _watcher()
    handed = ("put", ("replicasets", "r0"), "a", [("u-d1", True)])
    _run(watcher, [*TWO_AND_A_REVISION, ("snapshot", None, None, None), handed])
    d0, d1 = watcher.snapshot().deployments[:2]
    assert not d0.replicasets and [r["metadata"]["name"] for r in d1.replicasets] == ["r0"]


def test_an_untouched_view_is_the_same_object_and_a_touched_one_is_new():
    watcher = _watcher()
    _run(watcher, TWO_AND_A_REVISION)
    first = watcher.snapshot().deployments
    watcher._apply("events", "ADDED", _object(("put", ("events", "e0"), "r0", "t1"))[1])
    after = watcher.snapshot().deployments
    assert after[1] is first[1] and after[0] is not first[0]
    assert [e["metadata"]["name"] for e in after[0].events] == ["e0"]


def _random_plan(rng: random.Random, size: int) -> list[tuple[Any, ...]]:
    """A plan drawn uniformly from the same pools as above: hypothesis favours short, simple
    plans, and a revision, a pod of it and a snapshot between them meet too rarely there."""
    plan: list[tuple[Any, ...]] = []
    for _ in range(size):
        pick = rng.randrange(10)
        if pick == 0:
            plan.append(("put", rng.choice(WORKLOADS), rng.choice(["", "", "b", None]), []))
        elif pick in (1, 2):
            owners = [(rng.choice(UIDS), rng.random() < 0.7) for _ in range(rng.randint(1, 2))]
            plan.append(("put", rng.choice(REVISIONS), rng.choice("ab"), owners))
        elif pick in (3, 4):
            pods_owners = ["r0a", "r1a", "r0b", "r2a", "c0a", "u-s0", None]
            owners = [(rng.choice(pods_owners), True) for _ in range(rng.randint(1, 2))]
            plan.append(("put", ("pods", rng.choice(PODS)), None, owners))
        elif pick == 5:
            about_name = rng.choice(NAMES)
            plan.append(
                ("put", ("events", rng.choice(EVENTS)), about_name, rng.choice(["t1", "t2"]))
            )
        elif pick == 6:
            kinds = WORKLOADS + REVISIONS + [("pods", p) for p in PODS]
            plan.append(("delete", rng.choice(kinds), None, None))
        elif pick == 7 and rng.random() < 0.2:
            plan.append((rng.choice(["relist", "fail", "ok", "unsync"]), None, None, None))
        else:
            plan.append(("snapshot", None, None, None))
    return [
        (step[0], (rng.choice(KINDS), ""), None, None)
        if step[0] == "relist"
        else (step[0], rng.choice(KINDS), None, None)
        if step[0] in ("fail", "ok", "unsync")
        else step
        for step in plan
    ]


def test_incremental_snapshots_equal_snapshots_from_scratch_on_uniform_plans():
    rng = random.Random(20)
    for _ in range(1500):
        _run(_watcher(), _random_plan(rng, 40))


def test_changes_kept_without_a_snapshot_are_bounded_and_the_next_snapshot_is_whole():
    """With no snapshot for a long while (its thread stalled), the old versions of every
    changed object are not kept alive without end: past a bound the record is dropped and
    the next snapshot builds every view."""
    watcher = _watcher()
    _run(watcher, [("put", ("deployments", "d0"), "", []), ("put", ("pods", "p0"), None, [])])
    for n in range(3000):
        _, pod = _object(("put", ("pods", f"p{n % 4}"), None, [("u-s0", True)]))
        watcher._apply("pods", "MODIFIED", pod)
    assert len(watcher._mirror._changed) <= 4 * 5 + 1000
    _check(watcher)


def test_an_object_with_keys_of_the_wrong_type_leaves_the_mirror_whole():
    """The API server never sends a list where a name goes; if something did, the mirror
    must not be left half-changed (stored but not indexed)."""
    watcher = _watcher()
    _run(watcher, [("put", ("deployments", "d0"), "", [])])
    strange = {"metadata": {"name": "e9"}, "involvedObject": {"name": ["d0"]}}
    watcher._apply("events", "ADDED", strange)
    watcher._apply(
        "pods", "ADDED", {"metadata": {"name": "p9", "ownerReferences": [{"uid": {"x": 1}}]}}
    )
    _check(watcher)
    watcher._apply("events", "DELETED", strange)
    watcher._apply("pods", "DELETED", {"metadata": {"name": "p9"}})
    assert "e9" not in watcher._objects["events"] and "p9" not in watcher._objects["pods"]
    _check(watcher)
