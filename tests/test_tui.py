"""Pilot tests of the cockpit's key flows: marking, skipping, notes, detail, read-only."""

from __future__ import annotations

import pytest

from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.help import HelpScreen
from cockpit.tui.screens.item_detail import ItemDetailScreen
from cockpit.tui.screens.prompt import TextPrompt
from cockpit.tui.widgets.checklist import ChecklistPane, ChecklistTree

from .conftest import BASE_CONFIG
from .helpers import until


async def select(app: CockpitApp, pilot, item_id: str) -> None:
    app.query_one(ChecklistPane).select_item(item_id)
    await pilot.pause()


def status_of(session, item_id):
    session.reload_if_changed()
    return session.view(session.checklist.item(item_id)).status


async def test_mark_done_with_d_reaches_state_and_audit(open_session):
    session = open_session("production", via="tui")
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await select(app, pilot, "before/change-approved")
        await pilot.press("d")
        # written on the state thread; the label follows once it is
        nodes = app.query_one(ChecklistPane)._tree_nodes
        await until(
            pilot,
            lambda: str(nodes["before/change-approved"].label).startswith("✔ Change approved"),
            what=lambda: nodes["before/change-approved"].label,
        )
        assert status_of(session, "before/change-approved") == "done"
    actions = [e.action for e in session.audit.entries()]
    assert actions == ["session_start", "mark", "session_end"]
    mark = list(session.audit.entries())[1]
    assert mark.fields["item"] == "before/change-approved"
    assert mark.fields["via"] == "tui"
    assert mark.fields["actor"] == "alice"


async def test_skip_requires_a_reason_and_escape_cancels(open_session):
    session = open_session()
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await select(app, pilot, "before/backup-taken")
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, TextPrompt)
        await pilot.press("enter")  # empty reason
        await pilot.pause()
        assert isinstance(app.screen, TextPrompt)
        assert "required" in str(app.screen.query_one("#prompt-error").render())
        await pilot.press("escape")
        await pilot.pause()
        assert status_of(session, "before/backup-taken") == "pending"
        await pilot.press("s")
        await pilot.pause()
        await pilot.press(*"snapshot taken by DBA", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, TextPrompt)
    view = session.view(session.checklist.item("before/backup-taken"))
    assert view.status == "skipped"
    assert view.record.note.endswith("alice] snapshot taken by DBA")


async def test_note_and_reopen(open_session):
    session = open_session()
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await select(app, pilot, "after/announce-completion")
        await pilot.press("d", "n")
        await pilot.pause()
        await pilot.press(*"posted in #ops", "enter")
        await pilot.pause()
        await pilot.press("u")
        await pilot.pause()
        await pilot.press(*"wrong channel", "enter")
        await pilot.pause()
    view = session.view(session.checklist.item("after/announce-completion"))
    assert view.status == "pending"
    notes = view.record.note.splitlines()
    assert notes[0].endswith("alice] posted in #ops")
    assert notes[1].endswith("alice] wrong channel")
    actions = [e.action for e in session.audit.entries()]
    assert actions[1:4] == ["mark", "note", "reopen"]


async def test_keys_on_a_section_do_nothing(open_session):
    session = open_session()
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.query_one(ChecklistTree)
        tree.cursor_line = 0  # the "Before" section
        await pilot.pause()
        assert tree.selected_item() is None
        assert tree.check_action("mark_done", ()) is None
        await pilot.press("d", "s")
        await pilot.pause()
        assert not isinstance(app.screen, TextPrompt)
    assert session.progress().done == 1  # only the runbook's own [x]


async def test_detail_shows_commands_and_acts(open_session):
    session = open_session()
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await select(app, pilot, "rollout/deploy")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ItemDetailScreen)
        body = str(app.screen.query_one("#detail-body").render())
        # the block is shown whole, as the one script it runs
        assert "  # apply the manifests\n  kubectl apply -k overlays/{namespace}\n" in body
        assert "rollout/deploy" in body
        await pilot.press("d")
        await pilot.pause()
        assert not isinstance(app.screen, ItemDetailScreen)
    assert status_of(session, "rollout/deploy") == "done"


async def test_read_only_greys_out_marking(open_session):
    session = open_session(read_only=True)
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await select(app, pilot, "before/change-approved")
        tree = app.query_one(ChecklistTree)
        assert tree.check_action("mark_done", ()) is None
        await pilot.press("d", "s", "n", "u")
        await pilot.pause()
        assert not isinstance(app.screen, TextPrompt)
    assert list(session.audit.entries()) == []
    assert not session.store.path.exists()


async def test_changes_from_another_cockpit_appear(open_session):
    session = open_session("production")
    other = open_session("production", path=session.config.path)
    app = CockpitApp(session, state_poll_seconds=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        other.mark_done("Login works")
        for _ in range(40):
            await pilot.pause(0.05)
            label = str(
                app.query_one(ChecklistPane)._tree_nodes["rollout/smoke-test/login-works"].label
            )
            if label.startswith("✔"):
                break
        assert label.startswith("✔ Login works")
        assert "checklist 2/8" in str(app.query_one("#banner").render())


async def test_help_and_command_palette_list_the_actions(open_session):
    session = open_session()
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in (
            "Checklist: mark done",
            "Checklist: skip",
            "Checklist: add note",
            "Checklist: reopen",
            "Checklist: item detail",
            "Checklist: next to do",
            "Help",
            "Quit",
        ):
            assert wanted in titles


async def test_keymap_from_config_remaps_a_binding(write_config, operator):
    from cockpit.session import GoLiveSession

    path = write_config(BASE_CONFIG + '\n[keys]\n"checklist.done" = "x"\n')
    session = GoLiveSession.open(path, None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await select(app, pilot, "before/change-approved")
        await pilot.press("d")
        await pilot.pause()
        assert status_of(session, "before/change-approved") == "pending"
        await pilot.press("x")
        await until(pilot, lambda: status_of(session, "before/change-approved") == "done")
    assert [e.action for e in session.audit.entries()].count("mark") == 1  # d did nothing


async def test_unknown_theme_falls_back_with_a_message(
    write_config, operator, tmp_path, monkeypatch
):
    from cockpit.session import GoLiveSession

    themes = tmp_path / "user-themes"
    themes.mkdir()
    (themes / "broken.toml").write_text('name = "broken"\nprimary = "not-a-colour"\n')
    (themes / "mine.toml").write_text('name = "mine"\nprimary = "#123456"\ndark = false\n')
    monkeypatch.setenv("COCKPIT_THEME_DIR", str(themes))
    path = write_config(
        BASE_CONFIG.replace("default_environment", 'theme = "broken"\ndefault_environment')
    )
    session = GoLiveSession.open(path, None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.theme == "cockpit-dark"
        messages = [n.message for n in app._notifications]
        assert any("primary: 'not-a-colour' is not a colour" in m for m in messages)
        assert any("theme 'broken' is not available" in m for m in messages)
        assert "mine" in app.available_themes


@pytest.mark.parametrize("name", ["cockpit-dark", "cockpit-light", "cockpit-high-contrast"])
def test_shipped_themes_are_valid(name):
    from cockpit.tui.themes import ThemeCatalog

    catalog = ThemeCatalog.load()
    assert catalog.problems == []
    assert name in catalog.themes


def test_validate_reports_a_bad_theme(write_config, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from cockpit.cli import cli

    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "x.toml").write_text('name = "x"\nprimary = "#12"\nbogus = 1\n')
    path = write_config(
        BASE_CONFIG.replace("default_environment", 'theme = "x"\ndefault_environment')
    )
    result = CliRunner().invoke(cli, ["validate", "-c", str(path)])
    assert result.exit_code == 2
    assert "x.toml: primary: '#12' is not a colour" in result.output
    assert "x.toml: bogus: unknown key" in result.output
    assert "theme: no theme named 'x'" in result.output


async def test_left_folds_and_right_unfolds(open_session):
    session = open_session()
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await select(app, pilot, "before/backup-taken")
        tree = app.query_one(ChecklistTree)
        await pilot.press("left")  # item -> its section
        await pilot.pause()
        assert tree.cursor_node.data.section.title == "Before"
        await pilot.press("left")
        await pilot.pause()
        assert not tree.cursor_node.is_expanded
        await pilot.press("right")
        await pilot.pause()
        assert tree.cursor_node.is_expanded


def shown_ids(app):
    return set(app.query_one(ChecklistPane)._tree_nodes)


async def test_slash_filters_items_by_text_and_escape_brings_them_back(open_session):
    session = open_session()
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        everything = shown_ids(app)
        await pilot.press("slash")
        await pilot.press(*"LOGIN")  # case does not matter
        await pilot.pause()
        assert shown_ids(app) == {"rollout", "rollout/smoke-test/login-works"}
        pane = app.query_one(ChecklistPane)
        assert "1 match 'LOGIN'" in str(pane.border_title)
        await pilot.press("enter")  # back to the tree, on the first match, filter kept
        await pilot.pause()
        tree = app.query_one(ChecklistTree)
        assert tree.has_focus
        assert tree.selected_item().id == "rollout/smoke-test/login-works"
        await pilot.press("d")  # the keys act on the filtered tree
        await until(pilot, lambda: status_of(session, "rollout/smoke-test/login-works") == "done")
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press("escape")  # clears the filter, not the app's cancel
        await pilot.pause()
        assert shown_ids(app) == everything
        assert tree.has_focus and tree.selected_item().id == "rollout/smoke-test/login-works"
        assert str(pane.border_title) == "Checklist"


async def test_filter_matches_ids_and_section_titles_and_nothing_is_markup(write_config, operator):
    from cockpit.session import GoLiveSession

    runbook = (
        "## Before\n- [ ] Change approved\n- [ ] [b]not bold[/b] and \\[x\\] text\n"
        "## After the window\n- [ ] Announce completion\n"
    )
    session = GoLiveSession.open(write_config(runbook=runbook), None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(ChecklistPane)
        # a section's title shows all of its items ("after the" is in no text and no ID)
        await pilot.press("slash", *"after the")
        await pilot.pause()
        assert shown_ids(app) == {"after-the-window", "after-the-window/announce-completion"}
        pane.query_one("ChecklistFilter").value = ""
        await pilot.press(*"[b]")
        await pilot.pause()
        assert shown_ids(app) == {"before", "before/b-not-bold-b-and-x-text"}
        label = pane._tree_nodes["before/b-not-bold-b-and-x-text"].label
        assert "[b]not bold[/b] and [x] text" in str(label)  # shown as written, not as markup
        pane.query_one("ChecklistFilter").value = ""
        await pilot.press(*"before/change")  # an ID typed whole
        await pilot.pause()
        assert shown_ids(app) == {"before", "before/change-approved"}
        await pilot.press(*"-nothing-like-it")
        await pilot.pause()
        assert shown_ids(app) == set()


async def test_curly_brackets_jump_between_sections(open_session):
    session = open_session()
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await select(app, pilot, "before/backup-taken")
        tree = app.query_one(ChecklistTree)

        def at():
            node = tree.cursor_node
            return node.data.section.id if node.data.section else node.data.item.id

        await pilot.press("right_curly_bracket")
        await pilot.pause()
        assert at() == "rollout"
        await pilot.press("right_curly_bracket", "right_curly_bracket")
        await pilot.pause()
        assert at() == "after"  # and no further: the last section stays
        await pilot.press("left_curly_bracket")
        await pilot.pause()
        assert at() == "rollout"
        await select(app, pilot, "after/announce-completion")
        await pilot.press("left_curly_bracket")  # from an item: the top of its own section
        await pilot.pause()
        assert at() == "after"


async def test_the_palette_goes_to_a_section_even_one_a_filter_hides(open_session):
    session = open_session()
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash", *"login", "enter")
        await pilot.pause()
        assert "after" not in shown_ids(app)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert "Checklist: filter items" in commands
        commands["Checklist: go to section After"].callback()
        await pilot.pause()
        await pilot.pause()
        tree = app.query_one(ChecklistTree)
        assert tree.has_focus and tree.cursor_node.data.section.id == "after"
        assert "before/change-approved" in shown_ids(app)  # the filter was cleared


async def test_one_close_key_remap_moves_the_close_of_every_detail_view(write_config, operator):
    """An old per-view id still remaps: it names the one close binding of every view now."""
    from cockpit.session import GoLiveSession
    from cockpit.tui.screens.messages import MessageHistoryScreen

    path = write_config(BASE_CONFIG + '\n[keys]\n"help.close" = "x"\n')
    session = GoLiveSession.open(path, None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")  # moved away
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("x")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen))
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, MessageHistoryScreen))
        await pilot.press("x")  # the same binding in the messages view
        await until(pilot, lambda: not isinstance(app.screen, MessageHistoryScreen))


def test_every_intent_has_its_handler_in_the_app():
    """A new intent message without a handler would be a key that does nothing, silently."""
    from cockpit.tui.widgets.rollout import RolloutTable

    handled = set(CockpitApp._decorated_handlers)
    intents = [
        *ChecklistTree.ItemIntent.__subclasses__(),
        ChecklistTree.RunSection,
        *RolloutTable.WorkloadIntent.__subclasses__(),
    ]
    assert len(intents) == 10
    assert [i.__name__ for i in intents if i not in handled] == []
    # the bases are never posted, so nothing may answer them in place of the real intents
    assert ChecklistTree.ItemIntent not in handled and RolloutTable.WorkloadIntent not in handled


async def test_colours_follow_a_theme_change_made_while_running(open_session):
    """The palette's theme switcher: labels take the new theme's colours at once."""
    from cockpit.tui.themes import theme_variables

    app = CockpitApp(open_session())
    async with app.run_test(size=(120, 40)) as pilot:
        before = dict(theme_variables(app))
        app.theme = "cockpit-light"
        await pilot.pause()
        assert theme_variables(app) == app.get_css_variables()
        assert theme_variables(app)["surface"] != before["surface"]
        label = app.query_one(ChecklistPane)._tree_nodes["before/change-approved"].label
        glyph_colour = label.spans[0].style.color  # the ○ takes the theme's muted colour
        pane = app.query_one(ChecklistPane)
        assert glyph_colour == pane._colour("foreground-muted")


def test_the_modal_frame_is_one_rule_in_the_stylesheet():
    """Every modal view takes its frame from cockpit.tcss (FramedScreen > .frame); none
    restates it."""
    import importlib
    import pkgutil
    from pathlib import Path

    import cockpit.tui.screens as screens
    from cockpit.tui.screens.frame import FramedScreen

    for module in pkgutil.iter_modules(screens.__path__):
        importlib.import_module(f"cockpit.tui.screens.{module.name}")

    def every(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from every(sub)

    views = set(every(FramedScreen))
    assert len(views) >= 11
    for view in views:
        css = view.__dict__.get("DEFAULT_CSS", "")
        for frame_rule in ("align:", "border: thick", "background: $panel"):
            assert frame_rule not in css, (view.__name__, frame_rule)
    tcss = (Path(screens.__path__[0]).parent / "cockpit.tcss").read_text()
    assert tcss.count("FramedScreen > .frame {") == 1


# --- a large runbook: sections folded, their items made when first unfolded ------------------


@pytest.fixture
def folding(monkeypatch):
    """The sample runbook treated as a large one (the rule is the same at 20,000 items)."""
    import cockpit.tui.widgets.checklist as checklist

    monkeypatch.setattr(checklist, "FOLD_ABOVE", 3)


async def test_a_large_runbook_opens_folded_but_where_work_is_and_unfolds_on_demand(
    open_session, folding
):
    session = open_session()
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(ChecklistPane)
        tree = app.query_one(ChecklistTree)
        # the first open item's section is open; the others hold no item nodes yet
        assert "before/change-approved" in shown_ids(app)
        assert not any(i.startswith("rollout/") for i in shown_ids(app) - {"rollout"})
        assert not pane._tree_nodes["rollout"].is_expanded
        assert str(pane._tree_nodes["rollout"].label).startswith("Rollout  0/")  # counts all
        await select(app, pilot, "before/backup-taken")
        await pilot.press("right_curly_bracket")  # } to the next section: Rollout, folded
        await pilot.pause()
        assert tree.cursor_node.data.section.id == "rollout"
        await pilot.press("right")  # unfold: its items are there, labelled
        await pilot.pause()
        assert tree.cursor_node.is_expanded
        assert str(pane._tree_nodes["rollout/deploy"].label).startswith("○ Deploy")
        children = [c.data.item.id for c in pane._tree_nodes["rollout"].children if c.data.item]
        assert children[0] == "rollout/deploy"  # the items first, in runbook order
        await pilot.press("down")
        await pilot.pause()
        assert tree.selected_item().id == "rollout/deploy"


async def test_in_a_folded_runbook_selecting_marking_and_next_open_reach_folded_items(
    open_session, folding
):
    session = open_session()
    session.mark_done("Change approved")
    session.mark_done("Backup taken")
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(ChecklistPane)
        tree = app.query_one(ChecklistTree)
        assert pane._tree_nodes["rollout"].is_expanded  # where the first open item is now
        assert "after/announce-completion" not in shown_ids(app)
        await select(app, pilot, "after/announce-completion")  # made, unfolded, selected
        assert tree.selected_item().id == "after/announce-completion"
        assert pane._tree_nodes["after"].is_expanded
        session.mark_done("Deploy")  # elsewhere: the folded... and the shown are relabelled
        pane.refresh_labels([session.checklist.item("rollout/deploy")])
        await pilot.pause()
        assert str(pane._tree_nodes["rollout/deploy"].label).startswith("✔ Deploy")
        await pilot.press("right_square_bracket")  # ] from the last item wraps to the next open
        await pilot.pause()
        assert tree.selected_item().id != "after/announce-completion"
        assert session.view(tree.selected_item()).status == "pending"


async def test_a_filter_that_shows_many_items_folds_too_and_clearing_it_keeps_the_cursor(
    open_session, folding
):
    session = open_session()
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        pane = app.query_one(ChecklistPane)
        tree = app.query_one(ChecklistTree)
        await pilot.press("slash", *"o")  # most items hold an "o"
        await pilot.pause()
        assert len(pane.matching("o")) > 3
        assert not pane._tree_nodes["after"].is_expanded
        await pilot.press("enter")
        await pilot.pause()
        assert tree.selected_item() is not None
        chosen = tree.selected_item().id
        await pilot.press("slash")
        await pilot.press("escape")
        await pilot.pause()
        await pilot.pause()
        assert tree.selected_item().id == chosen
