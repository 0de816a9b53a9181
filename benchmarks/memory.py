"""Resident memory growth during accelerated monitoring.

Everything runs faster than in real life, so an hour's worth of events passes in minutes: two
new rollouts a second over 100 deployments in 3 clusters, 24 metrics and 500 error issues
polled every 2 s (15 times the default rate), an item marked every 2 s. Resident memory
(RSS, from /proc) is sampled every 5 s; the growth is the least-squares slope after the
warm-up (the first minutes fill Textual's render caches and Python's allocator arenas), in
MB per hour of wall time.

    .venv/bin/python benchmarks/memory.py [--minutes 15] [--warmup 300]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from harness import PtyCockpit, World, machine, slope_per_hour


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=300.0, help="seconds left out of the fit")
    parser.add_argument("--marks-per-second", type=float, default=0.5, help="0: no checklist marks")
    args = parser.parse_args()
    samples: list[tuple[float, float]] = []
    with (
        tempfile.TemporaryDirectory() as folder,
        World(Path(folder), churn=2.0, interval="2s") as world,
        PtyCockpit(world.config, marks_per_second=args.marks_per_second) as cockpit,
    ):
        cockpit.wait_ready()
        start = time.monotonic()
        while time.monotonic() - start < args.minutes * 60:
            samples.append((time.monotonic() - start, cockpit.rss_mb()))
            time.sleep(5)
        _, counts = world.counts()
    fitted = [(t, rss) for t, rss in samples if t >= args.warmup]
    growth = slope_per_hour(fitted)
    print(f"machine: {machine()}")
    print(
        f"accelerated monitoring for {args.minutes:g} min: 2 rollouts/s over 100 deployments, "
        f"24 metrics and 500 issues every 2 s, {args.marks_per_second:g} item marks per second"
    )
    print("served: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    print(
        f"resident memory: {samples[0][1]:.0f} MB at start, {fitted[0][1]:.0f} MB after "
        f"{args.warmup:.0f} s, {samples[-1][1]:.0f} MB at the end"
    )
    print(
        f"growth after warm-up: {growth:+.1f} MB/h of wall time "
        f"({len(fitted)} samples; target <= 2 MB/h)"
    )


if __name__ == "__main__":
    main()
