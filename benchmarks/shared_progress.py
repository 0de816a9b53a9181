"""Shared progress in the cluster (state backend "kubernetes"): three cockpits, one rehearsal.

Prints:

- marks per second sustained by three cockpits (separate processes, separate local folders)
  marking as fast as they go, from the first mark to the last acknowledged;
- time for a mark to appear in another cockpit's local copy (p50 / p95), from the moment the
  marking cockpit starts the mark to the moment an observer cockpit (a fourth process that
  only watches) has it in its local copy;
- API requests per minute of one idle cockpit (its shared progress and its presence), counted
  by the rehearsal API server, over --idle-seconds.

    .venv/bin/python benchmarks/shared_progress.py [--marks 300] [--idle-seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from harness import machine

ROOT = Path(__file__).resolve().parent.parent
DRIVER = ROOT / "tests" / "shared_cockpit.py"


def config(folder: Path, kubeconfig: Path, items: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "runbook.md").write_text(
        "## S\n" + "".join(f"- [ ] item {n}\n" for n in range(items))
    )
    path = folder / "cockpit.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            checklist = "runbook.md"
            [environments.prod.state]
            backend = "kubernetes"
            [[environments.prod.clusters]]
            name = "rehearsal"
            kubeconfig = "{kubeconfig}"
            context = "rehearsal"
            namespace = "shop"
            """
        )
    )
    return path


OBSERVER = """
import json, sys, time
from cockpit.identity import Operator
from cockpit.session import GoLiveSession
session = GoLiveSession.open(sys.argv[1], "prod", operator=Operator("olga", None))
want = int(sys.argv[2])
seen = {}
def changed():
    now = time.time()
    for key, record in session.team.shared.records().items():
        if record.status == "done" and key not in seen:
            seen[key] = now
session.team.start(changed)
print("started", flush=True)
deadline = time.monotonic() + 300
while len(seen) < want and time.monotonic() < deadline:
    time.sleep(0.05)
print(json.dumps(seen), flush=True)
session.team.stop()
"""

IDLE = """
import sys, time
from cockpit.identity import Operator
from cockpit.session import GoLiveSession
session = GoLiveSession.open(sys.argv[1], "prod", operator=Operator("ida", None))
session.team.start(lambda: None)
session.presence().start(lambda others: None)
print("started", flush=True)
time.sleep(float(sys.argv[2]) + 3600)
"""


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line == "started", line
    return process


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--marks", type=int, default=300, help="marks in all (three cockpits)")
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from cockpit.rehearsal.kube import RehearsalCluster, Timing

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        cluster = RehearsalCluster(base / "cluster", timing=Timing(tick=0.5))
        cluster.start()
        kubeconfig = cluster.write_kubeconfig(base / "kubeconfig", "shop")
        cluster.add_namespace("shop")
        try:
            items = args.marks
            observer = start(
                ["-c", OBSERVER, str(config(base / "olga", kubeconfig, items)), str(items)], env
            )
            writers = []
            for k, user in enumerate(("alice", "bob", "carol")):
                mine = [str(i) for i in range(items) if i % 3 == k]
                path = config(base / user, kubeconfig, items)
                writers.append(
                    start([str(DRIVER), str(path), user, "marks", *mine, "--expect-done", "0"], env)
                )
            for process in writers:
                assert process.stdin is not None
                process.stdin.write("go\n")
                process.stdin.flush()
            results = []
            for process in writers:
                out, _ = process.communicate(timeout=600)
                results.append(json.loads(out.strip().splitlines()[-1]))
            seen_out, _ = observer.communicate(timeout=600)
            seen = json.loads(seen_out.strip().splitlines()[-1])
            first = min(r["started"] for r in results)
            last = max(r["finished"] for r in results)
            rate = items / (last - first)
            delays = sorted(
                seen[key] - before
                for result in results
                for key, before, _after in result["timings"]
                if key in seen
            )
            acks = sorted(after - before for r in results for _, before, after in r["timings"])
            conflicts = sum(r["requests"].get("get", 0) for r in results)
            cuts = statistics.quantiles(delays, n=20)
            ack_cuts = statistics.quantiles(acks, n=20)
            print(f"machine: {machine()}")
            print(
                f"marks per second sustained by three cockpits: {rate:.1f} "
                f"({items} marks in {last - first:.1f} s; {conflicts} re-reads after 409)"
            )
            print(
                f"a mark acknowledged (audit, shared write, local copy): p50 "
                f"{statistics.median(acks) * 1000:.0f} ms, p95 {ack_cuts[18] * 1000:.0f} ms"
            )
            print(
                f"a mark seen by another cockpit: p50 {statistics.median(delays) * 1000:.0f} ms, "
                f"p95 {cuts[18] * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms "
                f"({len(delays)} of {items} marks)"
            )
            idle = start(
                ["-c", IDLE, str(config(base / "ida", kubeconfig, 10)), str(args.idle_seconds)],
                env,
            )
            time.sleep(2.0)  # its first list, watch and announcement
            before = len(cluster.requests)
            time.sleep(args.idle_seconds)
            window = cluster.requests[before:]
            idle.kill()
            idle.wait()
            per_minute = 60.0 / args.idle_seconds
            configmaps = sum(1 for _, path in window if "/configmaps" in path)
            leases = sum(1 for _, path in window if "/leases" in path)
            print(
                f"API requests per minute of an idle cockpit: {len(window) * per_minute:.1f} "
                f"(shared progress {configmaps * per_minute:.1f}, presence and lock "
                f"{leases * per_minute:.1f}) over {args.idle_seconds:.0f} s"
            )
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
