"""The live dashboard's numbers for one local day, gathered from the reports and kept a moment.

Every number comes from the reports themselves: ``Dashboard.build`` runs
``Coordinator.collect`` on the same ``REPORTS`` (conversations_open,
agent_metrics, teams, agent_responses), the agents' presence lookup and
``FIRST_RESPONSES``, with an ExportRequest for the local day, read-your-writes
like an export, so it shows what a CSV file would. The figures are made from
those rows by ``exporters/dashboard_figures.py``.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import orjson

from convoflow.exporters.dashboard_figures import (
    FIRST_RESPONSES, first_response_summary, queue_summary, responses_per_hour,
)
from convoflow.exporters.headers import HEADERS
from convoflow.exporters.lookups import LOOKUPS
from convoflow.exporters.reports import REPORTS
from convoflow.exporters.request import parse_request
from convoflow.streams.export_results import EPOCH, now_us, rfc3339
from convoflow.streams.runtime import Runtime

CACHED_DAYS = 50  # (zone, day) answers kept


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
                    while len(self.cache) > CACHED_DAYS:
                        self.cache.pop(next(iter(self.cache)))

            future.add_done_callback(done)
        return await asyncio.wait_for(asyncio.shield(future), timeout)

    async def build(self, tz: str, day: str | None) -> dict:
        started = time.monotonic()
        as_of = now_us()
        zone = ZoneInfo(tz)
        today = day or (EPOCH + timedelta(microseconds=as_of)).astimezone(zone).date().isoformat()

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
