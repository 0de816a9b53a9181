"""Security: files others can write are refused, read-only removes every mutating action,
and a canary secret never shows up in any output, file or report."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from cockpit.cli import cli
from cockpit.errors import CockpitError, StateError
from cockpit.session import GoLiveSession
from cockpit.tui.app import CockpitApp
from cockpit.tui.screens.rollback import RollbackScreen
from cockpit.tui.screens.step_run import StepRunScreen
from cockpit.tui.widgets.checklist import ChecklistPane
from cockpit.tui.widgets.rollout import RolloutPane, RolloutTable

from .kube_helpers import NS, config_for, kubectl, wait_rolled_out
from .servers import free_port

CANARY = "canary-7f3a9c-Secret-never-print-me"


def test_config_and_runbook_writable_by_others_are_refused(write_config):
    path = write_config()
    runner = CliRunner()
    path.chmod(0o666)
    result = runner.invoke(cli, ["validate", "-c", str(path)])
    assert result.exit_code == 2
    assert "writable by other users (mode 666)" in result.output
    assert f"chmod go-w {path}" in result.output
    path.chmod(0o644)
    runbook = path.parent / "runbook.md"
    runbook.chmod(0o664)
    result = runner.invoke(cli, ["checklist", "-c", str(path)])
    assert result.exit_code == 2
    assert "runbook" in result.output and "writable by other users" in result.output
    runbook.chmod(0o644)
    assert runner.invoke(cli, ["validate", "-c", str(path)]).exit_code == 0


def test_state_file_writable_by_others_is_refused(open_session):
    session = open_session()
    session.mark_done("Change approved")
    session.store.path.chmod(0o646)
    with pytest.raises(StateError, match="writable by other users"):
        open_session(path=session.config.path)


def test_read_only_refuses_every_mutating_command(cluster, tmp_path):
    cluster.create_deployment("ro", "shop/ro:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "ro")
    kubectl(cluster, "set", "image", "deployment/ro", "app=shop/ro:2")
    wait_rolled_out(cluster, "ro")
    path = config_for(tmp_path, cluster, ["ro"])
    text = path.read_text().replace(
        "[environments.rehearsal]", "[environments.rehearsal]\nallow_commands = true", 1
    ) + (
        '\n[environments.rehearsal.errors]\nprovider = "sentry"\norg = "acme"\n'
        f'url = "http://127.0.0.1:{free_port()}"\n'
    )
    text += '\n[[checks]]\nitem = "x"\ntype = "command"\nargv = ["touch", "ran"]\n'
    path.write_text(text)
    runner = CliRunner()
    base = ["--read-only"]
    for args in (
        ["rollback", "ro", "--yes"],
        ["pause", "ro"],
        ["resume", "ro"],
        ["release", "start", "2.0.0"],
        ["mark", "x", "--done"],
        ["check"],
    ):
        result = runner.invoke(cli, [*base, *args, "-c", str(path)])
        assert result.exit_code == 2, (args, result.output)
        assert "read-only" in result.output, (args, result.output)
    assert not (tmp_path / "ran").exists()
    image = json.loads(kubectl(cluster, "get", "deploy", "ro", "-o", "json").stdout)
    assert image["spec"]["template"]["spec"]["containers"][0]["image"] == "shop/ro:2"
    assert not image["spec"].get("paused")


async def test_read_only_removes_mutating_keys_and_palette_entries(cluster, tmp_path, operator):
    cluster.create_deployment("ro2", "shop/ro2:1", namespace=NS, replicas=1)
    wait_rolled_out(cluster, "ro2")
    path = config_for(tmp_path, cluster, ["ro2"])
    runbook = tmp_path / "runbook.md"
    runbook.write_text("## S\n- [ ] x\n\n1. **Deploy**\n   ```bash\n   touch ran\n   ```\n")
    path.write_text(
        path.read_text().replace(
            "[environments.rehearsal]", "[environments.rehearsal]\nallow_commands = true", 1
        )
    )
    session = GoLiveSession.open(path, None, operator=operator, read_only=True)
    app = CockpitApp(session)
    async with app.run_test(size=(160, 48)) as pilot:
        pane = app.query_one(RolloutPane)
        for _ in range(200):
            if pane.views[("rehearsal", "ro2")].found:
                break
            await pilot.pause(0.05)
        table = app.query_one(RolloutTable)
        table.focus()
        await pilot.pause()
        assert table.check_action("rollback", ()) is None
        assert table.check_action("toggle_pause", ()) is None
        await pilot.press("ctrl+z", "p")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, RollbackScreen)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        # the palette keeps what reads (a workload's detail), never what changes one
        assert "Rollout: workload detail" in titles
        assert not [t for t in titles if "roll back" in t or "pause" in t]
        assert app.check_action("rollback_recommended", ()) is False
        app.query_one(ChecklistPane).select_item("s/deploy")
        app.query_one(ChecklistPane).checklist_tree.focus()
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, StepRunScreen)
        assert any("read-only" in n.message for n in app._notifications)
    assert not (tmp_path / "ran").exists()


def test_a_canary_secret_never_leaves(tmp_path, monkeypatch, operator):
    """The same value in every secret slot; every command's output and every file it writes
    is searched for it, after a step and command checks printed their whole environment."""
    for name in (
        "PROM_TOKEN",
        "SENTRY_TOKEN",
        "DB_DSN",
        "REDIS_PASSWORD",
        "SMTP_PASSWORD",
        "HTTP_TOKEN",
        "PROM_PASSWORD",
    ):
        monkeypatch.setenv(name, CANARY)
    closed = free_port()
    (tmp_path / "runbook.md").write_text(
        "## S\n- [ ] db\n- [ ] cache\n- [ ] mail\n- [ ] web\n- [ ] prom\n- [ ] env\n"
        "- [ ] shell\n\n"
        "1. **Dump**\n   ```bash\n   printenv\n   env | sort\n   ```\n"
        '2. **Use**\n   ```bash\n   echo "token is $PROM_TOKEN"\n'
        "   printenv PROM_TOKEN | rev | rev\n   exit 3\n   ```\n"
    )
    (tmp_path / "cockpit.toml").write_text(
        f"""
checklist = "runbook.md"
[environments.production]
production = true
allow_commands = true
[environments.production.prometheus]
url = "http://127.0.0.1:{closed}"
token_env = "PROM_TOKEN"
timeout = 1
[environments.production.errors]
provider = "sentry"
url = "http://127.0.0.1:{closed}"
org = "acme"
project = "1"
token_env = "SENTRY_TOKEN"
[[environments.production.metrics]]
name = "p95"
query = "up"
fail = 1

[[checks]]
item = "db"
type = "postgres"
dsn_env = "DB_DSN"
timeout = 3
[[checks]]
item = "cache"
type = "redis"
url = "redis://127.0.0.1:{closed}/0"
password_env = "REDIS_PASSWORD"
timeout = 3
[[checks]]
item = "mail"
type = "smtp"
host = "127.0.0.1"
port = {closed}
username = "u"
password_env = "SMTP_PASSWORD"
timeout = 3
[[checks]]
item = "web"
type = "http"
url = "http://127.0.0.1:{closed}/"
token_env = "HTTP_TOKEN"
timeout = 3
[[checks]]
item = "prom"
type = "prometheus"
query = "up"
condition = "> 0"
timeout = 3
[[checks]]
item = "env"
type = "command"
argv = ["printenv"]
output_lines = 200
[[checks]]
item = "shell"
type = "command"
command = 'env; echo "$SENTRY_TOKEN" | tr a-z A-Z | tr A-Z a-z; exit 1'
shell = true
output_lines = 200
"""
    )
    # steps run from the TUI: run them through the session it drives, watching every line
    session = GoLiveSession.open(tmp_path / "cockpit.toml", None, operator=operator)
    shown: list[str] = []
    dump = asyncio.run(session.run_step(session.find_item("s/dump"), on_line=shown.append))
    assert dump.passed, dump.evidence
    assert any(line.startswith("PATH=") for line in shown)  # it did print its environment
    assert not [line for line in shown if line.startswith(("PROM_TOKEN=", "SENTRY_TOKEN="))]
    use = asyncio.run(session.run_step(session.find_item("s/use"), on_line=shown.append))
    assert not use.passed
    assert "token is ***" in shown  # named by the script: passed on, and scrubbed
    assert CANARY not in "\n".join(shown)
    config = str(tmp_path / "cockpit.toml")
    runner = CliRunner()
    outputs = []
    for args in (
        ["validate"],
        ["checklist", "--json"],
        ["check", "--format", "json"],
        ["check", "--format", "junit"],
        ["status", "--json", "--wait", "1"],
        ["gate", "--json"],
        ["mark", "db", "--note", "checked by hand"],
        ["mark", "cache", "--note", f"pasted {CANARY} by mistake"],
        ["audit", "show"],
        ["audit", "verify"],
        ["report", "--format", "md"],
        ["report", "--format", "html", "--output", str(tmp_path / "report.html")],
        ["schema"],
    ):
        result = runner.invoke(cli, [*args, "-c", config] if args[0] != "schema" else args)
        outputs.append(result.output)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
    for output in outputs:
        assert CANARY not in output
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "audit.jsonl" for p in files) and any(p.suffix == ".html" for p in files)
    for path in files:
        if path.name == "cockpit.toml":
            continue
        assert CANARY.encode() not in path.read_bytes(), path


def test_every_secret_variable_the_config_names_is_kept_from_children(tmp_path, monkeypatch):
    """Secrets of every environment, every check and the cockpit's own telemetry DSN are
    hidden from a command; one the command names itself is passed on (its output scrubbed)."""
    from cockpit.checks.base import CheckContext
    from cockpit.config import load_config
    from cockpit.secrets import secret_variables

    (tmp_path / "runbook.md").write_text("## S\n- [ ] x\n")
    (tmp_path / "c.toml").write_text(
        'checklist = "runbook.md"\ndefault_environment = "a"\n'
        "[telemetry]\nsentry_dsn_env = 'COCKPIT_DSN'\n"
        "[environments.a]\n[environments.a.prometheus]\nurl = 'http://p'\ntoken_env = 'A_TOKEN'\n"
        "[environments.b]\n[environments.b.errors]\nprovider = 'bugsink'\ntoken_env = 'B_TOKEN'\n"
        "[[checks]]\nitem = 'x'\ntype = 'redis'\nurl = 'redis://h'\npassword_env = 'R_PASS'\n"
    )
    loaded = load_config(tmp_path / "c.toml")
    assert secret_variables(loaded) == {"COCKPIT_DSN", "A_TOKEN", "B_TOKEN", "R_PASS"}
    ctx = CheckContext(loaded, "a")
    assert ctx.hidden_variables('curl -H "Authorization: $A_TOKEN" ${B_TOKEN}x') == {
        "COCKPIT_DSN",
        "R_PASS",
    }


# --- files: never through a link, private whatever the umask -----------------------------------


def _mode(path):
    return path.lstat().st_mode & 0o777


def test_files_and_folders_are_private_even_with_umask_000(
    open_session, tmp_path, monkeypatch, write_config
):
    from cockpit.cli.crash import write_crash_file

    path = write_config()  # the operator's own files are theirs to get right
    old = os.umask(0)
    try:
        session = open_session(path=path)
        session.mark_done("Change approved")
        config = str(session.config.path)
        report = tmp_path / "out" / "report.md"
        report.parent.mkdir()
        result = CliRunner().invoke(cli, ["report", "-c", config, "-o", str(report)])
        assert result.exit_code == 0, result.output
        try:
            raise RuntimeError("boom")
        except RuntimeError as exc:
            crash = write_crash_file(exc)
    finally:
        os.umask(old)
    cockpit = tmp_path / ".cockpit"
    assert _mode(cockpit) == 0o700
    assert _mode(cockpit / "state") == 0o700
    assert _mode(cockpit / "audit.jsonl") == 0o600
    assert _mode(cockpit / "state" / "staging.toml") == 0o600
    assert _mode(cockpit / "state" / ".staging.lock") == 0o600
    assert _mode(report) == 0o600
    assert _mode(crash) == 0o600 and _mode(crash.parent) == 0o700


@pytest.mark.parametrize(
    ("planted", "what"),
    [
        (".cockpit/state/.staging.lock", "lock file"),
        (f".cockpit/state/.staging.toml.{os.getpid()}.tmp", "state temp file"),
        (".cockpit/audit.jsonl", "audit log"),
        (".cockpit/state/staging.toml", "state file"),
        (".cockpit/state/staging.journal", "state journal"),
    ],
    ids=["lock", "state-temp", "audit", "state", "journal"],  # the same in every test process
)
def test_a_planted_symlink_is_refused_and_nothing_is_written_through_it(
    open_session, tmp_path, planted, what, monkeypatch
):
    from cockpit.state import StateStore

    # the temp file is written when the journal is folded into a new snapshot: make it due
    monkeypatch.setattr(StateStore, "_compaction_due", lambda self, read, records: True)
    session = open_session()
    session.mark_done("Change approved")  # folders and files exist; now plant the link
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / planted
    if link.exists():
        link.unlink()
    link.symlink_to(victim)
    with pytest.raises(CockpitError) as caught:
        open_session(path=session.config.path).mark_done("Backup taken")
    assert f"{what} {link} is a symbolic link" in caught.value.message
    assert f"rm {link}" in caught.value.hint
    assert victim.read_text() == "precious\n"


def test_a_report_that_fails_half_way_leaves_no_file_that_looks_complete(
    open_session, tmp_path, monkeypatch
):
    import cockpit.report

    session = open_session()
    session.mark_done("Change approved")
    report = tmp_path / "report.md"
    report.write_text("last week's report\n")

    def broken(*_args):
        raise CockpitError("the runbook went away", "put it back")

    monkeypatch.setattr(cockpit.report, "_section_lines", broken)  # after the header is written
    result = CliRunner().invoke(cli, ["report", "-c", str(session.config.path), "-o", str(report)])
    assert result.exit_code == 2 and "the runbook went away" in result.output
    assert not report.exists()


def test_a_symlinked_report_file_is_refused(open_session, tmp_path):
    session = open_session()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (tmp_path / "report.md").symlink_to(victim)
    result = CliRunner().invoke(
        cli, ["report", "-c", str(session.config.path), "-o", str(tmp_path / "report.md")]
    )
    assert result.exit_code == 2
    assert "report file" in result.output and "is a symbolic link" in result.output
    assert victim.read_text() == "precious\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="handing a link to another user needs root")
def test_a_state_folder_linked_into_another_users_folder_is_refused(open_session, tmp_path):
    elsewhere = tmp_path / "someone-elses"
    elsewhere.mkdir()
    os.chown(elsewhere, 4242, 4242)
    (tmp_path / ".cockpit").mkdir(mode=0o700)
    (tmp_path / ".cockpit" / "state").symlink_to(elsewhere)
    with pytest.raises(StateError, match="is a symbolic link that another user owns"):
        open_session().mark_done("Change approved")
    assert not list(elsewhere.iterdir())


def test_a_state_folder_others_can_write_is_refused(open_session, tmp_path):
    (tmp_path / ".cockpit" / "state").mkdir(parents=True)
    (tmp_path / ".cockpit" / "state").chmod(0o777)
    with pytest.raises(StateError, match=r"writable by other users \(mode 777\)"):
        open_session().mark_done("Change approved")


# --- identity: from the uid, never from USER ----------------------------------------------------


def test_the_actor_is_the_real_uid_not_a_forged_user(write_config, monkeypatch):
    import pwd

    from cockpit.identity import Operator

    monkeypatch.setenv("USER", "admin")
    monkeypatch.setenv("LOGNAME", "admin")
    monkeypatch.delenv("SUDO_USER", raising=False)
    me = pwd.getpwuid(os.getuid()).pw_name
    assert Operator.current().user == me
    path = write_config()
    assert (
        CliRunner().invoke(cli, ["mark", "Change approved", "--done", "-c", str(path)]).exit_code
        == 0
    )
    lines = (path.parent / ".cockpit" / "audit.jsonl").read_text().splitlines()
    assert {json.loads(line)["actor"] for line in lines} == {me}
    state = (path.parent / ".cockpit" / "state" / "staging.toml").read_text()
    assert f'by = "{me}"' in state and "admin" not in state


def test_under_sudo_the_person_who_asked_is_recorded(monkeypatch):
    import pwd

    from cockpit import identity

    monkeypatch.setenv("USER", "root")
    monkeypatch.setenv("SUDO_USER", "alice")
    monkeypatch.setattr(identity.os, "getuid", lambda: 0)
    assert identity.Operator.current().user == "alice (sudo)"
    # SUDO_USER means nothing to a process that is not root: anyone can set it
    nobody = pwd.getpwnam("nobody").pw_uid
    monkeypatch.setattr(identity.os, "getuid", lambda: nobody)
    assert identity.Operator.current().user == "nobody"
    monkeypatch.setattr(identity.os, "getuid", lambda: 0)
    monkeypatch.setenv("SUDO_USER", "x\n{evil}")
    assert identity.Operator.current().user == "root"
    monkeypatch.setattr(identity.os, "getuid", lambda: 4_000_000)  # no passwd entry
    assert identity.Operator.current().user == "uid-4000000"


# --- integrity: every field hashed; state rebuilt and saved by whoever opens it ----------------


def test_editing_only_a_timestamp_is_detected(tmp_path):
    from cockpit.audit import AuditLog
    from cockpit.identity import Operator

    log = AuditLog(tmp_path / "audit.jsonl")
    for n in range(3):
        log.append("mark", "production", Operator("alice", None), item=f"i{n}", status="done")
    lines = log.path.read_text().splitlines()
    entry = json.loads(lines[1])
    entry["ts"] = "2020-01-01T00:00:00.000000+00:00"  # "it was done long before the outage"
    lines[1] = json.dumps(entry, ensure_ascii=False)
    log.path.write_text("\n".join(lines) + "\n")
    result = log.verify()
    assert [(p.line, "edited" in p.message) for p in result.problems] == [(2, True)]


def test_a_missing_state_file_is_rebuilt_from_the_audit_log_and_saved(open_session):
    session = open_session("production")
    session.mark_done("Change approved")
    session.skip("Backup taken", "restored last week")
    session.store.path.unlink()
    again = open_session("production", path=session.config.path)
    assert again.notices == [
        f"state file {session.store.path} was missing; 2 item(s) were restored from the audit log"
    ]
    assert again.view(again.find_item("Change approved")).status == "done"
    saved = again.store.peek()
    assert saved is not None and saved.items["before/backup-taken"].status == "skipped"
    assert not open_session("production", path=session.config.path).notices  # done once
    assert again.audit.verify([("state", saved.audit_head)]).ok


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_report_after_damage_saves_the_rebuilt_state(open_session, damage):
    session = open_session("production")
    session.mark_done("Change approved")
    session.mark_done("Backup taken")
    state = session.store.path
    if damage == "truncate":
        state.write_bytes(state.read_bytes()[:-30])
    else:
        state.unlink()
    config = str(session.config.path)
    runner = CliRunner()
    report = runner.invoke(cli, ["report", "--env", "production", "-c", config])
    assert report.exit_code == 0, report.output
    assert "restored from the audit log" in report.output
    saved = session.store.peek()
    assert saved is not None, "the report rebuilt the state but did not save it"
    assert {k: v.status for k, v in saved.items.items()} == {
        "before/change-approved": "done",
        "before/backup-taken": "done",
    }
    listing = runner.invoke(cli, ["checklist", "--json", "--env", "production", "-c", config])
    assert "restored" not in listing.output
    data = json.loads(listing.output[listing.output.index("{") :])
    assert data["done"] >= 2  # progress did not drop to 0


def test_audit_verify_says_what_it_can_and_cannot_prove(write_config, operator):
    path = write_config()
    GoLiveSession.open(path, None, operator=operator).mark_done("Change approved")
    result = CliRunner().invoke(cli, ["audit", "verify", "-c", str(path)])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "proves: no line was edited (every field, timestamps included" in text
    assert "deleted, inserted or moved" in text and "not cut off" in text
    assert "cannot prove" in text and "rewrote the whole log" in text


# --- read-only refuses every effect; production pause/resume are confirmed ----------------------


def test_read_only_refuses_checks_that_post_or_send_mail(tmp_path):
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.3)
    port = listener.getsockname()[1]
    (tmp_path / "runbook.md").write_text("## S\n- [ ] hook\n- [ ] mail\n- [ ] put\n")
    (tmp_path / "cockpit.toml").write_text(
        'checklist = "runbook.md"\n[environments.staging]\nread_only = true\n'
        f'[[checks]]\nitem = "hook"\ntype = "http"\nurl = "http://127.0.0.1:{port}/deploy"\n'
        'method = "POST"\ntimeout = 2\n'
        f'[[checks]]\nitem = "put"\ntype = "http"\nurl = "http://127.0.0.1:{port}/x"\n'
        'method = "PUT"\ntimeout = 2\n'
        f'[[checks]]\nitem = "mail"\ntype = "smtp"\nhost = "127.0.0.1"\nport = {port}\n'
        'send_to = "ops@example.com"\ntimeout = 2\n'
    )
    runner = CliRunner()
    config = str(tmp_path / "cockpit.toml")
    for item, effect in (
        ("hook", f"sends an HTTP POST to http://127.0.0.1:{port}/deploy"),
        ("put", "sends an HTTP PUT"),
        ("mail", "sends a test mail to ops@example.com"),
    ):
        result = runner.invoke(cli, ["check", "--item", item, "-c", config])
        assert result.exit_code == 2, result.output
        assert "read-only" in result.output and effect in result.output, result.output
    with pytest.raises(TimeoutError):
        listener.accept()  # nothing was even connected to
    listener.close()


def _production_with_a_cluster(tmp_path):
    (tmp_path / "runbook.md").write_text("## S\n- [ ] x\n")
    path = tmp_path / "cockpit.toml"
    path.write_text(
        'checklist = "runbook.md"\n[environments.production]\nproduction = true\n'
        "[[environments.production.clusters]]\nname = 'eu'\nnamespace = 'shop'\n"
        f"kubeconfig = '{tmp_path / 'no-kubeconfig'}'\ndeployments = ['web']\n"
    )
    return path


@pytest.mark.parametrize("verb", ["pause", "resume"])
def test_production_pause_and_resume_need_a_terminal_or_yes(tmp_path, verb):
    path = _production_with_a_cluster(tmp_path)
    result = CliRunner().invoke(cli, [verb, "web", "-c", str(path)])
    assert result.exit_code == 2, result.output
    assert f"refusing to {verb} web in production without a terminal" in result.output
    assert f"cockpit {verb} web --yes" in result.output
    audit = tmp_path / ".cockpit" / "audit.jsonl"
    assert not audit.exists() or f"{verb}_requested" not in audit.read_text()
    # --yes goes on to the cluster (which this config cannot reach: a clear error, audited)
    result = CliRunner().invoke(cli, [verb, "web", "--yes", "-c", str(path)])
    assert f"{verb}_requested" in audit.read_text()


def test_production_pause_on_a_terminal_asks_for_the_deployment_name(tmp_path):
    from .test_tui_process import COCKPIT, Terminal

    path = _production_with_a_cluster(tmp_path)
    term = Terminal([COCKPIT, "pause", "web", "-c", str(path)])
    try:
        term.wait_for(b"PRODUCTION: type 'web' to pause its rollout (cluster eu")
        term.send("wbe\r")
        term.wait_for(b"not confirmed; nothing was sent")
        term.wait_for(b"you typed 'wbe'; type 'web' exactly")  # the shared rule says why
        assert term.proc.wait(10) == 2
    finally:
        if term.proc.poll() is None:
            term.kill()
    audit = tmp_path / ".cockpit" / "audit.jsonl"
    assert not audit.exists() or "pause_requested" not in audit.read_text()


def test_the_crash_file_and_the_crash_line_hold_no_secret(tmp_path, monkeypatch, capsys):
    import sys

    from cockpit import cli as cli_module

    monkeypatch.setenv("PROM_TOKEN", CANARY)
    (tmp_path / "runbook.md").write_text("## S\n- [ ] x\n")
    (tmp_path / "cockpit.toml").write_text(
        'checklist = "runbook.md"\n[environments.e]\n[environments.e.prometheus]\n'
        'url = "http://127.0.0.1:9"\ntoken_env = "PROM_TOKEN"\n'
    )

    def explode(*_args, **_kwargs):
        GoLiveSession.open(tmp_path / "cockpit.toml", None)  # reads the secrets, as any command
        raise RuntimeError(f"server said: bad token {CANARY}")

    monkeypatch.setattr(cli_module.cli, "main", explode)
    monkeypatch.setattr(sys, "argv", ["cockpit"])
    with pytest.raises(SystemExit) as exited:
        cli_module.main()
    assert exited.value.code == 70
    err = capsys.readouterr().err
    assert "server said: bad token ***" in err and CANARY not in err
    crash = next(Path(os.environ["XDG_STATE_HOME"], "cockpit").glob("crash-*.log"))
    text = crash.read_text()
    assert "RuntimeError: server said: bad token ***" in text and CANARY not in text
    assert _mode(crash) == 0o600


def test_init_writes_a_config_the_cockpit_accepts_even_with_umask_000(tmp_path):
    from click.testing import CliRunner

    from cockpit.cli import cli

    runbook = tmp_path / "runbook.md"
    runbook.write_text("# R\n\n## S\n- [ ] Health endpoint answers\n")
    old = os.umask(0)
    try:
        out = tmp_path / "cockpit.toml"
        result = CliRunner().invoke(cli, ["init", "--checklist", str(runbook), "-o", str(out)])
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    checked = CliRunner().invoke(cli, ["checklist", "--config", str(out)])
    assert checked.exit_code == 0, checked.output


def test_scrub_replaces_every_occurrence_of_every_secret_longest_first():
    from cockpit.secrets import scrub, scrub_data

    assert scrub("tok-1234 then tok-1234 again", ["tok-1234"]) == "*** then *** again"
    # the longer secret first, so no part of it is left when a shorter one is inside it
    assert scrub("abcd-efgh", ["abcd", "abcd-efgh"]) == "***"
    assert scrub("abc is short", ["abc"]) == "abc is short"  # under 4 characters: kept
    assert scrub_data({"k-1234": ["x k-1234 k-1234"]}, ["k-1234"]) == {"***": ["x *** ***"]}
