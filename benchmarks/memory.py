"""Resident memory growth during accelerated monitoring.

Everything runs faster than in real life, so an hour's worth of events passes in minutes: two
new rollouts a second over 100 deployments in 3 clusters, 24 metrics and 500 error issues
polled every 2 s (15 times the default rate), an item marked every 2 s. Resident memory
(RSS, from /proc) is sampled every 5 s; the growth is the least-squares slope after the
warm-up (the first minutes fill Textual's render caches and Python's allocator arenas), in
MB per hour of wall time.

    .venv/bin/python benchmarks/memory.py [--minutes 15] [--warmup 300] [--tracemalloc 300]

With --tracemalloc N the cockpit traces Python's allocations (tracemalloc, 6 frames; this
slows it and adds to its RSS) and every N seconds after the warm-up compares a snapshot with
the one taken at the end of the warm-up: the figure printed is the traced memory's slope
(what Python objects grow by, without the allocator's arenas), and the sites that grew most
are printed from the last comparison; every comparison is kept under --keep.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from harness import PtyCockpit, World, machine, slope_per_hour


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=300.0, help="seconds left out of the fit")
    parser.add_argument("--marks-per-second", type=float, default=0.5, help="0: no checklist marks")
    parser.add_argument("--tracemalloc", type=float, default=0.0, help="compare every N seconds")
    parser.add_argument("--keep", type=Path, default=None, help="copy the reports to this folder")
    args = parser.parse_args()
    extra: tuple[str, ...] = ()
    if args.tracemalloc:
        extra = ("--tracemalloc", str(args.tracemalloc), "--tracemalloc-warmup", str(args.warmup))
    samples: list[tuple[float, float]] = []
    with (
        tempfile.TemporaryDirectory() as folder,
        World(Path(folder), churn=2.0, interval="2s") as world,
        PtyCockpit(world.config, marks_per_second=args.marks_per_second, extra=extra) as cockpit,
    ):
        cockpit.wait_ready()
        start = time.monotonic()
        while time.monotonic() - start < args.minutes * 60:
            samples.append((time.monotonic() - start, cockpit.rss_mb()))
            if len(samples) % 12 == 1:  # a minute: progress, for long runs
                print(f"{samples[-1][0]:.0f} s: {samples[-1][1]:.1f} MB", file=sys.stderr)
            time.sleep(5)
        _, counts = world.counts()
        reports = sorted(cockpit.folder.glob("tracemalloc-*.txt"))
        traced_log = cockpit.folder / "tracemalloc.log"
        traced = []
        if traced_log.exists():
            for line in traced_log.read_text().splitlines():
                at, size, overhead = line.split()
                traced.append((float(at), int(size) / 1e6, int(overhead) / 1e6))
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            for report in [*reports, traced_log]:
                if report.exists():
                    shutil.copy(report, args.keep / report.name)
        last_report = reports[-1].read_text() if reports else ""
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
    if len(traced) >= 2:
        print(
            f"traced by tracemalloc: {traced[0][1]:.1f} MB after the warm-up, "
            f"{traced[-1][1]:.1f} MB at {traced[-1][0]:.0f} s: "
            f"{slope_per_hour([(t, size) for t, size, _ in traced]):+.1f} MB/h "
            f"({len(traced)} snapshots); tracemalloc's own memory (in the RSS above) "
            f"{traced[0][2]:.1f} -> {traced[-1][2]:.1f} MB"
        )
    if last_report:
        print("the last comparison with the warm-up snapshot:")
        print(last_report)


if __name__ == "__main__":
    main()
