"""Operators' pages, served by every worker: the live dashboard and the export page.

GET  /                              redirects to /dashboard
GET  /dashboard                      the live dashboard (static/dashboard.html; polls /dashboard/data)
GET  /dashboard/data?tz=[&date=]     its numbers, as JSON: the open queue, teams and agents for the
                                     local day, responses per hour, first-response-time distribution
GET  /exports                        the export page (static/exports.html); ?format=json: reports,
                                     recent exports and schedules, as JSON
POST /exports/request                {export_type, time_zone, date_from, date_to, channels?, as_of?}
                                     -> publishes the request on the control topic, returns its id
GET  /exports/status/{request_id}    the latest result seen on export-results (or "requested")
GET  /exports/download/{request_id}  the file: from this worker's export folder, else from the
                                     worker that coordinated the export
GET  /ui/{file}                      the pages' scripts and styles (no CDN: all served from here)

Every number comes from the reports themselves: the dashboard runs
``Coordinator.collect`` on the same ``REPORTS`` (conversations_open,
agent_metrics, teams, agent_responses) with an ExportRequest for the local day,
read-your-writes like an export, so it shows what a CSV file would. The
first-response-time distribution is one more aggregate report (below) built
from the same rule as the teams' "Average First Response Time".
"""
from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from aiohttp.web import HTTPFound
from aiokafka import AIOKafkaConsumer
from faust.web import Request, Response, View

from convoflow.config import Settings
from convoflow.topics import partitions_of
from exporters import csvfile
from exporters.headers import HEADERS
from exporters.lookups import LOOKUPS
from exporters.reports import REPORTS, Report
from exporters.request import EXPORT_TYPES, REQUEST_ID, BadRequest, parse_request
from streams.runtime import Runtime, log, poll
from tables import conversation as conv
from tables.conversation import M_T, M_TEAM

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
STATIC_NAME = re.compile(r"[a-z0-9_-]{1,40}\.(html|js|css|svg)\Z")
CONTENT_TYPES = {"html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
                 "css": "text/css; charset=utf-8", "svg": "image/svg+xml"}
DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def now_us() -> int:
    return int(time.time() * 1_000_000)


# ------------------------------------------------------------------ first response times


# Upper bounds (seconds) of the distribution's classes; the last class is open.
FRT_BOUNDS = (60, 300, 900, 3600, 4 * 3600)
FRT_LABELS = ("< 1 min", "1-5 min", "5-15 min", "15-60 min", "1-4 h", ">= 4 h")


def frt_class(time_us: int) -> int:
    seconds = time_us / 1_000_000
    return next((i for i, bound in enumerate(FRT_BOUNDS) if seconds < bound), len(FRT_BOUNDS))


def first_response_partials(ctx, cid: str, state: dict):
    """A conversation's first response, when its reply is in R: the rule of the teams'
    "Average First Response Time" (tables/people.py), grouped by the replying team."""
    if not state.get("m") or not ctx.keeps_channel(conv.channel(state)):
        return
    responses = conv.responses(state)
    if not responses:
        return
    first = responses[0]
    if not ctx.in_range(first.outbound[M_T]):
        return
    yield first.outbound[M_TEAM] or "", {"n": 1, "us": first.time_us, "b": {str(frt_class(first.time_us)): 1}}


def first_response_merge(a: dict, b: dict) -> dict:
    buckets = dict(a["b"])
    for k, n in b["b"].items():
        buckets[k] = buckets.get(k, 0) + n
    return {"n": a["n"] + b["n"], "us": a["us"] + b["us"], "b": buckets}


def first_response_finish(ctx, team: str, partial: dict):
    yield team, {"team_id": team or None, "count": partial["n"], "sum_us": partial["us"],
                 "classes": [partial["b"].get(str(i), 0) for i in range(len(FRT_LABELS))]}


FIRST_RESPONSES = Report("dashboard_first_responses", {"conversations": first_response_partials},
                         first_response_merge, first_response_finish)
# Shards find a report by name in REPORTS or LOOKUPS: every worker imports this module at start.
LOOKUPS.setdefault(FIRST_RESPONSES.export_type, FIRST_RESPONSES)


# ------------------------------------------------------------------ results seen on export-results


class Results:
    """The latest result of recent exports, as every worker sees them on ``export-results``.

    A plain consumer (no group) of every partition, from ``backlog`` records
    before the end at start, then following; requests made through this
    worker's page are listed as "requested" until their first result arrives.
    """

    def __init__(self, settings: Settings, backlog: int = 200, keep: int = 500):
        self.settings = settings
        self.backlog, self.keep = backlog, keep
        self.latest: OrderedDict[str, dict] = OrderedDict()
        self.requested: OrderedDict[str, dict] = OrderedDict()
        self.listeners: list = []
        self.consumer: AIOKafkaConsumer | None = None
        self.task: asyncio.Task | None = None
        self.started = asyncio.Event()

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.bootstrap, group_id=None,
                                         enable_auto_commit=False, fetch_max_wait_ms=100,
                                         **self.settings.kafka_kwargs())
        await self.consumer.start()
        tps = await partitions_of(self.consumer, self.settings.topic("export-results"))
        self.consumer.assign(tps)
        begin = await self.consumer.beginning_offsets(tps)
        end = await self.consumer.end_offsets(tps)
        for tp in tps:
            self.consumer.seek(tp, max(begin[tp], end[tp] - self.backlog))
        self.task = asyncio.ensure_future(self._run())
        self.started.set()

    async def _run(self) -> None:
        while True:
            batches = await poll(self.consumer, "export-results", timeout_ms=200)
            for records in batches.values():
                for r in records:
                    self.apply(r.value)

    def apply(self, value: bytes | None) -> None:
        try:
            result = orjson.loads(value)
            rid = result["request_id"]
        except (orjson.JSONDecodeError, TypeError, KeyError):
            return
        previous = self.latest.pop(rid, None) or self.requested.pop(rid, None) or {}
        self.latest[rid] = {**previous, **result}
        while len(self.latest) > self.keep:
            self.latest.popitem(last=False)
        for listener in self.listeners:
            try:
                listener(self.latest[rid])
            except Exception as exc:  # a listener's bug must not stop the reader
                log.warning("export result listener failed: %r", exc)

    def note_request(self, request: dict) -> None:
        rid = request["request_id"]
        if rid not in self.latest:
            self.requested[rid] = {**request, "status": "requested", "requested_at": rfc3339(now_us())}
            while len(self.requested) > self.keep:
                self.requested.popitem(last=False)

    def get(self, rid: str) -> dict | None:
        return self.latest.get(rid) or self.requested.get(rid)

    def recent(self, limit: int = 50) -> list[dict]:
        items = {**self.requested, **self.latest}
        ordered = sorted(items.values(), key=lambda r: r.get("requested_at") or "", reverse=True)
        return ordered[:limit]

    async def end_offsets(self, tps) -> dict:
        return await self.consumer.end_offsets(tps)

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
        if self.consumer is not None:
            await self.consumer.stop()


def rfc3339(us: int) -> str:
    return (_EPOCH + timedelta(microseconds=us)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ------------------------------------------------------------------ the dashboard's numbers


class Dashboard:
    def __init__(self, runtime: Runtime, coordinator):
        self.runtime = runtime
        self.coordinator = coordinator
        self.cache: dict[tuple, tuple[float, dict]] = {}
        self.inflight: dict[tuple, asyncio.Future] = {}

    async def data(self, tz: str, day: str | None, timeout: float = 30.0) -> dict:
        """One computation per (zone, day) at a time, shared by every poll that arrives meanwhile; an answer
        younger than the cache time is reused. A poll waits at most ``timeout`` s (a rebalance can hold the
        shards): the computation goes on and the next poll gets it."""
        key = (tz, day)
        hit = self.cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < self.runtime.settings.dashboard_cache_seconds:
            return hit[1]
        future = self.inflight.get(key)
        if future is None:
            future = self.inflight[key] = asyncio.ensure_future(self.build(tz, day))

            def done(f: asyncio.Future, key=key) -> None:
                self.inflight.pop(key, None)
                if not f.cancelled() and f.exception() is None:
                    self.cache[key] = (time.monotonic(), f.result())
                    while len(self.cache) > 50:
                        self.cache.pop(next(iter(self.cache)))

            future.add_done_callback(done)
        return await asyncio.wait_for(asyncio.shield(future), timeout)

    async def build(self, tz: str, day: str | None) -> dict:
        started = time.monotonic()
        as_of = now_us()
        zone = ZoneInfo(tz)
        today = day or (_EPOCH + timedelta(microseconds=as_of)).astimezone(zone).date().isoformat()

        def request(export_type: str):
            return parse_request(orjson.dumps({
                "request_id": f"dash-{uuid.uuid4().hex[:20]}", "export_type": export_type,
                "time_zone": tz, "date_from": today, "date_to": today,
            }))

        collect = self.coordinator.collect
        open_rows, agent_rows, team_rows, response_rows, presence_rows, first_rows = await asyncio.gather(
            collect(REPORTS["conversations_open"], request("conversations_open"), as_of),
            collect(REPORTS["agent_metrics"], request("agent_metrics"), as_of),
            collect(REPORTS["teams"], request("teams"), as_of),
            collect(REPORTS["agent_responses"], request("agent_responses"), as_of),
            collect(LOOKUPS["presence_now"], request("agent_presence"), as_of),
            collect(FIRST_RESPONSES, request("teams"), as_of),
        )
        presence = {agent_id: state for agent_id, state in presence_rows}
        agents = []
        for _, row in agent_rows:
            item = dict(zip(HEADERS["agent_metrics"], row))
            item["presence"] = presence.get(item["User ID"])
            agents.append(item)
        teams = [dict(zip(HEADERS["teams"], row)) for _, row in team_rows]
        return {
            "time_zone": tz,
            "date": today,
            "as_of": rfc3339(as_of),
            "queue": queue_summary([r for _, r in open_rows], as_of),
            "teams": teams,
            "agents": agents,
            "responses_per_hour": responses_per_hour([r for _, r in response_rows]),
            "responses": len(response_rows),
            "first_response": first_response_summary([r for _, r in first_rows]),
            "columns": {"agents": HEADERS["agent_metrics"], "teams": HEADERS["teams"]},
            "seconds": round(time.monotonic() - started, 3),
        }


def _instant_us(local_ts: str) -> int:
    return (datetime.fromisoformat(local_ts) - _EPOCH) // timedelta(microseconds=1)


def queue_summary(rows: list[list[str]], as_of_us: int) -> dict:
    """New and Pending counts, and the oldest waiting conversations, from conversations_open rows."""
    h = {name: i for i, name in enumerate(HEADERS["conversations_open"])}
    counts = {"NEW": 0, "PENDING": 0}
    by_team: dict[str, dict] = {}
    waiting = []
    for row in rows:
        status = row[h["Current Status"]]
        counts[status] = counts.get(status, 0) + 1
        team = row[h["Last Status Change Team Name"]] or row[h["Last Status Change Team ID"]] or "(no team)"
        entry = by_team.setdefault(team, {"team": team, "new": 0, "pending": 0})
        entry[status.lower()] = entry.get(status.lower(), 0) + 1
        created = row[h["Created at"]]
        if created:
            waiting.append((_instant_us(created), row[h["Conversation ID"]], created, status,
                            row[h["Last Status Change Team Name"]] or row[h["Last Status Change Team ID"]],
                            row[h["Channel"]]))
    waiting.sort()
    oldest = [
        {"conversation_id": cid, "created_at": created, "status": status, "team": team, "channel": channel,
         "waiting_seconds": max(0, (as_of_us - t) // 1_000_000)}
        for t, cid, created, status, team, channel in waiting[:10]
    ]
    return {
        "new": counts["NEW"], "pending": counts["PENDING"], "open": len(rows),
        "oldest": oldest[0] if oldest else None, "oldest_list": oldest,
        "by_team": sorted(by_team.values(), key=lambda t: (-(t["new"] + t["pending"]), t["team"])),
    }


def responses_per_hour(rows: list[list[str]]) -> list[int]:
    """Responses per local hour of the reply ("To", already in the request's zone)."""
    to = HEADERS["agent_responses"].index("To")
    hours = [0] * 24
    for row in rows:
        if row[to]:
            hours[int(row[to][11:13])] += 1
    return hours


def first_response_summary(rows: list[dict]) -> dict:
    classes = [0] * len(FRT_LABELS)
    count = total = 0
    for r in rows:
        count += r["count"]
        total += r["sum_us"]
        classes = [a + b for a, b in zip(classes, r["classes"])]
    teams = {r["team_id"] or "": {"count": r["count"], "average_seconds": csvfile.average_seconds(r["sum_us"], r["count"])}
             for r in rows}
    return {"labels": list(FRT_LABELS), "classes": classes, "count": count,
            "average_seconds": csvfile.average_seconds(total, count), "teams": teams}


# ------------------------------------------------------------------ HTTP


def static_file(name: str) -> tuple[bytes, str] | None:
    if not STATIC_NAME.match(name):
        return None
    path = os.path.join(STATIC_DIR, name)
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        return f.read(), CONTENT_TYPES[name.rsplit(".", 1)[1]]


def _zone_error(tz: str) -> str | None:
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {tz!r:.80}"
    return None


def register(app, runtime: Runtime, coordinator, results: Results, scheduler=None) -> Dashboard:
    s = runtime.settings
    dashboard = Dashboard(runtime, coordinator)
    no_cache = {"Cache-Control": "no-cache"}

    def page(name: str, view: View, missing: tuple[str, int] = ("missing page", 500)) -> Response:
        """A file of streams/static; a page of ours that is missing is a server error, a file asked for by name a 404."""
        found = static_file(name)
        if found is None:
            return view.json({"error": f"{missing[0]} {name}"}, status=missing[1])
        return view.bytes(found[0], headers={"Content-Type": found[1], **no_cache})

    @app.page("/")
    class Index(View):
        async def get(self, request: Request) -> Response:
            raise HTTPFound("/dashboard")

    @app.page("/ui/{name}")
    class Static(View):
        async def get(self, request: Request, name: str) -> Response:
            return page(name, self, ("no file", 404))

    @app.page("/dashboard")
    class DashboardPage(View):
        async def get(self, request: Request) -> Response:
            return page("dashboard.html", self)

    @app.page("/dashboard/data")
    class DashboardData(View):
        async def get(self, request: Request) -> Response:
            tz = request.query.get("tz") or "UTC"
            day = request.query.get("date") or None
            error = _zone_error(tz)
            if error is None and day is not None and not DATE.match(day):
                error = f"date must be YYYY-MM-DD, got {day!r:.40}"
            if error:
                return self.json({"error": error}, status=400)
            try:
                data = await dashboard.data(tz, day)
            except BadRequest as exc:
                return self.json({"error": exc.reason}, status=400)
            except asyncio.TimeoutError:
                return self.json({"error": "data unavailable: the workers did not answer in time (rebalancing?)"},
                                 status=503)
            except Exception as exc:  # shards failed (rebalance, timeout): say so, the page retries
                log.warning("dashboard data failed: %s", exc)
                return self.json({"error": f"data unavailable: {exc}"}, status=503)
            return self.json(data, headers=no_cache)

    @app.page("/exports")
    class ExportsPage(View):
        async def get(self, request: Request) -> Response:
            if request.query.get("format") != "json":
                return page("exports.html", self)
            return self.json({
                "export_types": list(EXPORT_TYPES),
                "recent": [public_result(r) for r in results.recent()],
                "schedules": scheduler.describe() if scheduler is not None else [],
            }, headers=no_cache)

    @app.page("/exports/request")
    class ExportRequestView(View):
        async def post(self, request: Request) -> Response:
            body = await self.read_request_content(request)
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError:
                return self.json({"error": "the request body must be a JSON object"}, status=400)
            if not isinstance(data, dict):
                return self.json({"error": "the request body must be a JSON object"}, status=400)
            data = {k: v for k, v in data.items() if v not in (None, "", [])}
            channels = data.get("channels")
            if isinstance(channels, str):
                data["channels"] = [c.strip() for c in channels.split(",") if c.strip()]
            data.setdefault("request_id", f"web-{uuid.uuid4().hex[:16]}")
            try:
                req = parse_request(orjson.dumps(data))
            except BadRequest as exc:
                return self.json({"error": exc.reason}, status=400)
            value = {k: v for k, v in req.params().items() if v is not None}
            value["channels"] = list(req.channels)
            try:
                await app.producer.send_and_wait(s.topic("export-requests"), req.request_id.encode(),
                                                 orjson.dumps(value), None, None, None)
            except Exception as exc:
                log.warning("export request %s not published: %r", req.request_id, exc)
                return self.json({"error": f"could not publish the request: {exc}"}, status=503)
            results.note_request(value)
            rid = req.request_id
            return self.json({"request_id": rid, "status_url": f"/exports/status/{rid}",
                              "download_url": f"/exports/download/{rid}"}, status=202)

    @app.page("/exports/status/{rid}")
    class ExportStatus(View):
        async def get(self, request: Request, rid: str) -> Response:
            result = results.get(rid)
            if result is None:
                return self.json({"error": f"no export {rid!r:.80} seen recently"}, status=404)
            return self.json(public_result(result), headers=no_cache)

    @app.page("/exports/download/{rid}")
    class ExportDownload(View):
        async def get(self, request: Request, rid: str) -> Response:
            if not REQUEST_ID.match(rid):
                return self.json({"error": "not a request id"}, status=400)
            headers = {"Content-Disposition": f'attachment; filename="{rid}.csv"'}
            path = os.path.join(s.export_dir, f"{rid}.csv")
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    return self.bytes(f.read(), content_type="text/csv", headers=headers)
            body = await fetch_from_owner(app, rid, s.api_token)
            if body is None:
                return self.json({"error": f"no file for export {rid}"}, status=404)
            return self.bytes(body, content_type="text/csv", headers=headers)

    return dashboard


def public_result(result: dict) -> dict:
    """A result as the page shows it: without the coordinator's local path, with a download link."""
    out = {k: v for k, v in result.items() if k != "file"}
    if result.get("status") == "completed":
        out["download_url"] = f"/exports/download/{result['request_id']}"
    return out


async def fetch_from_owner(app, rid: str, token: str = "") -> bytes | None:
    """The file of an export coordinated by another worker (its export folder is not ours):
    the coordinator of a request owns its partition of export_log, and serves /exports/<id>.csv."""
    import aiohttp

    try:
        url = app.router.key_store("export_log", rid.encode())
    except Exception:
        return None
    own = f"http://{app.conf.web_host}:{app.conf.web_port}"
    if str(url).rstrip("/") == own:
        return None
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60), headers=headers) as session:
            async with session.get(f"{str(url).rstrip('/')}/exports/{rid}.csv") as resp:
                if resp.status != 200:
                    return None
                return await resp.read()
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
        return None
