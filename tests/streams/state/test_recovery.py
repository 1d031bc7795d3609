"""What the bulk restore reads into and the line it logs (the restore against a broker:
tests/integration/test_restore.py)."""
from convoflow.streams.state import recovery


def test_every_table_of_the_worker_is_kept_in_rocksdb_and_named_by_its_changelog(app):
    tables = recovery.rocksdb_tables(app)
    assert set(tables) == {t.changelog_topic.get_topic_name() for t in app.tables.values()}
    assert {t.name for t in tables.values()} >= {"conversations", "contacts", "presence", "directory"}
    assert all(topic == t.changelog_topic.get_topic_name() for topic, t in tables.items())


def test_the_restore_line_gives_the_records_their_rate_and_the_partitions():
    line = recovery.describe({"conversations": 300, "contacts": 100}, 2.0, [0, 3])
    assert line == ("restored 400 changelog records in 2.00 s (200/s) of partitions [0, 3]: "
                    "{'conversations': 300, 'contacts': 100}")
    assert " of partitions" not in recovery.describe({"presence": 1}, 0.5)
