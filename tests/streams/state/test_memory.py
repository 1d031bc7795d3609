"""Every RocksDB store of a process shares one block cache, with the write buffers charged to it."""
from convoflow.contract.config import Settings
from convoflow.streams.faust_ext.store import SharedMemoryOptions
from convoflow.streams.state.memory import ROCKSDB_OPTIONS, configure_rocksdb_memory, shared_rocksdb_memory


def test_every_store_uses_the_one_cache_of_the_process_with_its_write_buffers_charged_to_it(tmp_path):
    cache, write_buffers = shared_rocksdb_memory()
    before = write_buffers.get_usage()
    dbs = [SharedMemoryOptions(**ROCKSDB_OPTIONS).open(tmp_path / f"store-{n}") for n in range(2)]
    for db in dbs:
        for i in range(2000):
            db[b"conversation-%d" % i] = b"x" * 200
    assert write_buffers.get_usage() > before, "both stores' memtables are counted by the one manager"
    assert cache.get_usage() >= write_buffers.get_usage(), "and charged to the one cache"
    for db in dbs:
        db.close()
    configure_rocksdb_memory(300 << 20, 100 << 20)  # settings read after the first store opened still apply
    try:
        assert write_buffers.get_buffer_size() == 100 << 20
    finally:
        configure_rocksdb_memory(*Settings().rocksdb_memory())
