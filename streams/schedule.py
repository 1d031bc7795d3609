"""Scheduled exports: request every ended period, once, and file it under scheduled/.

Configuration: ``CONVOFLOW_SCHEDULES`` (JSON) and/or ``CONVOFLOW_SCHEDULE_FILE``
(a JSON file), e.g. ``[{"export_type": "agent_metrics", "every": "daily",
"time_zone": "Europe/Amsterdam"}]``; the rules (periods, request ids, paths)
are in ``tables/schedule.py``.

Which worker runs it: the one that owns partition 0 of ``export-requests``
(``app.consumer.assignment()``), so there is one scheduler per deployment.
During a rebalance two workers may briefly both believe they own it; that is
harmless, because the request id of a (schedule, period) is deterministic: the
coordinator answers a repeated id from ``export_log`` with the first result and
writes no second file, and the scheduled file is written atomically.

On start (when partitions are assigned) and every ``CONVOFLOW_SCHEDULE_INTERVAL``
seconds (60), it computes every period ended since the schedule's ``since``
and requests those whose file does not exist yet: a worker that was down
catches up when it comes back. When a completed result arrives (seen on
``export-results``), the export's file is copied to
``<export dir>/scheduled/<name>/<export_type>_<period>.csv`` (from the shared
export folder, or downloaded from the worker that coordinated it).
"""
from __future__ import annotations

import asyncio
import os
import shutil
import time

import orjson

from convoflow.streams.export_results import Results, fetch_from_owner
from convoflow.streams.runtime import Runtime, log
from convoflow.tables import schedule as rules
from convoflow.tables.schedule import Period, Schedule, ScheduleError

MAX_IN_FLIGHT = 16
RETRY_SECONDS = 300.0


class Scheduler:
    def __init__(self, app, runtime: Runtime, results: Results, schedules: list[Schedule], error: str | None = None):
        self.app = app
        self.runtime = runtime
        self.results = results
        self.schedules = schedules
        self.error = error
        self.settings = runtime.settings
        self.pending: dict[str, tuple[Schedule, Period, float]] = {}  # request id -> (schedule, period, asked at)
        self.failed: dict[str, tuple[float, str]] = {}  # request id -> (monotonic time, reason)
        self.last_file: dict[str, str] = {}  # schedule ident -> last file written
        self.counts = {"requested": 0, "written": 0, "failed": 0}
        self.wake = asyncio.Event()
        self.timeout = runtime.settings.export_timeout
        results.listeners.append(self.on_result)

    # ------------------------------------------------------------ who runs it

    def is_leader(self) -> bool:
        consumer = getattr(self.app, "consumer", None)
        if consumer is None:
            return False
        from faust.types import TP

        try:
            return TP(self.settings.topic("export-requests"), 0) in consumer.assignment()
        except Exception:
            return False

    def exists(self, relative: str) -> bool:
        return os.path.isfile(os.path.join(self.settings.export_dir, relative))

    # ------------------------------------------------------------ the loop

    async def run(self) -> None:
        await self.results.started.wait()
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), self.settings.schedule_interval)
            except asyncio.TimeoutError:
                pass
            self.wake.clear()
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never stop scheduling because of one bad tick
                log.warning("scheduler tick failed: %r", exc)

    async def tick(self, now_us: int | None = None) -> list[str]:
        """Request the due periods (all schedules); return the request ids sent."""
        if not self.schedules or not self.is_leader():
            return []
        now_us = now_us if now_us is not None else int(time.time() * 1_000_000)
        sent = []
        clock = time.monotonic()
        due = [(s, period) for s in self.schedules for period in rules.due(s, now_us, self.exists)]
        for s, period in due:
            rid = rules.request_id(s, period)
            asked = self.pending.get(rid)
            if asked is not None and clock - asked[2] < 3 * self.timeout:
                continue
            failed = self.failed.get(rid)
            if failed is not None and clock - failed[0] < RETRY_SECONDS:
                continue
            known = self.results.get(rid)
            if known is not None and known.get("status") == "completed":
                self.pending[rid] = (s, period, clock)
                await self.materialize(s, period, known)
                continue
            if len(self.pending) >= MAX_IN_FLIGHT:
                break  # the rest on a later tick
            body = rules.request_body(s, period)
            await self.app.producer.send_and_wait(self.settings.topic("export-requests"), rid.encode(),
                                                  orjson.dumps(body), None, None, None)
            self.pending[rid] = (s, period, clock)
            self.counts["requested"] += 1
            sent.append(rid)
        if sent:
            log.info("scheduler: requested %d ended period(s): %s%s", len(sent), ", ".join(sent[:5]),
                     " ..." if len(sent) > 5 else "")
        return sent

    def on_result(self, result: dict) -> None:
        rid = result.get("request_id")
        entry = self.pending.get(rid)
        if entry is None:
            return
        status = result.get("status")
        if status == "completed":
            asyncio.ensure_future(self.materialize(entry[0], entry[1], result))
        elif status == "failed":
            self.pending.pop(rid, None)
            self.failed[rid] = (time.monotonic(), result.get("error") or "")
            self.counts["failed"] += 1
            log.warning("scheduled export %s failed: %s (retried in %.0f s)", rid, result.get("error"), RETRY_SECONDS)

    async def materialize(self, s: Schedule, period: Period, result: dict) -> None:
        rid = rules.request_id(s, period)
        relative = rules.relative_path(s, period)
        target = os.path.join(self.settings.export_dir, relative)
        try:
            if os.path.isfile(target):
                return
            os.makedirs(os.path.dirname(target), exist_ok=True)
            tmp = f"{target}.part"
            source = result.get("file")
            if source and os.path.isfile(source):
                shutil.copyfile(source, tmp)
            else:
                body = await fetch_from_owner(self.app, rid, self.settings.api_token)
                if body is None:
                    raise OSError(f"the export's file {source} is neither here nor downloadable")
                with open(tmp, "wb") as f:
                    f.write(body)
            os.replace(tmp, target)
            self.last_file[s.ident] = relative
            self.counts["written"] += 1
            log.info("scheduled export %s: %s rows -> %s", rid, result.get("rows"), relative)
        except Exception as exc:  # a disk or network problem: logged, tried again later
            self.failed[rid] = (time.monotonic(), str(exc))
            self.counts["failed"] += 1
            log.warning("scheduled export %s not written: %r", rid, exc)
        finally:
            self.pending.pop(rid, None)

    def describe(self) -> list[dict]:
        """The schedules and their state, for the export page."""
        out = []
        for s in self.schedules:
            out.append({
                "export_type": s.export_type, "every": s.every, "time_zone": s.time_zone,
                "channels": list(s.channels), "since": s.since, "folder": f"scheduled/{s.folder}",
                "last_file": self.last_file.get(s.ident),
                "pending": sorted(rid for rid, (p, _, _) in self.pending.items() if p == s),
                "leader": self.is_leader(),
            })
        if self.error:
            out.append({"error": self.error})
        return out


def register(app, runtime: Runtime, results: Results) -> Scheduler:
    s = runtime.settings
    error = None
    try:
        schedules = rules.load_schedules(s.schedules, s.schedule_file)
    except ScheduleError as exc:
        schedules, error = [], str(exc)
        log.error("scheduled exports disabled: %s", exc)
    scheduler = Scheduler(app, runtime, results, schedules, error)
    if schedules:
        log.info("scheduled exports: %s", "; ".join(f"{x.export_type} {x.every} {x.time_zone}" for x in schedules))

    @app.task
    async def run_scheduler():
        await scheduler.run()

    @app.on_partitions_assigned.connect
    async def schedule_on_assignment(app, assigned, **kwargs):
        scheduler.wake.set()

    return scheduler
