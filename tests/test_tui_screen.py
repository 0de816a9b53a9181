"""The screen at 2 a.m.: every workload and its tag at 80 columns, messages on their own line
and never over a pane, and a reason for every key that does nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cockpit.session import GoLiveSession
from cockpit.tui.app import CockpitApp
from cockpit.tui.widgets.rollout import COMPACT, RolloutPane, RolloutTable

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
