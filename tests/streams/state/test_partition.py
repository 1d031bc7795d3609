"""A partition's database: changelog records and their offset written together, without the
write-ahead log; whole-store reads that leave the store's own keys out."""
from types import SimpleNamespace

from convoflow.streams.state.partition import (
    OFFSET_KEY, SCAN_CHUNK, Partition, estimated_keys, scan_store, write_offset,
)

from ..rocksdb_files import store


def changelog(offset, key, value):
    return SimpleNamespace(offset=offset, key=key, value=value)


class OneStore:
    """A table's store of one open partition database."""

    head = None

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
    assert partition.next_offset == 6
    assert dict(db.items()) == {b"c1": b"v1b", OFFSET_KEY: b"5"}, "a None value deletes; the offset is the last one"
    db.close()


def test_a_restored_partition_hands_its_memtables_to_the_disk_without_waiting(tmp_path):
    import time

    db = store(tmp_path / "p", {})
    partition = Partition(OneStore(db), 0)
    partition.write([changelog(o, b"k%d" % o, b"v" * 100) for o in range(2_000)])
    assert db.property_int_value("rocksdb.num-entries-active-mem-table") == 2_001, "the writes wait in memory"
    partition.flush_soon()
    deadline = time.monotonic() + 10
    while db.property_int_value("rocksdb.cur-size-all-mem-tables") > 64 * 1024 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert db.property_int_value("rocksdb.num-entries-active-mem-table") == 0
    assert db.property_int_value("rocksdb.cur-size-all-mem-tables") < 64 * 1024, "the memtables were let go"
    db.close()


def test_scan_store_skips_fausts_keys_and_reads_exact_keys_and_prefixes(tmp_path):
    db = store(tmp_path / "s", {b"a1": b"1", b"a2": b"2", b"b1": b"3", b"__faust\x00x": b"0"})
    assert [k for k, _ in scan_store(db, None)] == [b"a1", b"a2", b"b1"]
    assert [k for k, _ in scan_store(db, [["exact", "b1"], ["exact", "zz"], ["prefix", "a"]])] == [b"b1", b"a1", b"a2"]
    db.close()


def test_a_whole_store_scan_reads_every_key_once_in_order_across_its_chunks(tmp_path):
    keys = {f"c{i:05d}".encode(): str(i).encode() for i in range(2 * SCAN_CHUNK + 7)}
    db = store(tmp_path / "s", {**keys, OFFSET_KEY: b"9"})
    assert list(scan_store(db, None)) == sorted(keys.items()), "a chunk's end loses or repeats no key"
    db.close()


def test_the_estimated_keys_grow_with_the_keys_written(tmp_path):
    db = store(tmp_path / "s", {})
    assert estimated_keys(db) == 0
    for i in range(100):
        db[b"k%d" % i] = b"v"
    assert estimated_keys(db) > 0
    db.close()


CRASHING_RESTORE = """
import os, signal, sys
from types import SimpleNamespace
from rocksdict import Options, Rdict
from convoflow.streams.state.partition import Partition
sys.path.insert(0, sys.argv[2])
from tests.streams.state.test_partition import OneStore, changelog_of_crash
options = Options(raw_mode=True)
options.create_if_missing(True)
options.set_write_buffer_size(64 * 1024)  # many memtables flushed on their own while the batches go in
db = Rdict(sys.argv[1], options=options)
partition = Partition(OneStore(db), 0)
records = changelog_of_crash()
for start in range(0, len(records), 100):
    partition.write([SimpleNamespace(offset=o, key=k, value=v) for o, k, v in records[start:start + 100]])
os.kill(os.getpid(), signal.SIGKILL)  # no flush, no close: what reached the disk is what RocksDB flushed
"""


def changelog_of_crash():
    """(offset, key, value) of a changelog that writes and deletes 50 keys again and again."""
    return [(o, b"k%d" % (o * 7 % 50), None if o % 11 == 0 else b"v%d" % o + b"." * 200) for o in range(20_000)]


def test_a_restore_killed_before_any_flush_leaves_a_prefix_of_the_changelog_and_its_offset(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from rocksdict import Options, Rdict

    root = Path(__file__).resolve().parents[3]
    killed = subprocess.run([sys.executable, "-c", CRASHING_RESTORE, str(tmp_path / "p"), str(root)], cwd=root)
    assert killed.returncode == -9
    db = Rdict(str(tmp_path / "p"), options=Options(raw_mode=True))
    held = Partition(OneStore(db), 0).next_offset
    expected: dict = {}
    for offset, key, value in changelog_of_crash()[:held]:
        if value is None:
            expected.pop(key, None)
        else:
            expected[key] = value
    stored = {k: v for k, v in db.items() if k != OFFSET_KEY}
    db.close()
    assert held > 0, "RocksDB flushed some of the memtables before the kill"
    assert stored == expected, f"the store holds exactly the changelog up to its offset {held - 1}"


def test_heads_are_written_and_deleted_with_their_values_and_built_once(tmp_path):
    from convoflow.streams.state.partition import HEADS_BUILT, build_heads, heads_of, write_records

    def head(value):
        return value[:2]

    db = store(tmp_path / "p", {b"a": b"a-value", OFFSET_KEY: b"3"}, head=head)
    assert dict(heads_of(db).items()) == {HEADS_BUILT: b"1", b"a": b"a-"}, "built from the values, not the offset"
    write_records(db, [(b"b", b"b-value"), (b"a", None)], head, offset=5)
    assert dict(heads_of(db).items()) == {HEADS_BUILT: b"1", b"b": b"b-"}
    assert db.get(b"a") is None and db.get(OFFSET_KEY) == b"5"
    db.put(b"c", b"c-value")  # a write that bypasses the heads: a built store is not built again
    assert build_heads(db, head) == 0 and heads_of(db).get(b"c") is None


def test_a_restored_partition_with_heads_flushes_the_heads_first(tmp_path):
    from convoflow.streams.state.partition import heads_of

    class HeadStore(OneStore):
        head = staticmethod(lambda value: value[:1])

    db = store(tmp_path / "p", {}, head=HeadStore.head)
    partition = Partition(HeadStore(db), 0)
    partition.write([changelog(0, b"k", b"value")])
    active = "rocksdb.num-entries-active-mem-table"
    assert heads_of(db).property_int_value(active) == 1
    partition.flush_soon()
    assert heads_of(db).property_int_value(active) == 0, "the heads are on disk when it returns"
    assert heads_of(db).get(b"k") == b"v" and db.get(b"k") == b"value"
