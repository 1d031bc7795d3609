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

import shutil
from pathlib import Path

import rocksdict
from faust.stores import rocksdb as faust_rocksdb

from convoflow.streams.state.memory import share_memory
from convoflow.streams.state.partition import WITHOUT_WAL


class SharedMemoryOptions(faust_rocksdb.RocksDBOptions):
    """Faust's rocksdict options, with the process's shared cache and write buffer manager."""

    def as_options(self):
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

    def open(self, path, *, read_only: bool = False):
        db = super().open(path, read_only=read_only)
        db.set_write_options(WITHOUT_WAL)
        return db


class Store(faust_rocksdb.Store):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.use_rocksdict:
            raise RuntimeError("convoflow's store needs rocksdict")
        self.rocksdb_options = SharedMemoryOptions(**self.options, use_rocksdict=True)

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

    def drop_copy(self, partition: int) -> bool:
        """Delete the partition's database from the disk, unless it is open here (False)."""
        if partition in self._dbs:
            return False
        shutil.rmtree(self.partition_path(partition), ignore_errors=True)
        return True
