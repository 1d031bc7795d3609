"""convoflow's RocksDB store, as the real store of a worker app's table."""
from convoflow.streams.faust_ext.store import SharedMemoryOptions


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
