"""SVG snapshots of the cockpit screen at 80x24 and 160x48 (look at them when they change)."""

from __future__ import annotations

import pytest

from cockpit.tui.app import CockpitApp
from cockpit.tui.widgets.checklist import ChecklistPane

from .conftest import BASE_CONFIG

SIZES = [(80, 24), (160, 48)]


def mid_go_live(open_session, env="production"):
    session = open_session(env)
    session.mark_done("Change approved")
    session.skip("Backup taken", "snapshot from 02:00 is enough")
    session.mark_done("Deploy")
    session.add_note("Home page loads", "CDN cache warm-up takes a minute")
    return session


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_production_mid_go_live(snap_compare, open_session, size):
    app = CockpitApp(mid_go_live(open_session), start_sources=False)

    async def settle(pilot):
        app.query_one(ChecklistPane).select_item("rollout/smoke-test/home-page-loads")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_staging_read_only(snap_compare, open_session, size):
    app = CockpitApp(open_session("staging", read_only=True), start_sources=False)
    assert snap_compare(app, terminal_size=size)


def test_item_detail_of_a_step(snap_compare, open_session):
    app = CockpitApp(open_session("staging"), start_sources=False)

    async def open_detail(pilot):
        app.query_one(ChecklistPane).select_item("rollout/deploy")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_detail)


def test_configured_sources_wait_for_data(snap_compare, write_config, operator):
    from cockpit.session import GoLiveSession

    path = write_config(
        BASE_CONFIG
        + """
[[environments.production.clusters]]
name = "prod-eu"
namespace = "shop"
deployments = ["web", "worker"]

[environments.production.prometheus]
url = "https://prometheus.example.com"

[environments.production.errors]
provider = "bugsink"
url = "https://bugsink.example.com"
project = "shop"
"""
    )
    session = GoLiveSession.open(path, "production", operator=operator)
    assert snap_compare(CockpitApp(session, start_sources=False), terminal_size=(160, 48))


def test_light_theme(snap_compare, write_config, operator):
    from cockpit.session import GoLiveSession

    path = write_config(
        BASE_CONFIG.replace("default_environment", 'theme = "cockpit-light"\ndefault_environment')
    )
    session = GoLiveSession.open(path, None, operator=operator)
    assert snap_compare(CockpitApp(session, start_sources=False), terminal_size=(80, 24))
