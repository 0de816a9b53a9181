"""Key-to-frame latency under load.

The world: a 1,000-item checklist (an item marked done every second), 100 deployments over 3
clusters with a new rollout started every second, 24 Prometheus sparklines and 500 Sentry issues
polled every 5 s. The cockpit runs in a pseudo-terminal with Textual's real driver. The
benchmark presses Down and Up in the checklist about 5 times a second and measures, for each
key, the time from writing it to the terminal until the first frame written after the cursor
moved.

    .venv/bin/python benchmarks/keys.py [--keys 300] [--warmup 20] [--slow-ms 25] [--profile FILE]
                                          [--trace-layout]

--profile runs the cockpit's UI thread under cProfile (pstats format, read it with
`python -m pstats FILE`); the latencies of such a run are the profiler's, not the cockpit's.
"""

from __future__ import annotations

import argparse
import bisect
import random
import tempfile
import time
from pathlib import Path

from harness import PtyCockpit, World, machine, median, percentile

DOWN, UP = b"\x1b[B", b"\x1b[A"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=300)
    parser.add_argument("--warmup", type=float, default=20.0, help="seconds before measuring")
    parser.add_argument("--churn", type=float, default=1.0, help="rollouts started per second")
    parser.add_argument(
        "--slow-ms", type=float, default=0.0, help="list UI handlers slower than this (diagnosis)"
    )
    parser.add_argument(
        "--trace-layout",
        action="store_true",
        help="count what asked for a new layout (widget and caller), most frequent first",
    )
    parser.add_argument(
        "--profile", default=None, help="cProfile the cockpit's UI thread while keys are timed"
    )
    args = parser.parse_args()
    rng = random.Random(1)
    world_options = {"churn": args.churn, "interval": "5s", "items": 1000}
    with (
        tempfile.TemporaryDirectory() as folder,
        World(Path(folder), **world_options) as world,
        PtyCockpit(
            world.config,
            marks_per_second=1.0,
            slow_ms=args.slow_ms,
            extra=(
                *(("--profile", str(Path(args.profile).absolute())) if args.profile else ()),
                *(("--trace-layout",) if args.trace_layout else ()),
            ),
        ) as cockpit,
    ):
        cockpit.wait_ready()
        time.sleep(args.warmup)
        cpu_start, started = cockpit.cpu_seconds(), time.monotonic()
        _, before = world.counts()
        sent = []
        for index in range(args.keys):
            key = DOWN if (index // 20) % 2 == 0 else UP
            sent.append(cockpit.send(key))
            time.sleep(rng.uniform(0.12, 0.28))
        time.sleep(1.0)
        cpu = cockpit.cpu_seconds() - cpu_start
        elapsed = time.monotonic() - started
        _, after = world.counts()
        timeline = cockpit.timeline()
        timeline_lines = cockpit.log.read_text().splitlines()
    if args.slow_ms:
        slow: dict[str, list[float]] = {}
        for line in timeline_lines:
            parts = line.split()
            if parts[0] == "slow" and float(parts[1]) >= sent[0]:
                slow.setdefault(parts[3], []).append(float(parts[2]))
        for name, took in sorted(slow.items(), key=lambda kv: -sum(kv[1])):
            print(
                f"slow: {name}: {len(took)} times over {args.slow_ms:g} ms, max {max(took):.0f} ms"
            )
    if args.trace_layout:
        asked: dict[str, int] = {}
        for line in timeline_lines:
            parts = line.split()
            if parts[0] == "layout" and float(parts[1]) >= sent[0]:
                asked[f"{parts[2]} <- {parts[3]}"] = asked.get(f"{parts[2]} <- {parts[3]}", 0) + 1
        for name, count in sorted(asked.items(), key=lambda kv: -kv[1])[:25]:
            print(f"layout asked: {count:5d}  {name}")
    # A key that did not move the cursor (at the top already) draws no frame: timed to the
    # next frame it would measure the next key's latency plus the wait between keys.
    handled, moved = [], []
    for line in timeline_lines:
        parts = line.split()
        if parts[0] == "key" and float(parts[1]) >= sent[0]:
            handled.append(float(parts[1]))
            moved.append(len(parts) < 3 or parts[2] == "1")
    frames = sorted(t for kind, t in timeline if kind == "frame")
    frame_count = sum(1 for t in frames if sent[0] <= t <= sent[-1])
    if len(handled) != len(sent):
        print(f"warning: {len(sent)} keys sent, {len(handled)} handled")
    latencies = []
    for sent_at, done_at, did_move in zip(sent, handled, moved, strict=False):
        if not did_move:
            continue
        at = bisect.bisect_left(frames, done_at)
        if at < len(frames):
            latencies.append((frames[at] - sent_at) * 1000)
    requests = {k: after.get(k, 0) - before.get(k, 0) for k in sorted(after)}
    print(f"machine: {machine()}")
    print(
        f"load: 1,000 items (1 marked/s), 100 deployments / 3 clusters ({args.churn:g} rollout/s), "
        "24 metrics and 500 issues polled every 5 s"
    )
    print(f"during the run: {frame_count / elapsed:.1f} frames/s, cockpit CPU {cpu / elapsed:.0%}")
    print("requests served during the run: " + ", ".join(f"{k} {v}" for k, v in requests.items()))
    print(
        f"key-to-frame over {len(latencies)} keys ({moved.count(False)} no-op keys left out): "
        f"p50 {median(latencies):.1f} ms, "
        f"p95 {percentile(latencies, 0.95):.1f} ms, max {max(latencies):.1f} ms (target p95 <= 50)"
    )


if __name__ == "__main__":
    main()
