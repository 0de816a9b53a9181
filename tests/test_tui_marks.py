"""Marks are written off the UI thread (tui/state_thread.py): in order, failures shown.

Another cockpit holding the state file's lock is played by the test itself: it takes the same
lock the state store takes (a second open file, so the flock conflicts within one process).
"""

from __future__ import annotations

import pytest

from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.prompt import TextPrompt
from cockpit.tui.state_thread import StateThread
from cockpit.tui.widgets.checklist import ChecklistPane, ChecklistTree

from .helpers import until, wait_until

ITEM = "before/change-approved"


def status_of(session, item_id):
    session.reload_if_changed()
    return session.view(session.checklist.item(item_id)).status


def label_of(app, item_id):
    return str(app.query_one(ChecklistPane)._tree_nodes[item_id].label)


async def test_the_screen_answers_keys_while_a_mark_waits_for_the_state_lock(open_session):
    session = open_session()
    app = CockpitApp(session, state_poll_seconds=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(ChecklistPane).select_item(ITEM)
        await pilot.pause()
        tree = app.query_one(ChecklistTree)
        with session.store._locked():  # another cockpit is writing
            await pilot.press("d")
            # On the UI thread the mark would hold the event loop (and this test) until the
            # lock was given up or ten seconds passed; here the next key moves the cursor.
            await pilot.press("down")
            await pilot.pause()
            assert tree.selected_item().id != ITEM
            assert label_of(app, ITEM).startswith("○")  # not written yet: the lock is held
            assert not app.message_history  # nor refused: it waits
        await until(
            pilot, lambda: label_of(app, ITEM).startswith("✔"), what=lambda: label_of(app, ITEM)
        )
        assert status_of(session, ITEM) == "done"


async def test_marks_queued_behind_the_lock_are_written_in_the_order_pressed(open_session):
    session = open_session()
    app = CockpitApp(session, state_poll_seconds=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(ChecklistPane).select_item(ITEM)
        await pilot.pause()
        with session.store._locked():
            await pilot.press("d", "n")
            await until(pilot, lambda: isinstance(app.screen, TextPrompt))
            await pilot.press(*"first", "enter")
            await pilot.press("u")
            await until(pilot, lambda: isinstance(app.screen, TextPrompt))
            await pilot.press(*"again", "enter")
            await pilot.press("d")
            await pilot.pause()
        await until(
            pilot,
            lambda: (
                [e.action for e in session.audit.entries()][1:]
                == ["mark", "note", "reopen", "mark"]
            ),
            what=lambda: [e.action for e in session.audit.entries()],
        )
        await until(pilot, lambda: not app._state_thread.busy)
        assert status_of(session, ITEM) == "done"  # the last one pressed, written last


async def test_a_mark_refused_by_the_lock_says_so_on_the_message_line(open_session, monkeypatch):
    monkeypatch.setattr("cockpit.state.LOCK_TIMEOUT_SECONDS", 0.3)
    session = open_session()
    app = CockpitApp(session, state_poll_seconds=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(ChecklistPane).select_item(ITEM)
        await pilot.pause()
        with session.store._locked():
            await pilot.press("d")
            await until(
                pilot,
                lambda: any("locked by another cockpit" in n.message for n in app.message_history),
                what=lambda: [n.message for n in app.message_history],
            )
        assert label_of(app, ITEM).startswith("○")
        assert status_of(session, ITEM) == "pending"


async def test_a_mark_pressed_just_before_quitting_is_written_before_the_session_ends(
    open_session,
):
    session = open_session()
    app = CockpitApp(session, state_poll_seconds=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(ChecklistPane).select_item(ITEM)
        await pilot.pause()
        await pilot.press("d")
    actions = [e.action for e in session.audit.entries()]
    assert actions == ["session_start", "mark", "session_end"]
    assert status_of(session, ITEM) == "done"


def test_the_state_thread_runs_jobs_one_at_a_time_in_order():
    thread = StateThread()
    seen: list[int] = []
    running = []

    def job(n: int):
        def run() -> None:
            running.append(n)
            assert len(running) == 1, running  # never two at once
            seen.append(n)
            running.remove(n)

        return run

    for n in range(200):
        thread.submit(job(n))
    assert thread.close()
    assert seen == list(range(200))
    with pytest.raises(RuntimeError):
        thread.submit(job(0))  # closed: nothing is queued that would never run


def test_closing_waits_for_what_was_asked_and_says_when_it_could_not():
    import threading

    thread = StateThread()
    gate = threading.Event()
    done = []
    thread.submit(gate.wait)
    thread.submit(lambda: done.append(True))
    assert not thread.close(timeout=0.2)  # still blocked: the caller hears of it
    gate.set()
    wait_until(lambda: done, what="the job queued behind the blocked one")
