"""The watched objects of one namespace, indexed as a workload's view reads them.

`ClusterWatcher` keeps, per kind, the objects its lists and watches gave, by name. A view of a
workload needs its revisions (by controller UID), the pods of those (by any owner UID) and the
events about any of them (by the involved object's name). Building those indexes for every
snapshot cost a pass over every object of the namespace for each watch event; here they are
kept up to date as each object changes, so an event costs its own object.

Order is kept as the name maps order their objects (a dict: a replaced object keeps its place,
a deleted one that comes back goes last): each name gets a position when it first enters
its kind's map, and a lookup returns the objects in that order, as one pass over the map
would.

The mirror also remembers every version of every object changed since `take_changes()` was
last called (the old one too: a deleted pod or a revision handed to another owner still tells
whose view it was in), and whether a whole kind was replaced (a re-list), after which every
view is built again. It is not thread-safe: the watcher holds its lock around every call.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

JSON = dict[str, Any]

REVISION_KINDS = frozenset({"replicasets", "controllerrevisions"})


def controller_uid(obj: JSON) -> str | None:
    """The UID of the object's controlling owner, or None."""
    for ref in _owner_refs(obj):
        if ref.get("controller"):
            return _text(ref.get("uid"))
    return None


def owner_uids(obj: JSON) -> set[str | None]:
    return {_text(ref.get("uid")) for ref in _owner_refs(obj)}


def about(event: JSON) -> str | None:
    """The name of what an Event is about."""
    involved = event.get("involvedObject")
    return _text(involved.get("name")) if isinstance(involved, dict) else None


def _text(value: object) -> str | None:
    """A UID or name as the API server writes them; anything else (which it never sends)
    is no key at all rather than an unhashable one that would stop the mirror half-way."""
    return value if isinstance(value, str) else None


def _owner_refs(obj: JSON) -> list[JSON]:
    metadata = obj.get("metadata")
    refs = metadata.get("ownerReferences") if isinstance(metadata, dict) else None
    return [ref for ref in refs or () if isinstance(ref, dict)]


class Mirror:
    """Objects by kind and name, with the owner and event indexes, and what changed."""

    def __init__(self, kinds: Iterable[str]) -> None:
        self.objects: dict[str, dict[str, JSON]] = {kind: {} for kind in kinds}
        self._positions = itertools.count()
        self._place: dict[str, dict[str, int]] = {kind: {} for kind in self.objects}
        # kind -> key -> names: revisions by controller UID, pods by each owner UID, events
        # by the name of what they are about
        self._index: dict[str, dict[object, set[str]]] = {kind: {} for kind in self.objects}
        self._changed: list[tuple[str, JSON]] = []
        self._wholesale = True  # nothing seen yet: every view is new
        self._size = 0  # objects of every kind

    # --- changes ------------------------------------------------------------------------------

    def put(self, kind: str, obj: JSON) -> None:
        name = obj["metadata"]["name"]
        objects = self.objects[kind]
        old = objects.get(name)
        if old is not None:
            self._unindex(kind, name, old)
            self._note(kind, old)
        else:
            self._place[kind][name] = next(self._positions)
            self._size += 1
        objects[name] = obj
        self._reindex(kind, name, obj)
        self._note(kind, obj)

    def delete(self, kind: str, name: str) -> None:
        old = self.objects[kind].pop(name, None)
        if old is not None:
            self._unindex(kind, name, old)
            del self._place[kind][name]
            self._size -= 1
            self._note(kind, old)

    def _note(self, kind: str, obj: JSON) -> None:
        """Remember a changed version until the next snapshot. Far more changes than objects
        (no snapshot taken for a long while) are forgotten: the next snapshot builds every
        view instead, and the old versions are not kept alive."""
        if self._wholesale:
            return  # every view is built again anyway
        self._changed.append((kind, obj))
        if len(self._changed) > 4 * self._size + 1000:
            self._changed = []
            self._wholesale = True

    def replace_all(self, kind: str, objects: dict[str, JSON]) -> None:
        """A whole kind anew (a list, or Events cut to the newest): every view is built again."""
        self._size += len(objects) - len(self.objects[kind])
        self.objects[kind] = {}
        self._place[kind] = {}
        self._index[kind] = {}
        self._changed = []
        for name, obj in objects.items():
            self.objects[kind][name] = obj
            self._place[kind][name] = next(self._positions)
            self._reindex(kind, name, obj)
        self._wholesale = True

    def take_changes(self) -> tuple[list[tuple[str, JSON]], bool]:
        """Every version of every object changed since the last call, and whether a whole
        kind was replaced since (then the changes do not say everything that moved)."""
        changed, wholesale = self._changed, self._wholesale
        self._changed, self._wholesale = [], False
        return changed, wholesale

    # --- lookups ------------------------------------------------------------------------------

    def get(self, kind: str, name: str) -> JSON | None:
        return self.objects.get(kind, {}).get(name)

    def revisions(self, kind: str, uid: object) -> list[JSON]:
        if uid is None or kind not in self.objects:
            return []
        return self._in_order(kind, self._index[kind].get(uid, ()))

    def pods_of(self, owners: Iterable[object]) -> list[JSON]:
        """The pods owned by any of `owners` (UIDs)."""
        return self._by_keys("pods", owners)

    def events_about(self, names: Iterable[str]) -> list[JSON]:
        """The events about any of the objects named."""
        return self._by_keys("events", names)

    def _by_keys(self, kind: str, keys: Iterable[object]) -> list[JSON]:
        if kind not in self.objects:
            return []
        index = self._index[kind]
        names: set[str] = set()
        for key in keys:
            names |= index.get(key, set())
        return self._in_order(kind, names)

    def _in_order(self, kind: str, names: Iterable[str]) -> list[JSON]:
        place, objects = self._place[kind], self.objects[kind]
        return [objects[name] for name in sorted(names, key=place.__getitem__)]

    # --- the indexes --------------------------------------------------------------------------

    def _keys(self, kind: str, obj: JSON) -> set[str | None]:
        if kind in REVISION_KINDS:
            uid = controller_uid(obj)
            return set() if uid is None else {uid}
        if kind == "pods":
            return owner_uids(obj)
        if kind == "events":
            return {about(obj)}
        return set()

    def _reindex(self, kind: str, name: str, obj: JSON) -> None:
        index = self._index[kind]
        for key in self._keys(kind, obj):
            index.setdefault(key, set()).add(name)

    def _unindex(self, kind: str, name: str, obj: JSON) -> None:
        index = self._index[kind]
        for key in self._keys(kind, obj):
            names = index.get(key)
            if names is not None:
                names.discard(name)
                if not names:
                    del index[key]
