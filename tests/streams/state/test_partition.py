"""A partition's database: changelog records and their offset written together, without the
write-ahead log; whole-store reads that leave the store's own keys out."""
from types import SimpleNamespace

from convoflow.streams.state.partition import OFFSET_KEY, Partition, estimated_keys, scan_store, write_offset

from ..rocksdb_files import store


def changelog(offset, key, value):
    return SimpleNamespace(offset=offset, key=key, value=value)


class OneStore:
    """A table's store of one open partition database."""

    def __init__(self, db):
        self.db = db

    def partition_db(self, partition):
        return self.db

    def open_partitions(self):
        return {0: self.db}


def test_a_partition_reads_the_changelog_on_from_the_offset_after_the_one_it_holds(tmp_path):
    db = store(tmp_path / "p", {})
    assert Partition(OneStore(db), 0).next_offset == 0, "an empty store reads the changelog from its start"
    write_offset(db, 41)
    assert db.get(OFFSET_KEY) == b"41" and Partition(OneStore(db), 0).next_offset == 42
    db.close()


def test_changelog_records_and_their_last_offset_are_written_in_one_batch(tmp_path):
    db = store(tmp_path / "p", {b"c2": b"old"})
    partition = Partition(OneStore(db), 0)
    partition.write([changelog(3, b"c1", b"v1"), changelog(4, b"c2", None), changelog(5, b"c1", b"v1b")])
    partition.flush()
    assert partition.next_offset == 6
    assert dict(db.items()) == {b"c1": b"v1b", OFFSET_KEY: b"5"}, "a None value deletes; the offset is the last one"
    db.close()


def test_scan_store_skips_fausts_keys_and_reads_exact_keys_and_prefixes(tmp_path):
    db = store(tmp_path / "s", {b"a1": b"1", b"a2": b"2", b"b1": b"3", b"__faust\x00x": b"0"})
    assert [k for k, _ in scan_store(db, None)] == [b"a1", b"a2", b"b1"]
    assert [k for k, _ in scan_store(db, [["exact", "b1"], ["exact", "zz"], ["prefix", "a"]])] == [b"b1", b"a1", b"a2"]
    db.close()


def test_the_estimated_keys_grow_with_the_keys_written(tmp_path):
    db = store(tmp_path / "s", {})
    assert estimated_keys(db) == 0
    for i in range(100):
        db[b"k%d" % i] = b"v"
    assert estimated_keys(db) > 0
    db.close()
