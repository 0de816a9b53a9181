"""Pilot tests of the rollout pane and the rollback screens against the rehearsal cluster."""

from __future__ import annotations

import asyncio

from cockpit.session import GoLiveSession
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.rollback import RollbackScreen
from cockpit.tui.widgets.rollout import RolloutPane, RolloutTable

from .helpers import footer_text, until
from .kube_helpers import NS, config_for, get_json, kubectl, wait_rolled_out


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
        said = str(screen.query_one("#rb-refused").render())
        assert "Not sent: nothing typed; type 't1' exactly" in said, said
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, RollbackScreen))
        assert image_of(cluster, "t1") == "shop/t1:2"
        screen = await open_rollback(app, pilot, "t1")
        screen.query_one("#rb-confirm").focus()
        await pilot.press(*"t", "enter")
        await pilot.pause()
        assert screen.query_one("#rb-go").disabled  # wrong name
        said = str(screen.query_one("#rb-refused").render())
        assert "Not sent: you typed 't'; type 't1' exactly, then Enter." in said, said
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
    admin = config_for(tmp_path, cluster, ["t2"], production=True)
    session = GoLiveSession.open(admin, None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_rollback(app, pilot, "t2")
        warnings = str(screen.query_one("#rb-warnings").render())
        assert "you cannot rollback a paused deployment" in warnings
        assert screen.query_one("#rb-go").disabled
        resume = screen.query_one("#rb-resume")
        assert resume.display
        resume.focus()
        await pilot.press("enter")
        await until(pilot, lambda: not get_json(cluster, "deploy", "t2")["spec"].get("paused"))
        await until(pilot, lambda: screen.prepared is not None and screen.prepared.plan is not None)
        # the button is gone; the focus goes to the next step, typing the name (production)
        assert app.focused is screen.query_one("#rb-confirm"), app.focused
        await pilot.press(*"t2")
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
            await until(pilot, lambda: pane.border_subtitle == "live", timeout=20)
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
            timeout=20,
        )
        assert isinstance(app.screen, RollbackScreen)  # still asking
        assert image_of(cluster, "pc") == "shop/pc:3"  # nothing was sent over the change
        warnings = str(screen.query_one("#rb-warnings").render())
        assert "NOT SENT" in warnings and "changed since this rollback was previewed" in warnings
        second = screen.prepared.plan
        assert second.current_revision == 3 and "shop/pc:3" in second.current_images
        assert screen.query_one("#rb-go").disabled  # the name must be typed again
        await pilot.press(*"pc", "enter")
        await until(pilot, lambda: not isinstance(app.screen, RollbackScreen), timeout=20)
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


async def test_retry_key_sees_a_cluster_again_after_logging_in(
    cluster, tmp_path, operator, monkeypatch
):
    """SSO expired: the plugin's own words in the pane, with the key that retries. The
    operator logs in elsewhere and presses it: rows are back at once, not after the backoff
    (made minutes long here, so only the key can explain the recovery)."""
    from cockpit.sources import kube

    from .test_kube_auth import config_with, kubeconfig_with_user, plugin_user

    monkeypatch.setattr(kube, "BACKOFF_START", 120.0)
    cluster.create_deployment("retry-web", "shop/retry-web:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "retry-web")
    cluster.tokens["sso-token-retry"] = "rehearsal-admin"
    (tmp_path / "token").write_text("fail")
    kubeconfig = kubeconfig_with_user(cluster, tmp_path, plugin_user(tmp_path))
    config_with(tmp_path, kubeconfig, ["retry-web"])
    session = GoLiveSession.open(tmp_path / "cockpit.toml", None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.query_one(RolloutPane)
        status = pane.query_one("#rollout-status")
        await until(pilot, lambda: "aws sso login" in str(status.render()))
        assert "ctrl+r: retry now" in str(status.render())
        assert pane.border_subtitle == "STALE"
        assert app.active_bindings["ctrl+r"].enabled  # in the footer while it applies
        await until(pilot, lambda: "Retry now" in footer_text(app), what=lambda: footer_text(app))
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Rollout: retry the clusters now" in titles  # and in the command palette
        (tmp_path / "token").write_text("sso-token-retry")  # logged in, in another window
        await pilot.pause(0.3)
        assert not pane.views[("rehearsal", "retry-web")].found  # the backoff would wait
        await pilot.press("ctrl+r")
        await until(
            pilot,
            lambda: pane.views[("rehearsal", "retry-web")].found and pane.border_subtitle == "live",
            timeout=30,  # a loaded machine runs the plugin slowly; the backoff is 120 s
        )
        await until(pilot, lambda: "ctrl+r" not in app.active_bindings, timeout=10)
        await until(pilot, lambda: "Retry now" not in footer_text(app), timeout=10)


async def open_detail(app, pilot, name):
    from cockpit.tui.screens.rollout_detail import RolloutDetailScreen

    pane = app.query_one(RolloutPane)
    await until(pilot, lambda: pane.views.get(("rehearsal", name)) is not None)
    await until(pilot, lambda: pane.views[("rehearsal", name)].found)
    table = app.query_one(RolloutTable)
    table.focus()
    table.move_cursor(row=list(pane.views).index(("rehearsal", name)))
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, RolloutDetailScreen))
    return app.screen


def crash_row(screen):
    """The name and cells of the pod in CrashLoopBackOff, if the detail shows one."""
    for name, row in screen._rows.items():
        cells = dict(zip(screen._columns, row, strict=True))
        if cells["Waiting"][0] == "CrashLoopBackOff":
            return name, cells
    return None


async def test_detail_follows_restarts_and_logs_follow_a_crash_loop(cluster, tmp_path, operator):
    """No key pressed: the open detail shows restarts climbing, the exit code and the events;
    the selected pod stays selected; `l` follows its log across restarts, `p` shows the
    crashed run's last lines."""
    from cockpit.tui.screens.pod_logs import PodLogScreen
    from cockpit.tui.widgets.log_lines import LogLines

    cluster.create_deployment("live", "shop/live:1", namespace=NS, replicas=2)
    wait_rolled_out(cluster, "live")
    cluster.faults.crash.add("shop/live:bad")
    session = GoLiveSession.open(config_for(tmp_path, cluster, ["live"]), None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(100, 30)) as pilot:  # the detail taller than the screen
        screen = await open_detail(app, pilot, "live")
        before = str(screen.query_one("#rd-head").render())
        assert "successfully rolled out" in before
        await asyncio.to_thread(
            kubectl, cluster, "set", "image", "deployment/live", "app=shop/live:bad"
        )
        await until(pilot, lambda: crash_row(screen) is not None, timeout=10)
        name, _row = crash_row(screen)
        table = screen.query_one("#rd-pods")
        table.move_cursor(row=list(screen._rows).index(name))
        scroll = screen.query_one("#rd-scroll")
        assert scroll.scroll_y == 0  # opens at the top: verdict and trouble
        await pilot.pause()
        scroll.scroll_to(y=4, animate=False)
        await pilot.pause()
        first = int(crash_row(screen)[1]["Restarts"][0])
        await until(
            pilot, lambda: int(crash_row(screen)[1]["Restarts"][0]) >= first + 2, timeout=10
        )
        _name, row = crash_row(screen)
        assert row["Last termination"][0] == "Error, exit code 1"  # kubectl describe's
        assert screen.selected_pod_name() == name  # the cursor stayed on its pod
        assert scroll.scroll_y == 4  # and the screen where the operator left it
        head = str(screen.query_one("#rd-head").render())
        assert "pod trouble" in head and "CrashLoopBackOff" in head
        events = str(screen.query_one("#rd-events").render())
        assert "Warning" in events and "BackOff" in events
        assert events.index("Warning") < events.find("Normal ")  # warnings first

        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, PodLogScreen))
        logs = app.screen
        lines = logs.query_one(LogLines)

        def runs():
            return sum("rehearsal: starting shop/live:bad" in text for _s, text in lines.entries)

        await until(pilot, lambda: runs() >= 1, timeout=5)
        seen = runs()
        await until(pilot, lambda: runs() >= seen + 2, timeout=10)  # followed across restarts
        assert logs.follower.requests >= 3  # one stream per run, reopened after each restart
        texts = [text for _s, text in lines.entries]
        assert len(texts) == len(set(zip(texts, [s for s, _t in lines.entries], strict=True)))
        await pilot.press("p")
        await until(pilot, lambda: logs.notice.ended, timeout=5)
        assert logs.previous
        texts = [text for _s, text in lines.entries]
        assert texts[-1] == "rehearsal: this image is set to crash; exit code 1"
        assert "previous (terminated) container" in str(logs.query_one("#log-head").render())
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        assert logs.follower is None  # stopped with its view, and its thread ended
        await until(pilot, lambda: not [w for w in app.workers if w.group == "pod-log"])


LOG_HOSTILE = (
    "\x1b[31mred\x1b[0m \x1b]52;c;ZXZpbA==\x07\x1b]2;pwned\x07 [b]markup[/b] "
    "[@click=app.quit]q[/] \x9b2J end"
)


async def test_a_log_line_is_shown_as_text_and_search_finds_and_highlights(
    cluster, tmp_path, operator
):
    """Escape sequences and markup written by a container reach the screen as visible text,
    and `/` finds the line, highlighted; n and N go from match to match."""
    from textual import events

    from cockpit.tui.screens.pod_logs import PodLogScreen
    from cockpit.tui.widgets.log_lines import LogLines

    from .test_outside_text import svg_text

    cluster.create_deployment("said", "shop/said:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "said")
    session = GoLiveSession.open(config_for(tmp_path, cluster, ["said"]), None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await open_detail(app, pilot, "said")
        await until(pilot, lambda: bool(screen.view.pods))
        pod = screen.view.pods[0]
        await pilot.press("enter")  # enter on a pod opens its log, as l does
        await until(pilot, lambda: isinstance(app.screen, PodLogScreen))
        logs = app.screen
        lines = logs.query_one(LogLines)
        await until(pilot, lambda: any("ready" in t for _s, t in lines.entries))
        cluster.kubelet.write(pod, "app", LOG_HOSTILE)
        cluster.kubelet.write(pod, "app", "second markup line")
        await until(pilot, lambda: any("second" in t for _s, t in lines.entries))
        await pilot.pause(0.1)
        shown = svg_text(app)
        assert "\x1b" not in shown and "\x9b" not in shown and "\x07" not in shown
        assert "␛[31mred␛[0m ␛]52;c;ZXZpbA==␇␛]2;pwned␇ [b]markup[/b]" in shown
        assert "[@click=app.quit]q[/] \\x9b2J end" in shown
        assert app.is_running  # no [@click=app.quit] ran

        await pilot.press("slash", *"MARKUP", "enter")  # case does not matter
        hostile = next(i for i, (_s, t) in enumerate(lines.entries) if "pwned" in t)
        assert lines.current == hostile
        status = str(logs.query_one("#log-status").render())
        assert "search “MARKUP”: 2 lines match" in status
        row = lines.render_line(hostile - lines.scroll_offset.y)
        current = lines.get_component_rich_style("log-lines--current")
        assert [s.text for s in row if s.style and current.bgcolor == s.style.bgcolor] == ["markup"]
        await pilot.press("n")
        assert lines.entries[lines.current][1] == "second markup line"
        other = lines.render_line(hostile - lines.scroll_offset.y)
        match = lines.get_component_rich_style("log-lines--match")
        assert any(s.text == "markup" and s.style.bgcolor == match.bgcolor for s in other)
        await pilot.press("N")
        assert lines.current == hostile
        # typed at once, as over a slow SSH link: the keys after / are the search's
        for key, char in [("slash", "/"), *((c, c) for c in "second"), ("enter", "\r")]:
            app.post_message(events.Key(key, char))
        await until(pilot, lambda: lines.search_text == "second")
        assert lines.entries[lines.current][1] == "second markup line"
        # a chatty container: the last 5,000 lines are kept, and the view says so
        before = len(lines.entries)
        logs.add_lines([("", f"line {i}") for i in range(6000)])
        logs._show_status()
        assert len(lines.entries) == 5000 and lines.entries[-1][1] == "line 5999"
        assert lines.dropped == before + 1000
        status = str(logs.query_one("#log-status").render())
        assert f"5,000 lines (the last 5,000; {before + 1000:,} older dropped)" in status
