"""A busy world for the benchmarks, in a process of its own so it does not share the cockpit's GIL.

- Kubernetes: rehearsal API servers (one per cluster) with their deployment controllers, and a
  pipeline that keeps rolling a random deployment to a new image (`--churn` per second), so
  watches carry a steady stream of deployment, ReplicaSet, pod and event changes.
- Each Deployment starts with `--history` old ReplicaSets (10, the default
  revisionHistoryLimit), as in a cluster that has released for a while: a watcher's first list
  already holds the whole history, so a long run does not measure the history filling up.
- Prometheus: answers any query with a random walk of its own (one series per query).
- Sentry: an organisation with `--issues` issues whose counts and last-seen times move, served
  100 per page with Link pagination like sentry.io.
- GET /counts on the stand-in port: requests served so far, per source and kind (Kubernetes
  lists vs watches), read by the benchmarks to compute requests per minute.

Run: python benchmarks/world.py --folder DIR [--clusters 3 --deployments 100 --issues 500
--metrics 24 --churn 0.5 --interval 30s --history 10]; it prints one JSON line ({"config": ...,
"counts": URL}) once ready, and stops when its standard input closes.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import json
import math
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

import tomli_w
from aiohttp import web

from cockpit.rehearsal.kube import RehearsalCluster, Timing
from cockpit.rehearsal.run import roll_out

NAMESPACE = "load"
ORG = "load"


class Counter:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()

    def add(self, key: str, amount: int = 1) -> None:
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + amount


def prometheus_routes(app: web.Application, counter: Counter) -> None:
    def series(query: str, moment: float) -> float:
        seed = sum(map(ord, query))
        phase = (seed % 97) / 97 * math.tau
        base = 50 + seed % 50
        return base + 10 * math.sin(moment / 60 + phase) + random.uniform(-2, 2)

    async def params(request: web.Request) -> dict[str, str]:
        merged = dict(request.query)
        if request.method == "POST":
            merged.update({k: str(v) for k, v in (await request.post()).items()})
        return merged

    async def query(request: web.Request) -> web.Response:
        counter.add("prometheus")
        args = await params(request)
        moment = float(args.get("time", time.time()))
        value = series(args.get("query", ""), moment)
        result = [{"metric": {}, "value": [moment, repr(value)]}]
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    async def query_range(request: web.Request) -> web.Response:
        counter.add("prometheus")
        args = await params(request)
        start, end = float(args["start"]), float(args["end"])
        step_text = args["step"].rstrip("s")
        step = float(step_text) if step_text.replace(".", "").isdigit() else 30.0
        expr = args.get("query", "")
        points = []
        moment = start
        while moment <= end:
            points.append([moment, repr(series(expr, moment))])
            moment += step
        result = [{"metric": {}, "values": points}]
        return web.json_response(
            {"status": "success", "data": {"resultType": "matrix", "result": result}}
        )

    app.router.add_route("*", "/api/v1/query", query)
    app.router.add_route("*", "/api/v1/query_range", query_range)


def sentry_routes(app: web.Application, counter: Counter, issues: int) -> None:
    started = time.time()
    rng = random.Random(11)
    counts = [rng.randint(1, 400) for _ in range(issues)]
    first_seen = [started - rng.uniform(-600, 86400 * 20) for _ in range(issues)]

    def stamp(moment: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + "Z"

    def issue(index: int) -> dict[str, Any]:
        return {
            "id": str(5000 + index),
            "shortId": f"LOAD-{index + 1}",
            "title": f"ValueError: load issue {index + 1} in handler {index % 37}",
            "culprit": f"load.handlers.h{index % 37}",
            "level": "error" if index % 3 else "warning",
            "status": "unresolved",
            "count": str(counts[index]),
            "userCount": counts[index] // 3,
            "firstSeen": stamp(first_seen[index]),
            "lastSeen": stamp(time.time() - index),
            "permalink": f"https://sentry.load.invalid/organizations/{ORG}/issues/{5000 + index}/",
            "project": {"id": "1", "slug": "load"},
            "isUnhandled": index % 2 == 0,
        }

    def matches(index: int, query: str) -> bool:
        """Sentry's search terms as the cockpit sends them (older cockpits asked for all)."""
        for term in query.split():
            key, _, value = term.partition(":")
            if term == "is:regressed" and index % 97:
                return False  # a handful of regressions
            if key == "firstRelease" and first_seen[index] <= started:
                return False
            if key == "firstSeen" and value.startswith(">"):
                cut = calendar.timegm(time.strptime(value[1:], "%Y-%m-%dT%H:%M:%S"))
                if first_seen[index] <= cut:
                    return False
            recent = key == "lastSeen" and value.startswith("-") and value.endswith("m")
            if recent and index > int(value[1:-1]) * 60:  # issue i was last seen i seconds ago
                return False
        return True

    async def issue_list(request: web.Request) -> web.Response:
        counter.add("sentry")
        for _ in range(5):  # some issues get busier between polls
            counts[rng.randrange(issues)] += rng.randint(1, 5)
        query = request.query.get("query", "")
        chosen = [i for i in range(issues) if matches(i, query)]
        if request.query.get("sort") == "freq":
            chosen.sort(key=lambda i: -counts[i])
        size = min(100, int(request.query.get("limit", "100")))
        offset = int(request.query.get("cursor", "0:0:0").split(":")[1])
        page = [issue(i) for i in chosen[offset : offset + size]]
        if request.query.get("groupStatsPeriod", "24h"):  # Sentry's default: a 24h timeline each
            hour = int(time.time() // 3600 * 3600)
            for entry in page:
                entry["stats"] = {"24h": [[hour - 3600 * k, k % 7] for k in range(23, -1, -1)]}
        more = offset + size < len(chosen)
        link = (
            f'<x>; rel="previous"; results="false"; cursor="0:{max(0, offset - size)}:1", '
            f'<x>; rel="next"; results="{str(more).lower()}"; cursor="0:{offset + size}:0"'
        )
        text = json.dumps(page)
        counter.add("sentry-bytes", len(text))
        return web.Response(text=text, content_type="application/json", headers={"Link": link})

    async def events_stats(request: web.Request) -> web.Response:
        counter.add("sentry")
        now = time.time()
        step = {"1m": 60, "5m": 300, "1h": 3600}.get(request.query.get("interval", "1h"), 3600)
        if "start" in request.query:
            begin = calendar.timegm(time.strptime(request.query["start"], "%Y-%m-%dT%H:%M:%S"))
        else:
            begin = now - 86400
        buckets = int((now - begin) // step) + 1
        data = [[int(now - step * k), [{"count": 20 + k % 5}]] for k in range(buckets, -1, -1)]
        text = json.dumps({"data": data})
        counter.add("sentry-bytes", len(text))
        return web.Response(text=text, content_type="application/json")

    base = f"/api/0/organizations/{ORG}"
    app.router.add_get(f"{base}/issues/", issue_list)
    app.router.add_get(f"{base}/events-stats/", events_stats)


def kube_kind(method: str, path_qs: str) -> str:
    """kube-watch, kube-list (a collection read without watch) or kube-other."""
    path, _, query = path_qs.partition("?")
    parts = path.strip("/").split("/")
    collection = "namespaces" in parts and len(parts) == parts.index("namespaces") + 3
    if method == "GET" and collection:
        return "kube-watch" if "watch=true" in query.lower() else "kube-list"
    return "kube-other"


class World:
    def __init__(self, folder: Path, args: argparse.Namespace) -> None:
        self.folder = folder
        self.args = args
        self.clusters: list[RehearsalCluster] = []
        self.counter = Counter()
        self.port = 0
        self.stop = threading.Event()
        self.names: list[list[str]] = []

    def start(self) -> Path:
        args = self.args
        for index in range(args.clusters):
            cluster = RehearsalCluster(
                self.folder / f"cluster{index}", timing=Timing(ready_after=2.0, tick=0.25)
            )
            cluster.start()
            share = args.deployments // args.clusters + (
                1 if index < args.deployments % args.clusters else 0
            )
            names = [f"svc-{index}-{n:03d}" for n in range(share)]
            for name in names:
                cluster.create_deployment(
                    name, f"registry.load.invalid/{name}:1", namespace=NAMESPACE, replicas=2
                )
            self.clusters.append(cluster)
            self.names.append(names)
        self._release_history()
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        if not ready.wait(15):
            raise RuntimeError("the stand-in server did not start")
        if args.churn > 0:
            threading.Thread(target=self._churn, daemon=True).start()
        return self._write_config()

    def _release_history(self) -> None:
        """Rolls every Deployment through `--history` releases before the benchmark starts,
        each release once the controller has seen the one before (so each leaves a ReplicaSet
        of its own), and waits for the last to be complete."""
        self._wait_for(observed, "the first release to be seen")
        for release in range(2, self.args.history + 2):
            for cluster, names in zip(self.clusters, self.names, strict=True):
                for name in names:
                    roll_out(cluster, NAMESPACE, name, f"registry.load.invalid/{name}:{release}")
            self._wait_for(observed, f"release {release} to be seen")
        self._wait_for(complete, "the last release to complete")

    def _wait_for(self, done: Any, what: str, timeout: float = 300.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(
                done(dep)
                for cluster in self.clusters
                for dep in cluster.list_objects("deployments", NAMESPACE)
            ):
                return
            time.sleep(0.25)
        raise RuntimeError(f"the benchmark world waited {timeout:.0f} s for {what}")

    def _serve(self, ready: threading.Event) -> None:
        async def serve() -> None:
            app = web.Application()
            prometheus_routes(app, self.counter)
            sentry_routes(app, self.counter, self.args.issues)
            app.router.add_get("/counts", self._counts)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            server = getattr(site, "_server", None)
            self.port = int(server.sockets[0].getsockname()[1]) if server else 0
            ready.set()
            while not self.stop.is_set():
                await asyncio.sleep(0.5)
            await runner.cleanup()

        asyncio.run(serve())

    async def _counts(self, _request: web.Request) -> web.Response:
        counts = dict(self.counter.counts)
        for cluster in self.clusters:
            for method, path_qs in list(cluster.requests):
                counts[kube_kind(method, path_qs)] = counts.get(kube_kind(method, path_qs), 0) + 1
        return web.json_response({"at": time.time(), "counts": counts})

    def _churn(self) -> None:
        """Keeps rolling out whatever happens: a rollout that times out (the rehearsal cluster
        busy on a loaded machine) is counted and the pipeline goes on; it once ended the
        thread, and a one-hour memory run had no rollouts after its 28th minute."""
        rng = random.Random(3)
        version = self.args.history + 1  # past the releases of the history
        while not self.stop.wait(1 / self.args.churn):
            version += 1
            index = rng.randrange(len(self.clusters))
            name = rng.choice(self.names[index])
            try:
                roll_out(
                    self.clusters[index], NAMESPACE, name, f"registry.load.invalid/{name}:{version}"
                )
            except Exception:  # noqa: BLE001 - counted, and the next rollout is tried
                self.counter.add("rollout-failed")
                continue
            self.counter.add("rollout")

    def _write_config(self) -> Path:
        args = self.args
        clusters = []
        for index, cluster in enumerate(self.clusters):
            kubeconfig = cluster.write_kubeconfig(self.folder / f"kubeconfig{index}", NAMESPACE)
            clusters.append(
                {
                    "name": f"c{index}",
                    "kubeconfig": str(kubeconfig),
                    "context": "rehearsal",
                    "namespace": NAMESPACE,
                    "deployments": self.names[index],
                }
            )
        url = f"http://127.0.0.1:{self.port}"
        metrics = [
            {
                "name": f"metric {n:02d}",
                "query": f'sum(rate(load_requests_total{{handler="h{n}"}}[5m]))',
                "unit": "ms",
                "warn": 1000,
                "fail": 2000,
                "window": "30m",
                "step": "30s",
                "interval": args.interval,
            }
            for n in range(args.metrics)
        ]
        environment: dict[str, Any] = {
            "label": "LOAD",
            "production": False,
            "clusters": clusters,
            "prometheus": {"url": url, "timeout": 5},
            "errors": {
                "provider": "sentry",
                "url": url,
                "org": ORG,
                "project": "1",
                "interval": args.interval,
            },
            "metrics": metrics,
        }
        checklist = Path(args.checklist) if args.checklist else self.folder / "runbook.md"
        if not args.checklist:
            checklist.write_text(runbook(args.items))
        config = {
            "default_environment": "load",
            "checklist": str(checklist),
            "state": {"directory": str(self.folder / "state")},
            "audit": {"path": str(self.folder / "audit.jsonl")},
            "environments": {"load": environment},
        }
        path = self.folder / "cockpit.toml"
        path.write_text(tomli_w.dumps(config))
        path.chmod(0o644)
        return path


def observed(dep: dict[str, Any]) -> bool:
    status = dep.get("status", {})
    return bool(status.get("observedGeneration", 0) >= dep["metadata"].get("generation", 1))


def complete(dep: dict[str, Any]) -> bool:
    """kubectl rollout status's test: seen, all replicas updated and available, none old."""
    status, want = dep.get("status", {}), dep["spec"].get("replicas", 1)
    return (
        observed(dep)
        and status.get("updatedReplicas", 0) == want
        and status.get("replicas", 0) == want
        and status.get("availableReplicas", 0) == want
    )


def runbook(items: int) -> str:
    """A runbook of `items` manual items, 20 to a section."""
    lines = ["# Load runbook", ""]
    for index in range(items):
        if index % 20 == 0:
            lines += ["", f"## Section {index // 20 + 1:02d}", ""]
        lines.append(f"- [ ] Item {index + 1:04d}: confirm component {index % 53} is healthy")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--folder", required=True)
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--deployments", type=int, default=100)
    parser.add_argument("--issues", type=int, default=500)
    parser.add_argument("--metrics", type=int, default=24)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--checklist", default=None, help="use this runbook instead")
    parser.add_argument("--churn", type=float, default=0.5, help="rollouts started per second")
    parser.add_argument("--interval", default="30s", help="metrics and errors poll interval")
    parser.add_argument("--history", type=int, default=10, help="old ReplicaSets per Deployment")
    args = parser.parse_args()
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    world = World(folder, args)
    config = world.start()
    print(json.dumps({"config": str(config), "counts": f"http://127.0.0.1:{world.port}/counts"}))
    sys.stdout.flush()
    sys.stdin.read()  # until the benchmark closes our standard input
    world.stop.set()
    for cluster in world.clusters:
        cluster.stop()


if __name__ == "__main__":
    main()
