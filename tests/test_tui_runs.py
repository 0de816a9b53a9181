"""Pilot tests of running checks and steps from the cockpit, and of `cockpit check`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from cockpit.cli import cli
from cockpit.session import GoLiveSession
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.step_run import StepRunScreen
from cockpit.tui.widgets.checklist import ChecklistPane, ChecklistTree

from .conftest import needs_reference
from .helpers import footer_text, until
from .servers import free_port

RUNBOOK = """\
# Runs

## Deploy

- [ ] Shell works
- [ ] Slow check
- [ ] Port is open

1. **Say hello**
   ```bash
   echo hello from {environment}
   ```
2. **Fail on purpose**
   ```bash
   ls /nonexistent-cockpit-dir
   ```
3. **Never reached**
   ```bash
   echo unreachable
   ```
4. **Manual step without commands**
"""


def config_text(port: int, *, production: bool = False, confirm: bool = True) -> str:
    return f"""
checklist = "runbook.md"
[environments.stage]
production = {str(production).lower()}
allow_commands = true
confirm_each_step = {str(confirm).lower()}

[[checks]]
item = "Shell works"
type = "command"
argv = ["true"]

[[checks]]
item = "Slow check"
type = "command"
argv = ["sleep", "2"]

[[checks]]
item = "Port is open"
type = "tcp"
host = "127.0.0.1"
port = {port}
"""


@pytest.fixture
def run_config(write_config):
    def make(**kw):
        return write_config(config_text(free_port(), **kw), runbook=RUNBOOK)

    return make


def label(app, item_id):
    return str(app.query_one(ChecklistPane)._tree_nodes[item_id].label)


async def test_section_run_shows_progress_stops_at_failed_step_and_survives_restart(
    run_config, operator
):
    path = run_config()
    session = GoLiveSession.open(path, None, operator=operator, via="tui")
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(ChecklistPane).select_item("deploy/shell-works")
        await pilot.pause()
        await pilot.press("R")
        await until(pilot, lambda: label(app, "deploy/slow-check").startswith("◌"))
        assert isinstance(app.screen, StepRunScreen)  # first step asks before it runs
        assert "echo hello from stage" in str(app.screen.query_one("#step-commands").render())
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.state == "done")
        assert "hello from stage" in "\n".join(app.screen.query_one("#step-output").lines)
        await pilot.press("enter")  # close: the next step asks again
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, StepRunScreen) and app.screen.item.text == "Fail on purpose"
            ),
        )
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.state == "done")
        assert app.screen.outcome == "failed"
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, StepRunScreen))
        await until(pilot, lambda: label(app, "deploy/slow-check").startswith("✔"))
        assert label(app, "deploy/port-is-open").startswith("✘")
        assert label(app, "deploy/never-reached").startswith("○")

    again = GoLiveSession.open(path, None, operator=operator)
    status = {i.text: again.view(i).status for i in again.checklist.items()}
    assert status == {
        "Shell works": "passed",
        "Slow check": "passed",
        "Port is open": "failed",
        "Say hello": "passed",
        "Fail on purpose": "failed",
        "Never reached": "pending",
        "Manual step without commands": "pending",
    }
    port_record = again.view(again.checklist.item("deploy/port-is-open")).record
    assert "cannot connect" in port_record.evidence
    actions = [(e.action, e.fields.get("item")) for e in again.audit.entries()]
    assert ("result", "deploy/fail-on-purpose") in actions
    assert ("run", "deploy/never-reached") not in actions
    assert again.audit.verify().ok


async def test_production_step_needs_the_environment_name(run_config, operator):
    session = GoLiveSession.open(run_config(production=True), None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(ChecklistPane).select_item("deploy/say-hello")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, StepRunScreen)
        await pilot.press("enter")  # a stray Enter does nothing
        await pilot.press(*"prod", "enter")  # nor does the wrong word
        await pilot.pause(0.3)
        assert app.screen.state == "waiting"
        assert session.view(session.checklist.item("deploy/say-hello")).status == "pending"
        await pilot.press(*"stage", "enter")
        await until(pilot, lambda: app.screen.state == "done")
        assert app.screen.outcome == "passed"


TWO_SCRIPTS = """\
# Runs

## Database

1. **Migrate the schema**
   Dry run first:
   ```bash
   echo "would change 3 rows"
   ```
   Then apply:
   ```bash
   echo applied > applied.txt
   ```
"""


def two_scripts_config(write_config, *, production: bool):
    text = (
        'checklist = "runbook.md"\n[environments.stage]\n'
        f"production = {str(production).lower()}\nallow_commands = true\n"
    )
    return write_config(text, runbook=TWO_SCRIPTS)


def step_output(app) -> str:
    return "\n".join(app.screen.query_one("#step-output").lines)


def step_status(app) -> str:
    return str(app.screen.query_one("#step-status").render())


@pytest.mark.parametrize("answer", ["continue", "stop"])
async def test_production_step_pauses_between_its_scripts(write_config, operator, answer):
    """Dry run, then apply: in production the apply waits until the dry run's output was
    read and the name typed again; Escape there stops the step, audited, nothing applied."""
    path = two_scripts_config(write_config, production=True)
    applied = path.parent / "applied.txt"
    session = GoLiveSession.open(path, None, operator=operator)
    app = CockpitApp(session)
    item_id = "database/migrate-the-schema"
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(ChecklistPane).select_item(item_id)
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        await pilot.press(*"stage", "enter")
        await until(pilot, lambda: app.screen.state == "paused")
        assert "would change 3 rows" in step_output(app)
        assert "script 1 of 2 done" in step_status(app)
        assert not applied.exists()
        await pilot.press("enter")  # a stray Enter goes on with nothing
        await pilot.press(*"stag", "enter")  # nor does a mistyped name
        await pilot.pause(0.3)
        assert app.screen.state == "paused" and not applied.exists()
        assert "Not continued" in step_status(app)
        if answer == "continue":
            await pilot.press(*"stage", "enter")
            await until(pilot, lambda: app.screen.state == "done")
            assert app.screen.outcome == "passed" and applied.exists()
            assert session.view(session.checklist.item(item_id)).status == "passed"
        else:
            # no way out of the cockpit past the pause: the palette's Quit says why too
            commands = {c.title: c for c in app.get_system_commands(app.screen)}
            await commands["Quit"].callback() if "Quit" in commands else await app.action_quit()
            await pilot.pause()
            assert app.is_running and app.screen.state == "paused"
            assert any("between two scripts" in n.message for n in app._notifications)
            await pilot.press("escape")
            await until(pilot, lambda: app.screen.state == "done")
            assert app.screen.outcome == "cancelled" and not applied.exists()
            assert "stopped by the operator before script 2 of 2" in step_status(app)
            assert "marked failed: the step is not complete" in step_status(app)
            view = session.view(session.checklist.item(item_id))
            assert view.status == "failed"  # the dry run ran, the apply did not: half done
            assert "stopped by the operator before script 2 of 2" in view.record.evidence
            assert "stopped by the operator before script 2 of 2" in view.record.note
            last = [e for e in session.audit.entries() if e.fields.get("item") == item_id][-1]
            assert last.action == "cancel"
            assert "would change 3 rows" in last.fields["output_tail"]
            assert (last.fields["scripts_completed"], last.fields["scripts"]) == (1, 2)


async def test_a_step_cancelled_while_it_waits_keeps_what_ran_in_the_audit(write_config, operator):
    """The cockpit closed (a dropped SSH session) while a production step waits between its
    scripts: the audit says where it was and keeps the first script's output."""
    path = two_scripts_config(write_config, production=True)
    session = GoLiveSession.open(path, None, operator=operator)
    app = CockpitApp(session)
    item_id = "database/migrate-the-schema"
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(ChecklistPane).select_item(item_id)
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        await pilot.press(*"stage", "enter")
        await until(pilot, lambda: app.screen.state == "paused")
        app.screen.workers.cancel_group(app.screen, "step")
        await until(
            pilot,
            lambda: (
                [e for e in session.audit.entries() if e.fields.get("item") == item_id][-1].action
                == "cancel"
            ),
        )
    last = [e for e in session.audit.entries() if e.fields.get("item") == item_id][-1]
    assert last.fields["note"] == (
        "cancelled while waiting to run script 2 of 2; 1 of 2 script(s) had run and succeeded"
    )
    assert "would change 3 rows" in last.fields["output_tail"]
    assert session.view(session.checklist.item(item_id)).status == "failed"
    assert not (path.parent / "applied.txt").exists()


async def test_a_production_step_of_several_scripts_never_runs_without_the_pause(
    write_config, operator
):
    from cockpit.errors import CockpitError

    path = two_scripts_config(write_config, production=True)
    session = GoLiveSession.open(path, None, operator=operator)
    with pytest.raises(CockpitError, match="each next script waits for the operator"):
        await session.run_step(session.checklist.item("database/migrate-the-schema"))
    assert not (path.parent / "applied.txt").exists()


async def test_a_step_outside_production_runs_its_scripts_without_a_pause(write_config, operator):
    path = two_scripts_config(write_config, production=False)
    session = GoLiveSession.open(path, None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(ChecklistPane).select_item("database/migrate-the-schema")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: app.screen.state == "done")
        assert app.screen.outcome == "passed"
    assert (path.parent / "applied.txt").exists()


async def test_escape_cancels_running_checks_and_records_it(write_config, operator):
    path = write_config(
        """
checklist = "runbook.md"
[environments.stage]
[[checks]]
item = "Shell works"
type = "command"
argv = ["sleep", "30"]
timeout = 60
""",
        runbook=RUNBOOK,
    )
    session = GoLiveSession.open(path, None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(ChecklistPane).select_item("deploy/shell-works")
        await pilot.pause()
        assert "Cancel runs" not in footer_text(app)
        await pilot.press("r")
        await until(pilot, lambda: label(app, "deploy/shell-works").startswith("◌"))
        assert "running 0s" in label(app, "deploy/shell-works")
        # the footer offers escape while something runs (it follows the workers by itself)
        await until(pilot, lambda: "Cancel runs" in footer_text(app), what=lambda: footer_text(app))
        # its time counts on the label while it runs
        await until(pilot, lambda: "running 2s" in label(app, "deploy/shell-works"), timeout=6)
        await pilot.press("escape")
        await until(pilot, lambda: label(app, "deploy/shell-works").startswith("○"))
        await until(
            pilot, lambda: "Cancel runs" not in footer_text(app), what=lambda: footer_text(app)
        )
    actions = [e.action for e in session.audit.entries()]
    assert actions[-3:] == ["run", "cancel", "session_end"]
    assert session.view(session.checklist.item("deploy/shell-works")).status == "pending"


async def test_run_on_a_manual_item_explains(run_config, operator):
    session = GoLiveSession.open(run_config(), None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(ChecklistPane).select_item("deploy/manual-step-without-commands")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("manual item" in m or "no commands" in m for m in messages), messages


async def test_commands_are_off_unless_allowed(write_config, operator):
    path = write_config('checklist = "runbook.md"\n[environments.stage]\n', runbook=RUNBOOK)
    session = GoLiveSession.open(path, None, operator=operator)
    app = CockpitApp(session)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(ChecklistPane).select_item("deploy/say-hello")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert not isinstance(app.screen, StepRunScreen)
        messages = [n.message for n in app._notifications]
        assert any("allow_commands = true" in m for m in messages), messages
        assert app.query_one(ChecklistTree).check_action("run", ()) is True


# --- headless --------------------------------------------------------------------------------


def test_cockpit_check_exit_codes_and_formats(run_config, tmp_path):
    path = str(run_config())
    runner = CliRunner()
    failing = runner.invoke(cli, ["check", "-c", path])
    assert failing.exit_code == 1, failing.output
    assert "FAIL  Port is open" in failing.output
    assert "2 passed, 1 failed" in failing.output
    passing = runner.invoke(cli, ["check", "-c", path, "--item", "Shell works"])
    assert passing.exit_code == 0, passing.output
    usage = runner.invoke(cli, ["check", "-c", path, "--section", "Nope"])
    assert usage.exit_code == 2
    assert "no section 'Nope'" in usage.output
    nothing = runner.invoke(cli, ["check", "-c", path, "--item", "Say hello"])
    assert nothing.exit_code == 2
    assert "no checks are bound" in nothing.output
    data = json.loads(runner.invoke(cli, ["check", "-c", path, "-f", "json"]).output)
    assert data["passed"] == 2 and data["failed"] == 1
    assert {c["type"] for i in data["items"] for c in i["checks"]} == {"command", "tcp"}
    junit_file = tmp_path / "junit.xml"
    result = runner.invoke(cli, ["check", "-c", path, "-f", "junit", "-o", str(junit_file)])
    assert result.exit_code == 1
    root = ET.parse(junit_file).getroot()
    assert root.tag == "testsuites"
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == 3
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(failures) == 1
    assert failures[0].get("name").startswith("Port is open :: tcp 127.0.0.1:")
    assert root.find("testsuite").get("failures") == "1"


def test_sample_config_binds_at_least_15_items_and_gives_valid_junit(tmp_path, loopback_only_dns):
    """The sample's hosts (example.com, sentry.io) are never looked up: no DNS leaves."""
    import shutil

    from .conftest import REPO

    for name in ("servicedesk.toml", "servicedesk-runbook.md"):
        shutil.copy(REPO / "sample-configs" / name, tmp_path / name)
    shutil.copytree(REPO / "sample-configs" / "scripts", tmp_path / "scripts")
    session = GoLiveSession.open(tmp_path / "servicedesk.toml", None)
    assert len(session.compiled) >= 15
    bound_checks = sum(len(checks) for checks in session.compiled.values())
    result = CliRunner().invoke(
        cli, ["check", "-c", str(tmp_path / "servicedesk.toml"), "-f", "junit", "--jobs", "16"]
    )
    assert result.exit_code == 1  # the sample's hosts do not exist here
    assert loopback_only_dns  # they were asked for, and refused here
    root = ET.fromstring(result.output.split("\n", 1)[1])
    assert len(root.findall("./testsuite/testcase")) == bound_checks


@needs_reference
def test_init_writes_a_valid_starter_config_with_suggestions(tmp_path, monkeypatch):
    from .conftest import REFERENCE_CHECKLIST

    for name in ("COCKPIT_PROMETHEUS_TOKEN", "COCKPIT_DB_DSN", "COCKPIT_REDIS_PASSWORD"):
        monkeypatch.setenv(name, "set-for-the-test")
    output = tmp_path / "cockpit.toml"
    runner = CliRunner()
    result = runner.invoke(
        cli, ["init", "--checklist", str(REFERENCE_CHECKLIST), "-o", str(output)]
    )
    assert result.exit_code == 0, result.output
    text = output.read_text()
    assert text.startswith("# cockpit configuration written by `cockpit init`")
    import tomllib

    document = tomllib.loads(text)
    bound = {c["item"]: c for c in document["checks"]}
    assert all(c["suggested"] for c in document["checks"])
    assert bound["Health check endpoint functional"]["type"] == "http"
    assert bound["SSL/TLS certificates valid"]["type"] == "tls"
    assert bound["PostgreSQL database (16+) configured with replication"]["type"] == "postgres"
    assert bound["HSTS headers enabled"]["require_headers"] == ["Strict-Transport-Security"]
    assert "High error rate alert" not in bound  # alerts are about a process, not a live fact
    assert "Email provider configured (SendGrid, SES, SMTP)" not in bound  # maybe not SMTP at all
    assert "Redis password set" not in bound
    again = runner.invoke(cli, ["init", "--checklist", str(REFERENCE_CHECKLIST), "-o", str(output)])
    assert again.exit_code == 2
    assert "already exists" in again.output
    valid = runner.invoke(cli, ["validate", "-c", str(output), "--env", "production"])
    assert valid.exit_code == 0, valid.output
    assert "still marked suggested = true" in valid.output
