"""The audit timeline: read from the index once at open, then only what was appended since."""

from __future__ import annotations

from cockpit.audit import AuditLog
from cockpit.context import GoLiveContext
from cockpit.session import GoLiveSession


def test_the_index_is_read_once_and_only_new_lines_after(write_config, operator, monkeypatch):
    path = write_config()
    GoLiveSession.open(path, "production", operator=operator).mark_done("Change approved")
    reads: list[str] = []
    follows: list[int] = []
    timeline, entries_after = AuditLog.timeline, AuditLog.entries_after

    def counted_timeline(self, environment):
        reads.append(environment)
        return timeline(self, environment)

    def counted_entries_after(self, offset, environment=None):
        follows.append(offset)
        return entries_after(self, offset, environment)

    monkeypatch.setattr(AuditLog, "timeline", counted_timeline)
    monkeypatch.setattr(AuditLog, "entries_after", counted_entries_after)
    session = GoLiveSession.open(path, "production", operator=operator)
    started = session.go_live_started()
    for _ in range(3):
        assert session.analysis_started() == started
        assert session.release_version() is None
    session.mark_done("Backup taken")
    assert session.analysis_started() == started
    assert session.analysis_started() == started  # from after the mark
    assert reads == ["production"]  # at open, from the index; never again
    assert follows and 0 not in follows  # each follow starts where the last one ended
    assert follows == sorted(follows) and follows[-1] > follows[0]


def test_a_release_started_by_another_cockpit_is_seen_at_the_next_follow(write_config, operator):
    path = write_config()
    session = GoLiveSession.open(path, "production", operator=operator)
    session.mark_done("Change approved")
    before = session.analysis_started()
    other = GoLiveSession.open(path, "production", operator=operator)
    other.start_release("3.1.0", deploy_marker=False)
    moved = session.analysis_started()
    assert before is not None and moved is not None and moved > before
    assert session.release_version() == "3.1.0"
    again = GoLiveSession.open(path, "production", operator=operator)  # from the index
    assert again.release_version() == "3.1.0"
    assert again.analysis_started() == moved


def test_a_poller_remembers_a_secret_once_however_often_it_reads_it(write_config, monkeypatch):
    from cockpit.config import load_config

    monkeypatch.setenv("TOKEN_FOR_TEST", "s3cret-value")
    ctx = GoLiveContext(load_config(write_config()), "production")
    for _ in range(5):
        assert ctx.secret("TOKEN_FOR_TEST", None, "token") == "s3cret-value"
    assert ctx.secrets == ["s3cret-value"]
