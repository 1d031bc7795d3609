"""convoflow's RocksDB store for Faust tables (``store="convoflow://"``).

Faust picks a table store by the ``store`` URL's scheme; ``convoflow`` names
:class:`Store` through the ``faust.stores`` entry point in pyproject.toml. It is
Faust's RocksDB store with two differences:

- Every store of the process shares one block cache, with the write buffers
  charged to it (``convoflow.streams.state.memory``). Faust gave each
  partition's store its own cache and write buffers, so a worker's RocksDB
  memory grew with its partitions (28 stores: up to 448 MiB of caches and
  1.3 GiB of write buffers).
- Writes skip RocksDB's write-ahead log (every write through the database,
  the agents', Faust's recovery and the bulk restore alike). The changelog is
  the log: a crash loses the writes not yet flushed to disk together with the
  changelog offsets written after them (``__faust\0offset__``), so what is on
  disk is always a prefix of the writes, and its offset says where the next
  restore reads the changelog from. A database flushes its memory when it is
  closed, and before a checkpoint. The log cost a system call per write.
- A changelog batch from Faust's recovery (a standby, or an active partition
  catching up) is applied only where it continues the store: records the store
  already holds, of another table's changelog, or of a partition this worker
  no longer holds, are skipped, and a batch that would leave a hole (records
  between the store's offset and the batch's first one never reached it) is
  not applied at all; the partition is marked (``holes``) and the table
  manager reads it on from the store's offset with the bulk restore at the
  next rebalance, before the partition is processed. Around a rebalance,
  Faust's consumer can hand its recovery records fetched before the recovery's
  seek, while the ones before them were dropped from its queue; written as
  they come, they moved the stored offset past records the store never got,
  and a standby promoted to active lost them.
- A table whose reports read the heads of its values (``head=`` in the table's options:
  the conversations' summaries) has them kept in a column family of each partition's
  database, written with the values by every path (the agents' writes, the bulk restore and
  Faust's recovery): ``convoflow.streams.state.partition``.
- A rebalance collects garbage (Faust's way of closing a revoked database at
  once) only for a table that loses a partition; Faust collected on every
  rebalance and for every table (0.7 s of a worker's start).

It also names what the agents, exports and metrics read: a partition's
database (``partition_db``) and the open ones (``open_partitions``); and the
copies of the table's partitions on the worker's disk (``partition_copies``),
which the table manager drops when the worker no longer holds them
(``drop_copy``, ``convoflow.streams.faust_ext.tables``).
"""
from __future__ import annotations

import gc
import logging
import shutil
from pathlib import Path

import rocksdict
from faust.stores import rocksdb as faust_rocksdb

from convoflow.streams.state.memory import share_memory
from convoflow.streams.state.partition import HEADS, WITHOUT_WAL, build_heads, write_records

log = logging.getLogger("convoflow")


class SharedMemoryOptions(faust_rocksdb.RocksDBOptions):
    """Faust's rocksdict options, with the process's shared cache and write buffer manager; and
    for a table with heads, the heads' column family (``head``: what of a value it keeps)."""

    head = None

    def as_options(self):
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        options.set_max_open_files(self.max_open_files)
        options.set_write_buffer_size(self.write_buffer_size)
        options.set_target_file_size_base(self.target_file_size_base)
        options.set_max_write_buffer_number(self.max_write_buffer_number)
        # Opening a store starts none of RocksDB's 16 file-opening threads: a worker opens a store
        # per table and partition (84 at 12 partitions) when it is assigned them, about 1.5 ms
        # each saved; the files of one store open fast enough on one thread.
        options.set_max_file_opening_threads(1)
        # The shared write buffers flush a store's memtable when the process's budget is full, so
        # level-0 files are small, and every compaction of level 0 rewrites the store's whole
        # level 1 (the keys are spread over all of it). Waiting for 10 files instead of 4 makes
        # each such rewrite carry 2.5 times the new data: about half of RocksDB's background CPU
        # at 100,000 conversations, the ingest no slower (a read probes each level-0 file's filter).
        options.set_level_zero_file_num_compaction_trigger(10)
        tables = rocksdict.BlockBasedOptions()
        tables.set_bloom_filter(self.bloom_filter_size, block_based=True)
        tables.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
        share_memory(options, tables)
        return options

    def open(self, path, *, read_only: bool = False):
        if self.head is None:
            db = super().open(path, read_only=read_only)
        else:  # Faust's open, with the heads' column family, flushed together with the values
            options = self.as_options()
            options.create_missing_column_families(True)
            options.set_atomic_flush(True)
            db = rocksdict.Rdict(str(path), options=options, column_families={HEADS: self.as_options()})
            db.set_read_options(rocksdict.ReadOptions())
        db.set_write_options(WITHOUT_WAL)
        if self.head is not None:
            built = build_heads(db, self.head)
            if built:
                log.info("%s: the heads of %d values written", path, built)
        return db


class Store(faust_rocksdb.Store):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.use_rocksdict:
            raise RuntimeError("convoflow's store needs rocksdict")
        options = dict(self.options)
        self.head = options.pop("head", None)
        self.rocksdb_options = SharedMemoryOptions(**options, use_rocksdict=True)
        self.rocksdb_options.head = self.head
        self.holes: dict = {}  # {changelog TP: the offset the store needs next} of batches not applied

    def apply_changelog_batch(self, batch, to_key, to_value) -> None:
        """Faust's, for the records that continue each partition's store (see the module's docstring)."""
        kept, expected = [], {}
        mine = self.table.changelog_topic.topics
        assignor = self.app.assignor
        held = assignor.assigned_actives() | assignor.assigned_standbys()
        for event in batch:
            tp, offset = event.message.tp, event.message.offset
            if tp.topic not in mine or tp not in held:
                # Faust's recovery hands over records of a partition it no longer tracks, to the
                # table it read last: they would reopen (and keep open) a copy the worker dropped
                continue
            if tp in self.holes:
                continue
            if tp not in expected:
                stored = self.persisted_offset(tp)
                expected[tp] = None if stored is None else stored + 1
            following = expected[tp]
            if following is not None and offset < following:
                continue  # already in the store
            if following is not None and offset > following:
                self.holes[tp] = following
                log.info("%s[%d]: changelog records from %d reached the store's recovery out of order (next "
                         "was %d); the partition is read again from %d at the next rebalance",
                         tp.topic, tp.partition, offset, following, following)
                continue
            kept.append(event)
            expected[tp] = offset + 1
        if kept:
            self._apply(kept)

    def _apply(self, events) -> None:
        """Faust's ``apply_changelog_batch`` for the records kept: a batch per partition, heads
        included, then the offsets."""
        per_partition: dict = {}
        offsets: dict = {}
        for event in events:
            msg = event.message
            per_partition.setdefault(msg.partition, []).append((msg.key, msg.value))
            offsets[msg.tp] = max(msg.offset, offsets.get(msg.tp, msg.offset))
        for partition, items in per_partition.items():
            write_records(self._db_for_partition(partition), items, self.head)
        for tp, offset in offsets.items():
            self.set_persisted_offset(tp, offset)

    def partition_db(self, partition: int):
        """The partition's database (opened when this worker has not opened it yet)."""
        return self._db_for_partition(partition)

    def open_partitions(self) -> dict:
        """{partition: database} of the partitions this store has open."""
        return dict(self._dbs)

    def revoke_partitions(self, table, tps) -> None:
        if any(tp.topic in table.changelog_topic.topics for tp in tps):
            super().revoke_partitions(table, tps)

    def partition_copies(self) -> dict[int, Path]:
        """{partition: directory} of each of this table's partition databases on the worker's disk."""
        prefix = f"{self.basename.name}-"
        found = {}
        for path in Path(self.path).glob(f"{prefix}*.db"):
            number = path.name[len(prefix):-len(".db")]
            if number.isdigit() and path.is_dir() and path == self.partition_path(int(number)):
                found[int(number)] = path
        return found

    def release(self, partition: int) -> None:
        """Close the partition's database if it is open here, as Faust closes a revoked one."""
        if self._dbs.pop(partition, None) is not None:
            gc.collect()

    def drop_copy(self, partition: int) -> bool:
        """Delete the partition's database from the disk, unless it is open here (False)."""
        if partition in self._dbs:
            return False
        shutil.rmtree(self.partition_path(partition), ignore_errors=True)
        return True
