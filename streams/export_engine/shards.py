"""The shards of exports: each worker answers the shard requests of the partitions it owns.

A shard request (on ``export-shards``, partition *p* for state partition *p*)
is either ``catchup`` (wait until this worker has processed partition *p* of
the listed topics up to the listed offsets, flush, answer) or ``scan`` (wait
until this worker's copies of the replicated changelogs have caught up, scan
partition *p* of the report's tables, send the rows in parts to
``export-parts``). Each runs in a task of its own; a request delivered twice is
answered once; a shard whose partition moves answers with ``REASSIGNED`` at once.
A coordinator hands the requests of the partitions its own worker owns straight
to its shards (``Shards.owned``), so a live lookup of such a key costs no Kafka
round trip.
"""
from __future__ import annotations

import asyncio
import shutil
from collections import OrderedDict

from faust.exceptions import ConsumerNotStarted

from convoflow.exporters.explain import find_report
from convoflow.exporters.reports import shard_lines, shard_part
from convoflow.exporters.request import ExportRequest
from convoflow.streams.export_engine.inbox import Inbox
from convoflow.streams.export_engine.protocol import REASSIGNED, report_context
from convoflow.streams.replica import Replica
from convoflow.streams.codec import dumps, loads
from convoflow.streams.runtime import Runtime, log
from convoflow.streams.scan_process import ScanProcesses, read_part, read_runs, store_states

PART_BYTES = 256 * 1024
MAX_PART_BYTES = 900 * 1024  # under the broker's and producer's 1 MiB record limit
LOCAL_PARTS_AHEAD = 64  # parts (of about 256 KB) the shards may be ahead of a coordinator in its own process
SHARD_REQUESTS_KEPT = 4096  # shard requests a worker remembers, to answer each once


class Shards:
    """Answers shard requests for the partitions this worker owns."""

    def __init__(self, app, runtime: Runtime, replica: Replica, tables: dict, inbox: Inbox,
                 processes: ScanProcesses | None = None):
        self.app, self.runtime, self.replica, self.tables, self.inbox = app, runtime, replica, tables, inbox
        self.processes = processes
        self.running: dict[int, set] = {}
        self.seen: OrderedDict[tuple[str, int], None] = OrderedDict()  # (token, shard) of recent requests
        self.timeout = runtime.settings.export_timeout

    async def reply(self, token: str, shard: int, rows: list, done: bool, error: str | None = None,
                    lines: bool = False, run: int = 0) -> None:
        """A part of a shard's answer, to the coordinator waiting for it. When that is this process,
        the part goes straight to it: without Kafka, and for CSV lines (which the coordinator encodes
        into its spill file anyway) without JSON either; other rows go through JSON, so that they
        reach the merge as they would from another worker."""
        local = self.inbox.waiting.get(token)
        if local is not None:
            local.put_nowait({"shard": shard, "run": run, "rows": rows if lines else loads(dumps(rows)), "done": done,
                              "error": error})
            # Kafka held the parts the coordinator had not taken yet; here they wait in memory, so the
            # scan waits while the coordinator is LOCAL_PARTS_AHEAD parts behind (or has given up).
            await asyncio.sleep(0)
            while local.qsize() >= LOCAL_PARTS_AHEAD and self.inbox.waiting.get(token) is local:
                await asyncio.sleep(0.002)
            return
        value = dumps({"shard": shard, "run": run, "rows": rows, "done": done, "error": error})
        if len(value) > MAX_PART_BYTES and len(rows) > 1:  # a chunk of unusually long rows: in halves
            half = len(rows) // 2
            await self.reply(token, shard, rows[:half], False, run=run)
            await self.reply(token, shard, rows[half:], done, error, run=run)
            return
        await self.app.producer.send(self.runtime.settings.topic("export-parts"), token.encode(), value, None, None, None)

    def owned(self) -> set[int]:
        """The partitions whose shard requests this worker answers at this moment: those it owns as
        active, when no rebalance or recovery is under way (else none). A coordinator in this worker
        hands it their requests without the round trip through ``export-shards``."""
        app = self.app
        if app.rebalancing or not app.tables.recovery.completed.is_set():
            return set()
        try:
            assignment = app.consumer.assignment()
        except ConsumerNotStarted:
            return set()
        topic = self.runtime.settings.topic("export-shards")
        return {tp.partition for tp in assignment if tp.topic == topic}

    def start(self, event) -> None:
        self.take(loads(event.value))

    def take(self, req: dict) -> None:
        """Answer a shard request (from ``export-shards``, or from a coordinator in this worker) in a task."""
        request = (req["token"], req["shard"])
        if request in self.seen:
            # Delivered again (its partition read again while a broker was away): the first delivery answers
            # it; a second answer would give the coordinator every row of the shard twice.
            log.info("shard %d of %s: request delivered again, answered once", req["shard"], req["token"])
            return
        self.seen[request] = None
        while len(self.seen) > SHARD_REQUESTS_KEPT:
            self.seen.popitem(last=False)
        task = asyncio.ensure_future(self.handle(req))
        self.running.setdefault(req["shard"], set()).add((task, req["token"]))
        task.add_done_callback(lambda t: self.running.get(req["shard"], set()).discard((t, req["token"])))

    async def on_revoked(self, partitions: set[int]) -> None:
        """Shards of partitions that moved answer with an error at once (the coordinator retries)."""
        for p in partitions:
            for task, token in list(self.running.pop(p, ())):
                task.cancel()
                await self.reply(token, p, [], True, error=f"{REASSIGNED}: partition {p} moved to another worker")

    async def handle(self, req: dict) -> None:
        token, p = req["token"], req["shard"]
        try:
            if req["op"] == "catchup" and req.get("warm"):
                await self.warm(p, find_report(req["warm"]))
            await self.runtime.wait_processed(req["offsets"], p, self.timeout)
            if req["op"] == "catchup":
                await self.app.producer.flush()
                await self.reply(token, p, [], True)
                return
            await self.replica.wait_for(req["replica"], self.timeout)
            await self.scan(token, p, req)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("shard %d of %s failed: %r", p, token, exc)
            await self.reply(token, p, [], True, error=str(exc) or repr(exc))

    def stores(self, report, p: int) -> dict:
        """{table: partition ``p``'s database} of the tables ``report`` reads."""
        return {source: self.tables[source].data.partition_db(p) for source in report.sources}

    async def warm(self, p: int, report) -> None:
        """An export of ``report`` is catching up: when its scan of partition ``p`` will go to a helper,
        have one starting meanwhile."""
        if self.processes is None:
            return
        try:
            if self.processes.wanted(self.stores(report, p), report.key_cost):
                await self.processes.warm()
        except Exception as exc:  # the scan starts its own helper then
            log.warning("shard %d: starting an export helper ahead of the scan failed: %r", p, exc)

    async def scan(self, token: str, p: int, req: dict) -> None:
        report = find_report(req["report"])
        keys = req.get("keys")
        dbs = self.stores(report, p)
        wide = req.get("lines") or report.aggregate  # a whole row report, or partials of groups
        if wide and keys is None and self.processes is not None and self.processes.wanted(dbs, report.key_cost):
            await self.scan_with_process(token, p, req, dbs)
            return
        ctx = report_context(self.replica, self.runtime, ExportRequest.from_params(req["request"]), req["as_of_us"])
        states = store_states(report, dbs, keys)
        if req.get("lines"):
            await self.send(token, p, shard_lines(report, ctx, states), _line_size, lines=True)
        else:
            await self.send(token, p, ((0, item) for item in shard_part(report, ctx, states)), _json_size)

    async def scan_with_process(self, token: str, p: int, req: dict, dbs: dict) -> None:
        """A shard scanned by a process of its own (``convoflow.streams.scan_process``). Of a row report, a
        coordinator in this worker takes its run files as they are; one in another worker gets their
        lines as parts. An aggregate report's partials reach a coordinator in this worker as one part,
        as read from the helper's JSON, and one in another worker as the worker's own scan sends them."""
        job = {"report": req["report"], "request": req["request"], "as_of_us": req["as_of_us"],
               "directory": self.replica.directory.entries, "url_template": self.runtime.settings.url_template}
        directory, runs = await self.processes.scan(f"{token}-{p}", job, dbs, self.replica.identifiers, export=token)
        self.runtime.scan_processes += 1
        if not req.get("lines"):
            try:
                part = read_part(runs)
            finally:
                shutil.rmtree(directory, ignore_errors=True)
            local = self.inbox.waiting.get(token)
            if local is not None:  # read from JSON already, as the parts of another worker arrive: whole
                local.put_nowait({"shard": p, "run": 0, "rows": part, "done": True, "error": None})
                return
            await self.send(token, p, ((0, item) for item in part), _json_size)
            return
        try:
            local = self.inbox.waiting.get(token)
            if local is not None:
                local.put_nowait({"shard": p, "run": 0, "rows": [], "done": True, "error": None,
                                  "files": {"directory": directory, "runs": runs}})
                directory = None  # the coordinator's now
                return
            await self.send(token, p, read_runs(runs), _line_size, lines=True)
        finally:
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)

    async def send(self, token: str, p: int, items, size_of, lines: bool = False) -> None:
        """A shard's ``(run, item)`` in parts of about PART_BYTES, each of one run."""
        chunk, size, current = [], 0, 0
        for run, item in items:
            if run != current and chunk:
                await self.reply(token, p, chunk, False, lines=lines, run=current)
                chunk, size = [], 0
            current = run
            chunk.append(item)
            size += size_of(item)
            if size >= PART_BYTES:
                await self.reply(token, p, chunk, False, lines=lines, run=current)
                chunk, size = [], 0
        await self.reply(token, p, chunk, True, lines=lines, run=current)


def _json_size(item) -> int:
    return len(dumps(item))


def _line_size(item) -> int:
    """About a [sort_key, line] pair's JSON size (the key is at most the row again); ``reply``
    splits a chunk that comes out larger than a record may be."""
    return 2 * len(item[1]) + 64
