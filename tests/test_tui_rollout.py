"""Pilot tests of the rollout pane and the rollback screens against the rehearsal cluster."""

from __future__ import annotations

import asyncio

from cockpit.session import GoLiveSession
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.rollback import RollbackScreen
from cockpit.tui.widgets.rollout import RolloutPane, RolloutTable

from .test_kube import NS, config_for, get_json, kubectl, wait_rolled_out


async def until(pilot, predicate, tries=200, delay=0.05):
    for _ in range(tries):
        if predicate():
            return
        await pilot.pause(delay)
    raise AssertionError("condition not reached")


def image_of(cluster, name):
    return get_json(cluster, "deploy", name)["spec"]["template"]["spec"]["containers"][0]["image"]


async def open_rollback(app, pilot, name):
    pane = app.query_one(RolloutPane)
    await until(
        pilot,
        lambda: (
            pane.views.get(("rehearsal", name)) is not None
            and pane.views[("rehearsal", name)].found
        ),
    )
    table = app.query_one(RolloutTable)
    table.focus()
    table.move_cursor(row=list(pane.views).index(("rehearsal", name)))
    await pilot.pause()
    await pilot.press("ctrl+z")
    await until(pilot, lambda: isinstance(app.screen, RollbackScreen))
    screen = app.screen
    await until(pilot, lambda: screen.prepared is not None)
    return screen


async def test_production_rollback_needs_the_name_and_follows_through(cluster, tmp_path, operator):
    cluster.create_deployment("t1", "shop/t1:1", namespace=NS, replicas=2)
    wait_rolled_out(cluster, "t1")
    kubectl(cluster, "set", "image", "deployment/t1", "app=shop/t1:2")
    wait_rolled_out(cluster, "t1")
    path = config_for(tmp_path, cluster, ["t1"], production=True)
    session = GoLiveSession.open(path, None, operator=operator, via="tui")
    app = CockpitApp(session)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_rollback(app, pilot, "t1")
        details = str(screen.query_one("#rb-details").render())
        assert "revision 2" in details and "shop/t1:2" in details
        assert "back to: revision 1" in details and "shop/t1:1" in details
        assert "RBAC: you may patch" in details
        assert app.focused.id == "rb-confirm"  # production: typing the name is the confirmation
        assert screen.query_one("#rb-go").disabled
        await pilot.press("enter")  # a stray Enter with no name sends nothing
        await pilot.pause(0.3)
        assert isinstance(app.screen, RollbackScreen)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, RollbackScreen))
        assert image_of(cluster, "t1") == "shop/t1:2"
        screen = await open_rollback(app, pilot, "t1")
        screen.query_one("#rb-confirm").focus()
        await pilot.press(*"t", "enter")
        await pilot.pause()
        assert screen.query_one("#rb-go").disabled  # wrong name
        await pilot.press("1")
        await until(pilot, lambda: not screen.query_one("#rb-go").disabled)
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, RollbackScreen))
        pane = app.query_one(RolloutPane)
        await until(
            pilot,
            lambda: (
                pane.views[("rehearsal", "t1")].revision == 3
                and pane.views[("rehearsal", "t1")].verdict.state == "complete"
            ),
        )
    assert image_of(cluster, "t1") == "shop/t1:1"
    actions = [
        e.action
        for e in session.audit.entries()
        if e.action != "verdict" and not e.action.startswith("run_")
    ]
    assert actions[:3] == ["session_start", "rollback_requested", "rollback"]


async def test_rbac_denied_and_paused_are_refused_before_sending(cluster, tmp_path, operator):
    cluster.create_deployment("t2", "shop/t2:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "t2")
    kubectl(cluster, "set", "image", "deployment/t2", "app=shop/t2:2")
    wait_rolled_out(cluster, "t2")
    (tmp_path / "viewer").mkdir()
    viewer = config_for(tmp_path / "viewer", cluster, ["t2"], context="rehearsal-viewer")
    before = len(cluster.requests)
    session = GoLiveSession.open(viewer, None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_rollback(app, pilot, "t2")
        warnings = str(screen.query_one("#rb-warnings").render())
        assert "RBAC: you may NOT patch deployments" in warnings
        assert screen.query_one("#rb-go").disabled
    patches = [r for r in cluster.requests[before:] if r[0] == "PATCH"]
    assert patches == []

    kubectl(cluster, "rollout", "pause", "deployment/t2")
    admin = config_for(tmp_path, cluster, ["t2"])
    session = GoLiveSession.open(admin, None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_rollback(app, pilot, "t2")
        warnings = str(screen.query_one("#rb-warnings").render())
        assert "you cannot rollback a paused deployment" in warnings
        assert screen.query_one("#rb-go").disabled
        resume = screen.query_one("#rb-resume")
        assert resume.display
        resume.press()
        await until(pilot, lambda: not get_json(cluster, "deploy", "t2")["spec"].get("paused"))
        await until(pilot, lambda: screen.prepared is not None and screen.prepared.plan is not None)
        assert not screen.query_one("#rb-go").disabled


async def test_pane_goes_stale_and_recovers(tmp_path, operator):
    from cockpit.rehearsal.kube import RehearsalCluster, Timing

    running = RehearsalCluster(tmp_path / "c", timing=Timing(ready_after=0.2, tick=0.05)).start()
    running.kubeconfig = running.write_kubeconfig(tmp_path / "kubeconfig", NS)
    running.create_deployment("web", "shop/web:1", namespace=NS, replicas=1)
    session = GoLiveSession.open(config_for(tmp_path, running, ["web"]), None, operator=operator)
    app = CockpitApp(session)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            pane = app.query_one(RolloutPane)
            for watcher in app.board.watchers:
                watcher.backoff_cap = 0.5
            await until(
                pilot,
                lambda: pane.border_subtitle == "live" and pane.views[("rehearsal", "web")].found,
            )
            await asyncio.to_thread(running.stop)
            await until(pilot, lambda: pane.border_subtitle == "STALE")
            await pilot.pause(1.2)
            status = str(pane.query_one("#rollout-status").render())
            assert "stale for" in status
            assert pane.views[("rehearsal", "web")].found  # the rows stay
            await asyncio.to_thread(running.restart)
            await until(pilot, lambda: pane.border_subtitle == "live", tries=400)
    finally:
        running.stop()


async def test_roll_back_all_deployments_with_one_confirmation(cluster, tmp_path, operator):
    from cockpit.tui.screens.rollback import RollbackAllScreen

    for name in ("all-a", "all-b"):
        cluster.create_deployment(name, f"shop/{name}:1", namespace=NS, replicas=1)
        wait_rolled_out(cluster, name)
        kubectl(cluster, "set", "image", f"deployment/{name}", f"app=shop/{name}:2")
        wait_rolled_out(cluster, name)
    path = config_for(tmp_path, cluster, ["all-a", "all-b"], production=True)
    session = GoLiveSession.open(path, None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.query_one(RolloutPane)
        await until(pilot, lambda: all(v.found for v in pane.views.values()))
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Rollout: roll back ALL deployments of this environment" in titles
        app.action_rollback_all()
        await until(pilot, lambda: isinstance(app.screen, RollbackAllScreen))
        screen = app.screen
        await until(pilot, lambda: screen.ready)
        details = str(screen.query_one("#rb-details").render())
        assert "rehearsal/all-a: revision 2 → 1" in details
        assert screen.query_one("#rb-go").disabled  # production: type the environment name
        screen.query_one("#rb-confirm").focus()
        await pilot.press(*"rehearsal")
        await until(pilot, lambda: not screen.query_one("#rb-go").disabled)
        screen.query_one("#rb-go").press()
        await until(pilot, lambda: screen.done)
    for name in ("all-a", "all-b"):
        wait_rolled_out(cluster, name)
        assert image_of(cluster, name) == f"shop/{name}:1"
    requested = [e for e in session.audit.entries() if e.action == "rollback_requested"]
    assert sorted(e.fields["deployment"] for e in requested) == ["all-a", "all-b"]


async def test_a_change_between_preview_and_confirm_is_refused_and_previewed_anew(
    cluster, tmp_path, operator
):
    """The screen showed 2 → 1; `kubectl set image …:3` lands before Enter: nothing is sent
    (the API's 409 on the previewed resourceVersion), a new preview shows 3, and confirming
    that sends exactly the new preview's patch."""
    cluster.create_deployment("pc", "shop/pc:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "pc")
    kubectl(cluster, "set", "image", "deployment/pc", "app=shop/pc:2")
    wait_rolled_out(cluster, "pc")
    path = config_for(tmp_path, cluster, ["pc"], production=True)
    session = GoLiveSession.open(path, None, operator=operator, via="tui")
    app = CockpitApp(session)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_rollback(app, pilot, "pc")
        first = screen.prepared.plan
        assert (first.current_revision, first.target_revision) == (2, 1)
        await asyncio.to_thread(kubectl, cluster, "set", "image", "deployment/pc", "app=shop/pc:3")
        screen.query_one("#rb-confirm").focus()
        await pilot.press(*"pc", "enter")
        await until(
            pilot,
            lambda: screen.prepared is not None and screen.prepared.plan is not first,
            tries=400,
        )
        assert isinstance(app.screen, RollbackScreen)  # still asking
        assert image_of(cluster, "pc") == "shop/pc:3"  # nothing was sent over the change
        warnings = str(screen.query_one("#rb-warnings").render())
        assert "NOT SENT" in warnings and "changed since this rollback was previewed" in warnings
        second = screen.prepared.plan
        assert second.current_revision == 3 and "shop/pc:3" in second.current_images
        assert screen.query_one("#rb-go").disabled  # the name must be typed again
        await pilot.press(*"pc", "enter")
        await until(pilot, lambda: not isinstance(app.screen, RollbackScreen), tries=400)
    sent = get_json(cluster, "deploy", "pc")["spec"]["template"]
    previewed = next(op["value"] for op in second.patch if op["path"] == "/spec/template")
    assert sent["spec"]["containers"][0]["image"] == previewed["spec"]["containers"][0]["image"]
    requested = [e for e in session.audit.entries() if e.action == "rollback_requested"]
    assert [e.fields["generation"] for e in requested] == [first.generation, second.generation]
    assert first.generation != second.generation
    outcomes = [e.fields["outcome"] for e in session.audit.entries() if e.action == "rollback"]
    assert outcomes == ["failed", "sent"]


async def test_a_gitops_managed_deployment_is_warned_before_rollback(cluster, tmp_path, operator):
    """Argo CD's tracking annotation on the Deployment: the screen says the patch will be
    reverted at the next sync and what to do instead, the audit records the warning, and the
    application's name (cluster text) is shown as text, not markup."""
    cluster.create_deployment("argo", "shop/argo:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "argo")
    kubectl(cluster, "set", "image", "deployment/argo", "app=shop/argo:2")
    wait_rolled_out(cluster, "argo")
    kubectl(
        cluster,
        "annotate",
        "deployment/argo",
        "argocd.argoproj.io/tracking-id=shop[b]1[/b]:apps/Deployment:ns/argo",
    )
    path = config_for(tmp_path, cluster, ["argo"])
    session = GoLiveSession.open(path, None, operator=operator, via="tui")
    app = CockpitApp(session)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_rollback(app, pilot, "argo")
        warnings = str(screen.query_one("#rb-warnings").render())
        assert "Argo CD (application shop[b]1[/b]) manages argo" in warnings
        assert "next sync" in warnings and "argocd app rollback shop[b]1[/b]" in warnings
        screen.query_one("#rb-go").press()
        await until(pilot, lambda: not isinstance(app.screen, RollbackScreen))
    (requested,) = [e for e in session.audit.entries() if e.action == "rollback_requested"]
    assert requested.fields["managed_by"] == ["Argo CD application shop[b]1[/b]"]
