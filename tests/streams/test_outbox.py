"""Re-keyed items go out bundled, one record per destination partition (at most MAX_ITEMS items
each); an item already sent unchanged in this process is skipped."""
import asyncio
import random
from types import SimpleNamespace

from aiokafka.structs import ConsumerRecord

from convoflow.streams.codec import dumps, loads
from convoflow.streams.outbox import Outbox, SentInProcess, bundled_items, partition_for


def test_partition_for_is_kafkas_default_partitioner():
    from aiokafka.partitioner import DefaultPartitioner

    keys = [f"key-{i}" for i in range(50)]
    assert [partition_for(k, 4) for k in keys] == [DefaultPartitioner()(k.encode(), [0, 1, 2, 3], [0]) for k in keys]
    assert {partition_for(f"key-{i}", 4) for i in range(100)} == {0, 1, 2, 3}


def test_items_are_bundled_per_partition_and_split_at_max_items(monkeypatch):
    monkeypatch.setattr(Outbox, "MAX_ITEMS", 2)
    sent = []

    async def send(topic, key, value, partition, timestamp, headers):
        sent.append((topic, partition, loads(value)["items"]))

    outbox = Outbox(SimpleNamespace(producer=SimpleNamespace(send=send)), "updates", 4)
    for n in range(3):
        outbox.add("c1", {"n": n})
    asyncio.run(outbox.flush())
    p = partition_for("c1", 4)
    assert sent == [("updates", p, [{"n": 0}, {"n": 1}]), ("updates", p, [{"n": 2}])]
    assert outbox.items == {}


def test_an_item_sent_unchanged_is_skipped_and_a_changed_one_is_not():
    sent = SentInProcess()
    outbox = Outbox(None, "updates", 4)
    outbox.add("c1", {"v": 1}, sent, "person|p1")
    outbox.add("c1", {"v": 1}, sent, "person|p1")
    outbox.add("c1", {"v": 2}, sent, "person|p1")
    assert outbox.items == {partition_for("c1", 4): [{"v": 1}, {"v": 2}]}


def test_sent_in_process_forgets_the_keys_least_recently_sent_first():
    sent = SentInProcess(limit=4)
    assert sent.changed("a", b"1") and sent.changed("b", b"1")
    assert sent.changed("c", b"1"), "the newer generation was full: a and b are now the older one"
    assert not sent.changed("a", b"1"), "a key of the older generation is still known, and moves to the newer"
    assert sent.changed("d", b"1"), "the newer generation (c, a) was full: b is forgotten"
    assert sent.changed("b", b"1"), "b was forgotten, so it is sent again"
    assert not sent.changed("a", b"1") and not sent.changed("d", b"1")
    assert len(sent) <= 4


def test_sent_in_process_sends_a_changed_value_of_a_key_it_keeps_in_either_generation():
    sent = SentInProcess(limit=4)
    for key in ("a", "b", "c"):
        assert sent.changed(key, b"1")
    assert sent.changed("a", b"2"), "a, in the older generation, changed"
    assert not sent.changed("a", b"2")
    sent.clear()
    assert len(sent) == 0 and sent.changed("a", b"2")


def test_bundled_items_yields_each_item_and_skips_bad_bundles_and_tombstones():
    def rec(offset, value):
        return ConsumerRecord("t", 0, offset, 0, 0, None, value, None, 0, 0, ())

    records = [rec(0, dumps({"items": [1, 2]})), rec(1, None), rec(2, b"not json"), rec(3, dumps({"items": [3]}))]
    assert [(r.offset, item) for r, item in bundled_items(records)] == [(0, 1), (0, 2), (3, 3)]


def test_sent_in_process_never_skips_a_value_that_was_not_the_last_one_sent_for_its_key():
    rng = random.Random(7)
    sent, last = SentInProcess(limit=100), {}
    skipped = 0
    for _ in range(20_000):
        key, value = f"k{rng.randrange(80)}", bytes([rng.randrange(3)])
        if not sent.changed(key, value):
            assert last.get(key) == value
            skipped += 1
        last[key] = value
        assert len(sent) <= 100
    assert skipped > 1_000, "keys sent again within the limit are remembered"
