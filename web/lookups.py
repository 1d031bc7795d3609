"""HTTP lookups from any worker: the owner of the key's partition answers through a shard request.

GET /agents/{agent_id}/metrics?tz=&from=&to=[&channel=...]   the agent_metrics row, as JSON
GET /teams/{team_id}/metrics?tz=&from=&to=[&channel=...]     the teams row, as JSON
GET /agents/{agent_id}/presence                              current presence state
GET /contacts/{contact_profile_id}                           identifiers, attributes, counts
GET /conversations/{conversation_id}[?tz=]                   the conversation's row, as JSON
Bad parameters get 400, unknown ids 404, each with a message.
"""
from __future__ import annotations

import time
import uuid

import orjson
from faust.web import Request, Response, View

from convoflow.exporters.lookups import LOOKUPS
from convoflow.exporters.reports import REPORTS
from convoflow.exporters.request import BadRequest, parse_request
from convoflow.streams.export_engine import report_context
from convoflow.streams.runtime import Runtime

TODAY_DEFAULT = "1970-01-01"


def now_us() -> int:
    return int(time.time() * 1_000_000)


def _request(export_type: str, query, dated: bool):
    """An ExportRequest from query parameters, validated like a control-topic request."""
    body = {
        "request_id": f"lookup-{uuid.uuid4().hex[:16]}",
        "export_type": export_type if export_type in REPORTS else "conversations_open",
        "time_zone": query.get("tz", "UTC"),
        "date_from": query.get("from", TODAY_DEFAULT if not dated else None),
        "date_to": query.get("to", TODAY_DEFAULT if not dated else None),
        "channels": query.getall("channel", []),
    }
    return parse_request(orjson.dumps(body))


def register(app, runtime: Runtime, coordinator, replica):
    def metrics_view(kind: str, export_type: str):
        class Metrics(View):
            async def get(self, request: Request, ident: str) -> Response:
                try:
                    req = _request(export_type, request.query, dated=True)
                except BadRequest as exc:
                    return self.json({"error": exc.reason}, status=400)
                report = REPORTS[export_type]
                keys = {"owner_days": [["prefix", f"{kind}:{ident}|", f"{kind}:{ident}"]]}
                if kind == "agent":
                    keys["presence"] = [["prefix", f"{ident}|", ident]]
                rows = await coordinator.collect(report, req, now_us(), keys=keys)
                if not rows:
                    known = replica.directory.entries.get(f"{kind}:{ident}") is not None
                    if not known:
                        return self.json({"error": f"unknown {kind} {ident!r}"}, status=404)
                    ctx = report_context(replica, runtime, req, now_us())
                    rows = list(report.finish(ctx, ident, {"always": True}))
                return self.json(dict(zip(report.header, rows[0][1])))

        return Metrics

    app.page("/agents/{ident}/metrics")(metrics_view("agent", "agent_metrics"))
    app.page("/teams/{ident}/metrics")(metrics_view("team", "teams"))

    def key_view(lookup: str, table: str, what: str, prefix: bool = False):
        class Lookup(View):
            async def get(self, request: Request, ident: str) -> Response:
                try:
                    req = _request(lookup, request.query, dated=False)
                except BadRequest as exc:
                    return self.json({"error": exc.reason}, status=400)
                key = ["prefix", f"{ident}|", ident] if prefix else ["exact", ident]
                rows = await coordinator.collect(LOOKUPS[lookup], req, now_us(), keys={table: [key]})
                if not rows:
                    return self.json({"error": f"unknown {what} {ident!r}"}, status=404)
                return self.json(rows[0][1])

        return Lookup

    app.page("/agents/{ident}/presence")(key_view("presence_now", "presence", "agent", prefix=True))
    app.page("/contacts/{ident}")(key_view("contact", "contacts", "contact"))
    app.page("/conversations/{ident}")(key_view("conversation", "conversations", "conversation"))
