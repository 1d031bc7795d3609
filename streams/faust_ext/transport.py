"""convoflow's Kafka transport for Faust: consumer, consumer thread and producer, as subclasses.

Faust picks a transport by the broker URL's scheme; ``convoflow://`` names
:class:`Transport` through the ``faust.transports`` entry point in
pyproject.toml (``Settings.faust_broker`` writes the URL). Each class below
subclasses faust-streaming's aiokafka driver and overrides what it must; the
base methods they override or rely on are checked at start
(``convoflow.streams.faust_ext.audit``).

**Records reach the agents in batches.** The topics an agent reads with
``batch_agent`` are registered here as a :class:`BatchSink`. The consumer hands
each fetched run of a partition's records (aiokafka's own ``ConsumerRecord``
objects: topic, partition, offset, timestamp, key, value, headers) to the sink
as one chunk: no Faust ``Message``, ``Event``, channel or per-record ack. The
agent takes chunks, applies them, and acknowledges a partition up to the last
offset it applied (:meth:`Consumer.ack_through`); Faust's commit then commits
that offset, after flushing the producer. Changelogs (recovery, standbys) and
Faust's own agents (export requests and shards) keep Faust's per-record path.

**What else differs from Faust's consumer** (each found by a test in
tests/chaos):

- A jump in the offsets read from one of our topics is no "gap" to
  acknowledge: our topics are plain (no compaction, no transactions), so a jump
  means "read from the wrong place" (records fetched before a seek, arriving
  after it). The partition is read again from the record that should come next.
  Faust acknowledged the skipped offsets, and committed events no agent saw.
- Records that arrive while a rebalance is in progress are read again once it
  has ended (Faust empties the agents' queues when it resumes the flow, and the
  seek to the committed offsets may be behind us already); a delivery that spans
  a change of group generation records no read position.
- Seeks run in aiokafka's own thread (Faust's ``seek`` called aiokafka from the
  event loop's thread: a partition sought that way was never fetched again).
- The commit does not pass over a single unacknowledged record at the head of a
  partition (Faust let ``min(acked) == committed + 1`` through).
- The producer buffer's ``flush``, which Faust awaits before committing, returns
  only when every record is with aiokafka (Faust's returned as soon as no record
  had left for 0.1 s, with table changelog records still queued).
- The producer waits for every in-sync replica and is idempotent (Faust's
  producer is so only inside transactions).
- The worker's fetches wait at most ``FETCH_MAX_WAIT_MS`` on idle partitions
  (Faust fixes 1.5 s: an export request arriving on an idle topic waited that long).
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque

from faust.exceptions import ConsumerNotStarted
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.transport.producer import ProducerBuffer as FaustProducerBuffer

from convoflow.contract.topics import DURABLE_PRODUCER
from convoflow.streams.faust_ext.alignment import Alignment

log = logging.getLogger("convoflow")

# A partition that keeps starting after the offset it should start at has lost those records
# (deleted by retention before they were read): after this many reads from the right place, go on.
MAX_REWINDS = 5
FETCH_MAX_WAIT_MS = 100
# After holding back records because a rebalance has not ended, the pause before fetching again.
HELD_BACK_SECONDS = 0.01
# A sink in step by record time that has nothing to take before its floors looks again after this.
ALIGNED_WAIT_SECONDS = 0.05
# How long, at most, a sink in step waits for a batch to fill while its agent is behind its input.
ALIGNED_FILL_SECONDS = 0.25
# A partition whose commit waits this long at a record that was handed over but is nowhere
# to be processed is read again from it (StallWatch).
STALL_SECONDS = 3.0


class Chunk:
    """Consecutive records of one partition, fetched together, on their way to one agent."""

    __slots__ = ("tp", "records", "generation")

    def __init__(self, tp, records: list, generation: int):
        self.tp, self.records, self.generation = tp, records, generation

    @property
    def first(self) -> int:
        return self.records[0].offset

    @property
    def last(self) -> int:
        return self.records[-1].offset


class BatchSink:
    """The chunks of the topics one agent reads, queued for it, at most ``max_records`` records.

    Faust's flow control clears it with the agents' queues (a rebalance); what
    it held is read again from the committed offsets. ``in_flight`` holds the
    chunks the agent is applying: a rebalance waits for them (``wait_empty``).
    """

    def __init__(self, app, max_records: int, weights: dict | None = None):
        self.app, self.max_records = app, max_records
        # topic -> what one of its records counts for against ``max_records`` and a batch's size (1
        # when not named): a bundle of many updates counts for many events
        self.weights: dict = weights or {}
        self.alignment = None  # set for co-partitioned topics read in step (Consumer.add_sink)
        self.chunks: deque = deque()
        self.size = 0
        self.in_flight: list = []
        self._ready = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        app.flow_control.manage_queue(self)

    def full(self) -> bool:
        return self.size >= self.max_records

    def weight(self, chunk: Chunk) -> int:
        return self.weights.get(chunk.tp.topic, 1)

    def put(self, chunk: Chunk) -> None:
        self.chunks.append(chunk)
        self.size += len(chunk.records) * self.weight(chunk)
        self._ready.set()
        if self.full():
            self._space.clear()

    async def wait_for_space(self) -> None:
        await self._space.wait()

    def clear(self) -> None:
        self.chunks.clear()
        self.size = 0
        self._space.set()

    def _took(self, n: int) -> None:
        self.size -= n
        if not self.full():
            self._space.set()

    async def take(self, max_records: int, linger: float = 0.0) -> list:
        """Chunks of up to ``max_records`` records in all, counted by their topics' weights (a chunk
        may be split), once one is there.

        With an ``alignment``, only records stamped at or before their partition number's floor
        are taken while the sink has room (``_take_in_step``); when none is, the sink waits for
        more records or a new floor."""
        while True:
            while not self.chunks:
                self._ready.clear()
                await self._ready.wait()
            if linger and self.size < max_records:
                # more events of the same keys in one batch: one read and one write per key
                await asyncio.sleep(linger)
            alignment = self.alignment
            if alignment is None or self.full() or not alignment.floors:
                return self._take_in_order(max_records)
            # Behind its input, a batch waits a little to fill up: a batch of a few records in
            # step costs as much to write as a full one.
            fill = max_records // 4 if alignment.backlog >= max_records else 1
            waited = 0.0
            while self._in_step(max_records, alignment.floors) < fill and waited < ALIGNED_FILL_SECONDS:
                if self.full():
                    break
                self._ready.clear()
                try:
                    await asyncio.wait_for(self._ready.wait(), ALIGNED_WAIT_SECONDS)
                except asyncio.TimeoutError:
                    pass
                waited += ALIGNED_WAIT_SECONDS
            if self.full():
                return self._take_in_order(max_records)
            taken = self._take_in_step(max_records, alignment.floors)
            if taken:
                return taken
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), ALIGNED_WAIT_SECONDS)
            except asyncio.TimeoutError:
                pass

    def _in_step(self, max_records: int, floors: dict) -> int:
        """How many records ``_take_in_step`` would take now."""
        n, stopped = 0, set()
        for chunk in self.chunks:
            if n >= max_records:
                break
            if chunk.tp in stopped:
                continue
            records = chunk.records
            floor = floors.get(chunk.tp.partition)
            k = len(records)
            if floor is not None and records[-1].timestamp > floor:
                k = next(i for i, r in enumerate(records) if r.timestamp > floor)
                stopped.add(chunk.tp)
            n += k
        return min(n, max_records)

    def _take_in_step(self, max_records: int, floors: dict) -> list:
        """Up to ``max_records`` records, of each partition the longest queued run stamped at or
        before its number's floor; each partition's records stay in offset order."""
        taken, kept, n = [], deque(), 0
        stopped = set()  # partitions with records left behind: their later chunks wait too
        for chunk in self.chunks:
            if n >= max_records or chunk.tp in stopped:
                kept.append(chunk)
                continue
            records = chunk.records
            floor = floors.get(chunk.tp.partition)
            k = min(len(records), max_records - n)
            if floor is not None:
                for i in range(k):
                    if records[i].timestamp > floor:
                        k = i
                        break
            if k < len(records):
                stopped.add(chunk.tp)
                kept.append(chunk)
                if not k:
                    continue
                taken.append(Chunk(chunk.tp, records[:k], chunk.generation))
                chunk.records = records[k:]
            else:
                taken.append(chunk)
            n += k
        self.chunks = kept
        self._took(n)
        return taken

    def _take_in_order(self, max_records: int) -> list:
        """Chunks in the order they came, up to ``max_records`` by weight (at least one record)."""
        taken, n = [], 0
        while self.chunks and n < max_records:
            chunk = self.chunks[0]
            weight = self.weight(chunk)
            room = max(1, (max_records - n) // weight)
            if len(chunk.records) > room:
                head = Chunk(chunk.tp, chunk.records[:room], chunk.generation)
                chunk.records = chunk.records[room:]
                chunk = head
            else:
                self.chunks.popleft()
            taken.append(chunk)
            n += len(chunk.records) * weight
        self._took(n)
        return taken

    def holds(self, tp, offset: int) -> bool:
        """Whether a queued or in-flight chunk holds this record."""
        return any(c.tp == tp and c.first <= offset <= c.last for c in (*self.chunks, *self.in_flight))


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """The thread that runs aiokafka, with shorter fetch waits and a few calls run in it."""

    def _create_worker_consumer(self, transport):
        consumer = super()._create_worker_consumer(transport)
        # Faust passes fetch_max_wait_ms=1500 with no setting; aiokafka reads this when it starts.
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
        return consumer

    async def seek_now(self, tp, offset: int) -> None:
        """Seek in aiokafka's thread."""
        async def seek(client):
            client.seek(tp, offset)

        await self.call_thread(seek, self._ensure_consumer())

    async def rejoin(self) -> None:
        """Fresh metadata, then a new group join (for a worker left without partitions)."""
        async def rejoin(client):
            await client._client.force_metadata_update()
            client._coordinator.request_rejoin()

        await self.call_thread(rejoin, self._ensure_consumer())

    def fetch_position(self, tp):
        """aiokafka's position in the partition: the offset of the next record it hands over."""
        client = self._consumer
        try:
            return client._subscription.subscription.assignment.state_value(tp).position
        except Exception:  # not started, or no longer assigned
            return None


class Consumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer that delivers our topics to their agents in chunks."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sinks: dict[str, BatchSink] = {}
        self.acked_through: dict = {}  # chunked partitions: the next offset to commit
        self.delivered: dict = {}  # per partition, the offset this loop handed over last (forgotten on a seek)
        self.rewinds: dict = {}  # per partition, reads again from the right place since it last went on
        self.alignment = Alignment()  # co-partitioned input topics read in step by record time

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    # --- what the agents and the worker use ---

    def add_sink(self, topics, sink: BatchSink, aligned: bool = False) -> None:
        """Deliver ``topics`` to ``sink``; ``aligned``: partitions of the same number of these
        topics are read in step by record time (``alignment.Alignment``)."""
        if aligned and sink.weights:
            raise ValueError("records read in step by record time are counted one by one, not by weight")
        for topic in topics:
            self.sinks[topic] = sink
        if aligned:
            self.alignment.add_topics(topics)
            sink.alignment = self.alignment

    def ack_through(self, tp, next_offset: int, count: int, generation: int) -> None:
        """Records of a chunked partition up to ``next_offset`` (excluded) are applied (an
        acknowledgement from an older group generation means nothing to this one)."""
        if generation != self.app.consumer_generation_id:
            return
        if next_offset > self.acked_through.get(tp, -1):
            self.acked_through[tp] = next_offset
        self._n_acked += count

    def committed(self, tp) -> int | None:
        return self._committed_offset.get(tp)

    async def seek_quietly(self, tp, offset: int) -> None:
        """Read the partition again from ``offset`` (in aiokafka's thread); a partition no longer
        assigned is left to its next owner."""
        try:
            await self._thread.seek_now(tp, offset)
        except Exception as exc:
            log.info("could not seek %s[%d]: %r", tp.topic, tp.partition, exc)
            return
        self._read_offset[tp] = offset
        self.delivered.pop(tp, None)
        self.alignment.forget([tp])

    async def rejoin(self) -> None:
        await self._thread.rejoin()

    def holds(self, tp, offset: int) -> bool:
        """Whether an agent, its sink or a Faust channel still has this record to process."""
        sink = self.sinks.get(tp.topic)
        if sink is not None:
            return sink.holds(tp, offset)
        if any(m.offset == offset and m.tp == tp for m in list(self.unacked)):
            return True
        channels = self.app.topics._tp_index.get(tp, ())
        return any(e.message.offset == offset and e.message.tp == tp for c in channels for e in list(c.queue._queue))

    # --- Faust's consumer, overridden ---

    async def _drain_messages(self, fetcher) -> None:
        callback = self.callback
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        set_flag, unset_flag = self.diag.set_flag, self.diag.unset_flag
        app = self.app
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                records, active = await self._wait_next_records(1.0)
                await self.sleep(0)
                if records is None or self.should_stop:
                    continue
                if not self.flow_active:
                    try:
                        await self.perform_seek()
                    except Exception as exc:
                        log.warning("could not seek to the committed offsets while the flow is stopped: %r", exc)
                    continue
                generation = app.consumer_generation_id
                held_back = False
                for tp, batch in records.items():
                    if active is not None and tp not in active and tp not in self._buffered_partitions:
                        continue
                    if app.consumer_generation_id != generation:
                        break
                    sink = self.sinks.get(tp.topic)
                    if sink is None:
                        await self._deliver_records(tp, batch, callback)
                    else:
                        held_back |= await self._deliver_chunk(tp, batch, sink, generation)
                    if self._commit_every is not None and self._n_acked >= self._commit_every:
                        self._n_acked = 0
                        await self.commit()
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

    def _expected(self, tp) -> int | None:
        """The offset that should come next: Faust's read offset is the last record delivered,
        or after a seek the next one to read; which of the two, ``delivered`` tells."""
        r_offset = self._read_offset[tp]
        if r_offset is None:
            return None
        return r_offset + 1 if self.delivered.get(tp) == r_offset else r_offset

    async def _rewind(self, tp, offset: int, expected: int) -> bool:
        """Read the partition again from ``expected`` (True), or go on past records that are gone (False)."""
        tries = self.rewinds[tp] = self.rewinds.get(tp, 0) + 1
        if tries <= MAX_REWINDS:
            log.info("read %s[%d]@%d where %d was next: reading the partition again from %d",
                     tp.topic, tp.partition, offset, expected, expected)
            await self.seek_quietly(tp, expected)
            return True
        log.warning("%s[%d]: records %d to %d are gone from the broker (retention?)",
                    tp.topic, tp.partition, expected, offset - 1)
        return False

    def _delivered_through(self, tp, offset: int) -> None:
        self._read_offset[tp] = offset
        self.delivered[tp] = offset
        self.rewinds.pop(tp, None)

    async def _deliver_chunk(self, tp, records: list, sink: BatchSink, generation: int) -> bool:
        """Hand a partition's fetched records to its agent's sink; True when they were held back."""
        app = self.app
        if app.rebalancing or not app.flow_control.is_active():
            await self.seek_quietly(tp, records[0].offset)
            return True
        expected = self._expected(tp)
        if expected is not None:
            if records[-1].offset < expected:
                return False  # already delivered
            if records[0].offset < expected:
                records = [r for r in records if r.offset >= expected]
            if records[0].offset > expected and await self._rewind(tp, records[0].offset, expected):
                return False
        if records[-1].offset - records[0].offset != len(records) - 1:
            # a jump inside the chunk (rare: our topics are plain): deliver up to it, read the rest again
            for i in range(1, len(records)):
                if records[i].offset != records[i - 1].offset + 1:
                    await self.seek_quietly(tp, records[i - 1].offset + 1)
                    records = records[:i]
                    break
        if sink.full():
            await self.wait_first(sink.wait_for_space(), self.suspend_flow.wait())
            if self.suspend_flow.is_set() or not app.flow_control.is_active():
                await self.seek_quietly(tp, records[0].offset)  # a rebalance stopped the flow
                return True
        if app.consumer_generation_id != generation:
            return False  # revoked meanwhile: this position means nothing to the new generation
        sink.put(Chunk(tp, records, generation))
        self._delivered_through(tp, records[-1].offset)
        self.alignment.delivered(tp, records[-1].timestamp)
        return False

    async def _deliver_records(self, tp, records: list, callback) -> None:
        """Faust's per-record path (changelogs, Faust's own agents), with the fixes above."""
        app = self.app
        acks_enabled = app.topics.acks_enabled_for(tp.topic)
        to_message = self._to_message
        for n, record in enumerate(records):
            if n and not n % 100:
                await asyncio.sleep(0)
            offset = record.offset
            if not acks_enabled:  # changelogs (compacted): Faust's rule
                r_offset = self._read_offset[tp]
                if r_offset is not None and offset < r_offset:
                    continue
            elif app.rebalancing or not app.flow_control.is_active():
                await self.seek_quietly(tp, offset)
                return
            else:
                expected = self._expected(tp)
                if expected is not None:
                    if offset < expected:
                        continue
                    if offset > expected and await self._rewind(tp, offset, expected):
                        return
            generation = app.consumer_generation_id
            message = to_message(tp, record)
            if self._delivers_at_once(tp):
                await callback(message)
            else:
                delivery = callback(message)
                waited = await self.wait_first(delivery, self.suspend_flow.wait())
                if delivery not in waited.done:
                    return  # a rebalance stopped the flow: it seeks to the committed offsets
            if app.consumer_generation_id != generation:
                return  # revoked meanwhile
            self._delivered_through(tp, offset)

    def _delivers_at_once(self, tp) -> bool:
        """Whether handing a record to its channels cannot block: then it is delivered without
        Faust's race against a flow stop (two tasks and an ``asyncio.wait`` per record)."""
        app = self.app
        buffer = app.producer.buffer
        if (self.suspend_flow.is_set() or not app.flow_control.is_active()
                or app.topics._tp_to_callback_lock.locked() or buffer.size > buffer.max_messages):
            return False
        return not any(channel.queue.full() for channel in app.topics._tp_index.get(tp, ()))

    def _filter_tps_with_pending_acks(self, topics=None):
        tps = set(super()._filter_tps_with_pending_acks(topics))
        tps.update(tp for tp in self.acked_through if topics is None or tp in topics or tp.topic in topics)
        return iter(tps)

    def _new_offset(self, tp):
        if tp.topic in self.sinks:
            return self.acked_through.get(tp)
        # A single missing offset at the head of the acknowledged offsets holds the commit back too.
        acked = self._acked[tp]
        committed = self._committed_offset[tp]
        if acked and committed is not None and min(acked) > committed:
            return None
        return super()._new_offset(tp)

    async def perform_seek(self) -> None:
        """Faust's (every partition to its committed offset), and every input partition nothing was
        committed for yet to its first record.

        Faust's leaves a partition without a committed offset where aiokafka's position is: past
        records fetched and handed over before, which a rebalance or a stopped flow dropped
        (e.g. the first records of a partition, fetched while the streams resumed and dropped
        because the flow was not on yet). They were never read again.
        """
        await super().perform_seek()
        self.delivered.clear()
        self.alignment.forget()
        self.acked_through.clear()  # from the committed offsets on, everything is read again
        uncommitted = [tp for tp in self.assignment()
                       if not self._is_changelog_tp(tp) and self._committed_offset.get(tp) is None]
        if uncommitted:
            try:
                firsts = await self.earliest_offsets(*uncommitted)
            except Exception as exc:  # a broker away: offset 0 leads aiokafka to the first record too
                log.info("could not read the first offsets of %d partitions: %r", len(uncommitted), exc)
                firsts = {}
            for tp in uncommitted:
                await self.seek_quietly(tp, firsts.get(tp) or 0)

    async def seek(self, partition, offset: int) -> None:
        await super().seek(partition, offset)
        self.delivered.pop(partition, None)
        self.alignment.forget([partition])

    async def on_partitions_revoked(self, revoked) -> None:
        for tp in revoked:
            self.acked_through.pop(tp, None)
            self.delivered.pop(tp, None)
        self.alignment.forget(revoked)
        await super().on_partitions_revoked(revoked)

    async def _getmany(self, active_partitions, timeout: float):
        """Faust's fetch, without the aligned partitions that are ahead in record time: their
        fetched records wait in aiokafka, which fetches no more of them meanwhile."""
        if active_partitions:
            held = self.alignment.held(active_partitions, self._records_left)
            if held:
                active_partitions = set(active_partitions) - held
        return await super()._getmany(active_partitions, timeout)

    def _records_left(self, tp) -> int | None:
        """Records of the partition after the last one handed over, as far as the last fetch knew."""
        delivered = self.delivered.get(tp)
        if delivered is None:
            return None
        try:
            highwater = self.highwater(tp)
        except Exception:  # no longer assigned
            return None
        return None if highwater is None else highwater - delivered - 1

    async def wait_empty(self) -> None:
        """Faust's, after the chunks the agents are applying: their acks go into this commit."""
        waited = 0.0
        while not self.should_stop and any(sink.in_flight for sink in set(self.sinks.values())):
            await asyncio.sleep(0.005)
            waited += 0.005
            if waited >= 5.0:
                log.info("rebalance: waiting for the agents to finish their batches")
                waited = 0.0
        await super().wait_empty()

    def verify_event_path(self, now: float, tp) -> None:
        if tp.topic in self.sinks:
            return None  # Faust's monitor sees no per-record events here; StallWatch watches these
        return super().verify_event_path(now, tp)


class ProducerBuffer(FaustProducerBuffer):
    """Faust's buffer, whose ``flush`` returns only when every record is with aiokafka."""

    sending = 0  # records taken off the queue, not yet handed to aiokafka

    async def _send_pending(self, fut) -> None:
        self.sending += 1
        try:
            await super()._send_pending(fut)
        finally:
            self.sending -= 1

    async def flush(self) -> None:
        waited = 0.0
        while self.size or self.sending:
            if self.state != "running":
                raise RuntimeError("Cannot flush: Producer not Running")
            await asyncio.sleep(0.002)
            waited += 0.002
            if waited >= 5.0:
                log.info("producer buffer: %d records still waiting to be sent", self.size)
                waited = 0.0


class Producer(faust_aiokafka.Producer):
    """Faust's producer with convoflow's buffer, writing like every producer convoflow makes
    (``convoflow.contract.topics.DURABLE_PRODUCER``: acks=all and idempotence, which Faust asks for only
    inside transactions, and convoflow uses none)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        buffer = ProducerBuffer(loop=self.loop, beacon=self.beacon)
        if getattr(self.buffer, "threaded_producer", None) is not None:
            buffer.threaded_producer = self.buffer.threaded_producer
        buffer.app = self.app
        self.buffer = buffer

    def _settings_extra(self):
        return {**super()._settings_extra(), **DURABLE_PRODUCER}

    async def send_records(self, topic: str, partition: int, records) -> list:
        """Queue ``(key, value)`` records for one topic partition in as few record batches as
        they fit in, each handed to aiokafka whole (``send_batch``); ``[(future, count)]``,
        a future per batch, resolved with the batch's first offset once it is written.

        ``send`` costs a coroutine chain and two futures per record: about half of what
        writing a table's changelog cost. The batches are queued in aiokafka's
        accumulator like any record, so ``flush`` (and Faust's commit, which flushes
        first) waits for them too.
        """
        producer = self._ensure_producer()
        out, batch, count = [], producer.create_batch(), 0
        for key, value in records:
            if batch.append(key=key, value=value, timestamp=None) is None:  # full: the record opens the next
                out.append((await producer.send_batch(batch, topic, partition=partition), count))
                batch, count = producer.create_batch(), 0
                batch.append(key=key, value=value, timestamp=None)  # the first record always fits
            count += 1
        if count:
            out.append((await producer.send_batch(batch, topic, partition=partition), count))
        return out


class Transport(faust_aiokafka.Transport):
    """Faust's aiokafka transport with convoflow's consumer and producer (``convoflow://``)."""

    Consumer = Consumer
    Producer = Producer


class StallWatch:
    """Finds partitions whose next record to commit was lost on its way to the agents.

    A record that reaches an agent while the flow is paused, or stamped with an
    older group generation, is dropped without an acknowledgement; around a
    rebalance that can be the very record a new generation starts at, or every
    record left in the partition. The commit then waits at it forever (Faust's
    own commit passes over it, which loses it). A record is lost when aiokafka has handed it over,
    it is not acknowledged, and neither an agent nor a queue holds it; after
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
            committed = consumer.committed(tp)
            offset = committed if committed is not None else 0
            end = consumer.highwater(tp)
            if end is None or offset >= end or _commit_on_its_way(consumer, tp, offset):
                continue
            position = consumer._thread.fetch_position(tp)
            if position is None or position <= offset or consumer.holds(tp, offset):
                continue  # not fetched yet, or being processed
            key = (tp, offset)
            seen.add(key)
            if now - self.since.setdefault(key, now) >= self.seconds:
                self.since.pop(key)
                due.append(key)
        for key in set(self.since) - seen:
            self.since.pop(key)
        return due


def _commit_on_its_way(consumer, tp, offset: int) -> bool:
    if tp.topic in consumer.sinks:
        return consumer.acked_through.get(tp, -1) > offset
    return offset in consumer._acked_index.get(tp, ())


def register(app) -> None:
    """Every second, read again from a record that was handed over but never processed (StallWatch)."""
    watch = StallWatch(app)

    @app.timer(interval=1.0)
    async def read_lost_records_again():
        for tp, offset in watch.due(asyncio.get_running_loop().time()):
            log.info("%s[%d]: offset %d was handed over but never processed; reading again from it",
                     tp.topic, tp.partition, offset)
            await app.consumer.seek_quietly(tp, offset)


__all__ = ["BatchSink", "Chunk", "Consumer", "ConsumerThread", "Producer", "ProducerBuffer", "StallWatch",
           "Transport", "register"]
