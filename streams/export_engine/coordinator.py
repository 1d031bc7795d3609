"""The coordinator of an export: the worker that receives the request on ``export-requests``.

1. reads the end offsets of every input and internal re-keying topic and asks
   every shard (one record per partition on ``export-shards``, which is
   partitioned like the tables, so the owner of each partition gets it) to
   catch up to them (``catch_up``);
2. reads them again and, if they moved, asks again: what the last round applied
   may have sent records on (a re-routed copy of a record published without its
   key, what conversations send to contacts, agents and teams), and those are
   applied too; at most ``CATCHUP_HOPS`` rounds;
3. reads the end offsets of the replicated changelogs and asks every shard to
   scan its partition once its copy of them has caught up; each shard sends its
   rows to ``export-parts``;
4. merges (sorts) the rows, writes the CSV file and publishes the result.

Live lookups and the dashboard use ``collect`` too, on the partitions that own
their keys, or on all of them.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from datetime import datetime, timezone

from convoflow.contract.events import TOPICS
from convoflow.contract.times import parse_time
from convoflow.contract.topics import changelog_topic, end_offsets
from convoflow.exporters import csvfile
from convoflow.exporters.reports import REPORTS, Report, merge_parts
from convoflow.exporters.runs import append_run, merge_lines, read_run
from convoflow.exporters.request import BadRequest, ExportRequest, parse_request
from convoflow.streams.export_engine.inbox import Inbox
from convoflow.streams.export_engine.protocol import REASSIGNED, report_context
from convoflow.streams.replica import Replica
from convoflow.streams.codec import dumps, loads
from convoflow.streams.outbox import partition_for
from convoflow.streams.runtime import Runtime, log

REBALANCE_RETRIES = 5
# The longest chain of records that one published record leads to before the tables hold it:
# the record as published, the copy a worker re-publishes under its contract key
# (streams/ingest.py), and what applying that copy sends on contact-updates and people-updates.
# A catch-up round applies one link of every chain and flushes what it sent, so this many rounds
# apply them all, even while new records keep arriving.
CATCHUP_HOPS = 3


class ShardMoved(Exception):
    """A shard's partition moved to another worker during an export."""


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Coordinator:
    def __init__(self, app, runtime: Runtime, replica: Replica, inbox: Inbox, log_table, shards):
        self.app = app
        self.shards = shards  # this worker's Shards: the requests of partitions it owns go straight to them
        self.runtime = runtime
        self.replica = replica
        self.inbox = inbox
        self.log_table = log_table
        s = runtime.settings
        self.inputs = [s.topic(t) for t in TOPICS]
        self.internal = [s.topic("contact-updates"), s.topic("people-updates")]
        self.replicated = [changelog_topic(s, "directory"), changelog_topic(s, "contacts")]
        self.timeout = runtime.settings.export_timeout
        self.running: dict[str, asyncio.Future] = {}

    def start(self, event) -> None:
        """Handle a request in its own task; a repeat of a running request id waits for it first."""
        try:
            rid = loads(event.value).get("request_id")
        except (ValueError, AttributeError, TypeError):  # not JSON, or not an object: handle() says so
            rid = None
        previous = self.running.get(rid) if isinstance(rid, str) else None

        async def run():
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            await self.handle(event)

        task = asyncio.ensure_future(run())
        if isinstance(rid, str):
            self.running[rid] = task
            task.add_done_callback(lambda t: self.running.pop(rid, None) if self.running.get(rid) is t else None)

    async def publish_result(self, rid: str, result: dict) -> None:
        await self.app.producer.send(
            self.runtime.settings.topic("export-results"), rid.encode(), dumps(result), None, None, None
        )

    async def handle(self, event) -> None:
        msg = event.message
        requested_at = datetime.fromtimestamp(msg.timestamp, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        try:
            req = parse_request(event.value)
        except BadRequest as exc:
            if exc.request_id is None:
                await self.runtime.dead_letter(event.message, f"export request without a usable request_id: {exc.reason}")
                return
            await self.fail(exc.request_id, exc.export_type, requested_at, exc.reason)
            return
        previous = loads(self.log_table.get(req.request_id))
        if previous is not None:
            if previous["params"] == loads(dumps(req.params())):
                await self.publish_result(req.request_id, previous["result"])
            else:
                await self.fail(req.request_id, req.export_type, requested_at,
                                f"request_id {req.request_id} was already used with different parameters")
            return
        base = {"request_id": req.request_id, "export_type": req.export_type, "requested_at": requested_at}
        await self.publish_result(req.request_id, {**base, "status": "running"})
        started = time.monotonic()
        try:
            rows, path = await self.run(req)
        except Exception as exc:  # a failed export never stops the processor
            log.warning("export %s failed: %s", req.request_id, exc)
            self.runtime.exports.append((req.export_type, "failed", time.monotonic() - started))
            await self.fail(req.request_id, req.export_type, requested_at, f"export failed: {exc}")
            return
        self.runtime.exports.append((req.export_type, "completed", time.monotonic() - started))
        result = {**base, "status": "completed", "rows": rows, "file": path, "error": None, "finished_at": now_rfc3339()}
        self.log_table[req.request_id] = dumps({"params": req.params(), "result": result})
        await self.publish_result(req.request_id, result)
        log.info("export %s %s: %d rows in %.2f s -> %s", req.request_id, req.export_type, rows, time.monotonic() - started, path)

    async def fail(self, rid, export_type, requested_at, reason) -> None:
        await self.publish_result(rid, {
            "request_id": rid, "status": "failed", "export_type": export_type, "rows": None, "file": None,
            "error": reason, "requested_at": requested_at, "finished_at": now_rfc3339(),
        })

    async def run(self, req: ExportRequest) -> tuple[int, str]:
        report = REPORTS.get(req.export_type)
        if report is None:
            raise BadRequest(f"export type {req.export_type} is not available yet")
        as_of_us = parse_time(req.as_of or now_rfc3339())
        os.makedirs(self.runtime.settings.export_dir, exist_ok=True)
        path = os.path.abspath(os.path.join(self.runtime.settings.export_dir, f"{req.request_id}.csv"))
        if report.aggregate:
            rows = await self.collect(report, req, as_of_us)
            return csvfile.write(path, report.header, (r[1] for r in rows)), path
        return await self.collect(report, req, as_of_us, path=path), path

    async def collect(self, report: Report, req: ExportRequest, as_of_us: int, keys: dict | None = None,
                      path: str | None = None, fresh: bool = False):
        """``collect_once``, again when a partition moved to another worker in the middle."""
        for attempt in range(REBALANCE_RETRIES):
            try:
                return await self.collect_once(report, req, as_of_us, keys, path, fresh)
            except ShardMoved:
                if attempt == REBALANCE_RETRIES - 1:
                    raise RuntimeError(f"partitions kept moving between workers ({REBALANCE_RETRIES} tries); retry later")
                log.info("export %s: a partition moved during the export; starting again", req.request_id)
                await asyncio.sleep(1.0)

    async def collect_once(self, report: Report, req: ExportRequest, as_of_us: int, keys: dict | None = None,
                           path: str | None = None, fresh: bool = False):
        """Sorted (sort_key, row) of a report from every shard, or with ``path`` the rows' count once
        they are written there.

        Without ``keys``: an export, read-your-writes (catch up first, then scan
        every partition). With ``keys`` ({table: [["exact"|"prefix", key], ...]}):
        a live lookup, only the partitions that own those keys, scanned as they are (``fresh``: after
        every shard has caught up, as for an export).
        """
        await asyncio.wait_for(self.inbox.started.wait(), self.timeout)
        consumer = self.inbox.offsets
        if keys is None or fresh:
            # A whole report's shards may go to export helpers (a row report written to a file, or the
            # partials of an aggregate one): they start while the shards catch up.
            wide = keys is None and (path is not None or report.aggregate)
            await self.catch_up(req, report.export_type if wide else None)
        if keys is None:
            scan = dict(offsets={}, replica=await end_offsets(consumer, self.replicated), request=req.params(),
                        as_of_us=as_of_us, report=report.export_type)
            if path is not None:
                return await self.write_lines(req, report, path, scan)
            parts = await self.fan_out(req, "scan", **scan)
        else:
            # Each entry is [kind, key] or [kind, key, partition key] (a prefix routes by its owner's key).
            shards = sorted({partition_for(k[-1], self.runtime.settings.partitions) for ks in keys.values() for k in ks})
            parts = await self.fan_out(req, "scan", shards=shards, offsets={}, replica={}, request=req.params(),
                                       as_of_us=as_of_us, keys=keys, report=report.export_type)
        return merge_parts(report, report_context(self.replica, self.runtime, req, as_of_us), parts)

    async def catch_up(self, req: ExportRequest, warm: str | None = None) -> None:
        """Read-your-writes: every record the broker held when this starts is applied, and so is
        every record that applying it sent on, hop after hop.

        A round reads the end offsets of the input and internal topics and has every shard process
        its partition up to them and flush what that sent. The next round reads them again: when
        nothing moved, everything those records sent is applied; when they moved, another round
        applies it (with what others published meanwhile). ``CATCHUP_HOPS`` rounds cover the
        longest chain, so a busy broker cannot keep an export catching up. ``warm``: the report whose
        scan follows, for the shards to start export helpers meanwhile (with the first round).
        """
        consumer, done = self.inbox.offsets, None
        for _ in range(CATCHUP_HOPS):
            ends = await end_offsets(consumer, self.inputs + self.internal)
            if ends == done:
                return
            await self.fan_out(req, "catchup", offsets=ends, warm=warm if done is None else None)
            done = ends

    async def write_lines(self, req: ExportRequest, report: Report, path: str, scan: dict) -> int:
        """A row report written as its shards' sorted lines arrive: each run of each shard goes
        to a file (or is one already, written by a scan process), and the files are merged into
        the CSV, so no export is held in memory. A large merge is split by key range across the
        export helpers (``ScanProcesses.merge``)."""
        processes = self.shards.processes
        if processes is not None:
            os.makedirs(processes.root, exist_ok=True)
        received = tempfile.mkdtemp(prefix="runs-", dir=processes.root if processes else None)
        made: list = [received]  # directories of run files, this export's to delete
        runs: dict[tuple, str] = {}  # (shard, ..., run) -> its file, in the order they came
        writing: dict[tuple, object] = {}  # the files of the runs that come as rows

        def sink(part: dict) -> None:
            if part.get("files"):
                made.append(part["files"]["directory"])
                for run, run_path in part["files"]["runs"]:
                    runs[part["shard"], "process", run] = run_path
            if part["rows"]:
                key = (part["shard"], part["run"])
                if key not in writing:
                    runs[key] = os.path.join(received, f"{part['shard']}-{part['run']}.jsonl")
                    writing[key] = open(runs[key], "wb")
                append_run(writing[key], part["rows"])

        try:
            try:
                await self.fan_out(req, "scan", sink=sink, lines=True, **scan)
            finally:
                for f in writing.values():
                    f.close()
            paths = list(runs.values())
            if processes is not None and processes.splits(paths):
                tmp = f"{path}.part"
                try:
                    with open(tmp, "w", encoding="utf-8", newline="") as f:
                        f.write(csvfile.line_formatter()(report.header))
                    count = await processes.merge(paths, tmp)
                    os.replace(tmp, path)
                    self.runtime.split_merges += 1
                except BaseException:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(tmp)
                    raise
                return count
            files = [open(p, "rb") for p in paths]
            try:
                return csvfile.write_lines(path, report.header, merge_lines(read_run(f) for f in files))
            finally:
                for f in files:
                    f.close()
        finally:
            for directory in made:
                shutil.rmtree(directory, ignore_errors=True)

    async def fan_out(self, req: ExportRequest, op: str, shards: list[int] | None = None, sink=None,
                      **body) -> list[list]:
        """Send one shard request per partition (or per listed partition); wait for every shard's rows,
        kept in memory, or each part handed to ``sink(part)`` as it comes. The request of a partition
        this worker owns goes straight to its shard, the others through ``export-shards``."""
        s = self.runtime.settings
        shards = list(range(s.partitions)) if shards is None else shards
        token = f"{req.request_id}.{uuid.uuid4().hex[:12]}"
        queue = self.inbox.waiting[token] = asyncio.Queue()
        try:
            here = self.shards.owned()
            for p in shards:
                value = dumps({"token": token, "op": op, "shard": p, **body})
                if p in here:
                    self.shards.take(loads(value))  # as it would arrive from export-shards, without the hop
                else:
                    await self.app.producer.send(s.topic("export-shards"), None, value, p, None, None)
            rows: dict[int, list] = {p: [] for p in shards}
            done: set[int] = set()
            while len(done) < len(shards):
                part = await asyncio.wait_for(queue.get(), timeout=self.timeout)
                if part.get("error"):
                    if part["error"].startswith(REASSIGNED):
                        raise ShardMoved(part["error"])
                    raise RuntimeError(f"shard {part['shard']}: {part['error']}")
                if sink is None:
                    rows[part["shard"]].extend(part["rows"])
                else:
                    sink(part)
                if part["done"]:
                    done.add(part["shard"])
            return list(rows.values())
        except asyncio.TimeoutError:
            raise RuntimeError(f"shards did not answer within {self.timeout:.0f} s ({op})") from None
        finally:
            del self.inbox.waiting[token]
