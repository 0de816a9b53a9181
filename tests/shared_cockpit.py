"""One cockpit of a team, as its own process, for the shared-progress tests and benchmark.

    python tests/shared_cockpit.py CONFIG USER marks ITEM-INDEXES... [--notes ITEM COUNT]
        open the environment, follow the shared progress, do the marks (and notes) as fast as
        they go, then wait until the local copy holds what every cockpit of the test does
        (--expect-done N --expect-notes ITEM N) and print it as JSON
    python tests/shared_cockpit.py CONFIG USER rollback DEPLOYMENT
        on "start" (stdin) take the action lock as the rollback screen does, say "ready" or
        "refused: …"; on "go" send the rollback that was previewed, say "sent" or "failed: …"

The session is the one the TUI drives (GoLiveSession with its TeamProgress started), without
the screen: three TUIs would take the test machine's two cores for drawing.
"""

from __future__ import annotations

import json
import sys
import threading
import time

from cockpit.errors import CockpitError
from cockpit.identity import Operator
from cockpit.session import GoLiveSession


def _open(config: str, user: str) -> GoLiveSession:
    session = GoLiveSession.open(config, "prod", operator=Operator(user=user, address=None))
    lock = session.action_lock()
    if lock is not None:
        lock.identity = f"{user} on bastion-{user}"  # as two bastions would name them
    return session


def marks(session: GoLiveSession, args: list[str]) -> None:
    items = list(session.checklist.items())
    plan: list[tuple[str, int]] = []
    expect_done = 0
    note_item, note_count, expect_notes = -1, 0, 0
    position = 0
    while position < len(args):
        arg = args[position]
        if arg == "--notes":
            note_item, note_count = int(args[position + 1]), int(args[position + 2])
            position += 3
        elif arg == "--expect-done":
            expect_done = int(args[position + 1])
            position += 2
        elif arg == "--expect-notes":
            expect_notes = int(args[position + 1])
            position += 2
        else:
            plan.append(("mark", int(arg)))
            position += 1
    # interleave the notes with the marks, as operators would
    step = max(1, len(plan) // max(1, note_count))
    for n in range(note_count):
        plan.insert(min(len(plan), n * (step + 1)), ("note", note_item))
    changed = threading.Event()
    assert session.team is not None
    session.team.start(changed.set)
    print("started", flush=True)
    sys.stdin.readline()  # every cockpit begins at once
    started = time.time()
    timings = []
    for n, (what, index) in enumerate(plan):
        item = items[index]
        before = time.time()
        if what == "mark":
            session.mark_done(item.id)
        else:
            session.add_note(item.id, f"{session.operator.user} note {n}")
        timings.append((item.id, before, time.time()))
    finished = time.time()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        records = session.store.load().items
        done = sum(1 for r in records.values() if r.status == "done")
        notes = records[items[note_item].id].note.count(" note ") if note_item >= 0 else 0
        if done >= expect_done and notes >= expect_notes:
            break
        changed.wait(0.5)
        changed.clear()
    records = session.store.load().items
    print(
        json.dumps(
            {
                "records": {
                    key: {"status": r.status, "by": r.by, "note": r.note}
                    for key, r in sorted(records.items())
                },
                "started": started,
                "finished": finished,
                "converged": time.time(),
                "timings": timings,
                "messages": session.team.take_messages(),
                "requests": dict(session.team.shared.requests),
            }
        ),
        flush=True,
    )
    session.team.stop()


def rollback(session: GoLiveSession, deployment: str) -> None:
    cluster = session.environment.clusters[0]
    print("started", flush=True)
    sys.stdin.readline()
    try:
        session.hold_lock(f"the rollback of {deployment}")
        plan = session.actions(cluster).plan_rollback(deployment)
    except CockpitError as exc:
        print(f"refused: {exc.message}", flush=True)
        return
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        session.rollback(cluster, deployment, plan=plan)
        print("sent", flush=True)
    except CockpitError as exc:
        print(f"failed: {exc.message}", flush=True)
    finally:
        session.release_lock()


def main() -> None:
    config, user, mode, *rest = sys.argv[1:]
    session = _open(config, user)
    if mode == "marks":
        marks(session, rest)
    else:
        rollback(session, rest[0])


if __name__ == "__main__":
    main()
