"""A read-only copy, in every worker, of tables that every report joins with (directory, contact identifiers).

It tails the tables' changelog topics with a plain consumer (no group, every
partition, from the beginning), so any worker can name things in any row; an
export first waits until the copy has read up to the end offsets it was given.
"""
from __future__ import annotations

import asyncio

import orjson
from aiokafka import AIOKafkaConsumer

from convoflow.config import Settings
from convoflow.topics import changelog_topic, partitions_of
from streams.runtime import poll
from tables import contact
from tables.directory import Directory


class Replica:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.directory = Directory()
        self.identifiers: dict[str, tuple[str | None, str | None]] = {}
        self.topics = {changelog_topic(settings, "directory"): self._on_directory, changelog_topic(settings, "contacts"): self._on_contact}
        self.consumer: AIOKafkaConsumer | None = None
        self.task: asyncio.Task | None = None
        self.ready = asyncio.Event()

    def contact_identifiers(self, contact_id: str | None) -> tuple[str | None, str | None]:
        return self.identifiers.get(contact_id, (None, None))

    def _on_directory(self, key: bytes, value: bytes | None) -> None:
        if value is None:
            self.directory.entries.pop(key.decode(), None)
        else:
            self.directory.entries[key.decode()] = orjson.loads(value)

    def _on_contact(self, key: bytes, value: bytes | None) -> None:
        ids = contact.identifiers(orjson.loads(value)) if value is not None else (None, None)
        if ids == (None, None):
            self.identifiers.pop(key.decode(), None)
        else:
            self.identifiers[key.decode()] = ids

    async def start(self) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap, group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", max_partition_fetch_bytes=4 * 1024 * 1024, **self.settings.kafka_kwargs(),
        )
        await self.consumer.start()
        tps = []
        for topic in self.topics:
            tps += await partitions_of(self.consumer, topic)
        self.consumer.assign(tps)
        await self.consumer.seek_to_beginning(*tps)
        self.task = asyncio.ensure_future(self._run())
        self.ready.set()

    async def _run(self) -> None:
        while True:
            batches = await poll(self.consumer, "replica", timeout_ms=100, max_records=5000)
            for tp, records in batches.items():
                apply = self.topics[tp.topic]
                for r in records:
                    apply(r.key, r.value)

    async def wait_for(self, ends: dict[str, dict], timeout: float) -> None:
        from aiokafka import TopicPartition

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await asyncio.wait_for(self.ready.wait(), timeout)  # a shard may be asked before the copy has started
        for topic, parts in ends.items():
            for partition, end in parts.items():
                tp = TopicPartition(topic, int(partition))
                while await self.consumer.position(tp) < end:
                    if loop.time() > deadline:
                        raise TimeoutError(f"the directory/contact copy did not reach {topic}[{partition}]@{end}")
                    await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
        if self.consumer:
            await self.consumer.stop()
