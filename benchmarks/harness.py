"""What the load benchmarks share: the busy world in its own process, and the cockpit in a real
pseudo-terminal (Textual's own Linux driver, real escape sequences), with its CPU time, memory
and every byte it writes to the terminal counted."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

BENCH = Path(__file__).resolve().parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def machine() -> str:
    cpu = "?"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({cpu}), Python {sys.version.split()[0]}"


class World:
    """benchmarks/world.py in a process of its own; stops when we close its stdin."""

    def __init__(self, folder: Path, **options: Any) -> None:
        args = [sys.executable, str(BENCH / "world.py"), "--folder", str(folder)]
        for key, value in options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        self.process = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark world did not start")
        info = json.loads(line)
        self.config = Path(info["config"])
        self.counts_url = str(info["counts"])

    def counts(self) -> tuple[float, dict[str, int]]:
        with urllib.request.urlopen(self.counts_url, timeout=10) as response:
            body = json.load(response)
        return float(body["at"]), {k: int(v) for k, v in body["counts"].items()}

    def __enter__(self) -> World:
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


@dataclass
class Output:
    """Bytes read from the terminal, with when they came."""

    chunks: list[tuple[float, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    tail: bytes = b""  # the last bytes written: what a cockpit that failed to start said

    def bytes_between(self, start: float, end: float) -> int:
        with self.lock:
            return sum(n for t, n in self.chunks if start <= t < end)


class PtyCockpit:
    """benchmarks/instrumented.py (the cockpit plus timestamps) in a pseudo-terminal."""

    def __init__(
        self,
        config: Path,
        *,
        size: tuple[int, int] = (120, 40),
        marks_per_second: float = 0,
        slow_ms: float = 0,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="cockpit-bench-"))
        self.log = self.folder / "timeline.log"
        master, slave = pty.openpty()
        columns, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor")
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed cockpit has its bytecode
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(BENCH / "instrumented.py"),
                "--config",
                str(config),
                "--log",
                str(self.log),
                "--marks-per-second",
                str(marks_per_second),
                "--slow-ms",
                str(slow_ms),
                *extra,
            ],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            cwd=self.folder,
        )
        os.close(slave)
        self.master = master
        self.output = Output()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            if not data:
                return
            with self.output.lock:
                self.output.chunks.append((time.monotonic(), len(data)))
                self.output.tail = (self.output.tail + data)[-4000:]

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.exists() and "ready" in self.log.read_text():
                return
            if self.process.poll() is not None:
                said = self.output.tail.decode(errors="replace")[-2000:]
                raise RuntimeError(f"the cockpit exited with {self.process.returncode}:\n{said}")
            time.sleep(0.1)
        raise RuntimeError("the cockpit did not draw its first frame in time")

    def send(self, data: bytes) -> float:
        sent = time.monotonic()
        os.write(self.master, data)
        return sent

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime

    def rss_mb(self) -> float:
        pages = int(Path(f"/proc/{self.process.pid}/statm").read_text().split()[1])
        return pages * PAGE / 1e6

    def timeline(self) -> list[tuple[str, float]]:
        events = []
        for line in self.log.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2:
                events.append((parts[0], float(parts[1])))
        return events

    def __enter__(self) -> PtyCockpit:
        return self

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if self.process.poll() is None:
            self.send(b"\x11")  # ctrl+q
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        os.close(self.master)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def slope_per_hour(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) samples, per hour."""
    xs = [t for t, _ in samples]
    ys = [v for _, v in samples]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 0.0 if den == 0 else sum((x - mx) * (y - my) for x, y in samples) / den * 3600
