"""The agents' loop: records read in batches, applied, retried, acknowledged.

``batch_agent`` makes an agent that reads its topics' records in batches straight from the
consumer (``convoflow.streams.faust_ext.transport.BatchSink``); ``apply_batches`` applies each
batch, retries one that fails and sends records that keep failing to dead letters, and marks
the records processed; ``batches`` acknowledges a batch only when the next one is asked for.
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

from convoflow.streams.runtime import Runtime

log = logging.getLogger("convoflow")

# A bundle (Outbox: up to 400 items a record) counts for BUNDLE_BATCH_DIVISOR records of a batch,
# so an agent of bundles takes batch_size // BUNDLE_BATCH_DIVISOR of them a batch (100 by default),
# and at most BUNDLE_BATCHES_QUEUED batches wait for it. Bundles are 32-64 KB: a batch of 10,000 of
# them would stop the event loop for seconds and hold hundreds of MB while its agent is behind.
# With much smaller batches, a batch coalesces too few updates of the same conversation and the
# agent falls behind its input. The plain events an agent reads beside bundles (contact attributes)
# count one each: taken 100 a batch like bundles, they made the whole ingest about 6 % slower.
BUNDLE_BATCH_DIVISOR = 400
BUNDLE_BATCHES_QUEUED = 4
# Records fetched and waiting for an agent of events, in batches.
EVENT_BATCHES_QUEUED = 2


def batch_agent(app, runtime: Runtime, source, name: str, apply, writers=(), bundles=(),
                aligned: bool = False) -> None:
    """An agent that reads the topics of ``source`` in batches of records and runs ``apply(records)``
    on each (``apply_batches``).

    The consumer hands the topics' fetched records to the agent's ``BatchSink`` as
    they come (aiokafka's ``ConsumerRecord``: topic, partition, offset, key, value,
    headers), without Faust's per-record message, event, channel or ack.
    ``source``'s channel is still added to Faust's conductor, which subscribes
    the consumer to its topics. ``bundles``: the names of the source's topics whose records are
    ``Outbox`` bundles (each counts for ``BUNDLE_BATCH_DIVISOR`` records).
    ``aligned``: the source's topics are co-partitioned and read in step by record time
    (``convoflow.streams.faust_ext.alignment``), so one batch holds more events of each key.
    """
    from convoflow.streams.faust_ext.transport import BatchSink

    max_records = runtime.settings.batch_size
    weights = {topic: BUNDLE_BATCH_DIVISOR for topic in bundles}
    sink = BatchSink(app, (BUNDLE_BATCHES_QUEUED if bundles else EVENT_BATCHES_QUEUED) * max_records, weights)
    app.topics.add(source.clone(is_iterator=True, maxsize=1))  # the subscription; never delivered to
    app.consumer.add_sink(source.topics, sink, aligned)

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


async def apply_batches(runtime: Runtime, sink, apply, max_records: int) -> None:
    """Run ``apply(records)`` on each batch of the sink, marking its records processed.

    A batch that raises is retried (every apply is idempotent) for up to
    RETRY_FOR_SECONDS; then its records are applied one at a time and any that
    still fails goes to ``dead-letters`` with the error, so one poisonous record
    can neither stop the agent nor take the rest of its batch with it.
    """
    runtime.sent.clear()  # an agent restarted after an error may not have sent its last batch
    async for batch in batches(runtime.app, sink, max_records, runtime.settings.batch_linger):
        if await _attempt(runtime, apply, batch, RETRY_FOR_SECONDS) is not None:
            for record in batch:
                error = await _attempt(runtime, apply, [record], 0)
                if error is not None:
                    await runtime.dead_letter(record, f"internal error while applying the event: {error}")
        # each partition's records are in offset order: the last one seen is its highest
        last = {(record.topic, record.partition): record.offset for record in batch}
        for (topic, partition), offset in last.items():
            runtime.mark(topic, partition, offset + 1)


async def _attempt(runtime: Runtime, apply, records: list, retry_for: float) -> str | None:
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
            runtime.sent.clear()
            log.exception("applying %d records failed (%s)", len(records), error)
            if loop.time() + delay > deadline:
                return error
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def by_partition(records) -> dict[int, list]:
    groups: dict[int, list] = defaultdict(list)
    for record in records:
        groups[record.partition].append(record)
    return groups
