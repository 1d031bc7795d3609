"""Fixes to faust-streaming 0.15, applied when a worker starts (and one check, ``register``).

1. The producer buffer's ``flush`` (which Faust awaits before committing
   offsets) returned as soon as no record had left for 0.1 s, even with table
   changelog records still waiting in it (an event loop busy with a large batch
   is enough). The offsets of events whose state changes had not reached the
   changelog were then committed: after a crash, the state restored from the
   changelog missed them for good (seen as lost presence changes and drifting
   agent totals after SIGKILLs with the data dir deleted). Here it waits until
   the buffer is empty and the record last taken from it is with aiokafka
   (whose own flush Faust awaits next).

2. The consumer loop:

Faust treats a jump in the offsets it reads from a partition as a "gap" (left by
compaction or transaction markers) and acknowledges the skipped offsets as if
they had been processed. Around a rebalance, records fetched before a seek can
arrive after it; the jump they make is then no gap at all, and the records in
between were committed without ever reaching an agent: a lost message in the
reports (seen in the rebalance test). Faust also advanced its read position for
a record whose delivery a rebalance had cancelled.

Our acknowledged topics are plain topics, without compaction or transactions,
so a jump always means "read from the wrong place": here the partition is read
again from the record that should come next (also when the jump is a single
offset right after a seek, which Faust could not tell from normal reading), the
seek runs in aiokafka's own thread, and the read position moves only for
delivered records.

Records also went missing at the end of a rebalance. Faust resumes the flow
while it reads the changelogs, resumes the stream partitions, seeks them to
their committed offsets, then resumes the flow again, which empties the agents'
queues: records fetched after the seek and delivered before that second resume
were thrown away, and nothing read them again. And a record whose delivery was
still in progress when the partitions were revoked left its offset behind as
the partition's read position, so the new generation's records at or below it
were skipped as "already delivered". Either left a partition with unprocessed
records and nothing more to read (seen as a rebalance test whose group never
caught up). Now a record that arrives before the rebalance has ended is read
again from the broker afterwards, and a delivery that spans a change of
generation records nothing.

The same loop raced every delivery against a flow stop with ``wait_first``
(two tasks and an ``asyncio.wait`` per record): the largest single cost of a
worker. A record whose delivery cannot block is now delivered directly.

3. A rebalance collected garbage (``gc.collect()``) once per table even when
nothing was revoked; it now does so only for a table that loses a partition.

4. The worker's consumer is created with ``fetch_max_wait_ms=1500`` (fixed in
Faust's driver). Partitions that have unread records buffered are left out of
the next fetch; while that fetch waits on idle partitions, a record arriving on
them (an export request, a shard request, an event after a quiet spell) waits
up to 1.5 s. The wait is now ``FETCH_MAX_WAIT_MS``.

5. The table manager slept 1 s before it started, to let tables be created
after the worker starts; ours all exist before it does, so it starts at once.

6. Every RocksDB store had its own block cache and its own write buffers, so a
worker's RocksDB memory grew with its partitions (28 stores: up to 448 MiB of
block caches and 1.3 GiB of write buffers). Every store now uses the process's
one cache, with their write buffers charged to it
(``streams.runtime.shared_rocksdb_memory``).
"""
from __future__ import annotations

import asyncio
import logging

import rocksdict
from faust.exceptions import ConsumerNotStarted
from faust.stores import rocksdb as faust_rocksdb
from faust.tables import manager as faust_tables
from faust.transport import consumer as faust_consumer
from faust.transport import producer as faust_producer
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.runtime import share_memory

log = logging.getLogger("convoflow")
# A partition that keeps starting after the offset it should start at has lost those records
# (deleted by retention before they were read): after this many reads from the right place, go on.
MAX_REWINDS = 5
FETCH_MAX_WAIT_MS = 100
# After holding back records because a rebalance has not ended, the pause before fetching again.
HELD_BACK_SECONDS = 0.01


async def _drain_messages(self, fetcher) -> None:  # the loop of faust.transport.consumer.Consumer, fixed
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    set_flag, unset_flag = self.diag.set_flag, self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    app = self.app
    flow_is_active = app.flow_control.is_active
    yield_every, num_since_yield = 100, 0
    delivered = _delivered(self)
    rewinds: dict = {}
    delivers_at_once = _delivers_at_once(self)
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(CONSUMER_FETCHING)
            ait = getmany(timeout=1.0)
            await self.sleep(0)
            if not self.should_stop:
                rewound, held_back = set(), False
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await asyncio.sleep(0)
                        num_since_yield = 0
                    if tp in rewound:
                        continue  # the rest of a batch read from the wrong place
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if not acks_enabled_for(message.topic):  # changelogs (compacted): Faust's rule
                        if r_offset is not None and offset < r_offset:
                            continue
                    elif app.rebalancing or not flow_is_active():
                        # Until the rebalance ends, the agents drop what arrives (or Faust clears
                        # their queues when it resumes the flow), and the seek to the committed
                        # offsets may be behind us already.
                        rewound.add(tp)
                        held_back = True
                        await _seek_quietly(self, tp, offset)
                        continue
                    elif r_offset is not None:
                        # Faust's read offset is the last record delivered, or after a seek the
                        # next one to read: which of the two, `delivered` tells.
                        expected = r_offset + 1 if delivered.get(tp) == r_offset else r_offset
                        if offset < expected:
                            continue  # already delivered
                        if offset > expected:
                            tries = rewinds[tp] = rewinds.get(tp, 0) + 1
                            if tries <= MAX_REWINDS:
                                rewound.add(tp)
                                log.info("read %s[%d]@%d where %d was next: reading the partition again from %d",
                                         tp.topic, tp.partition, offset, expected, expected)
                                await _seek_quietly(self, tp, expected)
                                continue
                            log.warning("%s[%d]: records %d to %d are gone from the broker (retention?)",
                                        tp.topic, tp.partition, expected, offset - 1)
                    if commit_every is not None and self._n_acked >= commit_every:
                        self._n_acked = 0
                        await self.commit()
                    generation = app.consumer_generation_id
                    if delivers_at_once(tp):
                        await callback(message)
                    else:
                        delivery = callback(message)
                        waited = await self.wait_first(delivery, self.suspend_flow.wait())
                        if delivery not in waited.done:
                            break  # a rebalance stopped the flow: it seeks to the committed offsets
                    if app.consumer_generation_id != generation:
                        break  # revoked meanwhile: this position means nothing to the new generation
                    set_read_offset(tp, offset)
                    delivered[tp] = offset
                    rewinds.pop(tp, None)
                if held_back:
                    await self.sleep(HELD_BACK_SECONDS)  # not a busy loop while the flow resumes
            unset_flag(CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(CONSUMER_FETCHING)


def _delivers_at_once(consumer):
    """Whether handing a record of a partition to its channels cannot block.

    Faust raced every delivery against a flow stop with ``wait_first``: two tasks and
    an ``asyncio.wait`` per record, the largest single cost of a worker (a bare
    channel reader went from about 18,000 to 41,000 events/s without it). The race only
    matters when the delivery can wait: for flow control, for the producer
    buffer, for a full channel queue or for the conductor's lock. When none of
    these can happen the record is delivered directly.
    """
    app = consumer.app
    flow, suspend_flow, buffer = app.flow_control, consumer.suspend_flow, app.producer.buffer
    conductor = app.topics
    tp_index, lock = conductor._tp_index, conductor._tp_to_callback_lock

    def delivers_at_once(tp) -> bool:
        if suspend_flow.is_set() or not flow.is_active() or lock.locked() or buffer.size > buffer.max_messages:
            return False
        for channel in tp_index.get(tp, ()):
            if channel.queue.full():
                return False
        return True

    return delivers_at_once


async def _seek(consumer, tp, offset: int) -> None:
    """Seek in the thread that runs aiokafka (Faust's own ``seek`` calls aiokafka from the
    wrong thread; a partition sought that way was never fetched again)."""
    thread = getattr(consumer, "_thread", None)
    if thread is None:
        await consumer.seek(tp, offset)
        return

    async def seek(client):
        client.seek(tp, offset)

    await thread.call_thread(seek, thread._ensure_consumer())
    consumer._read_offset[tp] = offset
    _delivered(consumer).pop(tp, None)


async def _seek_quietly(consumer, tp, offset: int) -> None:
    try:
        await _seek(consumer, tp, offset)
    except Exception as exc:  # no longer assigned: the next owner reads it
        log.info("could not seek %s[%d]: %r", tp.topic, tp.partition, exc)


def _delivered(consumer) -> dict:
    """Per partition, the offset of the record this loop delivered last (forgotten on a seek)."""
    return consumer.__dict__.setdefault("convoflow_delivered", {})


_perform_seek = faust_consumer.Consumer.perform_seek
_faust_seek = faust_consumer.Consumer.seek


async def _perform_seek_forgetting(self) -> None:
    await _perform_seek(self)
    _delivered(self).clear()


async def _seek_forgetting(self, partition, offset: int) -> None:
    await _faust_seek(self, partition, offset)
    _delivered(self).pop(partition, None)


_send_pending = faust_producer.ProducerBuffer._send_pending


async def _send_pending_counted(self, fut) -> None:
    """Faust's, counting the record taken off the queue but not yet handed to aiokafka."""
    self.convoflow_sending = getattr(self, "convoflow_sending", 0) + 1
    try:
        await _send_pending(self, fut)
    finally:
        self.convoflow_sending -= 1


async def _flush_buffer(self) -> None:
    """faust.transport.producer.ProducerBuffer.flush, returning only when every record is with aiokafka."""
    waited = 0.0
    while self.size or getattr(self, "convoflow_sending", 0):
        if self.state != "running":
            raise RuntimeError("Cannot flush: Producer not Running")
        await asyncio.sleep(0.002)
        waited += 0.002
        if waited >= 5.0:
            log.info("producer buffer: %d records still waiting to be sent", self.size)
            waited = 0.0


_new_offset = faust_consumer.Consumer._new_offset


def _new_offset_without_holes(self, tp):
    """Faust's, except that a single missing offset at the head of a partition's acknowledged
    offsets holds the commit back too (Faust let ``min(acked) == committed + 1`` through,
    committing over an event that was never processed)."""
    acked = self._acked[tp]
    committed = self._committed_offset[tp]
    if acked and committed is not None and min(acked) > committed:
        return None
    return _new_offset(self, tp)


# A partition whose commit waits this long at a record that was handed over but is nowhere
# to be processed is read again from it.
STALL_SECONDS = 3.0


class StallWatch:
    """Finds partitions whose next record to commit was lost on its way to the agents.

    A stream drops, without acknowledging it, a record that reaches it while the
    flow is paused or that was stamped with an older group generation; around a
    rebalance that can be the very record a new generation starts at, or every
    record left in the partition. The commit then waits at it forever (Faust used
    to commit over it), whether later records were processed (a hole) or not (a
    stalled partition). A record is lost when aiokafka has handed it over, it is
    not acknowledged, and neither an agent nor a channel queue holds it; after
    STALL_SECONDS of that, the partition is read again from it.
    """

    def __init__(self, app, seconds: float = STALL_SECONDS):
        self.app, self.seconds = app, seconds
        self.since: dict = {}

    def due(self, now: float) -> list:
        """(partition, offset) pairs to read again from."""
        app, consumer = self.app, self.app.consumer
        if consumer is None or app.rebalancing or not app.flow_control.is_active():
            self.since.clear()
            return []
        acks_enabled_for = app.topics.acks_enabled_for
        try:
            assignment = consumer.assignment()
        except ConsumerNotStarted:
            return []
        seen, due = set(), []
        for tp in assignment:
            if not acks_enabled_for(tp.topic):
                continue
            committed = consumer._committed_offset.get(tp)
            offset = committed if committed is not None else 0
            end = consumer.highwater(tp)
            if end is None or offset >= end or offset in consumer._acked_index.get(tp, ()):
                continue  # caught up, or its commit is on the way
            position = _position(consumer, tp)
            if position is None or position <= offset or _in_flight(app, consumer, tp, offset):
                continue  # not fetched yet, or being processed
            key = (tp, offset)
            seen.add(key)
            if now - self.since.setdefault(key, now) >= self.seconds:
                self.since.pop(key)
                due.append(key)
        for key in set(self.since) - seen:
            self.since.pop(key)
        return due


def _position(consumer, tp):
    """aiokafka's position in the partition: the offset of the next record it hands over."""
    client = getattr(getattr(consumer, "_thread", None), "_consumer", None)
    try:
        return client._subscription.subscription.assignment.state_value(tp).position
    except Exception:  # not started, or no longer assigned
        return None


def _in_flight(app, consumer, tp, offset: int) -> bool:
    """Whether an agent or a channel queue holds the record."""
    def held(message) -> bool:
        return message.offset == offset and message.tp == tp

    if any(held(message) for message in list(consumer.unacked)):
        return True
    return any(held(event.message) for channel in app.topics._tp_index.get(tp, ()) for event in list(channel.queue._queue))


def register(app) -> None:
    """Every second, read again from a record that was handed over but never processed (StallWatch)."""
    watch = StallWatch(app)

    @app.timer(interval=1.0)
    async def read_lost_records_again():
        for tp, offset in watch.due(asyncio.get_running_loop().time()):
            log.info("%s[%d]: offset %d was handed over but never processed; reading again from it",
                     tp.topic, tp.partition, offset)
            await _seek_quietly(app.consumer, tp, offset)


_revoke_partitions = faust_rocksdb.Store.revoke_partitions


def _revoke_partitions_collecting_only_when_closing(self, table, tps) -> None:
    """Faust's, without its full ``gc.collect()`` when nothing of this table is revoked.

    Faust drops a revoked partition's database and collects garbage so that it is
    closed (and its lock released) at once. It collected on every rebalance and for
    every table, also when nothing was revoked: 0.7 s of a worker's start here.
    """
    if any(tp.topic in table.changelog_topic.topics for tp in tps):
        _revoke_partitions(self, table, tps)


_create_worker_consumer = faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer


def _create_worker_consumer_waiting_less(self, transport):
    consumer = _create_worker_consumer(self, transport)
    consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when its fetcher is created, at start
    return consumer


async def _start_tables_at_once(self) -> None:
    """``TableManager.on_start`` without its ``sleep(1.0)``."""
    if not self.should_stop:
        await self._update_channels()
        await self.recovery.start()


def _options_sharing_memory(self):
    """``RocksDBOptions.as_options`` (rocksdict) with the process's shared cache and write buffer manager."""
    options = rocksdict.Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_max_open_files(self.max_open_files)
    options.set_write_buffer_size(self.write_buffer_size)
    options.set_target_file_size_base(self.target_file_size_base)
    options.set_max_write_buffer_number(self.max_write_buffer_number)
    tables = rocksdict.BlockBasedOptions()
    tables.set_bloom_filter(self.bloom_filter_size, block_based=True)
    tables.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
    share_memory(options, tables)
    return options


def apply() -> None:
    faust_rocksdb.RocksDBOptions.as_options = _options_sharing_memory
    faust_tables.TableManager.on_start = _start_tables_at_once
    faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer_waiting_less
    faust_rocksdb.Store.revoke_partitions = _revoke_partitions_collecting_only_when_closing
    faust_producer.ProducerBuffer._send_pending = _send_pending_counted
    faust_producer.ProducerBuffer.flush = _flush_buffer
    faust_consumer.Consumer._drain_messages = _drain_messages
    faust_consumer.Consumer._new_offset = _new_offset_without_holes
    faust_consumer.Consumer.perform_seek = _perform_seek_forgetting
    faust_consumer.Consumer.seek = _seek_forgetting
