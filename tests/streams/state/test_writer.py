"""A table write is in the partition's store at once and in its changelog when the batch ends,
with the changelog offset a restore reads on from."""
import asyncio
from types import SimpleNamespace

from convoflow.streams.state.partition import OFFSET_KEY, heads_of
from convoflow.streams.state.writer import TableWriter, partition_context

from ..worker_app import record, run


def test_a_table_write_is_in_the_store_at_once_and_in_the_changelog_when_the_batch_ends(app):
    table = app.tables["conversations"]
    store, sent = table.data, []

    async def scenario():
        loop = asyncio.get_running_loop()

        async def send_records(topic, partition, records):  # one batch, its future: its first offset
            fut = loop.create_future()
            sent.append((topic, partition, list(records), fut))
            return [(fut, len(records))]

        writer = TableWriter(SimpleNamespace(producer=SimpleNamespace(send_records=send_records)), table)
        with partition_context(record("t", 1, 0)):
            writer["c1"] = b"v1"
            writer["c1"] = b"s2\nv2"
            read_back = writer.get("c1")
        in_store_before_flush = store.partition_db(1).get(b"c1")
        await writer.flush()
        sent[0][3].set_result(SimpleNamespace(offset=6))
        await asyncio.sleep(0)
        return in_store_before_flush, read_back

    in_store_before_flush, read_back = run(app, scenario())
    assert in_store_before_flush == read_back == b"s2\nv2"
    assert heads_of(store.partition_db(1)).get(b"c1") == b"s2", "the conversations' heads, written with the value"
    changelog = table.changelog_topic.get_topic_name()
    assert [s[:3] for s in sent] == [(changelog, 1, [(b"c1", b"v1"), (b"c1", b"s2\nv2")])]
    assert store.partition_db(1).get(OFFSET_KEY) == b"7", "the offset a restore reads on from: the last record"
    assert store.partition_db(0).get(b"c1") is None


def test_no_offset_is_recorded_for_a_failed_send_nor_into_a_revoked_partition(app):
    from faust.types import TP as FaustTP

    table = app.tables["conversations"]
    store = table.data

    async def scenario():
        loop = asyncio.get_running_loop()
        sent = []

        async def send_records(topic, partition, records):
            sent.append(loop.create_future())
            return [(sent[-1], len(records))]

        writer = TableWriter(SimpleNamespace(producer=SimpleNamespace(send_records=send_records)), table)
        for partition in (0, 1):
            with partition_context(record("t", partition, 0)):
                writer["c1"] = b"v1"
        await writer.flush()
        store.revoke_partitions(table, {FaustTP(table.changelog_topic.get_topic_name(), 1)})  # while on its way
        sent[0].set_exception(ConnectionError("broker away"))
        sent[1].set_result(SimpleNamespace(offset=3))
        await asyncio.sleep(0)

    run(app, scenario())
    assert store.partition_db(0).get(b"c1") == b"v1" and store.partition_db(0).get(OFFSET_KEY) is None
    assert set(store.open_partitions()) == {0}, "a revoked partition is not opened again just to record an offset"
