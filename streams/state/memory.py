"""The RocksDB memory of a worker process: one block cache shared by every store, write buffers charged to it.

Each table partition is its own RocksDB (7 tables and 4 partitions: 28 stores, more with more
partitions). With a cache and write buffers per store, a worker's memory would grow with its
partitions and its state; with one shared cache that the write buffers are charged to, RocksDB
holds about the cache's capacity in all (``CONVOFLOW_ROCKSDB_CACHE_MB``, of which at most
``CONVOFLOW_ROCKSDB_WRITE_BUFFERS_MB`` of memtables). Export scans bypass the cache
(``convoflow.streams.state.partition.scan_store``).
"""
from __future__ import annotations

from convoflow.contract.config import Settings

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
