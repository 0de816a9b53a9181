"""The headless commands over the shared session: mark, checklist, status, recovery."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from cockpit.cli import cli
from cockpit.errors import CockpitError
from cockpit.identity import login_name

from .conftest import BASE_CONFIG, REFERENCE_CHECKLIST, needs_reference


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.setenv("USER", "bob")  # forged: the actor is the real uid's login name
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setenv("SSH_CONNECTION", "192.0.2.44 50000 10.0.0.1 22")
    return CliRunner()


@needs_reference
def test_checklist_json_on_the_reference_document(tmp_path, runner):
    (tmp_path / "cockpit.toml").write_text(
        f'checklist = "{REFERENCE_CHECKLIST}"\n[environments.production]\nproduction = true\n'
    )
    result = runner.invoke(cli, ["checklist", "--json", "--config", str(tmp_path / "cockpit.toml")])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["title"] == "Production Deployment Checklist"

    def walk(sections):
        for section in sections:
            yield from section["items"]
            yield from walk(section["sections"])

    items = list(walk(data["sections"]))
    manual = [i for i in items if i["kind"] == "manual"]
    steps = [i for i in items if i["kind"] == "step"]
    assert len(manual) == 155
    assert len({i["id"] for i in items}) == len(items) == data["total"] == 165
    assert {"id", "text", "kind", "scripts", "status"} <= set(items[0])
    assert all(i["status"] == "pending" for i in items)
    with_commands = {s["text"]: s["scripts"] for s in steps if s["scripts"]}
    assert with_commands["Deploy to Production"] == ["kubectl apply -k k8s/overlays/production\n"]
    assert len(with_commands) == 6
    first = data["sections"][0]
    assert {"id", "title", "level", "sections", "items"} <= set(first)
    assert first["sections"][0]["title"] == "Infrastructure"


def test_mark_done_skip_note_reopen_from_the_command_line(write_config, runner):
    path = str(write_config())
    ok = runner.invoke(cli, ["mark", "before/change-approved", "--done", "-c", path])
    assert ok.exit_code == 0, ok.output
    assert "[x] Change approved" in ok.output
    refused = runner.invoke(cli, ["mark", "Backup taken", "--skip", "-c", path])
    assert refused.exit_code == 2
    assert "skipping an item needs a reason" in refused.output
    skipped = runner.invoke(cli, ["mark", "Backup taken", "--skip", "--note", "n/a", "-c", path])
    assert skipped.exit_code == 0, skipped.output
    noted = runner.invoke(cli, ["mark", "Backup taken", "--note", "ask DBA", "-c", path])
    assert noted.exit_code == 0, noted.output
    data = json.loads(runner.invoke(cli, ["checklist", "--json", "-c", path]).output)
    before = {i["text"]: i for i in data["sections"][0]["items"]}
    assert before["Change approved"]["status"] == "done"
    assert before["Change approved"]["by"] == login_name()
    assert before["Change approved"]["from"] == "192.0.2.44"
    assert before["Backup taken"]["status"] == "skipped"
    first, second = before["Backup taken"]["note"].splitlines()
    assert first.endswith(f" {login_name()}] n/a")
    assert second.endswith(f" {login_name()}] ask DBA")
    assert before["Branch frozen"]["status"] == "done"
    assert before["Branch frozen"]["by"] == "document"
    reopened = runner.invoke(cli, ["mark", "Change approved", "--reopen", "-c", path])
    assert reopened.exit_code == 0
    status = json.loads(runner.invoke(cli, ["status", "--json", "-c", path]).output)
    assert status["checklist"]["done"] == 1  # only the document's own [x]
    assert status["checklist"]["skipped"] == 1
    assert status["environment"] == "staging"


def test_marks_are_per_environment(write_config, runner):
    path = str(write_config())
    runner.invoke(cli, ["mark", "Change approved", "--done", "-c", path, "--env", "production"])
    prod = json.loads(
        runner.invoke(cli, ["status", "--json", "-c", path, "-e", "production"]).output
    )
    stag = json.loads(runner.invoke(cli, ["status", "--json", "-c", path]).output)
    assert prod["checklist"]["done"] == 2
    assert stag["checklist"]["done"] == 1
    assert prod["production"] is True


def test_unknown_item_gets_suggestions(write_config, runner):
    path = str(write_config())
    result = runner.invoke(cli, ["mark", "before/change-aproved", "--done", "-c", path])
    assert result.exit_code == 2
    assert "no checklist item 'before/change-aproved'" in result.output
    assert "did you mean: before/change-approved" in result.output


def test_read_only_refuses_marks(write_config, runner):
    path = str(write_config())
    result = runner.invoke(cli, ["--read-only", "mark", "Change approved", "--done", "-c", path])
    assert result.exit_code == 2
    assert "read-only" in result.output
    config = BASE_CONFIG.replace(
        'label = "Shop staging"', 'label = "Shop staging"\nread_only = true'
    )
    path2 = str(write_config(config, name="ro.toml"))
    result = runner.invoke(cli, ["mark", "Change approved", "--done", "-c", path2])
    assert result.exit_code == 2


def test_corrupt_state_is_moved_aside_and_rebuilt_from_the_audit_log(open_session, tmp_path):
    session = open_session("production")
    session.mark_done("Change approved")
    session.skip("Backup taken", "restored last week")
    session.add_note("Announce completion", "draft in #release")
    state_file = session.store.path
    state_file.write_bytes(state_file.read_bytes()[:-40])  # torn write
    again = open_session("production", path=session.config.path)
    assert len(again.notices) == 1
    assert "was moved to" in again.notices[0]
    assert "3 item(s) were restored from the audit log" in again.notices[0]
    corrupt = list(state_file.parent.glob("production.toml.corrupt-*"))
    assert len(corrupt) == 1
    views = {v.item.text: v for v in map(again.view, again.checklist.items())}
    assert views["Change approved"].status == "done"
    assert views["Backup taken"].status == "skipped"
    assert views["Backup taken"].record.note.endswith("alice] restored last week")
    assert "draft in #release" in views["Announce completion"].record.note
    assert again.audit.verify().ok


def test_two_sessions_see_each_others_marks(open_session):
    first = open_session("production")
    second = open_session("production", path=first.config.path)
    first.mark_done("Change approved")
    assert second.reload_if_changed()
    assert second.view(second.find_item("Change approved")).status == "done"
    second.mark_done("Backup taken")
    first.reload_if_changed()
    assert first.progress().done == 3
    assert not first.reload_if_changed()


def test_progress_counts_what_each_items_view_says(open_session):
    """Progress counts statuses without making views (it runs over every item on every
    redraw); what it counts is what the views show, document ticks and reopens included."""
    session = open_session("production")
    session.mark_done("Change approved")
    session.skip("Backup taken", "restored last week")
    session.reopen("Branch frozen", "thawed")  # [x] in the document: a reopen leaves it done
    session.mark_done("Home page loads")
    session.reopen("Home page loads")
    for section in [None, *session.checklist.all_sections()]:
        views = [
            session.view(i)
            for i in (section.walk_items() if section else session.checklist.items())
        ]
        statuses = [v.status for v in views]
        progress = session.progress(section)
        assert progress.total == len(views)
        assert progress.done == sum(s in ("done", "passed") for s in statuses)
        assert progress.skipped == statuses.count("skipped")
    assert session.progress().done == 2 and session.progress().skipped == 1


def test_failed_items_are_the_items_whose_view_says_failed_and_they_hold_the_verdict(
    open_session,
):
    """The verdict lists the failed items without making a view of every item (it is asked
    several times a second); the list is what the views say, and each one is a NO-GO."""
    session = open_session("production")
    items = {i.text: i for i in session.checklist.items()}
    session.items.record("result", items["Backup taken"], status="failed", evidence="exit 2")
    session.items.record("result", items["Login works"], status="passed", evidence="200")
    session.items.record("result", items["Home page loads"], status="failed", evidence="503")
    session.items.record("result", items["Home page loads"], status="passed", evidence="200")
    session.mark_done("Change approved")
    failed = [i.text for i in session.checklist.items() if session.view(i).status == "failed"]
    assert session.items.failed_items() == failed == ["Backup taken"]
    verdict = session.verdict([], [])
    assert verdict.state == "NO-GO"
    assert "checklist item failed: Backup taken" in verdict.reasons
    assert not any("Home page loads" in r for r in verdict.reasons)


def test_ambiguous_text_is_refused_with_the_ids(tmp_path, operator):
    from cockpit.session import GoLiveSession

    (tmp_path / "rb.md").write_text("## A\n- [ ] Same\n## B\n- [ ] Same\n")
    (tmp_path / "c.toml").write_text('checklist = "rb.md"\n[environments.x]\n')
    session = GoLiveSession.open(tmp_path / "c.toml", None, operator=operator)
    with pytest.raises(CockpitError) as caught:
        session.mark_done("Same")
    assert "a/same, b/same" in caught.value.hint


def test_check_bindings_turn_items_into_checks(write_config, operator):
    from cockpit.session import GoLiveSession

    path = write_config(
        BASE_CONFIG
        + """
[[checks]]
item = "Backup taken"
type = "command"
argv = ["true"]

[[checks]]
item = "rollout/smoke-test/home-page-loads"
type = "http"
url = "https://shop.example.com/"
environments = ["production"]
"""
    )
    staging = GoLiveSession.open(path, "staging", operator=operator)
    production = GoLiveSession.open(path, "production", operator=operator)
    assert set(staging.bindings) == {"before/backup-taken"}
    assert set(production.bindings) == {"before/backup-taken", "rollout/smoke-test/home-page-loads"}
    data = production.checklist_json()
    kinds = {i["text"]: i["kind"] for i in data["sections"][0]["items"]}
    assert kinds["Backup taken"] == "check"


def test_validate_ok_output_is_informative(write_config, runner):
    result = runner.invoke(cli, ["validate", "-c", str(write_config())])
    assert result.exit_code == 0, result.output
    assert "ok:" in result.output
    assert "has 8 items in 3 sections" in result.output


def test_validate_refuses_a_step_override_for_no_item_and_names_the_nearest(write_config, runner):
    """A step reworded in the runbook gets a new ID: its override would be ignored and the
    step would run the runbook's own scripts in production."""
    from .conftest import BASE_CONFIG

    override = '[environments.staging.steps."rollout/deploy-the-app"]\ncommands = ["true"]\n'
    result = runner.invoke(cli, ["validate", "-c", str(write_config(BASE_CONFIG + override))])
    assert result.exit_code == 2, result.output
    assert "environments.staging.steps.'rollout/deploy-the-app'" in result.output
    assert "no item of the runbook has this ID; did you mean 'rollout/deploy'" in result.output
    exact = override.replace("deploy-the-app", "deploy")
    result = runner.invoke(cli, ["validate", "-c", str(write_config(BASE_CONFIG + exact))])
    assert result.exit_code == 0, result.output


async def test_marks_of_a_reworded_item_are_kept_and_said(write_config, runner, operator):
    """An item reworded after it was marked gets a new ID: the mark stays in the state under
    the old one, and the checklist and the cockpit's start say so instead of showing 0 %."""
    from cockpit.session import GoLiveSession
    from cockpit.tui.app import CockpitApp

    from .conftest import SMALL_RUNBOOK

    path = write_config()
    done = runner.invoke(cli, ["mark", "before/change-approved", "--done", "-c", str(path)])
    assert done.exit_code == 0, done.output
    write_config(runbook=SMALL_RUNBOOK.replace("Change approved", "Change request approved"))
    listing = runner.invoke(cli, ["checklist", "-c", str(path)])
    assert listing.exit_code == 0, listing.output
    assert "1 item(s) with marks are no longer in the runbook" in listing.output
    assert "  before/change-approved" in listing.output
    app = CockpitApp(GoLiveSession.open(path, None, operator=operator), start_sources=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        said = [n.message for n in app._notifications]
        assert any("no longer in the runbook" in m and "before/change-approved" in m for m in said)


def test_text_checklist_output_shows_ids_and_commands(write_config, runner):
    result = runner.invoke(cli, ["checklist", "-c", str(write_config())])
    assert result.exit_code == 0
    assert "before/change-approved" in result.output
    # the script is shown whole, as it will run: its comment first, then the command
    assert "$ # apply the manifests\n" in result.output
    assert re.search(
        r"\$ # apply the manifests\n +kubectl apply -k overlays/\{namespace\}\n", result.output
    )


def test_validate_refuses_two_items_that_would_share_an_id_naming_both_lines(write_config, runner):
    runbook = "## Deploy\n- [ ] Smoke\n  - [ ] Login works\n\n### Smoke\n- [ ] Login works\n"
    result = runner.invoke(cli, ["validate", "-c", str(write_config(runbook=runbook))])
    assert result.exit_code == 2, result.output
    assert "line 3 ('Login works') and line 6 ('Login works')" in result.output
    assert "deploy/smoke/login-works" in result.output
    assert "runbook.md" in result.output
    assert "Traceback" not in result.output
