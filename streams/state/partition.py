"""One table partition's RocksDB, as a table's store has it open: the Store / Partition interface.

A table's store (``convoflow.streams.faust_ext.store.Store``) holds one database per partition.
Besides the table's keys, a partition's database holds the changelog offset it is up to date
with (Faust's ``__faust\\0offset__`` key): a restore reads the changelog on from there. Writes
skip the write-ahead log, as the changelog is the log: a crash loses the unflushed writes
together with the offsets written after them, so the next restore reads them again.
"""
from __future__ import annotations

from itertools import islice
from typing import Callable, Protocol

from rocksdict import ReadOptions, WriteBatch, WriteOptions

OFFSET_KEY = b"__faust\0offset__"  # faust.stores.rocksdb.Store.offset_key: the changelog offset a store holds
STORE_META_PREFIX = b"__faust"  # the store's own keys (the offset), never a table's
WITHOUT_WAL = WriteOptions()
WITHOUT_WAL.disable_wal = True
SCAN_CHUNK = 1_000  # (key, value) pairs a whole-store scan reads at once
HEADS = "heads"  # the column family of the values' heads, in a store whose table has them
HEADS_BUILT = b"__faust\0heads__"  # in that column family once it holds the head of every value


class Store(Protocol):
    """A table's partitioned store, as the agents, the restore and the exports use it."""

    def partition_db(self, partition: int):
        """The partition's database (opened when this worker has not opened it yet)."""

    def open_partitions(self) -> dict:
        """{partition: database} of the partitions open here."""

    # What of a value the store keeps again in its databases' heads (None: no heads).
    head: Callable[[bytes], bytes] | None


def write_records(db, items, head: Callable[[bytes], bytes] | None = None, offset: int | None = None) -> None:
    """``(key, value)`` items (a None value deletes the key) written in one batch without the
    write-ahead log, with each value's head when the table has heads, and ``offset`` as the
    changelog offset the database holds when given."""
    batch = WriteBatch(raw_mode=True)
    put, delete = batch.put, batch.delete
    if head is None:
        for key, value in items:
            if value is None:
                delete(key)
            else:
                put(key, value)
    else:
        heads = db.get_column_family_handle(HEADS)
        for key, value in items:
            if value is None:
                delete(key)
                delete(key, heads)
            else:
                put(key, value)
                put(key, head(value), heads)
    if offset is not None:
        put(OFFSET_KEY, str(offset).encode())
    db.write(batch, WITHOUT_WAL)


def heads_of(db):
    """The heads of a partition's database, to read as a database of their own."""
    return db.get_column_family(HEADS)


def build_heads(db, head: Callable[[bytes], bytes]) -> int:
    """The head of every value of ``db`` written to its heads, unless they are there already
    (``HEADS_BUILT``); how many were written. Writing them again is harmless: a kill midway
    leaves the mark unwritten, and the next open builds them anew."""
    heads = heads_of(db)
    if heads.get(HEADS_BUILT) is not None:
        return 0
    count = 0
    items = db.items(read_opt=_full_scan())
    while chunk := list(islice(items, SCAN_CHUNK)):
        values = [(k, v) for k, v in chunk if not k.startswith(STORE_META_PREFIX)]
        write_records(db, values, head)
        count += len(values)
    heads.put(HEADS_BUILT, b"1", WITHOUT_WAL)
    return count


def write_offset(db, offset: int) -> None:
    """Record that ``db`` holds the changelog up to and including ``offset``."""
    db.put(OFFSET_KEY, str(offset).encode())


class Partition:
    """One partition's database with the changelog offset it has: what a restore reads into."""

    def __init__(self, store: Store, partition: int):
        self.db = store.partition_db(partition)
        self.head = store.head
        offset = self.db.get(OFFSET_KEY)
        self.next_offset = int(offset) + 1 if offset is not None else 0

    def write(self, records) -> None:
        """Changelog records (``key``, ``value``, ``offset``; a None value deletes) and, in the same
        write batch, the offset of the last one, without the write-ahead log."""
        write_records(self.db, [(r.key, r.value) for r in records], self.head, records[-1].offset)
        self.next_offset = records[-1].offset + 1

    def flush_soon(self) -> None:
        """Have RocksDB write the memtables to disk in its background threads, without waiting:
        a restored partition's writes then stop holding memory (what reaches the disk is a prefix
        of the writes whenever it does). The heads go first, at once: they may be ahead of the values
        on disk, never behind."""
        if self.head is not None:
            heads_of(self.db).flush(True)
        self.db.flush(False)


def _full_scan() -> ReadOptions:
    """A whole-store read passes the block cache by: a report reads every block once."""
    opts = ReadOptions()
    opts.fill_cache(False)
    opts.set_readahead_size(2 * 1024 * 1024)
    return opts


def scan_store(db, keys: list | None):
    """(key, value) of a partition's database: all of its table's keys, or only the exact keys and
    key prefixes given (``[[kind, key], ...]``, kind "exact" or a prefix)."""
    if keys is None:
        # Read in chunks: the iterator's steps run together, not between a report's rows
        # (some 8 % of a conversations export's scan).
        items = db.items(read_opt=_full_scan())
        while chunk := list(islice(items, SCAN_CHUNK)):
            for key, value in chunk:
                if not key.startswith(STORE_META_PREFIX):
                    yield key, value
        return
    for kind, key, *_ in keys:
        if kind == "exact":
            value = db.get(key.encode())
            if value is not None:
                yield key.encode(), value
        else:
            prefix = key.encode()
            for k, value in db.items(from_key=prefix, read_opt=_full_scan()):
                if not k.startswith(prefix):
                    break
                yield k, value


def estimated_keys(db) -> int:
    """RocksDB's estimate of the keys in a database."""
    return db.property_int_value("rocksdb.estimate-num-keys") or 0
