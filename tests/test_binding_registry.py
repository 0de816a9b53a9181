"""One registry of keys (tui/registry.py): every binding of the TUI is one of its commands, and
`?` help and the command palette show each of them, on every screen, and nothing else."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from datetime import UTC, datetime

import pytest
from textual.actions import parse
from textual.binding import Binding
from textual.dom import DOMNode
from textual.widgets import Static

import cockpit.tui
from cockpit.tui.app import CockpitApp
from cockpit.tui.bindings import key_label
from cockpit.tui.registry import (
    APP,
    CLOSE_ID,
    COMMANDS,
    PLACES,
    Command,
    Place,
    commands_at,
    key_of,
    keymap_problems,
)

from .conftest import BASE_CONFIG

# Textual's own palette commands (no key of the cockpit's), and the sections to go to.
SYSTEM_TITLES = {"Theme", "Keys", "Screenshot", "Maximize", "Minimize"}
# Commands that leave the footer and the palette while they cannot apply at all.
HIDDEN_WHILE_MOOT = {
    "app.cancel",  # nothing runs
    "app.rollback_recommended",  # no gate failed
    "app.retry_clusters",  # every cluster is seen
    "app.rollback_all",  # the environment has no clusters
    "step.continue",  # the step has not finished
}


def _tui_classes() -> list[type[DOMNode]]:
    for module in pkgutil.walk_packages(cockpit.tui.__path__, "cockpit.tui."):
        importlib.import_module(module.name)
    found = []
    for name in list(__import__("sys").modules):
        if name == "cockpit.tui" or name.startswith("cockpit.tui."):
            for _n, cls in inspect.getmembers(__import__("sys").modules[name], inspect.isclass):
                if issubclass(cls, DOMNode) and cls.__module__.startswith("cockpit.tui"):
                    found.append(cls)
    return list(dict.fromkeys(found))


def _shape(binding: Binding) -> tuple[object, ...]:
    return (
        binding.key,
        binding.action,
        binding.description,
        binding.show,
        binding.tooltip,
        binding.id,
        binding.priority,
    )


def test_every_binding_of_the_tui_is_a_command_of_the_registry():
    """A Binding written in a widget's BINDINGS by hand reaches the footer and nothing else."""
    owners: dict[str, list[type[DOMNode]]] = {}
    for cls in _tui_classes():
        own = cls.__dict__.get("BINDINGS", [])
        bindings = [b for b in Binding.make_bindings(own) if b.id]
        place = cls.__dict__.get("PLACE")
        if not bindings and place is None:
            continue
        assert isinstance(place, Place), f"{cls.__name__} binds keys but has no PLACE"
        owners.setdefault(place.name, []).append(cls)
        wanted = [
            b for c in commands_at(place) if c.keys for b in Binding.make_bindings([_binding(c)])
        ]
        assert [_shape(b) for b in bindings] == [_shape(b) for b in wanted], cls.__name__
    # one owner per place, and every place has one
    assert {name: len(classes) for name, classes in owners.items()} == {p.name: 1 for p in PLACES}


def _binding(command: Command) -> Binding:
    from cockpit.tui.bindings import binding_of

    return binding_of(command)


def test_key_of_names_the_key_the_operator_presses():
    assert key_of(None, "app.rollback_recommended") == "B"
    assert key_of({}, "app.retry_clusters") == "ctrl+r"
    assert key_of({"app.retry_clusters": "f5, ctrl+r"}, "app.retry_clusters") == "f5"
    assert key_of({"checklist.done": "x"}, "app.retry_clusters") == "ctrl+r"  # another's remap
    # an id that became `screen.close` still moves its key; the new id wins over the old
    assert key_of({"help.close": "x"}, CLOSE_ID) == "x"
    assert key_of({"help.close": "x", CLOSE_ID: "z"}, CLOSE_ID) == "z"
    with pytest.raises(KeyError):
        key_of(None, "app.no_such_command")


def test_the_registry_is_whole_and_unambiguous():
    ids = [c.id for c in COMMANDS]
    assert {i for i in ids if ids.count(i) > 1} == {CLOSE_ID}, "one id, one command"
    assert {c.action for c in COMMANDS if c.id == CLOSE_ID} == {"close"}
    titles = [(c.place.name, c.title) for c in COMMANDS]
    assert len(titles) == len(set(titles)), "two palette commands of one place read alike"
    for command in COMMANDS:
        assert command.label and command.tooltip and "." in command.id, command
        assert command.place in PLACES, command
    for place in PLACES:  # no two commands of one place on one key
        keys = [k for c in commands_at(place) for k in c.keys.split(",") if k]
        assert len(keys) == len(set(keys)), place
    assert keymap_problems({}, "x") == []


async def test_help_shows_every_binding_and_nothing_else(write_config, operator):
    from cockpit.session import GoLiveSession
    from cockpit.tui.screens.help import HelpScreen

    path = write_config(BASE_CONFIG + '\n[keys]\n"checklist.done" = "x"\n')
    app = CockpitApp(GoLiveSession.open(path, None, operator=operator), start_sources=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        sections = {}
        for widget in app.screen.query(".help-section").results(Static):
            title, *lines = str(widget.render()).splitlines()
            sections[title] = [line.strip() for line in lines]
    expected = {
        place.title: [
            (
                " ".join(
                    key_label(k) for k in ("x" if c.id == "checklist.done" else c.keys).split(",")
                )
                + "  ",
                c.tooltip,
            )
            for c in commands_at(place)
            if c.keys
        ]
        for place in PLACES
    }
    expected = {title: rows for title, rows in expected.items() if rows}
    assert set(sections) == set(expected)
    for title, rows in expected.items():
        shown = sections[title]
        assert len(shown) == len(rows), (title, shown)
        for keys, tooltip in rows:
            assert any(
                line.startswith(keys.strip()) and line.endswith(tooltip) for line in shown
            ), (title, keys, tooltip, shown)


def _views(now):
    from cockpit.sources.kube import ClusterSnapshot

    from .test_snapshots import _cache_view, _deployment_view

    views = (
        _deployment_view("servicedesk-app", [(2, "2.0.0", 2, 2), (1, "1.9.0", 2, 2)], now),
        _deployment_view("servicedesk-worker", [(1, "1.9.0", 2, 2)], now),
        _cache_view(now),
    )
    return views, ClusterSnapshot(
        "rehearsal", "servicedesk", views, connected=True, synced=True, last_ok=now
    )


def _expected(app: CockpitApp, places: dict[Place, DOMNode]) -> set[str]:
    titles = set()
    for place, node in places.items():
        for command in commands_at(place):
            if not command.palette:
                continue
            _ns, name, params = parse(command.action)
            if node.check_action(name, params) is False:
                assert command.id in HIDDEN_WHILE_MOOT, command.id
                continue
            if command.changes and app.session.read_only:
                continue
            titles.add(command.title)
    return titles


def _offered(app: CockpitApp) -> set[str]:
    titles = {c.title for c in app.get_system_commands(app.screen)}
    return {
        t for t in titles if t not in SYSTEM_TITLES and not t.startswith("Checklist: go to section")
    }


async def _check(app: CockpitApp, pilot, seen: set[str]) -> None:
    """The palette on the screen shown now: every command of its places, and only those."""
    await pilot.pause()
    screen = app.screen
    places: dict[Place, DOMNode] = {APP: app}
    for node in (screen, *screen.query("*")):
        place = getattr(node, "PLACE", None)
        if place is not None and node.display:
            places.setdefault(place, node)
    expected, offered = _expected(app, places), _offered(app)
    assert offered == expected, (type(screen).__name__, offered ^ expected)
    seen.update(p.name for p in places)


async def _push(app, pilot, seen, screen) -> None:
    app.push_screen(screen)
    await pilot.pause()
    await _check(app, pilot, seen)
    app.pop_screen()
    await pilot.pause()


async def test_the_palette_offers_every_command_of_every_place(write_config, operator, tmp_path):
    """Each place shown (the panes, their filter lines, every screen): its commands in the
    palette, and everywhere's; nothing the registry does not have. Every place is shown once,
    so a new place without a way here fails."""
    from cockpit.session import GoLiveSession
    from cockpit.sources.errors import ErrorFeed, ErrorIssue
    from cockpit.tui.screens.confirm import ConfirmScreen
    from cockpit.tui.screens.error_detail import ErrorDetailScreen
    from cockpit.tui.screens.item_detail import ItemDetailScreen
    from cockpit.tui.screens.metric_detail import MetricDetailScreen
    from cockpit.tui.screens.pod_logs import PodLogScreen
    from cockpit.tui.screens.prompt import TextPrompt
    from cockpit.tui.screens.rollback import RollbackAllScreen, RollbackScreen
    from cockpit.tui.screens.rollout_detail import RolloutDetailScreen
    from cockpit.tui.screens.step_run import StepRunScreen
    from cockpit.tui.widgets.checklist import ChecklistPane
    from cockpit.tui.widgets.errors import ErrorTable

    from .test_snapshots import REHEARSAL_CONFIG, crash_loop_view, metric_states

    config = REHEARSAL_CONFIG.replace(
        "[environments.production]", "[environments.production]\nallow_commands = true", 1
    )
    session = GoLiveSession.open(write_config(config), "production", operator=operator)
    app = CockpitApp(session, start_sources=False)
    now = datetime.now(UTC)
    views, snapshot = _views(now)
    issue = ErrorIssue(
        "SD-1", "SD-1", "KeyError: 'basket'", "basket.view", "error", 3, 1, now, now, None, "NEW"
    )
    # a step's plan wants a kubeconfig where there are clusters: from an environment without
    steps_config = BASE_CONFIG.replace(
        "[environments.staging]", "[environments.staging]\nallow_commands = true", 1
    )
    steps_dir = tmp_path / "steps"
    steps_dir.mkdir()
    (steps_dir / "runbook.md").write_text(
        "## Go\n\n1. **Deploy**\n   ```bash\n   echo hi\n   ```\n"
    )
    (steps_dir / "cockpit.toml").write_text(steps_config)
    steps = GoLiveSession.open(steps_dir / "cockpit.toml", None, operator=operator)
    seen: set[str] = set()
    async with app.run_test(size=(160, 48)) as pilot:
        app.board.push_cluster(snapshot)
        app.board.push_errors(ErrorFeed((issue,), None, fetched_at=now, last_ok=now))
        await pilot.pause()
        await _check(app, pilot, seen)  # the main screen
        pane = app.query_one(ChecklistPane)
        pane.select_item("before/change-approved")
        pane.open_filter()
        await _check(app, pilot, seen)  # its filter line open
        pane.close_filter()
        app.query_one(ErrorTable).focus()
        await pilot.press("slash")
        await _check(app, pilot, seen)
        await pilot.press("escape")
        item = session.checklist.item("before/change-approved")
        deploy = next(i for i in steps.checklist.items() if i.text == "Deploy")
        crash = crash_loop_view()
        for screen in (
            ItemDetailScreen(session, session.view(item)),
            TextPrompt("Why skip?", item.text, required=True, placeholder="reason"),
            StepRunScreen(steps, deploy, steps.plan_step(deploy)),
            RolloutDetailScreen(crash),
            PodLogScreen(session, crash, crash.pods[2], start=False),
            ConfirmScreen("Pause the rollout?", "Pause"),
            RollbackScreen(session, views[0]),
            RollbackAllScreen(session, list(views)),
            MetricDetailScreen(metric_states(session)[0]),
            ErrorDetailScreen(issue),
        ):
            await _push(app, pilot, seen, screen)
        for key in ("question_mark", "m"):  # help and messages, as the keys open them
            await pilot.press(key)
            await _check(app, pilot, seen)
            await pilot.press("escape")
            await pilot.pause()
    assert seen == {p.name for p in PLACES}


async def test_read_only_leaves_out_of_the_palette_what_changes_something(open_session):
    app = CockpitApp(open_session(read_only=True), start_sources=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        offered = _offered(app)
    changes = {c.title for c in COMMANDS if c.changes}
    assert not offered & changes
    assert {"Checklist: run", "Checklist: item detail", "Help"} <= offered


async def test_without_clusters_the_palette_has_no_rollout_command(open_session):
    app = CockpitApp(open_session(), start_sources=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        offered = _offered(app)
    assert not [t for t in offered if t.startswith("Rollout:")], offered


async def test_the_palette_leaves_out_plain_cursor_moves(write_config, operator):
    """Next and previous metric are the arrow keys' job; the palette offers the metric's
    detail, not a slower way to move the cursor one row."""
    from cockpit.session import GoLiveSession

    from .test_snapshots import REHEARSAL_CONFIG

    session = GoLiveSession.open(write_config(REHEARSAL_CONFIG), "production", operator=operator)
    app = CockpitApp(session, start_sources=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        offered = _offered(app)
    assert "Metrics: next" not in offered and "Metrics: previous" not in offered, offered
    assert [t for t in offered if t.startswith("Metrics:")], offered  # the pane is there
    assert {c.id for c in COMMANDS if not c.palette} == {"metrics.next", "metrics.previous"}
