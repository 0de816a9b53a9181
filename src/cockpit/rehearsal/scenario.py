"""Rehearsal scenarios: what the release does, and what Prometheus and Sentry see because of it.

A scenario is a TOML file (sample-configs/rehearsal/, shipped in the package). The rehearsal
cluster runs the real rollout; a sampler records, every second, which share of the ready pods
runs the new image ("broken" share). The Prometheus and Sentry stand-ins derive their answers
from that record, so whatever the operator does in the cockpit — roll back, pause — shows up in
the metrics and the error feed a few seconds later, through the same clients and HTTP the
cockpit uses in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from cockpit.errors import CockpitError
from cockpit.rehearsal.kube import RehearsalCluster
from cockpit.rehearsal.samples import scenario_dir

P95_QUERY = "servicedesk:http_request_duration_seconds:p95"
ERROR_QUERY = "servicedesk:http_requests:error_ratio"
RPS_QUERY = "servicedesk:http_requests:rate"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Release(_Strict):
    deployment: str
    image: str
    after: float = Field(default=8, ge=0, description="Seconds before the pipeline rolls out.")
    crash: bool = False
    pull_fails: bool = False


class Health(_Strict):
    p95_ms: float
    error_ratio: float
    rps: float
    issue: str | None = None
    culprit: str = ""


class Scenario(_Strict):
    description: str
    time_scale: float = Field(default=1.0, gt=0, description="Multiplies the scenario's delays.")
    release: Release
    healthy: Health
    broken: Health


def scenario_names() -> list[str]:
    return sorted(p.stem for p in scenario_dir().glob("*.toml"))


def load_scenario(name_or_path: str) -> Scenario:
    path = Path(name_or_path)
    if not path.suffix:
        path = scenario_dir() / f"{name_or_path}.toml"
    try:
        return Scenario.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise CockpitError(
            f"no rehearsal scenario {name_or_path!r}",
            "scenarios: " + ", ".join(scenario_names()),
        ) from None
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise CockpitError(f"scenario {path}: {exc}") from None


@dataclass
class Sample:
    at: float
    broken: float  # share of ready pods running the new image (0..1)


class World:
    """What the stand-ins report, derived from the cluster's pods second by second."""

    def __init__(self, scenario: Scenario, cluster: RehearsalCluster, namespace: str) -> None:
        self.scenario = scenario
        self.cluster = cluster
        self.namespace = namespace
        self.samples: list[Sample] = []
        self.started = time.time()
        self.first_broken: float | None = None
        self.issue_events = 0.0
        self._lock = threading.Lock()
        self._rng = random.Random(7)

    def sample(self) -> None:
        release = self.scenario.release
        pods = [
            p
            for p in self.cluster.list_objects("pods", self.namespace, group="")
            if p["metadata"].get("labels", {}).get("app") == release.deployment
        ]
        ready = [
            p
            for p in pods
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in p.get("status", {}).get("conditions") or []
            )
        ]
        new = [
            p
            for p in ready
            if any(c.get("image") == release.image for c in p["spec"].get("containers", []))
        ]
        share = len(new) / len(ready) if ready else 0.0
        now = time.time()
        with self._lock:
            self.samples.append(Sample(now, share))
            if len(self.samples) > 20000:
                del self.samples[:5000]
            if self.scenario.broken.issue and share > 0:
                if self.first_broken is None:
                    self.first_broken = now
                rate = self.scenario.broken.rps * self.scenario.broken.error_ratio
                self.issue_events += share * rate

    def share_at(self, moment: float) -> float:
        with self._lock:
            share = 0.0
            for sample in self.samples:
                if sample.at > moment:
                    break
                share = sample.broken
            return share

    def value(self, query: str, moment: float) -> float:
        share = self.share_at(moment)
        healthy, broken = self.scenario.healthy, self.scenario.broken
        jitter = 1 + (self._rng.random() - 0.5) * 0.04
        if query == P95_QUERY:
            return (healthy.p95_ms + share * (broken.p95_ms - healthy.p95_ms)) / 1000 * jitter
        if query == ERROR_QUERY:
            ratio = healthy.error_ratio + share * (broken.error_ratio - healthy.error_ratio)
            return ratio * jitter
        if query == RPS_QUERY:
            return (healthy.rps + share * (broken.rps - healthy.rps)) * jitter
        return math.nan

    def events_per_minute(self, moment: float) -> int:
        share = self.share_at(moment)
        healthy, broken = self.scenario.healthy, self.scenario.broken
        per_second = (
            healthy.rps * healthy.error_ratio * 0.01
            + share * broken.rps * (broken.error_ratio - healthy.error_ratio) * 0.05
        )
        return max(0, int(per_second * 60))


# --- the Prometheus stand-in --------------------------------------------------------------------


def prometheus_app(world: World) -> web.Application:
    known = (P95_QUERY, ERROR_QUERY, RPS_QUERY)

    def error(status: int, kind: str, message: str) -> web.Response:
        return web.json_response(
            {"status": "error", "errorType": kind, "error": message}, status=status
        )

    async def params(request: web.Request) -> dict[str, str]:
        values = dict(request.query)
        if request.method == "POST":
            values.update({k: str(v) for k, v in (await request.post()).items()})
        return values

    async def query(request: web.Request) -> web.Response:
        args = await params(request)
        expr = args.get("query", "").strip()
        moment = float(args.get("time", time.time()))
        if expr not in known:
            return web.json_response(
                {"status": "success", "data": {"resultType": "vector", "result": []}}
            )
        value = world.value(expr, moment)
        return web.json_response(
            {
                "status": "success",
                "data": {
                    "resultType": "vector",
                    "result": [{"metric": {}, "value": [moment, _fmt(value)]}],
                },
            }
        )

    async def query_range(request: web.Request) -> web.Response:
        args = await params(request)
        expr = args.get("query", "").strip()
        try:
            start, end = float(args["start"]), float(args["end"])
            step = _step_seconds(args["step"])
        except (KeyError, ValueError):
            return error(400, "bad_data", "start, end and step are required")
        if step <= 0 or (end - start) / step > 11000:
            return error(400, "bad_data", "exceeded maximum resolution of 11,000 points")
        if expr not in known:
            return web.json_response(
                {"status": "success", "data": {"resultType": "matrix", "result": []}}
            )
        points = []
        moment = start
        while moment <= end:
            points.append([moment, _fmt(world.value(expr, moment))])
            moment += step
        return web.json_response(
            {
                "status": "success",
                "data": {"resultType": "matrix", "result": [{"metric": {}, "values": points}]},
            }
        )

    async def ready(_request: web.Request) -> web.Response:
        return web.Response(text="Prometheus Server is Ready.\n")

    app = web.Application()
    app.router.add_route("*", "/api/v1/query", query)
    app.router.add_route("*", "/api/v1/query_range", query_range)
    app.router.add_get("/-/ready", ready)
    return app


def _step_seconds(text: str) -> float:
    text = text.strip()
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "").isdigit():
            return float(text[: -len(suffix)]) * units[suffix]
    return float(text)


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return repr(float(value))


# --- the Sentry stand-in ------------------------------------------------------------------------


def sentry_app(world: World, org: str) -> web.Application:
    def stamp(moment: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(moment)) + "Z"

    def issues(query: str) -> list[dict[str, Any]]:
        known = [
            {
                "id": "1001",
                "shortId": "SERVICEDESK-1",
                "title": "ConnectionResetError: upstream closed the connection",
                "culprit": "search.client.fetch",
                "level": "warning",
                "status": "unresolved",
                "count": "14",
                "userCount": 3,
                "firstSeen": stamp(world.started - 86400 * 9),
                "lastSeen": stamp(world.started - 3600),
                "permalink": "https://sentry.rehearsal.invalid/organizations/rehearsal/issues/1001/",
                "project": {"id": "1", "slug": "servicedesk"},
                "isUnhandled": False,
            }
        ]
        broken = world.scenario.broken
        if broken.issue and world.first_broken is not None:
            known.append(
                {
                    "id": "1002",
                    "shortId": "SERVICEDESK-2",
                    "title": broken.issue,
                    "culprit": broken.culprit,
                    "level": "error",
                    "status": "unresolved",
                    "count": str(int(world.issue_events) + 1),
                    "userCount": int(world.issue_events / 7) + 1,
                    "firstSeen": stamp(world.first_broken),
                    "lastSeen": stamp(time.time()),
                    "permalink": "https://sentry.rehearsal.invalid/organizations/rehearsal/issues/1002/",
                    "project": {"id": "1", "slug": "servicedesk"},
                    "isUnhandled": True,
                }
            )
        if "is:regressed" in query:
            return []
        if "firstRelease:" in query:
            return [i for i in known if i["id"] == "1002"]
        return known

    async def issue_list(request: web.Request) -> web.Response:
        body = issues(request.query.get("query", ""))
        link = (
            '<x>; rel="previous"; results="false"; cursor="0:0:1", '
            '<x>; rel="next"; results="false"; cursor="0:100:0"'
        )
        return web.Response(
            text=json.dumps(body), content_type="application/json", headers={"Link": link}
        )

    async def events_stats(_request: web.Request) -> web.Response:
        now = time.time()
        data = [
            [int(now - 60 * k), [{"count": world.events_per_minute(now - 60 * k)}]]
            for k in range(60, -1, -1)
        ]
        return web.json_response({"data": data})

    async def deploys(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"id": "1", **body}, status=201)

    app = web.Application()
    base = f"/api/0/organizations/{org}"
    app.router.add_get(f"{base}/issues/", issue_list)
    app.router.add_get(f"{base}/events-stats/", events_stats)
    app.router.add_post(f"{base}/releases/{{version}}/deploys/", deploys)
    return app


class StandIns:
    """The Prometheus and Sentry stand-ins and the sampler, on one loop in one thread."""

    def __init__(self, world: World, org: str = "rehearsal") -> None:
        self.world = world
        self.org = org
        self.prometheus_port = 0
        self.sentry_port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rehearsal-standins", daemon=True)

    def start(self) -> StandIns:
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("the rehearsal stand-ins did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        runners = []
        for name, app in (
            ("prometheus", prometheus_app(self.world)),
            ("sentry", sentry_app(self.world, self.org)),
        ):
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            server = getattr(site, "_server", None)
            port = int(server.sockets[0].getsockname()[1]) if server else 0
            setattr(self, f"{name}_port", port)
            runners.append(runner)
        self._ready.set()
        while not self._stop.is_set():
            await asyncio.to_thread(self.world.sample)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 1.0)
        for runner in runners:
            await runner.cleanup()
