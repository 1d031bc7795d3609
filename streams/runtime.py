"""What the agents share in one worker: settings, processed offsets, dead letters, partition context."""
from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field

import orjson
from aiokafka.partitioner import murmur2

from convoflow.contract.config import Settings

log = logging.getLogger("convoflow")


# Each table partition is its own RocksDB: 28 stores with 7 tables and 4 partitions, more with more
# partitions. Faust gives every store its own block cache (2 GiB by default) and write buffers
# (3 x 64 MiB), so a worker's memory grew with its partitions and its state. All the stores of a
# process share one cache instead (shared_rocksdb_memory, used by convoflow.streams.faust_ext.store), and their
# write buffers are charged to it, so RocksDB holds about the cache's capacity in all
# (CONVOFLOW_ROCKSDB_CACHE_MB, of which at most CONVOFLOW_ROCKSDB_WRITE_BUFFERS_MB of memtables).
# Export scans bypass the cache.
ROCKSDB_OPTIONS = {"write_buffer_size": 16 * 1024 * 1024, "max_write_buffer_number": 3}
ROCKSDB_BUDGET: dict = {}  # set by configure_rocksdb_memory; Settings holds the defaults
_SHARED_ROCKSDB: dict = {}


def configure_rocksdb_memory(cache_bytes: int, write_buffers_bytes: int) -> None:
    """The shared cache's capacity and the write buffers' share of it (also once stores are open)."""
    ROCKSDB_BUDGET.update(cache=cache_bytes, write_buffers=write_buffers_bytes)
    if _SHARED_ROCKSDB:
        _SHARED_ROCKSDB["cache"].set_capacity(cache_bytes)
        _SHARED_ROCKSDB["write_buffers"].set_buffer_size(write_buffers_bytes)


def shared_rocksdb_memory():
    """(cache, write buffer manager) shared by every RocksDB store this process opens."""
    if not _SHARED_ROCKSDB:
        import rocksdict

        if not ROCKSDB_BUDGET:  # a store opened outside create_app (tests, tools): the default settings
            configure_rocksdb_memory(*Settings().rocksdb_memory())
        cache = rocksdict.Cache(ROCKSDB_BUDGET["cache"])
        _SHARED_ROCKSDB["cache"] = cache
        _SHARED_ROCKSDB["write_buffers"] = rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(
            ROCKSDB_BUDGET["write_buffers"], False, cache)
    return _SHARED_ROCKSDB["cache"], _SHARED_ROCKSDB["write_buffers"]


def share_memory(options, tables) -> None:
    """Give a store's options (and its block-based table options) the process's shared cache and write buffers."""
    cache, write_buffers = shared_rocksdb_memory()
    options.set_write_buffer_manager(write_buffers)
    tables.set_block_cache(cache)
    options.set_block_based_table_factory(tables)


@dataclass
class Runtime:
    settings: Settings
    app: object = None
    # Next offset to process per (topic, partition), as far as this process has gone.
    processed: dict = field(default_factory=dict)
    counts: dict = field(default_factory=lambda: defaultdict(int))
    # For /metrics: accepted events per (topic, type), dead letters per reason kind, finished exports.
    events: dict = field(default_factory=lambda: defaultdict(int))
    dead_letters: dict = field(default_factory=lambda: defaultdict(int))
    exports: list = field(default_factory=list)  # (export_type, status, seconds)
    scan_processes: int = 0  # export shards scanned by a process of their own (convoflow.streams.scan_process)
    sent: SentInProcess = field(default_factory=lambda: SentInProcess())
    notes: list = field(default_factory=list)  # what happened before logging was set up, logged at start

    def table(self, name: str):
        """A table of raw bytes in RocksDB, partitioned like the input topics."""
        return self.app.Table(name, default=None, key_type=bytes, value_type=bytes, partitions=self.settings.partitions,
                              options=dict(ROCKSDB_OPTIONS))

    def mark(self, topic: str, partition: int, next_offset: int) -> None:
        """Records of the partition before ``next_offset`` are applied."""
        key = (topic, partition)
        if self.processed.get(key, -1) < next_offset:
            self.processed[key] = next_offset

    def position(self, topic: str, partition: int) -> int:
        """How far this worker has processed a partition: in this process, or committed before it."""
        done = self.processed.get((topic, partition), 0)
        consumer = getattr(self.app, "consumer", None)
        if consumer is not None:
            from faust.types import TP

            committed = consumer.committed(TP(topic, partition))
            if committed:
                done = max(done, committed)
        return done

    async def wait_processed(self, ends: dict[str, dict[int, int]], partition: int, timeout: float) -> None:
        """Wait until this worker has processed every topic's `partition` up to its end offset."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            behind = [
                (topic, end) for topic, parts in ends.items()
                if (end := parts.get(str(partition), parts.get(partition, 0))) > self.position(topic, partition)
            ]
            if not behind:
                return
            if loop.time() > deadline:
                raise TimeoutError(f"partition {partition} did not catch up with {behind} in {timeout:.0f} s")
            await asyncio.sleep(0.01)

    async def dead_letter(self, msg, reason: str) -> None:
        """The original key and value bytes of a record, with headers naming where it came from and why."""
        self.counts["dead_letters"] += 1
        self.dead_letters[reason_kind(reason)] += 1
        headers = [
            ("source_topic", msg.topic.encode()),
            ("source_partition", str(msg.partition).encode()),
            ("source_offset", str(msg.offset).encode()),
            ("reason", reason.encode()),
        ]
        await self.app.producer.send(
            self.settings.topic("dead-letters"), msg.key, msg.value, partition=None, timestamp=None, headers=headers
        )
        log.info("dead letter from %s[%d]@%d: %s", msg.topic, msg.partition, msg.offset, reason)


OFFSET_KEY = b"__faust\0offset__"  # faust.stores.rocksdb.Store.offset_key: the changelog offset a store holds

# The partition whose store a batch's table reads and writes go to (``partition_context``).
_partition: contextvars.ContextVar[int] = contextvars.ContextVar("convoflow_partition")


class TableWriter:
    """Reads and writes a Faust table's partition directly: into its RocksDB at once, to the
    changelog when the batch ends (``flush``), which the agent awaits before the batch
    is acknowledged.

    A ``table[key] = value`` went through Faust's dict wrapper, its key index (under a
    lock), a future and a buffer per record, and a second RocksDB put per record for
    the changelog offset: about 12 % of a busy worker. This writes the same bytes to
    the same store and changelog partition, and the offset once per batch and
    partition. Faust's commit flushes the producer first, so no offset is committed
    before the records of its events are with the broker. The partition is the one
    of the ``partition_context`` the agent is in.
    """

    def __init__(self, app, table):
        self.app, self.store, self.name = app, table.data, table.name
        self.topic = table.changelog_topic.get_topic_name()
        self.pending: list = []

    def discard(self) -> None:
        """Forget the records of an attempt that failed: the next attempt writes them again."""
        self.pending.clear()

    def get(self, key: str) -> bytes | None:
        return self.store.partition_db(_partition.get()).get(key.encode())

    def __setitem__(self, key: str, value: bytes) -> None:
        partition = _partition.get()
        encoded = key.encode()
        self.store.partition_db(partition).put(encoded, value)
        self.pending.append((partition, encoded, value))

    async def flush(self) -> None:
        pending, self.pending = self.pending, []
        per_partition: dict[int, list] = defaultdict(list)
        for partition, key, value in pending:
            per_partition[partition].append((key, value))
        for partition, records in per_partition.items():
            batches = await self.app.producer.send_records(self.topic, partition, records)
            sent, count = batches[-1]
            sent.add_done_callback(lambda fut, partition=partition, count=count: self._persisted(partition, fut, count))

    def _persisted(self, partition: int, fut, count: int) -> None:
        """What Faust's ``_on_changelog_sent`` does: a restore reads the changelog from here on
        (the offset of the last record of the partition's last batch)."""
        if fut.cancelled() or fut.exception() is not None:
            return
        db = self.store.open_partitions().get(partition)  # gone when the partition was revoked meanwhile
        if db is not None:
            db.put(OFFSET_KEY, str(fut.result().offset + count - 1).encode())


# An agent of bundles (Outbox: up to 400 items a record) takes batch_size // BUNDLE_BATCH_DIVISOR
# records a batch (100 by default), and at most BUNDLE_BATCHES_QUEUED batches wait for it. Bundles
# are 32-64 KB: a batch of 10,000 of them stopped the event loop for seconds and held hundreds of
# MB while its agent was behind. With much smaller batches, a batch coalesces too few updates of
# the same conversation and the agent falls behind its input.
BUNDLE_BATCH_DIVISOR = 100
BUNDLE_BATCHES_QUEUED = 4
# Records fetched and waiting for an agent of events, in batches.
EVENT_BATCHES_QUEUED = 2


def batch_agent(app, runtime: "Runtime", source, name: str, apply, writers=(), bundles: bool = False) -> None:
    """An agent that reads the topics of ``source`` in batches of records and runs ``apply(records)``
    on each (``apply_batches``).

    The consumer hands the topics' fetched records to the agent's ``BatchSink`` as
    they come (aiokafka's ``ConsumerRecord``: topic, partition, offset, key, value,
    headers), without Faust's per-record message, event, channel or ack.
    ``source``'s channel is still added to Faust's conductor, which subscribes
    the consumer to its topics. ``bundles``: the source's records are ``Outbox`` bundles.
    """
    from convoflow.streams.faust_ext.transport import BatchSink

    max_records = runtime.settings.batch_size
    queued = EVENT_BATCHES_QUEUED * max_records
    if bundles:
        max_records = max(1, max_records // BUNDLE_BATCH_DIVISOR)
        queued = BUNDLE_BATCHES_QUEUED * max_records
    sink = BatchSink(app, queued)
    app.topics.add(source.clone(is_iterator=True, maxsize=1))  # the subscription; never delivered to
    app.consumer.add_sink(source.topics, sink)

    async def apply_and_send(records):
        for writer in writers:
            writer.discard()
        await apply(records)
        for writer in writers:
            await writer.flush()

    async def agent():
        await apply_batches(runtime, sink, apply_and_send, max_records)

    agent.__name__ = agent.__qualname__ = name
    app.task(agent)


async def batches(app, sink, max_records: int, linger: float = 0.0):
    """Batches of up to ``max_records`` records from a sink, acknowledged only when the agent
    asks for the next batch.

    An interrupted batch (an error, a shutdown) stays unacknowledged, so its
    offsets are not committed and it is read again (Faust's ``take_events``
    acknowledged it in a ``finally``: a message went missing after a worker
    stopped under load). Records delivered while the flow is stopped for a
    rebalance, or stamped with an older group generation, are skipped without an
    acknowledgement: the partition is read again from its committed offset by
    its owner.
    """
    consumer = app.consumer
    while True:
        chunks = await sink.take(max_records, linger)
        generation, flowing = app.consumer_generation_id, app.flow_control.is_active()
        chunks = [c for c in chunks if flowing and c.generation == generation]
        if not chunks:
            continue
        sink.in_flight = chunks
        try:
            yield [record for chunk in chunks for record in chunk.records]
            for chunk in chunks:
                consumer.ack_through(chunk.tp, chunk.last + 1, len(chunk.records), chunk.generation)
        finally:
            sink.in_flight = []


# How long a failing batch is retried (a broker that is away comes back) before its records are
# applied one by one and those that still fail go to dead letters.
RETRY_FOR_SECONDS = 120.0


async def apply_batches(runtime: "Runtime", sink, apply, max_records: int) -> None:
    """Run ``apply(records)`` on each batch of the sink, marking its records processed.

    A batch that raises is retried (every apply is idempotent) for up to
    RETRY_FOR_SECONDS; then its records are applied one at a time and any that
    still fails goes to ``dead-letters`` with the error, so one poisonous record
    can neither stop the agent nor take the rest of its batch with it.
    """
    runtime.sent.digests.clear()  # an agent restarted after an error may not have sent its last batch
    async for batch in batches(runtime.app, sink, max_records, runtime.settings.batch_linger):
        if await _attempt(runtime, apply, batch, RETRY_FOR_SECONDS) is not None:
            for record in batch:
                error = await _attempt(runtime, apply, [record], 0)
                if error is not None:
                    await runtime.dead_letter(record, f"internal error while applying the event: {error}")
        last: dict = {}
        for record in batch:
            last[(record.topic, record.partition)] = record.offset
        for (topic, partition), offset in last.items():
            runtime.mark(topic, partition, offset + 1)


async def _attempt(runtime: "Runtime", apply, records: list, retry_for: float) -> str | None:
    """None once ``apply(records)`` succeeded; the last error when it still fails after ``retry_for`` s."""
    loop = asyncio.get_running_loop()
    deadline, delay = loop.time() + retry_for, 0.1
    while True:
        try:
            await apply(records)
            return None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or a broker away: never silently drop the batch
            runtime.counts["apply_errors"] += 1
            error = f"{type(exc).__name__}: {exc}"[:500]
            # What the failed attempt recorded as sent may never have left: send it all again.
            runtime.sent.digests.clear()
            log.exception("applying %d records failed (%s)", len(records), error)
            if loop.time() + delay > deadline:
                return error
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def poll(consumer, what: str, **getmany):
    """``consumer.getmany`` for the plain aiokafka readers of a worker, waiting out a broker
    that went away (the client reconnects by itself)."""
    return await patiently(lambda: consumer.getmany(**getmany), f"{what} fetch")


async def patiently(request, what: str):
    """``await request()`` again until it succeeds: a broker that is away (restarting) comes back,
    and the client reconnects by itself. Errors are logged as warnings, twice a second at most."""
    while True:
        try:
            return await request()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s failed: %r", what, exc)
            await asyncio.sleep(0.5)


class SentInProcess:
    """What this process has already sent or written, per key: a repeat is skipped.

    Only within one process: after a restart it is empty, so a replay after a
    crash re-sends and re-writes everything (which is what makes replays safe).
    Bounded: forgetting a key only means sending its value again, harmlessly.
    """

    def __init__(self, limit: int = 400_000):
        self.limit = limit
        self.digests: dict[str, bytes] = {}

    def changed(self, key: str, value: bytes = b"") -> bool:
        digest = hashlib.blake2b(value, digest_size=16).digest()
        if self.digests.get(key) == digest:
            return False
        if len(self.digests) >= self.limit:
            self.digests.clear()
        self.digests[key] = digest
        return True


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a key (murmur2), as for every keyed topic here."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class Outbox:
    """Re-keyed records of one batch, bundled: one Kafka record per destination partition
    (``{"items": [...]}``) instead of one per key. Flushed before the batch counts as processed."""

    MAX_ITEMS = 400

    def __init__(self, app, topic: str, partitions: int):
        self.app, self.topic, self.partitions = app, topic, partitions
        self.items: dict[int, list] = defaultdict(list)

    def add(self, key: str, item, sent: SentInProcess | None = None, sent_key: str | None = None) -> None:
        """Queue an item for the partition of ``key``; skipped when ``sent`` has seen the same item under ``sent_key``."""
        if sent is not None and not sent.changed(sent_key, dumps(item)):
            return
        self.items[partition_for(key, self.partitions)].append(item)

    async def flush(self) -> None:
        for p, items in self.items.items():
            for i in range(0, len(items), self.MAX_ITEMS):
                value = dumps({"items": items[i:i + self.MAX_ITEMS]})
                await self.app.producer.send(self.topic, None, value, p, None, None)
        self.items.clear()


def bundled_items(records):
    """(record, item) for every item of the bundles in a batch of one partition."""
    for record in records:
        if record.value is None:
            continue
        try:
            items = orjson.loads(record.value)["items"]
        except (ValueError, KeyError, TypeError) as exc:  # written by us: a bug, not input
            log.error("bad bundle at %s[%d]@%d: %r", record.topic, record.partition, record.offset, exc)
            continue
        for item in items:
            yield record, item


def reason_kind(reason: str) -> str:
    """A dead letter's reason without its particulars (values, field names after the first words)."""
    return reason.split(":", 1)[0].split("'", 1)[0].strip()[:60]


def by_partition(records) -> dict[int, list]:
    groups: dict[int, list] = defaultdict(list)
    for record in records:
        groups[record.partition].append(record)
    return groups


class partition_context:
    """Make a batch's table reads and writes (``TableWriter``) go to one partition's store and
    changelog: the partition of the record given."""

    def __init__(self, record):
        self.partition = record.partition

    def __enter__(self):
        self.token = _partition.set(self.partition)
        return self

    def __exit__(self, *exc):
        _partition.reset(self.token)


def dumps(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def loads(value: bytes | None):
    return None if value is None else orjson.loads(value)


__all__ = ["Runtime", "by_partition", "partition_context", "dumps", "loads", "log"]
