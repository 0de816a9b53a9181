"""The collector is paused while the cockpit starts and always runs again afterwards: a
process left without it would keep every reference cycle it ever made."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from cockpit import collector
from cockpit.cli import cli
from cockpit.tui.app import CockpitApp


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.enable()
    gc.set_threshold(*threshold)


def test_paused_leaves_the_collector_as_it_found_it():
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    with collector.paused():
        pass
    assert not gc.isenabled()  # paused for start-up: still paused


async def test_the_collector_paused_for_start_up_runs_after_the_first_frame(open_session):
    collector.pause_for_start_up()
    session = open_session()
    assert not gc.isenabled()
    app = CockpitApp(session, start_sources=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert gc.isenabled()
        assert gc.get_threshold()[0] == collector.GC_YOUNG_THRESHOLD


def test_a_headless_command_leaves_the_collector_running(write_config):
    config = write_config()
    result = CliRunner().invoke(cli, ["checklist", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert gc.isenabled()
