"""Bulk restore: each table's local RocksDB brought up to its changelog before Faust starts.

Faust restores a table by handing every changelog record, one at a time,
through its consumer, its recovery loop and a buffer of 1,000 (a restart on an
empty data dir managed about 9,000 records/s end to end here). A worker that lost its data dir, or was down for a while,
spends minutes there before it processes anything. Here, before Faust starts,
a plain aiokafka consumer reads each changelog partition from the offset the
local store has (Faust's own ``__faust\\0offset__`` key) to the end, and writes
the records in RocksDB write batches, with the new offset in the same batch.
Faust's recovery then finds the stores up to date and only reads what was
written since.

The batches skip RocksDB's write-ahead log, and each store is flushed when it
is closed: a crash in the middle loses the unflushed batches together with the
offsets written in them, so the next restore reads those records again.

Every partition is restored, not only those this worker will be assigned
(which is not known before it joins the group): a worker holds a local copy
of every partition it ever restored. A copy it does not own is never read,
and when a partition is assigned to it later, Faust reads on from the copy's
offset, as with any store it left behind.
"""
from __future__ import annotations

from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from rocksdict import WriteBatch, WriteOptions

from convoflow.topics import partitions_of
from streams.runtime import OFFSET_KEY, poll

MAX_RECORDS = 50_000
WITHOUT_WAL = WriteOptions()
WITHOUT_WAL.disable_wal = True


class PartitionStore:
    """One table partition's RocksDB, opened as Faust opens it, with Faust's persisted offset."""

    def __init__(self, table, partition: int):
        path = Path(table.data.partition_path(partition))
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = table.data.rocksdb_options.open(path)
        offset = self.db.get(OFFSET_KEY)
        self.next_offset = int(offset) + 1 if offset is not None else 0

    def write(self, records) -> None:
        """The records and, in the same write batch, the offset of the last one."""
        batch = WriteBatch(raw_mode=True)
        for r in records:
            if r.value is None:
                batch.delete(r.key)
            else:
                batch.put(r.key, r.value)
        batch.put(OFFSET_KEY, str(records[-1].offset).encode())
        self.db.write(batch, WITHOUT_WAL)
        self.next_offset = records[-1].offset + 1

    def close(self) -> None:
        self.db.flush(True)  # the batches skipped the write-ahead log (nothing to do for a store not written)
        self.db.close()


async def restore_tables(app, settings) -> dict:
    """Read every table changelog partition the local stores lack into them; what was done, per table."""
    tables = {t.changelog_topic.get_topic_name(): t for t in app.tables.values() if _on_rocksdb(t)}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
        fetch_max_bytes=64 * 1024 * 1024, max_partition_fetch_bytes=16 * 1024 * 1024, **settings.kafka_kwargs(),
    )
    await consumer.start()
    stores: dict[TopicPartition, PartitionStore] = {}
    summary: dict[str, int] = {}
    try:
        topics = await consumer.topics()
        tps = [tp for topic in sorted(tables) if topic in topics for tp in await partitions_of(consumer, topic)]
        if not tps:
            return {}
        starts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        for tp in tps:
            if ends[tp] <= starts[tp]:
                continue  # an empty changelog: nothing to open
            store = PartitionStore(tables[tp.topic], tp.partition)
            if max(store.next_offset, starts[tp]) >= ends[tp]:
                store.close()
                continue
            stores[tp] = store
        if not stores:
            return {}
        consumer.assign(list(stores))
        for tp, store in stores.items():
            consumer.seek(tp, max(store.next_offset, starts[tp]))
        remaining = set(stores)
        while remaining:
            batches = await poll(consumer, "restore", timeout_ms=500, max_records=MAX_RECORDS)
            for tp, records in batches.items():
                if records:
                    stores[tp].write(records)
                    name = tables[tp.topic].name
                    summary[name] = summary.get(name, 0) + len(records)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        for store in stores.values():
            store.close()
        await consumer.stop()
    return summary


def describe(summary: dict, seconds: float) -> str:
    """The line a worker logs once it runs (its logging is not set up while it restores)."""
    total = sum(summary.values())
    return (f"restored {total} changelog records in {seconds:.2f} s ({total / max(seconds, 1e-9):.0f}/s) "
            f"before starting: {summary}")


def _on_rocksdb(table) -> bool:
    return hasattr(table.data, "rocksdb_options")
