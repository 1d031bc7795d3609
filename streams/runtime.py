"""What the agents share in one worker: settings, processed offsets, dead letters, partition context."""
from __future__ import annotations

import asyncio
import hashlib
import logging
import weakref
from collections import defaultdict
from dataclasses import dataclass, field

import orjson
from aiokafka.partitioner import murmur2
from faust.events import Event
from faust.streams import _current_event, current_event

from convoflow.config import Settings

log = logging.getLogger("convoflow")


# Each table partition is its own RocksDB: 28 stores with 7 tables and 4 partitions, more with more
# partitions. Faust gives every store its own block cache (2 GiB by default) and write buffers
# (3 x 64 MiB), so a worker's memory grew with its partitions and its state. All the stores of a
# process share one cache instead (shared_rocksdb_memory, applied by streams.faust_fixes), and their
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
    scan_processes: int = 0  # export shards scanned by a process of their own (streams.scan_process)
    sent: SentInProcess = field(default_factory=lambda: SentInProcess())
    notes: list = field(default_factory=list)  # what happened before logging was set up, logged at start

    def table(self, name: str):
        """A table of raw bytes in RocksDB, partitioned like the input topics."""
        return self.app.Table(name, default=None, key_type=bytes, value_type=bytes, partitions=self.settings.partitions,
                              options=dict(ROCKSDB_OPTIONS))

    def mark(self, event) -> None:
        msg = event.message
        key = (msg.topic, msg.partition)
        if self.processed.get(key, -1) <= msg.offset:
            self.processed[key] = msg.offset + 1

    def position(self, topic: str, partition: int) -> int:
        """How far this worker has processed a partition: in this process, or committed before it."""
        done = self.processed.get((topic, partition), 0)
        consumer = getattr(self.app, "consumer", None)
        if consumer is not None:
            from faust.types import TP

            committed = consumer._committed_offset.get(TP(topic, partition))
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

    async def dead_letter(self, event, reason: str) -> None:
        """The original key and value bytes, with headers naming where they came from and why."""
        msg = event.message
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


class TableWriter:
    """Writes to a Faust table, cheaper: into the partition's RocksDB at once, to the
    changelog when the batch ends (``flush``), which the agent awaits before the batch
    is acknowledged.

    A ``table[key] = value`` went through Faust's dict wrapper, its key index (under a
    lock), a future and a buffer per record, and a second RocksDB put per record for
    the changelog offset: about 12 % of a busy worker. This writes the same bytes to
    the same store and changelog partition, and the offset once per batch and
    partition. Faust's commit flushes the producer first, so no offset is committed
    before the records of its events are with the broker.
    """

    def __init__(self, app, table):
        self.app, self.store, self.name = app, table.data, table.name
        self.topic = table.changelog_topic.get_topic_name()
        self.pending: list = []

    def discard(self) -> None:
        """Forget the records of an attempt that failed: the next attempt writes them again."""
        self.pending.clear()

    def __setitem__(self, key: str, value: bytes) -> None:
        partition = current_event().message.partition  # under partition_context, as a table write
        encoded = key.encode()
        self.store._db_for_partition(partition).put(encoded, value)
        self.pending.append((partition, encoded, value))

    async def flush(self) -> None:
        pending, self.pending = self.pending, []
        send, last = self.app.producer.send, {}
        for partition, key, value in pending:
            last[partition] = await send(self.topic, key, value, partition, None, None)
        for partition, sent in last.items():
            sent.add_done_callback(lambda fut, partition=partition: self._persisted(partition, fut))

    def _persisted(self, partition: int, fut) -> None:
        """What Faust's ``_on_changelog_sent`` does: a restore reads the changelog from here on."""
        if fut.cancelled() or fut.exception() is not None:
            return
        db = self.store._dbs.get(partition)  # gone when the partition was revoked meanwhile
        if db is not None:
            db.put(OFFSET_KEY, str(fut.result().offset).encode())


# An agent of bundles (Outbox: up to 400 items a record) takes batch_size // BUNDLE_BATCH_DIVISOR
# records a batch (100 by default), and its channel holds BUNDLE_BATCHES_QUEUED batches. It took
# 10,000 records of up to 400 items at once when it was behind (Faust queued 16,384): at 300,000
# conversations that stopped the event loop for 8-26 s, and malloc's bytes in use went from about
# 350 MB to over 1,000 MB while it did (glibc kept most of it). With
# 25 records (as many items as a batch of events) a batch coalesced too few updates of the same
# conversation, and the people agent trailed the ingest by 4.5 minutes. The channel's bound did
# not hold until it went into clone(): at 1,000,000 conversations the people agent's queue held
# 12,887 bundles of 32-64 KB when it was behind (a heap walk a little earlier found 8,160 of
# them alive: 372 MB).
BUNDLE_BATCH_DIVISOR = 100
BUNDLE_BATCHES_QUEUED = 4


def batch_agent(app, runtime: "Runtime", source, name: str, apply, writers=(), bundles: bool = False) -> None:
    """An agent that reads ``source`` in batches and runs ``apply(events)`` on each (``apply_batches``).

    It reads the topics' Faust channel directly instead of iterating a Faust
    ``Stream``: the stream's per-event machinery (sensors, processors, a context
    switch per event) cost more than our own work. The channel still gets its
    records from Faust's consumer, with Faust's flow control, rebalancing and
    commits. ``bundles``: the source's records are ``Outbox`` bundles.
    """
    max_events = runtime.settings.batch_size
    queued = None  # Faust's stream_buffer_maxsize
    if bundles:
        max_events = max(1, max_events // BUNDLE_BATCH_DIVISOR)
        queued = BUNDLE_BATCHES_QUEUED * max_events
    channel = source.clone(is_iterator=True, maxsize=queued)  # clone() makes the queue: its bound goes in here

    async def decode(message, *, propagate: bool = False):
        """Our topics carry raw bytes: the event without Faust's serializer registry."""
        return Event(app, message.key, message.value, message.headers, message)

    channel.decode = decode
    app.topics.add(channel)

    async def apply_and_send(events):
        for writer in writers:
            writer.discard()
        await apply(events)
        for writer in writers:
            await writer.flush()

    async def agent():
        await apply_batches(runtime, channel, apply_and_send, max_events)

    agent.__name__ = agent.__qualname__ = name
    app.task(agent)


async def batches(app, channel, max_: int, linger: float = 0.0):
    """Batches of up to ``max_`` events from a Faust channel, acknowledged only when the
    agent asks for the next batch.

    An interrupted batch (an error, a shutdown) stays unacknowledged, so its
    offsets are not committed and it is read again (Faust's ``take_events``
    acknowledged it in a ``finally``: a message went missing after a worker
    stopped under load). An event delivered while the flow is stopped for a
    rebalance, or stamped with an older group generation, is skipped without an
    acknowledgement: the partition is read again from its committed offset by
    its owner.
    """
    queue, consumer = channel.queue, app.consumer
    unacked, acking_topics = consumer.unacked, app.topics.acking_topics
    while True:
        pending = [await queue.get()]
        if linger and queue.qsize() < max_:
            # more events of the same keys in one batch: one read and one write per key
            await asyncio.sleep(linger)
        while len(pending) < max_ and not queue.empty():
            pending.append(queue.get_nowait())
        generation, flowing = app.consumer_generation_id, app.flow_control.is_active()
        batch = []
        for event in pending:
            message = event.message
            if not flowing or message.generation_id != generation:
                continue
            if not message.tracked and message.topic in acking_topics:
                message.tracked = True  # what Faust's stream does: a rebalance waits for it
                unacked.add(message)
            batch.append(event)
        if not batch:
            continue
        yield batch
        for event in batch:
            event.message.ack(consumer)


# How long a failing batch is retried (a broker that is away comes back) before its events are
# applied one by one and those that still fail go to dead letters.
RETRY_FOR_SECONDS = 120.0


async def apply_batches(runtime: "Runtime", channel, apply, max_events: int) -> None:
    """Run ``apply(events)`` on each batch of the channel, marking its events processed.

    A batch that raises is retried (every apply is idempotent) for up to
    RETRY_FOR_SECONDS; then its events are applied one at a time and any that
    still fails goes to ``dead-letters`` with the error, so one poisonous event
    can neither stop the agent nor take the rest of its batch with it.
    """
    runtime.sent.digests.clear()  # an agent restarted after an error may not have sent its last batch
    async for batch in batches(runtime.app, channel, max_events, runtime.settings.batch_linger):
        if await _attempt(runtime, apply, batch, RETRY_FOR_SECONDS) is not None:
            for event in batch:
                error = await _attempt(runtime, apply, [event], 0)
                if error is not None:
                    await runtime.dead_letter(event, f"internal error while applying the event: {error}")
        for event in batch:
            runtime.mark(event)


async def _attempt(runtime: "Runtime", apply, events: list, retry_for: float) -> str | None:
    """None once ``apply(events)`` succeeded; the last error when it still fails after ``retry_for`` s."""
    loop = asyncio.get_running_loop()
    deadline, delay = loop.time() + retry_for, 0.1
    while True:
        try:
            await apply(events)
            return None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or a broker away: never silently drop the batch
            runtime.counts["apply_errors"] += 1
            error = f"{type(exc).__name__}: {exc}"[:500]
            # What the failed attempt recorded as sent may never have left: send it all again.
            runtime.sent.digests.clear()
            log.exception("applying %d events failed (%s)", len(events), error)
            if loop.time() + delay > deadline:
                return error
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def poll(consumer, what: str, **getmany):
    """``consumer.getmany`` for the plain aiokafka readers of a worker, waiting out a broker
    that went away (the client reconnects by itself)."""
    while True:
        try:
            return await consumer.getmany(**getmany)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s fetch failed: %r", what, exc)
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


def bundled_items(events):
    """(event, item) for every item of the bundles in a batch of one partition."""
    for ev in events:
        if ev.value is None:
            continue
        try:
            items = orjson.loads(ev.value)["items"]
        except (ValueError, KeyError, TypeError) as exc:  # written by us: a bug, not input
            log.error("bad bundle at %s[%d]@%d: %r", ev.message.topic, ev.message.partition, ev.message.offset, exc)
            continue
        for item in items:
            yield ev, item


def reason_kind(reason: str) -> str:
    """A dead letter's reason without its particulars (values, field names after the first words)."""
    return reason.split(":", 1)[0].split("'", 1)[0].strip()[:60]


def by_partition(events) -> dict[int, list]:
    groups: dict[int, list] = defaultdict(list)
    for event in events:
        groups[event.message.partition].append(event)
    return groups


class partition_context:
    """Make table writes of a batch go to one partition's store and changelog.

    Faust picks the partition of a table write from the current event; a batch
    from ``batches`` mixes partitions, so each group is written under one of
    its own events.
    """

    def __init__(self, event):
        self.event = event

    def __enter__(self):
        self.token = _current_event.set(weakref.ref(self.event))
        return self

    def __exit__(self, *exc):
        _current_event.reset(self.token)


def dumps(value) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)


def loads(value: bytes | None):
    return None if value is None else orjson.loads(value)


__all__ = ["Runtime", "by_partition", "partition_context", "current_event", "dumps", "loads", "log"]
