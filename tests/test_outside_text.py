"""Text from outside is data: shown literally, never markup, never terminal control.

Each source gets the same hostile text: an OSC 52 clipboard write, an OSC 2 window title, a
screen clear, unbalanced markup (`[/]`, `[/tmp]`), click actions (`[@click=app.quit]`, with a
leading space, upper case). The cockpit must show it, not crash, not run the action, and never
pass an ESC from it to the terminal (the last test reads the real process's pty output).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.errors import CockpitError
from cockpit.gates import Point, evaluate
from cockpit.session import GoLiveSession
from cockpit.sources.errors import ErrorFeed, ErrorIssue, SpikeState
from cockpit.sources.kube import ClusterSnapshot, DeploymentView
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.error_detail import ErrorDetailScreen
from cockpit.tui.screens.metric_detail import MetricDetailScreen
from cockpit.tui.screens.rollback import RollbackScreen
from cockpit.tui.screens.rollout_detail import RolloutDetailScreen

from .test_tui_process import COCKPIT, Terminal

HOSTILE = (
    "\x1b]52;c;ZXZpbA==\x07\x1b]2;pwned\x07\x1b[2J"
    " [/] [/tmp] [@click=app.quit]q[/] [ @click=app.quit]r[/] [B]s[/B] end\\"
)
SHOWN = "[@click=app.quit]q[/]"  # what the operator must read, literally


def hostile_view(now: datetime) -> DeploymentView:
    stamp = (now - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": f"shop/web:{HOSTILE}"}]},
    }
    deployment = {
        "metadata": {
            "name": "web",
            "uid": "d1",
            "generation": 1,
            "annotations": {
                "deployment.kubernetes.io/revision": "2",
                "kubernetes.io/change-cause": HOSTILE,
            },
        },
        "spec": {"replicas": 1, "template": template},
        "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1},
    }
    rs = {
        "metadata": {
            "name": "web-2",
            "uid": "rs2",
            "creationTimestamp": stamp,
            "annotations": {
                "deployment.kubernetes.io/revision": "2",
                "kubernetes.io/change-cause": HOSTILE,
            },
            "ownerReferences": [{"uid": "d1", "controller": True}],
        },
        "spec": {"template": template},
        "status": {"replicas": 1},
    }
    old = {
        **rs,
        "metadata": {
            **rs["metadata"],
            "name": "web-1",
            "uid": "rs1",
            "annotations": {
                "deployment.kubernetes.io/revision": "1",
                "kubernetes.io/change-cause": HOSTILE,  # listed as a revision to go back to
            },
        },
        "spec": {"template": {**template, "spec": {"containers": [{"name": "app", "image": "a"}]}}},
    }
    pod = {
        "metadata": {
            "name": "web-2-x",
            "creationTimestamp": stamp,
            "ownerReferences": [{"uid": "rs2", "controller": True}],
        },
        "status": {
            "containerStatuses": [
                {
                    "name": "app",
                    "restartCount": 5,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": HOSTILE}},
                }
            ]
        },
    }
    event = {
        "metadata": {"name": "e1", "creationTimestamp": stamp},
        "involvedObject": {"name": "web-2-x"},
        "reason": "BackOff",
        "message": HOSTILE,
        "lastTimestamp": stamp,
    }
    return DeploymentView("prod-eu", "shop", "web", deployment, (rs, old), (pod,), (event,))


CONFIG = """
checklist = "runbook.md"
[environments.production]
production = true
[environments.production.prometheus]
url = "http://127.0.0.1:9"
[environments.production.errors]
provider = "bugsink"
url = "http://127.0.0.1:9"
project = "1"
[[environments.production.metrics]]
name = "p95"
query = "q"
fail = 100
[[environments.production.clusters]]
name = "prod-eu"
kubeconfig = "nowhere.yaml"
namespace = "shop"
deployments = ["web"]
"""


def svg_text(app) -> str:
    return app.export_screenshot().replace("&#160;", " ")


async def test_every_source_shows_hostile_text_literally_and_inert(tmp_path, operator):
    (tmp_path / "runbook.md").write_text(f"# Go-live\n\n## Steps\n- [ ] {HOSTILE}\n")
    (tmp_path / "cockpit.toml").write_text(CONFIG)
    session = GoLiveSession.open(tmp_path / "cockpit.toml", None, operator=operator)
    app = CockpitApp(session, start_sources=False)
    now = datetime.now(UTC)
    metric = session.environment.metrics[0]
    points = [Point(now - timedelta(seconds=30 * i), 50.0) for i in range(5, 0, -1)]
    state = evaluate(
        metric,
        HOSTILE,
        points,
        started=None,
        consecutive_errors=1,
        last_error=HOSTILE,
        fetched_at=now,
        last_ok=now,
    )
    issue = ErrorIssue(
        "1", f"SHOP-{HOSTILE}", HOSTILE, HOSTILE, "error", 3, 1, now, now, HOSTILE, "NEW"
    )
    async with app.run_test(size=(160, 48)) as pilot:
        app.board.push_cluster(
            ClusterSnapshot("prod-eu", "shop", (hostile_view(now),), True, True, last_ok=now)
        )
        app.board.push_metric(state)
        app.board.push_errors(
            ErrorFeed((issue,), SpikeState(300, 1, 0, False, HOSTILE), now, None, HOSTILE)
        )
        app._report(CockpitError(HOSTILE, HOSTILE))  # an API error's text in a notification
        await pilot.pause(0.5)
        await pilot.press("v")  # every verdict reason, the pod's message among them
        await pilot.pause(0.2)
        main = svg_text(app)
        view = app.board.views()[0]
        for screen in (
            ErrorDetailScreen(issue),
            RolloutDetailScreen(view),
            MetricDetailScreen(state),
            RollbackScreen(session, view),
        ):
            await app.push_screen(screen)
            await pilot.pause(0.3)
            shown = svg_text(app)
            assert SHOWN in shown, type(screen).__name__
            assert "\x1b" not in shown and "␛]52;c;ZXZpbA==" in shown, type(screen).__name__
            app.pop_screen()
            await pilot.pause(0.1)
        assert app.is_running  # no [@click=app.quit] ran, no MarkupError
    assert SHOWN in main and "[/tmp]" in main and "[B]s[/B]" in main
    assert "\x1b" not in main and "␛]2;pwned" in main


def test_the_real_process_never_writes_the_runbooks_escape_sequences(tmp_path):
    """Runbook text on the pty: the OSC 52 and OSC 2 payloads never reach the terminal."""
    (tmp_path / "runbook.md").write_text(f"# Go-live\n\n## Steps\n- [ ] open {HOSTILE}\n")
    (tmp_path / "cockpit.toml").write_text(
        'checklist = "runbook.md"\n[environments.staging]\nlabel = "Staging"\n'
    )
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    terminal = Terminal([COCKPIT, "--config", str(tmp_path / "cockpit.toml")], env=env)
    try:
        terminal.wait_for("␛]52;c;ZXZpbA==".encode())
        terminal.wait_for("␛]2;pwned".encode())
        time.sleep(1)  # a few more frames
        terminal.pump()
    finally:
        terminal.kill()
    assert b"\x1b]52;c;ZXZpbA" not in terminal.output
    assert b"\x1b]2;pwned" not in terminal.output


async def test_step_output_is_shown_literally(tmp_path, operator):
    from cockpit.tui.screens.step_run import StepRunScreen

    (tmp_path / "runbook.md").write_text(
        "# Go-live\n\n## Steps\n\n1. **Print it**\n   ```bash\n"
        "   printf '\\033]52;c;ZXZpbA==\\007 [@click=app.quit]q[/] [/tmp]\\n'\n   ```\n"
    )
    (tmp_path / "cockpit.toml").write_text(
        'checklist = "runbook.md"\n[environments.staging]\nallow_commands = true\n'
    )
    session = GoLiveSession.open(tmp_path / "cockpit.toml", None, operator=operator)
    item = session.find_item("Print it")
    app = CockpitApp(session, start_sources=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await app.push_screen(StepRunScreen(session, item, session.plan_step(item), ask=True))
        await pilot.pause(0.3)
        await pilot.press("enter")
        for _ in range(100):
            if session.view(item).status == "passed":
                break
            await pilot.pause(0.1)
        await pilot.pause(0.3)
        shown = svg_text(app)
        assert "␛]52;c;ZXZpbA==" in shown and SHOWN in shown and "[/tmp]" in shown
        assert "\x1b" not in shown
        assert app.is_running


def test_command_line_output_never_drives_the_terminal(tmp_path, capsys):
    """Everything the headless commands print (an image, an annotation, a check's evidence, a
    runbook item) goes out with its control characters made visible."""
    from click.testing import CliRunner

    from cockpit.cli import cli, echo, secho

    echo("image shop/web:\x1b]52;c;ZXZpbA==\x07 \x1b[2J\nnext line")
    secho("warning \x9b31m", fg="red")
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "␛]52;c;ZXZpbA==␇ ␛[2J\nnext line" in out and "\\x9b31m" in out
    (tmp_path / "runbook.md").write_text("## S\n- [ ] Check \x1b[31mred\x1b[0m alert\n")
    (tmp_path / "cockpit.toml").write_text('checklist = "runbook.md"\n[environments.e]\n')
    shown = CliRunner().invoke(
        cli, ["checklist", "--config", str(tmp_path / "cockpit.toml")], color=True
    )  # color: click would strip escapes from a non-terminal, hiding what reaches one
    assert shown.exit_code == 0, shown.output
    assert "Check ␛[31mred␛[0m alert" in shown.output and "\x1b[31m" not in shown.output
