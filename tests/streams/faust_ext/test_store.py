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


def changelog_events(app, table, partition: int, *offsets: int):
    """Faust's own events of changelog records, as its recovery hands them to a store."""
    from faust.events import Event
    from faust.types.tuples import Message

    topic = table.changelog_topic.get_topic_name()
    events = []
    for offset in offsets:
        key, value = f"k{offset}".encode(), f"v{offset}".encode()
        message = Message(topic, partition, offset, 0.0, 0, None, key, value, None)
        events.append(Event(app, key, value, None, message))
    return events


def test_a_recovery_batch_is_applied_only_where_it_continues_the_store(app):
    from faust.types import TP

    table = app.tables["conversations"]
    store = table.data
    tp = TP(table.changelog_topic.get_topic_name(), 1)
    store.apply_changelog_batch(changelog_events(app, table, 1, 0, 1, 2), None, None)
    assert store.persisted_offset(tp) == 2 and store.partition_db(1).get(b"k2") == b"v2"

    # records it holds already are skipped, the rest applied
    store.apply_changelog_batch(changelog_events(app, table, 1, 1, 2, 3), None, None)
    assert store.persisted_offset(tp) == 3 and store.holes == {}

    # a batch that starts after records the store never got is not applied
    store.apply_changelog_batch(changelog_events(app, table, 1, 6, 7), None, None)
    assert store.persisted_offset(tp) == 3 and store.partition_db(1).get(b"k6") is None
    assert store.holes == {tp: 4}
    # nor is anything after it, until the partition is read again from the store's offset
    store.apply_changelog_batch(changelog_events(app, table, 1, 4, 5), None, None)
    assert store.persisted_offset(tp) == 3 and store.partition_db(1).get(b"k4") is None

    # another partition of the table is not held back by it
    store.apply_changelog_batch(changelog_events(app, table, 0, 0, 1), None, None)
    assert store.persisted_offset(TP(tp.topic, 0)) == 1

    # a record of another table's changelog is never written here
    presence = app.tables["presence"]
    store.apply_changelog_batch(changelog_events(app, presence, 0, 2), None, None)
    assert store.persisted_offset(TP(tp.topic, 0)) == 1 and store.partition_db(0).get(b"k2") is None
