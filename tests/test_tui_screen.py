"""The screen at 2 a.m.: every workload and its tag at 80 columns, messages on their own line
and never over a pane, and a reason for every key that does nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime

import pytest

from cockpit.session import GoLiveSession
from cockpit.tui.app import CockpitApp
from cockpit.tui.widgets.rollout import COMPACT, RolloutPane, RolloutTable

from .helpers import until, wait_until
from .test_snapshots import README_CONFIG, _rollout_snapshot, _workload_views

# web (Deployment), db (StatefulSet mid-rollout: 16 <- 15) and agent (DaemonSet)
THREE = README_CONFIG + 'statefulsets = ["db"]\nworkloads = ["ds/agent"]\n'


def feed_workloads(app: CockpitApp) -> None:
    from cockpit.sources.kube import ClusterSnapshot

    now = datetime.now(UTC)
    views = (*_rollout_snapshot(now).deployments, *_workload_views(now)[:2])
    app.board.push_cluster(ClusterSnapshot("prod-eu", "shop", views, connected=True, synced=True))


def screen_text(app: CockpitApp) -> str:
    from textual.strip import Strip

    lines: list[Strip] = app.screen._compositor.render_strips()  # type: ignore[attr-defined]
    return "\n".join(line.text for line in lines)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_every_workload_shows_its_tag_and_ready_count(write_config, operator, size):
    path = write_config(THREE)
    app = CockpitApp(GoLiveSession.open(path, "production", operator=operator), start_sources=False)
    async with app.run_test(size=size) as pilot:
        feed_workloads(app)
        await pilot.pause()
        await pilot.pause()
        text = screen_text(app)
        table = app.query_one(RolloutTable)
        for name in ("web", "db", "agent"):
            assert name in text
        assert "2.0.0" in text and "pg:" not in text
        assert "16 ← 15" in text  # the StatefulSet mid-rollout: new tag ← old
        assert table.max_scroll_x == 0 and table.max_scroll_y == 0
        assert (app.query_one(RolloutPane)._columns == COMPACT) == (size[0] < 120)


async def test_messages_go_to_the_message_line_never_over_the_panes(write_config, operator):
    from cockpit.tui.screens.messages import MessageHistoryScreen
    from cockpit.tui.widgets.messages import MessageLine

    path = write_config(THREE)
    app = CockpitApp(GoLiveSession.open(path, "production", operator=operator), start_sources=False)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        feed_workloads(app)
        await pilot.pause()
        before = screen_text(app).splitlines()
        for n in range(4):  # as a rollback sends them: four in a row
            app.notify(f"message {n}\nsecond line {n}", title="Rollback", severity="warning")
        await pilot.pause(0.2)
        after = screen_text(app).splitlines()
        assert after[3:-2] == before[3:-2]  # the panes read exactly as before
        line = str(app.query_one(MessageLine).render())
        assert "Rollback: message 3 …" in line and "m: all 4 messages" in line
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, MessageHistoryScreen)
        text = screen_text(app)
        assert "second line 0" in text and "second line 3" in text
        assert text.index("message 3") < text.index("message 0")  # newest first


async def test_the_message_history_keeps_the_latest_and_says_how_many_went(write_config, operator):
    """Exactly HISTORY_KEPT notices are all kept; one more drops the oldest, and the line and
    the screen say so (a long go-live with a flapping source once kept every notice)."""
    from cockpit.tui.screens.messages import MessageHistoryScreen
    from cockpit.tui.widgets.messages import HISTORY_KEPT, MessageLine

    path = write_config(THREE)
    app = CockpitApp(GoLiveSession.open(path, "production", operator=operator), start_sources=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.messages_told == 0  # this configuration says nothing at start
        for n in range(HISTORY_KEPT):
            app.notify(f"note {n}", title="Flap")
        assert len(app.message_history) == app.messages_told == HISTORY_KEPT
        line = str(app.query_one(MessageLine).render())
        assert f"m: all {HISTORY_KEPT} messages" in line, line
        app.notify("one more", title="Flap")
        assert len(app.message_history) == HISTORY_KEPT
        assert app.messages_told == HISTORY_KEPT + 1
        kept = [n.message for n in app.message_history]
        assert kept[0] == "note 1" and kept[-1] == "one more"  # the oldest went
        line = str(app.query_one(MessageLine).render())
        assert f"m: the latest {HISTORY_KEPT} of {HISTORY_KEPT + 1}" in line, line
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, MessageHistoryScreen)
        text = screen_text(app)
        assert f"Messages (the latest {HISTORY_KEPT} of {HISTORY_KEPT + 1})" in text, text


def said(app: CockpitApp) -> list[str]:
    return [n.message for n in app.message_history]


async def test_b_says_why_when_no_rollback_is_recommended(open_session):
    session = open_session("staging")
    app = CockpitApp(session, start_sources=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("B")
        await pilot.pause()
        assert "No rollback is recommended now" in said(app)[-1], said(app)
        assert "ctrl+z in the rollout pane" in said(app)[-1]
        assert app.screen is app.screen_stack[0]


REMAPPED = (
    README_CONFIG
    + '\n[keys]\n"app.rollback_recommended" = "X"\n"app.verdict_reasons" = "W"\n'
    + '"rollout.rollback" = "ctrl+y"\n"app.retry_clusters" = "f5"\n'
)


def footer_keys(app: CockpitApp) -> list[tuple[str, str]]:
    from textual.widgets._footer import FooterKey

    return [(k.key, k.description) for k in app.screen.query(FooterKey)]


async def test_text_that_names_a_key_names_it_as_remapped(write_config, operator, monkeypatch):
    """The verdict bar, the recommendation's message, B's refusal and the stale-cluster hint
    say the key this operator has: a remap must not leave them naming a key that does nothing.
    The recommended rollback's key is not in the footer, with or without a recommendation
    (the verdict bar names it): a key that came and went moved the keys after it."""
    from cockpit.gates import Verdict
    from cockpit.sources.kube import ClusterSnapshot
    from cockpit.tui.widgets.verdict import VerdictBar

    session = GoLiveSession.open(write_config(REMAPPED), "production", operator=operator)
    app = CockpitApp(session, start_sources=False)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("X")
        await pilot.pause()
        assert "No rollback is recommended now: X acts" in said(app)[-1], said(app)
        assert "ctrl+y in the rollout pane" in said(app)[-1]
        before = footer_keys(app)
        assert before and not [k for k in before if k[0] in ("X", "B")], before
        verdict = Verdict(
            "NO-GO", reasons=("gate p95 failed", "gate errors failed"), rollback_recommended=True
        )
        monkeypatch.setattr(app.board, "verdict", lambda: verdict)
        app._refresh_verdict()
        await pilot.pause()
        assert app.recommended and app.check_action("rollback_recommended", ()) is True
        bar = str(app.query_one(VerdictBar).render())
        assert "ROLLBACK RECOMMENDED — press X" in bar and "(+1 more: W)" in bar, bar
        assert "press B" not in bar and "more: v" not in bar
        assert "Press X to roll back" in said(app)[-1], said(app)
        app.refresh_bindings()  # as any focus change or run does
        await pilot.pause()
        assert footer_keys(app) == before  # nothing came, nothing moved
        now = datetime.now(UTC)
        app.board.push_cluster(
            ClusterSnapshot(
                "prod-eu",
                "shop",
                (),
                connected=False,
                synced=True,
                last_ok=now,
                last_error="connection refused",
            )
        )
        await until(pilot, lambda: "retry now" in screen_text(app), what="the stale hint")
        assert "(f5: retry now)" in screen_text(app), screen_text(app)


async def test_read_only_says_why_d_s_n_u_do_nothing(open_session):
    from cockpit.tui.widgets.checklist import ChecklistPane
    from cockpit.tui.widgets.messages import MessageLine

    session = open_session("staging", read_only=True)
    app = CockpitApp(session, start_sources=False)
    async with app.run_test(size=(80, 24)) as pilot:
        app.query_one(ChecklistPane).select_item("before/change-approved")
        await pilot.pause()
        for key in "dsnu":
            await pilot.press(key)
            await pilot.pause()
            assert "Read-only: this cockpit changes nothing" in said(app)[-1], (key, said(app))
            assert "Read-only" in str(app.query_one(MessageLine).render())
        assert len(said(app)) == 4
        assert app.screen is app.screen_stack[0]  # no prompt opened
        assert session.view(session.checklist.item("before/change-approved")).status == "pending"


async def test_ctrl_q_while_a_step_runs_says_escape_first(write_config, operator):
    from cockpit.tui.screens.step_run import StepRunScreen
    from cockpit.tui.widgets.checklist import ChecklistPane

    runbook = "## Deploy\n\n1. **Wait**\n   ```bash\n   sleep 20\n   ```\n"
    path = write_config(
        "checklist = 'runbook.md'\n[environments.stage]\nallow_commands = true\n", runbook
    )
    app = CockpitApp(GoLiveSession.open(path, None, operator=operator), start_sources=False)
    async with app.run_test(size=(80, 24)) as pilot:
        app.query_one(ChecklistPane).select_item("deploy/wait")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StepRunScreen)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert screen.state == "running"
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert app.is_running and app.screen is screen
        assert "Not quitting: the commands are still running" in said(app)[-1]
        assert "Escape stops them" in str(screen.query_one("#step-status").render())
        await pilot.press("escape")
        await pilot.pause()
        assert screen.outcome == "cancelled"


async def test_copying_a_link_says_what_it_did_not_what_it_hopes(open_session):
    from cockpit.sources.errors import ErrorIssue
    from cockpit.tui.screens.error_detail import ErrorDetailScreen

    app = CockpitApp(open_session("staging"), start_sources=False)
    now = datetime.now(UTC)
    with_link = ErrorIssue("a", "S-1", "t", "c", "error", 1, None, now, now, "https://x/1", "NEW")
    no_link = ErrorIssue("b", "S-2", "t", "c", "error", 1, None, now, now, None, "NEW")
    async with app.run_test(size=(80, 24)) as pilot:
        copied: list[str] = []
        app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
        for issue in (with_link, no_link):
            await app.push_screen(ErrorDetailScreen(issue))
            await pilot.press("c")
            await pilot.pause()
            await pilot.press("escape")
            await pilot.pause()
        assert copied == ["https://x/1"]
        assert "sent to your terminal's clipboard (OSC 52)" in said(app)[0]
        assert "ignores OSC 52 drops it" in said(app)[0]
        assert "Link copied" not in " ".join(said(app))
        assert "Nothing copied: the tracker sent no link" in said(app)[1]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux missing: `make test` installs it")
def test_tmux_slash_redis_filters_and_marks_nothing(write_config, operator, tmp_path):
    """`/Redis` as tmux sends it, in one burst: the letters go into the filter, none acts."""
    from .conftest import REPO, SAMPLE_RUNBOOK

    config = write_config(
        "checklist = 'runbook.md'\n[environments.stage]\nlabel = 'Stage'\n",
        SAMPLE_RUNBOOK.read_text(encoding="utf-8"),
    )
    socket = f"cockpit-test-{os.getpid()}"
    command = (
        f"cd {tmp_path} && PYTHONPATH={REPO / 'src'} {sys.executable} -c "
        f"'from cockpit.cli import main; main()' --config {config}"
    )

    def tmux(*args: str) -> str:
        argv = ["tmux", "-L", socket, *args]
        done = subprocess.run(argv, check=False, capture_output=True, text=True)
        return done.stdout

    def screen_until(text: str) -> str:
        seen = [""]

        def shown() -> str | None:
            seen[0] = tmux("capture-pane", "-p", "-t", "c")
            return seen[0] if text in seen[0] else None

        # 30 s: a loaded machine starts Python slowly
        return wait_until(shown, 30, every=0.1, what=lambda: f"{text!r}; screen:\n{seen[0]}")

    tmux("new-session", "-d", "-s", "c", "-x", "80", "-y", "24", command)
    try:
        screen_until("Checklist")
        tmux("send-keys", "-t", "c", "/Redis")
        screen = screen_until("1 match 'Redis'")
        assert "○ Redis reachable" in screen, screen
        assert "Database primary" not in screen  # filtered out
        assert "✔ Redis" not in screen and "⤼" not in screen
        tmux("send-keys", "-t", "c", "Escape", "C-q")
        for _ in range(100):
            if not tmux("list-sessions"):
                break
            time.sleep(0.1)
    finally:
        tmux("kill-server")
    session = GoLiveSession.open(config, None, operator=operator)
    acted = [
        e.action
        for e in session.audit.entries()
        if e.action not in ("session_start", "session_end")
    ]
    assert acted == [], acted  # nothing marked, skipped, noted or run


def test_elapsed_time_names_every_part():
    from cockpit.text import format_elapsed

    assert format_elapsed(3725) == "1h 02m 05s"
    assert format_elapsed(125) == "2m 05s"
    assert format_elapsed(1) == "1s"  # `0:01` read as one second; it was a minute
    assert format_elapsed(-30) == "0s"  # a clock set back


async def test_the_clock_runs_from_the_release_run_not_the_first_mark(
    write_config, operator, monkeypatch
):
    from datetime import timedelta

    from cockpit.tui.widgets.verdict import VerdictBar

    path = write_config(THREE)
    session = GoLiveSession.open(path, "production", operator=operator)
    session.mark_done("Change approved")  # days before the window, as far as the clock knows
    monkeypatch.setattr(session, "go_live_started", lambda: datetime.now(UTC) - timedelta(days=3))
    app = CockpitApp(session, start_sources=False)
    async with app.run_test(size=(120, 40)) as pilot:
        feed_workloads(app)
        for _ in range(50):
            if app.board.analysis.current is not None:
                break
            await pilot.pause(0.1)
        await pilot.pause(1.1)  # the bar redraws every second
        run = app.board.analysis.current
        assert run is not None
        line = str(app.query_one(VerdictBar).render()).splitlines()[0]
        assert " run " in line and "go-live" not in line and "72h" not in line, line


async def test_help_and_palette_show_the_keys_as_remapped(write_config, operator):
    from cockpit.tui.screens.help import HelpScreen

    from .conftest import BASE_CONFIG

    path = write_config(BASE_CONFIG + '\n[keys]\n"checklist.done" = "x"\n')
    app = CockpitApp(GoLiveSession.open(path, None, operator=operator), start_sources=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        from textual.widgets import Static

        text = "\n".join(str(w.render()) for w in app.screen.query(Static))
        lines = [line for line in text.splitlines() if "Mark the selected item done" in line]
        assert lines and lines[0].split()[0] == "x", lines
        assert "ROLL BACK" in text or "open the rollback" in text  # B is there
        assert "OSC 52" in text  # so is the errors pane's c
        await pilot.press("escape")
        await pilot.pause()
        commands = {c.title: c.help for c in app.get_system_commands(app.screen)}
        assert commands["Checklist: mark done"].endswith("· key x"), commands
        assert "[checklist." not in " ".join(commands.values())  # keys, not ids


async def test_a_start_audits_no_verdict_until_every_source_answered(write_config, operator):
    """Each start wrote PENDING (the first metric in, the others not yet) and then GO."""
    from cockpit.sources.errors import ErrorFeed

    from .test_snapshots import METRICS_CONFIG, metric_states

    session = GoLiveSession.open(write_config(METRICS_CONFIG), "production", operator=operator)
    app = CockpitApp(session, start_sources=False)

    def verdicts() -> list[str]:
        return [
            str(e.fields.get("state")) for e in session.audit.entries() if e.action == "verdict"
        ]

    async with app.run_test(size=(80, 24)) as pilot:
        states = metric_states(session)
        app.board.push_metric(states[0])
        await pilot.pause(0.4)
        assert verdicts() == []  # two metrics and the errors feed have not answered
        for state in states[1:]:
            app.board.push_metric(state)
        now = datetime.now(UTC)
        app.board.push_errors(ErrorFeed((), None, fetched_at=now, last_ok=now))
        for _ in range(50):
            if verdicts():
                break
            await pilot.pause(0.1)
        await pilot.pause(0.3)
        assert len(verdicts()) == 1, verdicts()


async def test_item_detail_shows_the_commands_filled_in_and_copies_them(write_config, operator):
    from cockpit.tui.screens.item_detail import ItemDetailScreen
    from cockpit.tui.widgets.checklist import ChecklistPane

    from .conftest import BASE_CONFIG

    config = BASE_CONFIG.replace(
        'label = "Shop staging"\n',
        'label = "Shop staging"\n[environments.staging.placeholders]\nnamespace = "shop-stg"\n',
    )
    app = CockpitApp(GoLiveSession.open(write_config(config), None, operator=operator))
    copied: list[str] = []
    async with app.run_test(size=(120, 40)) as pilot:
        app.copy_to_clipboard = copied.append  # type: ignore[method-assign]
        app.query_one(ChecklistPane).select_item("rollout/deploy")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ItemDetailScreen)
        body = str(app.screen.query_one("#detail-body").render())
        assert "kubectl apply -k overlays/shop-stg" in body and "{namespace}" not in body
        await pilot.press("c")
        await pilot.pause()
        assert copied == ["# apply the manifests\nkubectl apply -k overlays/shop-stg"]
        assert "sent to your terminal's clipboard (OSC 52)" in said(app)[-1]


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_errors_pane_columns_fit_the_width(write_config, operator, size):
    from cockpit.sources.errors import ErrorFeed, ErrorIssue
    from cockpit.tui.widgets.errors import ErrorsPane, ErrorTable

    from .test_snapshots import METRICS_CONFIG

    session = GoLiveSession.open(write_config(METRICS_CONFIG), "production", operator=operator)
    app = CockpitApp(session, start_sources=False)
    now = datetime.now(UTC)
    title = "PaymentGatewayError: timeout talking to the payment provider after 30 s " * 2
    issue = ErrorIssue("a", "SD-7", title, "c", "error", 412, 57, now, now, None, "NEW")
    async with app.run_test(size=size) as pilot:
        app.board.push_errors(ErrorFeed((issue,), None, fetched_at=now, last_ok=now))
        await pilot.pause()
        await pilot.pause()
        table = app.query_one(ErrorTable)
        assert table.max_scroll_x == 0  # nothing out of sight to the right
        columns = app.query_one(ErrorsPane)._columns
        assert columns[:2] == ["badge", "Issue"] and columns[-1] == "Title"
        assert ("Events" in columns) == (size[0] >= 160)
        assert "…" in screen_text(app)  # the title is cut, visibly


async def test_slash_filters_the_errors_pane_and_its_letters_act_on_nothing(write_config, operator):
    """`/` in the errors pane: the issues whose ID, title or culprit hold the text; the
    letters typed (B, R, d: keys elsewhere) go into the filter; Enter opens the shown issue;
    Escape brings every issue back; the typed text in the title is never markup."""
    from textual import events

    from cockpit.sources.errors import ErrorFeed, ErrorIssue
    from cockpit.tui.screens.error_detail import ErrorDetailScreen
    from cockpit.tui.widgets.errors import ErrorsPane, ErrorTable

    from .test_snapshots import METRICS_CONFIG

    session = GoLiveSession.open(write_config(METRICS_CONFIG), "production", operator=operator)
    app = CockpitApp(session, start_sources=False)
    now = datetime.now(UTC)

    def issue(key: str, title: str, culprit: str) -> ErrorIssue:
        return ErrorIssue(key, key, title, culprit, "error", 3, 1, now, now, None, "NEW")

    issues = (
        issue("SD-1", "PaymentGatewayError: timeout", "checkout.pay"),
        issue("SD-2", "KeyError: 'basket'", "basket.view"),
        issue("SD-3", "Redis connection refused", "cache.get [Bold]"),
    )
    async with app.run_test(size=(120, 40)) as pilot:
        app.board.push_errors(ErrorFeed(issues, None, fetched_at=now, last_ok=now))
        await pilot.pause()
        pane = app.query_one(ErrorsPane)
        table = app.query_one(ErrorTable)
        table.focus()
        await pilot.pause()
        screens = len(app.screen_stack)
        # in one burst, as tmux or a paste sends it; case does not matter; B rolls back all
        for key, char in [("slash", "/"), *((c, c) for c in "BASKET")]:
            app.post_message(events.Key(key, char))
        await pilot.pause()
        assert [i.short_id for i in pane.shown] == ["SD-2"] and table.row_count == 1
        # what the release broke is not hidden without a word
        assert "1 of 3 match 'BASKET' · 2 NEW hidden" in str(pane.border_title)
        assert len(app.screen_stack) == screens  # no letter opened anything
        await pilot.press("enter")  # back to the table, the filter kept
        await pilot.pause()
        assert table.has_focus and table.row_count == 1
        await pilot.press("enter")  # the issue shown, not the first of the feed
        await pilot.pause()
        assert isinstance(app.screen, ErrorDetailScreen)
        assert "SD-2" in screen_text(app)
        over_a_dialog = [c.title for c in app.get_system_commands(app.screen)]
        assert "Errors: filter issues" not in over_a_dialog
        await pilot.press("escape")
        await pilot.pause()
        # a new feed keeps the filter
        app.board.push_errors(
            ErrorFeed(
                (*issues, issue("SD-4", "basket empty", "x")), None, fetched_at=now, last_ok=now
            )
        )
        await pilot.pause()
        await pilot.pause()
        assert [i.short_id for i in pane.shown] == ["SD-2", "SD-4"]
        # the palette's filter command only where the errors pane is (not over a dialog)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Errors: filter issues" in titles
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert table.row_count == 4 and str(pane.border_title) == "Errors"
        assert table.has_focus
        await pilot.press("slash", *"[bold]")  # the culprit's text, shown literally
        await pilot.pause()
        assert [i.short_id for i in pane.shown] == ["SD-3"]
        assert "match '[bold]'" in screen_text(app)


async def test_a_snapshot_while_the_detail_is_half_built_draws_nothing_and_raises_nothing(
    open_session,
):
    """A fresh Debian root's run: a cluster redraw reached the workload detail when its frame
    was mounted but not its parts yet, and `#rd-head` not found ended the app."""
    from cockpit.tui.screens.rollout_detail import RolloutDetailScreen

    from .test_snapshots import crash_loop_view

    app = CockpitApp(open_session("staging"), start_sources=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = RolloutDetailScreen(crash_loop_view())
        await app.push_screen(screen)
        await pilot.pause()
        await screen.query_one("#rd-head").remove()  # the frame there, a part not (yet)
        screen._shown.clear()  # as on the first draw: every part to be written
        screen.follow([crash_loop_view()], {})
        await pilot.pause()
        assert app.screen is screen


async def test_a_tracker_url_with_brackets_is_shown_as_written(write_config, operator):
    """The errors pane names its tracker; brackets in its URL (an IPv6 address, a path) are
    text, not markup (`[b]` would be read as bold and vanish)."""
    path = write_config(
        'checklist = "runbook.md"\n[environments.staging]\n'
        '[environments.staging.errors]\nprovider = "bugsink"\n'
        'url = "http://[fd00::1]:8000/x[b]y"\nproject = "1"\ntoken_env = "BUGSINK_TOKEN"\n'
    )
    session = GoLiveSession.open(path, "staging", operator=operator)
    app = CockpitApp(session, start_sources=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "bugsink: http://[fd00::1]:8000/x[b]y" in text, text
