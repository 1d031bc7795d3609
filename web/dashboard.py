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

The views only check the request and answer: the dashboard's numbers come from
``web/dashboard_data.py`` (which reads them from the reports), the exports'
results from ``streams/export_results.py``.
"""
from __future__ import annotations

import asyncio
import os
import re
import uuid
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from aiohttp.web import HTTPFound
from faust.web import Request, Response, View

from convoflow.contract.export_types import EXPORT_TYPES
from convoflow.exporters.request import REQUEST_ID, BadRequest, parse_request
from convoflow.web.dashboard_data import Dashboard
from convoflow.streams.export_results import Results, fetch_from_owner, public_result
from convoflow.streams.runtime import Runtime, log

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
STATIC_NAME = re.compile(r"[a-z0-9_-]{1,40}\.(html|js|css|svg)\Z")
CONTENT_TYPES = {"html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
                 "css": "text/css; charset=utf-8", "svg": "image/svg+xml"}
DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


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
        """A file of web/static; a page of ours that is missing is a server error, a file asked for by name a 404."""
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
