"""How each cost grows with the go-live: every row at 1x and at a larger size, in one run.

Synthetic inputs (runbooks, state records, audit logs, cluster objects) are built by this
script in a temporary folder. Each row prints the two figures and the growth factor; the
target growth is the one issue 20 asks for. Timings are medians; memory is the peak resident
size of the child process that did the work.

    .venv/bin/python benchmarks/scaling.py [--quick] [--no-frame]

`--quick` uses a tenth of the larger sizes (a smoke run; the growth factors then mean less).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPATH"] = str(REPO / "src") + os.pathsep + ENV.get("PYTHONPATH", "")
CLI = [sys.executable, "-c", "from cockpit.cli import main; main()"]
sys.path.insert(0, str(REPO / "src"))


# --- synthetic inputs -----------------------------------------------------------------------


def runbook(items: int) -> str:
    """Sections of 50: 40 task items and 10 numbered steps, every fifth step with a command."""
    lines = ["# Scaling runbook", ""]
    made = section = 0
    while made < items:
        section += 1
        lines += [f"## Section {section}", ""]
        for n in range(min(40, items - made)):
            lines.append(f"- [ ] Task {section}.{n} is checked")
            made += 1
        lines.append("")
        for n in range(min(10, items - made)):
            lines.append(f"{n + 1}. Step {section}.{n} is done by hand")
            if n % 5 == 0:
                lines += ["   ```bash", f"   echo step {section}.{n}", "   ```"]
            made += 1
        lines.append("")
    return "\n".join(lines) + "\n"


def folder_with(root: Path, name: str, items: int) -> Path:
    """A config and a runbook of `items` items in root/name; the config's path."""
    folder = root / name
    folder.mkdir(mode=0o700)
    (folder / "runbook.md").write_text(runbook(items))
    config = folder / "cockpit.toml"
    config.write_text('checklist = "runbook.md"\n[environments.prod]\nproduction = true\n')
    return config


def fill_state(config: Path, records: int) -> None:
    """`records` state records, written in one go (untimed)."""
    from cockpit.session import GoLiveSession
    from cockpit.state import ItemRecord

    session = GoLiveSession.open(config, None)
    ids = [item.id for item in session.checklist.items()][:records]
    now = datetime.now(UTC).replace(microsecond=0)
    done = {i: ItemRecord(status="done", by="bench", at=now, note="synthetic") for i in ids}
    session.store.update(lambda items: items.update(done))


def write_audit(config: Path, entries: int) -> None:
    """A valid hash-chained audit log of `entries` lines: verdicts, marks, notes, release
    starts and (finished) rollbacks, about 300 bytes a line."""
    from cockpit.audit import GENESIS, _digest

    path = config.parent / ".cockpit" / "audit.jsonl"
    path.parent.mkdir(mode=0o700, exist_ok=True)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    prev = GENESIS
    with open(path, "w", encoding="utf-8") as out:
        for seq in range(1, entries + 1):
            body: dict[str, Any] = {
                "seq": seq,
                "ts": (start + timedelta(seconds=seq)).isoformat(timespec="microseconds"),
                "env": "prod",
                "actor": "bench",
                "via": "tui",
            }
            kind = seq % 10
            if seq % 1000 == 1:
                body.update(action="release_start", version=f"1.{seq // 1000}.0")
            elif seq % 5000 == 2:
                body.update(action="rollback_requested", cluster="c", deployment="web")
            elif seq % 5000 == 3:
                body.update(action="rollback", cluster="c", deployment="web", outcome="sent")
            elif kind < 6:
                body.update(
                    action="verdict",
                    state="GO",
                    reasons=["all gates pass"],
                    metrics={"p95": {"value": 0.21, "unit": "s", "phase": "pass"}},
                )
            elif kind < 8:
                body.update(action="mark", item=f"section-{seq % 7}/task-{seq % 40}", status="done")
            else:
                body.update(action="note", item="section-1/task-1", note=f"note {seq}")
            body["prev"] = prev
            prev = _digest(prev, body)
            out.write(json.dumps({**body, "hash": prev}, ensure_ascii=False) + "\n")
    os.chmod(path, 0o600)


# --- measuring ------------------------------------------------------------------------------


def run_child(args: list[str]) -> tuple[float, int]:
    """(seconds, peak RSS in bytes) of one child process.

    The peak is measured by /usr/bin/time, which forks from its own small process: a child
    forked from this one would count this process's memory (copied at the fork) as its own."""
    with tempfile.NamedTemporaryFile("r") as rss:
        start = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", rss.name, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=ENV,
            check=False,
        )
        elapsed = time.perf_counter() - start
        peak_kib = rss.read().strip().splitlines()[-1]
    if proc.returncode not in (0, 1):  # verify exits 1 on a broken log; nothing else may fail
        err = proc.stderr.decode(errors="replace")
        raise SystemExit(f"{' '.join(args[3:])} failed ({proc.returncode}): {err[-2000:]}")
    return elapsed, int(peak_kib) * 1024


def median_child(args: list[str], runs: int) -> tuple[float, int]:
    run_child(args)  # warm-up: bytecode and page cache
    got = [run_child(args) for _ in range(runs)]
    return statistics.median(t for t, _ in got), max(m for _, m in got)


def written_bytes() -> int:
    with open("/proc/self/io") as io:
        for line in io:
            if line.startswith("wchar:"):
                return int(line.split()[1])
    return 0


def row(what: str, small: str, a: float, large: str, b: float, target: str, unit: str) -> None:
    scale = {"ms": 1000.0, "MB": 1 / 1e6, "KB": 1 / 1e3}[unit]
    print(
        f"{what:<44} {small:>9}: {a * scale:9.1f} {unit}   {large:>9}: {b * scale:9.1f} {unit}"
        f"   x{b / a:6.2f}  ({target})",
        flush=True,
    )


def mark_cost(root: Path, records: int) -> tuple[float, float]:
    """Median seconds and bytes written per in-process mark with `records` state records."""
    from cockpit.session import GoLiveSession

    config = folder_with(root, f"mark-{records}", records)
    fill_state(config, records)
    session = GoLiveSession.open(config, None)
    ids = [item.id for item in session.checklist.items()]
    times, written = [], []
    for n in range(40):
        before, start = written_bytes(), time.perf_counter()
        session.add_note(ids[(n * 37) % len(ids)], f"bench note {n}")
        times.append(time.perf_counter() - start)
        written.append(written_bytes() - before)
    return statistics.median(times), statistics.median(written)


def snapshot_cost(deployments: int) -> tuple[float, float]:
    """Median CPU seconds of one ClusterWatcher.snapshot() with `deployments` Deployments,
    each with 3 ReplicaSets, 3 pods and 4 events, every view's verdict and trouble asked:
    with every view built (the first snapshot), and after a watch event replaced one pod
    (the snapshots that follow)."""
    from typing import cast

    from cockpit.config import ClusterConfig, LoadedConfig
    from cockpit.sources.kube import ClusterWatcher

    names = [f"app-{n}" for n in range(deployments)]
    cluster = ClusterConfig(name="c", namespace="shop", deployments=names)
    watcher = ClusterWatcher(cluster, cast(LoadedConfig, None), lambda _shot: None)
    objects: dict[str, dict[str, Any]] = {kind: {} for kind in watcher.KINDS}
    for name in names:
        uid = hashlib.sha1(name.encode()).hexdigest()
        template = {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "app", "image": f"shop/{name}:1.2"}]},
        }
        objects["deployments"][name] = {
            "metadata": {
                "name": name,
                "uid": uid,
                "generation": 3,
                "annotations": {"deployment.kubernetes.io/revision": "3"},
            },
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": name}},
                "template": template,
            },
            "status": {
                "observedGeneration": 3,
                "replicas": 3,
                "updatedReplicas": 3,
                "availableReplicas": 3,
                "readyReplicas": 3,
            },
        }
        for rev in (1, 2, 3):
            rs_name, rs_uid = f"{name}-rs{rev}", f"{uid}-{rev}"
            labels = {"app": name, "pod-template-hash": f"h{rev}"}
            objects["replicasets"][rs_name] = {
                "metadata": {
                    "name": rs_name,
                    "uid": rs_uid,
                    "labels": labels,
                    "annotations": {"deployment.kubernetes.io/revision": str(rev)},
                    "ownerReferences": [{"uid": uid, "controller": True, "kind": "Deployment"}],
                },
                "spec": {"replicas": 3 if rev == 3 else 0, "template": template},
                "status": {"replicas": 3 if rev == 3 else 0},
            }
        for p in range(3):
            pod_name = f"{name}-rs3-{p}"
            objects["pods"][pod_name] = {
                "metadata": {
                    "name": pod_name,
                    "uid": f"{uid}-pod{p}",
                    "labels": {"app": name, "pod-template-hash": "h3"},
                    "ownerReferences": [{"uid": f"{uid}-3", "controller": True}],
                },
                "spec": {"containers": [{"name": "app", "image": f"shop/{name}:1.2"}]},
                "status": {
                    "phase": "Running",
                    "containerStatuses": [
                        {"name": "app", "ready": True, "restartCount": 0, "state": {}}
                    ],
                },
            }
        for e in range(4):
            event_name = f"{name}.e{e}"
            objects["events"][event_name] = {
                "metadata": {"name": event_name},
                "involvedObject": {"name": f"{name}-rs3-{e % 3}", "kind": "Pod"},
                "reason": "Started",
                "message": "Started container app",
                "lastTimestamp": f"2026-11-26T10:00:{e:02d}Z",
            }
    for kind, items in objects.items():  # as the lists fill the watcher's mirror
        watcher._mirror.replace_all(kind, items)
    watcher._synced = set(watcher.KINDS)

    def once() -> None:
        shot = watcher.snapshot()
        for view in shot.deployments:
            _ = view.verdict, view.trouble, view.failing

    def cold() -> None:
        watcher._views.clear()  # every workload's view built again
        once()

    def after_event() -> None:
        pod = f"{names[len(names) // 2]}-rs3-0"  # a watch event replaces one pod
        watcher._apply("pods", "MODIFIED", json.loads(json.dumps(objects["pods"][pod])))
        once()

    once()
    # CPU time of this process: on a shared machine wall time measures the neighbours
    return (
        statistics.median(cpu_timed(cold) for _ in range(7)),
        statistics.median(cpu_timed(after_event) for _ in range(7)),
    )


def cpu_timed(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


FRAME = """
import sys
from cockpit import collector

collector.pause_for_start_up()  # as `cockpit run` does first
from cockpit.session import GoLiveSession
from cockpit.tui.app import CockpitApp

session = GoLiveSession.open(sys.argv[1], None)
app = CockpitApp(session, start_sources=False)
app.call_after_refresh(lambda: app.call_after_refresh(app.exit))
app.run(headless=True, size=(120, 40))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of the larger sizes")
    parser.add_argument("--no-frame", action="store_true", help="skip the first-frame row")
    parser.add_argument("--runs", type=int, default=3, help="runs per command (median)")
    parser.add_argument(
        "--only",
        default="help,mark,cli-mark,snapshot,audit,report,checklist,frame",
        help="comma-separated rows to run (default: all)",
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    if args.no_frame:
        only.discard("frame")
    big = 10 if args.quick else 1
    runs = args.runs
    sys.path.insert(0, str(REPO / "benchmarks"))
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; medians of {runs}")
    if "help" in only:
        bare, _ = median_child([sys.executable, "-c", "pass"], runs * 3)
        helped, _ = median_child([*CLI, "--help"], runs * 3)
        print(
            f"`cockpit --help`: {helped * 1000:.0f} ms, `python -c pass`: {bare * 1000:.0f} ms:"
            f" x{helped / bare:.1f} (target x<=10)",
            flush=True,
        )
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        os.chmod(root, 0o700)

        n2 = f"{20_000 // big:,}"
        # one mark, in process
        if "mark" in only:
            (t1, w1), (t2, w2) = mark_cost(root, 100), mark_cost(root, 20_000 // big)
            row("one mark (in process), time", "100 rec", t1, f"{n2} rec", t2, "target x<=2", "ms")
            row("one mark (in process), bytes written", "100 rec", w1, f"{n2} rec", w2, "", "KB")

        # cockpit mark (CLI)
        if "cli-mark" in only:
            small = folder_with(root, "cli-mark-100", 100)
            large = folder_with(root, "cli-mark-big", 20_000 // big)
            fill_state(small, 100)
            fill_state(large, 20_000 // big)
            mark = ["mark", "section-1/task-1-0-is-checked", "--done", "-c"]
            a, _ = median_child([*CLI, *mark, str(small)], runs)
            b, _ = median_child([*CLI, *mark, str(large)], runs)
            row("`cockpit mark` (CLI)", "100 rec", a, f"{n2} rec", b, "", "ms")

        # one rollout snapshot
        if "snapshot" in only:
            (c1, e1), (c2, e2) = snapshot_cost(100), snapshot_cost(1_000 // big)
            n = f"{1_000 // big:,} dep"
            row("one rollout snapshot, every view built", "100 dep", c1, n, c2, "", "ms")
            row("one rollout snapshot after one event", "100 dep", e1, n, e2, "x<=12", "ms")

        # audit entries: status --json, audit verify, audit show; report (Markdown, HTML)
        commands: list[tuple[str, list[str]]] = []
        if "audit" in only:
            commands += [
                ("`status --json`", ["status", "--json", "--wait", "0", "-c"]),
                ("`audit verify`", ["audit", "verify", "-c"]),
                ("`audit show -n 50`", ["audit", "show", "-n", "50", "-c"]),
            ]
        if "report" in only:
            commands += [
                ("`report` (Markdown)", ["report", "-c"]),
                ("`report --format html`", ["report", "--format", "html", "-c"]),
            ]
        if commands:
            few = folder_with(root, "audit-1k", 36)
            many = folder_with(root, "audit-big", 36)
            write_audit(few, 1_000)
            write_audit(many, 100_000 // big)
            m = f"{100_000 // big:,} ent"
            for label, argv in commands:
                (ta, ma), (tb, mb) = (
                    median_child([*CLI, *argv, str(few)], runs),
                    median_child([*CLI, *argv, str(many)], runs),
                )
                target = "x<=2" if label.startswith("`status") else ""
                row(f"{label}, time", "1k ent", ta, m, tb, target, "ms")
                row(f"{label}, peak RSS", "1k ent", ma, m, mb, "", "MB")

        # checklist --json
        if "checklist" in only:
            small = folder_with(root, "parse-100", 100)
            large = folder_with(root, "parse-big", 20_000 // big)
            argv = ["checklist", "--json", "-c"]
            a, _ = median_child([*CLI, *argv, str(small)], runs)
            b, _ = median_child([*CLI, *argv, str(large)], runs)
            row("`checklist --json`", "100 items", a, f"{20_000 // big:,} items", b, "", "ms")

        if "frame" in only:
            from startup import BARE

            bare, _ = median_child([sys.executable, "-c", BARE], runs)
            sample = folder_with(root, "frame-36", 36)
            large = folder_with(root, "frame-big", 20_000 // big)
            a, _ = median_child([sys.executable, "-c", FRAME, str(sample)], runs)
            b, _ = median_child([sys.executable, "-c", FRAME, str(large)], runs)
            print(f"bare Textual app, first frame: {bare * 1000:.0f} ms")
            row("TUI first frame", "36 items", a, f"{20_000 // big:,} items", b, "", "ms")
            print(
                f"  first frame / bare: {a / bare:.2f}x at 36 items, {b / bare:.2f}x at "
                f"{20_000 // big:,} (target <= 3x)"
            )


if __name__ == "__main__":
    main()
