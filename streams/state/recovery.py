"""Bulk restore: a table partition's local RocksDB brought up to its changelog when it is assigned.

Faust restores a table by handing every changelog record, one at a time,
through its consumer, its recovery loop and a buffer of 1,000 (about 9,000
records/s end to end here). So when a rebalance gives this worker a table
partition it did not have, as active or as standby, convoflow's table manager
(``convoflow.streams.faust_ext.tables``) calls :func:`restore_partitions` before it hands
the rebalance on to Faust's recovery: a plain aiokafka consumer reads each of
those changelog partitions from the offset the local store has
(``convoflow.streams.state.partition``) to the end, and writes the records in RocksDB write
batches, with the new offset in the same batch, into the database Faust's store
has open for the partition. Faust's recovery then finds the store up to date
and only reads what was written since; a standby goes on tailing from there.

Only this worker's partitions are read: a worker holds its share of each
table, not the whole of it (its copies of partitions it no longer holds are
dropped after ``CONVOFLOW_STALE_PARTITION_HOURS``, ``convoflow.streams.faust_ext.tables``).

The batches skip RocksDB's write-ahead log, as every write to a table's store does
(``convoflow.streams.faust_ext.store``). What RocksDB puts on disk is always a prefix of the
writes, so a crash loses the unflushed batches together with the offsets written in them, and
the next restore reads those records again. A partition that is done has its memtables written
to disk in RocksDB's background threads, so that they stop holding memory; the restore does not
wait for that (a flush waited for cost about 12 ms a store, a quarter of the restore at the
default size).
"""
from __future__ import annotations

import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from convoflow.contract.topics import partitions_of, partitions_of_topics
from convoflow.streams.polling import patiently, poll
from convoflow.streams.state.partition import Partition

MAX_RECORDS = 50_000


def rocksdb_tables(app) -> dict:
    """{changelog topic: table} of the app's tables kept in RocksDB."""
    return {t.changelog_topic.get_topic_name(): t for t in app.tables.values() if hasattr(t.data, "rocksdb_options")}


async def restore_partitions(app, settings, tps=None) -> dict:
    """Read what the local stores of the changelog partitions ``tps`` (every partition of every
    table when None) lack into them; the records read, per table."""
    tables = rocksdb_tables(app)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
        fetch_max_bytes=64 * 1024 * 1024, max_partition_fetch_bytes=16 * 1024 * 1024,
        # a fetch that finds nothing new answers in 50 ms, not aiokafka's 500: a rebalance waits for this
        fetch_max_wait_ms=50, **settings.kafka_kwargs(),
    )
    await patiently(consumer.start, "restore: connecting")
    stores: dict[TopicPartition, Partition] = {}
    remaining: set[TopicPartition] = set()
    summary: dict[str, int] = {}
    try:
        if tps is None:
            topics = await consumer.topics()
            tps = [tp for topic in sorted(tables) if topic in topics for tp in await partitions_of(consumer, topic)]
        tps = [TopicPartition(tp.topic, tp.partition) for tp in tps if tp.topic in tables]
        if not tps:
            return {}
        # The client learns every changelog's partitions in one metadata request: asked for offsets
        # of topics it does not know yet, it learns them one topic and one retry back-off at a time
        # (0.7 s of a restore of seven tables).
        await patiently(lambda: partitions_of_topics(consumer, sorted({tp.topic for tp in tps})),
                        "restore: reading the changelogs' partitions")
        # A rebalance waits for this: a broker that is away (restarting) is waited for, not given up on.
        starts = await patiently(lambda: consumer.beginning_offsets(tps), "restore: reading the changelogs' first offsets")
        ends = await patiently(lambda: consumer.end_offsets(tps), "restore: reading the changelogs' end offsets")
        for tp in tps:
            if ends[tp] <= starts[tp]:
                continue  # an empty changelog: nothing to read
            store = Partition(tables[tp.topic].data, tp.partition)
            if max(store.next_offset, starts[tp]) < ends[tp]:
                stores[tp] = store
        if not stores:
            return {}
        consumer.assign(list(stores))
        for tp, store in stores.items():
            consumer.seek(tp, max(store.next_offset, starts[tp]))
        remaining.update(stores)
        while remaining:
            batches = await poll(consumer, "restore", timeout_ms=500, max_records=MAX_RECORDS)
            for tp, records in batches.items():
                if records:
                    stores[tp].write(records)
                    name = tables[tp.topic].name
                    summary[name] = summary.get(name, 0) + len(records)
            for tp in list(remaining):
                if stores[tp].next_offset >= ends[tp] or await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
                    stores[tp].flush_soon()
                    consumer.pause(tp)
    finally:
        await consumer.stop()
    return summary


async def wait_until_served(app, settings) -> None:
    """Return once the broker answers offset requests for every partition of the worker's topics.

    On topics created a moment before, the broker can still refuse them (not the leader yet);
    the client retries, and logs each refusal as an error. Asked here, before the worker's
    logging is set up and before Faust's consumer asks, the refusals stay out of the worker's log.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False,
                                **settings.kafka_kwargs())
    await consumer.start()
    try:
        names = set(settings.all_topics()) | set(rocksdb_tables(app))
        existing = await consumer.topics()
        tps = [tp for topic in sorted(names & existing) for tp in await partitions_of(consumer, topic)]
        if tps:
            await consumer.end_offsets(tps)
    finally:
        await consumer.stop()


async def restore_logged(app, settings, tps, log) -> dict:
    """:func:`restore_partitions`, with the line a worker logs when it read anything."""
    started = time.monotonic()
    summary = await restore_partitions(app, settings, tps)
    if summary:
        log.info(describe(summary, time.monotonic() - started, sorted({tp.partition for tp in tps})))
    return summary


def describe(summary: dict, seconds: float, partitions=None) -> str:
    total = sum(summary.values())
    which = f" of partitions {partitions}" if partitions is not None else ""
    return (f"restored {total} changelog records in {seconds:.2f} s ({total / max(seconds, 1e-9):.0f}/s)"
            f"{which}: {summary}")
