"""Idle monitoring: CPU, terminal bytes per second, and API requests per minute per source.

The cockpit watches 100 deployments over 3 clusters, 24 metrics and 500 error issues with
the default intervals (30 s) while nothing changes, in a pseudo-terminal like an SSH session.
After a warm-up, it measures for --seconds (default 300, five minutes):

- CPU: the cockpit process's user + system time over wall time, as % of one core;
- bytes written to the terminal per second (everything an SSH session would carry);
- requests per minute per source, counted by the servers (Kubernetes lists and watches apart).

    .venv/bin/python benchmarks/idle.py [--seconds 300] [--warmup 30]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from harness import PtyCockpit, World, machine


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--warmup", type=float, default=30.0)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        World(Path(folder), churn=0, interval="30s") as world,
        PtyCockpit(world.config) as cockpit,
    ):
        cockpit.wait_ready()
        time.sleep(args.warmup)
        start, cpu_start, rss_start = (
            time.monotonic(),
            cockpit.cpu_seconds(),
            cockpit.rss_mb(),
        )
        _, before = world.counts()
        time.sleep(args.seconds)
        end, cpu_end, rss_end = time.monotonic(), cockpit.cpu_seconds(), cockpit.rss_mb()
        _, after = world.counts()
        written = cockpit.output.bytes_between(start, end)
    elapsed = end - start
    minutes = elapsed / 60
    per_minute = {k: (after.get(k, 0) - before.get(k, 0)) / minutes for k in sorted(after)}
    print(f"machine: {machine()}")
    print(
        "idle: 100 deployments / 3 clusters, 24 metrics, 500 issues, default 30 s intervals, "
        f"measured over {elapsed:.0f} s after {args.warmup:.0f} s"
    )
    print(f"CPU: {(cpu_end - cpu_start) / elapsed:.2%} of one core (target <= 2 %)")
    print(f"terminal output: {written / elapsed:.0f} bytes/s (target <= 2048)")
    print(f"resident memory: {rss_start:.0f} MB -> {rss_end:.0f} MB")
    print(
        "requests per minute: "
        + ", ".join(f"{k} {v:.1f}" for k, v in per_minute.items())
        + " (Kubernetes target: watches only, no polling lists)"
    )


if __name__ == "__main__":
    main()
