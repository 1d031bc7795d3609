"""Explanations over HTTP, from any worker: which conversations make a cell of an export.

GET /explain?type=&tz=&from=&to=[&channel=...][&as_of=]&row=[&row_channel=]&column=
    JSON: ``total`` (the cell exactly as the export with the same parameters writes it) and
    ``conversations`` (``conversation_id``, ``contribution``, ``counts_at``, ``url``, and for an
    average ``numerator`` and ``denominator``; see ``exporters/explain.py``).
GET /explain/view?...  the same as a page, with links to ``/conversations/{id}``.

Read-your-writes like an export: every shard catches up first. An agent's or a team's cell is then
read from the partitions that hold that owner's days (and presence); a cell of topics, tags,
virtual agents or contacts from every partition's conversations. Bad parameters get 400, a row
the export does not have 404, each with the reason.
"""
from __future__ import annotations

import time
import uuid

import orjson
from faust.web import Request, Response, View

from convoflow.contract.times import parse_time
from convoflow.exporters.explain import NoRow, answer, explanation_report, keys_of, parse_cell
from convoflow.exporters.request import BadRequest, parse_request
from convoflow.web.dashboard import static_file
from convoflow.streams.export_engine import report_context
from convoflow.streams.runtime import Runtime, log


def parse_query(query) -> tuple:
    """(ExportRequest, Cell) from the query parameters; BadRequest with the reason."""
    body = {
        "request_id": f"explain-{uuid.uuid4().hex[:16]}",
        "export_type": query.get("type"),
        "time_zone": query.get("tz"),
        "date_from": query.get("from"),
        "date_to": query.get("to"),
        "channels": query.getall("channel", []),
    }
    if query.get("as_of"):
        body["as_of"] = query.get("as_of")
    if not isinstance(body["export_type"], str):
        raise BadRequest("type is required: an aggregate report such as agent_metrics")
    cell = parse_cell(body["export_type"], query.get("row"), query.get("column"), query.get("row_channel"))
    return parse_request(orjson.dumps(body)), cell


async def explain(coordinator, replica, runtime: Runtime, req, cell) -> dict:
    as_of_us = parse_time(req.as_of) if req.as_of else int(time.time() * 1_000_000)
    try:
        ctx = report_context(replica, runtime, req, as_of_us)
    except (ValueError, OverflowError) as exc:  # a date at the end of the calendar: no range in microseconds
        raise BadRequest(f"the range {req.date_from}..{req.date_to} cannot be used: {exc}") from None
    report = explanation_report(cell)
    items = await coordinator.collect(report, req, as_of_us, keys=keys_of(cell), fresh=True)
    return answer(ctx, cell, items)


def register(app, runtime: Runtime, coordinator, replica) -> None:
    @app.page("/explain")
    class Explain(View):
        async def get(self, request: Request) -> Response:
            try:
                req, cell = parse_query(request.query)
                return self.json(await explain(coordinator, replica, runtime, req, cell))
            except BadRequest as exc:
                return self.json({"error": exc.reason}, status=400)
            except NoRow as exc:
                return self.json({"error": str(exc)}, status=404)
            except Exception as exc:  # shards failed (rebalance, timeout): say so
                log.warning("explanation failed: %r", exc)
                return self.json({"error": f"explanation unavailable: {exc}"}, status=503)

    @app.page("/explain/view")
    class ExplainPage(View):
        async def get(self, request: Request) -> Response:
            found = static_file("explain.html")
            return self.bytes(found[0], headers={"Content-Type": found[1], "Cache-Control": "no-cache"})
