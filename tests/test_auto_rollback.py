"""auto_rollback on the rehearsal cluster (our API stand-in), in the real TUI: when both the
new and the restored revision fail, it rolls back once and says why it stops."""

from __future__ import annotations

import asyncio

from cockpit.session import GoLiveSession
from cockpit.tui.app import CockpitApp
from cockpit.tui.widgets.verdict import VerdictBar

from .helpers import until
from .kube_helpers import NS, kubectl, wait_rolled_out


def config(tmp_path, cluster, name):
    (tmp_path / "runbook.md").write_text("## S\n- [ ] x\n")
    path = tmp_path / "cockpit.toml"
    path.write_text(
        f"""
checklist = "runbook.md"
[environments.rehearsal]
auto_rollback = true
bake_time = "1s"
[[environments.rehearsal.clusters]]
name = "rehearsal"
kubeconfig = "{cluster.kubeconfig}"
context = "rehearsal"
namespace = "{NS}"
deployments = ["{name}"]
"""
    )
    return path


async def test_both_releases_failing_roll_back_once_and_say_why(cluster, tmp_path, operator):
    cluster.create_deployment("ar", "shop/ar:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "ar")
    session = GoLiveSession.open(config(tmp_path, cluster, "ar"), None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(160, 48)) as pilot:
        bar = app.query_one(VerdictBar)

        def verdict_until(predicate, seconds=60):
            return until(pilot, predicate, seconds, every=0.2, what=lambda: bar.verdict)

        await verdict_until(lambda: bar.verdict.state == "GO")  # the starting revision is fine
        cluster.faults.crash.add("shop/ar:2")  # 2.0 crash-loops
        await asyncio.to_thread(kubectl, cluster, "set", "image", "deployment/ar", "app=shop/ar:2")

        def rollbacks():
            return [e for e in session.audit.entries() if e.action == "rollback_requested"]

        await verdict_until(lambda: len(rollbacks()) == 1)
        cluster.faults.crash.add("shop/ar:1")  # and now 1.0 too (a bad config both read)
        (auto,) = rollbacks()
        assert auto.fields["trigger"] == "auto_rollback" and auto.fields["to_revision"] == 1
        # back on 1.0, whose pods fail as well: NO-GO, no target, and no second rollback
        await verdict_until(
            lambda: (
                any("no rollback target" in r for r in bar.verdict.reasons)
                and "back to ar" in (bar.verdict.judging or "")
            )
        )
        assert not bar.verdict.rollback_recommended
        assert "no revision to roll back to that has not failed" in " ".join(bar.verdict.reasons)
        await pilot.pause(3)
        assert len(rollbacks()) == 1
    cluster.faults.crash.difference_update({"shop/ar:2", "shop/ar:1"})
