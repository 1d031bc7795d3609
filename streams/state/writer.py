"""An agent's reads and writes of a table partition: into its RocksDB at once, to the changelog once per batch.

``TableWriter`` writes the same bytes to the same store and changelog partition as Faust's
``table[key] = value``, without its dict wrapper, key index (under a lock), future and buffer per
record, and records the changelog offset once per batch and partition instead of once per record.
The partition is the one of the ``partition_context`` the agent is in.
"""
from __future__ import annotations

import contextvars
from collections import defaultdict

from convoflow.streams.state.partition import write_offset, write_records

# The partition whose store a batch's table reads and writes go to (``partition_context``).
_partition: contextvars.ContextVar[int] = contextvars.ContextVar("convoflow_partition")


class TableWriter:
    """Reads and writes a Faust table's partition directly: into its RocksDB at once, to the
    changelog when the batch ends (``flush``), which the agent awaits before the batch
    is acknowledged. Faust's commit flushes the producer first, so no offset is committed
    before the records of its events are with the broker.
    """

    def __init__(self, app, table):
        self.app, self.store, self.name = app, table.data, table.name
        self.head = table.data.head  # the table's heads are written with its values
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
        if self.head is None:
            self.store.partition_db(partition).put(encoded, value)
        else:
            write_records(self.store.partition_db(partition), [(encoded, value)], self.head)
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
            write_offset(db, fut.result().offset + count - 1)


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
