"""What one poll of the error feed costs at N unresolved Sentry issues: requests and bytes.

The Sentry stand-in of world.py (its search terms, pages of 100, a 24h timeline per issue
unless statsPeriod is empty, events-stats buckets as asked) serves `--issues` issues; the
cockpit's ErrorWatcher polls it `--polls` times, as the errors pane does every 30 s. Prints
requests per poll and bytes per poll, and bytes per hour at a 30 s interval.

Run: python benchmarks/errors_poll.py [--issues 500 --polls 10]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import tomli_w
from aiohttp import web
from world import ORG, Counter, sentry_routes

from cockpit.identity import Operator
from cockpit.session import GoLiveSession
from cockpit.sources.errors import ErrorWatcher


def serve(counter: Counter, issues: int) -> int:
    ready = threading.Event()
    port: list[int] = []

    async def main() -> None:
        app = web.Application()
        sentry_routes(app, counter, issues)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = getattr(site, "_server", None)
        port.append(int(server.sockets[0].getsockname()[1]) if server else 0)
        ready.set()
        await asyncio.Event().wait()

    threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start()
    ready.wait(10)
    return port[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--issues", type=int, default=500)
    parser.add_argument("--polls", type=int, default=10)
    args = parser.parse_args()
    counter = Counter()
    port = serve(counter, args.issues)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "runbook.md").write_text("## S\n- [ ] x\n")
        config = {
            "checklist": "runbook.md",
            "environments": {
                "load": {
                    "errors": {
                        "provider": "sentry",
                        "url": f"http://127.0.0.1:{port}",
                        "org": ORG,
                        "project": "1",
                    }
                }
            },
        }
        (root / "cockpit.toml").write_text(tomli_w.dumps(config))
        session = GoLiveSession.open(
            root / "cockpit.toml", "load", operator=Operator(user="bench", address="127.0.0.1")
        )
        started = datetime.now(UTC) - timedelta(minutes=20)
        watcher = ErrorWatcher(
            session.check_context(),
            lambda _f: None,
            release=session.release_version,
            started=started,
        )
        for _ in range(args.polls):
            feed = watcher.poll()
            if feed.last_error:
                raise SystemExit(f"poll failed: {feed.last_error}")
    requests = counter.counts.get("sentry", 0) / args.polls
    size = counter.counts.get("sentry-bytes", 0) / args.polls
    print(f"issues {args.issues}, polls {args.polls}")
    print(f"requests per poll  {requests:.1f}")
    print(f"bytes per poll     {size / 1024:.0f} KiB")
    print(f"bytes per hour     {size * 120 / 2**20:.1f} MiB (a poll every 30 s)")


if __name__ == "__main__":
    main()
