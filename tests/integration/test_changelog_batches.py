"""The worker's producer writes a table's changelog in whole record batches (``Producer.send_records``),
on a real broker: every record arrives, in order, and the store's changelog offset is the last one."""
import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from convoflow.app import create_app
from convoflow.contract.config import Settings
from convoflow.streams.state.partition import OFFSET_KEY
from convoflow.streams.state.writer import TableWriter, partition_context
from tests.integration.harness import BROKER
from tests.streams.worker_app import record

BOOTSTRAP = BROKER.split("://", 1)[1]


async def _read_all(topic: str, partition: int, count: int) -> list:
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        out = []
        while len(out) < count:
            got = await consumer.getmany(tp, timeout_ms=5000)
            if not got:
                break
            out.extend(got[tp])
        return out
    finally:
        await consumer.stop()


def test_records_too_many_for_one_batch_arrive_whole_and_in_order_and_the_offset_is_the_last(broker, tmp_path):
    prefix = f"batches-{uuid.uuid4().hex[:8]}-"
    app, _ = create_app(Settings(broker=BROKER, topic_prefix=prefix, data_dir=str(tmp_path), partitions=2,
                                 replication_factor="1"))
    table = app.tables["conversations"]
    topic = table.changelog_topic.get_topic_name()
    # 200 KB values: a 512 KiB batch holds two, so 7 records make 4 batches
    values = [bytes([65 + i]) * 200_000 for i in range(7)]

    async def scenario():
        admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, 2, 1)])
        finally:
            await admin.close()
        await app.producer.start()
        try:
            sent = await app.producer.send_records(topic, 1, [(f"k{i}".encode(), v) for i, v in enumerate(values)])
            assert [count for _, count in sent] == [2, 2, 2, 1]

            writer = TableWriter(app, table)
            with partition_context(record(topic, 1, 0)):
                for i in range(3):
                    writer[f"w{i}"] = b"x%d" % i
            await writer.flush()
            await app.producer.flush()
            await asyncio.sleep(0.1)  # the done callback runs after the future resolves
            stored = table.data.partition_db(1).get(OFFSET_KEY)
        finally:
            await app.producer.stop()
        return sent, stored, await _read_all(topic, 1, 10)

    sent, stored, got = app.loop.run_until_complete(scenario())
    assert [r.value for r in got] == values + [b"x0", b"x1", b"x2"]
    assert [r.key for r in got] == [f"k{i}".encode() for i in range(7)] + [b"w0", b"w1", b"w2"]
    assert [r.offset for r in got] == list(range(10))
    assert [fut.result().offset for fut, _ in sent] == [0, 2, 4, 6]
    assert stored == b"9"  # the writer's last record, not its batch's first (7)
