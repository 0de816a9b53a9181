"""The wall clock jumping (an NTP step, a VM resumed, someone fixing the date) while the cockpit
runs. libfaketime (Debian's) moves the clock of the cockpit's process only, and only the wall
clock: the monotonic clock its timers use goes on, as it does when a real clock is stepped."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cockpit.audit import AuditLog
from cockpit.state import StateStore

from ..test_metrics import prometheus_scenarios, write_config  # noqa: F401 - fixture
from ..test_tui_process import COCKPIT


def _libfaketime() -> Path | None:
    """Debian's libfaketime for this machine's architecture: where the package says it put it
    (`dpkg -L faketime`), else the multiarch folders it is known to use."""
    found: list[str] = []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        listing = subprocess.run(
            ["dpkg", "-L", "faketime"], capture_output=True, text=True, timeout=30, check=False
        )
        found = listing.stdout.splitlines()
    found += [str(p) for p in Path("/usr/lib").glob("*/faketime/libfaketime.so.1")]
    found.append("/usr/lib/faketime/libfaketime.so.1")
    return next(
        (Path(p) for p in found if p.endswith("/libfaketime.so.1") and Path(p).is_file()), None
    )


LIBFAKETIME = _libfaketime()

PHASES = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    from cockpit.identity import Operator
    from cockpit.rollout import format_age
    from cockpit.session import GoLiveSession
    from cockpit.sources.prometheus import MetricsWatcher

    clock = Path(os.environ["FAKETIME_TIMESTAMP_FILE"])
    seen = []
    watcher = None
    for item, offset in (("a", "+0"), ("b", "+1h"), ("c", "-2h"), ("d", "+0")):
        clock.write_text(offset + "\\n")
        session = GoLiveSession.open(sys.argv[1], "healthy", operator=Operator("alice", None))
        session.mark_done(item)
        if watcher is None:
            watcher = MetricsWatcher(
                session.check_context(), lambda _s: None, started=session.analysis_started
            )
        watcher.ctx = session.check_context()
        state = watcher.poll(session.environment.metrics[0], None)
        verdict = session.verdict([state], [])
        started = session.go_live_started()
        seen.append({
            "offset": offset,
            "phase": state.phase,
            "error": state.last_error,
            "verdict": verdict.state,
            "age": format_age(started),
        })
    print(json.dumps(seen))
    """
)


@pytest.mark.skipif(
    LIBFAKETIME is None,
    reason="needs libfaketime.so.1 (Debian's faketime, which make test installs as root); "
    "neither `dpkg -L faketime` nor /usr/lib/*/faketime/ has it",
)
def test_wall_clock_jumps_lose_nothing_and_show_no_negative_time(
    prometheus_scenarios,  # noqa: F811
    tmp_path,
):
    path = write_config(tmp_path, prometheus_scenarios)
    (tmp_path / "runbook.md").write_text("## S\n- [ ] a\n- [ ] b\n- [ ] c\n- [ ] d\n")
    clock = tmp_path / "faketime"
    clock.write_text("+0\n")
    env = dict(
        os.environ,
        LD_PRELOAD=str(LIBFAKETIME),
        FAKETIME_TIMESTAMP_FILE=str(clock),
        FAKETIME_NO_CACHE="1",
        FAKETIME_DONT_FAKE_MONOTONIC="1",
    )

    def run_faked(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            args, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        return done

    run = run_faked(sys.executable, "-c", PHASES, str(path))
    phases = json.loads(run.stdout)
    assert [p["offset"] for p in phases] == ["+0", "+1h", "-2h", "+0"]
    assert phases[1]["age"] == "60m", "the clock really jumped an hour ahead"
    assert phases[2]["age"] == "0s", "an hour before the go-live began: no negative age"
    assert phases[0]["verdict"] == phases[-1]["verdict"], "back on time: the same verdict"
    for phase in phases:
        assert phase["error"] is None or "Traceback" not in phase["error"]
    store = StateStore(tmp_path / ".cockpit" / "state", "healthy")
    snapshot = store.load()
    assert {k: v.status for k, v in snapshot.items.items()} == {
        "s/a": "done",
        "s/b": "done",
        "s/c": "done",
        "s/d": "done",
    }
    audit = AuditLog(tmp_path / ".cockpit" / "audit.jsonl")
    assert audit.verify().ok, "a timestamp going backwards is not tampering"
    clock.write_text("-2h\n")
    status = run_faked(COCKPIT, "-c", str(path), "-e", "healthy", "status")
    assert "healthy" in status.stdout
