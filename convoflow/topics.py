"""Topic administration with plain aiokafka: create every topic up front, read end offsets."""
from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from convoflow.config import Settings

# Tables whose changelogs every worker replicates (read-only), and the ones it only writes.
REPLICATED_TABLES = ("directory", "contacts")
PARTITIONED_TABLES = ("conversations", "presence", "export_log", "owner_conversations", "owner_days")


def changelog_topic(settings: Settings, table: str) -> str:
    """Faust's name for a table's changelog; created here so that the replicas can read it at once."""
    return f"{settings.app_id}-{table}-changelog"


async def ensure_topics(settings: Settings) -> None:
    """Create every topic of the deployment with the configured partition count (no-op when present)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, **settings.kafka_kwargs())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [NewTopic(t, settings.partitions, 1) for t in settings.all_topics() if t not in existing]
        wanted += [
            NewTopic(changelog_topic(settings, table), settings.partitions, 1, topic_configs={"cleanup.policy": "compact"})
            for table in REPLICATED_TABLES + PARTITIONED_TABLES
            if changelog_topic(settings, table) not in existing
        ]
        for topic in wanted:
            try:
                await admin.create_topics([topic])
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


async def partitions_of(consumer: AIOKafkaConsumer, topic: str, timeout: float = 30.0) -> list[TopicPartition]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return [TopicPartition(topic, p) for p in sorted(parts)]
        if loop.time() > deadline:
            raise RuntimeError(f"topic {topic} has no partitions (does it exist?)")
        # Track the topic in the consumer's own metadata and refresh it.
        await consumer._client.add_topic(topic)
        await consumer._client.force_metadata_update()
        await asyncio.sleep(0.05)


async def end_offsets(consumer: AIOKafkaConsumer, topics: list[str]) -> dict[str, dict[int, int]]:
    """{topic: {partition: end offset}} as the broker has them now."""
    tps = []
    for topic in topics:
        tps += await partitions_of(consumer, topic)
    ends = await consumer.end_offsets(tps)
    result: dict[str, dict[int, int]] = {}
    for tp, offset in ends.items():
        result.setdefault(tp.topic, {})[tp.partition] = offset
    return result
