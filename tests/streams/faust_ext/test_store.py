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


def hold(app, monkeypatch, *tps):
    """The partitions this worker holds as standby (the assignor's answer)."""
    monkeypatch.setattr(app.assignor, "assigned_standbys", lambda: set(tps))


def test_a_recovery_batch_is_applied_only_where_it_continues_the_store(app, monkeypatch):
    from faust.types import TP

    table = app.tables["conversations"]
    store = table.data
    tp = TP(table.changelog_topic.get_topic_name(), 1)
    hold(app, monkeypatch, tp, TP(tp.topic, 0), TP(app.tables["presence"].changelog_topic.get_topic_name(), 0))
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


def test_records_of_a_partition_no_longer_held_neither_reach_nor_reopen_its_store(app, monkeypatch):
    from faust.types import TP

    table = app.tables["conversations"]
    store = table.data
    topic = table.changelog_topic.get_topic_name()
    hold(app, monkeypatch, TP(topic, 0))
    store.apply_changelog_batch(changelog_events(app, table, 2, 0, 1), None, None)
    assert 2 not in store.open_partitions() and not (store.partition_path(2)).exists()
    store.apply_changelog_batch(changelog_events(app, table, 0, 0, 1), None, None)
    assert store.persisted_offset(TP(topic, 0)) == 1


def test_a_copy_no_longer_held_is_closed_and_dropped(app, monkeypatch):
    manager = app.tables
    store = manager["conversations"].data
    store.partition_db(3).put(b"k", b"v")  # opened, as a late changelog record could
    monkeypatch.setattr(manager, "held_partitions", lambda table: set())
    monkeypatch.setattr(app, "rebalancing", False, raising=False)
    manager.recovery.completed.set()
    assert store.drop_copy(3) is False, "an open database is never deleted under it"
    manager.drop_stale_copies(3600, now=1000.0)
    assert store.partition_path(3).exists(), "not before its grace period"
    dropped = manager.drop_stale_copies(3600, now=1000.0 + 3600)
    assert ("conversations", 3) in dropped and not store.partition_path(3).exists()
    assert 3 not in store.open_partitions()


def heads(db) -> dict:
    from convoflow.streams.state.partition import heads_of

    return dict(heads_of(db).items())


def test_the_conversations_store_keeps_each_values_head_through_every_write_path(app, monkeypatch):
    from faust.types import TP

    from convoflow.streams.state.partition import HEADS_BUILT, Partition
    from convoflow.tables import conversation

    table = app.tables["conversations"]
    store = table.data
    assert store.head is conversation.head and app.tables["presence"].data.head is None
    tp = TP(table.changelog_topic.get_topic_name(), 1)
    hold(app, monkeypatch, tp)
    events = changelog_events(app, table, 1, 0, 1, 2)
    events[0].message.value = b'{"s":0}\n{"state":0}'
    events[2].message.key, events[2].message.value = b"k1", None  # k1, written at offset 1, deleted
    store.apply_changelog_batch(events, None, None)
    db = store.partition_db(1)
    assert heads(db) == {HEADS_BUILT: b"1", b"k0": b'{"s":0}'} and store.persisted_offset(tp) == 2
    assert db.get(b"k1") is None
    Partition(store, 1).write([changelog(3, b"k2", b'{"s":2}\n{}'), changelog(4, b"k0", None)])
    assert heads(db) == {HEADS_BUILT: b"1", b"k2": b'{"s":2}'}
    assert db.get(b"k2") == b'{"s":2}\n{}' and db.get(b"k0") is None


def test_a_conversations_store_made_without_heads_gets_them_when_it_is_opened(app):
    from rocksdict import Options, Rdict

    from convoflow.streams.state.partition import HEADS_BUILT

    store = app.tables["conversations"].data
    path = store.partition_path(3)
    path.parent.mkdir(parents=True, exist_ok=True)
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    old = Rdict(str(path), options=options)
    old[b"c1"], old[b"c2"], old[b"__faust\0offset__"] = b'{"a":1}\n{}', b'{"b":2}\n{"x":[]}', b"9"
    old.close()
    db = store.partition_db(3)
    assert heads(db) == {HEADS_BUILT: b"1", b"c1": b'{"a":1}', b"c2": b'{"b":2}'}
    assert db.get(b"c2") == b'{"b":2}\n{"x":[]}'


def changelog(offset, key, value):
    from types import SimpleNamespace

    return SimpleNamespace(offset=offset, key=key, value=value)
