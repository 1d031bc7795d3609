"""convoflow's RocksDB store, as the real store of a worker app's table."""
from convoflow.contract.config import Settings
from convoflow.streams.faust_ext.store import SharedMemoryOptions
from convoflow.streams.runtime import ROCKSDB_OPTIONS, configure_rocksdb_memory, shared_rocksdb_memory


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


def test_a_table_store_opens_partitions_with_the_shared_options_and_names_the_open_ones(app):
    store = app.tables["conversations"].data
    assert isinstance(store.rocksdb_options, SharedMemoryOptions)
    assert store.open_partitions() == {}
    db = store.partition_db(2)
    db.put(b"c1", b"v1")
    assert store.open_partitions() == {2: db} and store.partition_db(2).get(b"c1") == b"v1"


def test_a_rebalance_collects_garbage_only_for_a_table_that_loses_a_partition(app, monkeypatch):
    from faust.stores import rocksdb as faust_rocksdb
    from faust.types import TP

    collections = []
    monkeypatch.setattr(faust_rocksdb.gc, "collect", lambda: collections.append(1))  # counted, in this test
    table = app.tables["conversations"]
    store = table.data
    store.partition_db(1)
    store.revoke_partitions(table, {TP("other-topic", 1)})
    store.revoke_partitions(table, set())
    assert collections == [] and 1 in store.open_partitions()
    store.revoke_partitions(table, {TP(table.changelog_topic.get_topic_name(), 1)})
    assert collections == [1] and 1 not in store.open_partitions()
