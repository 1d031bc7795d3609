"""Bulk restore on the real broker: local stores brought up to their changelogs, the partitions asked for only."""
import asyncio
import uuid

from aiokafka import AIOKafkaProducer

from convoflow.app import create_app
from convoflow.contract.config import Settings
from faust.types import TP

from convoflow.contract.topics import changelog_topic, ensure_topics
from convoflow.streams.state import recovery
from convoflow.streams.state.partition import OFFSET_KEY
from tests.integration.harness import BROKER


def contents(app, table: str, partitions: int) -> dict:
    """What each partition store holds (the offset key included), in the database Faust's store has open."""
    return {p: dict(app.tables[table].data.partition_db(p).items()) for p in range(partitions)}


async def produce(settings, table, records):
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap)
    await producer.start()
    try:
        for partition, key, value in records:
            await producer.send_and_wait(changelog_topic(settings, table), value, key=key, partition=partition)
    finally:
        await producer.stop()


def test_stores_are_restored_from_their_changelogs_then_only_the_tail(broker, tmp_path):
    settings = Settings(broker=BROKER, topic_prefix=f"t{uuid.uuid4().hex[:10]}-", partitions=2,
                        data_dir=str(tmp_path / "data"))
    asyncio.run(ensure_topics(settings))
    app, _ = create_app(settings)

    asyncio.run(produce(settings, "conversations", [
        (0, b"c1", b"v1"), (0, b"c2", b"v2"), (1, b"c3", b"v3"), (0, b"c1", b"v1b"), (0, b"c2", None),
    ]))
    assert asyncio.run(recovery.restore_partitions(app, settings)) == {"conversations": 5}
    assert contents(app, "conversations", 2) == {
        0: {b"c1": b"v1b", OFFSET_KEY: b"3"},  # the tombstone removed c2; offset: the last record, 3
        1: {b"c3": b"v3", OFFSET_KEY: b"0"},
    }

    assert asyncio.run(recovery.restore_partitions(app, settings)) == {}, "an up-to-date store reads nothing"

    asyncio.run(produce(settings, "conversations", [(1, b"c4", b"v4")]))
    assert asyncio.run(recovery.restore_partitions(app, settings)) == {"conversations": 1}, "only the tail is read"
    assert contents(app, "conversations", 2)[1] == {b"c3": b"v3", b"c4": b"v4", OFFSET_KEY: b"1"}


def test_only_the_partitions_asked_for_are_read(broker, tmp_path):
    settings = Settings(broker=BROKER, topic_prefix=f"t{uuid.uuid4().hex[:10]}-", partitions=3,
                        data_dir=str(tmp_path / "data"))
    asyncio.run(ensure_topics(settings))
    app, _ = create_app(settings)
    asyncio.run(produce(settings, "conversations", [(0, b"c1", b"v1"), (1, b"c2", b"v2"), (2, b"c3", b"v3")]))
    topic = changelog_topic(settings, "conversations")
    assert asyncio.run(recovery.restore_partitions(app, settings, {TP(topic, 1), TP(topic, 2)})) == {"conversations": 2}
    store = app.tables["conversations"].data
    assert sorted(store.partition_copies()) == [1, 2], "partition 0 was not asked for"
    assert dict(store.partition_db(1).items()) == {b"c2": b"v2", OFFSET_KEY: b"0"}
    assert dict(store.partition_db(0).items()) == {}, "partition 0 was not asked for"
