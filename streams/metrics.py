"""GET /metrics (Prometheus text exposition format 0.0.4, written by hand), and readable rebalance logs.

Every worker serves its own figures (scrape every worker):

- ``convoflow_events_total{topic,type}``: accepted events (runtime.events);
- ``convoflow_dead_letters_total{reason}``: rejected records by reason kind;
- ``convoflow_consumer_lag{topic,partition}``, ``..._position``, ``..._end_offset``: per assigned
  partition, the end offset on the broker minus how far this worker has processed (in this
  process, or committed before it);
- ``convoflow_table_keys{table,partition}``: RocksDB's estimate of the keys of each partition's store;
- ``convoflow_exports_total{export_type,status}`` and the histogram
  ``convoflow_export_duration_seconds{export_type}`` of exports this worker coordinated;
- ``convoflow_export_scan_processes_total``: shards this worker scanned in a process of their own;
- ``convoflow_export_split_merges_total``: exports whose merge into the CSV file the export processes
  split by key range;
- ``convoflow_recovery_in_progress``, ``convoflow_recovery_done``, ``convoflow_recovery_remaining_records``,
  ``convoflow_rebalances_total``, ``convoflow_assigned_partitions``;
- ``convoflow_replica_entries{kind}``, ``convoflow_schedules``, ``convoflow_schedule_leader``,
  ``convoflow_scheduled_exports_total{result}``, ``convoflow_export_results_seen``.

It also logs one line per rebalance (partitions revoked, assigned) and per
recovery (tables restored, how long it took), instead of Faust's many.
"""
from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict

from faust.web import Request, Response, View

from convoflow.contract.topics import end_offsets
from convoflow.streams.export_results import Results
from convoflow.streams.runtime import Runtime, log
from convoflow.streams.state.memory import ROCKSDB_BUDGET, shared_rocksdb_memory

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


def escape(value) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def number(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        if math.isnan(value):
            return "NaN"
        return repr(value)
    return str(int(value))


class Exposition:
    """Families of samples in the text format: # HELP, # TYPE, then name{labels} value."""

    def __init__(self):
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str, samples) -> None:
        """samples: (name suffix, {label: value}, value)."""
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for suffix, labels, value in samples:
            label_text = ",".join(f'{k}="{escape(v)}"' for k, v in labels.items())
            self.lines.append(f"{name}{suffix}{{{label_text}}} {number(value)}" if label_text
                              else f"{name}{suffix} {number(value)}")

    def gauge(self, name: str, help_text: str, value) -> None:
        self.family(name, "gauge", help_text, [("", {}, value)])

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


# RocksDB property -> the labels its samples carry besides table and partition
TABLE_KEYS = {"rocksdb.estimate-num-keys": {}}
TABLE_MEMORY = {"rocksdb.cur-size-all-mem-tables": {"kind": "memtables"},
                "rocksdb.estimate-table-readers-mem": {"kind": "table_readers"}}


def export_samples(exports) -> tuple[list, list]:
    """(exports_total samples, duration histogram samples) from runtime.exports."""
    totals: dict[tuple, int] = defaultdict(int)
    durations: dict[str, list[float]] = defaultdict(list)
    for export_type, status, seconds in list(exports):
        totals[(export_type, status)] += 1
        durations[export_type].append(seconds)
    total_samples = [("", {"export_type": t, "status": s}, n) for (t, s), n in sorted(totals.items())]
    histogram = []
    for export_type, values in sorted(durations.items()):
        for bound in DURATION_BUCKETS:
            histogram.append(("_bucket", {"export_type": export_type, "le": repr(bound)},
                              sum(1 for v in values if v <= bound)))
        histogram.append(("_bucket", {"export_type": export_type, "le": "+Inf"}, len(values)))
        histogram.append(("_sum", {"export_type": export_type}, float(sum(values))))
        histogram.append(("_count", {"export_type": export_type}, len(values)))
    return total_samples, histogram


class Metrics:
    def __init__(self, app, runtime: Runtime, results: Results, scheduler=None, replica=None):
        self.app, self.runtime, self.results, self.scheduler, self.replica = app, runtime, results, scheduler, replica
        self.rebalances = 0
        self.rebalance_started: float | None = None

    def assignment(self) -> set:
        consumer = getattr(self.app, "consumer", None)
        try:
            return set(consumer.assignment()) if consumer is not None else set()
        except Exception:
            return set()

    async def lag_samples(self) -> tuple[list, list, list]:
        tps = sorted(tp for tp in self.assignment() if not tp.topic.endswith("-changelog") and "__assignor" not in tp.topic)
        if not tps or self.results.consumer is None:
            return [], [], []
        consumer = self.results.consumer
        topics = sorted({tp.topic for tp in tps})
        try:
            # Track every topic in one metadata round (end_offsets would add them one by one).
            missing = [t for t in topics if not consumer.partitions_for_topic(t)]
            if missing:
                await asyncio.wait_for(asyncio.gather(*(consumer._client.add_topic(t) for t in missing)), 5.0)
            ends = await asyncio.wait_for(end_offsets(consumer, topics), 5.0)
        except Exception as exc:  # the broker is away: the scrape still answers, without lag
            log.warning("metrics: end offsets unavailable: %r", exc)
            return [], [], []
        lag, position, end = [], [], []
        for tp in tps:
            high = ends.get(tp.topic, {}).get(tp.partition)
            if high is None:
                continue
            done = self.runtime.position(tp.topic, tp.partition)
            labels = {"topic": tp.topic, "partition": tp.partition}
            lag.append(("", labels, max(0, high - done)))
            position.append(("", labels, done))
            end.append(("", labels, high))
        return lag, position, end

    def table_samples(self, properties: dict[str, dict]) -> list:
        """RocksDB integer properties of every open table partition, with each property's labels."""
        samples = []
        tables = getattr(self.app, "tables", None)
        for name, table in sorted((tables or {}).items()):
            store = getattr(table, "data", None)
            dbs = store.open_partitions() if hasattr(store, "open_partitions") else {}
            for partition, db in sorted(dbs.items()):
                for prop, labels in properties.items():
                    try:
                        value = db.property_int_value(prop)
                    except Exception:
                        continue
                    if value is not None:
                        samples.append(("", {"table": name, "partition": partition, **labels}, value))
        return samples

    def recovery(self) -> dict:
        tables = getattr(self.app, "tables", None)
        recovery = getattr(tables, "_recovery", None) if tables is not None else None
        if recovery is None:
            return {"in_progress": False, "done": False, "remaining": 0}
        remaining = 0
        for tp, high in list(recovery.active_highwaters.items()):
            remaining += max(0, high - recovery.active_offsets.get(tp, -1))
        return {"in_progress": bool(recovery.in_recovery), "done": recovery.completed.is_set(),
                "remaining": remaining if recovery.in_recovery else 0}

    async def render(self) -> str:
        r = self.runtime
        out = Exposition()
        out.gauge("convoflow_up", "1 while the worker answers.", 1)
        out.family("convoflow_events_total", "counter", "Events accepted, per topic and event type.",
                   [("", {"topic": t, "type": typ}, n) for (t, typ), n in sorted(r.events.items())])
        out.family("convoflow_dead_letters_total", "counter", "Records sent to dead-letters, per reason kind.",
                   [("", {"reason": reason}, n) for reason, n in sorted(r.dead_letters.items())])
        lag, position, end = await self.lag_samples()
        out.family("convoflow_consumer_lag", "gauge",
                   "Records not yet processed, per assigned topic partition (end offset - position).", lag)
        out.family("convoflow_consumer_position", "gauge",
                   "Next offset to process, per assigned topic partition (processed here or committed).", position)
        out.family("convoflow_consumer_end_offset", "gauge", "End offset on the broker, per assigned topic partition.", end)
        out.family("convoflow_table_keys", "gauge",
                   "Estimated keys per table partition (RocksDB rocksdb.estimate-num-keys).",
                   self.table_samples(TABLE_KEYS))
        out.family("convoflow_table_memory_bytes", "gauge",
                   "RocksDB memory per table partition: write buffers (memtables), index and filters.",
                   self.table_samples(TABLE_MEMORY))
        cache, write_buffers = shared_rocksdb_memory()
        out.family("convoflow_rocksdb_memory_bytes", "gauge",
                   "The RocksDB cache every store of this worker shares: in use (write buffers included), "
                   "its capacity, and the write buffers' share.",
                   [("", {"kind": "cache_usage"}, cache.get_usage()),
                    ("", {"kind": "cache_capacity"}, ROCKSDB_BUDGET["cache"]),
                    ("", {"kind": "write_buffers"}, write_buffers.get_usage())])
        totals, histogram = export_samples(r.exports)
        out.family("convoflow_exports_total", "counter", "Exports coordinated by this worker, per type and status.", totals)
        out.family("convoflow_export_duration_seconds", "histogram",
                   "Time from request to file of exports coordinated by this worker.", histogram)
        out.family("convoflow_export_scan_processes_total", "counter",
                   "Export shards of this worker scanned by a process of their own.", [("", {}, r.scan_processes)])
        out.family("convoflow_export_split_merges_total", "counter",
                   "Exports whose merge into the CSV file the export processes split by key range.",
                   [("", {}, r.split_merges)])
        rec = self.recovery()
        out.gauge("convoflow_recovery_in_progress", "1 while tables are restored from their changelogs.", rec["in_progress"])
        out.gauge("convoflow_recovery_done", "1 once the tables of the current assignment are restored.", rec["done"])
        out.gauge("convoflow_recovery_remaining_records", "Changelog records left to restore.", rec["remaining"])
        out.family("convoflow_rebalances_total", "counter", "Partition assignments received by this worker.",
                   [("", {}, self.rebalances)])
        partitions = {tp.partition for tp in self.assignment()
                      if not tp.topic.endswith("-changelog") and "__assignor" not in tp.topic}
        out.gauge("convoflow_assigned_partitions", "Partitions (of every topic) this worker owns.", len(partitions))
        if self.replica is not None:
            contacts = self.replica.identifiers
            out.family("convoflow_replica_entries", "gauge",
                       "Entries of the directory copy, and RocksDB's estimate of the contact identifiers' copy.", [
                ("", {"kind": "directory"}, len(self.replica.directory.entries)),
                ("", {"kind": "contact_identifiers"}, contacts.estimated_count() if contacts is not None else 0),
            ])
        out.gauge("convoflow_export_results_seen", "Recent export results this worker knows.", len(self.results.latest))
        if self.scheduler is not None:
            sch = self.scheduler
            out.gauge("convoflow_schedules", "Scheduled exports configured.", len(sch.schedules))
            out.gauge("convoflow_schedule_config_error", "1 when the schedule configuration was rejected.", sch.error is not None)
            out.gauge("convoflow_schedule_leader", "1 on the worker that runs the scheduler.", sch.is_leader())
            out.gauge("convoflow_schedule_pending", "Scheduled exports requested, not yet written.", len(sch.pending))
            out.family("convoflow_scheduled_exports_total", "counter", "Scheduled exports requested, written, failed.",
                       [("", {"result": k}, v) for k, v in sorted(sch.counts.items())])
        return out.text()

    # ------------------------------------------------------------ readable rebalance logs

    async def on_revoked(self, revoked) -> None:
        if revoked:
            self.rebalance_started = time.monotonic()
            log.info("rebalance: partitions %s revoked", describe(revoked))

    async def on_assigned(self, assigned) -> None:
        self.rebalances += 1
        self.rebalance_started = self.rebalance_started or time.monotonic()
        log.info("rebalance: partitions %s assigned; restoring tables", describe(assigned))

    async def on_complete(self) -> None:
        took = time.monotonic() - self.rebalance_started if self.rebalance_started else 0.0
        self.rebalance_started = None
        log.info("recovery done in %.1f s: tables ready, processing partitions %s",
                 took, describe(self.assignment()))


def describe(tps) -> str:
    """[0, 2] of the worker's topics (changelog partitions are not counted separately)."""
    parts = sorted({tp.partition for tp in tps if not tp.topic.endswith("-changelog") and "__assignor" not in tp.topic})
    return "[" + ", ".join(map(str, parts)) + "]" if parts else "[] (none)"


def register(app, runtime: Runtime, results: Results, scheduler=None, replica=None) -> Metrics:
    metrics = Metrics(app, runtime, results, scheduler, replica)

    @app.page("/metrics")
    class MetricsView(View):
        async def get(self, request: Request) -> Response:
            # aiohttp refuses a charset in content_type=: the header carries it.
            return self.bytes((await metrics.render()).encode(), headers={"Content-Type": CONTENT_TYPE})

    @app.on_partitions_revoked.connect
    async def log_revoked(app, revoked, **kwargs):
        await metrics.on_revoked(revoked)

    @app.on_partitions_assigned.connect
    async def log_assigned(app, assigned, **kwargs):
        await metrics.on_assigned(assigned)

    @app.on_rebalance_complete.connect
    async def log_recovered(app, **kwargs):
        await metrics.on_complete()

    return metrics
